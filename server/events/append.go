// Package events is the append-only event log every realtime event goes
// through: Append writes an Event in the caller's transaction, numbered per
// channel, and notifies listeners; the WebSocket gateway delivers and replays
// from the log.
package events

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/meta"
	"github.com/hivesync/hivesync/store/dbgen"
)

// NotifyChannel is the Postgres NOTIFY channel announcing appended events;
// each message is "<channel> <origin>", the origin naming the publishing
// node's Publisher (older nodes sent "<channel> <sequence>"; readers take
// the channel up to the space). The Postgres bus sends them after the
// appending transaction committed.
const NotifyChannel = "hivesync_events"

// UserChannel is the channel of a user's own events (entitlements,
// notifications, admin messages).
func UserChannel(userID string) string { return "user:" + userID }

// ProjectChannel is the channel of a project's changes; it is also the
// project's history.
func ProjectChannel(projectID string) string { return "project_sync:" + projectID }

// Append numbers ev on channel, fills in id, event_type and server_time, and
// stores it in q's transaction, in one statement. The event is visible (and
// announced) only if that transaction commits. ev itself is not changed.
func Append(ctx context.Context, q dbgen.Querier, channel string, ev *hivesyncv1.Event, now time.Time) (*hivesyncv1.Event, error) {
	out := proto.CloneOf(ev)
	enc, err := Encode(channel, out, now)
	if err != nil {
		return nil, err
	}
	seq, err := q.EventAppend(ctx, dbgen.EventAppendParams{Channel: enc.Channel, EventType: enc.EventType, Payload: enc.Payload})
	if err != nil {
		return nil, fmt.Errorf("append event: %w", err)
	}
	out.Sequence = seq
	return out, nil
}

// Encoded is an event ready for the log: for the event_append function
// (migrations 00014, 00028), which a statement can call to append it
// together with other writes, or for a statement's own append.
type Encoded struct {
	Channel   string
	EventType string
	// Payload is the Event without its sequence: the log numbers it in the
	// sequence column (and appends the same number to the stored payload,
	// for readers of the previous release); Decode takes it from the column.
	Payload []byte
}

// Encode fills in ev's id, event_type, channel and server_time (ev is the
// caller's to give away) and encodes it for event_append.
func Encode(channel string, ev *hivesyncv1.Event, now time.Time) (Encoded, error) {
	typ, err := eventType(ev)
	if err != nil {
		return Encoded{}, err
	}
	ev.Id, ev.EventType, ev.Channel, ev.Sequence, ev.ServerTime = uuid.NewString(), typ, channel, 0, timestamppb.New(now.UTC())
	payload, err := proto.Marshal(ev)
	if err != nil {
		return Encoded{}, fmt.Errorf("encode event: %w", err)
	}
	return Encoded{Channel: channel, EventType: typ, Payload: payload}, nil
}

// Decode reads an event stored in the log as the event numbered sequence
// (its row's sequence column). The stored payload carries the same number,
// except in rows appended under migrations 00028 and 00029.
func Decode(sequence int64, payload []byte) (*hivesyncv1.Event, error) {
	ev := &hivesyncv1.Event{}
	if err := proto.Unmarshal(payload, ev); err != nil {
		return nil, err
	}
	ev.Sequence = sequence
	return ev, nil
}

// eventType is the wire name declared for the event's payload in the contract.
func eventType(ev *hivesyncv1.Event) (string, error) {
	m := ev.ProtoReflect()
	field := m.WhichOneof(m.Descriptor().Oneofs().ByName("payload"))
	if field == nil {
		return "", fmt.Errorf("event has no payload")
	}
	typ, ok := eventTypes()[field.Number()]
	if !ok {
		return "", fmt.Errorf("payload %s has no event spec", field.Name())
	}
	return typ, nil
}

// eventTypes maps each payload field of Event to its event type, read from
// the contract's options once rather than on every append.
var eventTypes = sync.OnceValue(func() map[protoreflect.FieldNumber]string {
	fields := (&hivesyncv1.Event{}).ProtoReflect().Descriptor().Oneofs().ByName("payload").Fields()
	out := make(map[protoreflect.FieldNumber]string, fields.Len())
	for i := range fields.Len() {
		if spec, ok := meta.EventSpecOf(fields.Get(i)); ok {
			out[fields.Get(i).Number()] = spec.GetEventType()
		}
	}
	return out
})
