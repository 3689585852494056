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
import java.io.IOException
import java.security.MessageDigest
import java.util.UUID
import kotlin.coroutines.cancellation.CancellationException
import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlin.time.TimeSource
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.delay
import kotlinx.coroutines.ensureActive
import kotlinx.coroutines.withTimeout

// Compare-and-set saves. A save names the version it edited (base_revision_id);
// when that is no longer the head the server writes nothing and answers
// `aborted` with a Conflict detail. These helpers make that outcome a type.

/** The outcome of a compare-and-set [saveOrConflict] or [saveWithRetry]. */
public sealed interface SaveOutcome {
    /** How many `SaveFile` calls it took (1 when the first one answered). */
    public val attempts: Int

    /** The idempotency key every attempt carried (as sent; empty if none was). */
    public val idempotencyKey: String

    /**
     * The save was appended as [version]. For a retry whose `idempotency_key` the
     * server has seen, [version] is the one the first attempt created.
     */
    public data class Saved(
        public val version: FileVersion,
        override val attempts: Int = 1,
        override val idempotencyKey: String = "",
    ) : SaveOutcome

    /**
     * The base was stale: nothing was written. [conflict] carries the server head
     * (`head_revision_id`, `head_revision`, `head_content_sha256`) and a
     * `unified_diff` from the client's base to it. Merge, then save again with
     * `base_revision_id = conflict.headRevisionId` (and a new idempotency key).
     */
    public data class Conflicted(
        public val conflict: Conflict,
        override val attempts: Int = 1,
        override val idempotencyKey: String = "",
    ) : SaveOutcome
}

/**
 * Retries of one [saveWithRetry]: exponential backoff with full jitter (the n-th
 * retry waits a random time in `[0, min(maxDelay, baseDelay * 2^(n-1))]`), at most
 * [maxAttempts] calls (the first included) and, when [deadline] is set, within
 * that much time in total (an attempt still running at the deadline is cut and
 * reported as `deadline_exceeded`).
 */
public data class SaveRetryPolicy(
    public val maxAttempts: Int = 6,
    public val baseDelay: Duration = 200.milliseconds,
    public val maxDelay: Duration = 5.seconds,
    public val deadline: Duration? = null,
) {
    init {
        require(maxAttempts >= 1) { "maxAttempts must be at least 1, got $maxAttempts" }
        require(!baseDelay.isNegative() && !maxDelay.isNegative()) { "delays must not be negative" }
    }

    /** The wait before retry number [retry] (1-based), drawn from [random]. */
    public fun delayBefore(retry: Int, random: Random = Random.Default): Duration {
        val ceiling = minOf(maxDelay, baseDelay * (1L shl (retry - 1).coerceIn(0, 30)).toDouble())
        return ceiling * random.nextDouble()
    }
}

/**
 * Whether a failed save may be retried with the same idempotency key: `unavailable`,
 * `deadline_exceeded`, and a connection that broke under the call (OkHttp reports
 * it as `unknown` with the [IOException] as [ConnectException.exception]; the save
 * may or may not have been stored). Never a Conflict, `invalid_argument`,
 * `permission_denied`, `not_found`, `resource_exhausted`, `failed_precondition`,
 * `unauthenticated` or `canceled`.
 */
public fun ConnectException.isRetryableSave(): Boolean {
    if (conflict != null) return false
    return when (code) {
        Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED -> true
        Code.UNKNOWN -> generateSequence(exception) { it.cause }.take(16).any { it is IOException }
        else -> false
    }
}

/**
 * Calls `SaveFile` once (no retries: see [saveWithRetry]) and returns [SaveOutcome.Saved] or, for code `aborted` with a
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
    is ResponseMessage.Success -> SaveOutcome.Saved(r.message.version, 1, request.idempotencyKey)
    is ResponseMessage.Failure -> {
        val conflict = if (r.cause.code == Code.ABORTED) r.cause.conflict else null
        if (conflict != null) SaveOutcome.Conflicted(conflict, 1, request.idempotencyKey) else throw r.cause
    }
}

/**
 * Saves a file version compare-and-set without ever losing or doubling it.
 *
 * - Sends `request.idempotencyKey`, or a fresh UUID v4 when it is empty, on EVERY
 *   attempt, so a retry after a lost answer returns the version the first attempt
 *   stored (no second version, no Conflict against itself).
 * - Retries only transient failures ([isRetryableSave]) as [policy] says.
 * - Returns [SaveOutcome.Saved] or, for `aborted` with a [Conflict] detail (never
 *   retried), [SaveOutcome.Conflicted], each with its attempt count. Every other
 *   failure, including the last transient one, is thrown as its [ConnectException].
 *
 * Cancelling the calling coroutine stops it at once (the attempt in flight or the
 * backoff wait) with a [CancellationException]. [onRetry] is called before each
 * backoff wait with the attempt that failed, the wait and the error.
 *
 * ```kotlin
 * when (val r = hivesync.files.saveWithRetry(saveFileRequest {
 *     fileId = file.id; baseRevisionId = base; content = text; deviceId = myDeviceId
 * })) {
 *     is SaveOutcome.Saved -> base = r.version.id
 *     is SaveOutcome.Conflicted -> showMerge(r.conflict.unifiedDiff, r.conflict.headRevisionId)
 * }
 * ```
 */
public suspend fun FileServiceClientInterface.saveWithRetry(
    request: SaveFileRequest,
    policy: SaveRetryPolicy = SaveRetryPolicy(),
    headers: Headers = emptyMap(),
    random: Random = Random.Default,
    onRetry: ((attempt: Int, delay: Duration, error: ConnectException) -> Unit)? = null,
): SaveOutcome {
    val key = request.idempotencyKey.ifEmpty { UUID.randomUUID().toString() }
    val req = if (key == request.idempotencyKey) request else request.toBuilder().setIdempotencyKey(key).build()
    val started = TimeSource.Monotonic.markNow()
    var attempt = 0
    while (true) {
        attempt++
        val left = policy.deadline?.let { it - started.elapsedNow() }
        if (left != null && !left.isPositive()) {
            throw ConnectException(Code.DEADLINE_EXCEEDED, message = "save deadline passed before attempt $attempt")
        }
        val error: ConnectException = try {
            val response = if (left == null) saveFile(req, headers) else withTimeout(left) { saveFile(req, headers) }
            when (response) {
                is ResponseMessage.Success -> return SaveOutcome.Saved(response.message.version, attempt, key)
                is ResponseMessage.Failure -> response.cause
            }
        } catch (e: TimeoutCancellationException) {
            ConnectException(Code.DEADLINE_EXCEEDED, message = "save deadline passed during attempt $attempt", exception = e)
        }
        // connect-kotlin reports our own cancellation as `canceled`: rethrow it as one.
        currentCoroutineContext().ensureActive()
        if (error.code == Code.ABORTED) {
            error.conflict?.let { return SaveOutcome.Conflicted(it, attempt, key) }
        }
        if (!error.isRetryableSave() || attempt >= policy.maxAttempts) throw error
        val wait = policy.delayBefore(attempt, random)
        if (policy.deadline != null && started.elapsedNow() + wait >= policy.deadline) throw error
        onRetry?.invoke(attempt, wait, error)
        delay(wait)
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
