package dev.hivesync.sdk

import com.connectrpc.Headers
import com.connectrpc.Interceptor
import com.connectrpc.ProtocolClientConfig
import com.connectrpc.ProtocolClientInterface
import com.connectrpc.SerializationStrategy
import com.connectrpc.StreamFunction
import com.connectrpc.StreamType
import com.connectrpc.UnaryFunction
import com.connectrpc.extensions.GoogleJavaJSONStrategy
import com.connectrpc.extensions.GoogleJavaProtobufStrategy
import com.connectrpc.http.clone
import com.connectrpc.impl.ProtocolClient
import com.connectrpc.okhttp.ConnectOkHttpClient
import com.connectrpc.protocols.GETConfiguration
import com.connectrpc.protocols.NetworkProtocol
import dev.hivesync.sdk.v1.AuthServiceClient
import dev.hivesync.sdk.v1.AuthServiceClientInterface
import dev.hivesync.sdk.v1.DeviceServiceClient
import dev.hivesync.sdk.v1.DeviceServiceClientInterface
import dev.hivesync.sdk.v1.EntitlementServiceClient
import dev.hivesync.sdk.v1.EntitlementServiceClientInterface
import dev.hivesync.sdk.v1.FileServiceClient
import dev.hivesync.sdk.v1.FileServiceClientInterface
import dev.hivesync.sdk.v1.MetaServiceClient
import dev.hivesync.sdk.v1.MetaServiceClientInterface
import dev.hivesync.sdk.v1.ProjectServiceClient
import dev.hivesync.sdk.v1.ProjectServiceClientInterface
import kotlinx.coroutines.Dispatchers
import okhttp3.OkHttpClient
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds

/**
 * The plugin protocol version of the contract this SDK was built from, i.e. the
 * version it actually speaks. It is sent as the [PLUGIN_VERSION_HEADER]
 * (`X-HiveSync-Plugin-Version`) on every call unless a client overrides it with
 * [HiveSyncClient.Builder.pluginProtocolVersion]. It rises only when the
 * contract changes in a way plugins must know about; a server whose minimum is
 * above it answers `FAILED_PRECONDITION` + `UpgradeRequired`.
 */
public const val PLUGIN_PROTOCOL_VERSION: Int = 1

/** The request header that carries the caller's plugin protocol version. */
public const val PLUGIN_VERSION_HEADER: String = "X-HiveSync-Plugin-Version"

/** The SDK's own release (the Maven version of `dev.hivesync:sdk`). */
public const val SDK_VERSION: String = "0.1.0"

/**
 * Supplies the bearer token sent as `Authorization: Bearer <token>`.
 *
 * It is called once per request on the thread that starts the request, so keep
 * it fast: return a cached token and refresh it elsewhere. Return `null` (or a
 * blank string) when signed out; no `Authorization` header is sent then.
 *
 * A provider that also implements [RefreshingTokenProvider] — an [AuthSession] —
 * is asked for a fresh token before each call instead, and the client retries a
 * call answered `unauthenticated` once after a refresh.
 */
public fun interface TokenProvider {
    /** Returns the current access token, or `null` when there is none. */
    public fun token(): String?
}

/** How request and response messages are encoded on the wire. */
public enum class WireFormat {
    /** Binary protobuf (`application/proto`): smallest and fastest. The default. */
    PROTOBUF,

    /** Protobuf JSON (`application/json`): readable in logs and proxies. */
    JSON,
}

/**
 * A HiveSync API client: one configured Connect transport plus the generated
 * service clients that share it.
 *
 * Every call speaks the Connect protocol to `<baseUrl>/hivesync.v1.<Service>/<Method>`,
 * sends [PLUGIN_VERSION_HEADER] and, when a [TokenProvider] is set and returns a
 * token, `Authorization: Bearer <token>`. With an [AuthSession] as the token
 * provider, tokens are refreshed before they expire and a call answered
 * `unauthenticated` is refreshed and retried once (see [RefreshingTokenProvider]).
 * Methods declared `NO_SIDE_EFFECTS` in the contract are sent as HTTP GET
 * (cacheable) unless disabled with [Builder.useGetForReads].
 *
 * ```kotlin
 * val hivesync = HiveSyncClient.create("https://api.hivesync.dev") {
 *     tokenProvider = session // an AuthSession
 * }
 * val compat = hivesync.meta.getCompatibility(getCompatibilityRequest {
 *     clientType = ClientType.CLIENT_TYPE_JETBRAINS
 *     clientVersion = 42
 * }).getOrThrow()
 * ```
 *
 * Calls return a [com.connectrpc.ResponseMessage]; failures carry a
 * [com.connectrpc.ConnectException] whose typed details are read with
 * [upgradeRequired], [entitlementRequired], [conflict], [limitExceeded] and
 * [rateLimited].
 *
 * Instances are thread-safe and meant to be shared.
 */
public class HiveSyncClient private constructor(
    /** The base URL every call goes to, e.g. `https://api.hivesync.dev`. */
    public val baseUrl: String,
    /** The plugin protocol version sent on every call, or `null` when none is sent. */
    public val pluginProtocolVersion: Int?,
    private val tokenProvider: TokenProvider?,
    /** The wire format of request and response messages. */
    public val wireFormat: WireFormat,
    useGetForReads: Boolean,
    unaryTimeout: Duration?,
    okHttpClient: OkHttpClient?,
) {
    /**
     * The Connect transport shared by the service clients. Use it to build the
     * generated client of a service this class has no property for yet:
     * `FooServiceClient(hivesync.protocolClient)`.
     */
    public val protocolClient: ProtocolClientInterface

    init {
        require(baseUrl.startsWith("http://") || baseUrl.startsWith("https://")) {
            "baseUrl must be an http:// or https:// URL, got '$baseUrl'"
        }
        val serialization: SerializationStrategy = when (wireFormat) {
            WireFormat.PROTOBUF -> GoogleJavaProtobufStrategy()
            WireFormat.JSON -> GoogleJavaJSONStrategy()
        }
        val http = ConnectOkHttpClient(
            ConnectOkHttpClient.configureClient((okHttpClient ?: OkHttpClient()).newBuilder()).build(),
        )
        val config = ProtocolClientConfig(
            host = baseUrl.trimEnd('/'),
            serializationStrategy = serialization,
            networkProtocol = NetworkProtocol.CONNECT,
            getConfiguration = if (useGetForReads) GETConfiguration.EnabledWithFallback() else GETConfiguration.Disabled,
            interceptors = listOf { _ -> HeaderInterceptor(pluginProtocolVersion, tokenProvider) },
            ioCoroutineContext = Dispatchers.IO,
            timeoutOracle = { spec -> if (spec.streamType == StreamType.UNARY) unaryTimeout else null },
        )
        val transport = ProtocolClient(http, config)
        protocolClient = if (tokenProvider is RefreshingTokenProvider) {
            AuthenticatingProtocolClient(transport, tokenProvider)
        } else {
            transport
        }
    }

    /** MetaService: compatibility, bootstrap config, server time and the event schema. */
    public val meta: MetaServiceClientInterface by lazy { MetaServiceClient(protocolClient) }

    /**
     * AuthService: the current user and session, session management, and the
     * phone's approval of device sign-ins (see [approveSignIn]).
     */
    public val auth: AuthServiceClientInterface by lazy { AuthServiceClient(protocolClient) }

    /** DeviceService: register, list, rename and revoke the caller's devices. */
    public val devices: DeviceServiceClientInterface by lazy { DeviceServiceClient(protocolClient) }

    /** EntitlementService: the caller's tier and feature matrix. */
    public val entitlements: EntitlementServiceClientInterface by lazy { EntitlementServiceClient(protocolClient) }

    /** ProjectService: create, get and list the caller's projects. */
    public val projects: ProjectServiceClientInterface by lazy { ProjectServiceClient(protocolClient) }

    /**
     * FileService: project files and their versions. Saves are compare-and-set:
     * a stale `base_revision_id` answers `aborted` with a [conflict] detail and
     * writes nothing; [saveOrConflict] types that outcome.
     */
    public val files: FileServiceClientInterface by lazy { FileServiceClient(protocolClient) }

    /** Configures a [HiveSyncClient]; see [HiveSyncClient.create]. */
    public class Builder internal constructor(
        /** The base URL every call goes to, e.g. `https://api.hivesync.dev`. */
        public var baseUrl: String,
    ) {
        /**
         * The plugin protocol version sent as [PLUGIN_VERSION_HEADER]; defaults to
         * [PLUGIN_PROTOCOL_VERSION]. Set `null` to send no header.
         */
        public var pluginProtocolVersion: Int? = PLUGIN_PROTOCOL_VERSION

        /**
         * Supplies the bearer token for each call; `null` sends no `Authorization` header.
         * Set an [AuthSession] to get refresh, single-flight and retry-once handling.
         */
        public var tokenProvider: TokenProvider? = null

        /** The wire format; binary protobuf by default. */
        public var wireFormat: WireFormat = WireFormat.PROTOBUF

        /**
         * Sends methods declared `NO_SIDE_EFFECTS` as HTTP GET (the default). Requests
         * too large for a URL fall back to POST.
         */
        public var useGetForReads: Boolean = true

        /** Deadline of each unary call (default 10 s); `null` for none. Streams have none. */
        public var timeout: Duration? = 10.seconds

        /**
         * The OkHttp client to build on (shares its connection pool, proxy, TLS and
         * interceptors). Its read/write timeouts are cleared; [timeout] applies instead.
         */
        public var okHttpClient: OkHttpClient? = null

        /** Builds the client. */
        public fun build(): HiveSyncClient = HiveSyncClient(
            baseUrl = baseUrl,
            pluginProtocolVersion = pluginProtocolVersion,
            tokenProvider = tokenProvider,
            wireFormat = wireFormat,
            useGetForReads = useGetForReads,
            unaryTimeout = timeout,
            okHttpClient = okHttpClient,
        )
    }

    public companion object {
        /**
         * Creates a client for the HiveSync API at [baseUrl] (scheme, host, port and an
         * optional path prefix), configured by [configure].
         */
        @JvmStatic
        @JvmOverloads
        public fun create(baseUrl: String, configure: Builder.() -> Unit = {}): HiveSyncClient =
            Builder(baseUrl).apply(configure).build()

        /** Returns a [Builder] for Java callers. */
        @JvmStatic
        public fun builder(baseUrl: String): Builder = Builder(baseUrl)
    }
}

/**
 * Adds the plugin-version and bearer-token headers to every request, unless the
 * caller already passed that header for the call.
 */
private class HeaderInterceptor(
    private val pluginProtocolVersion: Int?,
    private val tokenProvider: TokenProvider?,
) : Interceptor {
    override fun unaryFunction(): UnaryFunction = UnaryFunction(
        requestFunction = { request -> request.clone(headers = withSdkHeaders(request.headers)) },
    )

    override fun streamFunction(): StreamFunction = StreamFunction(
        requestFunction = { request -> request.clone(headers = withSdkHeaders(request.headers)) },
    )

    private fun withSdkHeaders(headers: Headers): Headers {
        val out = LinkedHashMap(headers)
        if (pluginProtocolVersion != null && !headers.hasKey(PLUGIN_VERSION_HEADER)) {
            out[PLUGIN_VERSION_HEADER] = listOf(pluginProtocolVersion.toString())
        }
        if (tokenProvider != null && !headers.hasKey(AUTHORIZATION)) {
            val token = tokenProvider.token()
            if (!token.isNullOrBlank()) {
                out[AUTHORIZATION] = listOf("Bearer $token")
            }
        }
        return out
    }

    private fun Headers.hasKey(name: String): Boolean = keys.any { it.equals(name, ignoreCase = true) }

    private companion object {
        const val AUTHORIZATION = "Authorization"
    }
}
