package dev.hivesync.sdk

import com.connectrpc.Code
import com.connectrpc.ConnectException
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertSame
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.io.IOException
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.attribute.PosixFilePermissions
import java.time.Clock
import java.time.Instant
import java.time.ZoneOffset
import kotlin.time.Duration
import kotlin.time.Duration.Companion.minutes
import kotlin.time.Duration.Companion.seconds

/** The parts of sign-in that need no server: the polling loop's timing, error mapping, stores. */
class AuthOfflineTest {
    private val start: Instant = Instant.parse("2026-01-01T00:00:00Z")
    private val tokens = TokenSet("access-token-abcd", "refresh-token", start.plusSeconds(900), listOf("plugin"))

    private fun authorization(expiresIn: Duration = 10.minutes, interval: Duration = 1.seconds) = DeviceAuthorization(
        deviceCode = "device-code",
        prompt = DeviceCodePrompt("BCDF-GHJK", "https://x/device", "https://x/device?user_code=BCDF-GHJK", expiresIn,
            start.plusSeconds(expiresIn.inWholeSeconds)),
        interval = interval,
    )

    /** Runs the loop on a virtual clock that advances by each sleep. */
    private fun loop(
        auth: DeviceAuthorization,
        answers: Iterator<() -> DevicePoll>,
        sleeps: MutableList<Duration>,
    ): TokenSet = runBlocking {
        var now = start
        OAuthClient.pollUntilGranted(
            auth,
            now = { now },
            sleep = { d -> sleeps += d; now = now.plusMillis(d.inWholeMilliseconds) },
            poll = { answers.next()() },
        )
    }

    @Test
    fun pollingHonoursIntervalAndSlowDown() {
        val sleeps = mutableListOf<Duration>()
        val answers = listOf<() -> DevicePoll>(
            { DevicePoll.Pending },
            { DevicePoll.SlowDown },
            { DevicePoll.Pending },
            { DevicePoll.SlowDown },
            { DevicePoll.Granted(tokens) },
        ).iterator()
        assertSame(tokens, loop(authorization(), answers, sleeps))
        assertEquals(listOf(1.seconds, 1.seconds, 6.seconds, 6.seconds, 11.seconds), sleeps)
    }

    @Test
    fun pollingRetriesNetworkFailures() {
        val sleeps = mutableListOf<Duration>()
        val answers = listOf<() -> DevicePoll>(
            { throw IOException("offline") },
            { throw OAuthException.of("server_error", "try again later", 500) },
            { DevicePoll.Granted(tokens) },
        ).iterator()
        assertSame(tokens, loop(authorization(), answers, sleeps))
        assertEquals(3, sleeps.size)
    }

    @Test
    fun pollingStopsWhenTheCodeLapses() {
        val sleeps = mutableListOf<Duration>()
        val answers = generateSequence { { DevicePoll.Pending } }.iterator()
        val e = runCatching { loop(authorization(expiresIn = 5.seconds), answers, sleeps) }.exceptionOrNull()
        assertInstanceOf(DeviceCodeExpiredException::class.java, e)
        assertEquals(0, (e as DeviceCodeExpiredException).httpStatus, "raised locally")
        assertEquals(5, sleeps.size)
    }

    @Test
    fun terminalErrorsStopPolling() {
        val sleeps = mutableListOf<Duration>()
        val answers = listOf<() -> DevicePoll>(
            { DevicePoll.Pending },
            { throw OAuthException.of("access_denied", "refused", 400) },
        ).iterator()
        val e = runCatching { loop(authorization(), answers, sleeps) }.exceptionOrNull()
        assertInstanceOf(AuthorizationDeniedException::class.java, e)
        assertEquals(2, sleeps.size)
    }

    @Test
    fun errorCodesMapToTypes() {
        assertInstanceOf(AuthorizationDeniedException::class.java, OAuthException.of("access_denied", null, 400))
        assertInstanceOf(DeviceCodeExpiredException::class.java, OAuthException.of("expired_token", null, 400))
        assertInstanceOf(InvalidGrantException::class.java, OAuthException.of("invalid_grant", "used", 400))
        val other = OAuthException.of("invalid_scope", "no admin", 400)
        assertEquals(OAuthException::class.java, other.javaClass)
        assertEquals("invalid_scope: no admin", other.message)
    }

    @Test
    fun signedOutIsFoundInTheCauseChain() {
        val signedOut = SignedOutException(SignOutReason.SESSION_ENDED)
        assertSame(signedOut, ConnectException(Code.UNAUTHENTICATED, "x", signedOut).signedOut)
        assertSame(signedOut, ConnectException(Code.UNKNOWN, "x", IOException("wrapped", signedOut)).signedOut)
        assertNull(ConnectException(Code.UNAUTHENTICATED, "x").signedOut)
    }

    @Test
    fun tokenExpiryUsesTheMargin() {
        val clock = Clock.fixed(start.plusSeconds(900 - 61), ZoneOffset.UTC)
        assertFalse(tokens.expiresWithin(60.seconds, clock))
        assertTrue(tokens.expiresWithin(61.seconds, clock))
        assertFalse(tokens.isExpired(clock))
        assertTrue(tokens.isExpired(Clock.fixed(tokens.expiresAt, ZoneOffset.UTC)))
        assertFalse("refresh-token" in tokens.toString() || "access-token" in tokens.toString(), tokens.toString())
    }

    @Test
    fun fileStoreRoundTripsPrivately(@TempDir dir: Path) {
        val store = FileTokenStore(dir.resolve("a/b/tokens"))
        assertNull(store.load())
        store.save(tokens)
        assertEquals(tokens, store.load())
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(store.path)))
        val rotated = tokens.copy(refreshToken = "next", scopes = listOf("plugin", "read"))
        store.save(rotated)
        assertEquals(rotated, store.load())
        assertEquals(listOf("tokens"), Files.list(store.path.parent).use { s -> s.iterator().asSequence().map { it.fileName.toString() }.toList() })
        store.clear()
        assertNull(store.load())
        store.clear()
    }
}
