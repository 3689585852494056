// Package app wires a HiveSync node together: configuration, the store, River,
// the Connect services behind vanguard, interceptors, probes, metrics and the
// HTTP server's lifecycle. It holds no business rules.
package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"google.golang.org/protobuf/reflect/protoreflect"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/admin"
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/server/entitlements"
	"github.com/hivesync/hivesync/server/events"
	"github.com/hivesync/hivesync/server/files"
	"github.com/hivesync/hivesync/server/history"
	"github.com/hivesync/hivesync/server/live"
	"github.com/hivesync/hivesync/server/meta"
	"github.com/hivesync/hivesync/server/notify"
	"github.com/hivesync/hivesync/server/ratelimit"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// Version is this build's release; set with -ldflags "-X .../server/app.Version=…".
var Version = "0.1.0-dev"

// UpgradeDeepLink opens the mobile app's purchase screen (the only store front).
const UpgradeDeepLink = "hivesync://upgrade"

// Options are what a node needs besides its configuration.
type Options struct {
	// Mode selects what the node runs: serve and dev run the API and workers,
	// worker runs only workers (and the probes).
	Mode Mode
	// Config is the effective configuration.
	Config *Config
	// Pool is an open pool to a migrated database.
	Pool *pgxpool.Pool
	// Log is the process logger.
	Log *slog.Logger
	// Authenticator verifies bearer tokens; nil until identity is configured.
	Authenticator access.Authenticator
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Mailer delivers account email; it logs when nil.
	Mailer auth.Mailer
}

// App is one HiveSync node.
type App struct {
	opts          Options
	store         *store.Store
	keys          *auth.KeyRing
	issuer        *auth.Issuer
	authenticator *auth.Authenticator
	oauth         *auth.OAuthServer
	devIDP        *auth.DevIdentityProvider
	limiter       ratelimit.Limiter
	closers       []func() error
	totp          *auth.TOTP
	loginLinks    *auth.LoginLinks
	mailer        auth.Mailer
	river         *river.Client[pgx.Tx]
	health        *health
	handler       http.Handler
	started       time.Time
	hub           *events.Hub
	gateway       *events.Gateway
	live          *live.Service
}

// New builds a node. It fails if any mounted RPC lacks an access rule.
func New(opts Options) (*App, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg, log := opts.Config, opts.Log
	st := store.New(opts.Pool)
	a := &App{opts: opts, store: st, started: opts.Now().UTC()}
	a.health = &health{store: st, cfg: cfg, mode: opts.Mode, version: Version, now: opts.Now, log: log}

	a.keys = auth.NewKeyRing(st, opts.Now, cfg.AccessTokenTTL+cfg.ClockSkewGrace)
	a.issuer = auth.NewIssuer(st, a.keys, auth.IssuerOptions{
		Issuer: cfg.IssuerURL, AccessTTL: cfg.AccessTokenTTL, RefreshTTL: cfg.RefreshTokenTTL, Now: opts.Now, ReuseGrace: cfg.RefreshReuseGrace,
	})
	a.authenticator = auth.NewAuthenticator(st, a.issuer, cfg.ClockSkewGrace, opts.Now).WithAdminAPIKey(cfg.AdminAPIKey)
	mailer := opts.Mailer
	if mailer == nil {
		mailer = auth.LogMailer{Log: log, Reveal: opts.Mode == ModeDev}
	}
	a.mailer = mailer
	a.loginLinks = auth.NewLoginLinks(st, a.issuer, mailer, func() string { return cfg.PublicURL }, 15*time.Minute, opts.Now)
	if opts.Mode == ModeDev {
		var err error
		if a.devIDP, err = auth.NewDevIdentityProvider(func() string { return cfg.PublicURL }, opts.Now); err != nil {
			return nil, fmt.Errorf("create dev identity provider: %w", err)
		}
	}
	a.limiter = ratelimit.NewMemory(cfg.RateLimits, opts.Now)
	if cfg.RedisURL != "" {
		events.RouteRedisLogs(log.With(slog.String("component", "redis")))
		redisLimiter, client, err := ratelimit.NewRedis(context.Background(), cfg.RedisURL, cfg.RateLimits)
		if err != nil {
			return nil, fmt.Errorf("HIVESYNC_REDIS_URL: %w", err)
		}
		a.limiter, a.closers = redisLimiter, append(a.closers, client.Close)
	}
	// Events are announced between nodes after their commit, on Redis when
	// configured, else with Postgres NOTIFY.
	var bus events.Bus = events.NewPostgresBus(st)
	if cfg.RedisURL != "" {
		redisBus, err := events.NewRedisBus(context.Background(), cfg.RedisURL, log.With(slog.String("component", "events")))
		if err != nil {
			return nil, fmt.Errorf("HIVESYNC_REDIS_URL: %w", err)
		}
		bus, a.closers = redisBus, append(a.closers, redisBus.Close)
	}
	publisher := events.NewPublisher(bus, log.With(slog.String("component", "events")))
	st.SetAnnouncer(publisher)
	a.closers = append([]func() error{publisher.Close}, a.closers...) // flush before the bus closes
	a.totp = auth.NewTOTP(st, opts.Now)
	a.oauth = auth.NewOAuthServer(st, a.issuer, auth.OAuthOptions{Limiter: a.limiter,
		Issuer: cfg.IssuerURL, BaseURL: func() string { return cfg.PublicURL }, RequestTTL: cfg.SignInTTL, CodeTTL: time.Minute, PollInterval: cfg.DevicePollInterval, Now: opts.Now, Log: log,
	})

	var err error
	a.live = live.NewService(st, log, opts.Now)
	if a.river, err = newRiverClient(st, cfg, log, opts.Now, a.keys, a.live, true); err != nil {
		return nil, err
	}
	m := newMetrics()
	var services []mountedService
	if opts.Mode != ModeWorker {
		if services, err = a.services(m); err != nil {
			return nil, err
		}
	}
	appStore := &entitlements.AppStoreWebhook{Store: st, Now: opts.Now, Log: log}
	if cfg.AppStoreRootCerts != "" {
		pem, err := os.ReadFile(cfg.AppStoreRootCerts)
		if err != nil {
			return nil, fmt.Errorf("read HIVESYNC_APPSTORE_ROOT_CERTS: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, errors.New("HIVESYNC_APPSTORE_ROOT_CERTS holds no PEM certificate")
		}
		appStore.Verifier = &entitlements.AppStoreVerifier{Roots: roots, BundleID: cfg.AppStoreBundleID, Environment: cfg.AppStoreEnvironment}
	}
	if opts.Mode != ModeWorker {
		var authn access.Authenticator = a.authenticator
		if opts.Authenticator != nil {
			authn = opts.Authenticator
		}
		a.hub = events.NewHub(st, bus, events.HubOptions{Window: cfg.WSReplayWindow, Resync: cfg.WSResync, Publisher: publisher, Log: log.With(slog.String("component", "events"))})
		a.gateway = events.NewGateway(a.hub, authn, st, events.GatewayConfig{
			AuthTimeout: cfg.WSAuthTimeout, PingInterval: cfg.WSPingInterval, WriteTimeout: cfg.WSWriteTimeout,
			SendQueue: cfg.WSSendQueue, MaxFrameBytes: cfg.WSMaxFrameBytes,
			MessagesPerSecond: float64(cfg.WSMessageRate.Burst) / cfg.WSMessageRate.Per.Seconds(), Burst: cfg.WSMessageRate.Burst,
			OriginPatterns: cfg.WSAllowedOrigins, Versions: VersionPolicy(cfg),
		}, log.With(slog.String("component", "gateway")), opts.Now).WithAckHandler(a.acknowledge).WithLive(a.live)
		gateway := a.gateway
		m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hivesync_ws_connections",
			Help: "Open WebSocket event-stream connections on this node.",
		}, func() float64 { return float64(gateway.Connections()) }))
		authenticator := a.authenticator
		m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "hivesync_auth_session_reads_total",
			Help: "Session standings the authenticator read from the database (requests it could not answer from its cache).",
		}, func() float64 { return float64(authenticator.SessionReads()) }))
		hub := a.hub
		m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "hivesync_events_log_reads_total",
			Help: "Event-log queries this node's hub issued for fan-out, catch-up and channel heads (identical concurrent reads count once).",
		}, func() float64 { return float64(hub.Queries()) }))
	}
	extra := func(mux *http.ServeMux) {
		mux.HandleFunc("GET "+auth.PathJWKS, a.jwks)
		if opts.Mode != ModeWorker {
			mux.Handle("GET /api/v1/ws", a.gateway)
			mux.HandleFunc("GET /health/ws", a.healthWS)
			a.oauth.Register(mux)
			mux.HandleFunc("POST "+auth.LoginLinkPath, a.loginLinks.Redeem)
			mux.HandleFunc("GET "+auth.LoginLinkPath, a.loginLinks.Page)
			mux.Handle("POST /api/v1/webhooks/appstore", appStore)
			mux.Handle("POST /api/v1/webhooks/play", &entitlements.PlayWebhook{Options: cfg.Play, Store: st, Now: opts.Now, Log: log})
		}
		if a.devIDP != nil {
			a.devIDP.Register(mux)
		}
	}
	if a.handler, err = newHandler(services, a.health, m, cfg.MaxRequestBytes, extra); err != nil {
		return nil, err
	}
	return a, nil
}

// VersionPolicy is the client and plugin version range from cfg.
func VersionPolicy(cfg *Config) access.VersionPolicy {
	return access.VersionPolicy{
		MinPluginProtocol:     cfg.MinPluginProtocolVersion,
		CurrentPluginProtocol: cfg.CurrentPluginProtocolVersion,
		MinClient:             cfg.MinClientVersion,
		UpgradeURL:            cfg.UpgradeURL,
	}
}

// services builds every Connect service with the shared interceptors. The
// access rules are read from the descriptors of exactly these services, so a
// mounted method without a rule stops the node from starting.
func (a *App) services(m *metrics) ([]mountedService, error) {
	cfg, log, now := a.opts.Config, a.opts.Log, a.opts.Now
	metaSvc, err := meta.New(meta.Options{
		ServerVersion:         Version,
		Versions:              VersionPolicy(cfg),
		Bootstrap:             a.bootstrapConfig,
		DriftWarningThreshold: cfg.DriftWarningThreshold,
		Now:                   now,
	})
	if err != nil {
		return nil, err
	}
	authSvc := auth.NewService(a.store, a.oauth, auth.NewIDTokenSignIn(a.store, a.issuer, a.identityProviders, now), a.totp, log, now)
	entSvc := entitlements.NewService(a.store, log, now)

	descs := []protoreflect.ServiceDescriptor{
		hivesyncv1.File_hivesync_v1_meta_service_proto.Services().ByName("MetaService"),
		hivesyncv1.File_hivesync_v1_auth_service_proto.Services().ByName("AuthService"),
		hivesyncv1.File_hivesync_v1_device_service_proto.Services().ByName("DeviceService"),
		hivesyncv1.File_hivesync_v1_entitlement_service_proto.Services().ByName("EntitlementService"),
		hivesyncv1.File_hivesync_v1_admin_service_proto.Services().ByName("AdminService"),
		hivesyncv1.File_hivesync_v1_project_service_proto.Services().ByName("ProjectService"),
		hivesyncv1.File_hivesync_v1_file_service_proto.Services().ByName("FileService"),
		hivesyncv1.File_hivesync_v1_sync_service_proto.Services().ByName("SyncService"),
		hivesyncv1.File_hivesync_v1_snapshot_service_proto.Services().ByName("SnapshotService"),
		hivesyncv1.File_hivesync_v1_history_service_proto.Services().ByName("HistoryService"),
		hivesyncv1.File_hivesync_v1_notification_service_proto.Services().ByName("NotificationService"),
		hivesyncv1.File_hivesync_v1_live_service_proto.Services().ByName("LiveService"),
	}
	rules, err := access.RulesFor(descs...)
	if err != nil {
		return nil, err
	}
	authenticator := a.opts.Authenticator
	if authenticator == nil {
		authenticator = a.authenticator
	}
	opts := []connect.HandlerOption{
		connect.WithInterceptors(
			&observer{log: log, metrics: m, salt: cfg.LogHashSalt, now: now},
			requestTimeout(cfg.RequestTimeout),
			access.NewInterceptor(rules, authenticator, VersionPolicy(cfg), UpgradeDeepLink, log).
				WithLimiter(a.limiter).WithSecondFactor(a.totp, cfg.RequireAdmin2FA),
		),
		connect.WithReadMaxBytes(int(cfg.MaxRequestBytes)),
		// Compressing small answers costs more CPU than it saves bytes.
		connect.WithCompressMinBytes(1024),
	}
	var out []mountedService
	add := func(desc protoreflect.ServiceDescriptor, path string, h http.Handler) {
		out = append(out, mountedService{desc: desc, path: path, handler: h})
	}
	path, h := hivesyncv1connect.NewMetaServiceHandler(metaSvc, opts...)
	add(descs[0], path, h)
	path, h = hivesyncv1connect.NewAuthServiceHandler(authSvc, opts...)
	add(descs[1], path, h)
	path, h = hivesyncv1connect.NewDeviceServiceHandler(authSvc, opts...)
	add(descs[2], path, h)
	path, h = hivesyncv1connect.NewEntitlementServiceHandler(entSvc, opts...)
	add(descs[3], path, h)
	path, h = hivesyncv1connect.NewAdminServiceHandler(admin.NewService(a.store, a.loginLinks, log, now, admin.NewMessageLog(cfg.AdminMessageLog)).WithMinClientVersion(cfg.MinClientVersion), opts...)
	add(descs[4], path, h)
	fileSvc := files.NewService(a.store, files.Limits{MaxFileBytes: cfg.MaxSingleFileSizeBytes, MaxProjectBytes: cfg.MaxProjectStorageBytes}, log, now).
		WithInviteMail(a.mailer, func() string { return cfg.PublicURL })
	path, h = hivesyncv1connect.NewProjectServiceHandler(fileSvc, opts...)
	add(descs[5], path, h)
	path, h = hivesyncv1connect.NewFileServiceHandler(fileSvc, opts...)
	add(descs[6], path, h)
	path, h = hivesyncv1connect.NewSyncServiceHandler(fileSvc, opts...)
	add(descs[7], path, h)
	path, h = hivesyncv1connect.NewSnapshotServiceHandler(fileSvc, opts...)
	add(descs[8], path, h)
	path, h = hivesyncv1connect.NewHistoryServiceHandler(history.NewService(a.store, log, now), opts...)
	add(descs[9], path, h)
	path, h = hivesyncv1connect.NewNotificationServiceHandler(notify.NewService(a.store, log, now), opts...)
	add(descs[10], path, h)
	path, h = hivesyncv1connect.NewLiveServiceHandler(a.live, opts...)
	add(descs[11], path, h)
	return out, nil
}

// acknowledge records a client's ack of an admin broadcast or a
// notification (event_id is the message's or the notification's id).
func (a *App) acknowledge(ctx context.Context, p *access.Principal, eventID string) error {
	id, err := uuid.Parse(eventID)
	if err != nil {
		return nil // not an id we record acknowledgements for
	}
	user, uerr := uuid.Parse(p.UserID)
	session, serr := uuid.Parse(p.SessionID)
	if uerr != nil || serr != nil {
		return nil
	}
	if ok, err := admin.Acknowledge(ctx, a.store, id, session, user); ok || err != nil {
		return err
	}
	_, err = notify.Delivered(ctx, a.store, id, user, a.opts.Now())
	return err
}

// bootstrapConfig is the spec §33 discovery document from configuration
// and the latest announced migration: it carries the notice, and once
// switch_after has passed it points at the new URLs.
func (a *App) bootstrapConfig(ctx context.Context) (*hivesyncv1.BootstrapConfig, error) {
	cfg := a.opts.Config
	doc := a.staticBootstrap()
	notice, err := a.store.MigrationNoticeLatest(ctx)
	if errors.Is(store.MapError(err), store.ErrNotFound) {
		return doc, nil
	}
	if err != nil {
		return nil, err
	}
	count, err := a.store.MigrationNoticeCount(ctx)
	if err != nil {
		return nil, err
	}
	doc.Migration = admin.NoticeProto(notice)
	doc.ConfigVersion = cfg.ConfigVersion + int32(count)
	if !a.opts.Now().Before(notice.SwitchAfter) {
		doc.FallbackApiBase, doc.FallbackWsBase = doc.GetApiBase(), doc.GetWsBase()
		doc.ApiBase, doc.WsBase = notice.NewUrl, notice.NewWsUrl
		doc.MinClientVersion = max(doc.GetMinClientVersion(), notice.MinClientVersion)
	}
	return doc, nil
}

// staticBootstrap is the discovery document from configuration alone.
func (a *App) staticBootstrap() *hivesyncv1.BootstrapConfig {
	cfg := a.opts.Config
	return &hivesyncv1.BootstrapConfig{
		ApiBase:                  cfg.PublicURL,
		WsBase:                   cfg.PublicWSURL,
		MinClientVersion:         cfg.MinClientVersion,
		RecommendedUpgradeUrl:    cfg.UpgradeURL,
		FallbackApiBase:          cfg.FallbackAPIURL,
		FallbackWsBase:           cfg.FallbackWSURL,
		ConfigVersion:            cfg.ConfigVersion,
		MinPluginProtocolVersion: cfg.MinPluginProtocolVersion,
	}
}

// identityProviders are the configured providers, plus the built-in one in dev.
func (a *App) identityProviders() []auth.IdentityProvider {
	providers := a.opts.Config.OIDCProviders
	if a.devIDP != nil {
		providers = append(slices.Clone(providers), a.devIDP.Provider())
	}
	return providers
}

// DevIdentityProvider is the built-in provider of dev mode (nil otherwise).
func (a *App) DevIdentityProvider() *auth.DevIdentityProvider { return a.devIDP }

// LoginLinks creates account-recovery links (`hivesyncd admin login-link`).
func (a *App) LoginLinks() *auth.LoginLinks { return a.loginLinks }

// Issuer mints tokens; `hivesyncd token create` and tests use it.
func (a *App) Issuer() *auth.Issuer { return a.issuer }

// Keys is the signing key ring.
func (a *App) Keys() *auth.KeyRing { return a.keys }

// jwks serves the public signing keys (RFC 7517) for resource servers and SDKs.
func (a *App) jwks(w http.ResponseWriter, r *http.Request) {
	set, err := a.keys.JWKS(r.Context())
	if err != nil {
		a.opts.Log.ErrorContext(r.Context(), "jwks", slog.String("error", err.Error()))
		http.Error(w, "signing keys unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, set)
}

// Handler is the node's whole HTTP surface.
func (a *App) Handler() http.Handler { return a.handler }

// Run listens on the configured address and serves until ctx ends, then
// shuts down gracefully.
func (a *App) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.opts.Config.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (HIVESYNC_HTTP_ADDR): %w", a.opts.Config.HTTPAddr, err)
	}
	return a.Serve(ctx, ln)
}

// Serve starts the workers and the node heartbeat, serves HTTP/1.1 and
// cleartext HTTP/2 on ln until ctx ends, then drains: readiness turns false,
// in-flight requests finish (up to HIVESYNC_SHUTDOWN_TIMEOUT), workers stop
// and the node leaves the nodes table.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	cfg, log := a.opts.Config, a.opts.Log
	cfg.bindListener(ln.Addr())
	if err := a.river.Start(ctx); err != nil {
		_ = ln.Close()
		return fmt.Errorf("start workers: %w", err)
	}
	a.health.workers.Store(true)
	hubCtx, stopHub := context.WithCancel(context.WithoutCancel(ctx))
	hubDone := make(chan struct{})
	go func() {
		defer close(hubDone)
		if a.hub != nil {
			var wg sync.WaitGroup
			wg.Go(func() { a.gateway.Run(hubCtx) })
			wg.Go(func() { a.authenticator.Listen(hubCtx, log.With(slog.String("component", "auth"))) })
			a.hub.Run(hubCtx)
			wg.Wait()
		}
	}()
	hbCtx, stopHeartbeat := context.WithCancel(context.WithoutCancel(ctx))
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); a.heartbeat(hbCtx) }()

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           a.handler,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.InfoContext(ctx, "hivesync serving", slog.String("mode", string(a.opts.Mode)), slog.String("addr", ln.Addr().String()),
		slog.String("version", Version), slog.String("config_hash", cfg.Hash()))

	var err error
	select {
	case err = <-serveErr:
	case <-ctx.Done():
	}
	a.health.draining.Store(true)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	log.InfoContext(shutdownCtx, "shutting down")
	if a.gateway != nil {
		a.gateway.Shutdown() // sockets are hijacked: http.Server.Shutdown does not see them
	}
	if serr := srv.Shutdown(shutdownCtx); serr != nil {
		log.WarnContext(shutdownCtx, "http shutdown incomplete", slog.String("error", serr.Error()))
	}
	if rerr := a.river.Stop(shutdownCtx); rerr != nil {
		log.WarnContext(shutdownCtx, "workers did not stop in time", slog.String("error", rerr.Error()))
	}
	a.health.workers.Store(false)
	stopHub()
	<-hubDone
	stopHeartbeat()
	<-hbDone
	if derr := a.store.NodeDelete(shutdownCtx, cfg.NodeID); derr != nil {
		log.WarnContext(shutdownCtx, "could not deregister node", slog.String("error", derr.Error()))
	}
	for _, closeFn := range a.closers {
		_ = closeFn()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// heartbeat keeps this node's row fresh until ctx ends.
func (a *App) heartbeat(ctx context.Context) {
	cfg := a.opts.Config
	beat := func() {
		_, err := a.store.NodeUpsert(ctx, dbgen.NodeUpsertParams{
			NodeID: cfg.NodeID, Mode: string(a.opts.Mode), Version: Version, ConfigHash: cfg.Hash(), StartedAt: a.started,
		})
		if err != nil && ctx.Err() == nil {
			a.opts.Log.WarnContext(ctx, "node heartbeat failed", slog.String("error", err.Error()))
		}
	}
	beat()
	t := time.NewTicker(nodeHeartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			beat()
		}
	}
}

// bindListener fills in the public URLs when the configured address used
// port 0 and no public URL was given.
func (c *Config) bindListener(addr net.Addr) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return
	}
	_, port, _ := net.SplitHostPort(c.HTTPAddr)
	if port != "0" || c.publicURLSet {
		return
	}
	host, _, _ := net.SplitHostPort(c.HTTPAddr)
	c.PublicURL = publicURLFor(net.JoinHostPort(host, strconv.Itoa(tcp.Port)))
	c.PublicWSURL = wsURLFor(c.PublicURL)
}

// requestTimeout bounds the handling of every unary call (spec §35.11); a
// handler that runs over gets its context canceled and the caller
// deadline_exceeded. A shorter deadline sent by the client still wins.
func requestTimeout(d time.Duration) connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			return next(ctx, req)
		}
	})
}
