package dev.hivesync.sdk

import com.connectrpc.Code
import com.connectrpc.ConnectException
import com.connectrpc.ResponseMessage
import com.connectrpc.getOrThrow
import dev.hivesync.sdk.v1.ClientType
import dev.hivesync.sdk.v1.GetCurrentUserResponse
import dev.hivesync.sdk.v1.Scope
import dev.hivesync.sdk.v1.SignInKind
import dev.hivesync.sdk.v1.getCompatibilityRequest
import dev.hivesync.sdk.v1.getCurrentUserRequest
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import okhttp3.OkHttpClient
import okio.Buffer
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.ExtendWith
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.attribute.PosixFilePermissions
import java.time.Instant
import java.util.Collections
import java.util.UUID
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.seconds

/**
 * Device sign-in, the token manager and sign-out against a live `hivesyncd dev`
 * (poll interval 1 s). The phone is a HiveSyncClient with a "mobile" token from
 * `hivesyncd token create`; the plugin signs in as "jetbrains". No mocks.
 */
@ExtendWith(LiveServerExtension::class)
class AuthFlowTest(private val server: LiveServer) {
    /** Refresh-token grants sent by the plugin's OAuth client. */
    private val refreshes = AtomicInteger()

    /** Device-code polls sent by the plugin's OAuth client. */
    private val devicePolls = AtomicInteger()

    /** The Authorization header of every GetCurrentUser request the plugin's client sent. */
    private val meRequests: MutableList<String?> = Collections.synchronizedList(mutableListOf())

    private val oauthHttp = OkHttpClient.Builder().addInterceptor { chain ->
        val request = chain.request()
        if (request.url.encodedPath == "/oauth2/token") {
            val form = Buffer().also { request.body?.writeTo(it) }.readUtf8()
            if ("grant_type=refresh_token" in form) refreshes.incrementAndGet()
            if ("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code" in form) devicePolls.incrementAndGet()
        }
        chain.proceed(request)
    }.build()

    private val rpcHttp = OkHttpClient.Builder().addInterceptor { chain ->
        if (chain.request().url.encodedPath.endsWith("/GetCurrentUser")) meRequests += chain.request().header("Authorization")
        chain.proceed(chain.request())
    }.build()

    private fun uniqueEmail(tag: String) = "kotlin-$tag-${UUID.randomUUID()}@hivesync.test"

    /** The phone: a client with a fresh "mobile" token of the account [email]. */
    private fun phone(email: String): HiveSyncClient {
        val token = server.createToken(email, "mobile")["access_token"] as String
        return HiveSyncClient.create(server.baseUrl) {
            pluginProtocolVersion = LiveServer.CURRENT_PLUGIN_PROTOCOL_VERSION
            tokenProvider = TokenProvider { token }
        }
    }

    private fun oauth(clientId: String = PLUGIN) = OAuthClient(server.baseUrl, clientId, oauthHttp)

    private class Plugin(val session: AuthSession, val client: HiveSyncClient, val events: List<AuthEvent>)

    /** A plugin: a session over [store] and a client whose token provider is that session. */
    private fun plugin(store: TokenStore = InMemoryTokenStore(), clientId: String = PLUGIN): Plugin {
        val session = AuthSession(oauth(clientId), store)
        val events = Collections.synchronizedList(mutableListOf<AuthEvent>())
        session.addListener { events += it }
        val client = HiveSyncClient.create(server.baseUrl) {
            pluginProtocolVersion = LiveServer.CURRENT_PLUGIN_PROTOCOL_VERSION
            tokenProvider = session
            okHttpClient = rpcHttp
        }
        return Plugin(session, client, events)
    }

    /** Signs [plugin] in, approving the code from [phone]. */
    private suspend fun signIn(plugin: Plugin, phone: HiveSyncClient): TokenSet = withTimeout(30.seconds) {
        plugin.session.deviceLogin { prompt -> phone.approveSignIn(prompt.userCode) }
    }

    private suspend fun Plugin.me(): ResponseMessage<GetCurrentUserResponse> =
        client.auth.getCurrentUser(getCurrentUserRequest {})

    private fun <T> ResponseMessage<T>.failure(): ConnectException = when (this) {
        is ResponseMessage.Failure -> cause
        is ResponseMessage.Success -> throw AssertionError("expected a failure, got $message")
    }

    private suspend inline fun <reified T : Throwable> expectThrows(block: suspend () -> Unit): T {
        try {
            block()
        } catch (e: Throwable) {
            if (e is T) return e
            throw AssertionError("expected ${T::class.java.simpleName}, got $e", e)
        }
        throw AssertionError("expected ${T::class.java.simpleName}, nothing was thrown")
    }

    @Test
    fun metadataNamesTheEndpoints(): Unit = runBlocking {
        val m = oauth().metadata()
        assertEquals("${server.baseUrl}/oauth2/token", m.tokenEndpoint)
        assertEquals("${server.baseUrl}/oauth2/device_authorization", m.deviceAuthorizationEndpoint)
        assertEquals("${server.baseUrl}/oauth2/revoke", m.revocationEndpoint)
        assertTrue(OAuthClient.GRANT_DEVICE_CODE in m.grantTypesSupported, "grant types ${m.grantTypesSupported}")
        assertTrue("refresh_token" in m.grantTypesSupported)
        assertTrue("plugin" in m.scopesSupported)
    }

    // a. Full device login: the phone approves in the prompt callback, then the
    //    plugin's client is the phone's user on a "jetbrains" session.
    @Test
    fun deviceLoginApprovedOnPhone(): Unit = runBlocking {
        val email = uniqueEmail("login")
        val phone = phone(email)
        val store = InMemoryTokenStore()
        val plugin = plugin(store)
        var shown: DeviceCodePrompt? = null
        val tokens = withTimeout(30.seconds) {
            plugin.session.deviceLogin { prompt ->
                shown = prompt
                val pending = phone.describeSignIn(prompt.userCode.lowercase())
                assertEquals(PLUGIN, pending.clientId)
                assertEquals(ClientType.CLIENT_TYPE_JETBRAINS, pending.clientType)
                assertEquals(SignInKind.SIGN_IN_KIND_DEVICE, pending.kind)
                assertTrue(Scope.SCOPE_PLUGIN in pending.scopesList, "scopes ${pending.scopesList}")
                assertEquals(PLUGIN, phone.approveSignIn(prompt.userCode).clientId)
            }
        }
        val prompt = requireNotNull(shown)
        assertTrue(Regex("[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}").matches(prompt.userCode), prompt.userCode)
        assertEquals("${server.baseUrl}/device", prompt.verificationUri)
        assertTrue(prompt.verificationUriComplete!!.endsWith("user_code=${prompt.userCode}"), prompt.verificationUriComplete)
        assertTrue(prompt.expiresIn > 60.seconds, "expires in ${prompt.expiresIn}")

        assertEquals(listOf("plugin", "read", "write", "live"), tokens.scopes)
        assertEquals("Bearer", tokens.tokenType)
        assertNotNull(tokens.refreshToken)
        assertTrue(tokens.expiresAt.isAfter(Instant.now().plusSeconds(600)), "15 min access token")
        assertEquals(tokens, store.load(), "the store holds the tokens")
        assertEquals(listOf<AuthEvent>(AuthEvent.SignedIn(tokens)), plugin.events)

        val me = plugin.me().getOrThrow()
        assertEquals(email, me.user.email)
        assertEquals(PLUGIN, me.session.clientId)
        assertEquals(ClientType.CLIENT_TYPE_JETBRAINS, me.session.clientType)
        assertEquals(listOf<String?>("Bearer ${tokens.accessToken}"), meRequests)
        assertEquals(0, refreshes.get())
    }

    // b. An expired access token is refreshed before the call: new access token,
    //    new (rotated) refresh token in the store.
    @Test
    fun expiredAccessTokenIsRefreshedTransparently(): Unit = runBlocking {
        val email = uniqueEmail("refresh")
        val store = InMemoryTokenStore()
        val plugin = plugin(store)
        val old = signIn(plugin, phone(email))
        store.save(old.copy(expiresAt = Instant.now().minusSeconds(1)))
        plugin.session.reload()

        assertEquals(email, plugin.me().getOrThrow().user.email)
        val fresh = requireNotNull(store.load())
        assertNotEquals(old.accessToken, fresh.accessToken, "new access token")
        assertNotEquals(old.refreshToken, fresh.refreshToken, "rotated refresh token saved")
        assertTrue(fresh.expiresAt.isAfter(Instant.now().plusSeconds(600)))
        assertEquals(fresh, plugin.session.tokens)
        assertEquals(1, refreshes.get())
        assertEquals(listOf<String?>("Bearer ${fresh.accessToken}"), meRequests, "only the new token was sent")
        assertEquals(AuthEvent.Refreshed(fresh), plugin.events.last())

        // Within the 60 s margin counts as expired too; the blocking API refreshes the same way.
        store.save(fresh.copy(expiresAt = Instant.now().plusSeconds(30)))
        plugin.session.reload()
        val viaBlocking = plugin.client.auth.getCurrentUserBlocking(getCurrentUserRequest {}).execute().getOrThrow()
        assertEquals(email, viaBlocking.user.email)
        assertEquals(2, refreshes.get())
        assertNotEquals(fresh.refreshToken, store.load()!!.refreshToken)
    }

    // c. Concurrent calls with an expired token share exactly one refresh.
    @Test
    fun concurrentCallsShareOneRefresh(): Unit = runBlocking {
        val email = uniqueEmail("concurrent")
        val store = InMemoryTokenStore()
        val plugin = plugin(store)
        val old = signIn(plugin, phone(email))
        store.save(old.copy(expiresAt = Instant.now().minusSeconds(5)))
        plugin.session.reload()

        val results = (1..12).map { async(Dispatchers.IO) { plugin.me() } }.awaitAll()
        results.forEach { assertEquals(email, it.getOrThrow().user.email) }
        assertEquals(1, refreshes.get(), "one refresh for 12 concurrent calls")
        val fresh = store.load()!!
        assertNotEquals(old.refreshToken, fresh.refreshToken)
        assertEquals(List(12) { "Bearer ${fresh.accessToken}" }, meRequests.toList())
        assertEquals(1, plugin.events.count { it is AuthEvent.Refreshed })
    }

    // A call answered `unauthenticated` although the token looked valid is
    // refreshed and retried exactly once.
    @Test
    fun unauthenticatedCallIsRefreshedAndRetriedOnce(): Unit = runBlocking {
        val email = uniqueEmail("retry")
        val store = InMemoryTokenStore()
        val plugin = plugin(store)
        val good = signIn(plugin, phone(email))
        store.save(good.copy(accessToken = "not-a-valid-jwt"))
        plugin.session.reload()

        assertEquals(email, plugin.me().getOrThrow().user.email)
        val fresh = store.load()!!
        assertEquals(listOf<String?>("Bearer not-a-valid-jwt", "Bearer ${fresh.accessToken}"), meRequests)
        assertEquals(1, refreshes.get())
        assertNotEquals(good.refreshToken, fresh.refreshToken)
    }

    // d. The phone denies: a typed error, nothing stored.
    @Test
    fun deniedOnPhoneIsTyped(): Unit = runBlocking {
        val phone = phone(uniqueEmail("deny"))
        val store = InMemoryTokenStore()
        val plugin = plugin(store)
        val e = expectThrows<AuthorizationDeniedException> {
            withTimeout(30.seconds) { plugin.session.deviceLogin { phone.denySignIn(it.userCode) } }
        }
        assertEquals(OAuthException.ACCESS_DENIED, e.error)
        assertEquals(400, e.httpStatus)
        assertNull(store.load())
        assertFalse(plugin.session.isSignedIn)
        assertEquals(SignOutReason.NOT_SIGNED_IN, plugin.session.signOutReason)
        assertTrue(plugin.events.isEmpty())
    }

    // e. signOut revokes the session on the server and clears the store; the next
    //    call fails typed, without a network round trip.
    @Test
    fun signOutRevokesAndNextCallIsSignedOut(): Unit = runBlocking {
        val email = uniqueEmail("signout")
        val store = InMemoryTokenStore()
        val plugin = plugin(store)
        val tokens = signIn(plugin, phone(email))
        assertEquals(email, plugin.me().getOrThrow().user.email)

        assertTrue(plugin.session.signOut(), "the server confirmed the revocation")
        assertNull(store.load())
        assertFalse(plugin.session.isSignedIn)
        assertEquals(SignOutReason.SIGNED_OUT, plugin.session.signOutReason)
        val signedOut = plugin.events.last()
        assertInstanceOf(AuthEvent.SignedOut::class.java, signedOut)
        assertEquals(SignOutReason.SIGNED_OUT, (signedOut as AuthEvent.SignedOut).reason)

        val failure = plugin.me().failure()
        assertEquals(Code.UNAUTHENTICATED, failure.code)
        assertEquals(SignOutReason.SIGNED_OUT, failure.signedOut?.reason)
        assertEquals(1, meRequests.size, "the signed-out call never left the client")

        // Public methods still work without a session.
        plugin.client.meta.getCompatibility(
            getCompatibilityRequest {
                clientType = ClientType.CLIENT_TYPE_JETBRAINS
                clientVersion = 42
            },
        ).getOrThrow()

        // The server ended the session: neither old token works any more.
        val stale = HiveSyncClient.create(server.baseUrl) {
            pluginProtocolVersion = LiveServer.CURRENT_PLUGIN_PROTOCOL_VERSION
            tokenProvider = TokenProvider { tokens.accessToken }
        }
        assertEquals(Code.UNAUTHENTICATED, stale.auth.getCurrentUser(getCurrentUserRequest {}).failure().code)
        expectThrows<InvalidGrantException> { oauth().refresh(tokens.refreshToken!!) }
    }

    // e'. A reused (rotated) refresh token makes the server revoke the session: the
    //     next call's refresh gets invalid_grant → typed signed-out error, store
    //     cleared, SignedOut event.
    @Test
    fun reusedRefreshTokenEndsTheSession(): Unit = runBlocking {
        val email = uniqueEmail("reuse")
        val store = InMemoryTokenStore()
        val plugin = plugin(store)
        val first = signIn(plugin, phone(email))
        val second = plugin.session.refresh()
        assertNotEquals(first.refreshToken, second.refreshToken)
        assertEquals(second, store.load())

        // Someone replays the first refresh token: the server revokes the whole session.
        expectThrows<InvalidGrantException> { oauth().refresh(first.refreshToken!!) }

        val failure = plugin.me().failure()
        assertEquals(Code.UNAUTHENTICATED, failure.code)
        val signedOut = requireNotNull(failure.signedOut)
        assertEquals(SignOutReason.SESSION_ENDED, signedOut.reason)
        assertInstanceOf(InvalidGrantException::class.java, signedOut.cause)
        assertNull(store.load(), "store cleared")
        assertFalse(plugin.session.isSignedIn)
        assertEquals(SignOutReason.SESSION_ENDED, plugin.session.signOutReason)
        assertEquals(SignOutReason.SESSION_ENDED, (plugin.events.last() as AuthEvent.SignedOut).reason)
        assertEquals(listOf<String?>("Bearer ${second.accessToken}"), meRequests, "no retry after the session ended")

        // Later calls fail the same way without touching the network.
        assertEquals(SignOutReason.SESSION_ENDED, plugin.me().failure().signedOut?.reason)
        assertEquals(1, meRequests.size)
    }

    // Cancelling the coroutine stops polling; nothing is stored.
    @Test
    fun deviceLoginIsCancellable(): Unit = runBlocking {
        val phone = phone(uniqueEmail("cancel"))
        val store = InMemoryTokenStore()
        val plugin = plugin(store)
        val prompted = CompletableDeferred<DeviceCodePrompt>()
        val login = launch(Dispatchers.IO) { plugin.session.deviceLogin { prompted.complete(it) } }
        val prompt = withTimeout(10.seconds) { prompted.await() }
        withTimeout(10.seconds) { while (devicePolls.get() < 1) delay(50) }
        withTimeout(5.seconds) { login.cancelAndJoin() }
        assertTrue(login.isCancelled)
        val polls = devicePolls.get()
        delay(2500)
        assertEquals(polls, devicePolls.get(), "no polls after cancellation")
        assertNull(store.load())
        // The abandoned code is still pending on the server (nobody consumed it).
        assertEquals(PLUGIN, phone.describeSignIn(prompt.userCode).clientId)
    }

    // The low-level poll reports authorization_pending and slow_down as values, and
    // requested scopes reach the phone's description.
    @Test
    fun pollingTooFastIsSlowDown(): Unit = runBlocking {
        val phone = phone(uniqueEmail("slowdown"))
        val oauth = oauth()
        val authorization = oauth.startDeviceAuthorization(listOf("plugin", "read"))
        assertEquals(1.seconds, authorization.interval, "HIVESYNC_DEVICE_POLL_INTERVAL=1s")
        assertEquals(DevicePoll.Pending, oauth.pollDeviceToken(authorization))
        assertEquals(DevicePoll.SlowDown, oauth.pollDeviceToken(authorization))
        val pending = phone.describeSignIn(authorization.prompt.userCode)
        assertEquals(listOf(Scope.SCOPE_PLUGIN, Scope.SCOPE_READ), pending.scopesList)
        phone.denySignIn(authorization.prompt.userCode)
        delay(6.seconds) // the interval is now 6 s
        expectThrows<AuthorizationDeniedException> { oauth.pollDeviceToken(authorization) }
    }

    @Test
    fun otherOAuthErrorsAreTypedByCode(): Unit = runBlocking {
        val mobile = expectThrows<OAuthException> { oauth("mobile").startDeviceAuthorization() }
        assertEquals(OAuthException.INVALID_CLIENT, mobile.error)
        assertEquals(401, mobile.httpStatus)
        val scope = expectThrows<OAuthException> { oauth().startDeviceAuthorization(listOf(Scope.SCOPE_ADMIN.oauthName)) }
        assertEquals(OAuthException.INVALID_SCOPE, scope.error)
        val grant = expectThrows<InvalidGrantException> { oauth().refresh("no-such-refresh-token") }
        assertEquals(400, grant.httpStatus)
    }

    // Without a session, public methods work and the others fail typed, locally.
    @Test
    fun neverSignedInSession(): Unit = runBlocking {
        val plugin = plugin()
        assertFalse(plugin.session.isSignedIn)
        plugin.client.meta.getCompatibility(
            getCompatibilityRequest {
                clientType = ClientType.CLIENT_TYPE_JETBRAINS
                clientVersion = 42
            },
        ).getOrThrow()
        val failure = plugin.me().failure()
        assertEquals(Code.UNAUTHENTICATED, failure.code)
        assertEquals(SignOutReason.NOT_SIGNED_IN, failure.signedOut?.reason)
        assertTrue(meRequests.isEmpty())
        expectThrows<SignedOutException> { plugin.session.accessToken() }
        assertFalse(plugin.session.signOut(), "nothing to revoke")
    }

    // A CLI keeps its tokens in a private file; a later process signs in from it.
    @Test
    fun fileStoreSurvivesTheProcess(@TempDir dir: Path): Unit = runBlocking {
        val email = uniqueEmail("file")
        val path = dir.resolve("config/hivesync/tokens.properties")
        val first = plugin(FileTokenStore(path), clientId = "cli")
        val tokens = signIn(first, phone(email))
        assertEquals(setOf("rw-------"), setOf(PosixFilePermissions.toString(Files.getPosixFilePermissions(path))))

        val later = plugin(FileTokenStore(path), clientId = "cli")
        assertEquals(tokens, later.session.tokens)
        val me = later.me().getOrThrow()
        assertEquals(email, me.user.email)
        assertEquals("cli", me.session.clientId)
        assertTrue(later.session.signOut())
        assertFalse(Files.exists(path))
    }

    private companion object {
        const val PLUGIN = "jetbrains"
    }
}
