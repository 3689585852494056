package app

import (
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/server/entitlements"
	"github.com/hivesync/hivesync/server/ratelimit"

	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is the effective configuration of a node, read from HIVESYNC_*
// environment variables with the spec's defaults. Every node of a deployment
// must run with the same values; /health/env publishes a hash of them.
type Config struct {
	// DatabaseURL is the Postgres URL; empty in dev mode starts a private cluster.
	DatabaseURL string
	// DataDir holds dev-mode state (the private cluster).
	DataDir string
	// HTTPAddr is the listen address for HTTP/1.1 and cleartext HTTP/2.
	HTTPAddr string
	// PublicURL is the externally visible API base (bootstrap api_base).
	PublicURL string
	// IssuerURL is the iss of the tokens this deployment issues; every node
	// and `hivesyncd token create` must agree on it.
	IssuerURL string
	// PublicWSURL is the externally visible WebSocket URL (bootstrap ws_base).
	PublicWSURL string
	// FallbackAPIURL and FallbackWSURL are the spec §33.4 fallbacks.
	FallbackAPIURL, FallbackWSURL string
	// ConfigVersion is the bootstrap document's version.
	ConfigVersion int32
	// NodeID names this process in logs, metrics and the nodes table.
	NodeID string
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// LogFormat is json or text.
	LogFormat string
	// LogHashSalt salts the hash of user ids in logs (secret).
	LogHashSalt string
	// MinClientVersion is the oldest client build accepted.
	MinClientVersion int32
	// MinPluginProtocolVersion and CurrentPluginProtocolVersion bound the
	// plugin protocol versions accepted (spec §27).
	MinPluginProtocolVersion, CurrentPluginProtocolVersion int32
	// UpgradeURL is where outdated clients are sent.
	UpgradeURL string
	// MaxRequestBytes is the largest request body read.
	MaxRequestBytes int64
	// MaxSingleFileSizeBytes and MaxProjectStorageBytes are spec §35.1's limits.
	MaxSingleFileSizeBytes, MaxProjectStorageBytes int64
	// AIProviderOrder is the provider fallback sequence (spec §35.2).
	AIProviderOrder []string
	// AITimeout bounds each external AI call (spec §35.11).
	AITimeout time.Duration
	// PreviewBuildTimeout bounds each preview build (spec §35.4).
	PreviewBuildTimeout time.Duration
	// WorkerConcurrency is the number of River workers per node (spec §35.4).
	WorkerConcurrency int
	// DBMaxConns caps the database pool.
	DBMaxConns int32
	// ShutdownTimeout bounds graceful shutdown.
	ShutdownTimeout time.Duration
	// RequestTimeout bounds a unary request's handling.
	RequestTimeout time.Duration
	// DriftWarningThreshold is spec §34.5's clock-drift warning threshold.
	DriftWarningThreshold time.Duration
	// AccessTokenTTL is the lifetime of access tokens (short: revocation of a
	// session, user or device is also checked on every request).
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is the lifetime of an unused refresh token.
	RefreshTokenTTL time.Duration
	// ClockSkewGrace is the leeway on token times (spec §34.5).
	ClockSkewGrace time.Duration
	// SigningKeyMaxAge is how long a key signs before it is rotated.
	SigningKeyMaxAge time.Duration
	// HistoryRetention is how long the event log (project history, realtime
	// replay) keeps entries; zero keeps them forever (spec §31, §34.10).
	HistoryRetention time.Duration
	// WebSocket gateway (spec §13 Safety & Performance, DESIGN §5).
	WSAuthTimeout   time.Duration
	WSPingInterval  time.Duration
	WSWriteTimeout  time.Duration
	WSSendQueue     int
	WSReplayWindow  int64
	WSMaxFrameBytes int64
	// WSResync is how often each node checks its channels' heads against
	// the event log, the bound on the delay of an event whose announcement
	// was lost.
	WSResync      time.Duration
	WSMessageRate ratelimit.Limit
	// WSAllowedOrigins are browser origins allowed besides the server's own.
	WSAllowedOrigins []string
	// AdminMessageLog is the JSON Lines file admin broadcasts are appended
	// to (spec §32.4); empty disables it.
	AdminMessageLog string
	// RefreshReuseGrace lets a just-rotated refresh token be presented again
	// (a retry after a lost answer) without revoking the session.
	RefreshReuseGrace time.Duration
	// AppStoreRootCerts is a PEM file of the roots App Store data must chain
	// to (Apple Root CA G3 in production); empty disables the webhook.
	AppStoreRootCerts string
	// AppStoreBundleID is the iOS app's bundle id notifications must name.
	AppStoreBundleID string
	// AppStoreEnvironment is "Production" or "Sandbox".
	AppStoreEnvironment string
	// Play configures Google Play notifications; empty PackageName disables them.
	Play entitlements.PlayOptions
	// AdminAPIKey, when set, is accepted as an admin-scope bearer credential.
	AdminAPIKey string
	// RequireAdmin2FA makes two-factor enrolment mandatory for admin calls.
	RequireAdmin2FA bool
	// RedisURL, when set, makes rate limits shared across nodes and
	// announces events between nodes on Redis Pub/Sub instead of Postgres
	// NOTIFY (spec §28).
	RedisURL string
	// RateLimits are the per-caller rate-limit buckets.
	RateLimits map[string]ratelimit.Limit
	// OIDCProviders are the identity providers of the mobile sign-in.
	OIDCProviders []auth.IdentityProvider
	// SignInTTL is how long a desktop/plugin/CLI sign-in waits for approval.
	SignInTTL time.Duration
	// DevicePollInterval is the device flow's minimum polling interval.
	DevicePollInterval time.Duration

	entries      []entry
	publicURLSet bool
}

type entry struct {
	name   string
	value  string
	secret bool
	known  bool
}

// Mode is how hivesyncd was started; it picks a few defaults.
type Mode string

// The modes of hivesyncd.
const (
	ModeServe   Mode = "serve"
	ModeWorker  Mode = "worker"
	ModeMigrate Mode = "migrate"
	ModeDev     Mode = "dev"
)

// LoadConfig reads the configuration from getenv (os.Getenv in production).
// A malformed value fails with an error naming the variable.
func LoadConfig(mode Mode, getenv func(string) string) (*Config, error) {
	r := &reader{getenv: getenv}
	c := &Config{}
	defaultAddr := ":8080"
	if mode == ModeDev {
		defaultAddr = "127.0.0.1:8080"
	}
	c.DatabaseURL = r.str("HIVESYNC_DATABASE_URL", "", true)
	c.DataDir = r.str("HIVESYNC_DATA_DIR", ".hivesync", false)
	c.HTTPAddr = r.addr("HIVESYNC_HTTP_ADDR", defaultAddr)
	c.PublicURL = r.url("HIVESYNC_PUBLIC_URL", publicURLFor(c.HTTPAddr))
	c.publicURLSet = getenv("HIVESYNC_PUBLIC_URL") != ""
	c.IssuerURL = r.url("HIVESYNC_ISSUER_URL", c.PublicURL)
	c.PublicWSURL = r.url("HIVESYNC_PUBLIC_WS_URL", wsURLFor(c.PublicURL))
	c.FallbackAPIURL = r.url("HIVESYNC_FALLBACK_API_URL", "")
	c.FallbackWSURL = r.url("HIVESYNC_FALLBACK_WS_URL", wsURLFor(c.FallbackAPIURL))
	c.ConfigVersion = int32(r.int64("HIVESYNC_CONFIG_VERSION", 1, 1))
	c.NodeID = r.str("HIVESYNC_NODE_ID", defaultNodeID(), false)
	c.LogLevel = r.oneOf("HIVESYNC_LOG_LEVEL", "info", "debug", "info", "warn", "error")
	c.LogFormat = r.oneOf("HIVESYNC_LOG_FORMAT", "json", "json", "text")
	c.LogHashSalt = r.str("HIVESYNC_LOG_HASH_SALT", "hivesync", true)
	c.MinClientVersion = int32(r.int64("HIVESYNC_MIN_CLIENT_VERSION", 1, 0))
	c.MinPluginProtocolVersion = int32(r.int64("HIVESYNC_MIN_PLUGIN_PROTOCOL_VERSION", 1, 1))
	c.CurrentPluginProtocolVersion = int32(r.int64("HIVESYNC_CURRENT_PLUGIN_PROTOCOL_VERSION", 1, 1))
	c.UpgradeURL = r.url("HIVESYNC_UPGRADE_URL", "https://hivesync.net/download")
	c.MaxRequestBytes = r.int64("HIVESYNC_MAX_REQUEST_BYTES", 16<<20, 1024)
	c.MaxSingleFileSizeBytes = r.int64("HIVESYNC_MAX_SINGLE_FILE_SIZE_BYTES", 5_000_000, 1)
	c.MaxProjectStorageBytes = r.int64("HIVESYNC_MAX_PROJECT_STORAGE_BYTES", 500_000_000, 1)
	c.AIProviderOrder = r.list("HIVESYNC_AI_PROVIDER_ORDER", "openai,anthropic,local", "openai", "anthropic", "local", "offline")
	c.AITimeout = r.duration("HIVESYNC_AI_TIMEOUT", 30*time.Second)
	c.PreviewBuildTimeout = r.duration("HIVESYNC_PREVIEW_BUILD_TIMEOUT", 60*time.Second)
	c.WorkerConcurrency = int(r.int64("HIVESYNC_WORKER_CONCURRENCY", 2, 1))
	c.DBMaxConns = int32(r.int64("HIVESYNC_DB_MAX_CONNS", 20, 2))
	c.ShutdownTimeout = r.duration("HIVESYNC_SHUTDOWN_TIMEOUT", 20*time.Second)
	c.RequestTimeout = r.duration("HIVESYNC_REQUEST_TIMEOUT", 60*time.Second)
	c.DriftWarningThreshold = r.duration("HIVESYNC_DRIFT_WARNING_THRESHOLD", 120*time.Second)
	c.AccessTokenTTL = r.duration("HIVESYNC_ACCESS_TOKEN_TTL", 15*time.Minute)
	c.RefreshTokenTTL = r.duration("HIVESYNC_REFRESH_TOKEN_TTL", 30*24*time.Hour)
	c.ClockSkewGrace = r.duration("HIVESYNC_CLOCK_SKEW_GRACE", 60*time.Second)
	c.SigningKeyMaxAge = r.duration("HIVESYNC_SIGNING_KEY_MAX_AGE", 30*24*time.Hour)
	c.AdminMessageLog = r.str("HIVESYNC_ADMIN_MESSAGE_LOG", filepath.Join(c.DataDir, "admin-messages.log"), false)
	c.HistoryRetention = r.durationOrOff("HIVESYNC_HISTORY_RETENTION", 90*24*time.Hour)
	c.WSAuthTimeout = r.duration("HIVESYNC_WS_AUTH_TIMEOUT", 10*time.Second)
	c.WSPingInterval = r.duration("HIVESYNC_WS_PING_INTERVAL", 30*time.Second)
	c.WSWriteTimeout = r.duration("HIVESYNC_WS_WRITE_TIMEOUT", 10*time.Second)
	c.WSSendQueue = int(r.int64("HIVESYNC_WS_SEND_QUEUE", 256, 8))
	c.WSReplayWindow = r.int64("HIVESYNC_WS_REPLAY_WINDOW", 1000, 1)
	c.WSMaxFrameBytes = r.int64("HIVESYNC_WS_MAX_FRAME_BYTES", 64<<10, 1024)
	c.WSResync = r.duration("HIVESYNC_WS_RESYNC_INTERVAL", 2*time.Second)
	if raw := r.str("HIVESYNC_WS_MESSAGE_RATE", "50/s", false); raw != "" {
		l, err := ratelimit.ParseLimit(raw)
		if err != nil {
			r.fail("HIVESYNC_WS_MESSAGE_RATE", raw, err.Error())
		}
		c.WSMessageRate = l
	}
	for _, o := range strings.Split(r.str("HIVESYNC_WS_ALLOWED_ORIGINS", "", false), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.WSAllowedOrigins = append(c.WSAllowedOrigins, o)
		}
	}
	c.RefreshReuseGrace = r.duration("HIVESYNC_REFRESH_REUSE_GRACE", 30*time.Second)
	c.SignInTTL = r.duration("HIVESYNC_SIGN_IN_TTL", 10*time.Minute)
	c.RedisURL = r.str("HIVESYNC_REDIS_URL", "", true)
	c.RateLimits = map[string]ratelimit.Limit{}
	if raw := r.str("HIVESYNC_RATE_LIMIT_AUTH", "30/min", false); raw != "" {
		l, err := ratelimit.ParseLimit(raw)
		if err != nil {
			r.fail("HIVESYNC_RATE_LIMIT_AUTH", raw, err.Error())
		}
		c.RateLimits["auth"] = l
	}
	if raw := r.str("HIVESYNC_RATE_LIMIT_OTP", "5/min", false); raw != "" {
		l, err := ratelimit.ParseLimit(raw)
		if err != nil {
			r.fail("HIVESYNC_RATE_LIMIT_OTP", raw, err.Error())
		}
		c.RateLimits["otp"] = l
	}
	c.AppStoreRootCerts = r.str("HIVESYNC_APPSTORE_ROOT_CERTS", "", false)
	c.AppStoreBundleID = r.str("HIVESYNC_APPSTORE_BUNDLE_ID", "dev.hivesync.app", false)
	c.AppStoreEnvironment = r.oneOf("HIVESYNC_APPSTORE_ENVIRONMENT", "Production", "Production", "Sandbox")
	c.Play = entitlements.PlayOptions{
		PackageName:    r.str("HIVESYNC_PLAY_PACKAGE_NAME", "", false),
		Issuer:         r.url("HIVESYNC_PLAY_PUSH_ISSUER", "https://accounts.google.com"),
		Audience:       r.str("HIVESYNC_PLAY_PUSH_AUDIENCE", "", false),
		ServiceAccount: r.str("HIVESYNC_PLAY_PUSH_SERVICE_ACCOUNT", "", false),
		RenewalGrace:   r.duration("HIVESYNC_PLAY_RENEWAL_GRACE", 35*24*time.Hour),
	}
	c.AdminAPIKey = r.str("HIVESYNC_ADMIN_API_KEY", "", true)
	if c.AdminAPIKey != "" && len(c.AdminAPIKey) < 32 {
		r.fail("HIVESYNC_ADMIN_API_KEY", "(hidden)", "must be at least 32 characters")
	}
	c.RequireAdmin2FA = r.oneOf("HIVESYNC_REQUIRE_ADMIN_2FA", "false", "true", "false") == "true"
	if raw := r.str("HIVESYNC_OIDC_PROVIDERS", "", false); raw != "" {
		providers, err := auth.ParseIdentityProviders(raw)
		if err != nil {
			r.fail("HIVESYNC_OIDC_PROVIDERS", raw, err.Error())
		}
		c.OIDCProviders = providers
	}
	c.DevicePollInterval = r.duration("HIVESYNC_DEVICE_POLL_INTERVAL", 5*time.Second)

	if r.err == nil && c.CurrentPluginProtocolVersion < c.MinPluginProtocolVersion {
		r.fail("HIVESYNC_CURRENT_PLUGIN_PROTOCOL_VERSION", strconv.Itoa(int(c.CurrentPluginProtocolVersion)),
			fmt.Sprintf("must be at least HIVESYNC_MIN_PLUGIN_PROTOCOL_VERSION (%d)", c.MinPluginProtocolVersion))
	}
	if r.err == nil && mode != ModeDev && c.DatabaseURL == "" {
		r.fail("HIVESYNC_DATABASE_URL", "", "is required (only `hivesyncd dev` starts its own database)")
	}
	if r.err != nil {
		return nil, r.err
	}
	c.entries = r.entries
	return c, nil
}

// UnknownVariables lists HIVESYNC_* variables in environ that no setting reads,
// usually typos worth a warning.
func (c *Config) UnknownVariables(environ []string) []string {
	known := map[string]bool{}
	for _, e := range c.entries {
		known[e.name] = true
	}
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "HIVESYNC_") && !known[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	return unknown
}

// Hash is a stable digest of the effective configuration without secrets, so
// operators can compare nodes (spec §34.14).
func (c *Config) Hash() string {
	h := sha256.New()
	for _, e := range c.Effective() {
		_, _ = fmt.Fprintf(h, "%s=%s\n", e[0], e[1])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Effective lists each setting's name and effective value, sorted by name,
// leaving out secrets and the per-node settings that legitimately differ.
func (c *Config) Effective() [][2]string {
	var out [][2]string
	for _, e := range c.entries {
		if e.secret || perNode[e.name] {
			continue
		}
		out = append(out, [2]string{e.name, e.value})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// perNode settings differ between healthy nodes and stay out of the hash.
var perNode = map[string]bool{"HIVESYNC_NODE_ID": true, "HIVESYNC_HTTP_ADDR": true, "HIVESYNC_DATA_DIR": true, "HIVESYNC_ADMIN_MESSAGE_LOG": true}

type reader struct {
	getenv  func(string) string
	entries []entry
	err     error
}

func (r *reader) raw(name, def string, secret bool) (string, bool) {
	v, set := r.getenv(name), true
	if v == "" {
		v, set = def, false
	}
	r.entries = append(r.entries, entry{name: name, value: v, secret: secret, known: true})
	return v, set
}

func (r *reader) fail(name, value, why string) {
	if r.err != nil {
		return
	}
	r.err = fmt.Errorf("invalid %s=%q: %s", name, value, why)
}

func (r *reader) str(name, def string, secret bool) string {
	v, _ := r.raw(name, def, secret)
	return v
}

func (r *reader) int64(name string, def, minimum int64) int64 {
	v, _ := r.raw(name, strconv.FormatInt(def, 10), false)
	n, err := strconv.ParseInt(strings.ReplaceAll(v, "_", ""), 10, 64)
	if err != nil {
		r.fail(name, v, "not an integer")
		return def
	}
	if n < minimum {
		r.fail(name, v, fmt.Sprintf("must be at least %d", minimum))
		return def
	}
	return n
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v, _ := r.raw(name, def.String(), false)
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.fail(name, v, "not a positive duration such as 30s or 2m")
		return def
	}
	return d
}

// durationOrOff is a positive duration, or zero for "0" / "off".
func (r *reader) durationOrOff(name string, def time.Duration) time.Duration {
	v, _ := r.raw(name, def.String(), false)
	if v == "0" || strings.EqualFold(v, "off") {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.fail(name, v, "not a positive duration such as 2160h, or off")
		return def
	}
	return d
}

func (r *reader) oneOf(name, def string, allowed ...string) string {
	v, _ := r.raw(name, def, false)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(name, v, "must be one of "+strings.Join(allowed, ", "))
	return def
}

func (r *reader) list(name, def string, allowed ...string) []string {
	v, _ := r.raw(name, def, false)
	var out []string
	for _, item := range strings.Split(v, ",") {
		item = strings.Trim(strings.TrimSpace(item), `"[]' `)
		if item == "" {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || item == a
		}
		if !ok {
			r.fail(name, v, fmt.Sprintf("unknown entry %q (allowed: %s)", item, strings.Join(allowed, ", ")))
			return nil
		}
		out = append(out, item)
	}
	if len(out) == 0 {
		r.fail(name, v, "must name at least one entry")
	}
	return out
}

func (r *reader) addr(name, def string) string {
	v, _ := r.raw(name, def, false)
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		r.fail(name, v, "not a host:port listen address")
	}
	return v
}

func (r *reader) url(name, def string) string {
	v, _ := r.raw(name, def, false)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss") {
		r.fail(name, v, "not an absolute http(s) or ws(s) URL")
	}
	return strings.TrimRight(v, "/")
}

func publicURLFor(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func wsURLFor(apiURL string) string {
	switch {
	case strings.HasPrefix(apiURL, "https://"):
		return "wss://" + strings.TrimPrefix(apiURL, "https://") + "/api/v1/ws"
	case strings.HasPrefix(apiURL, "http://"):
		return "ws://" + strings.TrimPrefix(apiURL, "http://") + "/api/v1/ws"
	}
	return ""
}

func defaultNodeID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}
