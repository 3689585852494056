@file:JvmName("HiveSyncFiles")

package dev.hivesync.sdk

import com.connectrpc.Code
import com.connectrpc.ConnectException
import com.connectrpc.Headers
import com.connectrpc.ResponseMessage
import dev.hivesync.sdk.v1.Conflict
import dev.hivesync.sdk.v1.FileServiceClientInterface
import dev.hivesync.sdk.v1.FileVersion
import dev.hivesync.sdk.v1.SaveFileRequest
import java.security.MessageDigest

// Compare-and-set saves. A save names the version it edited (base_revision_id);
// when that is no longer the head the server writes nothing and answers
// `aborted` with a Conflict detail. These helpers make that outcome a type.

/** The outcome of a compare-and-set [saveOrConflict]. */
public sealed interface SaveOutcome {
    /**
     * The save was appended as [version]. For a retry whose `idempotency_key` the
     * server has seen, [version] is the one the first attempt created.
     */
    public data class Saved(public val version: FileVersion) : SaveOutcome

    /**
     * The base was stale: nothing was written. [conflict] carries the server head
     * (`head_revision_id`, `head_revision`, `head_content_sha256`) and a
     * `unified_diff` from the client's base to it. Merge, then save again with
     * `base_revision_id = conflict.headRevisionId` (and a new idempotency key).
     */
    public data class Conflicted(public val conflict: Conflict) : SaveOutcome
}

/**
 * Calls `SaveFile` and returns [SaveOutcome.Saved] or, for code `aborted` with a
 * [Conflict] detail, [SaveOutcome.Conflicted]. Every other failure (network,
 * `not_found`, `permission_denied`, a size limit, …) is thrown as the call's
 * [ConnectException].
 *
 * ```kotlin
 * val key = UUID.randomUUID().toString()            // one per logical save; reuse it on retry
 * when (val r = hivesync.files.saveOrConflict(saveFileRequest {
 *     fileId = file.id; baseRevisionId = base; content = text; idempotencyKey = key; deviceId = myDeviceId
 * })) {
 *     is SaveOutcome.Saved -> base = r.version.id
 *     is SaveOutcome.Conflicted -> showMerge(r.conflict.unifiedDiff, r.conflict.headRevisionId)
 * }
 * ```
 */
public suspend fun FileServiceClientInterface.saveOrConflict(
    request: SaveFileRequest,
    headers: Headers = emptyMap(),
): SaveOutcome = when (val r = saveFile(request, headers)) {
    is ResponseMessage.Success -> SaveOutcome.Saved(r.message.version)
    is ResponseMessage.Failure -> {
        val conflict = if (r.cause.code == Code.ABORTED) r.cause.conflict else null
        if (conflict != null) SaveOutcome.Conflicted(conflict) else throw r.cause
    }
}

/**
 * The hex SHA-256 the server records for [content] (`FileVersion.content_sha256`,
 * `Conflict.head_content_sha256` / `client_content_sha256`): of its UTF-8 bytes
 * after CRLF line endings become LF, as the server stores them. Compare it with
 * those fields to tell whether a local buffer already equals a stored version,
 * e.g. a conflict whose `head_content_sha256` equals `client_content_sha256` is
 * the same edit made twice.
 */
public fun contentSha256(content: String): String {
    val digest = MessageDigest.getInstance("SHA-256").digest(content.replace("\r\n", "\n").toByteArray(Charsets.UTF_8))
    return digest.joinToString("") { "%02x".format(it) }
}
