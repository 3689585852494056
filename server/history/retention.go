package history

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// pruneBatch is how many log rows one statement deletes, so pruning never
// holds long locks or builds one huge transaction.
const pruneBatch = 5000

// PruneEvery is how often the retention job runs.
const PruneEvery = time.Hour

// PruneArgs is the periodic River job deleting event-log entries (project
// history and realtime replay) older than the retention window.
type PruneArgs struct{}

// Kind implements river.JobArgs.
func (PruneArgs) Kind() string { return "history.prune" }

// InsertOpts makes concurrent enqueues from several nodes collapse into one.
func (PruneArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: PruneEvery / 2}}
}

// PruneWorker works PruneArgs.
type PruneWorker struct {
	river.WorkerDefaults[PruneArgs]
	Store *store.Store
	Now   func() time.Time
	// Retention is the window kept; zero keeps everything.
	Retention time.Duration
	Log       *slog.Logger
}

// Work implements river.Worker.
func (w *PruneWorker) Work(ctx context.Context, _ *river.Job[PruneArgs]) error {
	n, err := Prune(ctx, w.Store, w.Now().Add(-w.Retention), w.Retention)
	if n > 0 {
		w.Log.InfoContext(ctx, "pruned history", slog.Int64("entries", n))
	}
	return err
}

// Timeout bounds one run; a run cut short resumes at the next one.
func (w *PruneWorker) Timeout(*river.Job[PruneArgs]) time.Duration { return 10 * time.Minute }

// Prune deletes log entries created before cutoff, in batches, and returns
// how many it deleted. A zero retention deletes nothing.
func Prune(ctx context.Context, st *store.Store, cutoff time.Time, retention time.Duration) (int64, error) {
	if retention <= 0 {
		return 0, nil
	}
	var total int64
	for {
		n, err := st.EventPruneBatch(ctx, dbgen.EventPruneBatchParams{Cutoff: cutoff, BatchSize: pruneBatch})
		total += n
		if err != nil {
			return total, fmt.Errorf("prune history: %w", err)
		}
		if n < pruneBatch {
			return total, nil
		}
	}
}
