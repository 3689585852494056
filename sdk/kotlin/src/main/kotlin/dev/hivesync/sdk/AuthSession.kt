package dev.hivesync.sdk

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.BufferOverflow
import kotlinx.coroutines.flow.MutableSharedFlow
import kotlinx.coroutines.flow.SharedFlow
import kotlinx.coroutines.flow.asSharedFlow
import kotlinx.coroutines.withContext
import java.io.IOException
import java.time.Clock
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds

/** Something that happened to an [AuthSession]'s tokens. */
public sealed class AuthEvent {
    /** A sign-in stored new tokens ([AuthSession.deviceLogin] or [AuthSession.signIn]). */
    public data class SignedIn(val tokens: TokenSet) : AuthEvent()

    /** A refresh rotated the tokens; the new pair is already saved in the store. */
    public data class Refreshed(val tokens: TokenSet) : AuthEvent()

    /**
     * The session ended and the store was cleared: [AuthSession.signOut], or the
     * server refused the refresh token ([SignOutReason.SESSION_ENDED]). Prompt
     * the user to sign in again.
     */
    public data class SignedOut(val error: SignedOutException) : AuthEvent() {
        /** Why the session ended. */
        val reason: SignOutReason get() = error.reason
    }
}

/** Receives [AuthEvent]s synchronously, on the thread that caused them; keep it short. */
public fun interface AuthListener {
    /** Called for every event. */
    public fun onAuthEvent(event: AuthEvent)
}

/**
 * A signed-in HiveSync session: the access + refresh tokens of one client,
 * kept in a [TokenStore] and always fresh. Plug it into a client as its token
 * provider and every RPC carries a valid token:
 *
 * ```kotlin
 * val session = AuthSession(OAuthClient(baseUrl, clientId = "jetbrains"), PasswordSafeTokenStore())
 * val hivesync = HiveSyncClient.create(baseUrl) { tokenProvider = session }
 *
 * if (!session.isSignedIn) session.deviceLogin { prompt -> showCode(prompt) }
 * session.addListener { if (it is AuthEvent.SignedOut) promptToSignIn() }
 * val me = hivesync.auth.getCurrentUser(getCurrentUserRequest {}).getOrThrow()
 * ```
 *
 * What it does for the client's calls:
 * - refreshes before a call when the access token expires within [refreshMargin]
 *   (60 s by default, for clock skew), and saves the rotated refresh token;
 * - concurrent calls share one refresh (single flight), so a rotated refresh
 *   token is never used twice;
 * - a call still answered `unauthenticated` triggers one refresh and is retried
 *   once;
 * - when the refresh answers `invalid_grant` (session revoked elsewhere, refresh
 *   token reused or expired) it clears the store, emits
 *   [AuthEvent.SignedOut] and fails the call with code `unauthenticated` and a
 *   [SignedOutException] cause (read it with [com.connectrpc.ConnectException.signedOut]).
 *
 * A refresh runs in the session's own scope: cancelling the call that started it
 * does not abandon a rotation half-way. Thread-safe; share one instance per
 * signed-in account and client.
 */
public class AuthSession @JvmOverloads constructor(
    /** The OAuth endpoints of the client this session belongs to. */
    public val oauth: OAuthClient,
    private val store: TokenStore = InMemoryTokenStore(),
    /** Refresh when the access token expires within this margin. */
    public val refreshMargin: Duration = DEFAULT_REFRESH_MARGIN,
    private val clock: Clock = Clock.systemUTC(),
) : RefreshingTokenProvider {
    private val lock = Any()
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO + CoroutineName("hivesync-auth-refresh"))
    private val listeners = CopyOnWriteArrayList<AuthListener>()
    private val eventFlow = MutableSharedFlow<AuthEvent>(extraBufferCapacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)

    // Guarded by lock.
    private var loaded = false
    private var current: TokenSet? = null
    private var reason = SignOutReason.NOT_SIGNED_IN

    /** Bumped by every sign-in and sign-out: a refresh begun before it must not save. */
    private var generation = 0L
    private var inflight: Deferred<TokenSet>? = null

    /** Every [AuthEvent], for collectors (events while nobody collects are dropped). */
    public val events: SharedFlow<AuthEvent> = eventFlow.asSharedFlow()

    /** Adds a listener; close the returned handle to remove it. */
    public fun addListener(listener: AuthListener): AutoCloseable {
        listeners += listener
        return AutoCloseable { listeners -= listener }
    }

    /**
     * The tokens held now (loading them from the store on first use), without
     * refreshing; `null` when signed out.
     */
    public val tokens: TokenSet?
        get() = synchronized(lock) { loadedLocked() }

    /** Whether the session holds tokens (they may still need a refresh). */
    public val isSignedIn: Boolean get() = tokens != null

    /** Why the session holds no tokens, or `null` while signed in. */
    public val signOutReason: SignOutReason?
        get() = synchronized(lock) { if (loadedLocked() == null) reason else null }

    /**
     * Signs in with the device flow for [OAuthClient.clientId] (see
     * [OAuthClient.deviceLogin]) and stores the tokens. Cancel the coroutine to
     * abandon the sign-in.
     *
     * @throws AuthorizationDeniedException the user refused on the phone.
     * @throws DeviceCodeExpiredException nobody approved the code in time.
     * @throws OAuthException another error answer (e.g. `invalid_scope`).
     * @throws IOException when the sign-in could not be started.
     */
    public suspend fun deviceLogin(
        scopes: Collection<String> = emptyList(),
        onPrompt: suspend (DeviceCodePrompt) -> Unit,
    ): TokenSet {
        val tokens = oauth.deviceLogin(scopes, onPrompt)
        withContext(NonCancellable) { signIn(tokens) }
        return tokens
    }

    /** Adopts [tokens] obtained elsewhere (e.g. the browser flow): stores them and emits [AuthEvent.SignedIn]. */
    public suspend fun signIn(tokens: TokenSet) {
        withContext(Dispatchers.IO) {
            synchronized(lock) {
                generation++
                inflight = null
                loaded = true
                current = tokens
                store.save(tokens)
            }
        }
        emit(AuthEvent.SignedIn(tokens))
    }

    /**
     * A valid access token: the current one, or a refreshed one when it expires
     * within [refreshMargin]. When a refresh fails for a transient reason
     * (network) and the token has not expired yet, the current token is returned.
     *
     * @throws SignedOutException no tokens, or the server ended the session (store cleared).
     * @throws IOException a needed refresh failed on the network.
     * @throws OAuthException a needed refresh got an unexpected error answer.
     */
    public suspend fun accessToken(): String {
        val t = snapshot() ?: throw signedOutError()
        if (!t.expiresWithin(refreshMargin, clock)) return t.accessToken
        return try {
            refreshFrom(t).accessToken
        } catch (e: SignedOutException) {
            throw e
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            if (!t.isExpired(clock)) t.accessToken else throw e
        }
    }

    /**
     * Refreshes now, whatever the expiry, and returns the new (saved) tokens.
     * Concurrent refreshes share one request.
     *
     * @throws SignedOutException no tokens, or the server ended the session (store cleared).
     */
    public suspend fun refresh(): TokenSet {
        val t = snapshot() ?: throw signedOutError()
        return refreshFrom(t)
    }

    /**
     * Signs out: revokes the session on the server (`POST /oauth2/revoke`), then
     * clears the store and emits [AuthEvent.SignedOut] ([SignOutReason.SIGNED_OUT]).
     * The local sign-out happens even when the server cannot be reached.
     *
     * @return whether the server confirmed the revocation (`false` when offline,
     *   or when there was nothing to revoke).
     */
    public suspend fun signOut(): Boolean = withContext(NonCancellable + Dispatchers.IO) {
        // Let a rotation in flight land first, so the token we revoke is the live one.
        synchronized(lock) { inflight }?.let { runCatching { it.await() } }
        val t = synchronized(lock) { loadedLocked() }
        var revoked = false
        try {
            if (t != null) {
                revoked = try {
                    oauth.revoke(t.refreshToken ?: t.accessToken)
                    true
                } catch (_: IOException) {
                    false
                } catch (_: OAuthException) {
                    false
                }
            }
        } finally {
            synchronized(lock) {
                generation++
                inflight = null
                loaded = true
                current = null
                reason = SignOutReason.SIGNED_OUT
                store.clear()
            }
            emit(AuthEvent.SignedOut(SignedOutException(SignOutReason.SIGNED_OUT)))
        }
        revoked
    }

    /**
     * Re-reads the store, e.g. after another process or window saved new tokens.
     * A refresh in flight is abandoned (its result is not saved).
     */
    public suspend fun reload() {
        withContext(Dispatchers.IO) {
            synchronized(lock) {
                generation++
                inflight = null
                current = store.load()
                loaded = true
            }
        }
    }

    // --- RefreshingTokenProvider -------------------------------------------------

    /** The current access token, without refreshing or blocking on the network; `null` when signed out. */
    override fun token(): String? = tokens?.accessToken

    override suspend fun freshToken(): String = accessToken()

    override suspend fun refreshAfterUnauthenticated(rejectedToken: String): String {
        val t = snapshot() ?: throw signedOutError()
        if (t.accessToken != rejectedToken) return t.accessToken // someone refreshed meanwhile
        return refreshFrom(t).accessToken
    }

    // --- internals -------------------------------------------------------------

    private fun loadedLocked(): TokenSet? {
        if (!loaded) {
            current = store.load()
            loaded = true
        }
        return current
    }

    private suspend fun snapshot(): TokenSet? {
        synchronized(lock) { if (loaded) return current }
        return withContext(Dispatchers.IO) { synchronized(lock) { loadedLocked() } }
    }

    private fun signedOutError(): SignedOutException = SignedOutException(synchronized(lock) { reason })

    /**
     * Refreshes [stale] unless it was already replaced; concurrent callers share
     * one refresh.
     */
    private suspend fun refreshFrom(stale: TokenSet): TokenSet {
        val refresh = synchronized(lock) {
            val now = current ?: throw SignedOutException(reason)
            if (now.accessToken != stale.accessToken) return now
            inflight ?: run {
                val gen = generation
                scope.async(start = CoroutineStart.LAZY) { rotate(now, gen) }.also { d ->
                    inflight = d
                    d.invokeOnCompletion { synchronized(lock) { if (inflight === d) inflight = null } }
                    d.start()
                }
            }
        }
        return refresh.await()
    }

    /** One refresh of [old]; saves the result unless the session changed meanwhile ([gen]). */
    private suspend fun rotate(old: TokenSet, gen: Long): TokenSet {
        val refreshToken = old.refreshToken
            ?: throw endSession(gen, SignedOutException(SignOutReason.SESSION_ENDED, "the session has no refresh token"))
        val fresh = try {
            oauth.refresh(refreshToken)
        } catch (e: InvalidGrantException) {
            // A sign-in since this refresh began wins over the old session's failure.
            synchronized(lock) { if (generation != gen) return current ?: throw SignedOutException(reason, cause = e) }
            throw endSession(gen, SignedOutException(SignOutReason.SESSION_ENDED, cause = e))
        }
        synchronized(lock) {
            if (generation != gen) return current ?: throw SignedOutException(reason)
            current = fresh
            store.save(fresh)
        }
        emit(AuthEvent.Refreshed(fresh))
        return fresh
    }

    /** Clears the session after the server refused its refresh token; returns the error to throw. */
    private fun endSession(gen: Long, error: SignedOutException): SignedOutException {
        val ended = synchronized(lock) {
            if (generation != gen) return SignedOutException(reason, cause = error)
            generation++
            current = null
            reason = SignOutReason.SESSION_ENDED
            store.clear()
            true
        }
        if (ended) emit(AuthEvent.SignedOut(error))
        return error
    }

    private fun emit(event: AuthEvent) {
        eventFlow.tryEmit(event)
        for (l in listeners) {
            try {
                l.onAuthEvent(event)
            } catch (_: Exception) {
                // A listener's failure must not break the session.
            }
        }
    }

    public companion object {
        /** The default [refreshMargin]: 60 s of clock skew. */
        public val DEFAULT_REFRESH_MARGIN: Duration = 60.seconds
    }
}
