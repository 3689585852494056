// Package live runs Live View (spec §4): sessions a creator streams
// read-only to invited viewers over the WebSocket channel live:<session_id>,
// invites that expire after an hour, the viewer cap, the preview-update
// throttle and the idle timeout.
package live

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"google.golang.org/protobuf/types/known/timestamppb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/apierror"
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/server/events"
	"github.com/hivesync/hivesync/server/notify"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// The spec §4 and §13 limits.
const (
	MaxViewers   = 100
	InviteTTL    = time.Hour
	IdleTimeout  = time.Hour
	PreviewEvery = 2 * time.Second
	// SeatHold is how long a viewer's seat outlives its last connection:
	// a viewer who reconnects within it resumes silently.
	SeatHold       = 10 * time.Minute
	ChannelPrefix  = "live:"
	reasonStopped  = "creator_stopped"
	reasonIdle     = "idle_timeout"
	activityWrites = time.Minute
)

// Channel is the WebSocket channel of a session.
func Channel(sessionID string) string { return ChannelPrefix + sessionID }

// Service implements LiveService and the gateway hooks for live channels.
type Service struct {
	store *store.Store
	log   *slog.Logger
	now   func() time.Time

	mu          sync.Mutex
	lastPreview map[uuid.UUID]time.Time // per session, this node
}

var _ hivesyncv1connect.LiveServiceHandler = (*Service)(nil)

// NewService returns the handler.
func NewService(st *store.Store, log *slog.Logger, now func() time.Time) *Service {
	return &Service{store: st, log: log, now: now, lastPreview: map[uuid.UUID]time.Time{}}
}

var errNotFound = connect.NewError(connect.CodeNotFound, errors.New("no such Live View session"))

func (s *Service) mapErr(ctx context.Context, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	return apierror.FromDomain(ctx, s.log, err)
}

func sessionProto(r dbgen.LiveSession, viewers int32) *hivesyncv1.LiveSession {
	out := &hivesyncv1.LiveSession{Id: r.ID.String(), Channel: Channel(r.ID.String()), ProjectId: r.ProjectID.String(),
		CreatorUserId: r.CreatorID.String(), StartedAt: timestamppb.New(r.CreatedAt), Viewers: viewers}
	if r.FileID != nil {
		out.FileId = r.FileID.String()
	}
	return out
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte("live\x00" + token))
	return h[:]
}

// CreateLiveInvite implements hivesyncv1connect.LiveServiceHandler.
func (s *Service) CreateLiveInvite(ctx context.Context, req *hivesyncv1.CreateLiveInviteRequest) (*hivesyncv1.CreateLiveInviteResponse, error) {
	userID, err := access.CallerUserID(ctx)
	if err != nil {
		return nil, err
	}
	projectID, err := apierror.ParseID("project_id", req.GetProjectId())
	if err != nil {
		return nil, err
	}
	if _, err := s.store.ProjectGetForMember(ctx, dbgen.ProjectGetForMemberParams{ID: projectID, UserID: userID}); err != nil {
		return nil, s.mapErr(ctx, store.MapError(err))
	}
	var fileID *uuid.UUID
	if req.GetFileId() != "" {
		id, err := apierror.ParseID("file_id", req.GetFileId())
		if err != nil {
			return nil, err
		}
		fileID = &id
	}
	email := strings.ToLower(strings.TrimSpace(req.GetInviteeEmail()))
	if email != "" && (!strings.Contains(email, "@") || len(email) > 320) {
		return nil, apierror.InvalidArgument("invitee_email", "must be an email address")
	}
	if fileID != nil {
		f, err := s.store.FileGetForMember(ctx, dbgen.FileGetForMemberParams{ID: *fileID, UserID: userID})
		if err != nil || f.ProjectID != projectID {
			return nil, connect.NewError(connect.CodeNotFound, errors.New("no such file in this project"))
		}
	}
	phone := ""
	if raw := req.GetInviteePhone(); raw != "" {
		if email != "" {
			return nil, apierror.InvalidArgument("invitee_phone", "give an email or a phone number, not both")
		}
		var ok bool
		if phone, ok = auth.NormalizePhone(raw); !ok {
			return nil, apierror.InvalidArgument("invitee_phone", "must be a phone number with its country code, e.g. +1 415 555 0100")
		}
	}
	var invitee *uuid.UUID
	if phone != "" {
		u, err := s.store.UserGetByPhone(ctx, phone)
		if err != nil {
			if errors.Is(store.MapError(err), store.ErrNotFound) {
				return nil, connect.NewError(connect.CodeNotFound, errors.New("no HiveSync account has that phone number; share the QR code instead"))
			}
			return nil, s.mapErr(ctx, err)
		}
		invitee = &u.ID
	}
	if email != "" {
		u, err := s.store.UserGetByEmail(ctx, email)
		if err != nil {
			if errors.Is(store.MapError(err), store.ErrNotFound) {
				return nil, connect.NewError(connect.CodeNotFound, errors.New("no HiveSync account has that email; share the QR code instead"))
			}
			return nil, s.mapErr(ctx, err)
		}
		invitee = &u.ID
	}
	raw := make([]byte, 24)
	_, _ = rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	expires := now.Add(InviteTTL)
	resp := &hivesyncv1.CreateLiveInviteResponse{Token: token, ExpiresAt: timestamppb.New(expires),
		QrPayload: "hivesync://live/join?token=" + token}
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		session, err := q.LiveSessionRunning(ctx, dbgen.LiveSessionRunningParams{CreatorID: userID, ProjectID: projectID})
		switch {
		case errors.Is(store.MapError(err), store.ErrNotFound):
			if session, err = q.LiveSessionInsert(ctx, dbgen.LiveSessionInsertParams{ID: uuid.New(), ProjectID: projectID, FileID: fileID, CreatorID: userID}); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		if err := q.LiveSessionTouch(ctx, dbgen.LiveSessionTouchParams{ID: session.ID, Now: now, TouchedBefore: now}); err != nil {
			return err
		}
		if err := q.LiveInviteInsert(ctx, dbgen.LiveInviteInsertParams{TokenHash: tokenHash(token), SessionID: session.ID, InviteeID: invitee, ExpiresAt: expires}); err != nil {
			return err
		}
		viewers, err := q.LiveViewerCount(ctx, dbgen.LiveViewerCountParams{SessionID: session.ID, HeldSince: s.now().Add(-SeatHold)})
		if err != nil {
			return err
		}
		resp.Session = sessionProto(session, viewers)
		if invitee != nil {
			resp.InviteeUserId = invitee.String()
			_, err := notify.Send(ctx, q, *invitee, notify.Notification{Title: "You are invited to a Live View",
				Body: "Tap to watch, read-only. The invite expires in an hour.", DeepLink: resp.GetQrPayload()}, now)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	return resp, nil
}

// JoinLive implements hivesyncv1connect.LiveServiceHandler.
func (s *Service) JoinLive(ctx context.Context, req *hivesyncv1.JoinLiveRequest) (*hivesyncv1.JoinLiveResponse, error) {
	userID, err := access.CallerUserID(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetToken() == "" || len(req.GetToken()) > 200 {
		return nil, apierror.InvalidArgument("token", "is required")
	}
	badInvite := connect.NewError(connect.CodeNotFound, errors.New("this Live View invite is unknown, expired, for another account, or its session ended"))
	resp := &hivesyncv1.JoinLiveResponse{}
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		inv, err := q.LiveInviteGet(ctx, dbgen.LiveInviteGetParams{TokenHash: tokenHash(req.GetToken()), Now: s.now()})
		if errors.Is(store.MapError(err), store.ErrNotFound) {
			return badInvite
		}
		if err != nil {
			return err
		}
		if inv.InviteeID != nil && *inv.InviteeID != userID {
			return badInvite
		}
		session, err := q.LiveSessionLock(ctx, inv.SessionID) // serializes joins against the cap
		if err != nil {
			return store.MapError(err)
		}
		if session.EndedAt != nil {
			return badInvite
		}
		if session.CreatorID != userID {
			added, err := q.LiveViewerInsert(ctx, dbgen.LiveViewerInsertParams{SessionID: session.ID, UserID: userID, Now: s.now(), HeldSince: s.now().Add(-SeatHold)})
			if err != nil {
				return err
			}
			viewers, err := q.LiveViewerCount(ctx, dbgen.LiveViewerCountParams{SessionID: session.ID, HeldSince: s.now().Add(-SeatHold)})
			if err != nil {
				return err
			}
			if added > 0 && viewers > MaxViewers { // rolled back: the session stays at the cap
				return apierror.QuotaExceeded(&hivesyncv1.LimitExceeded{Limit: hivesyncv1.Limit_LIMIT_LIVE_VIEWERS, Max: MaxViewers, Actual: int64(viewers),
					Message: fmt.Sprintf("a Live View has at most %d viewers", MaxViewers)})
			}
		}
		viewers, err := q.LiveViewerCount(ctx, dbgen.LiveViewerCountParams{SessionID: session.ID, HeldSince: s.now().Add(-SeatHold)})
		if err != nil {
			return err
		}
		resp.Session = sessionProto(session, viewers)
		return nil
	})
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	return resp, nil
}

// EndLive implements hivesyncv1connect.LiveServiceHandler.
func (s *Service) EndLive(ctx context.Context, req *hivesyncv1.EndLiveRequest) (*hivesyncv1.EndLiveResponse, error) {
	userID, err := access.CallerUserID(ctx)
	if err != nil {
		return nil, err
	}
	id, err := apierror.ParseID("session_id", req.GetSessionId())
	if err != nil {
		return nil, err
	}
	session, err := s.store.LiveSessionGet(ctx, id)
	if err != nil {
		return nil, s.mapErr(ctx, store.MapError(err))
	}
	if session.CreatorID != userID {
		return nil, errNotFound // viewers learn nothing about ending it
	}
	if err := s.end(ctx, id, reasonStopped); err != nil {
		return nil, s.mapErr(ctx, err)
	}
	return &hivesyncv1.EndLiveResponse{}, nil
}

// end closes a running session and announces it; ending twice is harmless.
func (s *Service) end(ctx context.Context, id uuid.UUID, reason string) error {
	err := s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		if _, err := q.LiveSessionEnd(ctx, dbgen.LiveSessionEndParams{ID: id, Now: s.now(), Reason: reason}); err != nil {
			return store.MapError(err)
		}
		_, err := events.Append(ctx, q, Channel(id.String()), &hivesyncv1.Event{Payload: &hivesyncv1.Event_LiveEnded{LiveEnded: &hivesyncv1.LiveEndedEvent{
			SessionId: id.String(), Reason: reason,
		}}}, s.now())
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil // already ended
	}
	s.mu.Lock()
	delete(s.lastPreview, id)
	s.mu.Unlock()
	return err
}

// AuthorizeChannel decides whether p may subscribe to live:<id>: the creator
// and viewers who joined, while the session runs. Anything else is
// not_found.
func (s *Service) AuthorizeChannel(ctx context.Context, p *access.Principal, channel string) (code, message string) {
	id, err := uuid.Parse(strings.TrimPrefix(channel, ChannelPrefix))
	user, uerr := uuid.Parse(p.UserID)
	if err != nil || uerr != nil {
		return "not_found", "no such channel"
	}
	ok, err := s.store.LiveViewerIs(ctx, dbgen.LiveViewerIsParams{SessionID: id, UserID: user, HeldSince: s.now().Add(-SeatHold)})
	switch {
	case err != nil:
		return "unavailable", "the session could not be checked; try again"
	case !ok:
		return "not_found", "no such channel (a viewer away for more than 10 minutes joins again with an invite)"
	}
	s.Present(ctx, p, channel) // the viewer is back: the seat's 10 minutes start again
	return "", ""
}

// Present renews the seat of a viewer connected to a live channel; the
// gateway calls it at every ping, so a connected viewer's seat never lapses.
func (s *Service) Present(ctx context.Context, p *access.Principal, channel string) {
	id, err := uuid.Parse(strings.TrimPrefix(channel, ChannelPrefix))
	user, uerr := uuid.Parse(p.UserID)
	if err != nil || uerr != nil {
		return
	}
	now := s.now()
	if _, err := s.store.LiveViewerSeen(ctx, dbgen.LiveViewerSeenParams{SessionID: id, UserID: user, Now: now, HeldSince: now.Add(-SeatHold)}); err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "renew live viewer seat", slog.String("error", err.Error()))
	}
}

// ErrRouting is wrapped by RouteClientEvent's refusals; its text is for the
// sender.
var ErrRouting = events.ErrClientEventRefused

// RouteClientEvent takes a live event a client sent (live.text,
// diff_update, preview_request, live_preview_toggle): only the session's
// creator may send them, while it runs, and preview updates are throttled
// to one every 2 seconds. Accepted events are appended to the session's
// channel, which delivers them to the viewers. It reports false for events
// that are not live events.
func (s *Service) RouteClientEvent(ctx context.Context, p *access.Principal, ev *hivesyncv1.Event) (bool, error) {
	var sessionID string
	preview := false
	out := &hivesyncv1.Event{}
	switch pl := ev.GetPayload().(type) {
	case *hivesyncv1.Event_LiveText:
		sessionID, out.Payload = pl.LiveText.GetSessionId(), pl
		if len(pl.LiveText.GetText()) > 256<<10 {
			return true, fmt.Errorf("%w: live text frames carry at most 256 KiB", ErrRouting)
		}
	case *hivesyncv1.Event_DiffUpdate:
		sessionID, out.Payload, preview = pl.DiffUpdate.GetSessionId(), pl, true
	case *hivesyncv1.Event_PreviewRequest:
		sessionID, out.Payload, preview = pl.PreviewRequest.GetSessionId(), pl, true
	case *hivesyncv1.Event_LivePreviewToggle:
		sessionID, out.Payload = pl.LivePreviewToggle.GetSessionId(), pl
	default:
		return false, nil
	}
	id, err := uuid.Parse(sessionID)
	user, uerr := uuid.Parse(p.UserID)
	if err != nil || uerr != nil {
		return true, fmt.Errorf("%w: session_id must be a Live View session", ErrRouting)
	}
	session, err := s.store.LiveSessionGet(ctx, id)
	if err != nil || session.CreatorID != user || session.EndedAt != nil {
		if err != nil && !errors.Is(store.MapError(err), store.ErrNotFound) {
			return true, err
		}
		return true, fmt.Errorf("%w: only the creator of a running session streams to it", ErrRouting)
	}
	now := s.now()
	if preview {
		s.mu.Lock()
		last, seen := s.lastPreview[id]
		ok := !seen || now.Sub(last) >= PreviewEvery
		if ok {
			s.lastPreview[id] = now
		}
		s.mu.Unlock()
		if !ok {
			return true, fmt.Errorf("%w: at most one preview update every %s; send the accumulated diff later", ErrRouting, PreviewEvery)
		}
	}
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		if err := q.LiveSessionTouch(ctx, dbgen.LiveSessionTouchParams{ID: id, Now: now, TouchedBefore: now.Add(-activityWrites)}); err != nil {
			return err
		}
		_, err := events.Append(ctx, q, Channel(id.String()), out, now)
		return err
	})
	return true, err
}

// ErrSessionEnded is returned for a Live View session that is not running.
var ErrSessionEnded = errors.New("the Live View session is not running")

// MaxOverlayNote bounds an overlay note.
const MaxOverlayNote = 4096

// PublishOverlay sends an AI comment overlay to a running session's viewers
// (spec §4: optional, shown beside the creator's text, never applied to
// it). The AI pipeline calls it; clients cannot send overlays.
func (s *Service) PublishOverlay(ctx context.Context, sessionID uuid.UUID, line int32, note string) error {
	if note == "" || len(note) > MaxOverlayNote || line < 0 {
		return fmt.Errorf("an overlay needs a note of 1 to %d bytes and a line >= 0", MaxOverlayNote)
	}
	session, err := s.store.LiveSessionGet(ctx, sessionID)
	if errors.Is(store.MapError(err), store.ErrNotFound) || (err == nil && session.EndedAt != nil) {
		return ErrSessionEnded
	}
	if err != nil {
		return err
	}
	_, err = events.Append(ctx, s.store, Channel(sessionID.String()), &hivesyncv1.Event{Payload: &hivesyncv1.Event_LiveOverlay{
		LiveOverlay: &hivesyncv1.LiveOverlayEvent{SessionId: sessionID.String(), Line: line, Note: note}}}, s.now())
	return err
}

// IdleArgs is the periodic River job ending sessions idle for an hour.
type IdleArgs struct{}

// Kind implements river.JobArgs.
func (IdleArgs) Kind() string { return "live.end_idle" }

// InsertOpts makes the enqueues of several nodes collapse into one.
func (IdleArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: 30 * time.Second}}
}

// IdleWorker works IdleArgs.
type IdleWorker struct {
	river.WorkerDefaults[IdleArgs]
	Service *Service
}

// Work implements river.Worker.
func (w *IdleWorker) Work(ctx context.Context, _ *river.Job[IdleArgs]) error {
	return w.Service.EndIdle(ctx)
}

// EndIdle ends every session whose creator has been idle past the timeout.
func (s *Service) EndIdle(ctx context.Context) error {
	ids, err := s.store.LiveSessionsIdle(ctx, s.now().Add(-IdleTimeout))
	if err != nil {
		return fmt.Errorf("find idle live sessions: %w", err)
	}
	for _, id := range ids {
		if err := s.end(ctx, id, reasonIdle); err != nil {
			return fmt.Errorf("end idle live session: %w", err)
		}
	}
	return nil
}
