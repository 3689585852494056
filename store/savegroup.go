package store

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hivesync/hivesync/store/dbgen"
)

// Saves are committed in groups. Every save of a project updates two of
// the project's rows (its storage meter and its event channel's counter),
// so concurrent saves of one project queue on those rows' locks, each
// waiting for the commit before it. Here they queue in the node instead:
// while a group of a project's saves is on its way, later saves of that
// project wait, and go together as the next group, pipelined in one round
// trip and committed by one commit (the group commit databases do for
// their own log).
//
// Saves of different projects share groups too, but only when the node
// already has two groups per CPU on their way (groupSlots): then a save
// waits for the first of them to return, and goes with the saves that
// waited meanwhile. Postgres does a group's work for less than the same
// saves one by one (a round trip, a transaction start and a commit shared),
// and with two groups per CPU on their way it has the next group to work
// on while a group's answer travels back. Below that, a save of a project
// with no group on its way goes at once, alone.
//
// Each save is still all or nothing, and a group commits all its saves or
// none. A save whose compare-and-set fails writes nothing and returns no
// row, which does not disturb the others. If a save of a group fails with
// an error, Postgres has rolled the whole group back, so each save of it is
// run again on its own and gets its own answer; if the connection is lost
// and the outcome is unknown, every save of the group gets the error, as a
// save alone would.
//
// Two groups of one node never hold rows of one project at once, so they
// cannot deadlock each other. A group's saves run in channel (project)
// order, then file id order, the same in every node, and a snapshot
// restore locks every live file of the project in file id order before it
// appends: a group never waits for a file while a transaction that holds a
// later one waits for the group. Saves of one file keep their order of
// arrival.

// maxGroup bounds the saves of one group (and so the latency a group adds
// to the saves behind it).
const maxGroup = 32

// groupTimeout bounds the run of a group in which some save's caller set no
// deadline. A group does not end with the context of the caller that runs
// it (the other saves in it are not that caller's to cancel); it ends at
// the latest of its callers' deadlines.
const groupTimeout = 30 * time.Second

// errGroupAborted answers the saves of a group whose run ended abnormally.
var errGroupAborted = errors.New("save group aborted")

// saveGroups forms the groups of a Store's saves.
type saveGroups struct {
	mu       sync.Mutex
	slots    int // groups on their way at most (groupSlots)
	queue    []*pendingSave
	busy     map[string]struct{} // channels (projects) with a group on its way
	inFlight int
	onGroup  atomic.Pointer[func(size int)] // tests only: called as each group starts
}

// groupSlots is how many groups a node keeps on their way at most: two per
// CPU the Go runtime uses, and never more than the pool's connections.
// Measured against one slot per pool connection (every save of its own)
// at 8 clients on 2 CPUs (BENCHMARKS.md), it cut Postgres CPU per save by
// about 8% and raised throughput in 10 of 14 paired runs.
func groupSlots(pool *pgxpool.Pool) int {
	return min(int(pool.Config().MaxConns), 2*runtime.GOMAXPROCS(0))
}

func newSaveGroups(slots int) *saveGroups {
	return &saveGroups{slots: max(1, slots), busy: map[string]struct{}{}}
}

// pendingSave is one save from its call until its answer.
type pendingSave struct {
	arg      dbgen.FileVersionAppendParams
	deadline time.Time // the caller's, if it set one
	row      dbgen.FileVersionAppendRow
	err      error
	done     chan struct{} // closed once row and err are set
	// lead is closed when this save's goroutine is to run group (which
	// holds this save).
	lead  chan struct{}
	group []*pendingSave
}

// AppendFileVersion saves one version with FileVersionAppend (see
// queries/files.sql) in a group with the saves of the same moment, and
// announces its event once committed. A failed compare-and-set returns
// pgx.ErrNoRows.
func (s *Store) AppendFileVersion(ctx context.Context, arg dbgen.FileVersionAppendParams) (dbgen.FileVersionAppendRow, error) {
	if err := ctx.Err(); err != nil {
		return dbgen.FileVersionAppendRow{}, err
	}
	g := s.groups
	g.mu.Lock()
	if _, busy := g.busy[arg.Channel]; !busy && g.inFlight < g.slots {
		// Nothing to wait for: the save is a group of its own, now.
		g.busy[arg.Channel] = struct{}{}
		g.inFlight++
		g.mu.Unlock()
		p := &pendingSave{arg: arg}
		s.runGroup(ctx, []*pendingSave{p})
		return p.row, p.err
	}
	p := &pendingSave{arg: arg, done: make(chan struct{}), lead: make(chan struct{})}
	p.deadline, _ = ctx.Deadline()
	g.queue = append(g.queue, p)
	g.formLocked()
	g.mu.Unlock()
	select {
	case <-p.done:
	case <-p.lead:
		s.runGroup(ctx, p.group)
	case <-ctx.Done():
		if g.withdraw(p) {
			return dbgen.FileVersionAppendRow{}, ctx.Err()
		}
		// It is in a group on its way or is to lead one: its outcome is no
		// longer the caller's to cancel. Wait for it rather than report a
		// save that may commit as not made.
		select {
		case <-p.done:
		case <-p.lead:
			s.runGroup(ctx, p.group)
		}
	}
	// A leader's group holds its own save, so either way it is done.
	<-p.done
	return p.row, p.err
}

// formLocked forms groups from the queue while a slot is free, each of
// saves whose projects have no group on its way, and hands each to its
// first save's goroutine to run.
func (g *saveGroups) formLocked() {
	for g.inFlight < g.slots && len(g.queue) > 0 {
		var group []*pendingSave
		taken := map[string]struct{}{}
		rest := g.queue[:0]
		for _, p := range g.queue {
			_, busy := g.busy[p.arg.Channel]
			if busy || len(group) == maxGroup {
				rest = append(rest, p)
				continue
			}
			group = append(group, p)
			taken[p.arg.Channel] = struct{}{}
		}
		clear(g.queue[len(rest):])
		g.queue = rest
		if len(group) == 0 {
			return
		}
		for c := range taken {
			g.busy[c] = struct{}{}
		}
		slices.SortStableFunc(group, func(a, b *pendingSave) int {
			if c := strings.Compare(a.arg.Channel, b.arg.Channel); c != 0 {
				return c
			}
			return bytes.Compare(a.arg.FileID[:], b.arg.FileID[:])
		})
		g.inFlight++
		group[0].group = group
		close(group[0].lead)
	}
}

// withdraw takes p out of the queue if it is still only waiting there.
func (g *saveGroups) withdraw(p *pendingSave) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, q := range g.queue {
		if q == p {
			g.queue = append(g.queue[:i], g.queue[i+1:]...)
			return true
		}
	}
	return false
}

// runGroup commits group, announces what it committed, answers each of its
// saves and forms the next groups.
func (s *Store) runGroup(ctx context.Context, group []*pendingSave) {
	for _, p := range group {
		p.err = errGroupAborted // unless commitGroup answers
	}
	defer s.endGroup(group)
	if onGroup := s.groups.onGroup.Load(); onGroup != nil {
		(*onGroup)(len(group))
	}
	if len(group) == 1 {
		// A save alone runs in its own goroutine (a group's first save
		// leads it) and is its caller's to cancel.
		s.commitGroup(ctx, group)
		if group[0].err == nil {
			s.announce(group[0].arg.Channel)
		}
		return
	}
	deadline := time.Now().Add(groupTimeout)
	if latest, ok := latestDeadline(group); ok {
		deadline = latest
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	s.commitGroup(ctx, group)
	var committed []string
	for _, p := range group {
		if p.err == nil && !slices.Contains(committed, p.arg.Channel) {
			committed = append(committed, p.arg.Channel)
		}
	}
	s.announce(committed...)
}

// latestDeadline is the latest deadline of group's callers, if all set one.
func latestDeadline(group []*pendingSave) (time.Time, bool) {
	var latest time.Time
	for _, p := range group {
		if p.deadline.IsZero() {
			return time.Time{}, false
		}
		if p.deadline.After(latest) {
			latest = p.deadline
		}
	}
	return latest, true
}

// endGroup frees group's projects and slot, forms the next groups and
// answers group's saves.
func (s *Store) endGroup(group []*pendingSave) {
	g := s.groups
	g.mu.Lock()
	for _, p := range group {
		delete(g.busy, p.arg.Channel)
	}
	g.inFlight--
	g.formLocked()
	g.mu.Unlock()
	for _, p := range group {
		if p.done != nil { // nil for a save that did not wait
			close(p.done)
		}
	}
}

// commitGroup runs group's saves as one pipelined transaction and sets each
// save's row or error.
func (s *Store) commitGroup(ctx context.Context, group []*pendingSave) {
	if len(group) == 1 {
		group[0].row, group[0].err = appendAlone(ctx, s.single, group[0].arg)
		return
	}
	args := make([]dbgen.FileVersionAppendParams, len(group))
	for i, p := range group {
		args[i] = p.arg
	}
	rows, errs, err := appendVersions(ctx, s.Querier, args)
	if err == nil || !rolledBack(err) {
		for i, p := range group {
			p.row, p.err = rows[i], errs[i]
			if err != nil {
				p.row, p.err = dbgen.FileVersionAppendRow{}, err
			}
		}
		return
	}
	// Postgres rolled the group back because of one save (a unique
	// violation, say): each save alone gets its own answer.
	for _, p := range group {
		p.row, p.err = appendAlone(ctx, s.single, p.arg)
	}
}

// retriesAlone bounds how many more times a save run on its own is tried
// after Postgres rolled it back to break a deadlock (40P01) or a
// serialization conflict (40001). Either says nothing about the save: it
// lost a race with another transaction (two nodes' groups saving into one
// project, say), wrote nothing, and runs the same way once that one ends.
const retriesAlone = 3

// appendAlone is appendOne on the pool, run again when Postgres rolled the
// save back only to let another transaction through.
func appendAlone(ctx context.Context, q dbgen.Querier, arg dbgen.FileVersionAppendParams) (dbgen.FileVersionAppendRow, error) {
	for attempt := 0; ; attempt++ {
		row, err := appendOne(ctx, q, arg)
		var pgErr *pgconn.PgError
		if attempt == retriesAlone || ctx.Err() != nil || !errors.As(err, &pgErr) || pgErr.Code != "40P01" && pgErr.Code != "40001" {
			return row, err
		}
	}
}

// appendVersions runs FileVersionAppend for each of args on q in one
// pipeline: on the pool, one implicit transaction; in a transaction, part
// of it. It returns each save's row or pgx.ErrNoRows (a failed
// compare-and-set), and err when the pipeline failed as a whole, in which
// case nothing of it was committed or (connection lost) it is not known.
func appendVersions(ctx context.Context, q dbgen.Querier, args []dbgen.FileVersionAppendParams) ([]dbgen.FileVersionAppendRow, []error, error) {
	rows := make([]dbgen.FileVersionAppendRow, len(args))
	errs := make([]error, len(args))
	var failed error
	results := q.FileVersionAppend(ctx, args)
	results.QueryRow(func(i int, row dbgen.FileVersionAppendRow, err error) {
		rows[i], errs[i] = row, err
		if err != nil && !errors.Is(err, pgx.ErrNoRows) && failed == nil {
			failed = err
		}
	})
	// QueryRow closed the batch; Close reports how the pipeline ended
	// (the commit, on the pool).
	if err := results.Close(); err != nil && failed == nil {
		failed = err
	}
	return rows, errs, failed
}

// rolledBack reports whether Postgres itself answered err, so the
// transaction it ended is known to be rolled back (unlike a lost
// connection, after which a commit may or may not have happened).
func rolledBack(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && !Unavailable(err) || pgconn.SafeToRetry(err)
}

// AppendFileVersion saves one version with FileVersionAppend on q, the
// Store (grouped with concurrent saves) or the queries of a transaction
// from InTx (in that transaction, announced after its commit).
func AppendFileVersion(ctx context.Context, q dbgen.Querier, arg dbgen.FileVersionAppendParams) (dbgen.FileVersionAppendRow, error) {
	if a, ok := q.(interface {
		AppendFileVersion(context.Context, dbgen.FileVersionAppendParams) (dbgen.FileVersionAppendRow, error)
	}); ok {
		return a.AppendFileVersion(ctx, arg)
	}
	return appendOne(ctx, q, arg)
}

// appendOne runs FileVersionAppend for one save on q and returns its row,
// pgx.ErrNoRows (a failed compare-and-set) or the error that ended it.
func appendOne(ctx context.Context, q dbgen.Querier, arg dbgen.FileVersionAppendParams) (dbgen.FileVersionAppendRow, error) {
	rows, errs, err := appendVersions(ctx, q, []dbgen.FileVersionAppendParams{arg})
	if err != nil {
		return dbgen.FileVersionAppendRow{}, err
	}
	return rows[0], errs[0]
}

// oneQueryBatches is a dbgen.DBTX that sends a batch of one query as that
// query alone. pgx sends every batch through its pipeline, which for a
// save alone (most saves) costs more than the save's own query; a batch of
// one needs no pipeline: the query is its own implicit transaction on the
// pool, and part of the caller's in a transaction.
type oneQueryBatches struct {
	dbgen.DBTX
}

func (o oneQueryBatches) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if len(b.QueuedQueries) != 1 {
		return o.DBTX.SendBatch(ctx, b)
	}
	q := b.QueuedQueries[0]
	return &oneRowResults{row: o.QueryRow(ctx, q.SQL, q.Arguments...)}
}

// oneRowResults are the results of a batch of one QueryRow.
type oneRowResults struct {
	row pgx.Row
}

var errOneRowOnly = errors.New("a batch of one query sent alone answers QueryRow only")

func (r *oneRowResults) QueryRow() pgx.Row                { return r.row }
func (r *oneRowResults) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, errOneRowOnly }
func (r *oneRowResults) Query() (pgx.Rows, error)         { return nil, errOneRowOnly }
func (r *oneRowResults) Close() error                     { return nil }
func (r *oneRowResults) Tx() pgx.Tx                       { return nil }
