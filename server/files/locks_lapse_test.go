package files_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/events"
	"github.com/hivesync/hivesync/server/files"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
	"github.com/hivesync/hivesync/store/storetest"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

// Now is the clock's current time, for files.NewService and the workers.
func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lockBundle is one user signed in on two devices (a session each), with a
// file in a project, served by a files.Service on a test clock.
type lockBundle struct {
	svc           *files.Service
	store         *store.Store
	clock         *testClock
	laptop, phone context.Context
	laptopDevice  uuid.UUID
	userID        uuid.UUID
	projectID     string
	fileID        string
}

func setupLocks(t *testing.T) *lockBundle {
	t.Helper()
	ctx := context.Background()
	st := storetest.Store(t)
	clock := &testClock{now: time.Date(2031, 3, 4, 10, 0, 0, 0, time.UTC)}
	u, err := st.UserUpsertByEmail(ctx, dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: "locks@lapse.test"})
	require.NoError(t, err)
	signIn := func(name string) (context.Context, uuid.UUID) {
		d, err := st.DeviceUpsert(ctx, dbgen.DeviceUpsertParams{ID: uuid.New(), UserID: u.ID, Name: name, Platform: "test",
			ClientType: int16(hivesyncv1.ClientType_CLIENT_TYPE_DESKTOP)})
		require.NoError(t, err)
		s, err := st.SessionInsert(ctx, dbgen.SessionInsertParams{ID: uuid.New(), UserID: u.ID, DeviceID: &d.ID, ClientID: "desktop",
			ClientType: int16(hivesyncv1.ClientType_CLIENT_TYPE_DESKTOP), Scopes: []string{}})
		require.NoError(t, err)
		return access.WithPrincipal(ctx, &access.Principal{UserID: u.ID.String(), SessionID: s.ID.String(), DeviceID: d.ID.String()}), d.ID
	}
	b := &lockBundle{svc: files.NewService(st, files.Limits{MaxFileBytes: 1 << 20, MaxProjectBytes: 1 << 30}, slog.New(slog.DiscardHandler), clock.Now),
		store: st, clock: clock, userID: u.ID}
	b.laptop, b.laptopDevice = signIn("laptop")
	b.phone, _ = signIn("phone")
	p, err := b.svc.CreateProject(b.laptop, &hivesyncv1.CreateProjectRequest{Name: "Locks"})
	require.NoError(t, err)
	b.projectID = p.GetProject().GetId()
	f, err := b.svc.CreateFile(b.laptop, &hivesyncv1.CreateFileRequest{ProjectId: b.projectID, Path: "l.txt", Content: "1\n"})
	require.NoError(t, err)
	b.fileID = f.GetFile().GetId()
	return b
}

// lockEvents are the lock.changed events on the project's channel, oldest first.
func (b *lockBundle) lockEvents(t *testing.T) []*hivesyncv1.LockChangedEvent {
	t.Helper()
	rows, err := b.store.EventListAfter(context.Background(), dbgen.EventListAfterParams{Channel: events.ProjectChannel(b.projectID), MaxEvents: 1000})
	require.NoError(t, err)
	var out []*hivesyncv1.LockChangedEvent
	for _, r := range rows {
		if r.EventType != "lock.changed" {
			continue
		}
		ev, err := events.Decode(r.Sequence, r.Payload)
		require.NoError(t, err)
		out = append(out, ev.GetLockChanged())
	}
	return out
}

// acquire takes or renews the file's lock as the device of ctx.
func (b *lockBundle) acquire(t *testing.T, ctx context.Context, ttlSeconds int32) *hivesyncv1.AcquireLockResponse {
	t.Helper()
	resp, err := b.svc.AcquireLock(ctx, &hivesyncv1.AcquireLockRequest{FileId: b.fileID, TtlSeconds: ttlSeconds})
	require.NoError(t, err)
	return resp
}

func TestSoftLockLapse(t *testing.T) {
	t.Parallel()

	t.Run("lapsed_lock_taken_again_is_announced_as_acquired", func(t *testing.T) {
		t.Parallel()
		b := setupLocks(t)
		b.acquire(t, b.laptop, 10)
		require.Len(t, b.lockEvents(t), 1)

		// The lock lapsed; the prune job has not run, so its row is still there.
		b.clock.Advance(30 * time.Second)
		seen, err := b.svc.GetFile(b.phone, &hivesyncv1.GetFileRequest{FileId: b.fileID})
		require.NoError(t, err)
		require.Empty(t, seen.GetLocks(), "other devices no longer see a lapsed lock")

		held := b.acquire(t, b.laptop, 60)
		require.Len(t, held.GetLocks(), 1)
		got := b.lockEvents(t)
		require.Len(t, got, 2, "taking a lapsed lock again is a new acquisition")
		again := got[1]
		require.True(t, again.GetHeld())
		require.Equal(t, b.fileID, again.GetFileId())
		require.Equal(t, b.userID.String(), again.GetUserId())
		require.Equal(t, b.laptopDevice.String(), again.GetDeviceId())
		require.Equal(t, b.clock.Now().Add(time.Minute), again.GetExpiresAt().AsTime())
	})

	t.Run("heartbeat_of_a_live_lock_is_not_announced", func(t *testing.T) {
		t.Parallel()
		b := setupLocks(t)
		b.acquire(t, b.laptop, 60)
		for range 3 {
			b.clock.Advance(50 * time.Second) // within the 60 seconds each heartbeat renews
			held := b.acquire(t, b.laptop, 60)
			require.Len(t, held.GetLocks(), 1)
		}
		got := b.lockEvents(t)
		require.Len(t, got, 1, "only the first acquisition is announced")
		require.True(t, got[0].GetHeld())

		// Another device of the same user takes its own lock: that is news.
		b.acquire(t, b.phone, 60)
		require.Len(t, b.lockEvents(t), 2)
	})

	t.Run("pruning_a_lapsed_lock_announces_its_release", func(t *testing.T) {
		t.Parallel()
		b := setupLocks(t)
		b.acquire(t, b.laptop, 10)
		lapsedAt := b.clock.Now().Add(10 * time.Second)
		b.acquire(t, b.phone, 300)
		require.Len(t, b.lockEvents(t), 2)

		b.clock.Advance(2 * time.Minute)
		prune := &files.PruneLocksWorker{Store: b.store, Now: b.clock.Now}
		require.NoError(t, prune.Work(context.Background(), nil))
		got := b.lockEvents(t)
		require.Len(t, got, 3, "the pruned lock is announced as released")
		released := got[2]
		require.False(t, released.GetHeld())
		require.Equal(t, b.projectID, released.GetProjectId())
		require.Equal(t, b.fileID, released.GetFileId())
		require.Equal(t, b.userID.String(), released.GetUserId())
		require.Equal(t, b.laptopDevice.String(), released.GetDeviceId())
		require.Equal(t, lapsedAt, released.GetExpiresAt().AsTime(), "released when it lapsed")

		seen, err := b.svc.GetFile(b.laptop, &hivesyncv1.GetFileRequest{FileId: b.fileID})
		require.NoError(t, err)
		require.Len(t, seen.GetLocks(), 1, "the phone's live lock is kept")
		require.NoError(t, prune.Work(context.Background(), nil))
		require.Len(t, b.lockEvents(t), 3, "a lock is released once")
	})
}
