package dev.hivesync.sdk

import java.io.IOException
import java.net.InetAddress
import java.net.ServerSocket
import java.net.Socket
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicInteger
import kotlin.concurrent.thread

/**
 * A TCP proxy on a free loopback port that forwards every connection to
 * `127.0.0.1:[targetPort]` and can break them as a bad network would:
 * [killConnections] resets both sides (SO_LINGER 0), so neither peer gets a
 * WebSocket close frame; [freezeConnections] stops forwarding but keeps the
 * sockets open, so only a heartbeat notices. [dropNextAnswers] loses answers:
 * the request reaches the server, the connection is reset at the answer's first
 * byte. While [refusing] is set, every new connection is reset at once.
 */
class TcpProxy(private val targetPort: Int) : AutoCloseable {
    /** One proxied connection: the client's socket and ours to the target. */
    private class Link(val client: Socket, val upstream: Socket) {
        @Volatile var frozen = false
    }

    private val listener = ServerSocket(0, 50, InetAddress.getLoopbackAddress())
    private val open = CopyOnWriteArrayList<Link>()

    /** Connections accepted so far. */
    val accepted = AtomicInteger()

    private val answersToDrop = AtomicInteger()

    /** Answers lost so far by [dropNextAnswers]. */
    val dropped = AtomicInteger()

    /** While set, new connections are reset at once (the server is out of reach). */
    @Volatile var refusing = false

    /**
     * The next [n] times the server sends bytes (the start of an answer), that
     * connection is reset instead: the server handled the request, the client never
     * sees the response.
     */
    fun dropNextAnswers(n: Int) = answersToDrop.set(n)

    /** The proxy's port. */
    val port: Int get() = listener.localPort

    /** The proxy's URL, for clients that should go through it. */
    val baseUrl: String get() = "http://127.0.0.1:$port"

    init {
        thread(isDaemon = true, name = "tcp-proxy-accept") {
            while (!listener.isClosed) {
                val client = try {
                    listener.accept()
                } catch (_: IOException) {
                    break
                }
                if (refusing) {
                    client.setSoLinger(true, 0)
                    client.close()
                    continue
                }
                val upstream = try {
                    Socket(InetAddress.getLoopbackAddress(), targetPort)
                } catch (_: IOException) {
                    client.close()
                    continue
                }
                val link = Link(client, upstream)
                open += link
                accepted.incrementAndGet()
                pump(client, upstream, link, answers = false)
                pump(upstream, client, link, answers = true)
            }
        }
    }

    private fun pump(from: Socket, to: Socket, link: Link, answers: Boolean) {
        thread(isDaemon = true, name = "tcp-proxy-pump") {
            try {
                val input = from.getInputStream()
                val output = to.getOutputStream()
                val buf = ByteArray(16 * 1024)
                while (true) {
                    val n = input.read(buf)
                    if (n < 0) break
                    if (answers && answersToDrop.getAndUpdate { if (it > 0) it - 1 else 0 } > 0) {
                        dropped.incrementAndGet()
                        break
                    }
                    while (link.frozen && !to.isClosed) Thread.sleep(10)
                    output.write(buf, 0, n)
                    output.flush()
                }
            } catch (_: IOException) {
                // cut, or the other side went away
            } catch (_: InterruptedException) {
                // the JVM is stopping
            } finally {
                reset(link)
            }
        }
    }

    private fun reset(link: Link) {
        open -= link
        for (s in listOf(link.client, link.upstream)) {
            try {
                s.setSoLinger(true, 0)
            } catch (_: IOException) {
                // already closed
            }
            try {
                s.close()
            } catch (_: IOException) {
                // already closed
            }
        }
    }

    /** Resets every open connection; returns how many there were. */
    fun killConnections(): Int {
        val links = open.toList()
        links.forEach(::reset)
        return links.size
    }

    /** Stops forwarding on every open connection, leaving it open; returns how many there were. */
    fun freezeConnections(): Int {
        val links = open.toList()
        links.forEach { it.frozen = true }
        return links.size
    }

    override fun close() {
        listener.close()
        killConnections()
    }
}
