package bench

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/server/events"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
	"github.com/hivesync/hivesync/store/storetest"
)

// BenchmarkHistoryExport exports one project's history over REST (the CSV
// and JSON Lines bodies a browser or curl downloads) while the project grows
// from 10,000 to 100,000 logged events, and reports the peak live heap of
// the whole process (server and a client discarding the body) above its
// idle level, sampled every millisecond. The baseline is the same export of
// the smallest project: a streamed export's peak must not grow with the
// project ("flat"), while its time grows linearly.
func BenchmarkHistoryExport(b *testing.B) {
	ctx := context.Background()
	pool := storetest.Pool(b)
	cfg, err := app.LoadConfig(app.ModeServe, func(k string) string {
		return map[string]string{"HIVESYNC_DATABASE_URL": "postgres://unused", "HIVESYNC_HTTP_ADDR": "127.0.0.1:0"}[k]
	})
	require.NoError(b, err)
	a, err := app.New(app.Options{Mode: app.ModeServe, Config: cfg, Pool: pool, Log: slog.New(slog.DiscardHandler)})
	require.NoError(b, err)
	base := serve(b, a.Handler())
	st := store.New(pool)
	user, err := st.UserUpsertByEmail(ctx, dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: "export@bench.test"})
	require.NoError(b, err)
	pair, err := a.Issuer().StartSession(ctx, auth.SessionParams{UserID: user.ID, Client: auth.Clients["desktop"], Scopes: auth.Clients["desktop"].DefaultScopes()})
	require.NoError(b, err)
	project, err := st.ProjectInsert(ctx, dbgen.ProjectInsertParams{ID: uuid.New(), Name: "big", OwnerID: user.ID})
	require.NoError(b, err)
	require.NoError(b, st.ProjectMemberInsert(ctx, dbgen.ProjectMemberInsertParams{ProjectID: project.ID, UserID: user.ID, Role: int16(hivesyncv1.ProjectRole_PROJECT_ROLE_OWNER)}))

	logged := 0
	grow := func(to int) {
		for logged < to {
			n := min(to-logged, 5000)
			require.NoError(b, st.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
				for i := range n {
					rev := int64(logged + i + 2)
					_, err := events.Append(ctx, q, events.ProjectChannel(project.ID.String()), &hivesyncv1.Event{Payload: &hivesyncv1.Event_SaveFile{SaveFile: &hivesyncv1.SaveFileEvent{
						ProjectId: project.ID.String(), FileId: uuid.NewString(), Path: "src/components/file-" + strconv.Itoa(i%97) + ".tsx",
						RevisionId: uuid.NewString(), Revision: rev, ContentSha256: strings.Repeat("ab", 32), AuthorUserId: user.ID.String(), DeviceId: uuid.NewString(),
					}}}, time.Now())
					if err != nil {
						return err
					}
				}
				return nil
			}))
			logged += n
		}
	}
	client := &http.Client{Transport: &http.Transport{}}
	export := func(b *testing.B, format string) int64 {
		req, err := http.NewRequest(http.MethodPost, base+"/api/v1/projects/"+project.ID.String()+"/export/"+format, strings.NewReader("{}"))
		require.NoError(b, err)
		req.Header.Set("Authorization", "Bearer "+pair.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		require.NoError(b, err)
		defer func() { _ = resp.Body.Close() }()
		require.Equal(b, http.StatusOK, resp.StatusCode)
		n, err := io.Copy(io.Discard, resp.Body)
		require.NoError(b, err)
		return n
	}

	for _, size := range []int{10_000, 50_000, 100_000} {
		grow(size)
		for _, format := range []string{"csv", "jsonl"} {
			b.Run(format+"/events="+strconv.Itoa(size), func(b *testing.B) {
				var peak, bytes int64
				for b.Loop() {
					p, n := peakHeapDuring(func() int64 { return export(b, format) })
					peak, bytes = max(peak, p), n
				}
				b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
				b.ReportMetric(float64(bytes)/(1<<20), "body-MB")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(size), "ns/event")
			})
		}
	}
}

// peakHeapDuring runs fn and returns the largest live heap seen while it ran,
// above the level just before it (after a collection), with fn's result.
func peakHeapDuring(fn func() int64) (int64, int64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() int64 {
		metrics.Read(sample)
		return int64(sample[0].Value.Uint64())
	}
	runtime.GC()
	idle := read()
	var peak atomic.Int64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if v := read() - idle; v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	n := fn()
	close(done)
	<-stopped
	return peak.Load(), n
}
