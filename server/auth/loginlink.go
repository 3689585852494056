package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// Mailer sends account email (login links). Production deployments plug in
// their mail service; the default logs instead of sending.
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// LogMailer "sends" mail by logging it, for development. With Reveal false
// only the recipient and subject are logged, never the body (which carries a
// credential).
type LogMailer struct {
	Log    *slog.Logger
	Reveal bool
}

// Send implements Mailer.
func (m LogMailer) Send(ctx context.Context, to, subject, body string) error {
	attrs := []any{slog.String("subject", subject)}
	if m.Reveal {
		attrs = append(attrs, slog.String("to", to), slog.String("body", body))
	} else {
		m.Log.WarnContext(ctx, "no mailer configured: a login link was created but not delivered; use `hivesyncd admin login-link` on the server")
	}
	m.Log.InfoContext(ctx, "mail", attrs...)
	return nil
}

// LoginLinkPath is where a login link is redeemed.
const LoginLinkPath = "/auth/login-link"

// LoginLinks are one-time, short-lived sign-in links for account recovery.
type LoginLinks struct {
	store   *store.Store
	issuer  *Issuer
	mailer  Mailer
	baseURL func() string
	ttl     time.Duration
	now     func() time.Time
}

// NewLoginLinks returns the service.
func NewLoginLinks(st *store.Store, issuer *Issuer, mailer Mailer, baseURL func() string, ttl time.Duration, now func() time.Time) *LoginLinks {
	return &LoginLinks{store: st, issuer: issuer, mailer: mailer, baseURL: baseURL, ttl: ttl, now: now}
}

// Create replaces the user's login link with a new one, mails it, audits it
// and returns it (for the operator command; the RPC never returns it).
func (l *LoginLinks) Create(ctx context.Context, userID uuid.UUID, actor *uuid.UUID) (link string, user dbgen.User, expires time.Time, err error) {
	token := randomToken()
	expires = l.now().Add(l.ttl)
	link = strings.TrimRight(l.baseURL(), "/") + LoginLinkPath + "#token=" + token
	// The mail is sent inside the transaction: if it cannot be sent, the old
	// link keeps working and nothing is recorded.
	err = l.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		if user, err = q.UserGetByID(ctx, userID); err != nil {
			return store.MapError(err)
		}
		if err := q.LoginLinkReplace(ctx, dbgen.LoginLinkReplaceParams{UserID: userID, TokenHash: hashToken(token), ExpiresAt: expires}); err != nil {
			return err
		}
		if err := Audit(ctx, q, actor, "user.login_link_created", &userID, map[string]any{"expires_at": expires.UTC()}); err != nil {
			return err
		}
		body := fmt.Sprintf("Sign in to HiveSync with this one-time link (valid until %s UTC):\n\n%s\n\nIf you did not ask for it, ignore this email.", expires.UTC().Format(time.RFC1123), link)
		if err := l.mailer.Send(ctx, user.Email, "Your HiveSync sign-in link", body); err != nil {
			return fmt.Errorf("send login link: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", dbgen.User{}, time.Time{}, err
	}
	return link, user, expires, nil
}

// Redeem is POST /auth/login-link {token}: it spends the link and returns an
// OAuth token response for the admin client (admins) or the desktop client.
func (l *LoginLinks) Redeem(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" {
		writeOAuthJSON(w, http.StatusBadRequest, errInvalidRequest("token is required"))
		return
	}
	ctx := r.Context()
	var pair TokenPair
	err := l.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		userID, err := q.LoginLinkUse(ctx, dbgen.LoginLinkUseParams{TokenHash: hashToken(r.PostForm.Get("token")), Now: l.now()})
		if err != nil {
			return store.MapError(err)
		}
		user, err := q.UserGetByID(ctx, userID)
		if err != nil {
			return err
		}
		if user.DisabledAt != nil {
			return ErrAccountDisabled
		}
		client := Clients["desktop"]
		if user.IsAdmin {
			client = Clients["admin"]
		}
		if err := Audit(ctx, q, &userID, "user.login_link_used", &userID, map[string]any{"client_id": client.ID}); err != nil {
			return err
		}
		pair, err = l.issuer.StartSessionTx(ctx, q, SessionParams{UserID: userID, Client: client, Scopes: client.Scopes})
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeOAuthJSON(w, http.StatusBadRequest, errInvalidGrant("the link is unknown, expired or already used"))
	case errors.Is(err, ErrAccountDisabled):
		writeOAuthJSON(w, http.StatusForbidden, &oauthError{Code: "access_denied", Description: "this account is disabled"})
	case err != nil:
		writeOAuthJSON(w, http.StatusInternalServerError, &oauthError{Code: "server_error", Description: "try again later"})
	default:
		writeOAuthJSON(w, http.StatusOK, map[string]any{
			"access_token": pair.AccessToken, "token_type": pair.TokenType, "expires_in": pair.ExpiresIn,
			"refresh_token": pair.RefreshToken, "scope": pair.Scope,
		})
	}
}

// Page is GET /auth/login-link: the link a person clicks. The token travels
// in the URL fragment (never sent to servers or logs); the page posts it and
// shows the session's refresh token for the admin or desktop app to use.
func (l *LoginLinks) Page(w http.ResponseWriter, _ *http.Request) {
	nonce := randomToken()
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; connect-src 'self'; script-src 'nonce-"+nonce+"'")
	_, _ = fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>HiveSync sign-in</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}code{word-break:break-all}</style></head>
<body><h1>HiveSync sign-in</h1><p id="s">Signing in…</p><p><code id="t"></code></p>
<script nonce="%s">
var m=location.hash.match(/token=([A-Za-z0-9_-]+)/);history.replaceState(null,"",location.pathname);
if(!m){document.getElementById("s").textContent="This link is incomplete.";}else{
fetch(%q,{method:"POST",headers:{"Content-Type":"application/x-www-form-urlencoded"},body:"token="+m[1]})
.then(function(r){return r.json()}).then(function(j){
 if(j.refresh_token){document.getElementById("s").textContent="Signed in. Paste this refresh token into your HiveSync app (it works once):";document.getElementById("t").textContent=j.refresh_token;}
 else{document.getElementById("s").textContent=j.error_description||"This link is no longer valid.";}})
.catch(function(){document.getElementById("s").textContent="Something went wrong; try again.";});}
</script></body></html>`, nonce, LoginLinkPath)
}
