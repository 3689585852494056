// Package bench measures HiveSync against baselines run in the same process,
// so results are ratios that survive noisy machines. Run with `make bench`;
// results are reported in BENCHMARKS.md. Nothing here is a pass/fail test.
package bench

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/store/storetest"
)

// TestMain runs the benchmarks with the garbage collector set as hivesyncd
// sets it (app.TuneRuntime), on a private Postgres.
func TestMain(m *testing.M) {
	app.TuneRuntime(os.Getenv, slog.New(slog.DiscardHandler))
	storetest.Main(m)
}

// serve runs handler on a loopback port for the benchmark.
func serve(b *testing.B, handler http.Handler) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	srv := &http.Server{Handler: handler}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// serveNode runs a whole node (app.Serve: workers, the event hub, the
// session-standing listener, the heartbeat) on a loopback port, as
// hivesyncd does, until the benchmark ends, and returns its base URL once it
// is ready.
func serveNode(b *testing.B, a *app.App) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	b.Cleanup(func() {
		cancel()
		require.NoError(b, <-done)
	})
	base := "http://" + ln.Addr().String()
	require.Eventually(b, func() bool {
		resp, err := http.Get(base + "/health/ready")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond)
	return base
}

func node(b *testing.B) string {
	b.Helper()
	cfg, err := app.LoadConfig(app.ModeServe, func(k string) string {
		return map[string]string{"HIVESYNC_DATABASE_URL": "postgres://unused", "HIVESYNC_HTTP_ADDR": "127.0.0.1:0"}[k]
	})
	require.NoError(b, err)
	a, err := app.New(app.Options{Mode: app.ModeServe, Config: cfg, Pool: storetest.Pool(b), Log: slog.New(slog.DiscardHandler)})
	require.NoError(b, err)
	return serve(b, a.Handler())
}

// BenchmarkCompatibility compares one GetCompatibility call through the whole
// stack (vanguard, access and version interceptors, logging, metrics, Connect)
// with a bare net/http handler writing the same pre-encoded JSON answer over
// the same loopback HTTP/1.1 client: the baseline is the floor any Go HTTP
// server pays, so the ratio is HiveSync's own overhead.
func BenchmarkCompatibility(b *testing.B) {
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: transport}
	b.Cleanup(transport.CloseIdleConnections)
	req := &hivesyncv1.GetCompatibilityRequest{ClientType: hivesyncv1.ClientType_CLIENT_TYPE_VSCODE, ClientVersion: 5}

	b.Run("baseline_net_http_json", func(b *testing.B) {
		body, err := protojson.Marshal(&hivesyncv1.GetCompatibilityResponse{ServerVersion: "x", ApiVersions: []string{"v1"}})
		require.NoError(b, err)
		base := serve(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}))
		b.ReportAllocs()
		for b.Loop() {
			resp, err := client.Post(base+"/hivesync.v1.MetaService/GetCompatibility", "application/json", nil)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	})

	base := node(b)
	for name, opts := range map[string][]connect.ClientOption{
		"hivesync_connect_proto": nil,
		"hivesync_connect_json":  {connect.WithProtoJSON()},
	} {
		b.Run(name, func(b *testing.B) {
			c := hivesyncv1connect.NewMetaServiceClient(client, base, opts...)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.GetCompatibility(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("hivesync_rest_get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			resp, err := client.Get(base + "/api/v1/meta/compatibility?clientType=CLIENT_TYPE_VSCODE&clientVersion=5")
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	})
}
