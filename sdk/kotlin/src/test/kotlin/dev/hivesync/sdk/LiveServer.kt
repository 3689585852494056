package dev.hivesync.sdk

import org.junit.jupiter.api.extension.ExtensionContext
import org.junit.jupiter.api.extension.ParameterContext
import org.junit.jupiter.api.extension.ParameterResolver
import java.io.File
import java.net.ServerSocket
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.attribute.PosixFilePermissions
import java.time.Duration
import java.util.concurrent.TimeUnit

/**
 * A real `hivesyncd dev` process for the test session: started once (lazily, by
 * the first test that asks for it) and stopped when the JUnit run ends.
 *
 * The binary is `$HIVESYNC_BIN` when set, otherwise built with
 * `go build -o <tmp>/hivesyncd ./cmd/hivesyncd` in the repository root, which is
 * found from this class's location (target/test-classes → sdk/kotlin → root).
 */
class LiveServer private constructor() : AutoCloseable {
    /** The scratch directory: data dir, logs and (when built) the binary. */
    private val tmp: Path = Files.createTempDirectory(
        "hivesync-kotlin-sdk-",
        // World-traversable: hivesyncd runs its private Postgres as an unprivileged user.
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")),
    )
    private val dataDir: Path = tmp.resolve("data")
    private val stdoutLog: File = tmp.resolve("hivesyncd.stdout.log").toFile()
    private val stderrLog: File = tmp.resolve("hivesyncd.stderr.log").toFile()
    private var process: Process? = null

    /** The server's base URL, e.g. `http://127.0.0.1:41234`. */
    val baseUrl: String

    /** The server's TCP port (the one in [baseUrl]). */
    val port: Int

    /** The hivesyncd binary under test. */
    private val bin: String

    /** The server's HIVESYNC_* settings; `hivesyncd token create` runs with the same ones. */
    private val serverEnv: Map<String, String>

    init {
        try {
            bin = System.getenv("HIVESYNC_BIN")?.takeIf { it.isNotBlank() } ?: buildServer()
            port = freePort()
            baseUrl = "http://127.0.0.1:$port"
            Files.createDirectories(dataDir)
            serverEnv = mapOf(
                "HIVESYNC_HTTP_ADDR" to "127.0.0.1:$port",
                "HIVESYNC_DATA_DIR" to dataDir.toString(),
                "HIVESYNC_MIN_PLUGIN_PROTOCOL_VERSION" to MIN_PLUGIN_PROTOCOL_VERSION.toString(),
                "HIVESYNC_CURRENT_PLUGIN_PROTOCOL_VERSION" to CURRENT_PLUGIN_PROTOCOL_VERSION.toString(),
                "HIVESYNC_MIN_CLIENT_VERSION" to "3",
                "HIVESYNC_UPGRADE_URL" to UPGRADE_URL,
                // Device-flow tests poll every second instead of every five.
                "HIVESYNC_DEVICE_POLL_INTERVAL" to "1s",
                // Reuse-detection tests replay a refresh token at once; the
                // server's default 30 s retry grace would accept it.
                "HIVESYNC_REFRESH_REUSE_GRACE" to "1ms",
                // The event stream re-checks sessions (and pings) at this pace; the
                // revocation test waits for it. Also the heartbeat interval in `ready`.
                "HIVESYNC_WS_PING_INTERVAL" to "1s",
            )
            val pb = ProcessBuilder(bin, "dev")
                .redirectOutput(stdoutLog)
                .redirectError(stderrLog)
            pb.environment().remove("HIVESYNC_BIN") // ours, not a server setting
            pb.environment().putAll(serverEnv)
            process = pb.start()
            Runtime.getRuntime().addShutdownHook(Thread { stop() })
            waitReady()
        } catch (e: Throwable) {
            stop()
            throw e
        }
    }

    /**
     * Runs `hivesyncd token create --user [email] --client [client]` against this
     * server's database (same environment) and returns its JSON output
     * (`access_token`, `refresh_token`, `expires_in`, `session_id`, …).
     */
    fun createToken(email: String, client: String): Map<String, Any?> {
        val pb = ProcessBuilder(bin, "token", "create", "--user", email, "--client", client)
        pb.environment().remove("HIVESYNC_BIN")
        pb.environment().putAll(serverEnv)
        val errFile = Files.createTempFile(tmp, "token-create", ".err").toFile()
        pb.redirectError(errFile)
        val p = pb.start()
        val out = p.inputStream.bufferedReader().readText()
        check(p.waitFor(60, TimeUnit.SECONDS)) { "hivesyncd token create did not finish" }
        check(p.exitValue() == 0) { "hivesyncd token create failed (${p.exitValue()}):\n$out\n${errFile.readText()}" }
        val struct = com.google.protobuf.Struct.newBuilder()
        com.google.protobuf.util.JsonFormat.parser().merge(out, struct)
        return struct.fieldsMap.mapValues { (_, v) ->
            when (v.kindCase) {
                com.google.protobuf.Value.KindCase.STRING_VALUE -> v.stringValue
                com.google.protobuf.Value.KindCase.NUMBER_VALUE -> v.numberValue
                com.google.protobuf.Value.KindCase.BOOL_VALUE -> v.boolValue
                else -> null
            }
        }
    }

    private fun buildServer(): String {
        val root = repoRoot()
        val out = tmp.resolve("hivesyncd").toString()
        val build = ProcessBuilder("go", "build", "-o", out, "./cmd/hivesyncd")
            .directory(root)
            .redirectErrorStream(true)
            .start()
        val output = build.inputStream.bufferedReader().readText()
        check(build.waitFor() == 0) { "go build ./cmd/hivesyncd failed in $root:\n$output" }
        return out
    }

    private fun waitReady() {
        val http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()
        val ready = HttpRequest.newBuilder(URI.create("$baseUrl/health/ready"))
            .timeout(Duration.ofSeconds(2)).GET().build()
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(READY_TIMEOUT_SECONDS)
        while (System.nanoTime() < deadline) {
            val p = process!!
            if (!p.isAlive) {
                error("hivesyncd exited early with status ${p.exitValue()}; stderr:\n${logTail(stderrLog)}")
            }
            try {
                if (http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) return
            } catch (_: java.io.IOException) {
                // not listening yet
            }
            Thread.sleep(200)
        }
        error("hivesyncd not ready after ${READY_TIMEOUT_SECONDS}s; stderr:\n${logTail(stderrLog)}")
    }

    @Synchronized
    private fun stop() {
        val p = process
        if (p != null) {
            process = null
            val children: List<ProcessHandle> = p.descendants().collect(java.util.stream.Collectors.toList())
            if (p.isAlive) {
                p.destroy() // SIGTERM: hivesyncd stops its private Postgres
                if (!p.waitFor(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                    p.destroyForcibly()
                    p.waitFor(5, TimeUnit.SECONDS)
                }
            }
            // Never leave an orphaned postgres behind, even after a SIGKILL.
            for (child in children.filter { it.isAlive }) {
                child.destroy()
                try {
                    child.onExit().get(10, TimeUnit.SECONDS)
                } catch (_: java.util.concurrent.TimeoutException) {
                    child.destroyForcibly()
                }
            }
        }
        tmp.toFile().deleteRecursively()
    }

    override fun close() = stop()

    companion object {
        const val UPGRADE_URL = "https://hivesync.test/download"

        /**
         * The server under test simulates one that has moved on past this SDK: it
         * requires plugin protocol >= 2 and is at 3, while the SDK's default
         * ([PLUGIN_PROTOCOL_VERSION]) is 1. Happy-path tests therefore announce a
         * version explicitly; the SDK's default is what the "outdated plugin" tests use.
         */
        const val MIN_PLUGIN_PROTOCOL_VERSION = 2
        const val CURRENT_PLUGIN_PROTOCOL_VERSION = 3
        private const val READY_TIMEOUT_SECONDS = 90L
        private const val STOP_TIMEOUT_SECONDS = 20L

        /** The repository root: the nearest ancestor of this class's location with go.mod and proto/. */
        fun repoRoot(): File {
            val location = File(LiveServer::class.java.protectionDomain.codeSource.location.toURI())
            var dir: File? = location.absoluteFile
            while (dir != null) {
                if (File(dir, "go.mod").isFile && File(dir, "proto").isDirectory) return dir
                dir = dir.parentFile
            }
            error("repository root not found above $location")
        }

        private fun freePort(): Int = ServerSocket(0).use { it.localPort }

        private fun logTail(f: File): String =
            if (f.exists()) f.readText().takeLast(8000) else "(no output)"

        /**
         * The session's server, started on first use and closed by JUnit at the end of
         * the run. A failed start is remembered, so later tests fail fast with it.
         */
        fun get(context: ExtensionContext): LiveServer =
            context.root.getStore(ExtensionContext.Namespace.GLOBAL)
                .getOrComputeIfAbsent(LiveServer::class.java.name, { Session() }, Session::class.java)
                .server.getOrThrow()
    }

    /** Holds the outcome of the one start attempt; closing it stops the server. */
    private class Session : AutoCloseable {
        val server: Result<LiveServer> = runCatching { LiveServer() }

        override fun close() {
            server.getOrNull()?.close()
        }
    }
}

/** Injects the session's [LiveServer] into test constructors and methods. */
class LiveServerExtension : ParameterResolver {
    override fun supportsParameter(parameterContext: ParameterContext, extensionContext: ExtensionContext): Boolean =
        parameterContext.parameter.type == LiveServer::class.java

    override fun resolveParameter(parameterContext: ParameterContext, extensionContext: ExtensionContext): Any =
        LiveServer.get(extensionContext)
}
