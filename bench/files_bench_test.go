package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/server/files"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
	"github.com/hivesync/hivesync/store/pgcluster"
	"github.com/hivesync/hivesync/store/storetest"
)

// saveContentBytes is the size of every saved file (issue 4: "1 KB file").
const saveContentBytes = 1024

// BenchmarkSaveFile measures SaveFile throughput, in saves per second, from 1
// and 8 concurrent clients through the real HTTP server and Connect client,
// each client saving a 1 KB file with compare-and-set on the head it last saw.
//
// The baseline is pgbench, run against the same Postgres server in the same
// run, doing the least a compare-and-set save can do: lock the file row,
// insert a 1 KB version row, move the head, commit. It runs on copies of the
// real files and file_versions tables (same columns, indexes and foreign key).
//
// Each client owns its file, so 8 clients measure throughput rather than
// conflicts. "shared_project" puts the 8 files in one project (a team);
// "own_project" gives each client its own project, which separates the cost of
// per-project rows every save updates. "one_file" is the contention case: all
// clients save one file, and a client whose save conflicts retries on the head
// the Conflict names; only successful saves count, conflicts/save is reported.
func BenchmarkSaveFile(b *testing.B) {
	pgbench := pgbenchPath(b)
	baselineURL := storetest.URL(b)
	meter := newCPUMeter(b, baselineURL)
	n := newFileNode(b)
	n.meter = meter

	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d/baseline_pgbench", clients), func(b *testing.B) {
			before := meter.read()
			tps := runPgbench(b, pgbench, baselineURL, clients, b.N)
			meter.settle()
			d := meter.read().sub(before)
			reportCPU(b, d, b.N, d.children)
			b.ReportMetric(1e9/tps, "ns/op")
			b.ReportMetric(tps, "saves/s")
		})
		if clients == 1 {
			b.Run("clients=1/hivesync", func(b *testing.B) {
				benchSaves(b, n.meter, n.savers(b, 1, false))
			})
			continue
		}
		b.Run(fmt.Sprintf("clients=%d/hivesync_shared_project", clients), func(b *testing.B) {
			benchSaves(b, n.meter, n.savers(b, clients, false))
		})
		b.Run(fmt.Sprintf("clients=%d/hivesync_own_project", clients), func(b *testing.B) {
			benchSaves(b, n.meter, n.savers(b, clients, true))
		})
		b.Run(fmt.Sprintf("clients=%d/hivesync_one_file", clients), func(b *testing.B) {
			benchSaves(b, n.meter, n.sameFileSavers(b, clients))
		})
	}
}

// fileNode is a HiveSync node on its own database (a pool of 10 connections,
// as storetest gives every test), with one user whose sessions act as the
// benchmark's clients.
type fileNode struct {
	meter   *cpuMeter
	baseURL string
	app     *app.App
	client  *http.Client
	userID  uuid.UUID
}

func newFileNode(b *testing.B) *fileNode {
	b.Helper()
	cfg, err := app.LoadConfig(app.ModeServe, func(k string) string {
		return map[string]string{"HIVESYNC_DATABASE_URL": "postgres://unused", "HIVESYNC_HTTP_ADDR": "127.0.0.1:0"}[k]
	})
	require.NoError(b, err)
	pool := storetest.Pool(b)
	// The production logger (JSON, a line per RPC), writing nowhere: its
	// formatting is measured, the log's I/O is not.
	a, err := app.New(app.Options{Mode: app.ModeServe, Config: cfg, Pool: pool, Log: app.NewLogger(cfg, io.Discard)})
	require.NoError(b, err)
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(transport.CloseIdleConnections)
	u, err := store.New(pool).UserUpsertByEmail(context.Background(), dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: "bench@files.test"})
	require.NoError(b, err)
	return &fileNode{baseURL: serveNode(b, a), app: a, client: &http.Client{Transport: oneWrite{transport}}, userID: u.ID}
}

// editor is one signed-in client (a session of the benchmark user, as from
// the VS Code plugin).
type editor struct {
	projects hivesyncv1connect.ProjectServiceClient
	files    hivesyncv1connect.FileServiceClient
}

func (n *fileNode) editor(b *testing.B) editor {
	b.Helper()
	pair, err := n.app.Issuer().StartSession(context.Background(), auth.SessionParams{
		UserID: n.userID, Client: auth.Clients["vscode"], Scopes: auth.Clients["vscode"].DefaultScopes(),
	})
	require.NoError(b, err)
	token := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+pair.AccessToken)
			return next(ctx, req)
		}
	}))
	return editor{
		projects: hivesyncv1connect.NewProjectServiceClient(n.client, n.baseURL, token),
		files:    hivesyncv1connect.NewFileServiceClient(n.client, n.baseURL, token),
	}
}

func (e editor) newProject(b *testing.B) string {
	b.Helper()
	p, err := e.projects.CreateProject(context.Background(), &hivesyncv1.CreateProjectRequest{Name: "bench " + uuid.NewString()[:8]})
	require.NoError(b, err)
	return p.GetProject().GetId()
}

// saver performs one successful save per call and counts the conflicts it
// met on the way.
type saver func(ctx context.Context, seq int64) (conflicts int, err error)

// savers returns one client per file, each file in a shared project or in a
// project of its own.
func (n *fileNode) savers(b *testing.B, clients int, ownProject bool) []saver {
	b.Helper()
	var shared string
	out := make([]saver, clients)
	for i := range out {
		ed := n.editor(b)
		project := shared
		if ownProject || shared == "" {
			project = ed.newProject(b)
		}
		if !ownProject {
			shared = project
		}
		created, err := ed.files.CreateFile(context.Background(), &hivesyncv1.CreateFileRequest{
			ProjectId: project, Path: fmt.Sprintf("src/client_%d.go", i), Content: saveContent(0),
		})
		require.NoError(b, err)
		fileID, head := created.GetFile().GetId(), created.GetFile().GetHead().GetId()
		out[i] = func(ctx context.Context, seq int64) (int, error) {
			resp, err := ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: fileID, BaseRevisionId: head, Content: saveContent(seq)})
			if err != nil {
				return 0, err
			}
			head = resp.GetVersion().GetId()
			return 0, nil
		}
	}
	return out
}

// sameFileSavers returns clients that all save one file, retrying a conflict
// on the head it reports, as an editor would after merging.
func (n *fileNode) sameFileSavers(b *testing.B, clients int) []saver {
	b.Helper()
	owner := n.editor(b)
	created, err := owner.files.CreateFile(context.Background(), &hivesyncv1.CreateFileRequest{
		ProjectId: owner.newProject(b), Path: "src/shared.go", Content: saveContent(0),
	})
	require.NoError(b, err)
	fileID := created.GetFile().GetId()
	out := make([]saver, clients)
	for i := range out {
		ed, head := n.editor(b), created.GetFile().GetHead().GetId()
		out[i] = func(ctx context.Context, seq int64) (int, error) {
			for conflicts := 0; ; conflicts++ {
				resp, err := ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: fileID, BaseRevisionId: head, Content: saveContent(seq)})
				if err == nil {
					head = resp.GetVersion().GetId()
					return conflicts, nil
				}
				var ce *connect.Error
				if !errors.As(err, &ce) || ce.Code() != connect.CodeAborted {
					return conflicts, err
				}
				head = conflictHead(ce)
				if head == "" {
					return conflicts, fmt.Errorf("conflict without a head: %w", err)
				}
			}
		}
	}
	return out
}

// conflictHead is the head revision a Conflict detail names.
func conflictHead(ce *connect.Error) string {
	for _, d := range ce.Details() {
		if v, err := d.Value(); err == nil {
			if c, ok := v.(*hivesyncv1.Conflict); ok {
				return c.GetHeadRevisionId()
			}
		}
	}
	return ""
}

// benchSaves runs b.N successful saves spread over the clients, each client
// saving in its own goroutine as fast as it can. ns/op is wall time divided by
// saves, the inverse of throughput.
func benchSaves(b *testing.B, meter *cpuMeter, clients []saver) {
	b.ReportAllocs()
	b.ResetTimer()
	before := meter.read()
	conflicts, err := runSaves(clients, b.N)
	b.StopTimer()
	d := meter.read().sub(before)
	require.NoError(b, err)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "saves/s")
	reportCPU(b, d, b.N, d.self)
	if len(clients) > 1 {
		b.ReportMetric(float64(conflicts)/float64(b.N), "conflicts/save")
	}
}

// runSaves makes total successful saves spread over the clients, each
// client saving in its own goroutine as fast as it can, and returns the
// conflicts met on the way.
func runSaves(clients []saver, total int) (int64, error) {
	var next, conflicts atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	ctx := context.Background()
	for _, save := range clients {
		wg.Go(func() {
			for {
				seq := next.Add(1)
				if seq > int64(total) {
					return
				}
				c, err := save(ctx, seq)
				conflicts.Add(int64(c))
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return conflicts.Load(), firstErr
}

// BenchmarkSaveFileRatio measures the 8-client ratio to pgbench the way a
// noisy machine allows: in rounds that alternate a pgbench run and a
// HiveSync run of the same size, one after the other, so both meet the
// same conditions. It reports the median over the rounds of each round's
// ratio, by throughput (ratio) and by CPU time per operation (cpu-ratio,
// pgbench's CPU per transaction over HiveSync's per save), with the lowest
// and highest round. b.N is the saves of each side in all.
func BenchmarkSaveFileRatio(b *testing.B) {
	pgbench := pgbenchPath(b)
	baselineURL := storetest.URL(b)
	meter := newCPUMeter(b, baselineURL)
	n := newFileNode(b)
	const clients, rounds = 8, 6
	for _, own := range []bool{true, false} {
		name := "clients=8/shared_project"
		if own {
			name = "clients=8/own_project"
		}
		b.Run(name, func(b *testing.B) {
			savers := n.savers(b, clients, own)
			per := max(b.N/rounds, 2000)
			preparePgbench(b, baselineURL)
			var byThroughput, byCPU, pgbenchClient, pgbenchServer, oursGo, oursServer []float64
			var pgbenchIdle, oursIdle, pgbenchSoftirq, oursSoftirq, pgbenchBusy, oursBusy []float64
			for range rounds {
				before := meter.read()
				tps := execPgbench(b, pgbench, baselineURL, clients, per)
				meter.settle()
				base := meter.read().sub(before)
				baseCPU := float64(base.children+base.postgres) / float64(per)

				before = meter.read()
				start := time.Now()
				_, err := runSaves(savers, per)
				took := time.Since(start)
				require.NoError(b, err)
				ours := meter.read().sub(before)
				oursCPU := float64(ours.self+ours.postgres) / float64(per)

				byThroughput = append(byThroughput, float64(per)/took.Seconds()/tps)
				byCPU = append(byCPU, baseCPU/oursCPU)
				pgbenchClient = append(pgbenchClient, perOp(base.children, per))
				pgbenchServer = append(pgbenchServer, perOp(base.postgres, per))
				oursGo = append(oursGo, perOp(ours.self, per))
				oursServer = append(oursServer, perOp(ours.postgres, per))
				pgbenchIdle = append(pgbenchIdle, 100*base.idleShare())
				oursIdle = append(oursIdle, 100*ours.idleShare())
				pgbenchSoftirq = append(pgbenchSoftirq, perOp(base.softirq, per))
				oursSoftirq = append(oursSoftirq, perOp(ours.softirq, per))
				pgbenchBusy = append(pgbenchBusy, perOp(base.total-base.idle, per))
				oursBusy = append(oursBusy, perOp(ours.total-ours.idle, per))
			}
			for _, s := range [][]float64{
				byThroughput, byCPU, pgbenchClient, pgbenchServer, oursGo, oursServer,
				pgbenchIdle, oursIdle, pgbenchSoftirq, oursSoftirq, pgbenchBusy, oursBusy,
			} {
				slices.Sort(s)
			}
			b.ReportMetric(median(byThroughput), "ratio")
			b.ReportMetric(byThroughput[0], "ratio-min")
			b.ReportMetric(byThroughput[len(byThroughput)-1], "ratio-max")
			b.ReportMetric(median(byCPU), "cpu-ratio")
			b.ReportMetric(byCPU[0], "cpu-ratio-min")
			b.ReportMetric(byCPU[len(byCPU)-1], "cpu-ratio-max")
			// Where the CPU goes (medians, µs per save or transaction):
			// pgbench's client and Postgres; HiveSync's process (server
			// and benchmark clients) and Postgres.
			b.ReportMetric(median(pgbenchClient), "pgbench-client-µs")
			b.ReportMetric(median(pgbenchServer), "pgbench-postgres-µs")
			b.ReportMetric(median(oursGo), "hivesync-go-µs")
			b.ReportMetric(median(oursServer), "hivesync-postgres-µs")
			// The machine's: idle share of its CPUs (%) and soft-interrupt
			// time per operation (µs; loopback TCP, charged to no process).
			b.ReportMetric(median(pgbenchIdle), "pgbench-idle-%")
			b.ReportMetric(median(oursIdle), "hivesync-idle-%")
			b.ReportMetric(median(pgbenchSoftirq), "pgbench-softirq-µs")
			b.ReportMetric(median(oursSoftirq), "hivesync-softirq-µs")
			b.ReportMetric(median(pgbenchBusy), "pgbench-busy-µs")
			b.ReportMetric(median(oursBusy), "hivesync-busy-µs")
		})
	}
}

// perOp is d per operation, in microseconds.
func perOp(d time.Duration, ops int) float64 {
	return float64(d.Microseconds()) / float64(ops)
}

// median of sorted values.
func median(sorted []float64) float64 {
	m := len(sorted) / 2
	if len(sorted)%2 == 0 {
		return (sorted[m-1] + sorted[m]) / 2
	}
	return sorted[m]
}

// saveContent is 1 KB of source text: 16 lines of 64 bytes, one of which
// carries seq, so consecutive saves differ by one line as an edit would.
// Only that line is formatted per call: the client's own work is not what
// the benchmark measures.
func saveContent(seq int64) string {
	lines := contentLines()
	edited := int(seq % int64(len(lines)))
	var sb strings.Builder
	sb.Grow(saveContentBytes)
	for i, line := range lines {
		if i == edited {
			line = padLine(fmt.Sprintf("\tedited := save(%d)", seq))
		}
		sb.WriteString(line)
	}
	return sb.String()
}

// contentLines are saveContent's lines before any edit.
var contentLines = sync.OnceValue(func() []string {
	lines := make([]string, saveContentBytes/64)
	for i := range lines {
		lines[i] = padLine(fmt.Sprintf("\tvalue%02d := compute(%d, %q)", i, i*7, "abcdefghijklmnop"))
	}
	return lines
})

// padLine pads line with spaces to 63 bytes and ends it.
func padLine(line string) string {
	return line + strings.Repeat(" ", 63-len(line)) + "\n"
}

// pgbenchPath finds pgbench next to the Postgres server binaries (same major
// version as the server under test), then on PATH.
func pgbenchPath(b *testing.B) string {
	b.Helper()
	if dir, err := pgcluster.FindBinaries(); err == nil {
		// The server binary may be a link into the version's own directory.
		server, _ := filepath.EvalSymlinks(filepath.Join(dir, "postgres"))
		for _, d := range []string{dir, filepath.Dir(server)} {
			if p := filepath.Join(d, "pgbench"); isExecutable(p) {
				return p
			}
		}
	}
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p
	}
	b.Skip("pgbench not found (looked next to the Postgres binaries and on PATH); " +
		"the SaveFile baseline needs it (Debian: apt-get install postgresql-client)")
	return ""
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// pgbenchScript is the baseline save: lock the file row and read its head,
// insert a 1 KB version row, move the head, in one transaction. Client k works on its
// own file, md5(k)::uuid. Variables are bound as parameters (-M prepared),
// as pgx does for the server.
const pgbenchScript = `BEGIN;
SELECT head_revision + 1 AS next FROM bench_files WHERE id = md5(:client_id::text)::uuid AND deleted_at IS NULL FOR UPDATE \gset
INSERT INTO bench_file_versions (id, file_id, revision, content, content_sha256, size_bytes, author_id)
  VALUES (gen_random_uuid(), md5(:client_id::text)::uuid, :next, :content, :sha, :size, :author) RETURNING id AS head \gset
UPDATE bench_files SET head_version_id = :head, head_revision = :next WHERE id = md5(:client_id::text)::uuid;
END;
`

var (
	pgbenchTPS    = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)
	pgbenchFailed = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)
)

// runPgbench prepares copies of the files tables on the database at url (once
// per database) and runs the baseline script with the given number of
// clients, transactions in all (rounded up to a multiple of clients). It
// returns pgbench's transactions per second, which exclude connection set-up.
func runPgbench(b *testing.B, pgbench, url string, clients, transactions int) float64 {
	b.Helper()
	preparePgbench(b, url)
	return execPgbench(b, pgbench, url, clients, transactions)
}

// preparePgbench creates the baseline's tables on the database at url, once.
func preparePgbench(b *testing.B, url string) {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(b, err)
	_, err = conn.Exec(ctx, `
CREATE TABLE IF NOT EXISTS bench_files (LIKE files INCLUDING ALL);
CREATE TABLE IF NOT EXISTS bench_file_versions (LIKE file_versions INCLUDING ALL,
  FOREIGN KEY (file_id) REFERENCES bench_files (id) ON DELETE CASCADE);
INSERT INTO bench_files (id, project_id, path, path_key, head_version_id, head_revision)
SELECT md5(k::text)::uuid, gen_random_uuid(), 'src/client_' || k || '.go', 'src/client_' || k || '.go', gen_random_uuid(), 0
FROM generate_series(0, 63) AS k
ON CONFLICT DO NOTHING;`)
	require.NoError(b, err)
	require.NoError(b, conn.Close(ctx))
}

// execPgbench runs the baseline script and returns pgbench's tps.
func execPgbench(b *testing.B, pgbench, url string, clients, transactions int) float64 {
	b.Helper()
	script := filepath.Join(b.TempDir(), "save.sql")
	require.NoError(b, os.WriteFile(script, []byte(pgbenchScript), 0o644))
	content := saveContent(1)
	perClient := (transactions + clients - 1) / clients
	cmd := exec.Command(pgbench, "-n", "-M", "prepared", "-f", script,
		"-c", strconv.Itoa(clients), "-j", strconv.Itoa(min(clients, runtime.GOMAXPROCS(0))), "-t", strconv.Itoa(perClient),
		"-D", "content="+content, "-D", "sha="+files.Hash(content), "-D", "size="+strconv.Itoa(len(content)),
		"-D", "author="+uuid.NewString(), url)
	out, err := cmd.CombinedOutput()
	require.NoError(b, err, "pgbench: %s", out)
	m := pgbenchTPS.FindSubmatch(out)
	require.NotNil(b, m, "no tps in pgbench output: %s", out)
	tps, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(b, err)
	if f := pgbenchFailed.FindSubmatch(out); f != nil {
		require.Equal(b, "0", string(f[1]), "pgbench: %s", out)
	}
	return tps
}

// BenchmarkCompare measures the diff the server computes on every conflict,
// DiffVersions and snapshot diff, and (counts only) on every save
// (files.Compare: linediff, then a unified diff with 3 lines of context and
// the line counts), on two 5 MB files (the default single-file limit):
//
//   - lines_1pct: every 100th line edited, so 1% of lines change, each in its
//     own hunk (the most hunks for that share of changes);
//   - lines_all: every line edited;
//   - one_line: a file that is one 5 MB line (minified code), one byte edited;
//   - few_distinct_lines: the adversarial case for a patience-style diff, a
//     file of 64 distinct lines repeated in random order, 1% of them replaced
//     by others of the 64, so no line is unique and the search must fall back
//     to its bounded Myers step;
//   - worst_case: the most lines 5 MB holds (2.5 million of 2 bytes), drawn
//     at random from 2 distinct lines, against another such file: no anchors
//     and an edit distance in the millions, so the search spends its whole
//     budget; this bounds the time of any input of that size.
//
// The baseline is the least any line diff does: split both files into lines
// and hash each line (maphash, into a slice per file).
//
// "added-lines" is how many lines Compare reports as added; "changed-lines"
// is how many the case really changed (one removed and one added each). They
// differ when the search stops short of a minimal diff.
func BenchmarkCompare(b *testing.B) {
	old := sourceFile(5_000_000)
	long := longLine(5_000_000)
	onePercent, fewChanged := editLines(old, 100)
	all, allChanged := editLines(old, 1)
	repeated := fewDistinctLines(5_000_000)
	repeatedEdited, repeatedChanged := swapLines(repeated, 100)
	coinA, coinB := coinLines(5_000_000, 7), coinLines(5_000_000, 8)
	cases := []struct {
		name     string
		old, new string
		changed  int
	}{
		{"lines_1pct", old, onePercent, fewChanged},
		{"lines_all", old, all, allChanged},
		{"one_line", long, editByte(long, len(long)/2), 1},
		{"few_distinct_lines", repeated, repeatedEdited, repeatedChanged},
		{"worst_case", coinA, coinB, 0},
	}
	seed := maphash.MakeSeed()
	for _, c := range cases {
		b.Run(c.name+"/baseline_split_maphash", func(b *testing.B) {
			b.SetBytes(int64(len(c.old) + len(c.new)))
			b.ReportAllocs()
			for b.Loop() {
				lineHashes(seed, c.old)
				lineHashes(seed, c.new)
			}
		})
		b.Run(c.name+"/compare", func(b *testing.B) {
			b.SetBytes(int64(len(c.old) + len(c.new)))
			b.ReportAllocs()
			var d files.Diff
			for b.Loop() {
				d = files.Compare("a", "b", c.old, c.new)
			}
			b.ReportMetric(float64(d.LinesAdded), "added-lines")
			b.ReportMetric(float64(c.changed), "changed-lines")
		})
	}
}

// fewDistinctLines is about size bytes of lines drawn at random from 64
// distinct lines, so that no line occurs once.
func fewDistinctLines(size int) string {
	rng := rand.New(rand.NewPCG(6, 6))
	var sb strings.Builder
	sb.Grow(size + 128)
	for sb.Len() < size-128 {
		fmt.Fprintf(&sb, "\tcase %d: return f%d(x)\n", rng.IntN(64), rng.IntN(64)%8)
	}
	return sb.String()
}

// coinLines is size bytes of "0\n" and "1\n" lines at random.
func coinLines(size int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := make([]byte, size)
	for i := 0; i+1 < size; i += 2 {
		out[i], out[i+1] = byte('0'+rng.IntN(2)), '\n'
	}
	return string(out)
}

// swapLines replaces every nth line by the line after it (when they
// differ), keeping the set of distinct lines, and returns how many lines it
// changed.
func swapLines(s string, nth int) (string, int) {
	lines := strings.SplitAfter(s, "\n")
	changed := 0
	for i := 0; i+1 < len(lines); i += nth {
		if lines[i] != lines[i+1] && lines[i+1] != "" {
			lines[i] = lines[i+1]
			changed++
		}
	}
	return strings.Join(lines, ""), changed
}

// lineHashes is the baseline's work for one file.
func lineHashes(seed maphash.Seed, s string) []uint64 {
	out := make([]uint64, 0, strings.Count(s, "\n")+1)
	for line := range strings.Lines(s) {
		out = append(out, maphash.String(seed, line))
	}
	return out
}

// sourceFile is about size bytes of Go-like source with distinct lines of
// 20 to 100 bytes, a closing brace every 8th line (repeated lines, as real
// code has) and no empty lines, so every line can be edited in place.
func sourceFile(size int) string {
	rng := rand.New(rand.NewPCG(4, 4))
	var sb strings.Builder
	sb.Grow(size + 128)
	w := bufio.NewWriter(&sb)
	written := 0
	for i := 0; written < size-128; i++ {
		var line string
		if i%8 == 7 {
			line = "\t}\n"
		} else {
			line = fmt.Sprintf("\tv%d := f(%q)\n", i, strings.Repeat("x", rng.IntN(80)))
		}
		n, _ := w.WriteString(line)
		written += n
	}
	_ = w.Flush()
	return sb.String()
}

// editLines changes the last byte before the newline of every nth line,
// keeping the size, and returns how many lines it changed.
func editLines(s string, nth int) (string, int) {
	out := []byte(s)
	line, changed := 0, 0
	for i, c := range out {
		if c != '\n' {
			continue
		}
		if line%nth == 0 {
			out[i-1] = flip(out[i-1])
			changed++
		}
		line++
	}
	return string(out), changed
}

func editByte(s string, i int) string {
	out := []byte(s)
	out[i] = flip(out[i])
	return string(out)
}

func flip(c byte) byte {
	if c == 'Z' {
		return 'Y'
	}
	return 'Z'
}

// longLine is size bytes of printable text without a newline.
func longLine(size int) string {
	rng := rand.New(rand.NewPCG(5, 5))
	out := make([]byte, size)
	for i := range out {
		out[i] = byte('!' + rng.IntN(94))
	}
	return string(out)
}
