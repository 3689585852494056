package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/apierror"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

var _ hivesyncv1connect.SyncServiceHandler = (*Service)(nil)

// maxReplayBatch bounds one ReplayEdits call.
const maxReplayBatch = 500

// ReplayEdits implements hivesyncv1connect.SyncServiceHandler. Each edit runs
// in its own transaction through the same create/save paths as the RPCs, so
// the rules (limits, compare-and-set, idempotency) are identical.
func (s *Service) ReplayEdits(ctx context.Context, req *hivesyncv1.ReplayEditsRequest) (*hivesyncv1.ReplayEditsResponse, error) {
	userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	projectID, err := parseID("project_id", req.GetProjectId())
	if err != nil {
		return nil, err
	}
	if _, err := s.store.ProjectGetForMember(ctx, dbgen.ProjectGetForMemberParams{ID: projectID, UserID: userID}); err != nil {
		return nil, s.mapErr(ctx, store.MapError(err))
	}
	if n := len(req.GetEdits()); n == 0 || n > maxReplayBatch {
		return nil, apierror.InvalidArgument("edits", fmt.Sprintf("must hold 1 to %d edits", maxReplayBatch))
	}
	device, err := s.device(ctx, userID, req.GetDeviceId())
	if err != nil {
		return nil, err
	}
	// Queue row ids are only unique on their device: an edit without its
	// own idempotency key is keyed by its id within the replaying device
	// (the user, for a session with no device).
	scope := "user " + userID.String()
	if device != nil {
		scope = "device " + device.String()
	}
	resp := &hivesyncv1.ReplayEditsResponse{}
	chain := replayChain{after: map[uuid.UUID]uuid.UUID{}, created: map[string]uuid.UUID{}}
	for _, e := range req.GetEdits() {
		if err := ctx.Err(); err != nil {
			return nil, s.mapErr(ctx, err)
		}
		resp.Results = append(resp.Results, s.replay(ctx, userID, projectID, req.GetDeviceId(), scope, &chain, e))
	}
	return resp, nil
}

// replayChain links the edits of one batch that a device made one after
// another on the same file while offline. The device knows no server id for
// its own queued edits, so each carries the base it last knew: an edit on
// the same base as an earlier edit of the batch that was applied is applied
// on that edit's result, and an edit of a file created earlier in the batch
// may name no base. Without this, a device's second offline edit of a file
// would come back as a conflict with its own first.
type replayChain struct {
	after   map[uuid.UUID]uuid.UUID // a base → the latest version applied on it in this batch
	created map[string]uuid.UUID    // a path key → the version this batch created it with
}

// queueKey is the idempotency key of a queued edit that carries none: its
// queue row id within scope, hashed so that any id fits the key's limit.
func queueKey(scope, id string) string {
	sum := sha256.Sum256([]byte(scope + "\x00" + id))
	return "queue:" + hex.EncodeToString(sum[:16])
}

// replay applies one queued edit and describes the outcome.
func (s *Service) replay(ctx context.Context, userID, projectID uuid.UUID, device, scope string, chain *replayChain, e *hivesyncv1.QueuedEdit) *hivesyncv1.ReplayResult {
	res := &hivesyncv1.ReplayResult{EditId: e.GetId()}
	key := e.GetIdempotencyKey()
	if key == "" && e.GetId() != "" {
		key = queueKey(scope, e.GetId())
	}
	if key == "" {
		return rejected(res, apierror.InvalidArgument("id", "every queued edit needs an id or an idempotency_key"))
	}
	if e.GetOperation() == hivesyncv1.EditOperation_EDIT_OPERATION_CREATE {
		f, err := s.create(ctx, userID, projectID, e.GetFilePath(), e.GetContent(), key)
		if err != nil {
			return rejected(res, err)
		}
		if _, pathKey, err := NormalizePath(e.GetFilePath()); err == nil {
			if v, err := uuid.Parse(f.GetHead().GetId()); err == nil {
				chain.created[pathKey] = v
			}
		}
		res.Outcome, res.FileId, res.Version = hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_APPLIED, f.GetId(), f.GetHead()
		return res
	}
	_, pathKey, err := NormalizePath(e.GetFilePath())
	if err != nil {
		return rejected(res, apierror.InvalidArgument("file_path", strings.TrimPrefix(err.Error(), ErrBadPath.Error()+": ")))
	}
	fileID, err := s.store.FileIDByPathKey(ctx, dbgen.FileIDByPathKeyParams{ProjectID: projectID, PathKey: pathKey})
	if err != nil {
		return rejected(res, s.mapErr(ctx, store.MapError(err)))
	}
	res.FileId = fileID.String()
	queuedBase, err := uuid.Parse(e.GetBaseRevisionId())
	if created, ok := chain.created[pathKey]; ok && e.GetBaseRevisionId() == "" {
		queuedBase, err = created, nil
	}
	if err != nil {
		return rejected(res, apierror.InvalidArgument("base_revision_id", "must be a UUID"))
	}
	base := queuedBase
	if applied, ok := chain.after[queuedBase]; ok {
		base = applied
	}
	r := saveRequest{userID: userID, fileID: fileID, base: base, key: key, device: device}
	switch e.GetOperation() {
	case hivesyncv1.EditOperation_EDIT_OPERATION_SAVE:
		// Checked after the file is found, as a patch's result is.
		r.edit = func(string) (string, error) { return e.GetContent(), nil }
	case hivesyncv1.EditOperation_EDIT_OPERATION_PATCH:
		r.edit = func(baseContent string) (string, error) {
			out, err := ApplyPatch(baseContent, e.GetPatch())
			if err != nil {
				return "", apierror.InvalidArgument("patch", err.Error())
			}
			return out, nil
		}
	default:
		return rejected(res, apierror.InvalidArgument("operation", "must be create, save or patch"))
	}
	v, err := s.save(ctx, r)
	var ce *connect.Error
	if errors.As(err, &ce) && ce.Code() == connect.CodeAborted {
		for _, d := range ce.Details() {
			if c, derr := d.Value(); derr == nil {
				if conflict, ok := c.(*hivesyncv1.Conflict); ok {
					res.Outcome, res.Conflict = hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_CONFLICT, conflict
					return res
				}
			}
		}
	}
	if err != nil {
		return rejected(res, err)
	}
	chain.after[queuedBase] = v.ID
	res.Outcome, res.Version = hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_APPLIED, fullVersionProto(v)
	return res
}

func rejected(res *hivesyncv1.ReplayResult, err error) *hivesyncv1.ReplayResult {
	res.Outcome = hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_REJECTED
	res.Code = connect.CodeOf(err).String()
	var ce *connect.Error
	if errors.As(err, &ce) {
		res.Reason = ce.Message()
	} else {
		res.Reason = "internal error"
	}
	return res
}
