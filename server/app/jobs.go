package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/server/entitlements"
	"github.com/hivesync/hivesync/server/files"
	"github.com/hivesync/hivesync/server/history"
	"github.com/hivesync/hivesync/server/live"
	"github.com/hivesync/hivesync/store"
)

// nodeStaleAfter is how long a node may miss heartbeats before it no longer
// counts as active; nodePruneAfter is when its row is deleted.
const (
	nodeHeartbeatEvery = 15 * time.Second
	nodeStaleAfter     = time.Minute
	nodePruneAfter     = time.Hour
)

// NodePruneArgs is the River job that deletes rows of nodes gone for an hour.
type NodePruneArgs struct{}

// Kind implements river.JobArgs.
func (NodePruneArgs) Kind() string { return "nodes.prune" }

// InsertOpts makes concurrent enqueues of the same prune collapse into one.
func (NodePruneArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: 5 * time.Minute}}
}

type nodePruneWorker struct {
	river.WorkerDefaults[NodePruneArgs]
	store *store.Store
	now   func() time.Time
	log   *slog.Logger
}

func (w *nodePruneWorker) Work(ctx context.Context, _ *river.Job[NodePruneArgs]) error {
	n, err := w.store.NodeDeleteStale(ctx, w.now().Add(-nodePruneAfter))
	if err != nil {
		return fmt.Errorf("prune nodes: %w", err)
	}
	if n > 0 {
		w.log.InfoContext(ctx, "pruned stale nodes", slog.Int64("count", n))
	}
	return nil
}

// Timeout bounds one prune.
func (w *nodePruneWorker) Timeout(*river.Job[NodePruneArgs]) time.Duration { return 30 * time.Second }

// newRiverClient builds the River client. With runWorkers it works the
// default queue and schedules periodic jobs; without, it can only enqueue.
func newRiverClient(st *store.Store, cfg *Config, log *slog.Logger, now func() time.Time, keys *auth.KeyRing, liveSvc *live.Service, runWorkers bool) (*river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &nodePruneWorker{store: st, now: now, log: log})
	river.AddWorker(workers, &entitlements.ExpireWorker{Store: st, Now: now, Log: log})
	river.AddWorker(workers, &auth.RotateKeysWorker{Keys: keys, MaxAge: cfg.SigningKeyMaxAge, Log: log})
	river.AddWorker(workers, &auth.CleanupWorker{Store: st, Now: now, Log: log})
	river.AddWorker(workers, &files.PruneLocksWorker{Store: st, Now: now})
	river.AddWorker(workers, &live.IdleWorker{Service: liveSvc})
	river.AddWorker(workers, &history.PruneWorker{Store: st, Now: now, Retention: cfg.HistoryRetention, Log: log})
	rc := &river.Config{
		Logger:     log.With(slog.String("component", "river")),
		Workers:    workers,
		JobTimeout: time.Minute,
		ID:         cfg.NodeID,
	}
	if runWorkers {
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.WorkerConcurrency}}
		rc.PeriodicJobs = []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(10*time.Minute),
				func() (river.JobArgs, *river.InsertOpts) { return NodePruneArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
				func() (river.JobArgs, *river.InsertOpts) { return auth.RotateKeysArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
				func() (river.JobArgs, *river.InsertOpts) { return auth.CleanupArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(10*time.Minute),
				func() (river.JobArgs, *river.InsertOpts) { return files.PruneLocksArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
				func() (river.JobArgs, *river.InsertOpts) { return live.IdleArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(history.PruneEvery),
				func() (river.JobArgs, *river.InsertOpts) { return history.PruneArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(entitlements.ExpireEvery),
				func() (river.JobArgs, *river.InsertOpts) { return entitlements.ExpireArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
		}
	}
	client, err := river.NewClient(riverpgxv5.New(st.Pool()), rc)
	if err != nil {
		return nil, fmt.Errorf("create river client: %w", err)
	}
	return client, nil
}
