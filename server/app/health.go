package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"connectrpc.com/grpchealth"

	"github.com/hivesync/hivesync/store"
)

// health answers the probes of spec §1.0.11, §34.4, §34.14 and §35.9.
type health struct {
	store    *store.Store
	cfg      *Config
	mode     Mode
	version  string
	now      func() time.Time
	log      *slog.Logger
	workers  atomic.Bool // River is running (or not needed in this mode)
	draining atomic.Bool // shutdown has begun
}

type dbReport struct {
	Status              string  `json:"status"`
	LatencyMS           float64 `json:"latency_ms,omitempty"`
	SchemaVersion       int64   `json:"schema_version"`
	LatestSchemaVersion int64   `json:"latest_schema_version"`
	RiverVersion        int     `json:"river_version"`
	Error               string  `json:"error,omitempty"`
}

// checkDB pings the database and reads its migration state. status is "ok",
// "migration_pending" or "unreachable".
func (h *health) checkDB(ctx context.Context) dbReport {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := h.now()
	if _, err := h.store.Ping(ctx); err != nil {
		h.log.WarnContext(ctx, "database health check failed", slog.String("error", err.Error()))
		return dbReport{Status: "unreachable", Error: "database did not answer"}
	}
	r := dbReport{Status: "ok", LatencyMS: float64(h.now().Sub(start).Microseconds()) / 1000}
	st, err := store.Status(ctx, h.store.Pool())
	if err != nil {
		h.log.WarnContext(ctx, "migration status check failed", slog.String("error", err.Error()))
		r.Status, r.Error = "migration_pending", "migration state unreadable"
		return r
	}
	r.SchemaVersion, r.LatestSchemaVersion, r.RiverVersion = st.SchemaVersion, st.LatestSchemaVersion, st.RiverVersion
	if !st.Current() {
		r.Status = "migration_pending"
	}
	return r
}

func (h *health) workersStatus() string {
	if h.workers.Load() {
		return "ok"
	}
	return "stopped"
}

// healthz is the liveness report: 200 while the process serves, with the
// state of the database and workers in the body.
func (h *health) healthz(w http.ResponseWriter, r *http.Request) {
	db := h.checkDB(r.Context())
	status := "ok"
	if db.Status != "ok" || !h.workers.Load() {
		status = "degraded"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status": status, "node_id": h.cfg.NodeID, "version": h.version, "mode": h.mode,
		"db": db.Status, "workers": h.workersStatus(),
	})
}

// ready is 200 only when the node can do its work: database reachable,
// migrations complete, workers started, and not shutting down.
func (h *health) ready(w http.ResponseWriter, r *http.Request) {
	ok, reasons := h.isReady(r.Context())
	code := http.StatusOK
	if !ok {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"ready": ok, "reasons": reasons})
}

func (h *health) isReady(ctx context.Context) (bool, []string) {
	reasons := []string{}
	if h.draining.Load() {
		reasons = append(reasons, "shutting down")
	}
	if db := h.checkDB(ctx); db.Status != "ok" {
		reasons = append(reasons, "database: "+db.Status)
	}
	if !h.workers.Load() {
		reasons = append(reasons, "workers not running")
	}
	return len(reasons) == 0, reasons
}

// db reports database reachability and migration state; 503 unless ok.
func (h *health) db(w http.ResponseWriter, r *http.Request) {
	rep := h.checkDB(r.Context())
	code := http.StatusOK
	if rep.Status != "ok" {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, rep)
}

type nodeReport struct {
	NodeID     string    `json:"node_id"`
	Mode       string    `json:"mode"`
	Version    string    `json:"version"`
	ConfigHash string    `json:"config_hash"`
	LastSeenAt time.Time `json:"last_seen_at"`
}

// env publishes this node's configuration hash and those of the other active
// nodes, so an operator sees at once whether every node runs the same config.
func (h *health) env(w http.ResponseWriter, r *http.Request) {
	hash := h.cfg.Hash()
	out := map[string]any{"node_id": h.cfg.NodeID, "version": h.version, "config_hash": hash}
	nodes, err := h.store.NodeListActive(r.Context(), h.now().Add(-nodeStaleAfter))
	if err != nil {
		h.log.WarnContext(r.Context(), "list nodes failed", slog.String("error", err.Error()))
		out["nodes_error"] = "node list unavailable"
		writeJSON(w, http.StatusOK, out)
		return
	}
	consistent := true
	reports := make([]nodeReport, 0, len(nodes))
	for _, n := range nodes {
		consistent = consistent && n.ConfigHash == hash
		reports = append(reports, nodeReport{NodeID: n.NodeID, Mode: n.Mode, Version: n.Version, ConfigHash: n.ConfigHash, LastSeenAt: n.LastSeenAt.UTC()})
	}
	out["nodes"], out["consistent"] = reports, consistent
	writeJSON(w, http.StatusOK, out)
}

// Check implements grpchealth.Checker with the readiness decision.
func (h *health) Check(ctx context.Context, _ *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	if ok, _ := h.isReady(ctx); ok {
		return &grpchealth.CheckResponse{Status: grpchealth.StatusServing}, nil
	}
	return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
