// Package history serves a project's history: the project's channel of the
// append-only event log, listed in pages, exported as JSON Lines, CSV or
// text in constant memory, purged by an owner, and pruned by age.
package history

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/encoding/protojson"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/apierror"
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/server/events"
	"github.com/hivesync/hivesync/server/live"
	"github.com/hivesync/hivesync/server/meta"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// exportPage is how many log rows an export reads per query, and
// exportChunk the size of each streamed body chunk: together they bound an
// export's memory whatever the project's size.
const (
	exportPage  = 500
	exportChunk = 64 << 10
)

// Service implements HistoryService.
type Service struct {
	store *store.Store
	log   *slog.Logger
	now   func() time.Time
}

var _ hivesyncv1connect.HistoryServiceHandler = (*Service)(nil)

// NewService returns the handler.
func NewService(st *store.Store, log *slog.Logger, now func() time.Time) *Service {
	return &Service{store: st, log: log, now: now}
}

var (
	errNotFound   = connect.NewError(connect.CodeNotFound, errors.New("not found"))
	errOwnersOnly = connect.NewError(connect.CodePermissionDenied, errors.New("only a project owner can purge it"))
)

// knownTypes are the event types the contract declares, for validating filters.
var knownTypes = func() map[string]bool {
	out := map[string]bool{}
	fields := (&hivesyncv1.Event{}).ProtoReflect().Descriptor().Oneofs().ByName("payload").Fields()
	for i := range fields.Len() {
		if spec, ok := meta.EventSpecOf(fields.Get(i)); ok {
			out[spec.GetEventType()] = true
		}
	}
	return out
}()

// member checks that the caller belongs to the project (NotFound otherwise)
// and returns the caller and the project id.
func (s *Service) member(ctx context.Context, rawProject string) (uuid.UUID, dbgen.ProjectGetForMemberRow, error) {
	userID, err := access.CallerUserID(ctx)
	if err != nil {
		return uuid.Nil, dbgen.ProjectGetForMemberRow{}, err
	}
	projectID, err := apierror.ParseID("project_id", rawProject)
	if err != nil {
		return uuid.Nil, dbgen.ProjectGetForMemberRow{}, err
	}
	p, err := s.store.ProjectGetForMember(ctx, dbgen.ProjectGetForMemberParams{ID: projectID, UserID: userID})
	if err != nil {
		return uuid.Nil, dbgen.ProjectGetForMemberRow{}, s.mapErr(ctx, store.MapError(err))
	}
	return userID, p, nil
}

func (s *Service) mapErr(ctx context.Context, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	return apierror.FromDomain(ctx, s.log, err)
}

// ListHistory implements hivesyncv1connect.HistoryServiceHandler.
func (s *Service) ListHistory(ctx context.Context, req *hivesyncv1.ListHistoryRequest) (*hivesyncv1.ListHistoryResponse, error) {
	_, p, err := s.member(ctx, req.GetProjectId())
	if err != nil {
		return nil, err
	}
	types := req.GetEventTypes()
	for _, t := range types {
		if !knownTypes[t] {
			return nil, apierror.InvalidArgument("event_types", fmt.Sprintf("%q is not an event type (GET /api/v1/events/schema lists them)", t))
		}
	}
	if types == nil {
		types = []string{}
	}
	size, cursor, err := apierror.Page(req.GetPageSize(), req.GetPageToken(), 100, 1000)
	if err != nil {
		return nil, err
	}
	channel := events.ProjectChannel(p.ID.String())
	var rows []logRow
	if req.GetOldestFirst() {
		after := cursor
		if req.GetPageToken() == "" {
			after = 0
		}
		page, err := s.store.HistoryPageOldest(ctx, dbgen.HistoryPageOldestParams{Channel: channel, After: after, Until: math.MaxInt64, EventTypes: types, MaxRows: size + 1})
		if err != nil {
			return nil, s.mapErr(ctx, err)
		}
		for _, r := range page {
			rows = append(rows, logRow(r))
		}
	} else {
		page, err := s.store.HistoryPageNewest(ctx, dbgen.HistoryPageNewestParams{Channel: channel, Before: cursor, EventTypes: types, MaxRows: size + 1})
		if err != nil {
			return nil, s.mapErr(ctx, err)
		}
		for _, r := range page {
			rows = append(rows, logRow(r))
		}
	}
	resp := &hivesyncv1.ListHistoryResponse{}
	if len(rows) > int(size) {
		rows = rows[:size]
		resp.NextPageToken = strconv.FormatInt(rows[len(rows)-1].Sequence, 10)
	}
	for _, r := range rows {
		entry, err := r.entry()
		if err != nil {
			return nil, s.mapErr(ctx, err)
		}
		resp.Entries = append(resp.Entries, entry)
	}
	return resp, nil
}

// logRow is one row of a history page.
type logRow dbgen.HistoryPageOldestRow

func (r logRow) entry() (*hivesyncv1.HistoryEntry, error) {
	ev, err := events.Decode(r.Sequence, r.Payload)
	if err != nil {
		return nil, fmt.Errorf("decode event %d: %w", r.Sequence, err)
	}
	return &hivesyncv1.HistoryEntry{Event: ev, Summary: describe(ev).summary}, nil
}

// formats maps an export format to its content type and file extension.
var formats = map[string]string{
	"jsonl": "application/x-ndjson",
	"csv":   "text/csv; charset=utf-8",
	"txt":   "text/plain; charset=utf-8",
}

// ExportHistory implements hivesyncv1connect.HistoryServiceHandler.
func (s *Service) ExportHistory(ctx context.Context, req *hivesyncv1.ExportHistoryRequest, stream *connect.ServerStream[httpbody.HttpBody]) error {
	_, p, err := s.member(ctx, req.GetProjectId())
	if err != nil {
		return err
	}
	format := strings.ToLower(strings.TrimPrefix(req.GetFormat(), "."))
	contentType, ok := formats[format]
	if !ok {
		return apierror.InvalidArgument("format", "must be jsonl, csv or txt")
	}
	channel := events.ProjectChannel(p.ID.String())
	until, err := s.store.EventChannelLast(ctx, channel)
	if err != nil && !errors.Is(store.MapError(err), store.ErrNotFound) {
		return s.mapErr(ctx, err)
	}
	stream.ResponseHeader().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="hivesync-history-%s.%s"`, p.ID, format))

	w := &exportWriter{stream: stream, contentType: contentType}
	enc := newEncoder(format, &w.buf)
	if err := enc.header(); err != nil {
		return s.mapErr(ctx, err)
	}
	for after := int64(0); after < until; {
		page, err := s.store.HistoryPageOldest(ctx, dbgen.HistoryPageOldestParams{Channel: channel, After: after, Until: until, EventTypes: []string{}, MaxRows: exportPage})
		if err != nil {
			return s.mapErr(ctx, err)
		}
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			entry, err := logRow(r).entry()
			if err != nil {
				return s.mapErr(ctx, err)
			}
			if err := enc.entry(entry); err != nil {
				return s.mapErr(ctx, err)
			}
			if err := w.maybeFlush(); err != nil {
				return err
			}
		}
		after = page[len(page)-1].Sequence
	}
	if err := enc.finish(); err != nil {
		return s.mapErr(ctx, err)
	}
	return w.flush()
}

// exportWriter buffers encoded entries and sends them in chunks.
type exportWriter struct {
	stream      *connect.ServerStream[httpbody.HttpBody]
	contentType string
	buf         bytes.Buffer
	sent        bool
}

func (w *exportWriter) maybeFlush() error {
	if w.buf.Len() < exportChunk {
		return nil
	}
	return w.flush()
}

// flush sends what is buffered (and at least one message, so an empty
// export still carries its content type). Send encodes the message before
// returning, so the buffer is reused.
func (w *exportWriter) flush() error {
	if w.buf.Len() == 0 && w.sent {
		return nil
	}
	err := w.stream.Send(&httpbody.HttpBody{ContentType: w.contentType, Data: w.buf.Bytes()})
	w.buf.Reset()
	w.sent = true
	return err
}

// encoder writes entries in one export format.
type encoder struct {
	format string
	out    *bytes.Buffer
	csv    *csv.Writer
}

func newEncoder(format string, out *bytes.Buffer) *encoder {
	e := &encoder{format: format, out: out}
	if format == "csv" {
		e.csv = csv.NewWriter(out)
	}
	return e
}

var csvHeader = []string{"sequence", "time", "event_type", "actor_user_id", "device_id", "file_id", "path", "revision", "summary"}

func (e *encoder) header() error {
	if e.csv != nil {
		return e.csv.Write(csvHeader)
	}
	return nil
}

func (e *encoder) entry(entry *hivesyncv1.HistoryEntry) error {
	ev := entry.GetEvent()
	when := ev.GetServerTime().AsTime().UTC().Format(time.RFC3339Nano)
	switch e.format {
	case "jsonl":
		line, err := protojson.Marshal(entry)
		if err != nil {
			return fmt.Errorf("encode history entry: %w", err)
		}
		e.out.Write(line)
		e.out.WriteByte('\n')
		return nil
	case "csv":
		d := describe(ev)
		revision := ""
		if d.revision > 0 {
			revision = strconv.FormatInt(d.revision, 10)
		}
		err := e.csv.Write([]string{strconv.FormatInt(ev.GetSequence(), 10), when, ev.GetEventType(), d.actor, d.device, d.fileID,
			spreadsheetSafe(d.path), revision, spreadsheetSafe(entry.GetSummary())})
		e.csv.Flush()
		return err
	default:
		d := describe(ev)
		fmt.Fprintf(e.out, "%s  #%d  %s", when, ev.GetSequence(), oneLine(entry.GetSummary()))
		if d.actor != "" {
			fmt.Fprintf(e.out, "  (user %s)", d.actor)
		}
		e.out.WriteByte('\n')
		return nil
	}
}

func (e *encoder) finish() error {
	if e.csv != nil {
		e.csv.Flush()
		return e.csv.Error()
	}
	return nil
}

// spreadsheetSafe defuses cells a spreadsheet would run as a formula (paths
// and labels are user data; OWASP "CSV injection").
func spreadsheetSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// oneLine keeps a text export line-oriented whatever a label contains.
func oneLine(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s)
}

// PurgeProject implements hivesyncv1connect.HistoryServiceHandler.
func (s *Service) PurgeProject(ctx context.Context, req *hivesyncv1.PurgeProjectRequest) (*hivesyncv1.PurgeProjectResponse, error) {
	userID, p, err := s.member(ctx, req.GetProjectId())
	if err != nil {
		return nil, err
	}
	if p.Role != int16(hivesyncv1.ProjectRole_PROJECT_ROLE_OWNER) {
		return nil, errOwnersOnly
	}
	if strings.TrimSpace(req.GetConfirmName()) != p.Name {
		return nil, apierror.InvalidArgument("confirm_name", "must be the project's exact name, to confirm an irreversible purge")
	}
	resp := &hivesyncv1.PurgeProjectResponse{}
	var liveEntries int64
	channel := events.ProjectChannel(p.ID.String())
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		locked, err := q.ProjectLockForPurge(ctx, dbgen.ProjectLockForPurgeParams{ID: p.ID, UserID: userID, OwnerRole: int16(hivesyncv1.ProjectRole_PROJECT_ROLE_OWNER)})
		if err != nil {
			return store.MapError(err) // purged meanwhile, or no longer an owner
		}
		resp.Files, resp.Versions = locked.Files, locked.Versions
		// The Live View channels of the project's sessions carry the text
		// that was streamed; they go before the sessions cascade away with
		// the project. Their sequence rows go first: deleting them waits
		// for appends in flight, which the events statement then sees.
		if _, err := q.EventChannelDeleteLiveByProject(ctx, dbgen.EventChannelDeleteLiveByProjectParams{ChannelPrefix: live.ChannelPrefix, ProjectID: p.ID}); err != nil {
			return err
		}
		if liveEntries, err = q.EventDeleteLiveByProject(ctx, dbgen.EventDeleteLiveByProjectParams{ChannelPrefix: live.ChannelPrefix, ProjectID: p.ID}); err != nil {
			return err
		}
		if resp.HistoryEntries, err = q.EventDeleteChannel(ctx, channel); err != nil {
			return err
		}
		if _, err := q.ProjectDelete(ctx, p.ID); err != nil {
			return err
		}
		if err := auth.Audit(ctx, q, &userID, "project.purged", nil, map[string]any{"project_id": p.ID,
			"files": resp.Files, "versions": resp.Versions, "history_entries": resp.HistoryEntries, "live_entries": liveEntries}); err != nil {
			return err
		}
		_, err = events.Append(ctx, q, channel, &hivesyncv1.Event{Payload: &hivesyncv1.Event_ProjectPurged{ProjectPurged: &hivesyncv1.ProjectPurgedEvent{
			ProjectId: p.ID.String(), ActorUserId: userID.String(),
		}}}, s.now())
		return err
	})
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	s.log.InfoContext(ctx, "project purged", slog.String("project_id", p.ID.String()), slog.Int64("files", resp.Files),
		slog.Int64("versions", resp.Versions), slog.Int64("history_entries", resp.HistoryEntries), slog.Int64("live_entries", liveEntries))
	return resp, nil
}
