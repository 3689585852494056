package dev.hivesync.sdk

import com.connectrpc.Code
import com.connectrpc.ConnectException
import com.connectrpc.ResponseMessage
import com.connectrpc.getOrThrow
import com.google.protobuf.DescriptorProtos.FileDescriptorProto
import com.google.protobuf.DescriptorProtos.FileDescriptorSet
import com.google.protobuf.Descriptors.FileDescriptor
import com.google.protobuf.DynamicMessage
import com.google.protobuf.Struct
import com.google.protobuf.util.JsonFormat
import com.google.protobuf.util.Timestamps
import dev.hivesync.sdk.v1.ClientType
import dev.hivesync.sdk.v1.Event
import dev.hivesync.sdk.v1.GetCompatibilityResponse
import dev.hivesync.sdk.v1.UpgradeRequired
import dev.hivesync.sdk.v1.event
import dev.hivesync.sdk.v1.getBootstrapConfigRequest
import dev.hivesync.sdk.v1.getCompatibilityRequest
import dev.hivesync.sdk.v1.getEventSchemaRequest
import dev.hivesync.sdk.v1.getServerTimeRequest
import dev.hivesync.sdk.v1.saveFileEvent
import kotlinx.coroutines.runBlocking
import okhttp3.OkHttpClient
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.ExtendWith
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.util.Collections
import kotlin.math.abs

/**
 * The shared smoke scenarios, run with the real Connect client against a live
 * `hivesyncd dev` (see [LiveServer]). No mocks.
 */
@ExtendWith(LiveServerExtension::class)
class MetaServiceSmokeTest(private val server: LiveServer) {
    private val http: HttpClient = HttpClient.newHttpClient()

    private val compatRequest = getCompatibilityRequest {
        clientType = ClientType.CLIENT_TYPE_JETBRAINS
        clientVersion = CLIENT_VERSION
    }

    /**
     * A client; unless [configure] sets `pluginProtocolVersion` it announces the
     * SDK's default, [PLUGIN_PROTOCOL_VERSION] (1), which this server (min 2,
     * current 3) rejects as outdated.
     */
    private fun client(configure: HiveSyncClient.Builder.() -> Unit = {}) =
        HiveSyncClient.create(server.baseUrl, configure)

    private fun restGet(path: String, pluginVersion: Int?): HttpResponse<String> {
        val b = HttpRequest.newBuilder(URI.create(server.baseUrl + path)).GET()
            .header("Accept", "application/json")
        if (pluginVersion != null) b.header(PLUGIN_VERSION_HEADER, pluginVersion.toString())
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString())
    }

    private fun <T> ResponseMessage<T>.expectFailure(): ConnectException = when (this) {
        is ResponseMessage.Failure -> cause
        is ResponseMessage.Success -> throw AssertionError("expected a failure, got $message")
    }

    private fun assertCompatibility(r: GetCompatibilityResponse, sentPluginVersion: Int = CURRENT) {
        assertEquals(CURRENT, r.currentPluginProtocolVersion, "current_plugin_protocol_version")
        assertEquals(MIN, r.minPluginProtocolVersion, "min_plugin_protocol_version")
        assertEquals(3, r.minClientVersion, "min_client_version")
        assertTrue("v1" in r.apiVersionsList, "api_versions ${r.apiVersionsList} contains v1")
        assertEquals(LiveServer.UPGRADE_URL, r.upgradeUrl, "upgrade_url")
        assertEquals(sentPluginVersion, r.pluginProtocolVersion, "plugin_protocol_version echo")
        assertEquals(sentPluginVersion < CURRENT, r.upgradeRecommended, "upgrade_recommended at version $sentPluginVersion")
        assertTrue(r.serverVersion.isNotEmpty(), "server_version")
        assertTrue(r.hasServerTime(), "server_time is set")
        val skewMillis = abs(Timestamps.toMillis(r.serverTime) - System.currentTimeMillis())
        assertTrue(skewMillis < 60_000, "server_time within 60 s of now (off by $skewMillis ms)")
    }

    // 1. GetCompatibility over Connect (binary protobuf, sent as GET) with plugin version 3.
    @Test
    fun compatibilityOverConnect(): Unit = runBlocking {
        val methods = Collections.synchronizedList(mutableListOf<String>())
        val pluginHeaders = Collections.synchronizedList(mutableListOf<String?>())
        val recording = OkHttpClient.Builder().addInterceptor { chain ->
            methods += chain.request().method
            pluginHeaders += chain.request().header(PLUGIN_VERSION_HEADER)
            chain.proceed(chain.request())
        }.build()
        val r = client { pluginProtocolVersion = CURRENT; okHttpClient = recording }
            .meta.getCompatibility(compatRequest).getOrThrow()
        assertCompatibility(r)
        assertFalse(r.upgradeRecommended, "upgrade_recommended at the current version")
        assertEquals(listOf("GET"), methods, "NO_SIDE_EFFECTS method sent as Connect GET")
        assertEquals(listOf("3"), pluginHeaders, "plugin version header sent")
    }

    // 1a. A supported but older plugin (the server's minimum) is told an upgrade is recommended.
    @Test
    fun supportedButOlderPluginIsRecommendedToUpgrade(): Unit = runBlocking {
        val r = client { pluginProtocolVersion = MIN }.meta.getCompatibility(compatRequest).getOrThrow()
        assertCompatibility(r, sentPluginVersion = MIN)
        assertTrue(r.upgradeRecommended, "upgrade_recommended below the current version")
    }

    // 1b. The same over Connect JSON with POST: the SDK's other wire format.
    @Test
    fun compatibilityOverConnectJsonPost(): Unit = runBlocking {
        val c = client { pluginProtocolVersion = CURRENT; wireFormat = WireFormat.JSON; useGetForReads = false }
        assertCompatibility(c.meta.getCompatibility(compatRequest).getOrThrow())
    }

    // 2. The REST route returns the same data as Connect (server_time aside).
    @Test
    fun compatibilityOverRestMatchesConnect(): Unit = runBlocking {
        val viaConnect = client { pluginProtocolVersion = CURRENT }.meta.getCompatibility(compatRequest).getOrThrow()
        val resp = restGet(
            "/api/v1/meta/compatibility?clientType=CLIENT_TYPE_JETBRAINS&clientVersion=$CLIENT_VERSION",
            pluginVersion = CURRENT,
        )
        assertEquals(200, resp.statusCode(), "REST status; body: ${resp.body()}")
        val viaRest = GetCompatibilityResponse.newBuilder()
            .also { JsonFormat.parser().merge(resp.body(), it) }
            .build()
        assertTrue(viaRest.hasServerTime(), "REST server_time is set")
        assertEquals(
            viaConnect.toBuilder().clearServerTime().build(),
            viaRest.toBuilder().clearServerTime().build(),
        )
    }

    // 3. The SDK's default plugin version (1) is older than the server requires (min 2):
    //    a typed UpgradeRequired (PLUGIN_PROTOCOL_TOO_OLD).
    @Test
    fun outdatedPluginGetsTypedUpgradeRequired(): Unit = runBlocking {
        assertEquals(1, PLUGIN_PROTOCOL_VERSION, "the protocol version this SDK speaks")
        for (format in WireFormat.values()) {
            val pluginHeaders = Collections.synchronizedList(mutableListOf<String?>())
            val recording = OkHttpClient.Builder().addInterceptor { chain ->
                pluginHeaders += chain.request().header(PLUGIN_VERSION_HEADER)
                chain.proceed(chain.request())
            }.build()
            val c = client { wireFormat = format; okHttpClient = recording } // the SDK's default plugin version
            val err = c.meta.getCompatibility(compatRequest).expectFailure()
            assertEquals(listOf("1"), pluginHeaders, "default plugin version header sent ($format)")
            assertEquals(Code.FAILED_PRECONDITION, err.code, "code ($format)")
            val up = err.upgradeRequired ?: throw AssertionError("no UpgradeRequired detail ($format): $err")
            assertEquals(UpgradeRequired.Reason.REASON_PLUGIN_PROTOCOL_TOO_OLD, up.reason)
            assertEquals(1, up.clientVersion, "client_version")
            assertEquals(MIN, up.minSupportedVersion, "min_supported_version")
            assertEquals(CURRENT, up.currentVersion, "current_version")
            assertEquals(LiveServer.UPGRADE_URL, up.upgradeUrl, "upgrade_url")
            assertEquals(listOf(up), err.hiveSyncDetails, "hiveSyncDetails")
            assertEquals(null, err.entitlementRequired)
        }
    }

    // 3b. Over REST the same typed detail comes back in the HTTP 400 status body.
    @Test
    fun outdatedPluginOverRestGetsTypedUpgradeRequired() {
        val resp = restGet(
            "/api/v1/meta/compatibility?clientVersion=$CLIENT_VERSION",
            pluginVersion = PLUGIN_PROTOCOL_VERSION,
        )
        assertEquals(400, resp.statusCode(), "REST status; body: ${resp.body()}")
        val err = RestError.parse(resp.body()) ?: throw AssertionError("not a status body: ${resp.body()}")
        assertEquals(Code.FAILED_PRECONDITION, err.code)
        val up = err.upgradeRequired ?: throw AssertionError("no UpgradeRequired detail: $err")
        assertEquals(UpgradeRequired.Reason.REASON_PLUGIN_PROTOCOL_TOO_OLD, up.reason)
        assertEquals(PLUGIN_PROTOCOL_VERSION, up.clientVersion)
        assertEquals(MIN, up.minSupportedVersion)
        assertEquals(CURRENT, up.currentVersion)
        assertEquals(LiveServer.UPGRADE_URL, up.upgradeUrl)
    }

    // A non-integer plugin version header is invalid_argument.
    @Test
    fun malformedPluginHeaderIsInvalidArgument(): Unit = runBlocking {
        val err = client { pluginProtocolVersion = null }.meta
            .getCompatibility(compatRequest, mapOf(PLUGIN_VERSION_HEADER to listOf("abc")))
            .expectFailure()
        assertEquals(Code.INVALID_ARGUMENT, err.code, "code: $err")
    }

    // 4. A client build below min_client_version gets UpgradeRequired (CLIENT_TOO_OLD).
    @Test
    fun outdatedClientGetsTypedUpgradeRequired(): Unit = runBlocking {
        val err = client { pluginProtocolVersion = CURRENT }.meta.getCompatibility(
            getCompatibilityRequest {
                clientType = ClientType.CLIENT_TYPE_JETBRAINS
                clientVersion = 1
            },
        ).expectFailure()
        assertEquals(Code.FAILED_PRECONDITION, err.code)
        val up = err.upgradeRequired ?: throw AssertionError("no UpgradeRequired detail: $err")
        assertEquals(UpgradeRequired.Reason.REASON_CLIENT_TOO_OLD, up.reason)
        assertEquals(1, up.clientVersion, "client_version")
        assertEquals(3, up.minSupportedVersion, "min_supported_version")
        assertEquals(LiveServer.UPGRADE_URL, up.upgradeUrl, "upgrade_url")
    }

    // 5. Bootstrap config over REST: snake_case keys, and allowed for an outdated plugin.
    @Test
    fun bootstrapOverRestIsSnakeCaseAndSkipsVersionCheck(): Unit = runBlocking {
        val resp = restGet("/api/v1/meta/bootstrap", pluginVersion = PLUGIN_PROTOCOL_VERSION)
        assertEquals(200, resp.statusCode(), "REST status; body: ${resp.body()}")
        val body = Struct.newBuilder().also { JsonFormat.parser().merge(resp.body(), it) }.build()
        for (key in listOf("api_base", "ws_base", "min_client_version", "recommended_upgrade_url")) {
            assertTrue(body.containsFields(key), "key $key in ${body.fieldsMap.keys}")
        }
        assertEquals(3.0, body.getFieldsOrThrow("min_client_version").numberValue)

        // The same through the SDK with its default (outdated) version: not rejected either.
        val old = client()
        val config = old.meta.getBootstrapConfig(getBootstrapConfigRequest {}).getOrThrow().config
        assertEquals(3, config.minClientVersion)
        assertEquals(body.getFieldsOrThrow("api_base").stringValue, config.apiBase)
        old.meta.getServerTime(getServerTimeRequest {}).getOrThrow()
    }

    // 6. The event schema lists the spec's event types and its descriptors decode.
    @Test
    fun eventSchemaListsEventsAndDescriptorsDecode(): Unit = runBlocking {
        val schema = client { pluginProtocolVersion = CURRENT }.meta.getEventSchema(getEventSchemaRequest {}).getOrThrow()
        assertEquals("hivesync.v1.Event", schema.envelopeMessage)
        val types = schema.eventTypesList.map { it.spec.eventType }
        for (t in listOf("auth", "save_file", "admin.message", "migration.notice")) {
            assertTrue(t in types, "event type $t in $types")
        }
        val files = schema.descriptors.fileList.map { it.name }
        assertTrue("hivesync/v1/events.proto" in files, "events.proto in $files")

        // Decode a real event with only the served descriptors.
        val envelope = buildFiles(schema.descriptors).getValue("hivesync/v1/events.proto")
            .findMessageTypeByName("Event")
        val sent = event {
            id = "e-1"
            eventType = "save_file"
            sequence = 7
            saveFile = saveFileEvent { path = "src/App.tsx"; revision = 12 }
        }
        val decoded = DynamicMessage.parseFrom(envelope, sent.toByteArray())
        assertEquals("save_file", decoded.getField(envelope.findFieldByName("event_type")))
        val payload = decoded.getField(envelope.findFieldByName("save_file")) as DynamicMessage
        assertEquals("src/App.tsx", payload.getField(payload.descriptorForType.findFieldByName("path")))
        assertEquals(sent, Event.parseFrom(decoded.toByteArray()))
        val saveFile = schema.eventTypesList.first { it.spec.eventType == "save_file" }
        assertEquals("hivesync.v1.SaveFileEvent", saveFile.payloadMessage)
        assertEquals("save_file", saveFile.payloadField)
    }

    // The token hook puts a bearer token on the wire.
    @Test
    fun tokenProviderSendsBearerToken(): Unit = runBlocking {
        val auth = Collections.synchronizedList(mutableListOf<String?>())
        val recording = OkHttpClient.Builder().addInterceptor { chain ->
            auth += chain.request().header("Authorization")
            chain.proceed(chain.request())
        }.build()
        client { pluginProtocolVersion = CURRENT; okHttpClient = recording; tokenProvider = TokenProvider { null } }
            .meta.getServerTime(getServerTimeRequest {}).getOrThrow()
        // Whatever the server makes of a token on a public method, the header is sent.
        client { pluginProtocolVersion = CURRENT; okHttpClient = recording; tokenProvider = TokenProvider { "tok-123" } }
            .meta.getServerTime(getServerTimeRequest {})
        assertEquals(listOf(null, "Bearer tok-123"), auth)
    }

    private companion object {
        const val CLIENT_VERSION = 5
        const val MIN = LiveServer.MIN_PLUGIN_PROTOCOL_VERSION
        const val CURRENT = LiveServer.CURRENT_PLUGIN_PROTOCOL_VERSION

        /** Builds every file of [set], resolving dependencies inside the set. */
        fun buildFiles(set: FileDescriptorSet): Map<String, FileDescriptor> {
            val protos = set.fileList.associateBy(FileDescriptorProto::getName)
            val built = mutableMapOf<String, FileDescriptor>()
            fun build(name: String): FileDescriptor = built[name] ?: run {
                val proto = protos[name] ?: error("descriptor set lacks $name (needed by a served file)")
                FileDescriptor.buildFrom(proto, proto.dependencyList.map(::build).toTypedArray())
                    .also { built[name] = it }
            }
            protos.keys.forEach(::build)
            return built
        }
    }
}
