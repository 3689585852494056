package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/events"
	"github.com/hivesync/hivesync/server/events/wstest"
	"github.com/hivesync/hivesync/server/ratelimit/redistest"
	"github.com/hivesync/hivesync/store/storetest"
)

// node is a hivesyncd process started by a test.
type node struct {
	cmd  *exec.Cmd
	base string // http://host:port
	logs *syncBuffer
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done
}

// startNode runs `hivesyncd serve` in its own process with env added to the
// test's environment, and waits until it is ready.
func startNode(t *testing.T, env ...string) *node {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childCommand+"=serve"), env...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	n := &node{cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			_, _ = n.logs.Write(append(sc.Bytes(), '\n'))
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "hivesync serving" {
				addr <- line.Addr
			}
		}
		n.err = cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("node logs:\n%s", n.logs.String())
		}
	})
	select {
	case a := <-addr:
		n.base = "http://" + a
	case <-n.done:
		t.Fatalf("hivesyncd exited before serving: %v\n%s", n.err, n.logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("hivesyncd did not start:\n%s", n.logs.String())
	}
	require.Eventually(t, func() bool {
		resp, err := http.Get(n.base + "/health/ready")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond)
	return n
}

// kill ends the process at once, as a crash would.
func (n *node) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, n.cmd.Process.Kill())
	<-n.done
}

// TestTwoProcessesShareEventsAndSurviveAKill runs two hivesyncd processes
// on one database, with the default Postgres bus and with Redis. Saves made
// through one node reach a client of the other; that node is then killed
// mid-broadcast, and its client resumes on the surviving node and receives
// every event exactly once, in order.
func TestTwoProcessesShareEventsAndSurviveAKill(t *testing.T) {
	for _, bus := range []string{"postgres", "redis"} {
		t.Run(bus, func(t *testing.T) {
			url := storetest.URL(t)
			env := []string{"HIVESYNC_DATABASE_URL=" + url, "HIVESYNC_HTTP_ADDR=127.0.0.1:0", "HIVESYNC_ISSUER_URL=https://nodes.hivesync.test",
				// Delivery between nodes must come from the bus, not the
				// periodic resync.
				"HIVESYNC_WS_RESYNC_INTERVAL=1h"}
			if bus == "redis" {
				env = append(env, "HIVESYNC_REDIS_URL="+redistest.Start(t))
			}
			victim := startNode(t, append(env, "HIVESYNC_NODE_ID=victim")...)
			survivor := startNode(t, append(env, "HIVESYNC_NODE_ID=survivor")...)

			t.Setenv("HIVESYNC_DATABASE_URL", url)
			t.Setenv("HIVESYNC_ISSUER_URL", "https://nodes.hivesync.test")
			ctx := context.Background()
			var tok, tokErr bytes.Buffer
			require.NoError(t, run(ctx, []string{"token", "create", "--user", "nodes@example.com", "--client", "desktop"}, &tok, &tokErr), tokErr.String())
			var pair struct {
				AccessToken string `json:"access_token"`
			}
			require.NoError(t, json.Unmarshal(tok.Bytes(), &pair))
			auth := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
				return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
					req.Header().Set("Authorization", "Bearer "+pair.AccessToken)
					return next(ctx, req)
				}
			}))
			projects := hivesyncv1connect.NewProjectServiceClient(http.DefaultClient, survivor.base, auth)
			files := hivesyncv1connect.NewFileServiceClient(http.DefaultClient, survivor.base, auth)
			proj, err := projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Two nodes"})
			require.NoError(t, err)
			channel := events.ProjectChannel(proj.GetProject().GetId())
			f, err := files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: proj.GetProject().GetId(), Path: "a.txt", Content: "0\n"})
			require.NoError(t, err)

			// A client of the victim follows the project from now on.
			ws := wstest.Dial(t, victim.base)
			ws.Login(pair.AccessToken)
			start := ws.Subscribe(wstest.At(channel, -1))[channel]

			// Saves go through the survivor while the victim broadcasts them.
			const saves = 60
			var saveErr error
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				head := f.GetFile().GetHead().GetId()
				for i := range saves {
					resp, err := files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: f.GetFile().GetId(), BaseRevisionId: head, Content: fmt.Sprintf("%d\n", i+1)})
					if err != nil {
						saveErr = err
						return
					}
					head = resp.GetVersion().GetId()
					time.Sleep(5 * time.Millisecond)
				}
			}()

			seen := []int64{}
			for len(seen) < 10 {
				ev := ws.Next()
				seen = append(seen, ev.GetSequence())
			}
			victim.kill(t)
			// The client reads what reached it before the kill (announcements
			// come in bursts, so more events may be on their way in the
			// socket), notices the dead node, reconnects to the survivor and
			// resumes after the last event it saw.
			for {
				ev, err := ws.Read(10 * time.Second)
				if err != nil {
					break // the victim's socket ended
				}
				require.Less(t, len(seen), saves, "the victim's socket ended")
				seen = append(seen, ev.GetSequence())
			}
			ws = wstest.Dial(t, survivor.base)
			ws.Login(pair.AccessToken)
			ws.Subscribe(wstest.At(channel, seen[len(seen)-1]))
			wg.Wait()
			require.NoError(t, saveErr)

			var last int64
			conn, err := pgx.Connect(ctx, url)
			require.NoError(t, err)
			require.NoError(t, conn.QueryRow(ctx, "SELECT last_sequence FROM event_channels WHERE channel = $1", channel).Scan(&last))
			require.NoError(t, conn.Close(ctx))
			for seen[len(seen)-1] < last {
				ev := ws.Next()
				require.Equal(t, "save_file", ev.GetEventType(), "%v", ev)
				seen = append(seen, ev.GetSequence())
			}
			for i, seq := range seen {
				require.Equal(t, start+int64(i)+1, seq, "every event once, in order: %v", seen)
			}
			require.Len(t, seen, saves, "one event per save")
		})
	}
}
