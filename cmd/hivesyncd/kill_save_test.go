package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/files"
	"github.com/hivesync/hivesync/store/storetest"
)

// TestSavesSurviveAKilledProcess kills a hivesyncd process (SIGKILL) while
// eight devices save through it, each with an idempotency key per save, then
// starts another on the same database. Every save the devices saw answered
// is stored exactly once, with its content; every save cut off by the kill
// is retried with the same key on the new process and converges: stored
// once, whether or not the killed process had committed it. No file's
// history forks or has a gap.
func TestSavesSurviveAKilledProcess(t *testing.T) {
	url := storetest.URL(t)
	env := []string{"HIVESYNC_DATABASE_URL=" + url, "HIVESYNC_HTTP_ADDR=127.0.0.1:0", "HIVESYNC_ISSUER_URL=https://kill.hivesync.test"}
	victim := startNode(t, append(env, "HIVESYNC_NODE_ID=victim")...)

	t.Setenv("HIVESYNC_DATABASE_URL", url)
	t.Setenv("HIVESYNC_ISSUER_URL", "https://kill.hivesync.test")
	ctx := context.Background()
	var tok, tokErr bytes.Buffer
	require.NoError(t, run(ctx, []string{"token", "create", "--user", "kill@example.com", "--client", "desktop"}, &tok, &tokErr), tokErr.String())
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
	client := &http.Client{Transport: &http.Transport{}}
	projects := hivesyncv1connect.NewProjectServiceClient(client, victim.base, auth)
	onVictim := hivesyncv1connect.NewFileServiceClient(client, victim.base, auth)
	proj, err := projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Killed"})
	require.NoError(t, err)

	const devices = 8
	type attempt struct {
		req   *hivesyncv1.SaveFileRequest
		acked *hivesyncv1.FileVersion // nil: cut off by the kill
	}
	fileIDs := make([]string, devices)
	heads := make([]string, devices)
	for i := range devices {
		f, err := onVictim.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: proj.GetProject().GetId(), Path: fmt.Sprintf("d%d.txt", i), Content: "0\n"})
		require.NoError(t, err)
		fileIDs[i], heads[i] = f.GetFile().GetId(), f.GetFile().GetHead().GetId()
	}

	var acked atomic.Int64
	history := make([][]attempt, devices)
	var wg sync.WaitGroup
	for d := range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				req := &hivesyncv1.SaveFileRequest{FileId: fileIDs[d], BaseRevisionId: heads[d],
					Content: fmt.Sprintf("device %d save %d\n", d, n), IdempotencyKey: fmt.Sprintf("device-%d-save-%d", d, n)}
				callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
				resp, err := onVictim.SaveFile(callCtx, req)
				cancel()
				if err != nil {
					history[d] = append(history[d], attempt{req: req}) // the process is gone
					return
				}
				history[d] = append(history[d], attempt{req: req, acked: resp.GetVersion()})
				heads[d] = resp.GetVersion().GetId()
				acked.Add(1)
			}
		}()
	}
	require.Eventually(t, func() bool { return acked.Load() >= 200 }, 60*time.Second, 5*time.Millisecond)
	victim.kill(t)
	wg.Wait()

	// The devices retry what was cut off, with the same keys, on a new process.
	survivor := startNode(t, append(env, "HIVESYNC_NODE_ID=survivor")...)
	onSurvivor := hivesyncv1connect.NewFileServiceClient(client, survivor.base, auth)
	for d := range devices {
		last := &history[d][len(history[d])-1]
		require.Nil(t, last.acked, "device %d stopped at the kill", d)
		resp, err := onSurvivor.SaveFile(ctx, last.req)
		require.NoError(t, err, "device %d: the retried save converges", d)
		last.acked = resp.GetVersion()
	}

	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer func() { _ = conn.Close(ctx) }()
	for d := range devices {
		// One chain of revisions 1..n: no fork, no gap.
		rows, err := conn.Query(ctx, "SELECT id::text, revision, content_sha256, coalesce(idempotency_key, '') FROM file_versions WHERE file_id = $1 ORDER BY revision", fileIDs[d])
		require.NoError(t, err)
		type stored struct {
			id       string
			revision int64
			sha, key string
		}
		var versions []stored
		for rows.Next() {
			var v stored
			require.NoError(t, rows.Scan(&v.id, &v.revision, &v.sha, &v.key))
			versions = append(versions, v)
		}
		require.NoError(t, rows.Err())
		require.Len(t, versions, len(history[d])+1, "device %d: each save stored once, plus the create", d)
		for i, v := range versions {
			require.EqualValues(t, i+1, v.revision, "device %d", d)
		}
		for i, a := range history[d] {
			v := versions[i+1]
			require.Equal(t, a.acked.GetId(), v.id, "device %d save %d: the version it was answered with", d, i)
			require.Equal(t, a.req.GetIdempotencyKey(), v.key)
			require.Equal(t, files.Hash(a.req.GetContent()), v.sha, "device %d save %d: its content", d, i)
		}
		var head string
		require.NoError(t, conn.QueryRow(ctx, "SELECT head_version_id::text FROM files WHERE id = $1", fileIDs[d]).Scan(&head))
		require.Equal(t, versions[len(versions)-1].id, head, "device %d: the head is the last version", d)
	}
}
