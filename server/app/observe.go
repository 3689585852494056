package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hivesync/hivesync/server/access"
)

// NewLogger returns the process logger: JSON (or text) on w at the
// configured level, tagged with the node id.
func NewLogger(cfg *Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(h).With(slog.String("node", cfg.NodeID))
}

// metrics are the Prometheus collectors served at /metrics.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hivesync_rpc_requests_total",
			Help: "RPCs handled, by procedure and Connect code (REST calls are counted under their RPC).",
		}, []string{"procedure", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hivesync_rpc_duration_seconds",
			Help:    "RPC handling time, by procedure.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}, []string{"procedure"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hivesync_rpc_in_flight",
			Help: "RPCs being handled now.",
		}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.inFlight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observer logs one line per call and records metrics. It never logs request
// or response bodies, tokens or raw user ids.
type observer struct {
	log     *slog.Logger
	metrics *metrics
	salt    string
	now     func() time.Time

	// procedures holds each procedure's success counter and duration
	// histogram (the mounted procedures are a fixed set), so a call does not
	// hash its label values again.
	procedures sync.Map // procedure → *procedureMetrics
	// users remembers the logged hashes of recent callers' ids.
	users     sync.Map // user id → hash
	userCount atomic.Int32
}

// procedureMetrics are one procedure's most used metric series.
type procedureMetrics struct {
	ok       prometheus.Counter
	duration prometheus.Observer
}

// maxUserHashes bounds observer.users; past it the map starts over.
const maxUserHashes = 1 << 16

func (o *observer) procedure(procedure string) *procedureMetrics {
	if m, ok := o.procedures.Load(procedure); ok {
		return m.(*procedureMetrics)
	}
	m, _ := o.procedures.LoadOrStore(procedure, &procedureMetrics{
		ok: o.metrics.requests.WithLabelValues(procedure, "ok"), duration: o.metrics.duration.WithLabelValues(procedure),
	})
	return m.(*procedureMetrics)
}

// userHash is HashUserID(o.salt, userID), remembered.
func (o *observer) userHash(userID string) string {
	if h, ok := o.users.Load(userID); ok {
		return h.(string)
	}
	h := HashUserID(o.salt, userID)
	if o.userCount.Add(1) > maxUserHashes {
		o.users.Clear()
		o.userCount.Store(1)
	}
	o.users.Store(userID, h)
	return h
}

var _ connect.Interceptor = (*observer)(nil)

func (o *observer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		done := o.begin()
		resp, err := next(ctx, req)
		done(ctx, req.Spec().Procedure, req.Peer().Protocol, err)
		return resp, err
	}
}

func (o *observer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (o *observer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		done := o.begin()
		err := next(ctx, conn)
		done(ctx, conn.Spec().Procedure, conn.Peer().Protocol, err)
		return err
	}
}

func (o *observer) begin() func(ctx context.Context, procedure, protocol string, err error) {
	start := o.now()
	o.metrics.inFlight.Inc()
	return func(ctx context.Context, procedure, protocol string, err error) {
		o.metrics.inFlight.Dec()
		took := o.now().Sub(start)
		code := "ok"
		pm := o.procedure(procedure)
		if err != nil {
			code = connect.CodeOf(err).String()
			o.metrics.requests.WithLabelValues(procedure, code).Inc()
		} else {
			pm.ok.Inc()
		}
		pm.duration.Observe(took.Seconds())
		level := slog.LevelInfo
		var ce *connect.Error
		if err != nil && errors.As(err, &ce) && (ce.Code() == connect.CodeInternal || ce.Code() == connect.CodeUnknown) {
			level = slog.LevelError
		}
		if !o.log.Enabled(ctx, level) {
			return
		}
		attrs := []slog.Attr{
			slog.String("procedure", procedure),
			slog.String("protocol", protocol),
			slog.String("code", code),
			slog.String("duration_bucket", DurationBucket(took)),
		}
		if p := access.PrincipalFrom(ctx); p != nil {
			attrs = append(attrs, slog.String("user", o.userHash(p.UserID)))
		}
		o.log.LogAttrs(ctx, level, "rpc", attrs...)
	}
}

// DurationBucket puts a duration in a coarse bucket for logs (spec §1.0.11).
func DurationBucket(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return "<10ms"
	case d < 50*time.Millisecond:
		return "10-50ms"
	case d < 250*time.Millisecond:
		return "50-250ms"
	case d < time.Second:
		return "250ms-1s"
	case d < 5*time.Second:
		return "1-5s"
	default:
		return ">=5s"
	}
}

// HashUserID returns the salted hash logged in place of a user id.
func HashUserID(salt, userID string) string {
	sum := sha256.Sum256([]byte(salt + "\x00" + userID))
	return hex.EncodeToString(sum[:])[:16]
}
