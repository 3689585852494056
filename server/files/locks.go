package files

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"google.golang.org/protobuf/types/known/timestamppb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/apierror"
	"github.com/hivesync/hivesync/server/events"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// AcquireLock implements hivesyncv1connect.FileServiceHandler.
func (s *Service) AcquireLock(ctx context.Context, req *hivesyncv1.AcquireLockRequest) (*hivesyncv1.AcquireLockResponse, error) {
	ttl := req.GetTtlSeconds()
	switch {
	case ttl == 0:
		ttl = 60
	case ttl < 10 || ttl > 300:
		return nil, apierror.InvalidArgument("ttl_seconds", "must be 10 to 300")
	}
	f, err := s.file(ctx, req.GetFileId())
	if err != nil {
		return nil, err
	}
	if f.Role < int16(hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR) {
		return nil, errReadOnly
	}
	p := access.PrincipalFrom(ctx)
	session, userID, device, err := lockHolder(p)
	if err != nil {
		return nil, err
	}
	now := s.now()
	expires := now.Add(time.Duration(ttl) * time.Second)
	var locks []dbgen.SoftLock
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		// Taking a lock the session did not hold live (none, or one that
		// lapsed and was not pruned yet) is announced; a heartbeat is not.
		fresh, err := q.SoftLockUpsert(ctx, dbgen.SoftLockUpsertParams{FileID: f.ID, SessionID: session, UserID: userID, DeviceID: device, ExpiresAt: expires, Now: now})
		if err != nil {
			return err
		}
		if fresh {
			if err := s.announceLock(ctx, q, f, userID, device, true, expires); err != nil {
				return err
			}
		}
		locks, err = q.SoftLockList(ctx, dbgen.SoftLockListParams{FileID: f.ID, Now: now})
		return err
	})
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	return &hivesyncv1.AcquireLockResponse{Locks: lockProtos(locks)}, nil
}

// ReleaseLock implements hivesyncv1connect.FileServiceHandler.
func (s *Service) ReleaseLock(ctx context.Context, req *hivesyncv1.ReleaseLockRequest) (*hivesyncv1.ReleaseLockResponse, error) {
	f, err := s.file(ctx, req.GetFileId())
	if err != nil {
		return nil, err
	}
	session, userID, device, err := lockHolder(access.PrincipalFrom(ctx))
	if err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		n, err := q.SoftLockDelete(ctx, dbgen.SoftLockDeleteParams{FileID: f.ID, SessionID: session})
		if err != nil || n == 0 {
			return err
		}
		return s.announceLock(ctx, q, f, userID, device, false, s.now())
	})
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	return &hivesyncv1.ReleaseLockResponse{}, nil
}

func lockHolder(p *access.Principal) (session, user uuid.UUID, device *uuid.UUID, err error) {
	if p == nil {
		return uuid.Nil, uuid.Nil, nil, errNotFound
	}
	if session, err = uuid.Parse(p.SessionID); err != nil {
		return uuid.Nil, uuid.Nil, nil, apierror.InvalidArgument("token", "soft locks need a user session")
	}
	if user, err = uuid.Parse(p.UserID); err != nil {
		return uuid.Nil, uuid.Nil, nil, apierror.InvalidArgument("token", "soft locks need a user session")
	}
	if d, derr := uuid.Parse(p.DeviceID); derr == nil {
		device = &d
	}
	return session, user, device, nil
}

func (s *Service) announceLock(ctx context.Context, q dbgen.Querier, f dbgen.FileGetForMemberRow, user uuid.UUID, device *uuid.UUID, held bool, expires time.Time) error {
	return s.announce(ctx, q, f.ProjectID, lockChanged(f.ProjectID, f.ID, user, device, held, expires))
}

// lockChanged is the lock.changed event telling a project's devices that a
// user (on a device, when known) took or let go of a file's soft lock; at is
// when the lock expires, or when it ended for a release.
func lockChanged(projectID, fileID, user uuid.UUID, device *uuid.UUID, held bool, at time.Time) *hivesyncv1.Event {
	ev := &hivesyncv1.LockChangedEvent{ProjectId: projectID.String(), FileId: fileID.String(), UserId: user.String(), Held: held, ExpiresAt: timestamppb.New(at)}
	if device != nil {
		ev.DeviceId = device.String()
	}
	return &hivesyncv1.Event{Payload: &hivesyncv1.Event_LockChanged{LockChanged: ev}}
}

func lockProtos(locks []dbgen.SoftLock) []*hivesyncv1.SoftLock {
	out := make([]*hivesyncv1.SoftLock, 0, len(locks))
	for _, l := range locks {
		sl := &hivesyncv1.SoftLock{UserId: l.UserID.String(), SessionId: l.SessionID.String(), ExpiresAt: timestamppb.New(l.ExpiresAt)}
		if l.DeviceID != nil {
			sl.DeviceId = l.DeviceID.String()
		}
		out = append(out, sl)
	}
	return out
}

// PruneLocksArgs is the periodic River job deleting lapsed soft-lock rows
// (reads already ignore them; this keeps the table small) and telling the
// projects' devices that each of those locks is gone.
type PruneLocksArgs struct{}

// Kind implements river.JobArgs.
func (PruneLocksArgs) Kind() string { return "files.prune_locks" }

// PruneLocksWorker works PruneLocksArgs.
type PruneLocksWorker struct {
	river.WorkerDefaults[PruneLocksArgs]
	Store *store.Store
	Now   func() time.Time
}

// Work implements river.Worker. Each lock it deletes is announced as
// released (at the time it lapsed) on its project's channel, in the same
// transaction, so devices that were shown it stop showing it.
func (w *PruneLocksWorker) Work(ctx context.Context, _ *river.Job[PruneLocksArgs]) error {
	now := w.Now()
	err := w.Store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		lapsed, err := q.SoftLockDeleteLapsed(ctx, now.Add(-time.Minute))
		if err != nil {
			return err
		}
		for _, l := range lapsed {
			ev := lockChanged(l.ProjectID, l.FileID, l.UserID, l.DeviceID, false, l.ExpiresAt)
			if _, err := events.Append(ctx, q, events.ProjectChannel(l.ProjectID.String()), ev, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("prune soft locks: %w", err)
	}
	return nil
}
