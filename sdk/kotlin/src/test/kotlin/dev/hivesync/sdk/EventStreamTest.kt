package dev.hivesync.sdk

import com.connectrpc.getOrThrow
import dev.hivesync.sdk.v1.ClientType
import dev.hivesync.sdk.v1.ErrorEvent
import dev.hivesync.sdk.v1.Event
import dev.hivesync.sdk.v1.File
import dev.hivesync.sdk.v1.FileVersion
import dev.hivesync.sdk.v1.HistoryServiceClient
import dev.hivesync.sdk.v1.UpgradeRequired
import dev.hivesync.sdk.v1.WsCloseCode
import dev.hivesync.sdk.v1.createFileRequest
import dev.hivesync.sdk.v1.createProjectRequest
import dev.hivesync.sdk.v1.listHistoryRequest
import dev.hivesync.sdk.v1.registerDeviceRequest
import dev.hivesync.sdk.v1.revokeSessionRequest
import dev.hivesync.sdk.v1.saveFileRequest
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.selects.select
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.ExtendWith
import java.net.SocketTimeoutException
import java.time.Instant
import java.util.Collections
import java.util.UUID
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * The event stream against a live `hivesyncd dev` (see [LiveServer]; it pings
 * and re-checks sessions every second). Saves are made through the SDK's Connect
 * client; the stream sees them as `save_file` events. Every wait is for an
 * event or a state, with a timeout only as an upper bound.
 *
 * The server requires plugin protocol >= [LiveServer.MIN_PLUGIN_PROTOCOL_VERSION],
 * above the SDK's [PLUGIN_PROTOCOL_VERSION], and refuses an outdated stream with
 * 4026: like the RPC clients, the streams here announce
 * [LiveServer.CURRENT_PLUGIN_PROTOCOL_VERSION], except the test of that refusal.
 */
@ExtendWith(LiveServerExtension::class)
class EventStreamTest(private val server: LiveServer) {
    /** A signed-in user: an RPC client and the session behind its token. */
    private class User(val client: HiveSyncClient, val accessToken: String, val refreshToken: String, val sessionId: String)

    /** A project with one file, and the channel's sequence after creating them. */
    private class Project(val id: String, val file: File, val head: Long) {
        val channel: String get() = projectSyncChannel(id)
    }

    /** Collects a stream in the background into [events]; [ended] is how the collection ended. */
    private class Collector(stream: EventStream, scope: CoroutineScope) {
        val events = Channel<Event>(Channel.UNLIMITED)
        val ended: Deferred<Throwable?> = scope.async(Dispatchers.IO) {
            try {
                stream.events.collect { events.send(it) }
                null
            } catch (e: CancellationException) {
                throw e
            } catch (e: Throwable) {
                e
            }
        }

        suspend fun next(): Event = withTimeout(WAIT) { events.receive() }
    }

    private fun uniqueEmail(tag: String) = "kotlin-ws-$tag-${UUID.randomUUID()}@hivesync.test"

    private fun user(email: String, clientId: String = "vscode"): User {
        val t = server.createToken(email, clientId)
        val access = t["access_token"] as String
        val client = HiveSyncClient.create(server.baseUrl) {
            pluginProtocolVersion = LiveServer.CURRENT_PLUGIN_PROTOCOL_VERSION
            tokenProvider = TokenProvider { access }
        }
        return User(client, access, t["refresh_token"] as String, t["session_id"] as String)
    }

    private suspend fun User.project(): Project {
        val project = client.projects.createProject(createProjectRequest { name = "Kotlin SDK events" }).getOrThrow().project
        val file = client.files.createFile(createFileRequest {
            projectId = project.id
            path = "src/app.ts"
            content = "v0\n"
        }).getOrThrow().file
        return Project(project.id, file, channelHead(project.id))
    }

    /** The channel's latest sequence, read from the project's history (newest first). */
    private suspend fun User.channelHead(projectId: String): Long =
        HistoryServiceClient(client.protocolClient).listHistory(listHistoryRequest {
            this.projectId = projectId
            pageSize = 1
        }).getOrThrow().entriesList.first().event.sequence

    private suspend fun User.save(fileId: String, base: String, content: String, deviceId: String = ""): FileVersion =
        client.files.saveFile(saveFileRequest {
            this.fileId = fileId
            baseRevisionId = base
            this.content = content
            idempotencyKey = UUID.randomUUID().toString()
            this.deviceId = deviceId
        }).getOrThrow().version

    private fun User.stream(baseUrl: String = server.baseUrl, configure: EventStream.Builder.() -> Unit): EventStream {
        val token = accessToken
        return EventStream.create(baseUrl) {
            tokenProvider = TokenProvider { token }
            pluginProtocolVersion = LiveServer.CURRENT_PLUGIN_PROTOCOL_VERSION
            configure()
        }
    }

    private suspend fun EventStream.awaitConnected(after: EventStreamState? = null): EventStreamState.Connected =
        withTimeout(WAIT) { state.first { it is EventStreamState.Connected && it !== after } as EventStreamState.Connected }

    @Test
    fun saveArrivesAsSaveFileEventOverProtobuf(): Unit = saveArrivesAsSaveFileEvent(WireFormat.PROTOBUF)

    @Test
    fun saveArrivesAsSaveFileEventOverJson(): Unit = saveArrivesAsSaveFileEvent(WireFormat.JSON)

    // (1) create project → create file → save, through the Connect client: the
    //     stream delivers save_file on the project's channel at the next sequence.
    private fun saveArrivesAsSaveFileEvent(format: WireFormat): Unit = runBlocking {
        val email = uniqueEmail("save")
        val u = user(email)
        val device = u.client.devices.registerDevice(registerDeviceRequest {
            name = "kotlin-sdk events"
            platform = "linux"
            clientVersion = "1.0.0"
        }).getOrThrow().device
        val p = u.project()
        val positions = Collections.synchronizedList(mutableListOf<Pair<String, Long>>())
        val serverErrors = Collections.synchronizedList(mutableListOf<ErrorEvent>())
        val stream = u.stream {
            wireFormat = format
            deviceId = device.id
            clientType = ClientType.CLIENT_TYPE_VSCODE
            clientVersion = "1.0.0"
            clientBuild = 5 // at or above the server's minimum (3): accepted
            channel(p.channel, lastSequence = p.head)
            onPosition = { channel, sequence -> positions += channel to sequence }
            onServerError = { error, _ -> serverErrors += error }
        }
        try {
            val collector = Collector(stream, this)
            val connected = stream.awaitConnected()
            assertEquals(u.sessionId, connected.ready.sessionId)
            assertEquals(1, connected.ready.heartbeatIntervalSeconds, "LiveServer sets HIVESYNC_WS_PING_INTERVAL=1s")

            val version = u.save(p.file.id, p.file.head.id, "v1\n", device.id)
            val ev = collector.next()
            assertEquals("save_file", ev.eventType)
            assertTrue(ev.hasSaveFile())
            assertEquals(p.channel, ev.channel)
            assertEquals(p.head + 1, ev.sequence)
            assertNotEquals("", ev.id)
            assertEquals(p.id, ev.saveFile.projectId)
            assertEquals(p.file.id, ev.saveFile.fileId)
            assertEquals(version.id, ev.saveFile.revisionId)
            assertEquals(2L, ev.saveFile.revision)
            assertEquals(version.contentSha256, ev.saveFile.contentSha256)
            assertEquals(device.id, ev.saveFile.deviceId, "the saving device, so it can skip its own echo")
            assertEquals(connected.ready.userId, ev.saveFile.authorUserId)

            // Positions move once the collector is done with an event: stop, then look.
            stream.close()
            assertNull(withTimeout(WAIT) { collector.ended.await() })
            assertEquals(mapOf(p.channel to p.head + 1), stream.positions)
            assertEquals(listOf(p.channel to p.head + 1), positions.toList(), "onPosition after the event was collected")
            assertEquals(emptyList<ErrorEvent>(), serverErrors.toList(), "device_register and subscribe accepted")
        } finally {
            stream.close()
        }
        assertEquals(EventStreamState.Closed(null), stream.state.value)
    }

    // (2) A proxy between the stream and the server drops every connection a few
    //     times while saves go on: every save arrives once, in order, with
    //     contiguous sequences (the stream resumes from its last sequence).
    @Test
    fun forcedDisconnectsLoseNoEvent(): Unit = runBlocking {
        val u = user(uniqueEmail("drops"))
        val p = u.project()
        TcpProxy(server.port).use { proxy ->
            val stream = u.stream(proxy.baseUrl) { channel(p.channel, lastSequence = p.head) }
            try {
                val collector = Collector(stream, this)
                val saved = mutableListOf<FileVersion>()
                var base = p.file.head.id
                var connected: EventStreamState.Connected? = null
                val rounds = 4
                val savesPerRound = 8
                repeat(rounds) { round ->
                    connected = stream.awaitConnected(after = connected)
                    repeat(savesPerRound) { i ->
                        val v = u.save(p.file.id, base, "round $round save $i\n")
                        saved += v
                        base = v.id
                    }
                    // Cut mid-stream: events of these saves are in flight or not yet sent,
                    // and the next round's first saves happen while the stream is away.
                    if (round < rounds - 1) assertTrue(proxy.killConnections() >= 1, "a live connection was cut")
                }
                // One more save after everything: its event closes the list.
                val last = u.save(p.file.id, base, "sentinel\n")
                saved += last

                val received = mutableListOf<Event>()
                while (received.lastOrNull()?.saveFile?.revisionId != last.id) received += collector.next()

                assertEquals(((p.head + 1)..(p.head + saved.size)).toList(), received.map { it.sequence }, "contiguous, no duplicates")
                assertTrue(received.all { it.channel == p.channel && it.eventType == "save_file" })
                assertEquals(saved.map { it.id }, received.map { it.saveFile.revisionId }, "every save once, in order")
                assertTrue(proxy.accepted.get() >= rounds, "the stream reconnected after each cut (${proxy.accepted.get()} connections)")
                stream.close()
                assertNull(withTimeout(WAIT) { collector.ended.await() }, "close() completes the collection")
                assertEquals(p.head + saved.size, stream.positions[p.channel], "the last event's sequence")
            } finally {
                stream.close()
            }
        }
    }

    // (3) A resume point the channel never reached: the server answers rehydrate
    //     with its head; the callback runs and the stream continues from there.
    @Test
    fun rehydrateRunsWhenTheResumePointCannotBeReplayed(): Unit = runBlocking {
        val u = user(uniqueEmail("rehydrate"))
        val p = u.project()
        val rehydrated = CompletableDeferred<Pair<String, Long>>()
        val positions = Collections.synchronizedList(mutableListOf<Long>())
        val stream = u.stream {
            channel(p.channel, lastSequence = p.head + 1000)
            onRehydrate = { channel, resume -> rehydrated.complete(channel to resume) }
            onPosition = { _, sequence -> positions += sequence }
        }
        try {
            val collector = Collector(stream, this)
            assertEquals(p.channel to p.head, withTimeout(WAIT) { rehydrated.await() })

            val v = u.save(p.file.id, p.file.head.id, "after rehydrate\n")
            val ev = collector.next()
            assertEquals(p.head + 1, ev.sequence, "continues after the resume sequence")
            assertEquals(v.id, ev.saveFile.revisionId)
            stream.close()
            assertNull(withTimeout(WAIT) { collector.ended.await() })
            assertEquals(listOf(p.head, p.head + 1), positions.toList(), "the resume sequence became the position")
        } finally {
            stream.close()
        }
    }

    // A connection that goes silent (the proxy stops forwarding, nothing is
    // closed) is noticed by the heartbeat: nothing received for two intervals.
    // The stream reconnects and the save made meanwhile arrives.
    @Test
    fun silentConnectionIsDetectedAndReplaced(): Unit = runBlocking {
        val u = user(uniqueEmail("silent"))
        val p = u.project()
        TcpProxy(server.port).use { proxy ->
            val states = Collections.synchronizedList(mutableListOf<EventStreamState>())
            val stream = u.stream(proxy.baseUrl) {
                channel(p.channel, lastSequence = p.head)
                onStateChange = { states += it }
            }
            try {
                val collector = Collector(stream, this)
                stream.awaitConnected()
                assertEquals(1, proxy.freezeConnections())
                val v = u.save(p.file.id, p.file.head.id, "while silent\n")
                val ev = collector.next()
                assertEquals(v.id, ev.saveFile.revisionId)
                assertEquals(p.head + 1, ev.sequence)
                assertEquals(2, proxy.accepted.get(), "one new connection")
                val reconnecting = states.filterIsInstance<EventStreamState.Reconnecting>()
                assertEquals(1, reconnecting.size, "states: $states")
                assertInstanceOf(SocketTimeoutException::class.java, reconnecting.single().cause)
            } finally {
                stream.close()
            }
        }
    }

    // A channel subscribed from now on has no position until the server gives
    // one. A server that lists positions in the subscribe ack gives the channel's
    // head at once (recorded and passed to onPosition); with one that does not
    // (like the binary these tests usually run against), a reconnect before the
    // first event cannot be resumed and the stream asks for a rehydrate instead.
    // Either way nothing is lost silently.
    @Test
    fun channelFromNowIsNeverLeftWithAGap(): Unit = runBlocking {
        val u = user(uniqueEmail("from-now"))
        val p = u.project()
        TcpProxy(server.port).use { proxy ->
            val positioned = CompletableDeferred<Long>()
            val rehydrated = CompletableDeferred<Long>()
            val stream = u.stream(proxy.baseUrl) {
                channel(p.channel) // EventStream.FROM_NOW
                onPosition = { _, sequence -> positioned.complete(sequence) }
                onRehydrate = { _, resume -> rehydrated.complete(resume) }
            }
            try {
                Collector(stream, this)
                val first = stream.awaitConnected()
                assertTrue(proxy.killConnections() >= 1)
                stream.awaitConnected(after = first)
                val outcome = withTimeout(WAIT) {
                    select {
                        positioned.onAwait { "position" to it }
                        rehydrated.onAwait { "rehydrate" to it }
                    }
                }
                when (outcome.first) {
                    "position" -> assertEquals(p.head, outcome.second, "the ack's start is the channel head")
                    // The first socket dropped before any position came back.
                    else -> assertEquals(EventStream.FROM_NOW, outcome.second, "resume point unknown")
                }
            } finally {
                stream.close()
            }
        }
    }

    // Runtime subscribe and unsubscribe.
    @Test
    fun subscribeAndUnsubscribeWhileConnected(): Unit = runBlocking {
        val u = user(uniqueEmail("runtime"))
        val a = u.project()
        val b = u.project()
        val stream = u.stream { channel(a.channel, lastSequence = a.head) }
        try {
            val collector = Collector(stream, this)
            stream.awaitConnected()
            assertTrue(stream.subscribe(b.channel, lastSequence = b.head))
            assertTrue(!stream.subscribe(b.channel), "already subscribed: unchanged")
            val vb = u.save(b.file.id, b.file.head.id, "b1\n")
            assertEquals(vb.id, collector.next().saveFile.revisionId)

            assertTrue(stream.unsubscribe(a.channel))
            assertEquals(setOf(b.channel), stream.positions.keys)
            u.save(a.file.id, a.file.head.id, "a1\n")
            val vb2 = u.save(b.file.id, vb.id, "b2\n")
            val ev = collector.next()
            assertEquals(b.channel, ev.channel, "nothing from the unsubscribed channel")
            assertEquals(vb2.id, ev.saveFile.revisionId)
        } finally {
            stream.close()
        }
    }

    // (4) Revoking the stream's session (AuthService.RevokeSession from the phone)
    //     closes the socket with 4003: the stream stops with SignedOutException.
    @Test
    fun revokedSessionEndsTheStream(): Unit = runBlocking {
        val email = uniqueEmail("revoke")
        val u = user(email)
        val phone = user(email, "mobile")
        val p = u.project()
        val stream = u.stream { channel(p.channel, lastSequence = p.head) }
        try {
            val collector = Collector(stream, this)
            stream.awaitConnected()
            phone.client.auth.revokeSession(revokeSessionRequest { sessionId = u.sessionId }).getOrThrow()

            val error = withTimeout(WAIT) { collector.ended.await() }
            val signedOut = assertInstanceOf(SignedOutException::class.java, error)
            assertEquals(SignOutReason.SESSION_ENDED, signedOut.reason)
            val closed = assertInstanceOf(EventStreamClosedException::class.java, signedOut.cause)
            assertEquals(WsCloseCode.WS_CLOSE_CODE_REVOKED, closed.wsCloseCode)
            assertEquals(EventStreamState.Closed(signedOut), stream.state.value)
            // It stays stopped: collecting again fails the same way.
            val again = runCatching { stream.events.collect {} }.exceptionOrNull()
            assertEquals(signedOut, again)
        } finally {
            stream.close() // a no-op once stopped; ends the collection if an assertion failed
        }
    }

    // (5a) A token the server refuses (4001), from a provider that cannot refresh:
    //      the stream stops with EventStreamUnauthenticatedException.
    @Test
    fun refusedTokenStopsTheStream(): Unit = runBlocking {
        val states = Collections.synchronizedList(mutableListOf<EventStreamState>())
        val stream = EventStream.create(server.baseUrl) {
            tokenProvider = TokenProvider { "not-a-token" }
            pluginProtocolVersion = LiveServer.CURRENT_PLUGIN_PROTOCOL_VERSION
            channel(userChannel(UUID.randomUUID().toString()))
            onStateChange = { states += it }
        }
        try {
            val error = withTimeout(WAIT) { Collector(stream, this).ended.await() }
            val refused = assertInstanceOf(EventStreamUnauthenticatedException::class.java, error)
            val closed = assertInstanceOf(EventStreamClosedException::class.java, refused.cause)
            assertEquals(WsCloseCode.WS_CLOSE_CODE_UNAUTHENTICATED_VALUE, closed.code)
            assertEquals(listOf(EventStreamState.Connecting(1), EventStreamState.Closed(refused)), states.toList())
        } finally {
            stream.close()
        }
    }

    // (5b) An AuthSession whose access token is refused: the stream refreshes it
    //      after the 4001 and connects with the new one.
    @Test
    fun refusedTokenIsRefreshedByTheSession(): Unit = runBlocking {
        val u = user(uniqueEmail("refresh"))
        val p = u.project()
        val session = AuthSession(
            OAuthClient(server.baseUrl, "vscode"),
            InMemoryTokenStore(TokenSet("not-a-token", u.refreshToken, Instant.now().plusSeconds(600))),
        )
        val serverErrors = Collections.synchronizedList(mutableListOf<ErrorEvent>())
        val stream = EventStream.create(server.baseUrl) {
            tokenProvider = session
            pluginProtocolVersion = LiveServer.CURRENT_PLUGIN_PROTOCOL_VERSION
            channel(p.channel, lastSequence = p.head)
            onServerError = { error, _ -> serverErrors += error }
        }
        try {
            val collector = Collector(stream, this)
            val connected = stream.awaitConnected()
            assertNotEquals("not-a-token", session.tokens?.accessToken, "refreshed after the 4001")
            val v = u.save(p.file.id, p.file.head.id, "refreshed\n")
            assertEquals(v.id, collector.next().saveFile.revisionId)
            assertEquals(u.sessionId, connected.ready.sessionId, "a refresh keeps the session")
            assertEquals(listOf("unauthenticated"), serverErrors.map { it.code }, "the refused auth frame")
        } finally {
            stream.close()
        }
    }

    // (5c) No tokens at all: the stream stops at once with SignedOutException.
    @Test
    fun signedOutSessionStopsTheStream(): Unit = runBlocking {
        val stream = EventStream.create(server.baseUrl) {
            tokenProvider = AuthSession(OAuthClient(server.baseUrl, "vscode"))
            pluginProtocolVersion = LiveServer.CURRENT_PLUGIN_PROTOCOL_VERSION
        }
        try {
            val error = withTimeout(WAIT) { Collector(stream, this).ended.await() }
            assertEquals(SignOutReason.NOT_SIGNED_IN, assertInstanceOf(SignedOutException::class.java, error).reason)
            assertEquals(EventStreamState.Closed(error), stream.state.value)
        } finally {
            stream.close()
        }
    }

    // (6a) device_register states a client_build below HIVESYNC_MIN_CLIENT_VERSION (3):
    //      an error frame with upgrade_required, then close 4026. The stream stops
    //      with EventStreamUpgradeRequiredException carrying it, and does not reconnect.
    @Test
    fun clientBuildBelowTheMinimumEndsTheStreamWithUpgradeRequired(): Unit = runBlocking {
        val u = user(uniqueEmail("outdated-build"))
        val device = u.client.devices.registerDevice(registerDeviceRequest {
            name = "kotlin-sdk outdated"
            platform = "linux"
        }).getOrThrow().device
        val tooOld = MIN_CLIENT_VERSION - 1
        val tokenRequests = AtomicInteger()
        val states = Collections.synchronizedList(mutableListOf<EventStreamState>())
        val serverErrors = Collections.synchronizedList(mutableListOf<ErrorEvent>())
        val stream = u.stream {
            tokenProvider = TokenProvider { tokenRequests.incrementAndGet(); u.accessToken }
            deviceId = device.id
            clientType = ClientType.CLIENT_TYPE_VSCODE
            clientBuild = tooOld
            reconnectBaseDelay = 20.milliseconds
            reconnectMaxDelay = 100.milliseconds
            onStateChange = { states += it }
            onServerError = { error, _ -> serverErrors += error }
        }
        try {
            val error = withTimeout(WAIT) { Collector(stream, this).ended.await() }
            val outdated = assertInstanceOf(EventStreamUpgradeRequiredException::class.java, error)
            assertEquals(WsCloseCode.WS_CLOSE_CODE_UPGRADE_REQUIRED_VALUE, outdated.code)
            val closed = assertInstanceOf(EventStreamClosedException::class.java, outdated.cause)
            assertEquals(WsCloseCode.WS_CLOSE_CODE_UPGRADE_REQUIRED, closed.wsCloseCode)
            val up = outdated.upgradeRequired
            assertNotNull(up, "the UpgradeRequired of the error frame before the close")
            assertEquals(UpgradeRequired.Reason.REASON_CLIENT_TOO_OLD, up!!.reason)
            assertEquals(tooOld, up.clientVersion)
            assertEquals(MIN_CLIENT_VERSION, up.minSupportedVersion)
            assertEquals(LiveServer.UPGRADE_URL, up.upgradeUrl)
            assertTrue(up.message.contains("update", ignoreCase = true), up.message)
            assertEquals(up.message, outdated.message, "the server's sentence, to show as it is")
            // The error frame answering device_register reached onServerError first.
            assertEquals(listOf("failed_precondition"), serverErrors.map { it.code })
            assertEquals(up, serverErrors.single().upgradeRequired)

            delay(1.seconds) // many fast backoffs: no reconnect happens
            assertEquals(1, tokenRequests.get(), "no second connection")
            assertTrue(states.none { it is EventStreamState.Reconnecting }, states.toString())
            assertEquals(1, states.count { it is EventStreamState.Connected }, "ready once, then refused")
            assertEquals(EventStreamState.Closed(outdated), stream.state.value)
            // It stays stopped: collecting again fails the same way.
            assertEquals(outdated, runCatching { stream.events.collect {} }.exceptionOrNull())
        } finally {
            stream.close()
        }
    }

    // (6b) The SDK's own PLUGIN_PROTOCOL_VERSION (1) is below the server's minimum (2):
    //      the X-HiveSync-Plugin-Version header of the upgrade request is refused
    //      before ready (PLUGIN_PROTOCOL_TOO_OLD), for good. `null` states no protocol
    //      and is let through.
    @Test
    fun defaultPluginProtocolIsRefusedAtTheUpgradeRequest(): Unit = runBlocking {
        assertTrue(PLUGIN_PROTOCOL_VERSION < LiveServer.MIN_PLUGIN_PROTOCOL_VERSION)
        val u = user(uniqueEmail("outdated-plugin"))
        val tokenRequests = AtomicInteger()
        val states = Collections.synchronizedList(mutableListOf<EventStreamState>())
        val stream = EventStream.create(server.baseUrl) { // the SDK's defaults
            tokenProvider = TokenProvider { tokenRequests.incrementAndGet(); u.accessToken }
            channel(userChannel(UUID.randomUUID().toString()))
            reconnectBaseDelay = 20.milliseconds
            reconnectMaxDelay = 100.milliseconds
            onStateChange = { states += it }
        }
        try {
            val error = withTimeout(WAIT) { Collector(stream, this).ended.await() }
            val outdated = assertInstanceOf(EventStreamUpgradeRequiredException::class.java, error)
            val up = outdated.upgradeRequired
            assertNotNull(up)
            assertEquals(UpgradeRequired.Reason.REASON_PLUGIN_PROTOCOL_TOO_OLD, up!!.reason)
            assertEquals(PLUGIN_PROTOCOL_VERSION, up.clientVersion)
            assertEquals(LiveServer.MIN_PLUGIN_PROTOCOL_VERSION, up.minSupportedVersion)
            assertEquals(LiveServer.CURRENT_PLUGIN_PROTOCOL_VERSION, up.currentVersion)
            assertEquals(LiveServer.UPGRADE_URL, up.upgradeUrl)

            delay(1.seconds)
            assertEquals(1, tokenRequests.get(), "no second connection")
            assertEquals(listOf(EventStreamState.Connecting(1), EventStreamState.Closed(outdated)), states.toList())
        } finally {
            stream.close()
        }

        val unstated = EventStream.create(server.baseUrl) {
            tokenProvider = TokenProvider { u.accessToken }
            pluginProtocolVersion = null
        }
        try {
            Collector(unstated, this)
            unstated.awaitConnected()
        } finally {
            unstated.close()
        }
    }

    private companion object {
        val WAIT = 30.seconds

        /** The server's HIVESYNC_MIN_CLIENT_VERSION (see [LiveServer]). */
        const val MIN_CLIENT_VERSION = 3
    }
}
