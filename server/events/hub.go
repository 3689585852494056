package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// BroadcastChannel carries admin broadcasts and migration notices; every
// authenticated socket receives it.
const BroadcastChannel = "broadcast"

// readPage is how many log rows one read fetches, for live fan-out and for
// catching a resumed subscription up.
const readPage = 500

// Frame is one event ready to send. It is shared by every subscriber of a
// channel and encoded at most once per wire format, so a broadcast costs the
// same allocations whatever the number of subscribers.
type Frame struct {
	// Event is the event.
	Event    *hivesyncv1.Event
	jsonOnce sync.Once
	json     []byte
	binOnce  sync.Once
	bin      []byte
}

// NewFrame wraps an event for sending.
func NewFrame(ev *hivesyncv1.Event) *Frame { return &Frame{Event: ev} }

// Bytes is the frame's encoding: binary protobuf or protobuf JSON.
func (f *Frame) Bytes(binary bool) []byte {
	if binary {
		f.binOnce.Do(func() { f.bin, _ = proto.Marshal(f.Event) })
		return f.bin
	}
	f.jsonOnce.Do(func() { f.json, _ = protojson.Marshal(f.Event) })
	return f.json
}

// Sink receives a subscription's frames. Deliver must not block: it queues
// the frame or, when the receiver cannot keep up, reports false (the hub
// then drops the subscriber; the socket closes with a reason).
type Sink interface {
	Deliver(f *Frame) bool
	// UserID is the subscriber's user, for membership changes.
	UserID() string
	// Revoke ends the subscription of a channel the subscriber may no longer
	// read, telling it why.
	Revoke(channel, reason string)
}

// Hub fans the event log out to this node's subscribers. The node's
// Publisher wakes it when this node commits events, and the bus announces
// which channels other nodes gave new events (every node hears every node);
// each channel with local subscribers has one reader, so an event costs one
// read per node, not one per subscriber, and identical catch-up reads of a
// reconnect storm are coalesced. Every resync interval the hub also compares
// its channels' heads with the log in one query, so an announcement lost
// (a node that crashed between a commit and its announcement, a Redis
// message dropped) delays an event by at most that long.
type Hub struct {
	store  *store.Store
	bus    Bus
	log    *slog.Logger
	window int64
	resync time.Duration
	// origin is the node's Publisher's: the bus's echo of what it already
	// woke the hub for is passed over.
	origin string
	reads  singleflight.Group
	// queries counts the event-log queries this hub issued (after
	// coalescing), for the metric and the reconnect-storm benchmark.
	queries atomic.Int64

	mu       sync.Mutex
	channels map[string]*channelState
	closed   bool
	ctx      context.Context
	cancel   context.CancelFunc
}

// HubOptions configure a hub.
type HubOptions struct {
	// Window is how many missed events a resuming subscriber is replayed
	// before it is told to rehydrate instead.
	Window int64
	// Resync is how often channel heads are checked against the log
	// (default 2 s).
	Resync time.Duration
	// Publisher is the node's, if any: it wakes the hub directly for the
	// events this node commits, and the hub passes over their echo on the
	// bus. Without it, the hub hears this node's events on the bus too.
	Publisher *Publisher
	Log       *slog.Logger
}

// NewHub returns a hub fed by bus.
func NewHub(st *store.Store, bus Bus, opts HubOptions) *Hub {
	ctx, cancel := context.WithCancel(context.Background())
	if opts.Resync <= 0 {
		opts.Resync = 2 * time.Second
	}
	h := &Hub{store: st, bus: bus, log: opts.Log, window: opts.Window, resync: opts.Resync, channels: map[string]*channelState{}, ctx: ctx, cancel: cancel}
	if opts.Publisher != nil {
		h.origin = opts.Publisher.Origin()
		opts.Publisher.WakeLocal(h.wakeChannel)
	}
	return h
}

type channelState struct {
	name string
	wake chan struct{} // never closed: pokes may race with the channel's end
	done chan struct{} // closed when the last subscriber leaves

	mu   sync.Mutex
	head int64 // every event up to head has been fanned out
	subs map[*Subscription]struct{}
	// users counts subscriptions being set up: the channel stays while > 0.
	// It is raised under h.mu (which drop holds to check it), so taking a
	// reservation never waits for the channel's lock.
	users atomic.Int32
	// recent are the channel's latest frames, for resumes from memory.
	recent frameRing
}

// Subscription is one subscriber's place on a channel.
type Subscription struct {
	channel   *channelState
	sink      Sink
	next      int64 // the next sequence this subscriber is due
	closed    bool
	paused    bool  // registered, not yet started: the fan-out skips it
	rehydrate bool  // Start sends a rehydrate marker first
	start     int64 // the position the subscription starts after
}

// Position is the sequence the subscription starts after: events with a
// larger sequence are delivered (after a rehydrate marker, when one is due).
func (s *Subscription) Position() int64 { return s.start }

// Run listens to the bus until ctx ends, reconnecting with backoff when the
// bus connection drops (then every channel catches up), and resyncs channel
// heads periodically.
func (h *Hub) Run(ctx context.Context) {
	defer h.close()
	go h.resyncLoop(ctx)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		started := time.Now()
		err := h.bus.Listen(ctx, h.announced, h.wakeAll)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > time.Minute {
			backoff = 100 * time.Millisecond
		}
		h.log.WarnContext(ctx, "event bus connection lost; reconnecting", slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (h *Hub) resyncLoop(ctx context.Context) {
	t := time.NewTicker(h.resync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := h.Resync(ctx); err != nil && ctx.Err() == nil {
				h.log.WarnContext(ctx, "resync channel heads", slog.String("error", err.Error()))
			}
		}
	}
}

// resyncBatch bounds the channel names sent in one resync query.
const resyncBatch = 5000

// Resync wakes every local channel whose log has events the hub has not
// fanned out: one query per resyncBatch channels, whatever the number of
// subscribers.
func (h *Hub) Resync(ctx context.Context) error {
	h.mu.Lock()
	heads := make(map[string]int64, len(h.channels))
	names := make([]string, 0, len(h.channels))
	for name, cs := range h.channels {
		cs.mu.Lock()
		heads[name] = cs.head
		cs.mu.Unlock()
		names = append(names, name)
	}
	h.mu.Unlock()
	for len(names) > 0 {
		batch := names[:min(len(names), resyncBatch)]
		names = names[len(batch):]
		h.queries.Add(1)
		rows, err := h.store.EventChannelHeads(ctx, batch)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if r.LastSequence > heads[r.Channel] {
				h.wakeChannel(r.Channel)
			}
		}
	}
	return nil
}

func (h *Hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	h.cancel()
}

func (h *Hub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, cs := range h.channels {
		cs.poke()
	}
}

// announced handles an announcement from the bus.
func (h *Hub) announced(channel, origin string) {
	if h.origin != "" && origin == h.origin {
		return // the Publisher woke the channel when it announced
	}
	h.wakeChannel(channel)
}

func (h *Hub) wakeChannel(name string) {
	h.mu.Lock()
	cs := h.channels[name]
	h.mu.Unlock()
	if cs != nil {
		cs.poke()
	}
}

func (cs *channelState) poke() {
	select {
	case cs.wake <- struct{}{}:
	default:
	}
}

// read is a page of a channel's log after a sequence; concurrent identical
// reads share one query.
func (h *Hub) read(ctx context.Context, channel string, after int64) ([]dbgen.Event, error) {
	v, err, _ := h.reads.Do(channel+" "+strconv.FormatInt(after, 10), func() (any, error) {
		h.queries.Add(1)
		return h.store.EventListAfter(ctx, dbgen.EventListAfterParams{Channel: channel, After: after, MaxEvents: readPage})
	})
	if err != nil {
		return nil, err
	}
	return v.([]dbgen.Event), nil
}

// decoded is a log row decoded once for every subscriber replaying it
// (frame is nil for a row that cannot be decoded).
type decoded struct {
	Sequence int64
	frame    *Frame
}

// readFrames is read for catch-up: concurrent identical reads share one
// query and one decoded (and encoded) frame per event.
func (h *Hub) readFrames(ctx context.Context, channel string, after int64) ([]decoded, error) {
	v, err, _ := h.reads.Do("frames "+channel+" "+strconv.FormatInt(after, 10), func() (any, error) {
		rows, err := h.read(ctx, channel, after)
		if err != nil {
			return nil, err
		}
		out := make([]decoded, len(rows))
		for i, r := range rows {
			out[i].Sequence = r.Sequence
			if f, ok := h.frame(r); ok {
				out[i].frame = f
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]decoded), nil
}

// head is the last sequence appended to a channel (0 when it has none);
// concurrent reads of one channel share one query.
func (h *Hub) head(ctx context.Context, channel string) (int64, error) {
	v, err, _ := h.reads.Do("head "+channel, func() (any, error) {
		h.queries.Add(1)
		last, err := h.store.EventChannelLast(ctx, channel)
		if err != nil && !errors.Is(store.MapError(err), store.ErrNotFound) {
			return int64(0), fmt.Errorf("read channel head: %w", err)
		}
		return last, nil
	})
	if err != nil {
		return 0, err
	}
	return v.(int64), nil
}

// Queries is how many event-log queries this hub has issued: identical
// concurrent reads count once.
func (h *Hub) Queries() int64 { return h.queries.Load() }

// ErrHubClosed is returned by Subscribe once the node is shutting down.
var ErrHubClosed = errors.New("the event hub is shut down")

// Subscribe registers sink on channel after lastSeen (negative: from now
// on; 0: from the channel's beginning) and
// returns the subscription paused, so the caller can acknowledge it first;
// Start then replays what the sink missed from the log, or sends a
// rehydrate marker when the gap is larger than the replay window or no
// longer in the log, and joins the live fan-out.
func (h *Hub) Subscribe(ctx context.Context, channel string, lastSeen int64, sink Sink) (*Subscription, error) {
	cs, err := h.channel(ctx, channel)
	if err != nil {
		return nil, err
	}
	sub := &Subscription{channel: cs, sink: sink, paused: true}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if lastSeen > cs.head {
		// The client saw events this node has not fanned out yet (it was on
		// another node), or claims a sequence that never existed: ask the
		// log, without holding up the channel's fan-out meanwhile.
		cs.mu.Unlock()
		last, err := h.head(ctx, channel)
		cs.mu.Lock()
		if err != nil {
			h.release(cs)
			return nil, err
		}
		if lastSeen > last && lastSeen > cs.head {
			sub.next, sub.rehydrate = cs.head+1, true
		} else if lastSeen > cs.head {
			sub.next = lastSeen + 1
			cs.poke()
		}
	}
	switch {
	case sub.next != 0:
	case lastSeen < 0:
		sub.next = cs.head + 1
	case cs.head-lastSeen > h.window:
		sub.next, sub.rehydrate = cs.head+1, true
	default:
		sub.next = lastSeen + 1
	}
	sub.start = sub.next - 1
	cs.subs[sub] = struct{}{}
	cs.users.Add(-1)
	return sub, nil
}

// channel returns the channel's state, creating it (and its fan-out) for
// the node's first subscriber; the channel's head is read without holding
// the hub, and a reconnect storm reads it once. The caller holds a
// reservation (users) it must turn into a subscription or release.
func (h *Hub) channel(ctx context.Context, name string) (*channelState, error) {
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return nil, ErrHubClosed
		}
		if cs := h.channels[name]; cs != nil {
			cs.users.Add(1)
			h.mu.Unlock()
			return cs, nil
		}
		h.mu.Unlock()
		head, err := h.head(ctx, name)
		if err != nil {
			return nil, err
		}
		h.mu.Lock()
		if h.closed || h.channels[name] != nil {
			h.mu.Unlock()
			continue // someone else created it meanwhile
		}
		cs := &channelState{name: name, head: head, wake: make(chan struct{}, 1), done: make(chan struct{}), subs: map[*Subscription]struct{}{}}
		cs.users.Store(1)
		h.channels[name] = cs
		h.mu.Unlock()
		h.bus.Watch(name)
		go h.fanOut(cs)
		cs.poke() // anything appended since the head was read
		return cs, nil
	}
}

// Start begins delivery to a subscription Subscribe returned.
func (h *Hub) Start(sub *Subscription) {
	cs := sub.channel
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if !sub.paused || sub.closed {
		return
	}
	sub.paused = false
	if sub.rehydrate {
		sub.rehydrate = false
		sub.sendRehydrate(sub.start)
	}
	if sub.next <= cs.head {
		go h.catchUp(sub) // missed events, and any fanned out while paused
	}
}

// sendRehydrate tells the subscriber its missed events are gone; it
// refetches state and continues after resume.
func (s *Subscription) sendRehydrate(resume int64) {
	name := s.channel.name
	s.deliver(NewFrame(&hivesyncv1.Event{EventType: "rehydrate", Channel: name,
		Payload: &hivesyncv1.Event_Rehydrate{Rehydrate: &hivesyncv1.RehydrateEvent{Channel: name, ResumeSequence: resume}}}))
}

func (s *Subscription) deliver(f *Frame) {
	if !s.closed && !s.sink.Deliver(f) {
		s.closed = true // the sink is closing; it unsubscribes itself
	}
}

// catchUp replays the log to a resumed subscriber until it reaches what the
// channel's live fan-out has delivered, then leaves it to the fan-out.
func (h *Hub) catchUp(sub *Subscription) {
	cs := sub.channel
	for {
		cs.mu.Lock()
		from, done := sub.next-1, sub.next > cs.head || sub.closed
		if !done && cs.recent.has(sub.next) {
			// The rest is in memory (the ring always ends at the head).
			for ; sub.next <= cs.head; sub.next++ {
				if f := cs.recent.get(sub.next); f != nil {
					sub.deliver(f)
				}
			}
			done = true
		}
		cs.mu.Unlock()
		if done {
			return
		}
		rows, err := h.readFrames(h.ctx, cs.name, from)
		if err != nil {
			if h.ctx.Err() == nil {
				h.log.Warn("replay events", slog.String("channel", cs.name), slog.String("error", err.Error()))
			}
			cs.mu.Lock()
			sub.next = cs.head + 1
			sub.sendRehydrate(cs.head)
			cs.mu.Unlock()
			return
		}
		cs.mu.Lock()
		if sub.next == from+1 && (len(rows) == 0 || rows[0].Sequence != sub.next) && sub.next <= cs.head {
			// The missed events were pruned or purged.
			sub.next = cs.head + 1
			sub.sendRehydrate(cs.head)
			cs.mu.Unlock()
			return
		}
		for _, r := range rows {
			if r.Sequence == sub.next && r.Sequence <= cs.head {
				if r.frame != nil {
					sub.deliver(r.frame)
				}
				sub.next++
			}
		}
		// Keep what was read when it extends the ring back, so the next
		// resumes on this channel need no read.
		for i := len(rows) - 1; i >= 0; i-- {
			if rows[i].Sequence <= cs.head {
				cs.recent.pushFront(rows[i].Sequence, rows[i].frame, cs.head)
			}
		}
		cs.mu.Unlock()
	}
}

// Unsubscribe removes a subscription.
func (h *Hub) Unsubscribe(sub *Subscription) {
	cs := sub.channel
	cs.mu.Lock()
	sub.closed = true
	delete(cs.subs, sub)
	cs.mu.Unlock()
	h.drop(cs)
}

// release gives back a reservation Subscribe did not use. cs.mu is held
// and stays held.
func (h *Hub) release(cs *channelState) {
	if cs.users.Add(-1) == 0 && len(cs.subs) == 0 {
		go h.drop(cs)
	}
}

// drop ends a channel's fan-out once nobody is on it or joining it.
func (h *Hub) drop(cs *channelState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.channels[cs.name] != cs {
		return
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if len(cs.subs) == 0 && cs.users.Load() == 0 {
		delete(h.channels, cs.name)
		close(cs.done)
		h.bus.Unwatch(cs.name)
	}
}

// fanOut delivers a channel's new events to its live subscribers, in order,
// each time the channel is woken.
func (h *Hub) fanOut(cs *channelState) {
	for {
		select {
		case <-cs.done:
			return
		case <-cs.wake:
		}
		for {
			cs.mu.Lock()
			head := cs.head
			cs.mu.Unlock()
			rows, err := h.read(h.ctx, cs.name, head)
			if err != nil {
				if h.ctx.Err() == nil {
					h.log.Warn("read events", slog.String("channel", cs.name), slog.String("error", err.Error()))
				}
				break // the next notification (or reconnect) retries
			}
			cs.mu.Lock()
			for _, r := range rows {
				if r.Sequence != cs.head+1 {
					continue
				}
				cs.head = r.Sequence
				f, ok := h.frame(r)
				cs.recent.push(r.Sequence, f)
				for sub := range cs.subs {
					if sub.paused || sub.next != r.Sequence {
						continue // not started, still catching up, or already past it
					}
					sub.next++
					if ok {
						sub.deliver(f)
					}
				}
				if ok {
					h.enforce(cs, f.Event)
				}
			}
			cs.mu.Unlock()
			if len(rows) < readPage {
				break
			}
		}
	}
}

// enforce ends subscriptions an event takes away: a member removed from a
// project stops receiving it, and the channels of a purged project or an
// ended Live View are closed.
// Called with cs.mu held, after the event was delivered.
func (h *Hub) enforce(cs *channelState, ev *hivesyncv1.Event) {
	switch p := ev.GetPayload().(type) {
	case *hivesyncv1.Event_MemberChanged:
		if p.MemberChanged.GetChange() != hivesyncv1.MemberChange_MEMBER_CHANGE_REMOVED {
			return
		}
		for sub := range cs.subs {
			if sub.sink.UserID() == p.MemberChanged.GetUserId() {
				sub.closed = true
				go sub.sink.Revoke(cs.name, "you are no longer a member of this project")
			}
		}
	case *hivesyncv1.Event_ProjectPurged:
		for sub := range cs.subs {
			sub.closed = true
			go sub.sink.Revoke(cs.name, "the project was purged")
		}
	case *hivesyncv1.Event_LiveEnded:
		for sub := range cs.subs {
			sub.closed = true
			go sub.sink.Revoke(cs.name, "the Live View ended")
		}
	}
}

// frame decodes a log row; a row that cannot be decoded is skipped (and
// logged), never allowed to stall the channel.
func (h *Hub) frame(r dbgen.Event) (*Frame, bool) {
	ev, err := Decode(r.Sequence, r.Payload)
	if err != nil {
		h.log.Error("undecodable event in the log", slog.String("channel", r.Channel), slog.Int64("sequence", r.Sequence), slog.String("error", err.Error()))
		return nil, false
	}
	return NewFrame(ev), true
}
