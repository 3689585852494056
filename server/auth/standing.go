package auth

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// StandingTTL bounds how long a cached session standing is trusted without
// being read again. Changes arrive as notifications within milliseconds;
// the bound is for a listening connection that died without an error.
const StandingTTL = 10 * time.Second

// maxStandings bounds the cache; beyond it the oldest half is dropped.
const maxStandings = 100_000

// standings caches SessionPrincipal rows (a session with its user's,
// device's and entitlement's state), so a client making many requests
// costs the database one read per StandingTTL instead of one per request.
//
// It is only used while the node listens for changes (Listen): migration
// 00027's triggers NOTIFY every node with the user's id when any of those
// rows changes, and this node's own changes are also reported directly by
// the store after their commit (store.SetStandingListener), before the
// call that made them returns. A read that raced with a change is never
// cached: every change bumps gen, and a row read under an older gen is
// dropped. Losing the listening connection empties the cache and stops
// using it until listening resumes.
type standings struct {
	live  atomic.Bool
	reads atomic.Int64 // SessionPrincipal queries

	mu      sync.RWMutex // read by every request, written on misses and changes
	gen     uint64
	entries map[uuid.UUID]standing
	byUser  map[uuid.UUID]map[uuid.UUID]struct{}
}

type standing struct {
	row     dbgen.SessionPrincipalRow
	granted []hivesyncv1.Scope // row.Scopes, parsed
	badRow  bool               // row.Scopes did not parse (never cached)
	read    time.Time
}

// get returns the cached standing of session sid read after notBefore, and
// the generation to pass to put when there is none.
func (c *standings) get(sid uuid.UUID, notBefore time.Time) (standing, uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[sid]
	if ok && c.live.Load() && e.read.After(notBefore) {
		return e, c.gen, true
	}
	return standing{}, c.gen, false
}

// put caches e (e.read set), unless anything changed since gen.
func (c *standings) put(e standing, gen uint64) {
	row := e.row
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || !c.live.Load() {
		return
	}
	if c.entries == nil {
		c.entries = make(map[uuid.UUID]standing)
		c.byUser = make(map[uuid.UUID]map[uuid.UUID]struct{})
	}
	if len(c.entries) >= maxStandings {
		c.evict()
	}
	c.entries[row.ID] = e
	sessions := c.byUser[row.UserID]
	if sessions == nil {
		sessions = make(map[uuid.UUID]struct{})
		c.byUser[row.UserID] = sessions
	}
	sessions[row.ID] = struct{}{}
}

// evict drops the older half of the entries (those read at or before the
// midpoint between the earliest and the latest read).
func (c *standings) evict() {
	var lo, hi time.Time
	for _, e := range c.entries {
		if lo.IsZero() || e.read.Before(lo) {
			lo = e.read
		}
		if e.read.After(hi) {
			hi = e.read
		}
	}
	cut := lo.Add(hi.Sub(lo) / 2)
	for sid, e := range c.entries {
		if !e.read.After(cut) {
			c.drop(sid, e.row.UserID)
		}
	}
}

func (c *standings) drop(sid, user uuid.UUID) {
	delete(c.entries, sid)
	if sessions := c.byUser[user]; sessions != nil {
		delete(sessions, sid)
		if len(sessions) == 0 {
			delete(c.byUser, user)
		}
	}
}

// forgetUser drops every cached session of user.
func (c *standings) forgetUser(user uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for sid := range c.byUser[user] {
		delete(c.entries, sid)
	}
	delete(c.byUser, user)
}

// forgetAll empties the cache.
func (c *standings) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
	clear(c.byUser)
}

// setLive starts or stops using the cache; either way it starts empty.
func (c *standings) setLive(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
	clear(c.byUser)
	c.live.Store(on)
}

// standingOf is SessionPrincipal(sid) with its scopes parsed, from the
// cache when the node is listening for changes and it was read within
// StandingTTL.
func (a *Authenticator) standingOf(ctx context.Context, sid uuid.UUID) (standing, error) {
	now := a.now()
	e, gen, ok := a.standings.get(sid, now.Add(-StandingTTL))
	if ok {
		return e, nil
	}
	a.standings.reads.Add(1)
	row, err := a.store.SessionPrincipal(ctx, sid)
	if err != nil {
		return standing{}, err
	}
	e = standing{row: row, read: now}
	if e.granted, err = ParseScopes(row.Scopes); err != nil {
		e.badRow = true
		return e, nil // not cached: Authenticate refuses it
	}
	a.standings.put(e, gen)
	return e, nil
}

// SessionReads is how many times the authenticator read a session's
// standing from the database (the cache's misses), for metrics.
func (a *Authenticator) SessionReads() int64 { return a.standings.reads.Load() }

// Listen keeps the standing cache in use until ctx ends: it LISTENs for
// the triggers' notifications on a connection of its own (reconnecting
// after failures, with the cache unused meanwhile), and takes this node's
// own changes from the store as they commit. Without Listen every request
// reads its session's standing.
func (a *Authenticator) Listen(ctx context.Context, log *slog.Logger) {
	a.store.SetStandingListener(a.standings.forgetAll)
	defer a.store.SetStandingListener(nil)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := listenStanding(ctx, a.store, &a.standings)
		a.standings.setLive(false)
		if ctx.Err() != nil {
			return
		}
		log.WarnContext(ctx, "session standing notifications interrupted; reading every request's session until they resume",
			slog.String("error", err.Error()), slog.Duration("retry_in", backoff))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listenStanding LISTENs on a connection taken from the pool for good and
// applies notifications until the connection fails or ctx ends.
func listenStanding(ctx context.Context, st *store.Store, c *standings) error {
	conn, err := st.Pool().Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire listener connection: %w", err)
	}
	pgconn := conn.Hijack() // a LISTENing connection never goes back to the pool
	defer func() { _ = pgconn.Close(context.Background()) }()
	if err := dbgen.New(pgconn).StandingListen(ctx); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	c.setLive(true) // anything cached before LISTEN could have missed a change
	for {
		n, err := pgconn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		user, err := uuid.Parse(n.Payload)
		if err != nil {
			c.forgetAll()
			continue
		}
		c.forgetUser(user)
	}
}
