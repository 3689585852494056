package app_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/events"
	"github.com/hivesync/hivesync/server/history"
	"github.com/hivesync/hivesync/store/dbgen"
)

func TestHistoryRetentionJob(t *testing.T) {
	t.Parallel()

	t.Run("work_prunes_entries_older_than_the_retention_and_keeps_newer_ones", func(t *testing.T) {
		t.Parallel()
		// The node's own retention job is off: only the workers below prune.
		b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_HISTORY_RETENTION": "off"})
		ctx := context.Background()
		owner := newEditorOn(t, b, "old@retention.test", "desktop")
		proj, err := owner.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Aging"})
		require.NoError(t, err)
		pid := proj.GetProject().GetId()
		channel := events.ProjectChannel(pid)
		// age backdates the channel's entries written today.
		age := func(days int) {
			t.Helper()
			_, err := b.store.Pool().Exec(ctx, "UPDATE events SET created_at = now() - make_interval(days => $2) WHERE channel = $1 AND created_at > now() - interval '1 day'", channel, days)
			require.NoError(t, err)
		}
		appendSaves(t, b, pid, 4, "old.txt")
		age(100)
		appendSaves(t, b, pid, 2, "recent.txt")
		age(80)
		appendSaves(t, b, pid, 3, "new.txt")
		paths := func() map[string]int {
			t.Helper()
			rows, err := b.store.EventListAfter(ctx, dbgen.EventListAfterParams{Channel: channel, MaxEvents: 100})
			require.NoError(t, err)
			out := map[string]int{}
			for _, r := range rows {
				ev, err := events.Decode(r.Sequence, r.Payload)
				require.NoError(t, err)
				out[ev.GetSaveFile().GetPath()]++
			}
			return out
		}
		worker := func(retention time.Duration) *history.PruneWorker {
			return &history.PruneWorker{Store: b.store, Now: time.Now, Retention: retention, Log: slog.New(slog.DiscardHandler)}
		}

		require.NoError(t, worker(0).Work(ctx, nil), "retention off")
		require.Equal(t, 4, paths()["old.txt"], "a zero retention keeps everything")
		require.NoError(t, worker(90*24*time.Hour).Work(ctx, nil))
		got := paths()
		require.Zero(t, got["old.txt"], "entries older than the retention are pruned")
		require.Equal(t, 2, got["recent.txt"], "entries inside the retention are kept")
		require.Equal(t, 3, got["new.txt"])
		require.NoError(t, worker(24*time.Hour).Work(ctx, nil))
		got = paths()
		require.Zero(t, got["recent.txt"], "a shorter retention prunes more")
		require.Equal(t, 3, got["new.txt"])
	})

	t.Run("retention_is_a_positive_duration_or_off", func(t *testing.T) {
		t.Parallel()
		load := func(value string) (*app.Config, error) {
			vars := map[string]string{"HIVESYNC_DATABASE_URL": "postgres://x/y"}
			if value != "" {
				vars["HIVESYNC_HISTORY_RETENTION"] = value
			}
			return app.LoadConfig(app.ModeServe, env(vars))
		}
		for value, want := range map[string]time.Duration{
			"":       90 * 24 * time.Hour,
			"720h":   720 * time.Hour,
			"36h30m": 36*time.Hour + 30*time.Minute,
			"off":    0,
			"OFF":    0,
			"0":      0,
		} {
			cfg, err := load(value)
			require.NoError(t, err, "HIVESYNC_HISTORY_RETENTION=%q", value)
			require.Equal(t, want, cfg.HistoryRetention, "HIVESYNC_HISTORY_RETENTION=%q", value)
		}
		for _, value := range []string{"-1h", "90d", "forever", "none"} {
			_, err := load(value)
			require.ErrorContains(t, err, "HIVESYNC_HISTORY_RETENTION", "%q is refused, naming the variable", value)
		}
	})
}
