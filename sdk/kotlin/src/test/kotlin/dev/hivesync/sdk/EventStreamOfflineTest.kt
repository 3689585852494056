package dev.hivesync.sdk

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import kotlin.random.Random
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** The parts of the event stream that need no server: URLs, backoff, configuration. */
class EventStreamOfflineTest {
    @Test
    fun urlFromApiBaseOrWsBase() {
        assertEquals("wss://api.hivesync.dev/api/v1/ws", eventStreamUrl("https://api.hivesync.dev"))
        assertEquals("ws://127.0.0.1:8080/api/v1/ws", eventStreamUrl("http://127.0.0.1:8080/"))
        assertEquals("wss://h.example/prefix/api/v1/ws", eventStreamUrl("https://h.example/prefix"))
        assertEquals("wss://h.example/api/v1/ws", eventStreamUrl("wss://h.example/api/v1/ws"), "ws_base is used as it is")
        assertThrows<IllegalArgumentException> { eventStreamUrl("ftp://h.example") }
    }

    @Test
    fun backoffDoublesUpToTheCap() {
        val b = ReconnectBackoff(250.milliseconds, 30.seconds)
        assertEquals(
            listOf(250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000).map { it.milliseconds },
            (0..8).map { b.ceiling(it) },
        )
        assertEquals(30.seconds, b.ceiling(Int.MAX_VALUE), "no overflow")
    }

    @Test
    fun backoffIsFullJitter() {
        val b = ReconnectBackoff(250.milliseconds, 30.seconds, Random(42))
        val waits = (1..2000).map { b.delayFor(3) }
        assertTrue(waits.all { it >= 0.milliseconds && it <= 2.seconds }, "within [0, 2 s]")
        assertTrue(waits.any { it < 200.milliseconds } && waits.any { it > 1800.milliseconds }, "spread over the whole range")
    }

    @Test
    fun builderChecksItsInput() {
        assertThrows<IllegalArgumentException> { EventStream.create("http://h") {} }
        assertThrows<IllegalArgumentException> {
            EventStream.create("http://h") { tokenProvider = TokenProvider { "t" }; channel(" ") }
        }
        assertThrows<IllegalArgumentException> {
            EventStream.create("http://h") { tokenProvider = TokenProvider { "t" }; channel("user:u", lastSequence = -2) }
        }
        val stream = EventStream.create("https://h.example") {
            tokenProvider = TokenProvider { "t" }
            channel(projectSyncChannel("p1"), lastSequence = 7)
            channel(userChannel("u1"))
        }
        stream.use {
            assertEquals("wss://h.example/api/v1/ws", it.url)
            assertEquals(WireFormat.PROTOBUF, it.wireFormat)
            assertEquals(mapOf("project_sync:p1" to 7L, "user:u1" to EventStream.FROM_NOW), it.positions)
            assertEquals(EventStreamState.Idle, it.state.value)
            assertTrue(it.subscribe("user:u2", 0))
            assertTrue(it.unsubscribe("user:u1"))
            assertEquals(mapOf("project_sync:p1" to 7L, "user:u2" to 0L), it.positions)
        }
        assertEquals(EventStreamState.Closed(null), stream.state.value)
    }
}
