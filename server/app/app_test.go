package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

type testBundle struct {
	baseURL string
	app     *app.App
	mail    *captureMailer
	cfg     *app.Config
	store   *store.Store
	// h1 speaks HTTP/1.1 only; h2c speaks cleartext HTTP/2 only.
	h1, h2c *http.Client
	stop    func() error
}

// setup runs a real node on a loopback port against a fresh database.
func setup(t *testing.T, mode app.Mode, vars map[string]string) *testBundle {
	t.Helper()
	pool := storetest.Pool(t)
	all := map[string]string{
		"HIVESYNC_DATABASE_URL":                    "postgres://unused",
		"HIVESYNC_HTTP_ADDR":                       "127.0.0.1:0",
		"HIVESYNC_MIN_PLUGIN_PROTOCOL_VERSION":     "2",
		"HIVESYNC_CURRENT_PLUGIN_PROTOCOL_VERSION": "3",
		"HIVESYNC_MIN_CLIENT_VERSION":              "3",
		"HIVESYNC_UPGRADE_URL":                     "https://hivesync.test/download",
		"HIVESYNC_NODE_ID":                         "node-" + strings.ReplaceAll(t.Name(), "/", "-"),
		"HIVESYNC_ADMIN_MESSAGE_LOG":               filepath.Join(t.TempDir(), "admin-messages.log"),
	}
	for k, v := range vars {
		all[k] = v
	}
	cfg, err := app.LoadConfig(mode, env(all))
	require.NoError(t, err)
	mail := &captureMailer{}
	a, err := app.New(app.Options{Mode: mode, Config: cfg, Pool: pool, Log: slog.New(slog.DiscardHandler), Mailer: mail})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()

	var h1p, h2p http.Protocols
	h1p.SetHTTP1(true)
	h2p.SetUnencryptedHTTP2(true)
	b := &testBundle{
		baseURL: "http://" + ln.Addr().String(),
		app:     a,
		mail:    mail,
		cfg:     cfg,
		store:   store.New(pool),
		h1:      &http.Client{Transport: &http.Transport{Protocols: &h1p}, Timeout: 30 * time.Second},
		h2c:     &http.Client{Transport: &http.Transport{Protocols: &h2p}, Timeout: 30 * time.Second},
	}
	stopped := false
	b.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("server did not stop")
		}
	}
	t.Cleanup(func() { require.NoError(t, b.stop()) })
	require.Eventually(t, func() bool {
		resp, err := b.h1.Get(b.baseURL + "/health/ready")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond)
	return b
}

// captureMailer records mail instead of sending it (the network edge).
type captureMailer struct {
	mu   sync.Mutex
	sent []sentMail
	fail error // when set, Send fails with it (a mail server that refuses)
}

type sentMail struct{ to, subject, body string }

func (m *captureMailer) Send(_ context.Context, to, subject, body string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.sent = append(m.sent, sentMail{to, subject, body})
	return nil
}

func (m *captureMailer) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sent)
}

func (m *captureMailer) failWith(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}

func (m *captureMailer) last() sentMail {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.sent) == 0 {
		return sentMail{}
	}
	return m.sent[len(m.sent)-1]
}

// pluginVersion sets the plugin protocol header on every call.
func pluginVersion(v string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set(access.PluginVersionHeader, v)
			return next(ctx, req)
		}
	}))
}

func typedDetail[T proto.Message](t *testing.T, err error) T {
	t.Helper()
	var ce *connect.Error
	require.Truef(t, errors.As(err, &ce), "not a connect error: %v", err)
	for _, d := range ce.Details() {
		v, derr := d.Value()
		require.NoError(t, derr)
		if typed, ok := v.(T); ok {
			return typed
		}
	}
	var zero T
	t.Fatalf("no %T detail in %v", zero, err)
	return zero
}

func TestCompatibilityOverEveryProtocol(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	req := &hivesyncv1.GetCompatibilityRequest{ClientType: hivesyncv1.ClientType_CLIENT_TYPE_VSCODE, ClientVersion: 5}

	clients := map[string]hivesyncv1connect.MetaServiceClient{
		"connect_json_http1": hivesyncv1connect.NewMetaServiceClient(b.h1, b.baseURL, connect.WithProtoJSON(), pluginVersion("3")),
		"connect_proto_h2c":  hivesyncv1connect.NewMetaServiceClient(b.h2c, b.baseURL, pluginVersion("3")),
		"connect_get_http1":  hivesyncv1connect.NewMetaServiceClient(b.h1, b.baseURL, connect.WithHTTPGet(), pluginVersion("3")),
		"grpc_h2c":           hivesyncv1connect.NewMetaServiceClient(b.h2c, b.baseURL, connect.WithGRPC(), pluginVersion("3")),
		"grpc_web_http1":     hivesyncv1connect.NewMetaServiceClient(b.h1, b.baseURL, connect.WithGRPCWeb(), pluginVersion("3")),
	}
	var first *hivesyncv1.GetCompatibilityResponse
	for name, client := range clients {
		resp, err := client.GetCompatibility(ctx, req)
		require.NoError(t, err, name)
		require.EqualValues(t, 3, resp.GetCurrentPluginProtocolVersion(), name)
		require.EqualValues(t, 2, resp.GetMinPluginProtocolVersion(), name)
		require.EqualValues(t, 3, resp.GetMinClientVersion(), name)
		require.EqualValues(t, 3, resp.GetPluginProtocolVersion(), name)
		require.False(t, resp.GetUpgradeRecommended(), name)
		require.Equal(t, []string{"v1"}, resp.GetApiVersions(), name)
		require.Equal(t, "https://hivesync.test/download", resp.GetUpgradeUrl(), name)
		require.WithinDuration(t, time.Now(), resp.GetServerTime().AsTime(), time.Minute, name)
		resp.ServerTime = nil
		if first == nil {
			first = resp
		}
		require.True(t, proto.Equal(first, resp), name)
	}

	// The same data over REST.
	httpReq, err := http.NewRequest(http.MethodGet, b.baseURL+"/api/v1/meta/compatibility?clientType=CLIENT_TYPE_VSCODE&clientVersion=5", nil)
	require.NoError(t, err)
	httpReq.Header.Set(access.PluginVersionHeader, "3")
	resp, err := b.h1.Do(httpReq)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var rest hivesyncv1.GetCompatibilityResponse
	require.NoError(t, protojson.Unmarshal(body, &rest))
	rest.ServerTime = nil
	require.True(t, proto.Equal(first, &rest), "REST %s", body)

	// An older but supported plugin is told an upgrade is available.
	older, err := clients["connect_json_http1"].GetCompatibility(ctx, &hivesyncv1.GetCompatibilityRequest{})
	require.NoError(t, err)
	require.EqualValues(t, 3, older.GetPluginProtocolVersion())
	old := hivesyncv1connect.NewMetaServiceClient(b.h1, b.baseURL, pluginVersion("2"))
	olderResp, err := old.GetCompatibility(ctx, &hivesyncv1.GetCompatibilityRequest{})
	require.NoError(t, err)
	require.True(t, olderResp.GetUpgradeRecommended())
}

func TestOutdatedClientsGetTypedUpgradeRequired(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()

	outdated := hivesyncv1connect.NewMetaServiceClient(b.h1, b.baseURL, pluginVersion("1"))
	_, err := outdated.GetCompatibility(ctx, &hivesyncv1.GetCompatibilityRequest{})
	require.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err))
	d := typedDetail[*hivesyncv1.UpgradeRequired](t, err)
	require.Equal(t, hivesyncv1.UpgradeRequired_REASON_PLUGIN_PROTOCOL_TOO_OLD, d.GetReason())
	require.EqualValues(t, 1, d.GetClientVersion())
	require.EqualValues(t, 2, d.GetMinSupportedVersion())
	require.EqualValues(t, 3, d.GetCurrentVersion())
	require.Equal(t, "https://hivesync.test/download", d.GetUpgradeUrl())

	// Discovery keeps working for an outdated client, so it can find the upgrade.
	boot, err := outdated.GetBootstrapConfig(ctx, &hivesyncv1.GetBootstrapConfigRequest{})
	require.NoError(t, err)
	require.Equal(t, "https://hivesync.test/download", boot.GetConfig().GetRecommendedUpgradeUrl())
	_, err = outdated.GetServerTime(ctx, &hivesyncv1.GetServerTimeRequest{})
	require.NoError(t, err)

	current := hivesyncv1connect.NewMetaServiceClient(b.h1, b.baseURL, pluginVersion("3"))
	_, err = current.GetCompatibility(ctx, &hivesyncv1.GetCompatibilityRequest{ClientVersion: 2})
	d = typedDetail[*hivesyncv1.UpgradeRequired](t, err)
	require.Equal(t, hivesyncv1.UpgradeRequired_REASON_CLIENT_TOO_OLD, d.GetReason())

	// Over REST the detail arrives as a google.rpc.Status body with HTTP 400.
	req, err := http.NewRequest(http.MethodGet, b.baseURL+"/api/v1/meta/compatibility", nil)
	require.NoError(t, err)
	req.Header.Set(access.PluginVersionHeader, "1")
	resp, err := b.h1.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	var status struct {
		Code    int              `json:"code"`
		Details []map[string]any `json:"details"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&status))
	require.Equal(t, int(connect.CodeFailedPrecondition), status.Code)
	require.Len(t, status.Details, 1)
	require.Equal(t, "type.googleapis.com/hivesync.v1.UpgradeRequired", status.Details[0]["@type"])
	require.Equal(t, "REASON_PLUGIN_PROTOCOL_TOO_OLD", status.Details[0]["reason"])

	// A malformed header is a clear invalid_argument, not a silent pass.
	_, err = hivesyncv1connect.NewMetaServiceClient(b.h1, b.baseURL, pluginVersion("v2")).GetCompatibility(ctx, &hivesyncv1.GetCompatibilityRequest{})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
}

func TestBootstrapConfigHasTheSpecShape(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_FALLBACK_API_URL": "https://api2.hivesync.test"})
	resp, err := b.h1.Get(b.baseURL + "/api/v1/meta/bootstrap")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var doc map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	require.Equal(t, b.baseURL, doc["api_base"], "port 0 resolves to the bound port")
	require.Equal(t, strings.Replace(b.baseURL, "http://", "ws://", 1)+"/api/v1/ws", doc["ws_base"])
	require.EqualValues(t, 3, doc["min_client_version"], "a JSON number, as in spec §33.2")
	require.Equal(t, "https://hivesync.test/download", doc["recommended_upgrade_url"])
	require.Equal(t, "https://api2.hivesync.test", doc["fallback_api_base"])
	require.Equal(t, "wss://api2.hivesync.test/api/v1/ws", doc["fallback_ws_base"])
	require.EqualValues(t, 1, doc["config_version"])
}

func TestServerTimeAndEventSchema(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	client := hivesyncv1connect.NewMetaServiceClient(b.h1, b.baseURL, pluginVersion("3"))
	ctx := context.Background()

	resp, err := b.h1.Get(b.baseURL + "/api/v1/meta/time?clientTime=2020-01-01T00:00:00Z")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	var st hivesyncv1.GetServerTimeResponse
	require.NoError(t, protojson.Unmarshal(body, &st), string(body))
	require.Greater(t, st.GetDrift().AsDuration(), 24*time.Hour, "drift from a 2020 clock")
	require.Equal(t, 120*time.Second, st.GetDriftWarningThreshold().AsDuration())

	schema, err := client.GetEventSchema(ctx, &hivesyncv1.GetEventSchemaRequest{})
	require.NoError(t, err)
	require.Equal(t, "hivesync.v1.Event", schema.GetEnvelopeMessage())
	types := map[string]string{}
	for _, et := range schema.GetEventTypes() {
		types[et.GetSpec().GetEventType()] = et.GetPayloadMessage()
	}
	for _, want := range []string{"auth", "device_register", "preview_request", "preview_available", "diff_update",
		"live_preview_toggle", "save_file", "build_result", "rollback_notice", "error", "task.created",
		"admin.message", "migration.notice", "entitlement.updated", "version.state_changed", "preview.status", "preview.failed"} {
		require.Contains(t, types, want)
	}
	require.Equal(t, "hivesync.v1.AdminMessageEvent", types["admin.message"])
	var files []string
	for _, f := range schema.GetDescriptors().GetFile() {
		files = append(files, f.GetName())
	}
	require.Contains(t, files, "hivesync/v1/events.proto")
	require.Contains(t, files, "google/protobuf/timestamp.proto")
}

func TestHealthProbesAndMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	get := func(path string) (int, map[string]any) {
		resp, err := b.h1.Get(b.baseURL + path)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	code, h := get("/healthz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok", h["status"])
	require.Equal(t, "ok", h["db"])
	require.Equal(t, "ok", h["workers"])

	code, h = get("/health/ready")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, true, h["ready"])

	code, h = get("/health/db")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok", h["status"])
	require.Equal(t, h["schema_version"], h["latest_schema_version"])
	require.NotZero(t, h["river_version"])

	require.Eventually(t, func() bool {
		_, h = get("/health/env")
		nodes, _ := h["nodes"].([]any)
		return len(nodes) == 1
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, b.cfg.Hash(), h["config_hash"])
	require.Equal(t, true, h["consistent"])

	// Another node with a different configuration shows up as inconsistent.
	_, err := b.store.Pool().Exec(context.Background(),
		"INSERT INTO nodes VALUES ('other', 'serve', 'v', 'different', now(), now())")
	require.NoError(t, err)
	_, h = get("/health/env")
	require.Equal(t, false, h["consistent"])

	// Metrics count the calls made so far, by procedure and code.
	client := hivesyncv1connect.NewMetaServiceClient(b.h1, b.baseURL)
	_, err = client.GetServerTime(context.Background(), &hivesyncv1.GetServerTimeRequest{})
	require.NoError(t, err)
	resp, err := b.h1.Get(b.baseURL + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Contains(t, string(metrics), `hivesync_rpc_requests_total{code="ok",procedure="/hivesync.v1.MetaService/GetServerTime"} 1`)

	// gRPC health and reflection answer over HTTP/2.
	hc, err := b.h2c.Post(b.baseURL+"/grpc.health.v1.Health/Check", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	hcBody, _ := io.ReadAll(hc.Body)
	_ = hc.Body.Close()
	require.Equal(t, http.StatusOK, hc.StatusCode)
	require.Contains(t, string(hcBody), "SERVING")
	stream := grpcreflect.NewClient(b.h2c, b.baseURL).NewStream(context.Background())
	names, err := stream.ListServices()
	require.NoError(t, err)
	require.Contains(t, names, protoreflect.FullName("hivesync.v1.MetaService"))
	_, _ = stream.Close()
}

func TestOversizeRequestsGetTypedLimitExceeded(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_MAX_REQUEST_BYTES": "2048"})
	big := bytes.Repeat([]byte("x"), 4096)

	// Connect protocol: the typed detail in the Connect error.
	req, err := http.NewRequest(http.MethodPost, b.baseURL+"/hivesync.v1.MetaService/GetCompatibility", bytes.NewReader(big))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Connect-Protocol-Version", "1")
	resp, err := b.h1.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(body))
	require.Contains(t, string(body), `"code":"invalid_argument"`)
	require.Contains(t, string(body), "hivesync.v1.LimitExceeded")

	// The generated client decodes it.
	client := hivesyncv1connect.NewMetaServiceClient(b.h1, b.baseURL, connect.WithProtoJSON())
	_, err = client.GetCompatibility(context.Background(), &hivesyncv1.GetCompatibilityRequest{ClientType: hivesyncv1.ClientType_CLIENT_TYPE_CLI,
		ClientVersion: 5})
	require.NoError(t, err, "small requests pass")
	var ce *connect.Error
	err = connect.NewError(connect.CodeInvalidArgument, errors.New("x"))
	require.True(t, errors.As(err, &ce))

	// REST: a google.rpc.Status body.
	req, err = http.NewRequest(http.MethodPost, b.baseURL+"/api/v1/meta/compatibility", bytes.NewReader(big))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err = b.h1.Do(req)
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, string(body), `"@type":"type.googleapis.com/hivesync.v1.LimitExceeded"`)
	require.Contains(t, string(body), `"limit":"LIMIT_REQUEST_SIZE"`)
}

func TestGracefulShutdownDeregistersTheNode(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	require.Eventually(t, func() bool {
		nodes, err := b.store.NodeListActive(ctx, time.Now().Add(-time.Hour))
		return err == nil && len(nodes) == 1
	}, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, b.stop())
	nodes, err := b.store.NodeListActive(ctx, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.Empty(t, nodes)
	resp, err := b.h1.Get(b.baseURL + "/healthz")
	if err == nil {
		_ = resp.Body.Close()
	}
	require.Error(t, err, "the listener is closed")
}

func TestWorkerModeServesOnlyProbes(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeWorker, nil)
	resp, err := b.h1.Get(b.baseURL + "/api/v1/meta/compatibility")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, err = b.h1.Get(b.baseURL + "/healthz")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
