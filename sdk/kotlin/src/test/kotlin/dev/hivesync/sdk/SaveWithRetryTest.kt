package dev.hivesync.sdk

import com.connectrpc.Code
import com.connectrpc.ConnectException
import com.connectrpc.Headers
import com.connectrpc.ResponseMessage
import com.connectrpc.getOrThrow
import dev.hivesync.sdk.v1.File
import dev.hivesync.sdk.v1.FileServiceClientInterface
import dev.hivesync.sdk.v1.SaveFileRequest
import dev.hivesync.sdk.v1.SaveFileResponse
import dev.hivesync.sdk.v1.createFileRequest
import dev.hivesync.sdk.v1.createProjectRequest
import dev.hivesync.sdk.v1.getFileRequest
import dev.hivesync.sdk.v1.listVersionsRequest
import dev.hivesync.sdk.v1.registerDeviceRequest
import dev.hivesync.sdk.v1.saveFileRequest
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import java.security.MessageDigest
import java.util.Collections
import java.util.UUID
import kotlin.time.Duration.Companion.milliseconds

/**
 * [saveWithRetry] against a live `hivesyncd dev`: Saved on attempt 1 with a
 * generated UUID v4 key; a stale base is Conflicted and not retried; not_found /
 * invalid_argument are thrown after one call; a save whose answer is lost (a
 * [TcpProxy] forwards the request, then resets the connection at the answer's
 * first byte) is retried with the same key and returns the version the first
 * attempt stored, with exactly one new version; cancellation stops the retries.
 */
@ExtendWith(LiveServerExtension::class)
class SaveWithRetryTest(private val server: LiveServer) {
    private val fast = SaveRetryPolicy(baseDelay = 20.milliseconds, maxDelay = 100.milliseconds)
    private val uuidV4 = Regex("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

    private class Editor(val token: String, val client: HiveSyncClient, val deviceId: String)

    private fun client(baseUrl: String, token: String) = HiveSyncClient.create(baseUrl) {
        pluginProtocolVersion = LiveServer.CURRENT_PLUGIN_PROTOCOL_VERSION
        tokenProvider = TokenProvider { token }
    }

    private suspend fun editor(): Editor {
        val email = "kotlin-save-retry-${UUID.randomUUID()}@hivesync.test"
        val token = server.createToken(email, "vscode")["access_token"] as String
        val client = client(server.baseUrl, token)
        val device = client.devices.registerDevice(registerDeviceRequest {
            name = "kotlin-sdk save helper"; platform = "linux"; clientVersion = "1.0.0"
        }).getOrThrow().device
        return Editor(token, client, device.id)
    }

    private suspend fun Editor.newFile(content: String): File {
        val project = client.projects.createProject(createProjectRequest { name = "save helper" }).getOrThrow().project
        return client.files.createFile(createFileRequest {
            projectId = project.id; path = "notes/todo.md"; this.content = content
        }).getOrThrow().file
    }

    /** Delegates to [files], recording every attempt's idempotency key. */
    private class Recording(private val files: FileServiceClientInterface) : FileServiceClientInterface by files {
        val keys: MutableList<String> = Collections.synchronizedList(mutableListOf())
        override suspend fun saveFile(request: SaveFileRequest, headers: Headers): ResponseMessage<SaveFileResponse> {
            keys += request.idempotencyKey
            return files.saveFile(request, headers)
        }
    }

    private fun sha256(text: String): String =
        MessageDigest.getInstance("SHA-256").digest(text.toByteArray(Charsets.UTF_8)).joinToString("") { "%02x".format(it) }

    @Test
    fun savedConflictedAndNonRetryableErrors(): Unit = runBlocking {
        val ed = editor()
        val file = ed.newFile("one\ntwo\n")
        val retries = mutableListOf<Int>()

        val first = ed.client.files.saveWithRetry(saveFileRequest {
            fileId = file.id; baseRevisionId = file.head.id; content = "one\n2\n"; deviceId = ed.deviceId
        }, onRetry = { attempt, _, _ -> retries += attempt })
        val saved = assertInstanceOf(SaveOutcome.Saved::class.java, first)
        assertEquals(1, saved.attempts)
        assertEquals(2L, saved.version.revision)
        assertEquals(sha256("one\n2\n"), saved.version.contentSha256)
        assertTrue(uuidV4.matches(saved.idempotencyKey), saved.idempotencyKey)

        // A stale base: Conflicted with the decoded detail, one attempt.
        val second = ed.client.files.saveWithRetry(saveFileRequest {
            fileId = file.id; baseRevisionId = file.head.id; content = "one\ntwo\nthree\n"
        }, onRetry = { attempt, _, _ -> retries += attempt })
        val conflicted = assertInstanceOf(SaveOutcome.Conflicted::class.java, second)
        assertEquals(1, conflicted.attempts)
        assertEquals(emptyList<Int>(), retries, "neither save was retried")
        val c = conflicted.conflict
        assertEquals(file.id, c.fileId)
        assertEquals(file.head.id, c.baseRevisionId)
        assertEquals(saved.version.id, c.headRevisionId)
        assertEquals(2L, c.headRevision)
        assertEquals(saved.version.contentSha256, c.headContentSha256)
        assertEquals(sha256("one\ntwo\nthree\n"), c.clientContentSha256)
        assertTrue("+2" in c.unifiedDiff.lines(), c.unifiedDiff)

        // The caller's key is used as given.
        val key = UUID.randomUUID().toString()
        val own = ed.client.files.saveWithRetry(saveFileRequest {
            fileId = file.id; baseRevisionId = saved.version.id; content = "x\n"; idempotencyKey = key
        })
        assertEquals(key, assertInstanceOf(SaveOutcome.Saved::class.java, own).idempotencyKey)

        // Not retryable: thrown after exactly one call.
        val counting = Recording(ed.client.files)
        val missing = assertThrows<ConnectException> {
            runBlocking {
                counting.saveWithRetry(saveFileRequest {
                    fileId = UUID.randomUUID().toString(); baseRevisionId = saved.version.id; content = "x\n"
                }, fast)
            }
        }
        assertEquals(Code.NOT_FOUND, missing.code)
        assertEquals(1, counting.keys.size)
        assertFalse(missing.isRetryableSave())
        val counting2 = Recording(ed.client.files)
        val malformed = assertThrows<ConnectException> {
            runBlocking {
                counting2.saveWithRetry(saveFileRequest { fileId = file.id; baseRevisionId = "not-a-uuid"; content = "x\n" }, fast)
            }
        }
        assertEquals(Code.INVALID_ARGUMENT, malformed.code)
        assertEquals(1, counting2.keys.size)

        val versions = ed.client.files.listVersions(listVersionsRequest { fileId = file.id }).getOrThrow().versionsList
        assertEquals(listOf(3L, 2L, 1L), versions.map { it.revision })
    }

    @Test
    fun lostAnswerIsRetriedWithTheSameKey(): Unit = runBlocking {
        val ed = editor()
        val file = ed.newFile("a\n")
        TcpProxy(server.port).use { proxy ->
            val via = client(proxy.baseUrl, ed.token)
            val recording = Recording(via.files)
            val errors = mutableListOf<ConnectException>()
            proxy.dropNextAnswers(1)
            val r = recording.saveWithRetry(saveFileRequest {
                fileId = file.id; baseRevisionId = file.head.id; content = "a\nb\n"; deviceId = ed.deviceId
            }, fast, onRetry = { _, _, e -> errors += e })
            assertEquals(1, proxy.dropped.get(), "the first answer was lost")
            val saved = assertInstanceOf(SaveOutcome.Saved::class.java, r)
            assertEquals(2, saved.attempts, "errors: $errors")
            assertEquals(1, errors.size)
            assertTrue(errors[0].isRetryableSave(), errors[0].toString())
            assertEquals(listOf(saved.idempotencyKey, saved.idempotencyKey), recording.keys.toList(), "one key for every attempt")

            val versions = ed.client.files.listVersions(listVersionsRequest { fileId = file.id }).getOrThrow().versionsList
            assertEquals(listOf(2L, 1L), versions.map { it.revision }, "exactly one new version")
            assertEquals(saved.version.id, versions[0].id)
            val head = ed.client.files.getFile(getFileRequest { fileId = file.id }).getOrThrow()
            assertEquals(saved.version.id, head.file.head.id)
            assertEquals("a\nb\n", head.content)

            // Server out of reach: bounded attempts, then the transport error.
            proxy.refusing = true
            proxy.killConnections()
            val counting = Recording(via.files)
            val down = assertThrows<ConnectException> {
                runBlocking {
                    counting.saveWithRetry(saveFileRequest {
                        fileId = file.id; baseRevisionId = saved.version.id; content = "c\n"
                    }, SaveRetryPolicy(maxAttempts = 3, baseDelay = 10.milliseconds))
                }
            }
            assertTrue(down.isRetryableSave(), down.toString())
            assertEquals(3, counting.keys.size)
            assertEquals(1, counting.keys.toSet().size)

            // Cancelling the coroutine stops the retries.
            val job = async {
                via.files.saveWithRetry(saveFileRequest {
                    fileId = file.id; baseRevisionId = saved.version.id; content = "c\n"
                }, SaveRetryPolicy(maxAttempts = 1000, baseDelay = 20.milliseconds, maxDelay = 50.milliseconds))
            }
            delay(200)
            assertFalse(job.isCompleted)
            job.cancel()
            assertThrows<CancellationException> { runBlocking { job.await() } }
            proxy.refusing = false
        }
        val versions = ed.client.files.listVersions(listVersionsRequest { fileId = file.id }).getOrThrow().versionsList
        assertEquals(2, versions.size, "nothing else was stored")
    }
}
