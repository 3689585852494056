package dev.hivesync.sdk

import com.connectrpc.Code
import com.google.protobuf.DynamicMessage
import com.google.protobuf.InvalidProtocolBufferException
import com.google.protobuf.Message
import com.google.protobuf.util.JsonFormat
import com.google.rpc.ErrorDetailsProto
import com.google.rpc.Status
import dev.hivesync.sdk.v1.Conflict
import dev.hivesync.sdk.v1.EntitlementRequired
import dev.hivesync.sdk.v1.HiveSyncDescriptors
import dev.hivesync.sdk.v1.LimitExceeded
import dev.hivesync.sdk.v1.RateLimited
import dev.hivesync.sdk.v1.UpgradeRequired

/**
 * An error returned by a REST route (`/api/v1/...`), decoded from its JSON body:
 * a `google.rpc.Status` (`{"code": 9, "message": "...", "details": [{"@type": ...}]}`)
 * whose details are the same typed messages the Connect API attaches.
 *
 * Use it when calling the REST routes with a plain HTTP client; the Connect
 * client ([HiveSyncClient]) surfaces the same details on
 * [com.connectrpc.ConnectException].
 */
public class RestError(
    /** The Connect/gRPC code of the error. */
    public val code: Code,
    /** The server's message, for logs; show the typed detail's message to users. */
    public val message: String,
    /**
     * The decoded details: the typed HiveSync and google.rpc error messages (other
     * contract messages as [DynamicMessage]).
     */
    public val details: List<Message>,
) {
    /** The [UpgradeRequired] detail, if any. */
    public val upgradeRequired: UpgradeRequired? get() = first()

    /** The [EntitlementRequired] detail, if any. */
    public val entitlementRequired: EntitlementRequired? get() = first()

    /** The [Conflict] detail, if any. */
    public val conflict: Conflict? get() = first()

    /** The [LimitExceeded] detail, if any. */
    public val limitExceeded: LimitExceeded? get() = first()

    /** The [RateLimited] detail, if any. */
    public val rateLimited: RateLimited? get() = first()

    private inline fun <reified T : Message> first(): T? = details.filterIsInstance<T>().firstOrNull()

    override fun toString(): String = "RestError(code=${code.codeName}, message=$message, details=$details)"

    public companion object {
        private val registry: JsonFormat.TypeRegistry by lazy {
            JsonFormat.TypeRegistry.newBuilder()
                .add(HiveSyncDescriptors.files.flatMap { it.messageTypes })
                .add(ErrorDetailsProto.getDescriptor().messageTypes)
                .build()
        }

        /**
         * Decodes a REST error body. Returns `null` when [body] is not a status
         * document (for example an HTML page from a proxy).
         */
        @JvmStatic
        public fun parse(body: String): RestError? {
            val status = Status.newBuilder()
            try {
                JsonFormat.parser().usingTypeRegistry(registry).ignoringUnknownFields().merge(body, status)
            } catch (_: InvalidProtocolBufferException) {
                return null
            }
            val details = status.detailsList.mapNotNull { any ->
                val descriptor = registry.find(any.typeUrl.substringAfterLast('/')) ?: return@mapNotNull null
                prototypes[descriptor.fullName]?.parserForType?.parseFrom(any.value)
                    ?: DynamicMessage.parseFrom(descriptor, any.value)
            }
            return RestError(Code.fromValue(status.code) ?: Code.UNKNOWN, status.message, details)
        }

        private val prototypes: Map<String, Message> by lazy {
            listOf(
                UpgradeRequired.getDefaultInstance(),
                EntitlementRequired.getDefaultInstance(),
                Conflict.getDefaultInstance(),
                LimitExceeded.getDefaultInstance(),
                RateLimited.getDefaultInstance(),
                com.google.rpc.ErrorInfo.getDefaultInstance(),
                com.google.rpc.RetryInfo.getDefaultInstance(),
                com.google.rpc.BadRequest.getDefaultInstance(),
                com.google.rpc.Help.getDefaultInstance(),
                com.google.rpc.LocalizedMessage.getDefaultInstance(),
            ).associateBy { it.descriptorForType.fullName }
        }
    }
}
