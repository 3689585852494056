package dev.hivesync.sdk

import com.google.protobuf.Timestamp
import com.google.protobuf.util.JsonFormat
import dev.hivesync.sdk.v1.AckEvent
import dev.hivesync.sdk.v1.ChannelPosition
import dev.hivesync.sdk.v1.ClientType
import dev.hivesync.sdk.v1.DeviceRegisterEvent
import dev.hivesync.sdk.v1.ErrorEvent
import dev.hivesync.sdk.v1.Event
import dev.hivesync.sdk.v1.HeartbeatEvent
import dev.hivesync.sdk.v1.ReadyEvent
import dev.hivesync.sdk.v1.SubscribeEvent
import dev.hivesync.sdk.v1.UnsubscribeEvent
import dev.hivesync.sdk.v1.UpgradeRequired
import dev.hivesync.sdk.v1.WsCloseCode
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.trySendBlocking
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.launch
import kotlinx.coroutines.selects.select
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.Response
import okhttp3.WebSocket
import okhttp3.WebSocketListener
import okio.ByteString
import okio.ByteString.Companion.toByteString
import java.io.IOException
import java.net.ProtocolException
import java.net.SocketTimeoutException
import java.time.Instant
import java.util.UUID
import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.nanoseconds
import kotlin.time.Duration.Companion.seconds
import dev.hivesync.sdk.v1.AuthEvent as AuthFrame

/** The path of the event stream under an API base URL. */
public const val EVENT_STREAM_PATH: String = "/api/v1/ws"

/** The WebSocket subprotocol of binary protobuf frames ([WireFormat.PROTOBUF]). */
public const val EVENT_STREAM_SUBPROTOCOL_PROTO: String = "hivesync.v1.proto"

/** The WebSocket subprotocol of protobuf JSON text frames ([WireFormat.JSON]). */
public const val EVENT_STREAM_SUBPROTOCOL_JSON: String = "hivesync.v1.json"

/** The channel of a project's changes (saves, file states, members…): `project_sync:<projectId>`. Members only. */
public fun projectSyncChannel(projectId: String): String = "project_sync:$projectId"

/** The channel of a user's own events (entitlements, notifications, admin messages): `user:<userId>`. */
public fun userChannel(userId: String): String = "user:$userId"

/** Where an [EventStream] is; read it from [EventStream.state] or [EventStream.Builder.onStateChange]. */
public sealed class EventStreamState {
    /** Nobody is collecting [EventStream.events]; collecting starts the stream. */
    public data object Idle : EventStreamState()

    /**
     * Opening a socket and authenticating. [attempt] counts the attempts since
     * the last stable connection, from 1.
     */
    public data class Connecting(val attempt: Int) : EventStreamState()

    /**
     * Authenticated (the server's [ready] carries the user, the session and the
     * heartbeat interval) and subscribed: events flow. Every connection has its
     * own instance, so `!==` tells a reconnection apart.
     */
    public class Connected(public val ready: ReadyEvent) : EventStreamState() {
        override fun toString(): String = "Connected(user=${ready.userId}, session=${ready.sessionId})"
    }

    /**
     * The connection ended because of [cause] (an [EventStreamClosedException]
     * for a close by the server, an [IOException] otherwise); the next attempt
     * starts after [delay]. [attempt] is the number of that next attempt.
     */
    public data class Reconnecting(val attempt: Int, val delay: Duration, val cause: Throwable) : EventStreamState()

    /**
     * The stream stopped for good: [EventStream.close] was called ([error] `null`),
     * or the server ended it. [error] is then a [SignedOutException] (the session
     * was revoked, close 4003, or cannot be refreshed), an
     * [EventStreamUnauthenticatedException] (the server refused every token) or an
     * [EventStreamUpgradeRequiredException] (this client is too old, close 4026).
     */
    public data class Closed(val error: Throwable?) : EventStreamState()
}

/** Receives the events of [EventStream.start], one at a time, in order. */
public fun interface EventListener {
    /** Called for each event; the stream waits for it to return. */
    public fun onEvent(event: Event)
}

/**
 * A close of the event stream's socket by the server (or the peer). [code] is
 * the WebSocket close status: 1001 the node is restarting, 1009 frame too big,
 * or one of [WsCloseCode] (4000 bad frames, 4001 unauthenticated, 4003 revoked,
 * 4008 slow consumer, 4026 upgrade required). The stream reconnects after every
 * close except 4003, 4026 and a repeated 4001, so this is mostly seen as
 * [EventStreamState.Reconnecting.cause]
 * and as the cause of the exceptions that stop the stream.
 */
public class EventStreamClosedException(
    /** The WebSocket close status. */
    public val code: Int,
    /** The server's close reason, for logs. */
    public val reason: String,
) : IOException(if (reason.isBlank()) "event stream closed with $code" else "event stream closed with $code: $reason") {
    /** [code] as a [WsCloseCode], or `null` for a standard status such as 1001. */
    public val wsCloseCode: WsCloseCode? get() = WsCloseCode.forNumber(code)
}

/**
 * The server refused the event stream's access token (close 4001) and no other
 * token was accepted: the token provider returned the same token again (a plain
 * [TokenProvider] cannot refresh), or the refreshed token was refused as well.
 * The stream has stopped. With an [AuthSession] a session that cannot be refreshed
 * ends the stream with [SignedOutException] instead. The cause is the
 * [EventStreamClosedException] of the last refusal.
 */
public class EventStreamUnauthenticatedException(message: String, cause: Throwable?) : HiveSyncAuthException(message, cause)

/**
 * The server closed the event stream with 4026
 * ([WsCloseCode.WS_CLOSE_CODE_UPGRADE_REQUIRED]): this client is older than the
 * server accepts, either its plugin protocol (the [PLUGIN_VERSION_HEADER] of the
 * upgrade request, or `plugin_protocol_version` in `device_register`, see
 * [EventStream.Builder.pluginProtocolVersion]) or its build
 * ([EventStream.Builder.clientBuild], held to the bootstrap document's
 * `min_client_version`). The stream has stopped and does not reconnect: the user
 * must update the client. The cause is the [EventStreamClosedException] of the close.
 *
 * The same [UpgradeRequired] detail an RPC refused for the same reason carries
 * (`ConnectException.upgradeRequired`): show [UpgradeRequired.getMessage] and
 * link to [UpgradeRequired.getUpgradeUrl].
 */
public class EventStreamUpgradeRequiredException(
    /**
     * What is too old and where to update: the `upgrade_required` of the server's
     * `error` frame before the close (reason, the version sent, the minimum, the
     * current version, the upgrade URL, a message to show as it is); `null` when
     * the server sent none.
     */
    public val upgradeRequired: UpgradeRequired?,
    cause: EventStreamClosedException,
) : Exception(
    upgradeRequired?.message?.takeIf { it.isNotBlank() }
        ?: "the event stream was closed: ${cause.reason.ifBlank { "this client is too old" }}; update it",
    cause,
) {
    /** Always 4026 ([WsCloseCode.WS_CLOSE_CODE_UPGRADE_REQUIRED]). */
    public val code: Int get() = WsCloseCode.WS_CLOSE_CODE_UPGRADE_REQUIRED_VALUE

    /** The server's close reason, for logs. */
    public val closeReason: String = cause.reason
}

/**
 * A client of the realtime event stream (`GET /api/v1/ws`): one WebSocket that
 * carries the events of the channels you subscribe to, resumed without loss or
 * duplicates across reconnects.
 *
 * ```kotlin
 * val stream = EventStream.create("https://api.hivesync.dev") {
 *     tokenProvider = session                               // an AuthSession
 *     deviceId = device.id                                  // optional: device_register
 *     channel(projectSyncChannel(project.id), lastSequence = saved[project.id] ?: EventStream.FROM_NOW)
 *     onPosition = { channel, sequence -> saved[channel] = sequence }
 *     onRehydrate = { channel, _ -> refetchProject(channel) }
 * }
 * stream.events.collect { event ->
 *     if (event.hasSaveFile()) refreshFile(event.saveFile.fileId)
 * }
 * ```
 *
 * Collecting [events] runs the stream; stopping the collection disconnects, and
 * collecting again resumes from the positions reached. On each connection it:
 * gets a token from the provider (a fresh one from an [AuthSession]); sends
 * `auth` and waits for `ready`; sends `device_register` when [Builder.deviceId]
 * is set; subscribes every channel in one `subscribe` frame, each from the last
 * sequence seen (or [FROM_NOW]), and records the position the server's `ack`
 * gives each channel that had none; then delivers each channel event once, in
 * order, dropping anything at or below the channel's last sequence.
 *
 * Reconnects use exponential backoff with full jitter (a random delay up to
 * [Builder.reconnectBaseDelay] × 2^attempt, at most [Builder.reconnectMaxDelay]),
 * reset once a connection stayed up for [Builder.stableAfter]. Close codes:
 * 4001 refreshes the token and reconnects at once (a second refusal stops the
 * stream with [EventStreamUnauthenticatedException]); 4003 (session, device or
 * account revoked) stops it with [SignedOutException] ([SignOutReason.SESSION_ENDED]);
 * 4026 (the client's plugin protocol or build is older than the server accepts)
 * stops it with [EventStreamUpgradeRequiredException], carrying the server's
 * [UpgradeRequired]: update the client; every other close or network failure
 * reconnects and resumes. Every upgrade request carries [PLUGIN_VERSION_HEADER]
 * ([Builder.pluginProtocolVersion]), and `device_register` states the plugin
 * protocol and [Builder.clientBuild]. A connection that
 * receives nothing for two heartbeat intervals (`ready.heartbeat_interval_seconds`)
 * is treated as dead; a `heartbeat` frame is sent every half interval.
 *
 * Positions: an event's sequence becomes the channel's position, and
 * [Builder.onPosition] is called, after the collector has returned for it, so a
 * position you persist is always one you processed. When the server cannot
 * replay what was missed it sends `rehydrate`: [Builder.onRehydrate] runs
 * (refetch the channel's state), then the stream continues after its resume
 * sequence.
 *
 * The collector and every callback run one at a time on the collecting coroutine,
 * in event order; the stream waits for them (a slow collector slows the socket
 * down, and the server may then close it as a slow consumer: the stream resumes).
 * [events] has one collector at a time; share it with `shareIn` if needed.
 * Thread-safe; [close] it when done.
 */
public class EventStream private constructor(
    /** The WebSocket URL, e.g. `wss://api.hivesync.dev/api/v1/ws`. */
    public val url: String,
    private val tokenProvider: TokenProvider,
    private val device: DeviceRegisterEvent?,
    private val pluginProtocolVersion: Int?,
    /** The frame encoding: binary protobuf (the default) or protobuf JSON. */
    public val wireFormat: WireFormat,
    private val http: OkHttpClient,
    /** [http] was made for this stream (no client given): [close] releases its threads. */
    private val ownsHttp: Boolean,
    private val onRehydrate: suspend (channel: String, resumeSequence: Long) -> Unit,
    private val onPosition: suspend (channel: String, sequence: Long) -> Unit,
    private val onServerError: suspend (error: ErrorEvent, request: Event?) -> Unit,
    private val onStateChange: (EventStreamState) -> Unit,
    private val backoff: ReconnectBackoff,
    private val readyTimeout: Duration,
    private val stableAfter: Duration,
    initialChannels: Map<String, Long>,
) : AutoCloseable {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO + CoroutineName("hivesync-events"))
    private val lock = Any()
    private val stateLock = Any()

    // Guarded by lock.
    private val channels = LinkedHashMap<String, ChannelState>()

    /** Channels left with [unsubscribe]: their events still in flight are dropped. */
    private val unsubscribed = HashSet<String>()
    private var run: Run? = null
    private var connection: Connection? = null
    private var closed = false
    private var fatal: Throwable? = null

    private val mutableState = MutableStateFlow<EventStreamState>(EventStreamState.Idle)

    init {
        for ((channel, sequence) in initialChannels) channels[channel] = ChannelState(sequence)
    }

    /** The stream's state; every change is also passed to [Builder.onStateChange]. */
    public val state: StateFlow<EventStreamState> = mutableState.asStateFlow()

    /**
     * The events of the subscribed channels (those with a `channel` and a
     * `sequence`), each once and in order per channel. Collecting connects;
     * cancelling the collection disconnects. The flow completes when [close]
     * is called and fails with [SignedOutException],
     * [EventStreamUnauthenticatedException] or [EventStreamUpgradeRequiredException]
     * when the server ends the stream for good. Only one collector at a time (a second one fails with
     * [IllegalStateException]).
     */
    public val events: Flow<Event> = flow {
        val r = begin() ?: return@flow
        try {
            for (d in r.deliveries) {
                when (d) {
                    is Delivery.Item -> {
                        emit(d.event)
                        commit(d.event.channel, d.event.sequence, rehydrated = false)
                    }
                    is Delivery.Rehydrate -> {
                        onRehydrate(d.channel, d.resumeSequence)
                        if (d.resumeSequence >= 0) commit(d.channel, d.resumeSequence, rehydrated = true)
                    }
                    is Delivery.Positions -> adopt(d.positions)
                    is Delivery.ServerError -> onServerError(d.error, d.request)
                }
                d.done.complete(Unit)
            }
            r.failure?.let { throw it }
        } finally {
            end(r)
        }
    }

    /**
     * Runs the stream in the background, calling [listener] for each event (on
     * a background thread, one at a time) until [close]. For code that does not
     * collect flows; follow [state] or [Builder.onStateChange] for the outcome. A
     * listener that throws closes the stream with that error.
     */
    public fun start(listener: EventListener): Job = scope.launch {
        try {
            events.collect { listener.onEvent(it) }
        } catch (e: CancellationException) {
            throw e
        } catch (e: Throwable) {
            closeWith(e)
        }
    }

    /**
     * The position of each subscribed channel: the last sequence delivered, the
     * start the server's `ack` gave, or [FROM_NOW] when there is none yet.
     */
    public val positions: Map<String, Long>
        get() = synchronized(lock) { channels.mapValues { it.value.last } }

    /**
     * Subscribes [channel] from after [lastSequence]: the last sequence you
     * processed, [FROM_NOW] (the default) when you have none, or 0 for
     * everything the server still keeps (servers that predate the ack positions
     * treat 0 as "from now on" too). Takes effect at once when connected, and on
     * every later connection. Subscribing a channel already subscribed changes
     * nothing (it keeps its position).
     *
     * @return whether the channel was added.
     */
    public fun subscribe(channel: String, lastSequence: Long = FROM_NOW): Boolean {
        val start = checkPosition(channel, lastSequence)
        synchronized(lock) {
            if (channel in channels) return false
            unsubscribed -= channel
            val st = ChannelState(start)
            channels[channel] = st
            connection?.takeIf { it.subscribed }?.let { c ->
                c.sendRequestLocked(subscribeFrame(mapOf(channel to start)))
                st.joinedWithoutPosition = start < 0
            }
            return true
        }
    }

    /**
     * Unsubscribes [channel]: its events stop (any still in flight are dropped)
     * and it is forgotten with its position.
     *
     * @return whether it was subscribed.
     */
    public fun unsubscribe(channel: String): Boolean = synchronized(lock) {
        if (channels.remove(channel) == null) return false
        unsubscribed += channel
        connection?.takeIf { it.subscribed }?.sendRequestLocked(
            Event.newBuilder().setId(newId()).setEventType("unsubscribe")
                .setUnsubscribe(UnsubscribeEvent.newBuilder().addChannels(channel)).build(),
        )
        true
    }

    /**
     * Acknowledges the event [eventId] (for events that ask for it, such as an
     * admin message with `requires_ack`). Sent only while connected.
     *
     * @return whether the acknowledgement was sent.
     */
    public fun acknowledge(eventId: String): Boolean = synchronized(lock) {
        val c = connection?.takeIf { it.subscribed } ?: return false
        c.sendRequestLocked(
            Event.newBuilder().setId(newId()).setEventType("ack").setAck(AckEvent.newBuilder().setEventId(eventId)).build(),
        )
    }

    /**
     * Stops the stream for good: closes the socket (status 1000) and completes
     * [events]. The state becomes [EventStreamState.Closed] with no error.
     */
    override fun close() {
        closeWith(null)
    }

    // --- the run: a producer (connections) in lock-step with the collector -------------

    /** One collection of [events]: the producer's job and its hand-over channel. */
    private class Run {
        val deliveries = Channel<Delivery>(Channel.RENDEZVOUS)
        var job: Job? = null

        /** Why the stream stopped for good, set before [deliveries] closes. */
        @Volatile var failure: Throwable? = null
    }

    /** What the producer hands to the collector; [done] completes once it was handled. */
    private sealed class Delivery {
        val done = CompletableDeferred<Unit>()

        class Item(val event: Event) : Delivery()
        class Rehydrate(val channel: String, val resumeSequence: Long) : Delivery()
        class Positions(val positions: List<ChannelPosition>) : Delivery()
        class ServerError(val error: ErrorEvent, val request: Event?) : Delivery()
    }

    private class ChannelState(
        /** The last sequence delivered (or the resume point given). */
        var last: Long,
    ) {
        /**
         * Subscribed [FROM_NOW] on an earlier connection and no position came
         * back (the socket dropped before the ack, or the server's ack carries
         * none), so events published while disconnected cannot be replayed.
         */
        var joinedWithoutPosition = false
    }

    private fun begin(): Run? = synchronized(lock) {
        if (closed) {
            fatal?.let { throw it }
            return null
        }
        check(run == null) { "EventStream.events is already being collected; collect it once (or share it with shareIn)" }
        Run().also { r ->
            run = r
            r.job = scope.launch { produce(r) }
        }
    }

    private fun end(r: Run) {
        val wasCurrent = synchronized(lock) {
            if (run !== r) return@synchronized false
            run = null
            connection?.abort()
            true
        }
        r.job?.cancel()
        if (wasCurrent) publish(null, EventStreamState.Idle)
    }

    private fun closeWith(error: Throwable?) {
        val r = synchronized(lock) {
            if (closed) return
            closed = true
            fatal = error
            connection?.closeGracefully()
            run.also { run = null }
        }
        r?.job?.cancel()
        r?.failure = error
        r?.deliveries?.close()
        publishClosed(error)
        scope.cancel()
        releaseHttp()
    }

    /**
     * Lets the threads of a client this stream made exit once the socket is
     * closed (OkHttp keeps idle dispatcher threads alive, which holds up JVM exit).
     */
    private fun releaseHttp() {
        if (!ownsHttp) return
        http.dispatcher.executorService.shutdown()
        http.connectionPool.evictAll()
    }

    /** The subscribe ack said where channels without a position start: record it. */
    private suspend fun adopt(positions: List<ChannelPosition>) {
        for (pos in positions) {
            val adopted = synchronized(lock) {
                val st = channels[pos.channel]
                if (st != null && st.last < 0 && pos.lastSequence >= 0) {
                    st.last = pos.lastSequence
                    true
                } else {
                    false
                }
            }
            if (adopted) onPosition(pos.channel, pos.lastSequence)
        }
    }

    /** The collector handled an event (or a rehydrate): advance the channel's position. */
    private suspend fun commit(channel: String, sequence: Long, rehydrated: Boolean) {
        synchronized(lock) {
            val st = channels[channel] ?: return
            st.last = if (rehydrated) sequence else maxOf(st.last, sequence)
        }
        onPosition(channel, sequence)
    }

    private suspend fun produce(r: Run) {
        val error: Throwable = try {
            connectLoop(r)
        } catch (e: Throwable) {
            e
        }
        val stopped = synchronized(lock) {
            if (run !== r || closed || error is CancellationException) {
                true
            } else {
                closed = true
                fatal = error
                run = null
                false
            }
        }
        if (stopped) {
            r.deliveries.close()
            return
        }
        publishClosed(error)
        // Not closed with the error: the channel would rethrow a copy of it.
        r.failure = error
        r.deliveries.close()
        scope.cancel()
        releaseHttp()
    }

    /** Connects until the stream is stopped; returns only by throwing. */
    private suspend fun connectLoop(r: Run): Nothing {
        var failures = 0
        var nextToken: String? = null
        var refreshedAfterRefusal: String? = null // the token a 4001 made us fetch, until one connection is ready
        while (true) {
            publish(r, EventStreamState.Connecting(failures + 1))
            val token = nextToken ?: try {
                currentToken()
            } catch (e: CancellationException) {
                throw e
            } catch (e: SignedOutException) {
                throw e
            } catch (e: Exception) {
                failures = waitToRetry(r, failures, e)
                continue
            }
            nextToken = null
            val outcome = connectOnce(r, token)
            if (outcome.ready) {
                refreshedAfterRefusal = null
                if (outcome.connectedFor >= stableAfter) failures = 0
            }
            when (outcome.closeCode) {
                WsCloseCode.WS_CLOSE_CODE_REVOKED_VALUE -> throw SignedOutException(
                    SignOutReason.SESSION_ENDED,
                    "the server ended the event stream's session: ${outcome.error.reason()}",
                    outcome.error,
                )
                WsCloseCode.WS_CLOSE_CODE_UPGRADE_REQUIRED_VALUE -> throw EventStreamUpgradeRequiredException(
                    outcome.upgradeRequired,
                    outcome.error as? EventStreamClosedException
                        ?: EventStreamClosedException(WsCloseCode.WS_CLOSE_CODE_UPGRADE_REQUIRED_VALUE, outcome.error.reason()),
                )
                WsCloseCode.WS_CLOSE_CODE_UNAUTHENTICATED_VALUE -> {
                    if (token == refreshedAfterRefusal) {
                        throw EventStreamUnauthenticatedException("the server refused a refreshed access token too", outcome.error)
                    }
                    val fresh = try {
                        tokenAfterRefusal(token)
                    } catch (e: CancellationException) {
                        throw e
                    } catch (e: SignedOutException) {
                        throw e
                    } catch (e: Exception) {
                        failures = waitToRetry(r, failures, e)
                        continue
                    }
                    if (fresh == token) {
                        throw EventStreamUnauthenticatedException(
                            "the server refused the access token and the token provider has no other",
                            outcome.error,
                        )
                    }
                    refreshedAfterRefusal = fresh
                    nextToken = fresh
                    continue // at once: the refusal was about the token, not the server
                }
            }
            failures = waitToRetry(r, failures, outcome.error)
        }
    }

    private fun Throwable.reason(): String = (this as? EventStreamClosedException)?.reason?.takeIf { it.isNotBlank() } ?: message.orEmpty()

    private suspend fun waitToRetry(r: Run, failures: Int, cause: Throwable): Int {
        val wait = backoff.delayFor(failures)
        publish(r, EventStreamState.Reconnecting(failures + 1, wait, cause))
        delay(wait)
        return failures + 1
    }

    private suspend fun currentToken(): String = when (val p = tokenProvider) {
        is RefreshingTokenProvider -> p.freshToken()
        else -> p.token()?.takeIf { it.isNotBlank() } ?: throw SignedOutException(SignOutReason.NOT_SIGNED_IN)
    }

    private suspend fun tokenAfterRefusal(refused: String): String = when (val p = tokenProvider) {
        is RefreshingTokenProvider -> p.refreshAfterUnauthenticated(refused)
        else -> p.token()?.takeIf { it.isNotBlank() } ?: throw SignedOutException(SignOutReason.NOT_SIGNED_IN)
    }

    /** How one connection ended. */
    private class Outcome(
        val error: Throwable,
        val closeCode: Int?,
        val ready: Boolean,
        val connectedFor: Duration,
        /** The `upgrade_required` of the last `error` frame that carried one (explains a 4026). */
        val upgradeRequired: UpgradeRequired?,
    )

    private suspend fun connectOnce(r: Run, token: String): Outcome {
        val conn = Connection(r)
        val request = Request.Builder().url(url).header("Sec-WebSocket-Protocol", subprotocol)
            .apply { if (pluginProtocolVersion != null) header(PLUGIN_VERSION_HEADER, pluginProtocolVersion.toString()) }
            .build()
        conn.ws = http.newWebSocket(request, conn)
        synchronized(lock) {
            if (run !== r) {
                conn.abort()
                throw CancellationException("the event stream stopped")
            }
            connection = conn
        }
        try {
            return coroutineScope {
                val watchdog = launch { conn.watch() }
                try {
                    conn.serve(token)
                } finally {
                    watchdog.cancel()
                }
            }
        } finally {
            conn.inbound.close()
            synchronized(lock) {
                if (connection === conn) connection = null
                if (!conn.closeRequested) conn.abort()
            }
        }
    }

    /** Something the socket's listener reports to the connection's loop. */
    private sealed class Inbound {
        class Opened(val subprotocol: String?) : Inbound()
        class Text(val text: String) : Inbound()
        class Binary(val bytes: ByteString) : Inbound()
        class Closed(val code: Int, val reason: String) : Inbound()
        class Failed(val error: Throwable) : Inbound()
    }

    /** One socket: the OkHttp listener feeds [inbound]; [serve] handles it in order. */
    private inner class Connection(private val r: Run) : WebSocketListener() {
        lateinit var ws: WebSocket
        val inbound = Channel<Inbound>(INBOUND_CAPACITY)

        /** A local reason to end the connection (dead peer, no ready); completes [serve]. */
        private val localFailure = CompletableDeferred<Throwable>()

        @Volatile private var localError: Throwable? = null
        private val startedAt = System.nanoTime()

        @Volatile private var lastReceivedAt = startedAt

        /** The listener thread waits for room in [inbound]: a slow collector, not a dead peer. */
        @Volatile private var readerWaiting = false

        @Volatile private var readyAt = 0L

        @Volatile private var heartbeatEvery: Duration = DEFAULT_HEARTBEAT_INTERVAL / 2

        @Volatile var closeRequested = false

        /** The `upgrade_required` of the last `error` frame that carried one. */
        @Volatile private var upgradeRequired: UpgradeRequired? = null

        /** The initial subscribe was sent: runtime changes go out at once. Guarded by lock. */
        var subscribed = false

        /** Frames sent with an id, for the `error` answers that name them. Guarded by lock. */
        private val requests = object : LinkedHashMap<String, Event>() {
            override fun removeEldestEntry(eldest: MutableMap.MutableEntry<String, Event>?) = size > MAX_TRACKED_REQUESTS
        }

        // --- OkHttp listener (its threads) ---

        override fun onOpen(webSocket: WebSocket, response: Response) {
            offer(Inbound.Opened(response.header("Sec-WebSocket-Protocol")))
        }

        override fun onMessage(webSocket: WebSocket, text: String) {
            lastReceivedAt = System.nanoTime()
            offer(Inbound.Text(text))
        }

        override fun onMessage(webSocket: WebSocket, bytes: ByteString) {
            lastReceivedAt = System.nanoTime()
            offer(Inbound.Binary(bytes))
        }

        override fun onClosing(webSocket: WebSocket, code: Int, reason: String) {
            webSocket.close(NORMAL_CLOSURE, null)
            offer(Inbound.Closed(code, reason))
        }

        override fun onFailure(webSocket: WebSocket, t: Throwable, response: Response?) {
            val error = if (response != null && t !is IOException) IOException("handshake failed: HTTP ${response.code}", t) else t
            offer(Inbound.Failed(error))
        }

        /** Queues for [serve]; blocks this OkHttp reader thread while [inbound] is full (backpressure). */
        private fun offer(item: Inbound) {
            if (inbound.trySend(item).isSuccess) return
            readerWaiting = true
            try {
                inbound.trySendBlocking(item)
            } finally {
                lastReceivedAt = System.nanoTime()
                readerWaiting = false
            }
        }

        // --- control ---

        fun abort() {
            ws.cancel()
        }

        fun closeGracefully() {
            closeRequested = true
            ws.close(NORMAL_CLOSURE, "closed by the client")
        }

        private fun fail(error: Throwable) {
            if (localError == null) localError = error
            localFailure.complete(error)
            abort()
        }

        private fun send(ev: Event): Boolean = when (wireFormat) {
            WireFormat.PROTOBUF -> ws.send(ev.toByteArray().toByteString())
            WireFormat.JSON -> ws.send(JSON_PRINTER.print(ev))
        }

        /** Sends a frame that has an id, remembering it for error answers. Call with lock held. */
        fun sendRequestLocked(ev: Event): Boolean {
            requests[ev.id] = ev
            return send(ev)
        }

        // --- the connection's loop (the producer coroutine) ---

        /** Handles the socket's frames in order until it ends. */
        suspend fun serve(token: String): Outcome {
            while (true) {
                val item = select<Inbound> {
                    inbound.onReceive { it }
                    localFailure.onAwait { Inbound.Failed(it) }
                }
                when (item) {
                    is Inbound.Opened -> {
                        if (item.subprotocol != subprotocol) {
                            return ended(ProtocolException("the server chose subprotocol '${item.subprotocol}', not '$subprotocol'"), null)
                        }
                        send(Event.newBuilder().setId(newId()).setEventType("auth").setAuth(AuthFrame.newBuilder().setToken(token)).build())
                    }
                    is Inbound.Text, is Inbound.Binary -> {
                        val ev = try {
                            decode(item)
                        } catch (e: IOException) {
                            return ended(e, null) // reconnecting resumes from the last good event
                        }
                        handle(ev)
                    }
                    is Inbound.Closed -> return ended(EventStreamClosedException(item.code, item.reason), item.code)
                    is Inbound.Failed -> return ended(localError ?: item.error, null)
                }
            }
        }

        private fun ended(error: Throwable, closeCode: Int?): Outcome {
            val readyAt = readyAt
            return Outcome(
                error = error,
                closeCode = closeCode,
                ready = readyAt != 0L,
                connectedFor = if (readyAt == 0L) Duration.ZERO else (System.nanoTime() - readyAt).nanoseconds,
                upgradeRequired = upgradeRequired,
            )
        }

        private fun decode(item: Inbound): Event = when (item) {
            is Inbound.Binary -> {
                if (wireFormat != WireFormat.PROTOBUF) throw ProtocolException("binary frame on the JSON subprotocol")
                try {
                    Event.parseFrom(item.bytes.toByteArray())
                } catch (e: com.google.protobuf.InvalidProtocolBufferException) {
                    throw ProtocolException("undecodable event frame: ${e.message}").apply { initCause(e) }
                }
            }
            is Inbound.Text -> {
                if (wireFormat != WireFormat.JSON) throw ProtocolException("text frame on the protobuf subprotocol")
                try {
                    Event.newBuilder().also { JSON_PARSER.merge(item.text, it) }.build()
                } catch (e: com.google.protobuf.InvalidProtocolBufferException) {
                    throw ProtocolException("undecodable event frame: ${e.message}").apply { initCause(e) }
                }
            }
            else -> error("not a frame")
        }

        private suspend fun deliver(d: Delivery) {
            r.deliveries.send(d)
            d.done.await()
        }

        private suspend fun handle(ev: Event) {
            when {
                ev.hasReady() -> if (readyAt == 0L) onReady(ev.ready)
                ev.hasRehydrate() -> {
                    val channel = ev.rehydrate.channel.ifEmpty { ev.channel }
                    if (synchronized(lock) { channel in channels }) deliver(Delivery.Rehydrate(channel, ev.rehydrate.resumeSequence))
                }
                ev.hasError() -> {
                    if (ev.error.hasUpgradeRequired()) upgradeRequired = ev.error.upgradeRequired // explains a 4026 close
                    val request = synchronized(lock) { requests[ev.error.eventId] }
                    deliver(Delivery.ServerError(ev.error, request))
                }
                ev.hasAck() -> {
                    synchronized(lock) { requests.remove(ev.ack.eventId) }
                    if (ev.ack.positionsCount > 0) deliver(Delivery.Positions(ev.ack.positionsList))
                }
                ev.hasHeartbeat() -> Unit // its arrival is what counts
                ev.channel.isNotEmpty() && ev.sequence > 0 -> {
                    val fresh = synchronized(lock) {
                        var st = channels[ev.channel]
                        if (st == null && ev.channel !in unsubscribed) {
                            // A channel the server joined us to (e.g. broadcasts): track it
                            // like ours, so the next connection resumes it.
                            st = ChannelState(FROM_NOW).also { channels[ev.channel] = it }
                        }
                        st != null && ev.sequence > st.last
                    }
                    if (fresh) deliver(Delivery.Item(ev)) // else: unsubscribed, or a duplicate
                }
                else -> Unit // a connection-level event this SDK does not know yet
            }
        }

        private suspend fun onReady(ready: ReadyEvent) {
            val interval = if (ready.heartbeatIntervalSeconds > 0) ready.heartbeatIntervalSeconds.seconds else DEFAULT_HEARTBEAT_INTERVAL
            heartbeatEvery = interval / 2
            lastReceivedAt = System.nanoTime()
            readyAt = System.nanoTime()
            val unresumable = mutableListOf<String>()
            synchronized(lock) {
                if (device != null) sendRequestLocked(Event.newBuilder().setId(newId()).setEventType("device_register").setDeviceRegister(device).build())
                for ((name, st) in channels) {
                    if (st.last < 0 && st.joinedWithoutPosition) unresumable += name
                    st.joinedWithoutPosition = st.last < 0
                }
                if (channels.isNotEmpty()) sendRequestLocked(subscribeFrame(channels.mapValues { it.value.last }))
                subscribed = true
            }
            publish(r, EventStreamState.Connected(ready))
            // Subscribed "from now on" before and still without a position: whatever
            // was published while disconnected cannot be replayed.
            for (name in unresumable) deliver(Delivery.Rehydrate(name, FROM_NOW))
        }

        /** Sends heartbeats and ends the connection when the peer looks dead or never gets ready. */
        suspend fun watch() {
            var nextHeartbeat = 0L
            while (true) {
                delay(WATCH_TICK)
                val now = System.nanoTime()
                val readyAt = readyAt
                if (readyAt == 0L) {
                    if ((now - startedAt).nanoseconds > readyTimeout) {
                        fail(SocketTimeoutException("no ready from the server within $readyTimeout"))
                        return
                    }
                    continue
                }
                val every = heartbeatEvery
                val deadAfter = every * 4 // two heartbeat intervals
                if (!readerWaiting && (now - lastReceivedAt).nanoseconds > deadAfter) {
                    fail(SocketTimeoutException("nothing received from the server for $deadAfter"))
                    return
                }
                if (now >= nextHeartbeat) {
                    val t = Instant.now()
                    send(
                        Event.newBuilder().setEventType("heartbeat").setHeartbeat(
                            HeartbeatEvent.newBuilder().setClientTime(Timestamp.newBuilder().setSeconds(t.epochSecond).setNanos(t.nano)),
                        ).build(),
                    )
                    nextHeartbeat = now + every.inWholeNanoseconds
                }
            }
        }
    }

    // --- helpers ---------------------------------------------------------------

    private val subprotocol: String
        get() = when (wireFormat) {
            WireFormat.PROTOBUF -> EVENT_STREAM_SUBPROTOCOL_PROTO
            WireFormat.JSON -> EVENT_STREAM_SUBPROTOCOL_JSON
        }

    private fun subscribeFrame(positions: Map<String, Long>): Event = Event.newBuilder()
        .setId(newId())
        .setEventType("subscribe")
        .setSubscribe(
            SubscribeEvent.newBuilder().addAllChannels(
                positions.map { (channel, last) -> ChannelPosition.newBuilder().setChannel(channel).setLastSequence(last).build() },
            ),
        ).build()

    /** Sets the state for run [r] (ignored once that run is over), or unconditionally when [r] is `null`. */
    private fun publish(r: Run?, s: EventStreamState) {
        synchronized(stateLock) {
            synchronized(lock) {
                if (closed || (r != null && run !== r)) return
            }
            setState(s)
        }
    }

    private fun publishClosed(error: Throwable?) {
        synchronized(stateLock) { setState(EventStreamState.Closed(error)) }
    }

    private fun setState(s: EventStreamState) {
        mutableState.value = s
        try {
            onStateChange(s)
        } catch (_: Exception) {
            // A listener's failure must not break the stream.
        }
    }

    /** Configures an [EventStream]; see [EventStream.create]. */
    public class Builder internal constructor(
        /**
         * The API base URL (`https://api.hivesync.dev`, the stream is at
         * [EVENT_STREAM_PATH] under it) or the WebSocket URL itself (`wss://…`,
         * e.g. `ws_base` from the bootstrap document).
         */
        public var baseUrl: String,
    ) {
        /**
         * Supplies the access token sent in the `auth` frame of every connection.
         * Required. An [AuthSession] gives a fresh token on each connect and a
         * refreshed one after a 4001 close.
         */
        public var tokenProvider: TokenProvider? = null

        /** Registers this device on each connection (`device_register`); it must be one of the user's devices. */
        public var deviceId: String? = null

        /** The kind of client, sent with [deviceId]. */
        public var clientType: ClientType = ClientType.CLIENT_TYPE_UNSPECIFIED

        /** The operating system, sent with [deviceId]: "linux", "macos", "windows" (detected by default). */
        public var platform: String = detectPlatform()

        /** The client's own version, sent with [deviceId]. */
        public var clientVersion: String = ""

        /**
         * The plugin protocol version this client speaks; defaults to
         * [PLUGIN_PROTOCOL_VERSION], like [HiveSyncClient.Builder.pluginProtocolVersion].
         * Sent as [PLUGIN_VERSION_HEADER] on every upgrade request and with
         * [deviceId]; `null` states none (no header, 0 in `device_register`). Below
         * the server's minimum the stream stops with [EventStreamUpgradeRequiredException].
         */
        public var pluginProtocolVersion: Int? = PLUGIN_PROTOCOL_VERSION

        /**
         * The client's integer build, sent with [deviceId]; the server holds it to the
         * bootstrap document's `min_client_version`, and below it the stream stops
         * with [EventStreamUpgradeRequiredException]. 0 (the default) states none.
         */
        public var clientBuild: Int = 0

        /**
         * The frame encoding: binary protobuf (`hivesync.v1.proto`, the default:
         * smaller, and the same default as [HiveSyncClient]) or protobuf JSON
         * (`hivesync.v1.json`, readable in proxies and logs).
         */
        public var wireFormat: WireFormat = WireFormat.PROTOBUF

        /** The OkHttp client to build on (shares its connection pool, proxy, TLS and interceptors). */
        public var okHttpClient: OkHttpClient? = null

        /** The first reconnect waits up to this long (full jitter); each failure doubles it. */
        public var reconnectBaseDelay: Duration = 250.milliseconds

        /** The longest wait between reconnect attempts. */
        public var reconnectMaxDelay: Duration = 30.seconds

        /** A connection that stayed up this long resets the backoff. */
        public var stableAfter: Duration = 10.seconds

        /** How long a new socket may take to open and answer `ready`. */
        public var readyTimeout: Duration = 15.seconds

        /**
         * Called when the server cannot replay a channel's missed events (they
         * passed the replay window or were pruned, or the position is one the
         * channel never reached): refetch the channel's state; events continue
         * after `resumeSequence`, which becomes the channel's position. Also called
         * with `resumeSequence` [FROM_NOW] for a channel subscribed from now on that
         * still had no position when the connection dropped (a server whose ack
         * carries no positions): what was published meanwhile is unknown. The
         * stream waits for it.
         */
        public var onRehydrate: suspend (channel: String, resumeSequence: Long) -> Unit = { _, _ -> }

        /**
         * Called with a channel's new position after the collector handled an event,
         * after [onRehydrate], or when the subscribe ack gives the start of a channel
         * subscribed [FROM_NOW]: persist it and pass it back with [channel] next time.
         */
        public var onPosition: suspend (channel: String, sequence: Long) -> Unit = { _, _ -> }

        /**
         * Called for each `error` frame: a refused subscribe (`not_found` for a channel
         * you may not read), a refused `device_register`, a lost membership
         * (`permission_denied`, no request). [request] is the frame it answers, when
         * it names one. The stream goes on.
         */
        public var onServerError: suspend (error: ErrorEvent, request: Event?) -> Unit = { _, _ -> }

        /** Called on every state change, synchronously; keep it short. */
        public var onStateChange: (EventStreamState) -> Unit = {}

        private val channels = LinkedHashMap<String, Long>()

        /**
         * Subscribes [channel] from after [lastSequence]: the last sequence you
         * processed (what [onPosition] gave you), or [FROM_NOW] when you have none.
         * See [EventStream.subscribe].
         */
        public fun channel(channel: String, lastSequence: Long = FROM_NOW): Builder {
            channels[channel] = checkPosition(channel, lastSequence)
            return this
        }

        /** Builds the stream; nothing connects until [EventStream.events] is collected. */
        public fun build(): EventStream {
            val provider = requireNotNull(tokenProvider) { "EventStream needs a tokenProvider" }
            require(reconnectBaseDelay.isPositive() && reconnectMaxDelay >= reconnectBaseDelay) {
                "need 0 < reconnectBaseDelay <= reconnectMaxDelay"
            }
            require(clientBuild >= 0) { "clientBuild must be >= 0 (0: not stated), got $clientBuild" }
            require((pluginProtocolVersion ?: 0) >= 0) { "pluginProtocolVersion must be >= 0, got $pluginProtocolVersion" }
            val device = deviceId?.let {
                DeviceRegisterEvent.newBuilder()
                    .setDeviceId(it)
                    .setClientType(clientType)
                    .setPlatform(platform)
                    .setClientVersion(clientVersion)
                    .setPluginProtocolVersion(pluginProtocolVersion ?: 0)
                    .setClientBuild(clientBuild)
                    .build()
            }
            return EventStream(
                url = eventStreamUrl(baseUrl),
                tokenProvider = provider,
                device = device,
                pluginProtocolVersion = pluginProtocolVersion?.takeIf { it > 0 },
                wireFormat = wireFormat,
                http = okHttpClient ?: OkHttpClient(),
                ownsHttp = okHttpClient == null,
                onRehydrate = onRehydrate,
                onPosition = onPosition,
                onServerError = onServerError,
                onStateChange = onStateChange,
                backoff = ReconnectBackoff(reconnectBaseDelay, reconnectMaxDelay),
                readyTimeout = readyTimeout,
                stableAfter = stableAfter,
                initialChannels = LinkedHashMap(channels),
            )
        }
    }

    public companion object {
        /**
         * The position of a channel you have no position for: subscribe "from now
         * on". The server's `ack` then gives the channel's current sequence, which
         * becomes the position (and goes to [Builder.onPosition]).
         */
        public const val FROM_NOW: Long = -1

        /** The heartbeat interval assumed when `ready` names none (the server's default). */
        public val DEFAULT_HEARTBEAT_INTERVAL: Duration = 30.seconds

        private const val NORMAL_CLOSURE = 1000
        private const val INBOUND_CAPACITY = 64
        private const val MAX_TRACKED_REQUESTS = 256
        private val WATCH_TICK = 100.milliseconds
        private val JSON_PRINTER: JsonFormat.Printer = JsonFormat.printer().omittingInsignificantWhitespace()
        private val JSON_PARSER: JsonFormat.Parser = JsonFormat.parser().ignoringUnknownFields()

        /**
         * Creates a stream for the API at [baseUrl] (or the WebSocket URL itself),
         * configured by [configure]. It connects when [events] is collected.
         */
        @JvmStatic
        public fun create(baseUrl: String, configure: Builder.() -> Unit): EventStream =
            Builder(baseUrl).apply(configure).build()

        /** Returns a [Builder] for Java callers. */
        @JvmStatic
        public fun builder(baseUrl: String): Builder = Builder(baseUrl)

        private fun newId(): String = UUID.randomUUID().toString()

        private fun detectPlatform(): String {
            val os = System.getProperty("os.name").orEmpty().lowercase()
            return when {
                os.startsWith("mac") || os.contains("darwin") -> "macos"
                os.startsWith("windows") -> "windows"
                os.contains("linux") -> "linux"
                else -> os
            }
        }
    }
}

/**
 * The event stream's WebSocket URL for [baseUrl]: an `http(s)://` API base URL
 * becomes `ws(s)://…/api/v1/ws`; a `ws(s)://` URL (such as the bootstrap
 * document's `ws_base`) is used as it is.
 */
public fun eventStreamUrl(baseUrl: String): String {
    val base = baseUrl.trim().trimEnd('/')
    return when {
        base.startsWith("ws://") || base.startsWith("wss://") -> base
        base.startsWith("https://") -> "wss://" + base.removePrefix("https://") + EVENT_STREAM_PATH
        base.startsWith("http://") -> "ws://" + base.removePrefix("http://") + EVENT_STREAM_PATH
        else -> throw IllegalArgumentException("baseUrl must be an http(s):// or ws(s):// URL, got '$baseUrl'")
    }
}

private fun checkPosition(channel: String, lastSequence: Long): Long {
    require(channel.isNotBlank() && channel.trim() == channel) { "channel names are not blank, got '$channel'" }
    require(lastSequence >= EventStream.FROM_NOW) { "lastSequence must be >= FROM_NOW (-1), got $lastSequence" }
    return lastSequence
}

/**
 * Reconnect delays: exponential backoff with full jitter. The wait before
 * attempt `n + 1` (after `n` consecutive failures) is uniform in
 * `[0, min(max, base × 2^n)]`, so clients that lost the same server spread out.
 */
internal class ReconnectBackoff(
    private val base: Duration,
    private val max: Duration,
    private val random: Random = Random.Default,
) {
    /** The upper bound of the wait after [failures] consecutive failures. */
    fun ceiling(failures: Int): Duration {
        val doublings = failures.coerceIn(0, 30)
        val ms = base.inWholeMilliseconds.toDouble() * (1L shl doublings).toDouble()
        return if (ms >= max.inWholeMilliseconds) max else ms.toLong().milliseconds
    }

    /** A random wait in `[0, ceiling(failures)]`. */
    fun delayFor(failures: Int): Duration = random.nextLong(ceiling(failures).inWholeMilliseconds + 1).milliseconds
}
