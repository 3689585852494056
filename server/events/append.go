// Package events is the append-only event log every realtime event goes
// through: Append writes an Event in the caller's transaction, numbered per
// channel, and notifies listeners; the WebSocket gateway delivers and replays
// from the log.
package events

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/meta"
	"github.com/hivesync/hivesync/store/dbgen"
)

// NotifyChannel is the Postgres NOTIFY channel announcing appended events;
// each message is "<channel> <sequence>".
const NotifyChannel = "hivesync_events"

// UserChannel is the channel of a user's own events (entitlements,
// notifications, admin messages).
func UserChannel(userID string) string { return "user:" + userID }

// ProjectChannel is the channel of a project's changes; it is also the
// project's history.
func ProjectChannel(projectID string) string { return "project_sync:" + projectID }

// Append numbers ev on channel, fills in id, event_type and server_time, and
// stores it in q's transaction. The event is visible (and announced) only if
// that transaction commits.
func Append(ctx context.Context, q dbgen.Querier, channel string, ev *hivesyncv1.Event, now time.Time) (*hivesyncv1.Event, error) {
	typ, err := eventType(ev)
	if err != nil {
		return nil, err
	}
	seq, err := q.EventChannelNext(ctx, channel)
	if err != nil {
		return nil, fmt.Errorf("reserve event sequence: %w", err)
	}
	out := proto.CloneOf(ev)
	out.Id, out.EventType, out.Channel, out.Sequence, out.ServerTime = uuid.NewString(), typ, channel, seq, timestamppb.New(now.UTC())
	payload, err := proto.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	if err := q.EventInsert(ctx, dbgen.EventInsertParams{Channel: channel, Sequence: seq, EventType: typ, Payload: payload}); err != nil {
		return nil, fmt.Errorf("append event: %w", err)
	}
	if err := q.EventNotify(ctx, channel+" "+strconv.FormatInt(seq, 10)); err != nil {
		return nil, fmt.Errorf("notify event: %w", err)
	}
	return out, nil
}

// eventType is the wire name declared for the event's payload in the contract.
func eventType(ev *hivesyncv1.Event) (string, error) {
	m := ev.ProtoReflect()
	field := m.WhichOneof(m.Descriptor().Oneofs().ByName("payload"))
	if field == nil {
		return "", fmt.Errorf("event has no payload")
	}
	spec, ok := meta.EventSpecOf(field)
	if !ok {
		return "", fmt.Errorf("payload %s has no event spec", field.Name())
	}
	return spec.GetEventType(), nil
}
