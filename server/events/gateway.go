package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/apierror"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// The WebSocket subprotocols: protobuf JSON in text frames (the default when
// a client names none) or binary protobuf in binary frames.
const (
	SubprotocolJSON   = "hivesync.v1.json"
	SubprotocolBinary = "hivesync.v1.proto"
)

// maxChannelsPerSocket bounds one socket's subscriptions.
const maxChannelsPerSocket = 200

// GatewayConfig tunes the WebSocket gateway.
type GatewayConfig struct {
	// AuthTimeout is how long a new socket may take to send its auth frame.
	AuthTimeout time.Duration
	// PingInterval is how often the server pings; a peer that does not
	// answer within one more interval is dropped. Session standing (revoked
	// session or device, disabled account) is re-checked at the same pace.
	PingInterval time.Duration
	// WriteTimeout bounds each write to a socket.
	WriteTimeout time.Duration
	// SendQueue is how many frames may wait for a slow reader before the
	// socket is closed as a slow consumer.
	SendQueue int
	// MaxFrameBytes is the largest frame a client may send.
	MaxFrameBytes int64
	// MessagesPerSecond and Burst limit the frames one socket may send.
	MessagesPerSecond float64
	Burst             int
	// OriginPatterns are the browser origins allowed besides the server's
	// own host (host patterns as in path.Match, e.g. "*.hivesync.dev").
	// Clients that send no Origin (native apps, plugins) are always allowed.
	OriginPatterns []string
	// Versions are the client builds and plugin protocols accepted, as for
	// the RPCs; older ones are closed with WS_CLOSE_CODE_UPGRADE_REQUIRED.
	Versions access.VersionPolicy
}

// Gateway serves /api/v1/ws: one socket per client, authenticated by its
// first frame, carrying the event log's channels the client subscribes to.
type Gateway struct {
	hub   *Hub
	auth  access.Authenticator
	store *store.Store
	cfg   GatewayConfig
	log   *slog.Logger
	now   func() time.Time

	onAck func(ctx context.Context, p *access.Principal, eventID string) error
	live  LiveRouter

	// checks coalesces identical concurrent authorization reads.
	checks singleflight.Group

	mu       sync.Mutex
	sockets  map[*socket]struct{}
	shutdown bool
}

// ErrClientEventRefused wraps a router's refusal of a client event; its
// message is sent to the client as it is.
var ErrClientEventRefused = errors.New("refused")

// LiveRouter is the Live View domain as the gateway needs it: who may
// subscribe to live:<id>, and what to do with the live events a client
// sends (RouteClientEvent reports false for events that are not live
// events).
type LiveRouter interface {
	AuthorizeChannel(ctx context.Context, p *access.Principal, channel string) (code, message string)
	RouteClientEvent(ctx context.Context, p *access.Principal, ev *hivesyncv1.Event) (bool, error)
	// Present records, at every ping, that the socket is still on a live
	// channel (a viewer's seat is held while connected).
	Present(ctx context.Context, p *access.Principal, channel string)
}

// WithLive serves live:<id> channels and client live events through r.
func (g *Gateway) WithLive(r LiveRouter) *Gateway {
	g.live = r
	return g
}

// WithAckHandler sets what an ack frame does (record acknowledgement of a
// broadcast or delivery of a notification).
func (g *Gateway) WithAckHandler(fn func(ctx context.Context, p *access.Principal, eventID string) error) *Gateway {
	g.onAck = fn
	return g
}

// NewGateway returns the WebSocket handler.
func NewGateway(hub *Hub, auth access.Authenticator, st *store.Store, cfg GatewayConfig, log *slog.Logger, now func() time.Time) *Gateway {
	return &Gateway{hub: hub, auth: auth, store: st, cfg: cfg, log: log, now: now, sockets: map[*socket]struct{}{}}
}

// Shutdown closes every socket with "going away", so clients reconnect (to
// another node) and resume; new sockets are refused.
func (g *Gateway) Shutdown() {
	g.mu.Lock()
	g.shutdown = true
	sockets := make([]*socket, 0, len(g.sockets))
	for s := range g.sockets {
		sockets = append(sockets, s)
	}
	g.mu.Unlock()
	for _, s := range sockets {
		s.close(websocket.StatusGoingAway, "the server is restarting; reconnect and resume")
	}
}

// Connections is the number of open sockets.
func (g *Gateway) Connections() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sockets)
}

// DecodeFrame reads a client frame in the socket's format. Unknown fields
// are ignored (newer clients); anything else malformed is an error.
func DecodeFrame(data []byte, binary bool) (*hivesyncv1.Event, error) {
	ev := &hivesyncv1.Event{}
	var err error
	if binary {
		err = proto.Unmarshal(data, ev)
	} else {
		err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(data, ev)
	}
	if err != nil {
		return nil, fmt.Errorf("not an event frame: %w", err)
	}
	if ev.GetPayload() == nil {
		return nil, errors.New("not an event frame: no payload")
	}
	return ev, nil
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:   []string{SubprotocolJSON, SubprotocolBinary},
		OriginPatterns: g.cfg.OriginPatterns,
	})
	if err != nil {
		return // Accept has answered (bad handshake or a foreign origin)
	}
	c.SetReadLimit(g.cfg.MaxFrameBytes)
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	s := &socket{
		g: g, c: c, binary: c.Subprotocol() == SubprotocolBinary, ctx: ctx, cancel: cancel,
		queue:   make(chan *Frame, g.cfg.SendQueue),
		closing: make(chan closeRequest, 1),
		limiter: rate.NewLimiter(rate.Limit(g.cfg.MessagesPerSecond), g.cfg.Burst),
		subs:    map[string]*Subscription{},
	}
	g.mu.Lock()
	if g.shutdown {
		g.mu.Unlock()
		_ = c.Close(websocket.StatusTryAgainLater, "the server is shutting down; reconnect")
		cancel()
		return
	}
	g.sockets[s] = struct{}{}
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.sockets, s)
		g.mu.Unlock()
	}()
	if _, err := g.cfg.Versions.PluginVersion(r.Header.Get(access.PluginVersionHeader)); err != nil {
		s.refuseVersion(err, "")
	}
	s.serve()
}

// refuseVersion tells a client its version is not accepted (an error event
// with UpgradeRequired, or invalid_argument for a malformed version) and
// closes the socket; the client should update, not reconnect.
func (s *socket) refuseVersion(err error, eventID string) {
	ev := &hivesyncv1.ErrorEvent{Code: connect.CodeOf(err).String(), Message: err.Error(), EventId: eventID}
	var cerr *connect.Error
	if errors.As(err, &cerr) {
		ev.Message = cerr.Message()
		for _, d := range cerr.Details() {
			if v, derr := d.Value(); derr == nil {
				if up, ok := v.(*hivesyncv1.UpgradeRequired); ok {
					ev.UpgradeRequired = up
				}
			}
		}
	}
	s.send(&hivesyncv1.Event{EventType: "error", Payload: &hivesyncv1.Event_Error{Error: ev}})
	if ev.UpgradeRequired == nil { // a malformed version
		s.close(websocket.StatusCode(hivesyncv1.WsCloseCode_WS_CLOSE_CODE_BAD_FRAMES), "invalid version")
		return
	}
	s.close(websocket.StatusCode(hivesyncv1.WsCloseCode_WS_CLOSE_CODE_UPGRADE_REQUIRED), "update required")
}

// socket is one client connection.
type socket struct {
	g       *Gateway
	c       *websocket.Conn
	binary  bool
	ctx     context.Context
	cancel  context.CancelFunc
	queue   chan *Frame
	limiter *rate.Limiter

	closing   chan closeRequest
	mu        sync.Mutex
	principal *access.Principal
	subs      map[string]*Subscription
	closeOnce sync.Once
	strikes   int
	throttled bool
	pinging   atomic.Bool
	// autoBroadcast is the broadcast subscription made at ready, held
	// paused until the client's first subscribe (which may resume the
	// channel from its own position instead) or a short grace period.
	autoBroadcast *Subscription
}

// UserID implements Sink.
func (s *socket) UserID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.principal == nil {
		return ""
	}
	return s.principal.UserID
}

// Deliver implements Sink: it queues without blocking, and a full queue
// closes the socket as a slow consumer.
func (s *socket) Deliver(f *Frame) bool {
	select {
	case s.queue <- f:
		return true
	default:
		s.abort(websocket.StatusCode(hivesyncv1.WsCloseCode_WS_CLOSE_CODE_SLOW_CONSUMER), "too slow: the send queue is full; reconnect and resume")
		return false
	}
}

// Revoke implements Sink.
func (s *socket) Revoke(channel, reason string) {
	s.mu.Lock()
	sub := s.subs[channel]
	delete(s.subs, channel)
	s.mu.Unlock()
	if sub != nil {
		s.g.hub.Unsubscribe(sub)
	}
	s.sendChannelError("permission_denied", fmt.Sprintf("unsubscribed from %s: %s", channel, reason), "", channel)
}

func (s *socket) send(ev *hivesyncv1.Event) {
	ev.ServerTime = timestamppb.New(s.g.now())
	if ev.GetId() == "" {
		ev.Id = uuid.NewString()
	}
	s.Deliver(NewFrame(ev))
}

// sendChannelError is sendError about one channel.
func (s *socket) sendChannelError(code, message, eventID, channel string) {
	s.send(&hivesyncv1.Event{EventType: "error", Payload: &hivesyncv1.Event_Error{Error: &hivesyncv1.ErrorEvent{Code: code, Message: message, EventId: eventID, Channel: channel}}})
}

func (s *socket) sendError(code, message, eventID string) {
	s.send(&hivesyncv1.Event{EventType: "error", Payload: &hivesyncv1.Event_Error{Error: &hivesyncv1.ErrorEvent{Code: code, Message: message, EventId: eventID}}})
}

// closeRequest asks the writer to send what is queued, then close.
type closeRequest struct {
	code   websocket.StatusCode
	reason string
}

// close ends the socket once, with a status a client can act on, after the
// frames already queued (such as the error explaining why).
func (s *socket) close(code websocket.StatusCode, reason string) {
	s.closeOnce.Do(func() { s.closing <- closeRequest{code, reason} })
}

// abort ends the socket once without waiting for queued frames (the peer is
// not reading them). The close handshake runs in the background, so a stuck
// peer cannot stall the caller.
func (s *socket) abort(code websocket.StatusCode, reason string) {
	s.closeOnce.Do(func() {
		go func() {
			_ = s.c.Close(code, reason)
			s.cancel()
		}()
	})
}

func (s *socket) serve() {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.write() }()
	s.read()
	s.close(websocket.StatusNormalClosure, "")
	<-s.ctx.Done()
	wg.Wait()
	s.mu.Lock()
	subs := s.subs
	s.subs = map[string]*Subscription{}
	s.mu.Unlock()
	for _, sub := range subs {
		s.g.hub.Unsubscribe(sub)
	}
}

// write sends queued frames, each under its own deadline, and performs
// orderly closes.
func (s *socket) write() {
	typ := websocket.MessageText
	if s.binary {
		typ = websocket.MessageBinary
	}
	// One watchdog per socket, re-armed for each frame, bounds the writes:
	// a context per frame would cost a timer, and a cancellable one a
	// context.AfterFunc inside coder/websocket, per frame and subscriber.
	watchdog := time.AfterFunc(time.Hour, func() { _ = s.c.CloseNow() })
	watchdog.Stop()
	defer watchdog.Stop()
	send := func(f *Frame) bool {
		watchdog.Reset(s.g.cfg.WriteTimeout)
		err := s.c.Write(context.Background(), typ, f.Bytes(s.binary))
		watchdog.Stop()
		if err != nil {
			s.abort(websocket.StatusCode(hivesyncv1.WsCloseCode_WS_CLOSE_CODE_SLOW_CONSUMER), "a write timed out")
			_ = s.c.CloseNow()
			s.cancel()
			return false
		}
		return true
	}
	// The writer also starts the pings: one goroutine fewer per socket
	// than a pinger of its own.
	tick := time.NewTicker(s.g.cfg.PingInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case f := <-s.queue:
			if !send(f) {
				return
			}
		case <-tick.C:
			if s.pinging.CompareAndSwap(false, true) {
				go s.ping()
			}
		case req := <-s.closing:
			for drained := false; !drained; {
				select {
				case f := <-s.queue:
					if !send(f) {
						return
					}
				default:
					drained = true
				}
			}
			_ = s.c.Close(req.code, req.reason)
			s.cancel()
			return
		}
	}
}

// ping checks that the peer answers within an interval (else the socket
// is dropped) and renews its Live View presence. The writer starts one per
// interval; the session's standing is checked for all sockets at once by
// Gateway.Run.
func (s *socket) ping() {
	defer s.pinging.Store(false)
	ctx, cancel := context.WithTimeout(s.ctx, s.g.cfg.PingInterval)
	err := s.c.Ping(ctx)
	cancel()
	if err != nil {
		s.abort(websocket.StatusGoingAway, "no answer to ping")
		return
	}
	s.present()
}

// present tells the Live View domain which live channels the socket is on.
func (s *socket) present() {
	if s.g.live == nil {
		return
	}
	s.mu.Lock()
	p := s.principal
	var live []string
	for name := range s.subs {
		if strings.HasPrefix(name, "live:") {
			live = append(live, name)
		}
	}
	s.mu.Unlock()
	for _, name := range live {
		s.g.live.Present(s.ctx, p, name)
	}
}

// Run re-checks, every ping interval until ctx ends, the standing of the
// session behind every open socket, in one query per standingBatch
// sessions: a revoked session or device, or a disabled account, closes
// its sockets with 4003 within one interval.
func (g *Gateway) Run(ctx context.Context) {
	t := time.NewTicker(g.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.checkStanding(ctx)
		}
	}
}

// standingBatch bounds the session ids sent in one standing query.
const standingBatch = 5000

func (g *Gateway) checkStanding(ctx context.Context) {
	bySession := map[uuid.UUID][]*socket{}
	g.mu.Lock()
	for s := range g.sockets {
		s.mu.Lock()
		p := s.principal
		s.mu.Unlock()
		if p == nil || p.SessionID == "" {
			continue
		}
		if id, err := uuid.Parse(p.SessionID); err == nil {
			bySession[id] = append(bySession[id], s)
		}
	}
	g.mu.Unlock()
	ids := make([]uuid.UUID, 0, len(bySession))
	for id := range bySession {
		ids = append(ids, id)
	}
	for len(ids) > 0 {
		batch := ids[:min(len(ids), standingBatch)]
		ids = ids[len(batch):]
		rows, err := g.store.SessionStandings(ctx, batch)
		if err != nil {
			if ctx.Err() == nil {
				// The database is out of reach: keep the sockets, check again later.
				g.log.WarnContext(ctx, "check session standing", slog.String("error", err.Error()))
			}
			return
		}
		found := make(map[uuid.UUID]bool, len(rows))
		for _, r := range rows {
			found[r.ID] = true
			reason := ""
			switch {
			case r.RevokedAt != nil:
				reason = "the session was signed out"
			case r.DeviceRevokedAt != nil:
				reason = "the device was revoked"
			case r.UserDisabledAt != nil:
				reason = "the account was disabled"
			}
			if reason != "" {
				for _, s := range bySession[r.ID] {
					s.revoke(reason)
				}
			}
		}
		for _, id := range batch {
			if !found[id] {
				for _, s := range bySession[id] {
					s.revoke("the session no longer exists")
				}
			}
		}
	}
}

// revoke ends a socket whose session may no longer be used.
func (s *socket) revoke(reason string) {
	s.sendError("unauthenticated", reason, "")
	s.close(websocket.StatusCode(hivesyncv1.WsCloseCode_WS_CLOSE_CODE_REVOKED), reason)
}

// read handles client frames until the socket ends. Reads are not bound to
// a context (cancelling one would drop the connection without a close
// status); closing the socket ends them.
func (s *socket) read() {
	deadline := time.AfterFunc(s.g.cfg.AuthTimeout, func() {
		s.close(websocket.StatusCode(hivesyncv1.WsCloseCode_WS_CLOSE_CODE_UNAUTHENTICATED), "send an auth frame first, within "+s.g.cfg.AuthTimeout.String())
	})
	first, err := s.readFrame(context.Background())
	deadline.Stop()
	if err != nil {
		return
	}
	if first == nil {
		s.close(websocket.StatusCode(hivesyncv1.WsCloseCode_WS_CLOSE_CODE_BAD_FRAMES), "the first frame must be an auth event")
		return
	}
	if first.GetAuth() == nil {
		s.close(websocket.StatusCode(hivesyncv1.WsCloseCode_WS_CLOSE_CODE_UNAUTHENTICATED), "the first frame must be an auth event")
		return
	}
	if !s.authenticate(first) {
		return
	}
	for {
		ev, err := s.readFrame(context.Background())
		if err != nil {
			return
		}
		if ev == nil {
			continue // a bad frame, already answered
		}
		if !s.limiter.Allow() {
			if s.strike() {
				return
			}
			if !s.throttled { // one warning per burst, not one per frame
				s.throttled = true
				s.sendError("resource_exhausted", "too many frames; slow down", ev.GetId())
			}
			continue
		}
		s.throttled = false
		s.handle(ev)
	}
}

// readFrame reads one frame; a malformed one is answered with an error event
// and returns nil, and too many of them close the socket.
func (s *socket) readFrame(ctx context.Context) (*hivesyncv1.Event, error) {
	typ, data, err := s.c.Read(ctx)
	if err != nil {
		if websocket.CloseStatus(err) == websocket.StatusMessageTooBig {
			s.close(websocket.StatusMessageTooBig, fmt.Sprintf("frames may be at most %d bytes", s.g.cfg.MaxFrameBytes))
		}
		return nil, err
	}
	if (typ == websocket.MessageBinary) != s.binary {
		s.sendError("invalid_argument", "frame type does not match the subprotocol", "")
		return nil, s.strikeErr()
	}
	ev, err := DecodeFrame(data, s.binary)
	if err != nil {
		s.sendError("invalid_argument", err.Error(), "")
		return nil, s.strikeErr()
	}
	return ev, nil
}

// strike counts an abusive frame; the tenth closes the socket.
func (s *socket) strike() bool {
	s.mu.Lock()
	s.strikes++
	n := s.strikes
	s.mu.Unlock()
	if n >= 10 {
		s.close(websocket.StatusCode(hivesyncv1.WsCloseCode_WS_CLOSE_CODE_BAD_FRAMES), "too many bad or excess frames")
		return true
	}
	return false
}

func (s *socket) strikeErr() error {
	if s.strike() {
		return errors.New("closed for abuse")
	}
	return nil
}

func (s *socket) authenticate(ev *hivesyncv1.Event) bool {
	p, err := s.g.auth.Authenticate(s.ctx, ev.GetAuth().GetToken())
	if err != nil {
		if errors.Is(err, access.ErrInvalidToken) {
			s.sendError("unauthenticated", "the access token is not valid; refresh it and reconnect", ev.GetId())
			s.close(websocket.StatusCode(hivesyncv1.WsCloseCode_WS_CLOSE_CODE_UNAUTHENTICATED), "invalid access token")
		} else {
			s.sendError("unavailable", "the token could not be checked; reconnect shortly", ev.GetId())
			s.close(websocket.StatusTryAgainLater, "the token could not be checked")
		}
		return false
	}
	if p.UserID == "" {
		s.sendError("permission_denied", "the event stream needs a user session", ev.GetId())
		s.close(websocket.StatusCode(hivesyncv1.WsCloseCode_WS_CLOSE_CODE_UNAUTHENTICATED), "not a user session")
		return false
	}
	s.mu.Lock()
	prev := s.principal
	if prev != nil && prev.UserID != p.UserID {
		s.mu.Unlock()
		s.sendError("permission_denied", "a socket stays with the user it authenticated as", ev.GetId())
		return true
	}
	s.principal = p
	s.mu.Unlock()
	if prev == nil {
		// Every socket hears broadcasts sent after its ready event. A
		// client that resumes the channel from its own position subscribes
		// to it in its first subscribe frame, which replaces this one; so
		// it starts only then, or after a grace period, and nothing sent
		// meanwhile is lost (a started subscription catches up).
		sub, err := s.g.hub.Subscribe(s.ctx, BroadcastChannel, -1, s)
		if err == nil {
			s.mu.Lock()
			s.subs[BroadcastChannel] = sub
			s.autoBroadcast = sub
			s.mu.Unlock()
			time.AfterFunc(broadcastGrace, s.startAutoBroadcast)
		}
		s.send(&hivesyncv1.Event{EventType: "ready", Payload: &hivesyncv1.Event_Ready{Ready: &hivesyncv1.ReadyEvent{
			SessionId: p.SessionID, UserId: p.UserID, HeartbeatIntervalSeconds: int32(max(1, (s.g.cfg.PingInterval+time.Second-1)/time.Second)),
		}}})
	} else {
		s.ack(ev)
	}
	return true
}

// broadcastGrace is how long the ready-time broadcast subscription waits
// for the client's first subscribe.
const broadcastGrace = 2 * time.Second

// startAutoBroadcast starts the ready-time broadcast subscription, once.
func (s *socket) startAutoBroadcast() {
	s.mu.Lock()
	sub := s.autoBroadcast
	s.autoBroadcast = nil
	s.mu.Unlock()
	if sub != nil {
		s.g.hub.Start(sub)
	}
}

func (s *socket) ack(ev *hivesyncv1.Event) {
	if ev.GetId() != "" {
		s.send(&hivesyncv1.Event{EventType: "ack", Payload: &hivesyncv1.Event_Ack{Ack: &hivesyncv1.AckEvent{EventId: ev.GetId()}}})
	}
}

// handle answers one client frame after authentication.
func (s *socket) handle(ev *hivesyncv1.Event) {
	switch p := ev.GetPayload().(type) {
	case *hivesyncv1.Event_Auth:
		s.authenticate(ev) // a fresh token for a long-lived socket
	case *hivesyncv1.Event_DeviceRegister:
		s.registerDevice(ev, p.DeviceRegister)
	case *hivesyncv1.Event_Subscribe:
		s.subscribe(ev, p.Subscribe)
	case *hivesyncv1.Event_Unsubscribe:
		for _, name := range p.Unsubscribe.GetChannels() {
			s.mu.Lock()
			sub := s.subs[name]
			delete(s.subs, name)
			s.mu.Unlock()
			if sub != nil {
				s.g.hub.Unsubscribe(sub)
			}
		}
		s.ack(ev)
	case *hivesyncv1.Event_Heartbeat:
		// The echo carries the client's clock back with the server's (in
		// the envelope), for drift and round-trip measurement.
		s.send(&hivesyncv1.Event{EventType: "heartbeat", Id: ev.GetId(), Payload: &hivesyncv1.Event_Heartbeat{Heartbeat: &hivesyncv1.HeartbeatEvent{
			ClientTime: p.Heartbeat.GetClientTime(),
		}}})
	case *hivesyncv1.Event_Ack:
		if s.g.onAck == nil {
			return
		}
		s.mu.Lock()
		principal := s.principal
		s.mu.Unlock()
		if err := s.g.onAck(s.ctx, principal, p.Ack.GetEventId()); err != nil {
			s.sendError("unavailable", "the acknowledgement could not be recorded; send it again", ev.GetId())
			return
		}
		s.ack(ev)
	default:
		if s.g.live != nil {
			s.mu.Lock()
			principal := s.principal
			s.mu.Unlock()
			handled, err := s.g.live.RouteClientEvent(s.ctx, principal, ev)
			if handled {
				switch {
				case err == nil:
					s.ack(ev)
				case errors.Is(err, ErrClientEventRefused):
					s.sendError("failed_precondition", err.Error(), ev.GetId())
				default:
					s.sendError("unavailable", "the event could not be routed; send it again", ev.GetId())
				}
				return
			}
		}
		s.sendError("invalid_argument", fmt.Sprintf("clients do not send %s events", eventTypeName(ev)), ev.GetId())
	}
}

func eventTypeName(ev *hivesyncv1.Event) string {
	if t, err := eventType(ev); err == nil {
		return t
	}
	return "these"
}

func (s *socket) registerDevice(ev *hivesyncv1.Event, d *hivesyncv1.DeviceRegisterEvent) {
	s.mu.Lock()
	p := s.principal
	s.mu.Unlock()
	if err := s.checkVersions(d); err != nil {
		s.refuseVersion(err, ev.GetId())
		return
	}
	userID, _ := uuid.Parse(p.UserID)
	deviceID, err := uuid.Parse(d.GetDeviceId())
	if err != nil {
		s.sendError("invalid_argument", "device_id must be a device id", ev.GetId())
		return
	}
	if _, err := s.g.store.DeviceOwnedBy(s.ctx, dbgen.DeviceOwnedByParams{ID: deviceID, UserID: userID}); err != nil {
		if errors.Is(store.MapError(err), store.ErrNotFound) {
			s.sendError("not_found", "device_id is not one of your devices", ev.GetId())
		} else {
			s.sendError("unavailable", "the device could not be checked; try again", ev.GetId())
		}
		return
	}
	s.ack(ev)
}

// checkVersions holds a registering client to the accepted versions.
func (s *socket) checkVersions(d *hivesyncv1.DeviceRegisterEvent) error {
	v := s.g.cfg.Versions
	if p := d.GetPluginProtocolVersion(); p != 0 {
		if p < 0 {
			return apierror.InvalidArgument("plugin_protocol_version", "must not be negative")
		}
		if _, err := v.PluginVersion(strconv.Itoa(int(p))); err != nil {
			return err
		}
	}
	return v.ClientVersion(d.GetClientBuild())
}

// subscribe authorizes each channel like the matching RPC, joins them,
// acknowledges with the position each starts after, then starts delivery
// (so replayed events and rehydrate markers follow the ack).
func (s *socket) subscribe(ev *hivesyncv1.Event, req *hivesyncv1.SubscribeEvent) {
	s.mu.Lock()
	p, n := s.principal, len(s.subs)
	s.mu.Unlock()
	var allowed []*hivesyncv1.ChannelPosition
	added := 0
	for _, pos := range req.GetChannels() {
		if code, msg := s.authorize(p, pos.GetChannel()); code != "" {
			s.sendChannelError(code, pos.GetChannel()+": "+msg, ev.GetId(), pos.GetChannel())
			continue
		}
		allowed = append(allowed, pos)
		s.mu.Lock()
		if s.subs[pos.GetChannel()] == nil {
			added++ // re-subscribing a channel only moves its position
		}
		s.mu.Unlock()
	}
	if n+added > maxChannelsPerSocket {
		s.sendError("resource_exhausted", fmt.Sprintf("a socket may join at most %d channels", maxChannelsPerSocket), ev.GetId())
		return
	}
	var joined []*Subscription
	ack := &hivesyncv1.AckEvent{EventId: ev.GetId()}
	failed := len(allowed) < len(req.GetChannels())
	for _, pos := range allowed {
		name := pos.GetChannel()
		s.mu.Lock()
		old := s.subs[name]
		delete(s.subs, name)
		s.mu.Unlock()
		if old != nil {
			s.g.hub.Unsubscribe(old) // subscribing again moves the resume point
		}
		sub, err := s.g.hub.Subscribe(s.ctx, name, pos.GetLastSequence(), s)
		if err != nil {
			s.sendChannelError("unavailable", name+": could not join; subscribe again", ev.GetId(), name)
			failed = true
			continue
		}
		s.mu.Lock()
		s.subs[name] = sub
		s.mu.Unlock()
		joined = append(joined, sub)
		ack.Positions = append(ack.Positions, &hivesyncv1.ChannelPosition{Channel: name, LastSequence: sub.Position()})
	}
	if !failed || len(joined) > 0 {
		s.send(&hivesyncv1.Event{EventType: "ack", Payload: &hivesyncv1.Event_Ack{Ack: ack}})
	}
	for _, sub := range joined {
		s.g.hub.Start(sub)
	}
	s.startAutoBroadcast() // unless this frame replaced it, it starts now
}

// authorize decides whether p may read channel, as the matching RPCs would:
// a user reads their own channel and the channels of projects they belong
// to. Anything else is not_found, so channel names leak nothing.
func (s *socket) authorize(p *access.Principal, channel string) (code, message string) {
	kind, id, ok := strings.Cut(channel, ":")
	if !ok && channel != BroadcastChannel {
		return "invalid_argument", "channels are named kind:id"
	}
	if channel == BroadcastChannel {
		return "", ""
	}
	switch kind {
	case "user":
		if id != p.UserID {
			return "not_found", "no such channel"
		}
		return "", ""
	case "project_sync":
		projectID, err := uuid.Parse(id)
		userID, uerr := uuid.Parse(p.UserID)
		if err != nil || uerr != nil {
			return "not_found", "no such channel"
		}
		// A user's devices reconnecting together share one check.
		_, err, _ = s.g.checks.Do("member "+projectID.String()+" "+userID.String(), func() (any, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return s.g.store.ProjectGetForMember(ctx, dbgen.ProjectGetForMemberParams{ID: projectID, UserID: userID})
		})
		if err != nil {
			if errors.Is(store.MapError(err), store.ErrNotFound) {
				return "not_found", "no such channel"
			}
			return "unavailable", "membership could not be checked; try again"
		}
		return "", ""
	case "live":
		if s.g.live == nil {
			return "unimplemented", "Live View is not served by this node"
		}
		return s.g.live.AuthorizeChannel(s.ctx, p, channel)
	}
	return "invalid_argument", "unknown channel kind " + kind
}
