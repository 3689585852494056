package dev.hivesync.sdk

import com.connectrpc.Code
import com.connectrpc.ConnectException
import com.connectrpc.ResponseMessage
import com.connectrpc.getOrThrow
import dev.hivesync.sdk.v1.File
import dev.hivesync.sdk.v1.createFileRequest
import dev.hivesync.sdk.v1.createProjectRequest
import dev.hivesync.sdk.v1.getFileRequest
import dev.hivesync.sdk.v1.listVersionsRequest
import dev.hivesync.sdk.v1.registerDeviceRequest
import dev.hivesync.sdk.v1.saveFileRequest
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import java.security.MessageDigest
import java.util.UUID

/**
 * The shared SDK scenario "two devices edit the same file", against a live
 * `hivesyncd dev` (see [LiveServer]). The two devices are two sessions of one
 * user (`hivesyncd token create --client vscode` and `--client jetbrains`), each
 * registered with DeviceService. No mocks.
 */
@ExtendWith(LiveServerExtension::class)
class FileConflictTest(private val server: LiveServer) {
    /** One editor: a client with its own session, registered as a device. */
    private class Device(val client: HiveSyncClient, val id: String)

    private fun uniqueEmail(tag: String) = "kotlin-$tag-${UUID.randomUUID()}@hivesync.test"

    private suspend fun device(email: String, clientId: String): Device {
        val token = server.createToken(email, clientId)["access_token"] as String
        val client = HiveSyncClient.create(server.baseUrl) {
            pluginProtocolVersion = LiveServer.CURRENT_PLUGIN_PROTOCOL_VERSION
            tokenProvider = TokenProvider { token }
        }
        val registered = client.devices.registerDevice(registerDeviceRequest {
            name = "kotlin-sdk $clientId"
            platform = "linux"
            clientVersion = "1.0.0"
        }).getOrThrow()
        return Device(client, registered.device.id)
    }

    /** Device A creates a project and [path] with [content]. */
    private suspend fun Device.createFile(path: String, content: String): File {
        val project = client.projects.createProject(createProjectRequest { name = "Kotlin SDK conflict" }).getOrThrow().project
        return client.files.createFile(createFileRequest {
            projectId = project.id
            this.path = path
            this.content = content
        }).getOrThrow().file
    }

    private fun <T> ResponseMessage<T>.failure(): ConnectException = when (this) {
        is ResponseMessage.Failure -> cause
        is ResponseMessage.Success -> throw AssertionError("expected a failure, got $message")
    }

    /** Hex SHA-256 of UTF-8 text, computed here independently of the SDK. */
    private fun sha256(text: String): String =
        MessageDigest.getInstance("SHA-256").digest(text.toByteArray(Charsets.UTF_8)).joinToString("") { "%02x".format(it) }

    @Test
    fun twoDevicesEditTheSameFile(): Unit = runBlocking {
        val email = uniqueEmail("conflict")
        val a = device(email, "vscode")
        val b = device(email, "jetbrains")
        assertNotEquals(a.id, b.id, "two registered devices")

        // 1. Device A creates a project and src/app.ts.
        val file = a.createFile("src/app.ts", "a\nb\n")
        assertEquals("src/app.ts", file.path)
        assertEquals(1L, file.head.revision)

        // 2. Both devices read the same head.
        val readA = a.client.files.getFile(getFileRequest { fileId = file.id }).getOrThrow()
        val readB = b.client.files.getFile(getFileRequest { fileId = file.id }).getOrThrow()
        val base = readA.file.head.id
        assertEquals(file.head.id, base)
        assertEquals(base, readB.file.head.id, "both devices start from the same head")
        assertEquals("a\nb\n", readB.content)

        // 3. Device A saves first and wins.
        val savedA = a.client.files.saveFile(saveFileRequest {
            fileId = file.id
            baseRevisionId = base
            content = "a\nB\n"
            idempotencyKey = UUID.randomUUID().toString()
            deviceId = a.id
        }).getOrThrow().version
        assertEquals(2L, savedA.revision)
        assertEquals(a.id, savedA.deviceId)

        // 4. Device B saves on the old base: aborted, with a typed Conflict detail.
        val contentB = "a\nb\nc\n"
        val err = b.client.files.saveFile(saveFileRequest {
            fileId = file.id
            baseRevisionId = readB.file.head.id
            content = contentB
            idempotencyKey = UUID.randomUUID().toString()
            deviceId = b.id
        }).failure()
        assertEquals(Code.ABORTED, err.code)
        val conflict = err.conflict ?: throw AssertionError("no Conflict detail in $err (details: ${err.details.map { it.type }})")
        assertEquals(file.id, conflict.fileId)
        assertEquals("src/app.ts", conflict.path)
        assertEquals(base, conflict.baseRevisionId)
        assertEquals(savedA.id, conflict.headRevisionId, "head is A's new version")
        assertEquals(2L, conflict.headRevision)
        assertEquals(savedA.contentSha256, conflict.headContentSha256)
        assertEquals(sha256("a\nB\n"), conflict.headContentSha256)
        assertEquals(sha256(contentB), conflict.clientContentSha256, "sha256 of B's rejected content")
        assertEquals(contentSha256(contentB), conflict.clientContentSha256)
        val diffLines = conflict.unifiedDiff.lines()
        assertTrue("-b" in diffLines && "+B" in diffLines, "diff from B's base to the head:\n${conflict.unifiedDiff}")
        assertEquals(listOf(conflict), err.hiveSyncDetails, "the only detail is the Conflict")

        // 5. Nothing was overwritten.
        val afterConflict = b.client.files.getFile(getFileRequest { fileId = file.id }).getOrThrow()
        assertEquals("a\nB\n", afterConflict.content, "A's content is the head")
        assertEquals(savedA.id, afterConflict.file.head.id)
        val twoVersions = b.client.files.listVersions(listVersionsRequest { fileId = file.id }).getOrThrow().versionsList
        assertEquals(listOf(2L, 1L), twoVersions.map { it.revision }, "exactly 2 versions, newest first")

        // 6. B merges and saves on the head the Conflict named.
        val merged = "a\nB\nc\n"
        val resolve = saveFileRequest {
            fileId = file.id
            baseRevisionId = conflict.headRevisionId
            content = merged
            idempotencyKey = UUID.randomUUID().toString()
            deviceId = b.id
        }
        val savedB = b.client.files.saveFile(resolve).getOrThrow().version
        assertEquals(3L, savedB.revision)
        assertEquals(b.id, savedB.deviceId)
        assertEquals(sha256(merged), savedB.contentSha256)

        // 7. The same save retried (same idempotency key, now-stale base) returns
        //    the version the first attempt created; no 4th version.
        val retried = b.client.files.saveFile(resolve).getOrThrow().version
        assertEquals(savedB.id, retried.id)
        assertEquals(3L, retried.revision)
        val versions = a.client.files.listVersions(listVersionsRequest { fileId = file.id }).getOrThrow().versionsList
        assertEquals(listOf(3L, 2L, 1L), versions.map { it.revision }, "exactly 3 versions")
        assertEquals(listOf(savedB.id, savedA.id, base), versions.map { it.id })
        assertEquals(listOf(b.id, a.id), versions.take(2).map { it.deviceId }, "each save records its device")
        val head = a.client.files.getFile(getFileRequest { fileId = file.id }).getOrThrow()
        assertEquals(merged, head.content)
        assertEquals(savedB.id, head.file.head.id)
    }

    // The typed helper: Saved, Conflicted, and every other failure thrown.
    @Test
    fun saveOrConflictTypesTheOutcome(): Unit = runBlocking {
        val email = uniqueEmail("save-outcome")
        val a = device(email, "vscode")
        val b = device(email, "jetbrains")
        val file = a.createFile("notes/todo.md", "one\r\ntwo\r\n")
        assertEquals(contentSha256("one\r\ntwo\r\n"), file.head.contentSha256, "CRLF is hashed as stored, as LF")
        assertEquals(sha256("one\ntwo\n"), file.head.contentSha256)

        val first = a.client.files.saveOrConflict(saveFileRequest {
            fileId = file.id; baseRevisionId = file.head.id; content = "one\n2\n"; deviceId = a.id
        })
        val saved = assertInstanceOf(SaveOutcome.Saved::class.java, first).version
        assertEquals(2L, saved.revision)

        val second = b.client.files.saveOrConflict(saveFileRequest {
            fileId = file.id; baseRevisionId = file.head.id; content = "one\ntwo\nthree\n"; deviceId = b.id
        })
        val conflict = assertInstanceOf(SaveOutcome.Conflicted::class.java, second).conflict
        assertEquals(saved.id, conflict.headRevisionId)
        assertEquals(2L, conflict.headRevision)
        assertEquals(contentSha256("one\ntwo\nthree\n"), conflict.clientContentSha256)

        // Not a conflict: an unknown file is thrown as not_found, a malformed base as invalid_argument.
        val missing = assertThrows<ConnectException> {
            runBlocking {
                b.client.files.saveOrConflict(saveFileRequest {
                    fileId = UUID.randomUUID().toString(); baseRevisionId = saved.id; content = "x\n"
                })
            }
        }
        assertEquals(Code.NOT_FOUND, missing.code)
        val malformed = assertThrows<ConnectException> {
            runBlocking {
                b.client.files.saveOrConflict(saveFileRequest { fileId = file.id; baseRevisionId = "not-a-uuid"; content = "x\n" })
            }
        }
        assertEquals(Code.INVALID_ARGUMENT, malformed.code)
        assertEquals(null, malformed.conflict)
    }
}
