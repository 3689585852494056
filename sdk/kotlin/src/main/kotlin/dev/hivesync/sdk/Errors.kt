@file:JvmName("HiveSyncErrors")

package dev.hivesync.sdk

import com.connectrpc.ConnectException
import com.connectrpc.ResponseMessage
import com.google.protobuf.Message
import dev.hivesync.sdk.v1.Conflict
import dev.hivesync.sdk.v1.EntitlementRequired
import dev.hivesync.sdk.v1.LimitExceeded
import dev.hivesync.sdk.v1.RateLimited
import dev.hivesync.sdk.v1.UpgradeRequired

// Typed error details. The server never asks a client to parse an error string:
// each failure that a client can act on carries one of these messages as a
// Connect error detail (google.protobuf.Any inside the error). These helpers
// decode them; they return null when the error does not carry that detail.

/**
 * The [UpgradeRequired] detail (code `failed_precondition`): the plugin protocol
 * or the client build is older than the server accepts. Show
 * [UpgradeRequired.getMessage] and link to [UpgradeRequired.getUpgradeUrl].
 */
public val ConnectException.upgradeRequired: UpgradeRequired?
    get() = detail(UpgradeRequired::class.java)

/**
 * The [EntitlementRequired] detail (code `permission_denied`): a tier gate denied
 * the call; it carries the upgrade intercept's text and deep link.
 */
public val ConnectException.entitlementRequired: EntitlementRequired?
    get() = detail(EntitlementRequired::class.java)

/**
 * The [Conflict] detail (code `aborted`): a save named a base revision that is no
 * longer the head. Nothing was written; show a diff from these fields.
 */
public val ConnectException.conflict: Conflict?
    get() = detail(Conflict::class.java)

/**
 * The [LimitExceeded] detail (code `invalid_argument` or `resource_exhausted`): the
 * request would pass a size or quota limit. Nothing was written.
 */
public val ConnectException.limitExceeded: LimitExceeded?
    get() = detail(LimitExceeded::class.java)

/**
 * The [RateLimited] detail (code `resource_exhausted`): retry after
 * [RateLimited.getRetryAfter].
 */
public val ConnectException.rateLimited: RateLimited?
    get() = detail(RateLimited::class.java)

/**
 * Decodes the first error detail of type [type], or returns `null` when the error
 * carries none. Works for any generated message, including ones added to the
 * contract after this SDK release.
 */
public fun <T : Message> ConnectException.detail(type: Class<T>): T? =
    unpackedDetails(type.kotlin).firstOrNull()

/**
 * Every HiveSync error detail this SDK knows, decoded, in the order the server
 * sent them (unknown detail types are skipped).
 */
public val ConnectException.hiveSyncDetails: List<Message>
    get() = details.mapNotNull { d ->
        KNOWN_DETAILS[d.type.substringAfterLast('/')]?.parserForType?.parseFrom(d.payload.toByteArray())
    }

private val KNOWN_DETAILS: Map<String, Message> = listOf(
    UpgradeRequired::class.java,
    EntitlementRequired::class.java,
    Conflict::class.java,
    LimitExceeded::class.java,
    RateLimited::class.java,
).map { com.google.protobuf.Internal.getDefaultInstance(it) }
    .associateBy { it.descriptorForType.fullName }

/**
 * The failure of this response as a [ConnectException], or `null` on success.
 * Pair it with the typed details: `response.connectError()?.upgradeRequired`.
 */
public fun ResponseMessage<*>.connectError(): ConnectException? = when (this) {
    is ResponseMessage.Success -> null
    is ResponseMessage.Failure -> cause
}
