package events

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// Bus carries announcements between nodes: which channels of the event log
// have new events, never the events themselves (every hub reads those from
// the log, so a lost or duplicated announcement can delay an event but
// never lose, reorder or repeat one).
type Bus interface {
	// Publish announces channels to every node's hub, this node's included,
	// tagged with origin (the publishing node's Publisher), so the hub the
	// Publisher already woke can pass over its own announcements.
	Publish(ctx context.Context, origin string, channels []string) error
	// Listen hands announcements of watched channels, with their origin
	// ("" when unknown), to wake until ctx ends or the connection fails.
	// resync runs each time listening (re)starts, as announcements may have
	// been missed meanwhile.
	Listen(ctx context.Context, wake func(channel, origin string), resync func()) error
	// Watch and Unwatch tell the bus which channels this node has
	// subscribers on, for buses that deliver per channel.
	Watch(channel string)
	Unwatch(channel string)
}

// PostgresBus announces with NOTIFY on the database every node shares; every
// node hears every channel. It is the default: nothing to run besides
// Postgres.
type PostgresBus struct {
	store *store.Store
}

// NewPostgresBus returns the NOTIFY/LISTEN bus over st's database.
func NewPostgresBus(st *store.Store) *PostgresBus { return &PostgresBus{store: st} }

// Publish sends one NOTIFY per channel, outside any write transaction. The
// payload is "<channel> <origin>": nodes of earlier releases read the channel
// up to the space (they sent "<channel> <sequence>" themselves).
func (b *PostgresBus) Publish(ctx context.Context, origin string, channels []string) error {
	return b.store.EventAnnounce(ctx, dbgen.EventAnnounceParams{Channels: channels, Origin: origin})
}

// Listen LISTENs on a connection taken from the pool for good.
func (b *PostgresBus) Listen(ctx context.Context, wake func(string, string), resync func()) error {
	conn, err := b.store.Pool().Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire listener connection: %w", err)
	}
	pgconn := conn.Hijack() // a LISTENing connection never goes back to the pool
	defer func() { _ = pgconn.Close(context.Background()) }()
	if err := dbgen.New(pgconn).EventListen(ctx); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	resync()
	for {
		n, err := pgconn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		// Older nodes send the sequence where the origin is: it matches no
		// Publisher's origin, so it wakes like an unknown one.
		channel, origin, _ := strings.Cut(n.Payload, " ")
		wake(channel, origin)
	}
}

// Watch does nothing: every node hears every channel.
func (b *PostgresBus) Watch(string) {}

// Unwatch does nothing.
func (b *PostgresBus) Unwatch(string) {}

// redisPrefix namespaces HiveSync's Pub/Sub channels: the event-log channel
// project_sync:<id> is announced on hivesync:events:project_sync:<id>.
const redisPrefix = "hivesync:events:"

// redisPing is how long a quiet Pub/Sub connection waits before checking
// that Redis is still there.
const redisPing = 15 * time.Second

// RedisBus announces with Redis Pub/Sub (spec §28), one Pub/Sub channel per
// event-log channel: a node subscribes only to the channels it has clients
// on, so it hears only what it fans out, and Postgres carries no
// notification traffic.
type RedisBus struct {
	client *redis.Client
	log    *slog.Logger
	kick   chan struct{} // pending changed

	mu      sync.Mutex
	watched map[string]struct{}
	pending map[string]bool // subscribe (true) or unsubscribe (false) on the live connection
}

// redisLog sends go-redis's own messages (failed dials while Redis is
// down, say) to the node's JSON log instead of bare lines on stderr.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

var redisLogOnce sync.Once

// RouteRedisLogs sends go-redis's messages to log, for the whole process
// (the rate limiter's client too). Call it before creating any Redis
// client; only the first call counts.
func RouteRedisLogs(log *slog.Logger) {
	redisLogOnce.Do(func() { redis.SetLogger(redisLog{log: log}) })
}

// NewRedisBus connects to url (redis://…) and checks that it answers.
func NewRedisBus(ctx context.Context, url string, log *slog.Logger) (*RedisBus, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	client := redis.NewClient(opts)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("connect to redis: %w", err)
	}
	return &RedisBus{client: client, log: log, kick: make(chan struct{}, 1), watched: map[string]struct{}{}, pending: map[string]bool{}}, nil
}

// Close closes the bus's connections.
func (b *RedisBus) Close() error { return b.client.Close() }

// Publish sends one PUBLISH per channel in one round trip; the message is
// the origin (earlier releases sent it empty and ignore it).
func (b *RedisBus) Publish(ctx context.Context, origin string, channels []string) error {
	_, err := b.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, c := range channels {
			p.Publish(ctx, redisPrefix+c, origin)
		}
		return nil
	})
	return err
}

// Listen subscribes to the watched channels on a Pub/Sub connection and
// follows Watch and Unwatch. Every subscription Redis confirms wakes its
// channel, since Pub/Sub does not keep what was published before it.
func (b *RedisBus) Listen(ctx context.Context, wake func(string, string), resync func()) error {
	ps := b.client.Subscribe(ctx)
	defer func() { _ = ps.Close() }()
	// A blocked receive does not watch ctx; closing the connection ends it.
	defer context.AfterFunc(ctx, func() { _ = ps.Close() })()
	b.mu.Lock()
	names := make([]string, 0, len(b.watched))
	for c := range b.watched {
		names = append(names, redisPrefix+c)
	}
	clear(b.pending) // this connection starts from the watched set
	b.mu.Unlock()
	if len(names) > 0 {
		if err := ps.Subscribe(ctx, names...); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
	}
	// Subscription changes go out from their own goroutine, so Watch and
	// Unwatch never wait on Redis.
	changes, stop := context.WithCancel(ctx)
	defer stop()
	go b.follow(changes, ps)
	resync()
	for {
		msg, err := ps.ReceiveTimeout(ctx, redisPing)
		var ne net.Error
		switch {
		case err == nil:
		case errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil:
			if err := ps.Ping(ctx); err != nil {
				return fmt.Errorf("ping redis: %w", err)
			}
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			return err
		}
		switch m := msg.(type) {
		case *redis.Message:
			wake(strings.TrimPrefix(m.Channel, redisPrefix), m.Payload)
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				wake(strings.TrimPrefix(m.Channel, redisPrefix), "")
			}
		}
	}
}

// follow applies Watch and Unwatch to the live Pub/Sub connection; when
// Redis refuses, it closes the connection, and the next Listen subscribes
// to every watched channel afresh.
func (b *RedisBus) follow(ctx context.Context, ps *redis.PubSub) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.kick:
		}
		b.mu.Lock()
		var subs, unsubs []string
		for c, on := range b.pending {
			if on {
				subs = append(subs, redisPrefix+c)
			} else {
				unsubs = append(unsubs, redisPrefix+c)
			}
		}
		clear(b.pending)
		b.mu.Unlock()
		var err error
		if len(subs) > 0 {
			err = ps.Subscribe(ctx, subs...)
		}
		if err == nil && len(unsubs) > 0 {
			err = ps.Unsubscribe(ctx, unsubs...)
		}
		if err != nil {
			if ctx.Err() == nil {
				b.log.Warn("redis subscription change failed; reconnecting", slog.String("error", err.Error()))
			}
			_ = ps.Close()
			return
		}
	}
}

// Watch subscribes to channel's announcements.
func (b *RedisBus) Watch(channel string) { b.change(channel, true) }

// Unwatch stops hearing channel.
func (b *RedisBus) Unwatch(channel string) { b.change(channel, false) }

func (b *RedisBus) change(channel string, on bool) {
	b.mu.Lock()
	if on {
		b.watched[channel] = struct{}{}
	} else {
		delete(b.watched, channel)
	}
	b.pending[channel] = on
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// Publisher is the node's store.Announcer: it publishes committed events on
// the bus without holding up the writer. It wakes this node's hub at once
// (WakeLocal), so local subscribers never wait for the bus. Channels
// announced while a publish is on its way, or in the gap after it, go out
// together in the next one, so under load a node sends one announcement per
// channel per gap, not one per event.
type Publisher struct {
	bus    Bus
	log    *slog.Logger
	origin string

	mu      sync.Mutex
	pending map[string]struct{}
	local   func(channel string)
	kick    chan struct{}
	// failed and warned (the run goroutine's) throttle the warning.
	failed int
	warned time.Time
	stop   chan struct{}
	done   chan struct{}
}

// NewPublisher starts publishing on bus until Close.
func NewPublisher(bus Bus, log *slog.Logger) *Publisher {
	p := &Publisher{
		bus: bus, log: log, origin: "n" + rand.Text()[:16],
		pending: map[string]struct{}{}, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go p.run()
	return p
}

// Origin tags this Publisher's announcements on the bus: random, so two
// nodes (or two processes of one) never share it.
func (p *Publisher) Origin() string { return p.origin }

// WakeLocal makes Announce wake channels of this node's hub directly, before
// the announcement goes out on the bus. wake must not block.
func (p *Publisher) WakeLocal(wake func(channel string)) {
	p.mu.Lock()
	p.local = wake
	p.mu.Unlock()
}

// Announce wakes the local hub's channels and queues them for the next
// publish; it never blocks.
func (p *Publisher) Announce(channels ...string) {
	p.mu.Lock()
	for _, c := range channels {
		p.pending[c] = struct{}{}
	}
	local := p.local
	p.mu.Unlock()
	if local != nil {
		for _, c := range channels {
			local(c)
		}
	}
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Close publishes what is pending and stops.
func (p *Publisher) Close() error {
	close(p.stop)
	<-p.done
	return nil
}

// publishGap is the pause after each publish: announcements made meanwhile
// go out together in the next one. A lone event is published at once; under
// a stream of saves this bounds a node's publishes to one per gap instead of
// one per save, for at most this much added latency on other nodes (this
// node's hub is woken directly). Each publish is a statement, a commit and
// a wake-up of every listening connection: at 2 ms they took about 5% of the
// CPU of 8 clients' saves (BENCHMARKS.md).
const publishGap = 10 * time.Millisecond

func (p *Publisher) run() {
	defer close(p.done)
	for {
		select {
		case <-p.kick:
			p.flush()
		case <-p.stop:
			p.flush()
			return
		}
		select {
		case <-time.After(publishGap):
		case <-p.stop:
			p.flush()
			return
		}
	}
}

func (p *Publisher) flush() {
	p.mu.Lock()
	if len(p.pending) == 0 {
		p.mu.Unlock()
		return
	}
	channels := make([]string, 0, len(p.pending))
	for c := range p.pending {
		channels = append(channels, c)
	}
	clear(p.pending)
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.bus.Publish(ctx, p.origin, channels); err != nil {
		// Not lost: every hub resyncs channel heads periodically. While the
		// bus is down, say so once a minute, not once per publish.
		p.failed++
		if time.Since(p.warned) >= time.Minute {
			p.log.Warn("announce events: the bus is unreachable; nodes fall back to resync", slog.Int("failed_publishes", p.failed), slog.String("error", err.Error()))
			p.warned, p.failed = time.Now(), 0
		}
	}
}
