package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/ratelimit"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// Grant type identifiers (RFC 6749, RFC 8628).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
)

// OAuth endpoint paths.
const (
	PathMetadata            = "/.well-known/oauth-authorization-server"
	PathAuthorize           = "/oauth2/authorize"
	PathDesktop             = "/auth/desktop"
	PathAuthorizeStatus     = "/oauth2/authorize/status"
	PathToken               = "/oauth2/token"
	PathDeviceAuthorization = "/oauth2/device_authorization"
	PathRevoke              = "/oauth2/revoke"
	PathDevice              = "/device"
	PathJWKS                = "/.well-known/jwks.json"
)

// OAuthOptions configure the authorization server.
type OAuthOptions struct {
	// Issuer is the server's issuer identifier (the iss of its tokens).
	Issuer string
	// BaseURL returns the public base URL the endpoints are reached at; it
	// can change once the listener is bound (port 0 in development).
	BaseURL func() string
	// RequestTTL is how long a sign-in waits for the phone's approval.
	RequestTTL time.Duration
	// CodeTTL is the life of an authorization code.
	CodeTTL time.Duration
	// PollInterval is the device flow's minimum polling interval.
	PollInterval time.Duration
	// Now is the clock.
	Now func() time.Time
	// Log receives security warnings.
	Log *slog.Logger
	// Limiter, when set, applies the "auth" bucket per client IP to the
	// token and device authorization endpoints.
	Limiter ratelimit.Limiter
}

// OAuthServer is HiveSync's OAuth 2.1 authorization server for desktop,
// plugins and the CLI (all public clients). Both flows end with the user
// approving on the phone: the device authorization grant (RFC 8628) and the
// authorization code grant with mandatory PKCE S256, whose browser page waits
// for the approval and then redirects to the client.
type OAuthServer struct {
	store  *store.Store
	issuer *Issuer
	opts   OAuthOptions
}

// NewOAuthServer returns the server.
func NewOAuthServer(st *store.Store, issuer *Issuer, opts OAuthOptions) *OAuthServer {
	return &OAuthServer{store: st, issuer: issuer, opts: opts}
}

// Register mounts the endpoints on mux.
func (o *OAuthServer) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathMetadata, o.metadata)
	mux.HandleFunc("GET "+PathAuthorize, o.limited(o.authorize))
	mux.HandleFunc("GET "+PathDesktop, o.limited(o.authorize))
	mux.HandleFunc("GET "+PathAuthorizeStatus, o.authorizeStatus)
	mux.HandleFunc("POST "+PathDeviceAuthorization, o.limited(o.deviceAuthorization))
	mux.HandleFunc("POST "+PathToken, o.token)
	mux.HandleFunc("POST "+PathRevoke, o.revoke)
	mux.HandleFunc("GET "+PathDevice, o.devicePage)
}

// limited applies the "auth" rate limit per client IP.
func (o *OAuthServer) limited(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if o.allow(w, r) {
			next(w, r)
		}
	}
}

// allow counts the request against the "auth" bucket of its client IP and,
// over the limit, answers 429 with Retry-After.
func (o *OAuthServer) allow(w http.ResponseWriter, r *http.Request) bool {
	if o.opts.Limiter == nil {
		return true
	}
	ok, retry, err := o.opts.Limiter.Allow(r.Context(), "auth", "ip:"+access.ClientIP(r.RemoteAddr))
	if err != nil || ok {
		return true
	}
	secs := int(retry.Seconds()) + 1
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeOAuthJSON(w, http.StatusTooManyRequests, &oauthError{Code: "temporarily_unavailable", Description: fmt.Sprintf("too many requests; retry in %d s", secs)})
	return false
}

// oauthError is an RFC 6749 §5.2 error response.
type oauthError struct {
	status      int
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func errInvalidRequest(desc string) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_request", desc}
}
func errInvalidGrant(desc string) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_grant", desc}
}
func errInvalidClient(desc string) *oauthError {
	return &oauthError{http.StatusUnauthorized, "invalid_client", desc}
}
func errInvalidScope(desc string) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_scope", desc}
}

func writeOAuthJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (o *OAuthServer) fail(w http.ResponseWriter, r *http.Request, err error) {
	var oe *oauthError
	if errors.As(err, &oe) {
		writeOAuthJSON(w, oe.status, oe)
		return
	}
	o.opts.Log.ErrorContext(r.Context(), "oauth endpoint failed", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	writeOAuthJSON(w, http.StatusInternalServerError, &oauthError{Code: "server_error", Description: "try again later"})
}

// metadata serves RFC 8414 authorization server metadata.
func (o *OAuthServer) metadata(w http.ResponseWriter, _ *http.Request) {
	base := strings.TrimRight(o.opts.BaseURL(), "/")
	scopes := []string{}
	for v := range hivesyncv1.Scope_name {
		if v != 0 {
			scopes = append(scopes, ScopeName(hivesyncv1.Scope(v)))
		}
	}
	slices.Sort(scopes)
	writeOAuthJSON(w, http.StatusOK, map[string]any{
		"issuer":                                     o.opts.Issuer,
		"authorization_endpoint":                     base + PathAuthorize,
		"token_endpoint":                             base + PathToken,
		"device_authorization_endpoint":              base + PathDeviceAuthorization,
		"revocation_endpoint":                        base + PathRevoke,
		"jwks_uri":                                   base + PathJWKS,
		"response_types_supported":                   []string{"code"},
		"response_modes_supported":                   []string{"query"},
		"grant_types_supported":                      []string{GrantAuthorizationCode, GrantRefreshToken, GrantDeviceCode},
		"code_challenge_methods_supported":           []string{"S256"},
		"token_endpoint_auth_methods_supported":      []string{"none"},
		"revocation_endpoint_auth_methods_supported": []string{"none"},
		"scopes_supported":                           scopes,
	})
}

// client reads and checks client_id.
func clientFrom(id string) (Client, *oauthError) {
	c, ok := Clients[id]
	if !ok || id == "mobile" {
		return Client{}, errInvalidClient("unknown client_id")
	}
	return c, nil
}

// requestedScopes parses the scope parameter against what the client may hold.
func requestedScopes(c Client, raw string) ([]hivesyncv1.Scope, *oauthError) {
	if strings.TrimSpace(raw) == "" {
		return c.DefaultScopes(), nil
	}
	scopes, err := ParseScopes(strings.Fields(raw))
	if err != nil {
		return nil, errInvalidScope(err.Error())
	}
	for _, s := range scopes {
		if !slices.Contains(c.Scopes, s) {
			return nil, errInvalidScope(fmt.Sprintf("client %s may not request scope %s", c.ID, ScopeName(s)))
		}
	}
	return scopes, nil
}

// deviceAuthorization starts a device flow (RFC 8628 §3.1).
func (o *OAuthServer) deviceAuthorization(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		o.fail(w, r, errInvalidRequest("malformed form body"))
		return
	}
	c, oerr := clientFrom(r.PostForm.Get("client_id"))
	if oerr != nil {
		o.fail(w, r, oerr)
		return
	}
	if !c.DeviceFlow {
		o.fail(w, r, &oauthError{http.StatusBadRequest, "unauthorized_client", "this client may not use the device flow"})
		return
	}
	scopes, oerr := requestedScopes(c, r.PostForm.Get("scope"))
	if oerr != nil {
		o.fail(w, r, oerr)
		return
	}
	deviceCode := randomToken()
	grant, err := o.insertGrant(r.Context(), dbgen.OAuthGrantInsertParams{
		Kind: "device", ClientID: c.ID, Scopes: ScopeNames(scopes), DeviceCodeHash: hashToken(deviceCode),
	})
	if err != nil {
		o.fail(w, r, err)
		return
	}
	base := strings.TrimRight(o.opts.BaseURL(), "/")
	writeOAuthJSON(w, http.StatusOK, map[string]any{
		"device_code":               deviceCode,
		"user_code":                 formatUserCode(grant.UserCode),
		"verification_uri":          base + PathDevice,
		"verification_uri_complete": base + PathDevice + "?user_code=" + url.QueryEscape(formatUserCode(grant.UserCode)),
		"expires_in":                int(o.opts.RequestTTL.Seconds()),
		"interval":                  int(o.opts.PollInterval.Seconds()),
	})
}

// insertGrant stores a pending sign-in under a fresh user code, retrying on
// the (unlikely) collision of two codes.
func (o *OAuthServer) insertGrant(ctx context.Context, p dbgen.OAuthGrantInsertParams) (dbgen.OauthGrant, error) {
	p.ID = uuid.New()
	p.PollIntervalS = int32(o.opts.PollInterval.Seconds())
	p.ExpiresAt = o.opts.Now().Add(o.opts.RequestTTL)
	for range 5 {
		p.UserCode = newUserCode()
		g, err := o.store.OAuthGrantInsert(ctx, p)
		if errors.Is(store.MapError(err), store.ErrConflict) {
			continue
		}
		if err != nil {
			return dbgen.OauthGrant{}, fmt.Errorf("store sign-in request: %w", err)
		}
		return g, nil
	}
	return dbgen.OauthGrant{}, errors.New("could not allocate a user code")
}

// codeVerifierPattern is RFC 7636 §4.1.
var codeVerifierPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// authorize starts the browser flow: it validates the request, stores it and
// shows a page with the code to approve on the phone. Errors that make the
// redirect untrustworthy are shown on the page, never redirected.
func (o *OAuthServer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c, oerr := clientFrom(q.Get("client_id"))
	if oerr != nil {
		o.page(w, http.StatusBadRequest, pageData{Title: "Unknown application", Message: "This sign-in link is not for a HiveSync application."})
		return
	}
	redirect := q.Get("redirect_uri")
	if len(redirect) > 2048 || !c.AllowsRedirect(redirect) {
		o.page(w, http.StatusBadRequest, pageData{Title: "Invalid sign-in link", Message: "The application asked to return to an address it has not registered."})
		return
	}
	redirectErr := func(code, desc string) {
		u, _ := url.Parse(redirect)
		v := u.Query()
		v.Set("error", code)
		v.Set("error_description", desc)
		if s := q.Get("state"); s != "" {
			v.Set("state", s)
		}
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	if len(q.Get("state")) > 512 {
		redirectErr("invalid_request", "state is longer than 512 characters")
		return
	}
	if q.Get("response_type") != "code" {
		redirectErr("unsupported_response_type", "only response_type=code is supported")
		return
	}
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 {
		redirectErr("invalid_request", "PKCE with code_challenge_method=S256 is required")
		return
	}
	scopes, oerr := requestedScopes(c, q.Get("scope"))
	if oerr != nil {
		redirectErr(oerr.Code, oerr.Description)
		return
	}
	grant, err := o.insertGrant(r.Context(), dbgen.OAuthGrantInsertParams{
		Kind: "code", ClientID: c.ID, Scopes: ScopeNames(scopes), RedirectUri: redirect,
		State: q.Get("state"), CodeChallenge: q.Get("code_challenge"),
	})
	if err != nil {
		o.opts.Log.ErrorContext(r.Context(), "authorize failed", slog.String("error", err.Error()))
		o.page(w, http.StatusInternalServerError, pageData{Title: "Something went wrong", Message: "Please try signing in again."})
		return
	}
	o.page(w, http.StatusOK, pageData{
		Title:    "Approve this sign-in on your phone",
		Message:  fmt.Sprintf("Open the HiveSync app, choose \"Approve sign-in\" and enter this code to sign in %s.", c.ID),
		UserCode: formatUserCode(grant.UserCode),
		PollURL:  PathAuthorizeStatus + "?request=" + grant.ID.String(),
	})
}

// authorizeStatus is polled by the browser page. Once the phone approved, the
// first poll mints the one-time authorization code and returns the redirect.
func (o *OAuthServer) authorizeStatus(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(r.URL.Query().Get("request"))
	if err != nil {
		writeOAuthJSON(w, http.StatusNotFound, map[string]string{"status": "unknown"})
		return
	}
	grant, err := o.store.OAuthGrantByID(r.Context(), id)
	if err != nil || grant.Kind != "code" {
		writeOAuthJSON(w, http.StatusNotFound, map[string]string{"status": "unknown"})
		return
	}
	now := o.opts.Now()
	switch {
	case grant.Status == "denied":
		writeOAuthJSON(w, http.StatusOK, map[string]string{"status": "denied", "redirect": withQuery(grant.RedirectUri, "error", "access_denied", "state", grant.State)})
		return
	case !now.Before(grant.ExpiresAt):
		writeOAuthJSON(w, http.StatusOK, map[string]string{"status": "expired"})
		return
	case grant.Status == "pending":
		writeOAuthJSON(w, http.StatusOK, map[string]string{"status": "pending"})
		return
	case grant.Status != "approved" || grant.AuthCodeHash != nil:
		writeOAuthJSON(w, http.StatusOK, map[string]string{"status": "done"})
		return
	}
	code := randomToken()
	if _, err := o.store.OAuthGrantIssueCode(r.Context(), dbgen.OAuthGrantIssueCodeParams{
		ID: grant.ID, AuthCodeHash: hashToken(code), ExpiresAt: now.Add(o.opts.CodeTTL),
	}); err != nil {
		if errors.Is(store.MapError(err), store.ErrNotFound) {
			// Another poll issued the code first.
			writeOAuthJSON(w, http.StatusOK, map[string]string{"status": "done"})
			return
		}
		// A transient failure: the page keeps polling.
		o.fail(w, r, err)
		return
	}
	writeOAuthJSON(w, http.StatusOK, map[string]string{"status": "approved", "redirect": withQuery(grant.RedirectUri, "code", code, "state", grant.State)})
}

func withQuery(raw string, kv ...string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	v := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	u.RawQuery = v.Encode()
	return u.String()
}

// token is the token endpoint (RFC 6749 §3.2) for the three grants.
func (o *OAuthServer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		o.fail(w, r, errInvalidRequest("malformed form body"))
		return
	}
	form := r.PostForm
	// Device polls are paced per code by slow_down, and refresh tokens are
	// unguessable, so neither counts against the per-IP bucket: many users
	// behind one NAT must not throttle each other's sign-ins and refreshes.
	if g := form.Get("grant_type"); g != GrantDeviceCode && g != GrantRefreshToken && !o.allow(w, r) {
		return
	}
	c, oerr := clientFrom(form.Get("client_id"))
	if form.Get("client_id") == "mobile" && form.Get("grant_type") == GrantRefreshToken {
		// The phone signs in with its identity provider but refreshes here.
		c, oerr = Clients["mobile"], nil
	}
	if oerr != nil {
		o.fail(w, r, oerr)
		return
	}
	var pair TokenPair
	var err error
	switch form.Get("grant_type") {
	case GrantDeviceCode:
		pair, err = o.exchangeDeviceCode(r.Context(), c, form.Get("device_code"))
	case GrantAuthorizationCode:
		pair, err = o.exchangeCode(r.Context(), c, form.Get("code"), form.Get("redirect_uri"), form.Get("code_verifier"))
	case GrantRefreshToken:
		pair, err = o.issuer.Refresh(r.Context(), form.Get("refresh_token"), c.ID)
		if errors.Is(err, ErrRefreshReused) {
			o.opts.Log.WarnContext(r.Context(), "security: refresh token reused; session revoked", slog.String("client_id", c.ID))
		}
		if errors.Is(err, ErrInvalidToken) {
			err = errInvalidGrant("the refresh token is invalid, expired, revoked or already used")
		}
	case "":
		err = errInvalidRequest("grant_type is required")
	default:
		err = &oauthError{http.StatusBadRequest, "unsupported_grant_type", "supported: authorization_code, refresh_token, device_code"}
	}
	if err != nil {
		o.fail(w, r, err)
		return
	}
	writeOAuthJSON(w, http.StatusOK, map[string]any{
		"access_token": pair.AccessToken, "token_type": pair.TokenType, "expires_in": pair.ExpiresIn,
		"refresh_token": pair.RefreshToken, "scope": pair.Scope,
	})
}

// exchangeDeviceCode answers one device-flow poll (RFC 8628 §3.4–3.5). The
// grant row is locked for the poll, so an approved grant mints tokens once.
func (o *OAuthServer) exchangeDeviceCode(ctx context.Context, c Client, deviceCode string) (TokenPair, error) {
	if deviceCode == "" {
		return TokenPair{}, errInvalidRequest("device_code is required")
	}
	var pair TokenPair
	var result error
	err := o.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		g, err := q.OAuthGrantLockByDeviceCode(ctx, hashToken(deviceCode))
		if errors.Is(store.MapError(err), store.ErrNotFound) {
			result = errInvalidGrant("unknown device_code")
			return nil
		}
		if err != nil {
			return err
		}
		now := o.opts.Now()
		if g.ClientID != c.ID {
			result = errInvalidGrant("device_code was issued to another client")
			return nil
		}
		if !now.Before(g.ExpiresAt) {
			result = &oauthError{http.StatusBadRequest, "expired_token", "the device code expired; start again"}
			return nil
		}
		interval := time.Duration(g.PollIntervalS) * time.Second
		if g.LastPolledAt != nil && now.Before(g.LastPolledAt.Add(interval)) {
			// Too fast: the interval grows by 5 s and the poll time stays,
			// so a client that honours slow_down is answered next time.
			result = &oauthError{http.StatusBadRequest, "slow_down", fmt.Sprintf("poll at most every %d seconds", g.PollIntervalS+5)}
			return q.OAuthGrantSetPoll(ctx, dbgen.OAuthGrantSetPollParams{ID: g.ID, PollIntervalS: g.PollIntervalS + 5, LastPolledAt: g.LastPolledAt})
		}
		if err := q.OAuthGrantSetPoll(ctx, dbgen.OAuthGrantSetPollParams{ID: g.ID, PollIntervalS: g.PollIntervalS, LastPolledAt: &now}); err != nil {
			return err
		}
		switch g.Status {
		case "pending":
			result = &oauthError{http.StatusBadRequest, "authorization_pending", "waiting for approval on the phone"}
			return nil
		case "denied":
			result = &oauthError{http.StatusBadRequest, "access_denied", "the sign-in was refused"}
			return nil
		case "consumed":
			result = errInvalidGrant("the device code was already used")
			return nil
		}
		pair, err = o.completeGrant(ctx, q, g)
		return err
	})
	if err != nil {
		return TokenPair{}, err
	}
	return pair, result
}

// exchangeCode redeems an authorization code with its PKCE verifier.
func (o *OAuthServer) exchangeCode(ctx context.Context, c Client, code, redirect, verifier string) (TokenPair, error) {
	if code == "" || !codeVerifierPattern.MatchString(verifier) {
		return TokenPair{}, errInvalidRequest("code and a valid code_verifier are required")
	}
	var pair TokenPair
	var result error
	err := o.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		g, err := q.OAuthGrantByAuthCode(ctx, hashToken(code))
		if errors.Is(store.MapError(err), store.ErrNotFound) {
			result = errInvalidGrant("unknown authorization code")
			return nil
		}
		if err != nil {
			return err
		}
		sum := sha256.Sum256([]byte(verifier))
		challenge := base64.RawURLEncoding.EncodeToString(sum[:])
		switch {
		case g.ClientID != c.ID:
			result = errInvalidGrant("the code was issued to another client")
		case g.RedirectUri != redirect:
			result = errInvalidGrant("redirect_uri does not match the authorization request")
		case subtle.ConstantTimeCompare([]byte(challenge), []byte(g.CodeChallenge)) != 1:
			o.opts.Log.WarnContext(ctx, "security: PKCE verifier mismatch", slog.String("client_id", c.ID))
			result = errInvalidGrant("code_verifier does not match the code_challenge")
		case g.Status != "approved" || !o.opts.Now().Before(g.ExpiresAt):
			result = errInvalidGrant("the code expired or was already used")
		}
		if result != nil {
			return nil
		}
		pair, err = o.completeGrant(ctx, q, g)
		return err
	})
	if err != nil {
		return TokenPair{}, err
	}
	return pair, result
}

// completeGrant consumes an approved grant and starts the session, in the
// caller's transaction: a grant yields tokens exactly once.
func (o *OAuthServer) completeGrant(ctx context.Context, q dbgen.Querier, g dbgen.OauthGrant) (TokenPair, error) {
	consumed, err := q.OAuthGrantConsume(ctx, dbgen.OAuthGrantConsumeParams{ID: g.ID, Now: o.opts.Now()})
	if errors.Is(store.MapError(err), store.ErrNotFound) {
		return TokenPair{}, errInvalidGrant("the grant was already used")
	}
	if err != nil {
		return TokenPair{}, fmt.Errorf("consume grant: %w", err)
	}
	scopes, err := ParseScopes(consumed.Scopes)
	if err != nil || consumed.UserID == nil {
		return TokenPair{}, fmt.Errorf("approved grant is incomplete")
	}
	return o.issuer.StartSessionTx(ctx, q, SessionParams{UserID: *consumed.UserID, Client: Clients[consumed.ClientID], Scopes: scopes})
}

// revoke is RFC 7009: a refresh or access token revokes its whole session.
// It answers 200 for unknown tokens too, so it reveals nothing.
func (o *OAuthServer) revoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		o.fail(w, r, errInvalidRequest("malformed form body"))
		return
	}
	clientID := r.PostForm.Get("client_id")
	if _, ok := Clients[clientID]; !ok {
		o.fail(w, r, errInvalidClient("unknown client_id"))
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		o.fail(w, r, errInvalidRequest("token is required"))
		return
	}
	ctx := r.Context()
	var session *uuid.UUID
	if row, err := o.store.RefreshTokenGet(ctx, hashToken(token)); err == nil {
		session = &row.SessionID
	} else if claims, err := o.issuer.Verify(ctx, token, time.Hour); err == nil {
		if id, err := uuid.Parse(claims.SessionID); err == nil {
			session = &id
		}
	}
	if session != nil {
		// Only the client a token was issued to may revoke it (RFC 7009
		// §2.1); others get the same 200, which reveals nothing.
		if s, err := o.store.SessionGet(ctx, *session); err != nil || s.ClientID != clientID {
			session = nil
		}
	}
	if session != nil {
		if _, err := o.store.SessionRevokeAny(ctx, dbgen.SessionRevokeAnyParams{ID: *session, Reason: "revoked_by_client"}); err != nil {
			o.fail(w, r, err)
			return
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// Decide records the phone's approval or denial of a pending sign-in by user
// code. It checks the grant against the approving user's rights (admin scope
// needs an admin account).
func (o *OAuthServer) Decide(ctx context.Context, userID uuid.UUID, userCode string, approve bool) (dbgen.OauthGrant, error) {
	code := normalizeUserCode(userCode)
	var decided dbgen.OauthGrant
	err := o.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		g, err := q.OAuthGrantByUserCode(ctx, code)
		if err != nil {
			return store.MapError(err)
		}
		if g.Status != "pending" || !o.opts.Now().Before(g.ExpiresAt) {
			return store.ErrNotFound // decided or expired: indistinguishable from unknown
		}
		if approve {
			user, err := q.UserGetByID(ctx, userID)
			if err != nil {
				return store.MapError(err)
			}
			scopes, err := ParseScopes(g.Scopes)
			if err != nil {
				return err
			}
			if err := CheckGrant(Clients[g.ClientID], scopes, user.IsAdmin); err != nil {
				return fmt.Errorf("%w: %w", ErrGrantNotAllowed, err)
			}
		}
		status := "denied"
		if approve {
			status = "approved"
		}
		decided, err = q.OAuthGrantDecide(ctx, dbgen.OAuthGrantDecideParams{Status: status, UserID: &userID, UserCode: code, Now: o.opts.Now()})
		return store.MapError(err)
	})
	return decided, err
}

// Pending returns a pending, unexpired sign-in by user code.
func (o *OAuthServer) Pending(ctx context.Context, userCode string) (dbgen.OauthGrant, error) {
	g, err := o.store.OAuthGrantByUserCode(ctx, normalizeUserCode(userCode))
	if err != nil {
		return dbgen.OauthGrant{}, store.MapError(err)
	}
	if g.Status != "pending" || !o.opts.Now().Before(g.ExpiresAt) {
		return dbgen.OauthGrant{}, store.ErrNotFound
	}
	return g, nil
}

// ErrGrantNotAllowed means the approving user may not grant what was asked.
var ErrGrantNotAllowed = errors.New("sign-in not allowed")

// userCodeAlphabet has no vowels (no words) and no look-alikes (RFC 8628 §6.1).
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

func newUserCode() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	out := make([]byte, 8)
	for i, v := range b {
		out[i] = userCodeAlphabet[int(v)%len(userCodeAlphabet)]
	}
	return string(out)
}

func formatUserCode(code string) string {
	if len(code) != 8 {
		return code
	}
	return code[:4] + "-" + code[4:]
}

func normalizeUserCode(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// CleanupArgs is the periodic River job deleting expired sign-in requests,
// spent ID-token records, login links and refresh tokens, so these tables
// stay bounded.
type CleanupArgs struct{}

// Kind implements river.JobArgs.
func (CleanupArgs) Kind() string { return "auth.cleanup" }

// CleanupWorker works CleanupArgs.
type CleanupWorker struct {
	river.WorkerDefaults[CleanupArgs]
	Store *store.Store
	Now   func() time.Time
	Log   *slog.Logger
}

// Work implements river.Worker. Rows are kept a day past expiry, for audit.
func (w *CleanupWorker) Work(ctx context.Context, _ *river.Job[CleanupArgs]) error {
	before := w.Now().Add(-24 * time.Hour)
	var total int64
	for _, del := range []func(context.Context, time.Time) (int64, error){
		w.Store.OAuthGrantDeleteExpired, w.Store.IDTokenUseDeleteExpired, w.Store.LoginLinkDeleteExpired, w.Store.RefreshTokenDeleteExpired,
	} {
		n, err := del(ctx, before)
		if err != nil {
			return fmt.Errorf("auth cleanup: %w", err)
		}
		total += n
	}
	if total > 0 {
		w.Log.InfoContext(ctx, "expired sign-in records deleted", slog.Int64("count", total))
	}
	return nil
}
