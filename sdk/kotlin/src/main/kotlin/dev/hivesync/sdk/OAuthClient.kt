package dev.hivesync.sdk

import com.google.protobuf.InvalidProtocolBufferException
import com.google.protobuf.Struct
import com.google.protobuf.Value
import com.google.protobuf.util.JsonFormat
import dev.hivesync.sdk.v1.Scope
import kotlinx.coroutines.delay
import kotlinx.coroutines.suspendCancellableCoroutine
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import okhttp3.Call
import okhttp3.Callback
import okhttp3.FormBody
import okhttp3.HttpUrl.Companion.toHttpUrlOrNull
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.Response
import java.io.IOException
import java.time.Clock
import java.time.Instant
import kotlin.coroutines.resume
import kotlin.coroutines.resumeWithException
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds
import kotlin.time.toJavaDuration

/**
 * An access + refresh token pair from the token endpoint.
 *
 * [toString] never prints the tokens, so a `TokenSet` is safe to log.
 */
public data class TokenSet(
    /** The access token (an ES256 JWT) sent as `Authorization: Bearer …`. */
    val accessToken: String,
    /**
     * The refresh token. It rotates: each one works once, and the token endpoint
     * returns the next one with every refresh. `null` when none was issued.
     */
    val refreshToken: String?,
    /** When [accessToken] expires (computed from `expires_in` when it was issued). */
    val expiresAt: Instant,
    /** The granted scopes, e.g. `[plugin, read, write, live]`. */
    val scopes: List<String> = emptyList(),
    /** The token type, always `Bearer`. */
    val tokenType: String = "Bearer",
) {
    /** Whether the access token expires within [margin] of [clock]'s now (or already has). */
    public fun expiresWithin(margin: Duration, clock: Clock = Clock.systemUTC()): Boolean =
        !clock.instant().plus(margin.toJavaDuration()).isBefore(expiresAt)

    /** Whether the access token has expired by [clock]'s now. */
    public fun isExpired(clock: Clock = Clock.systemUTC()): Boolean = !clock.instant().isBefore(expiresAt)

    override fun toString(): String =
        "TokenSet(accessToken=…${accessToken.takeLast(4)}, refreshToken=${if (refreshToken == null) "null" else "…"}, " +
            "expiresAt=$expiresAt, scopes=$scopes, tokenType=$tokenType)"
}

/** The OAuth wire name of a contract scope: `SCOPE_PLUGIN` → `plugin`. */
public val Scope.oauthName: String get() = name.removePrefix("SCOPE_").lowercase()

/**
 * What to show the user while a device sign-in waits for the phone: the code to
 * type (or a QR code of [verificationUriComplete]).
 */
public data class DeviceCodePrompt(
    /** The code the user approves on the phone, e.g. `BCDF-GHJK`. */
    val userCode: String,
    /** Where to enter the code, e.g. `https://api.hivesync.dev/device`. */
    val verificationUri: String,
    /** [verificationUri] with the code filled in: the target of a QR code. */
    val verificationUriComplete: String?,
    /** How long the code stays valid from when it was issued. */
    val expiresIn: Duration,
    /** When the code lapses. */
    val expiresAt: Instant,
)

/**
 * A started device authorization (RFC 8628 §3.2). [deviceCode] is the poller's
 * secret; show only [prompt] to the user.
 */
public class DeviceAuthorization(
    /** The device code the token endpoint is polled with. */
    public val deviceCode: String,
    /** What to show the user. */
    public val prompt: DeviceCodePrompt,
    /** The minimum time between polls the server asked for. */
    public val interval: Duration,
) {
    override fun toString(): String = "DeviceAuthorization(prompt=$prompt, interval=$interval)"
}

/** The answer to one device-flow poll of the token endpoint. */
public sealed class DevicePoll {
    /** Not approved yet (`authorization_pending`): poll again after the interval. */
    public object Pending : DevicePoll() {
        override fun toString(): String = "Pending"
    }

    /** Polling too fast (`slow_down`): add 5 s to the interval, for good. */
    public object SlowDown : DevicePoll() {
        override fun toString(): String = "SlowDown"
    }

    /** Approved: the tokens of the new session. */
    public data class Granted(val tokens: TokenSet) : DevicePoll()
}

/** RFC 8414 authorization server metadata (the fields this SDK uses). */
public data class AuthorizationServerMetadata(
    val issuer: String,
    val tokenEndpoint: String,
    val deviceAuthorizationEndpoint: String?,
    val revocationEndpoint: String?,
    val authorizationEndpoint: String?,
    val jwksUri: String?,
    val grantTypesSupported: List<String>,
    val scopesSupported: List<String>,
)

/**
 * The HiveSync OAuth 2.1 endpoints, for one registered public client
 * ([clientId]: `jetbrains`, `vscode`, `desktop`, `sublime`, `neovim`, `cli`,
 * `admin`). Speaks form-encoded POSTs over OkHttp; the endpoints are discovered
 * from `/.well-known/oauth-authorization-server` (RFC 8414).
 *
 * Most code uses [AuthSession], which keeps the tokens fresh; this class is the
 * stateless layer under it.
 *
 * ```kotlin
 * val oauth = OAuthClient("https://api.hivesync.dev", clientId = "jetbrains")
 * val tokens = oauth.deviceLogin { prompt -> showCode(prompt.userCode, prompt.verificationUriComplete) }
 * ```
 *
 * Every suspend function is cancellable: cancelling the coroutine cancels the
 * HTTP request (and a device login's polling).
 */
public class OAuthClient @JvmOverloads constructor(
    /** The HiveSync API base URL, e.g. `https://api.hivesync.dev`. */
    baseUrl: String,
    /** The registered client id this client signs in as. */
    public val clientId: String,
    okHttpClient: OkHttpClient? = null,
    private val clock: Clock = Clock.systemUTC(),
) {
    /** The base URL, without a trailing slash. */
    public val baseUrl: String = baseUrl.trimEnd('/')

    private val http: OkHttpClient = okHttpClient ?: OkHttpClient()
    private val metadataLock = Mutex()

    @Volatile
    private var metadata: AuthorizationServerMetadata? = null

    init {
        require(this.baseUrl.toHttpUrlOrNull() != null) { "baseUrl must be an http:// or https:// URL, got '$baseUrl'" }
        require(clientId.isNotBlank()) { "clientId is required" }
    }

    /**
     * The server's RFC 8414 metadata, fetched once and cached. A server without
     * the document (HTTP 404) gets the default HiveSync endpoint paths.
     */
    public suspend fun metadata(): AuthorizationServerMetadata {
        metadata?.let { return it }
        return metadataLock.withLock {
            metadata ?: fetchMetadata().also { metadata = it }
        }
    }

    private suspend fun fetchMetadata(): AuthorizationServerMetadata {
        val request = Request.Builder().url("$baseUrl$METADATA_PATH").header("Accept", "application/json").get().build()
        http.newCall(request).await().use { response ->
            if (response.code == 404) {
                return AuthorizationServerMetadata(
                    issuer = baseUrl,
                    tokenEndpoint = "$baseUrl/oauth2/token",
                    deviceAuthorizationEndpoint = "$baseUrl/oauth2/device_authorization",
                    revocationEndpoint = "$baseUrl/oauth2/revoke",
                    authorizationEndpoint = "$baseUrl/oauth2/authorize",
                    jwksUri = "$baseUrl/.well-known/jwks.json",
                    grantTypesSupported = emptyList(),
                    scopesSupported = emptyList(),
                )
            }
            val body = response.body?.string().orEmpty()
            if (response.code != 200) throw IOException("$METADATA_PATH answered HTTP ${response.code}")
            val json = parseJson(body) ?: throw IOException("$METADATA_PATH is not a JSON object")
            return AuthorizationServerMetadata(
                issuer = json.string("issuer") ?: baseUrl,
                tokenEndpoint = json.string("token_endpoint") ?: throw IOException("metadata has no token_endpoint"),
                deviceAuthorizationEndpoint = json.string("device_authorization_endpoint"),
                revocationEndpoint = json.string("revocation_endpoint"),
                authorizationEndpoint = json.string("authorization_endpoint"),
                jwksUri = json.string("jwks_uri"),
                grantTypesSupported = json.strings("grant_types_supported"),
                scopesSupported = json.strings("scopes_supported"),
            )
        }
    }

    /**
     * Starts a device sign-in (RFC 8628 §3.1) asking for [scopes] (wire names such
     * as `plugin`, `read`; empty for the client's defaults).
     *
     * @throws OAuthException e.g. `invalid_scope`, `invalid_client`.
     * @throws IOException on network failure or a malformed answer.
     */
    public suspend fun startDeviceAuthorization(scopes: Collection<String> = emptyList()): DeviceAuthorization {
        val endpoint = metadata().deviceAuthorizationEndpoint
            ?: throw IOException("the server offers no device_authorization_endpoint")
        val form = linkedMapOf("client_id" to clientId)
        if (scopes.isNotEmpty()) form["scope"] = scopes.joinToString(" ")
        val json = postForm(endpoint, form)
        val issuedAt = clock.instant()
        val expiresIn = (json.number("expires_in") ?: throw IOException("device authorization has no expires_in")).seconds
        val prompt = DeviceCodePrompt(
            userCode = json.string("user_code") ?: throw IOException("device authorization has no user_code"),
            verificationUri = json.string("verification_uri") ?: throw IOException("device authorization has no verification_uri"),
            verificationUriComplete = json.string("verification_uri_complete"),
            expiresIn = expiresIn,
            expiresAt = issuedAt.plus(expiresIn.toJavaDuration()),
        )
        return DeviceAuthorization(
            deviceCode = json.string("device_code") ?: throw IOException("device authorization has no device_code"),
            prompt = prompt,
            // RFC 8628 §3.2: 5 seconds when the server names none.
            interval = (json.number("interval")?.takeIf { it > 0 } ?: DEFAULT_INTERVAL_SECONDS).seconds,
        )
    }

    /**
     * Polls the token endpoint once for [authorization]. Prefer [awaitDeviceTokens],
     * which loops with the right interval.
     *
     * @throws AuthorizationDeniedException the user refused on the phone.
     * @throws DeviceCodeExpiredException the code lapsed.
     * @throws OAuthException any other error answer (`invalid_grant` for an unknown or used code).
     * @throws IOException on network failure or a malformed answer.
     */
    public suspend fun pollDeviceToken(authorization: DeviceAuthorization): DevicePoll = try {
        DevicePoll.Granted(
            tokenRequest(
                linkedMapOf(
                    "grant_type" to GRANT_DEVICE_CODE,
                    "device_code" to authorization.deviceCode,
                    "client_id" to clientId,
                ),
            ),
        )
    } catch (e: OAuthException) {
        when (e.error) {
            OAuthException.AUTHORIZATION_PENDING -> DevicePoll.Pending
            OAuthException.SLOW_DOWN -> DevicePoll.SlowDown
            else -> throw e
        }
    }

    /**
     * Polls until [authorization] is approved, honouring its interval and adding
     * 5 s on every `slow_down`. Network failures (and `server_error` /
     * `temporarily_unavailable` answers) are retried until the code expires.
     * Cancel the coroutine to stop.
     *
     * @throws AuthorizationDeniedException the user refused on the phone.
     * @throws DeviceCodeExpiredException the code lapsed before approval.
     * @throws OAuthException any other error answer.
     */
    public suspend fun awaitDeviceTokens(authorization: DeviceAuthorization): TokenSet =
        pollUntilGranted(authorization, { clock.instant() }, { delay(it) }, { pollDeviceToken(authorization) })

    /**
     * Signs in with the device flow: starts it, hands [onPrompt] the code to show
     * (it may suspend, e.g. to open a dialog; it runs before the first poll), then
     * polls until the user approves on the phone. Cancel the coroutine to abandon
     * the sign-in.
     *
     * @param scopes wire scope names; empty for the client's defaults.
     * @throws AuthorizationDeniedException the user refused on the phone.
     * @throws DeviceCodeExpiredException the code lapsed before approval.
     * @throws OAuthException any other error answer (e.g. `invalid_scope`).
     * @throws IOException when the sign-in could not be started.
     */
    public suspend fun deviceLogin(
        scopes: Collection<String> = emptyList(),
        onPrompt: suspend (DeviceCodePrompt) -> Unit,
    ): TokenSet {
        val authorization = startDeviceAuthorization(scopes)
        onPrompt(authorization.prompt)
        return awaitDeviceTokens(authorization)
    }

    /**
     * Exchanges [refreshToken] for a new pair (RFC 6749 §6). The old refresh token
     * stops working: persist the returned one. Using a refresh token twice revokes
     * its whole session.
     *
     * @throws InvalidGrantException the refresh token is invalid, expired, revoked or used.
     * @throws OAuthException any other error answer.
     * @throws IOException on network failure or a malformed answer.
     */
    public suspend fun refresh(refreshToken: String): TokenSet = tokenRequest(
        linkedMapOf("grant_type" to GRANT_REFRESH_TOKEN, "refresh_token" to refreshToken, "client_id" to clientId),
    )

    /**
     * Revokes [token] (RFC 7009): an access or refresh token ends its whole session.
     * The server answers success for unknown tokens too.
     *
     * @throws OAuthException an error answer (e.g. `invalid_client`).
     * @throws IOException on network failure.
     */
    public suspend fun revoke(token: String) {
        val endpoint = metadata().revocationEndpoint ?: "$baseUrl/oauth2/revoke"
        postForm(endpoint, linkedMapOf("token" to token, "client_id" to clientId), expectBody = false)
    }

    private suspend fun tokenRequest(form: Map<String, String>): TokenSet {
        val json = postForm(metadata().tokenEndpoint, form)
        val issuedAt = clock.instant()
        val accessToken = json.string("access_token") ?: throw IOException("token response has no access_token")
        val expiresIn = json.number("expires_in") ?: throw IOException("token response has no expires_in")
        return TokenSet(
            accessToken = accessToken,
            refreshToken = json.string("refresh_token"),
            expiresAt = issuedAt.plusSeconds(expiresIn),
            scopes = json.string("scope")?.split(' ')?.filter { it.isNotEmpty() }.orEmpty(),
            tokenType = json.string("token_type") ?: "Bearer",
        )
    }

    /** POSTs [form]; returns the JSON object of a 2xx answer, throws the RFC 6749 error otherwise. */
    private suspend fun postForm(url: String, form: Map<String, String>, expectBody: Boolean = true): Struct {
        val body = FormBody.Builder().apply { form.forEach { (k, v) -> add(k, v) } }.build()
        val request = Request.Builder().url(url).header("Accept", "application/json").post(body).build()
        http.newCall(request).await().use { response ->
            val text = response.body?.string().orEmpty()
            if (response.isSuccessful) {
                if (!expectBody) return Struct.getDefaultInstance()
                return parseJson(text) ?: throw IOException("${request.url.encodedPath} answered HTTP ${response.code} without a JSON object")
            }
            val json = parseJson(text)
            val error = json?.string("error")
                ?: throw IOException("${request.url.encodedPath} answered HTTP ${response.code}: ${text.take(200)}")
            throw OAuthException.of(error, json.string("error_description"), response.code)
        }
    }

    internal companion object {
        const val METADATA_PATH = "/.well-known/oauth-authorization-server"
        const val GRANT_DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
        const val GRANT_REFRESH_TOKEN = "refresh_token"
        const val DEFAULT_INTERVAL_SECONDS = 5L
        val SLOW_DOWN_STEP = 5.seconds

        /** Error answers that say "try again later" rather than end the flow. */
        val TRANSIENT_ERRORS = setOf("server_error", "temporarily_unavailable")

        /**
         * The device-flow polling loop (RFC 8628 §3.4–3.5), separate from HTTP so its
         * timing can be tested: waits [DeviceAuthorization.interval] before every poll,
         * adds 5 s for good on each `slow_down`, retries transient failures, and gives up
         * with [DeviceCodeExpiredException] once the code's lifetime has passed.
         */
        suspend fun pollUntilGranted(
            authorization: DeviceAuthorization,
            now: () -> Instant,
            sleep: suspend (Duration) -> Unit,
            poll: suspend () -> DevicePoll,
        ): TokenSet {
            var interval = authorization.interval
            var lastFailure: IOException? = null
            while (true) {
                sleep(interval)
                try {
                    when (val r = poll()) {
                        is DevicePoll.Granted -> return r.tokens
                        DevicePoll.Pending -> lastFailure = null
                        DevicePoll.SlowDown -> {
                            interval += SLOW_DOWN_STEP
                            lastFailure = null
                        }
                    }
                } catch (e: IOException) {
                    lastFailure = e // transient: keep polling until the code lapses
                } catch (e: OAuthException) {
                    if (e.error !in TRANSIENT_ERRORS) throw e
                    lastFailure = IOException(e.message, e)
                }
                if (!now().isBefore(authorization.prompt.expiresAt)) {
                    throw DeviceCodeExpiredException("the device code expired before it was approved", 0, lastFailure)
                }
            }
        }

        private val jsonParser: JsonFormat.Parser = JsonFormat.parser().ignoringUnknownFields()

        fun parseJson(text: String): Struct? {
            if (!text.trimStart().startsWith("{")) return null
            return try {
                Struct.newBuilder().also { jsonParser.merge(text, it) }.build()
            } catch (_: InvalidProtocolBufferException) {
                null
            }
        }

        fun Struct.string(key: String): String? =
            fieldsMap[key]?.takeIf { it.kindCase == Value.KindCase.STRING_VALUE }?.stringValue?.takeIf { it.isNotEmpty() }

        fun Struct.number(key: String): Long? =
            fieldsMap[key]?.takeIf { it.kindCase == Value.KindCase.NUMBER_VALUE }?.numberValue?.toLong()

        fun Struct.strings(key: String): List<String> =
            fieldsMap[key]?.listValue?.valuesList?.filter { it.kindCase == Value.KindCase.STRING_VALUE }?.map { it.stringValue }
                .orEmpty()
    }
}

/** Runs the call asynchronously; cancelling the coroutine cancels the call. */
internal suspend fun Call.await(): Response = suspendCancellableCoroutine { cont ->
    cont.invokeOnCancellation { cancel() }
    enqueue(
        object : Callback {
            override fun onResponse(call: Call, response: Response) {
                cont.resume(response) { _, r, _ -> r.close() }
            }

            override fun onFailure(call: Call, e: IOException) {
                if (!cont.isCancelled) cont.resumeWithException(e)
            }
        },
    )
}
