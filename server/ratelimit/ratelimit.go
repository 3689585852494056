// Package ratelimit limits how often a caller may hit a named bucket ("auth",
// later "ai" and "ws"). Buckets are declared per RPC in the contract
// (AccessRule.rate_limit) and enforced by the access interceptor; plain HTTP
// endpoints (OAuth) use Middleware. Keys are a user id when signed in, the
// client IP otherwise.
package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a token bucket: Burst requests at once, refilled at Per / Burst.
type Limit struct {
	// Burst is how many requests fit in one Per.
	Burst int
	// Per is the period over which Burst requests are allowed.
	Per time.Duration
}

// ParseLimit reads "N/period", e.g. "30/min", "5/s", "1000/h".
func ParseLimit(s string) (Limit, error) {
	n, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	count, err := strconv.Atoi(n)
	if !ok || err != nil || count < 1 {
		return Limit{}, fmt.Errorf("want N/period such as 30/min, got %q", s)
	}
	d := map[string]time.Duration{"s": time.Second, "sec": time.Second, "m": time.Minute, "min": time.Minute, "h": time.Hour, "hour": time.Hour}[per]
	if d == 0 {
		return Limit{}, fmt.Errorf("unknown period %q (use s, min or h)", per)
	}
	return Limit{Burst: count, Per: d}, nil
}

// Limiter decides whether one request of key in bucket may proceed, and if
// not, when to retry.
type Limiter interface {
	Allow(ctx context.Context, bucket, key string) (ok bool, retryAfter time.Duration, err error)
}

// Memory is an in-process Limiter: limits hold per node. (A shared store,
// such as Redis, makes them hold across nodes.)
type Memory struct {
	limits map[string]Limit
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]*entry
	swept   time.Time
}

type entry struct {
	limiter *rate.Limiter
	seen    time.Time
}

// NewMemory returns an in-process limiter; buckets missing from limits are
// unlimited.
func NewMemory(limits map[string]Limit, now func() time.Time) *Memory {
	return &Memory{limits: limits, now: now, entries: map[string]*entry{}, swept: now()}
}

// Allow implements Limiter.
func (m *Memory) Allow(_ context.Context, bucket, key string) (bool, time.Duration, error) {
	l, ok := m.limits[bucket]
	if !ok {
		return true, 0, nil
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	k := bucket + "\x00" + key
	e := m.entries[k]
	if e == nil {
		e = &entry{limiter: rate.NewLimiter(rate.Every(l.Per/time.Duration(l.Burst)), l.Burst)}
		m.entries[k] = e
	}
	e.seen = now
	r := e.limiter.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return false, delay, nil
	}
	return true, 0, nil
}

// sweep drops keys idle for longer than their bucket needs to refill, so
// memory stays bounded by the number of recently active callers.
func (m *Memory) sweep(now time.Time) {
	if now.Sub(m.swept) < time.Minute {
		return
	}
	m.swept = now
	for k, e := range m.entries {
		bucket, _, _ := strings.Cut(k, "\x00")
		if now.Sub(e.seen) > m.limits[bucket].Per {
			delete(m.entries, k)
		}
	}
}

// Size is the number of tracked keys (for tests and metrics).
func (m *Memory) Size() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
