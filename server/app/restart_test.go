package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/files"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/pgcluster"
)

// crashableNode is a server on a fixed address against a private Postgres
// cluster, both of which the test can kill and bring back.
type crashableNode struct {
	t       *testing.T
	addr    string
	cluster *pgcluster.Cluster
	dir     string
	pool    *pgxpool.Pool
	srv     *http.Server
	app     *app.App
}

func (n *crashableNode) start(ctx context.Context) {
	t := n.t
	var err error
	n.cluster, err = pgcluster.Start(ctx, pgcluster.Options{Dir: n.dir})
	require.NoError(t, err)
	require.NoError(t, n.cluster.EnsureDatabase(ctx, "hivesync"))
	n.pool, err = store.Open(ctx, n.cluster.URL("hivesync"), 20)
	require.NoError(t, err)
	require.NoError(t, store.Migrate(ctx, n.pool, slog.New(slog.DiscardHandler)))
	cfg, err := app.LoadConfig(app.ModeServe, env(map[string]string{"HIVESYNC_DATABASE_URL": "postgres://unused", "HIVESYNC_HTTP_ADDR": n.addr}))
	require.NoError(t, err)
	n.app, err = app.New(app.Options{Mode: app.ModeServe, Config: cfg, Pool: n.pool, Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	var ln net.Listener
	require.Eventually(t, func() bool { ln, err = net.Listen("tcp", n.addr); return err == nil }, 10*time.Second, 10*time.Millisecond)
	n.srv = &http.Server{Handler: n.app.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = n.srv.Serve(ln) }()
}

// crash kills the server abruptly (every connection dropped, answers lost)
// and crashes Postgres (immediate shutdown: open transactions are lost,
// committed ones are recovered from the WAL on the next start).
func (n *crashableNode) crash() {
	_ = n.srv.Close()
	n.cluster.Crash()
	n.pool.Close()
}

func (n *crashableNode) stop(ctx context.Context) {
	_ = n.srv.Close()
	n.pool.Close()
	require.NoError(n.t, n.cluster.Stop(ctx))
}

// TestSavesSurviveServerAndDatabaseCrash crashes the server and its database
// at once while devices save, then brings both back; meanwhile the link loses
// some answers after the save was stored. Saves cut off at any point (before
// commit, at commit, or after commit with the answer lost) are retried by the
// devices with the same idempotency key: each is stored exactly once, the
// chain has no gap or fork, and every acknowledged save is there after
// recovery.
func TestSavesSurviveServerAndDatabaseCrash(t *testing.T) {
	t.Parallel()
	const nFiles, nSaves, crashAfter = 6, 30, 40
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "hivesync-crash-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	node := &crashableNode{t: t, addr: addr, dir: dir}
	node.start(ctx)
	defer func() { node.stop(ctx) }()
	// Devices reach the node through a lossy link that loses every fifth
	// save's answer after the server sent it: the save is stored, the device
	// sees unavailable (HTTP 502) and retries.
	target, err := url.Parse("http://" + addr)
	require.NoError(t, err)
	var answers atomic.Int64
	lossy := httputil.NewSingleHostReverseProxy(target)
	lossy.ModifyResponse = func(resp *http.Response) error {
		if strings.HasSuffix(resp.Request.URL.Path, "/SaveFile") && answers.Add(1)%5 == 0 {
			return errors.New("answer lost on the way back")
		}
		return nil
	}
	lossy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
	link := httptest.NewServer(lossy)
	defer link.Close()

	var h1p http.Protocols
	h1p.SetHTTP1(true)
	b := &testBundle{baseURL: link.URL, app: node.app, store: store.New(node.pool),
		h1: &http.Client{Transport: &http.Transport{Protocols: &h1p}, Timeout: 30 * time.Second}}
	ed := newEditor(t, b, "crash@restart.test")
	proj, err := ed.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Crash"})
	require.NoError(t, err)
	fileIDs, heads := make([]string, nFiles), make([]string, nFiles)
	for i := range nFiles {
		f, err := ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: proj.GetProject().GetId(), Path: fmt.Sprintf("f%d.txt", i), Content: "0\n"})
		require.NoError(t, err)
		fileIDs[i], heads[i] = f.GetFile().GetId(), f.GetFile().GetHead().GetId()
	}

	type acked struct{ id, base, sha string }
	chains := make([][]acked, nFiles)
	var saved, retried, lostAnswers atomic.Int32
	crashed := make(chan struct{})
	var wg sync.WaitGroup
	for fi := range nFiles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			head := heads[fi]
			chains[fi] = []acked{{id: head}}
			for j := range nSaves {
				var lastFailure time.Time
				content := fmt.Sprintf("file %d save %d\n", fi, j)
				req := &hivesyncv1.SaveFileRequest{FileId: fileIDs[fi], BaseRevisionId: head, Content: content, IdempotencyKey: fmt.Sprintf("f%d-s%d", fi, j)}
				for attempt := 0; ; attempt++ {
					resp, err := ed.files.SaveFile(ctx, req)
					if err == nil {
						head = resp.GetVersion().GetId()
						chains[fi] = append(chains[fi], acked{id: head, base: req.GetBaseRevisionId(), sha: files.Hash(content)})
						saved.Add(1)
						if attempt > 0 && resp.GetVersion().GetCreatedAt().AsTime().Before(lastFailure) {
							lostAnswers.Add(1) // stored before its answer was lost; the retry got that version
						}
						break
					}
					if connect.CodeOf(err) != connect.CodeUnavailable {
						t.Errorf("file %d save %d: a crash must look like unavailable (a conflict would mean a save lost or doubled): %v", fi, j, err)
						return
					}
					retried.Add(1)
					lastFailure = time.Now()
					time.Sleep(20 * time.Millisecond)
					if attempt > 3000 {
						t.Errorf("file %d save %d: never went through: %v", fi, j, err)
						return
					}
				}
				if j == nSaves/2 {
					<-crashed // no device finishes before the crash
				}
			}
		}()
	}
	require.Eventually(t, func() bool { return saved.Load() >= crashAfter }, time.Minute, time.Millisecond)
	node.crash()
	close(crashed)
	time.Sleep(200 * time.Millisecond) // devices keep retrying against nothing
	node.start(ctx)
	wg.Wait()
	require.False(t, t.Failed())
	require.Positive(t, retried.Load(), "some saves were cut off by the crash")
	require.Positive(t, lostAnswers.Load(), "some retries found their save already stored")
	t.Logf("%d saves acknowledged, %d calls retried across the crash, %d answered by the version stored before the answer was lost", saved.Load(), retried.Load(), lostAnswers.Load())

	for fi, chain := range chains {
		stored := allVersions(t, ed, fileIDs[fi])
		require.Len(t, stored, nSaves+1, "file %d: every save stored exactly once", fi)
		for i, v := range stored {
			want := chain[len(chain)-1-i]
			require.Equal(t, want.id, v.GetId(), "file %d: the stored chain is the acknowledged chain", fi)
			if want.sha != "" {
				require.Equal(t, want.sha, v.GetContentSha256())
			}
		}
		for j, a := range chain[1:] {
			require.Equal(t, chain[j].id, a.base)
		}
	}
}
