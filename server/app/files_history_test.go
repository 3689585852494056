package app_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/files"
)

// savedOp is one acknowledged compare-and-set save, with the wall-clock
// window in which it ran.
type savedOp struct {
	base, id       string
	revision       int64
	sha            string
	start, acked   time.Time
	client, seqNum int
}

// TestSaveHistoryIsLinearizable runs many clients saving against fresh and
// stale bases of a few files in parallel until 10,000 saves were
// acknowledged (about as many more are refused), then checks the whole
// history the way a linearizability checker for a compare-and-set register
// would:
//
//   - the stored versions of each file form one chain (revisions 1..n, no
//     fork): every acknowledged save is in it, with its content, and nothing
//     unacknowledged is;
//   - each acknowledged save's base was the head it replaced (no lost update);
//   - real-time order holds: a save acknowledged before another started has
//     the lower revision;
//   - a read started after a save was acknowledged sees that save or a later
//     one;
//   - every Conflict was earned: the base it refused had been replaced.
func TestSaveHistoryIsLinearizable(t *testing.T) {
	t.Parallel()
	const (
		nFiles   = 32
		nClients = 16
		enough   = 10_000 // acknowledged saves across all clients before they stop
	)
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	ed := newEditor(t, b, "history@files.test")
	proj, err := ed.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "History"})
	require.NoError(t, err)

	fileIDs := make([]string, nFiles)
	creates := make([]*hivesyncv1.FileVersion, nFiles)
	for i := range fileIDs {
		c, err := ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: proj.GetProject().GetId(), Path: fmt.Sprintf("f%d.txt", i), Content: "0\n"})
		require.NoError(t, err)
		fileIDs[i], creates[i] = c.GetFile().GetId(), c.GetFile().GetHead()
	}

	type readOp struct {
		file     int
		start    time.Time
		revision int64
	}
	// refusedOp is a save refused with Conflict, and the head it named.
	type refusedOp struct {
		file         int
		base, head   string
		headRevision int64
		acked        time.Time
	}
	var (
		mu        sync.Mutex
		saved     = make([][]savedOp, nFiles)
		reads     []readOp
		refused   []refusedOp
		conflicts int
		wg        sync.WaitGroup
		// tried and ackedSaves count every save sent and every one
		// acknowledged; the clients stop once enough were acknowledged.
		tried, ackedSaves atomic.Int64
	)
	for c := range nClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			known := make([][]string, nFiles) // heads this client has seen, oldest first
			for i := range nFiles {
				known[i] = []string{creates[i].GetId()}
			}
			for n := 0; ackedSaves.Load() < enough; n++ {
				tried.Add(1)
				fi := rng.IntN(nFiles)
				// Mostly refresh and save on the head; sometimes save on a
				// base this client saw earlier, which is likely stale.
				if rng.IntN(3) != 0 {
					start := time.Now()
					got, err := ed.files.GetFile(ctx, &hivesyncv1.GetFileRequest{FileId: fileIDs[fi]})
					if !assertNoErr(t, err) {
						return
					}
					mu.Lock()
					reads = append(reads, readOp{file: fi, start: start, revision: got.GetFile().GetHead().GetRevision()})
					mu.Unlock()
					known[fi] = append(known[fi], got.GetFile().GetHead().GetId())
				}
				base := known[fi][len(known[fi])-1]
				if rng.IntN(4) == 0 {
					base = known[fi][rng.IntN(len(known[fi]))]
				}
				content := fmt.Sprintf("client %d save %d\n", c, n)
				start := time.Now()
				resp, err := ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: fileIDs[fi], BaseRevisionId: base, Content: content})
				acked := time.Now()
				if connect.CodeOf(err) == connect.CodeAborted {
					var conflict *hivesyncv1.Conflict
					var ce *connect.Error
					if errors.As(err, &ce) {
						for _, d := range ce.Details() {
							if v, derr := d.Value(); derr == nil {
								if c, ok := v.(*hivesyncv1.Conflict); ok {
									conflict = c
								}
							}
						}
					}
					if conflict == nil {
						t.Errorf("a Conflict without its detail: %v", err)
						return
					}
					mu.Lock()
					conflicts++
					refused = append(refused, refusedOp{file: fi, base: base, head: conflict.GetHeadRevisionId(), headRevision: conflict.GetHeadRevision(), acked: acked})
					mu.Unlock()
					continue
				}
				if !assertNoErr(t, err) {
					return
				}
				v := resp.GetVersion()
				known[fi] = append(known[fi], v.GetId())
				mu.Lock()
				saved[fi] = append(saved[fi], savedOp{base: base, id: v.GetId(), revision: v.GetRevision(), sha: files.Hash(content),
					start: start, acked: acked, client: c, seqNum: n})
				mu.Unlock()
				ackedSaves.Add(1)
			}
		}()
	}
	wg.Wait()
	require.False(t, t.Failed())
	total := conflicts
	for _, s := range saved {
		total += len(s)
	}
	require.Equal(t, int(tried.Load()), total, "every save was either acknowledged or refused with Conflict")
	require.GreaterOrEqual(t, total-conflicts, enough)
	require.Positive(t, conflicts, "stale bases were exercised")
	t.Logf("%d saves tried: %d acknowledged, %d conflicts, %d reads", total, total-conflicts, conflicts, len(reads))

	for fi, ops := range saved {
		stored := allVersions(t, ed, fileIDs[fi]) // newest first
		require.Len(t, stored, len(ops)+1, "file %d: exactly the acknowledged saves (plus the create) were stored", fi)

		// One chain: revision r is at index n-r, so each version's
		// predecessor is the one after it in the listing.
		byID := map[string]*hivesyncv1.FileVersion{}
		for i, v := range stored {
			require.EqualValues(t, len(stored)-i, v.GetRevision(), "file %d: revisions are contiguous", fi)
			byID[v.GetId()] = v
		}
		sort.Slice(ops, func(i, j int) bool { return ops[i].revision < ops[j].revision })
		for i, op := range ops {
			v, ok := byID[op.id]
			require.True(t, ok, "file %d: acknowledged save %d/%d is stored", fi, op.client, op.seqNum)
			require.Equal(t, op.revision, v.GetRevision())
			require.Equal(t, op.sha, v.GetContentSha256(), "file %d: the stored content is what was acknowledged", fi)
			require.Equal(t, stored[len(stored)-int(op.revision-1)].GetId(), op.base, "file %d revision %d: its base was the head it replaced (no lost update)", fi, op.revision)
			// Real-time order: no later revision was acknowledged before
			// this save began.
			for _, later := range ops[i+1:] {
				if later.acked.Before(op.start) {
					t.Fatalf("file %d: revision %d was acknowledged before revision %d started", fi, later.revision, op.revision)
				}
			}
		}
		// Every Conflict was earned: the base it refused had been replaced
		// by a save that began before the refusal returned, and the head it
		// named is the stored version of that revision, past the base.
		byRevision := map[int64]savedOp{}
		for _, op := range ops {
			byRevision[op.revision] = op
		}
		for _, r := range refused {
			if r.file != fi {
				continue
			}
			base, ok := byID[r.base]
			require.True(t, ok, "file %d: a refused save's base is a stored version", fi)
			next, ok := byRevision[base.GetRevision()+1]
			require.True(t, ok, "file %d: a save was refused on revision %d, which nothing replaced", fi, base.GetRevision())
			require.True(t, next.start.Before(r.acked), "file %d: refused on revision %d before the save that replaced it began", fi, base.GetRevision())
			require.Greater(t, r.headRevision, base.GetRevision(), "file %d: the Conflict's head is past the base", fi)
			head, ok := byID[r.head]
			require.True(t, ok, "file %d: the Conflict names a stored version", fi)
			require.Equal(t, r.headRevision, head.GetRevision())
		}
		// Reads see every save acknowledged before they started: walk reads
		// by start time, tracking the highest revision acknowledged so far.
		byAck := slices.Clone(ops)
		sort.Slice(byAck, func(i, j int) bool { return byAck[i].acked.Before(byAck[j].acked) })
		var fileReads []readOp
		for _, r := range reads {
			if r.file == fi {
				fileReads = append(fileReads, r)
			}
		}
		sort.Slice(fileReads, func(i, j int) bool { return fileReads[i].start.Before(fileReads[j].start) })
		var next int
		var seen int64
		for _, r := range fileReads {
			for next < len(byAck) && byAck[next].acked.Before(r.start) {
				seen = max(seen, byAck[next].revision)
				next++
			}
			if r.revision < seen {
				t.Fatalf("file %d: a read saw revision %d after revision %d was acknowledged", fi, r.revision, seen)
			}
		}
	}
}

// assertNoErr reports err from a worker goroutine, where require cannot stop
// the test.
func assertNoErr(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}

// TestInterruptedSavesConvergeOnRetry drops every database connection over
// and over while devices save, so saves are cut off mid-transaction, at
// commit, and after commit but before the answer. A client that retries with
// the same idempotency key must converge: each save is stored exactly once,
// the chain has no gap or fork, and replaying the whole queue afterwards
// answers the stored versions without writing anything.
func TestInterruptedSavesConvergeOnRetry(t *testing.T) {
	t.Parallel()
	const nFiles, nSaves = 8, 40
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	ed := newEditor(t, b, "crash@files.test")
	proj, err := ed.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Crash"})
	require.NoError(t, err)
	pid := proj.GetProject().GetId()

	replayer := hivesyncv1connect.NewSyncServiceClient(b.h1, b.baseURL, bearer(mustToken(t, b, "crash@files.test")))

	// The killer has its own connection outside the server's pool.
	killer, err := pgx.Connect(ctx, b.store.Pool().Config().ConnString())
	require.NoError(t, err)
	defer func() { _ = killer.Close(ctx) }()
	stop, killed := make(chan struct{}), make(chan int)
	go func() {
		kills := 0
		defer func() { killed <- kills }()
		// A bounded storm (about 5 s): on a slow machine a save may be cut
		// off every time while it lasts, but every save gets through after.
		for range 200 {
			select {
			case <-stop:
				return
			case <-time.After(25 * time.Millisecond):
			}
			var n int
			if err := killer.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n); err == nil {
				kills += n
			}
		}
	}()

	type acked struct{ id, base, sha string }
	paths, fileIDs := make([]string, nFiles), make([]string, nFiles)
	chains := make([][]acked, nFiles)
	var interrupted atomic.Int32
	var wg sync.WaitGroup
	for fi := range nFiles {
		paths[fi] = fmt.Sprintf("crash/f%d.txt", fi)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var head string
			for attempt := 0; head == ""; attempt++ {
				c, err := ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: paths[fi], Content: "0\n"})
				switch {
				case err == nil:
					fileIDs[fi], head = c.GetFile().GetId(), c.GetFile().GetHead().GetId()
				case connect.CodeOf(err) == connect.CodeUnavailable:
					interrupted.Add(1)
					time.Sleep(2 * time.Millisecond)
				case connect.CodeOf(err) == connect.CodeAlreadyExists:
					// The create committed but its answer was lost.
					if f := fileAt(ctx, ed, pid, paths[fi]); f != nil {
						fileIDs[fi], head = f.GetId(), f.GetHead().GetId()
					}
				default:
					t.Errorf("file %d: an interrupted create must answer Unavailable: %v", fi, err)
					return
				}
				if attempt > 5000 {
					t.Errorf("file %d: create never went through: %v", fi, err)
					return
				}
			}
			chains[fi] = []acked{{id: head}}
			for j := range nSaves {
				content := fmt.Sprintf("file %d save %d\n", fi, j)
				req := &hivesyncv1.SaveFileRequest{FileId: fileIDs[fi], BaseRevisionId: head, Content: content, IdempotencyKey: fmt.Sprintf("f%d-s%d", fi, j)}
				for attempt := 0; ; attempt++ {
					resp, err := ed.files.SaveFile(ctx, req)
					if err == nil {
						head = resp.GetVersion().GetId()
						chains[fi] = append(chains[fi], acked{id: head, base: req.GetBaseRevisionId(), sha: files.Hash(content)})
						break
					}
					if connect.CodeOf(err) != connect.CodeUnavailable {
						t.Errorf("file %d save %d: an interruption must answer Unavailable (a conflict here would mean a save lost or doubled): %v", fi, j, err)
						return
					}
					interrupted.Add(1)
					time.Sleep(2 * time.Millisecond)
					if attempt > 5000 {
						t.Errorf("file %d save %d: never went through: %v", fi, j, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	kills := <-killed
	require.False(t, t.Failed())
	require.Positive(t, interrupted.Load(), "some saves were interrupted")
	t.Logf("%d connections dropped, %d interrupted calls retried", kills, interrupted.Load())

	var queue []*hivesyncv1.QueuedEdit
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
			queue = append(queue, &hivesyncv1.QueuedEdit{Id: a.id, FilePath: paths[fi], Operation: hivesyncv1.EditOperation_EDIT_OPERATION_SAVE,
				BaseRevisionId: a.base, Content: fmt.Sprintf("file %d save %d\n", fi, j), IdempotencyKey: fmt.Sprintf("f%d-s%d", fi, j)})
		}
	}

	// The device replays its whole queue again: everything answers as applied,
	// with the versions already stored, and nothing new is written.
	replayed := retryUnavailable(t, func() (*hivesyncv1.ReplayEditsResponse, error) {
		return replayer.ReplayEdits(ctx, &hivesyncv1.ReplayEditsRequest{ProjectId: pid, Edits: queue})
	})
	require.Len(t, replayed.GetResults(), len(queue))
	for _, r := range replayed.GetResults() {
		require.Equal(t, hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_APPLIED, r.GetOutcome(), r.GetReason())
		require.Equal(t, r.GetEditId(), r.GetVersion().GetId(), "the replay answers the version the first try stored")
	}
	for _, id := range fileIDs {
		require.Len(t, allVersions(t, ed, id), nSaves+1, "the replay wrote nothing")
	}
}

// fileAt finds the live file at path, or nil (including when the lookup
// itself is interrupted).
func fileAt(ctx context.Context, ed editor, projectID, path string) *hivesyncv1.File {
	list, err := ed.files.ListFiles(ctx, &hivesyncv1.ListFilesRequest{ProjectId: projectID})
	if err != nil {
		return nil
	}
	for _, f := range list.GetFiles() {
		if f.GetPath() == path {
			return f
		}
	}
	return nil
}

// allVersions pages through a file's versions (newest first) at the default
// page size, retrying as clients do (see retryUnavailable).
func allVersions(t *testing.T, ed editor, fileID string) []*hivesyncv1.FileVersion {
	t.Helper()
	var all []*hivesyncv1.FileVersion
	token := ""
	for {
		page := retryUnavailable(t, func() (*hivesyncv1.ListVersionsResponse, error) {
			return ed.files.ListVersions(context.Background(), &hivesyncv1.ListVersionsRequest{FileId: fileID, PageToken: token})
		})
		all = append(all, page.GetVersions()...)
		if token = page.GetNextPageToken(); token == "" {
			return all
		}
	}
}

// retryUnavailable calls fn until it answers anything but Unavailable, as the
// API asks clients to. After the connection storm the server's pool still
// holds connections that were killed while idle; each is discarded on its
// first use, which answers Unavailable once.
func retryUnavailable[T any](t *testing.T, fn func() (T, error)) T {
	t.Helper()
	for attempt := 0; ; attempt++ {
		v, err := fn()
		if connect.CodeOf(err) == connect.CodeUnavailable && attempt < 50 {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		require.NoError(t, err)
		return v
	}
}
