package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// ErrInvalidToken is wrapped by every token verification failure.
var ErrInvalidToken = errors.New("invalid token")

// ErrRefreshReused means a refresh token was presented after it had been
// rotated: it was probably stolen, so its whole session was revoked.
var ErrRefreshReused = errors.New("refresh token reused; the session was revoked")

// Audience is the aud claim of every HiveSync access token.
const Audience = "hivesync-api"

// Claims are the claims of a HiveSync access token.
type Claims struct {
	jwt.Claims
	// Scope is the space-separated list of scope names.
	Scope string `json:"scope"`
	// ClientID is the registered client the token was issued to.
	ClientID string `json:"client_id"`
	// ClientType is that client's type ("vscode", "cli", "mobile", …).
	ClientType string `json:"client_type"`
	// SessionID is the session (refresh-token family).
	SessionID string `json:"sid"`
}

// TokenPair is what a sign-in or a refresh returns.
type TokenPair struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	TokenType    string    `json:"token_type"`
	ExpiresIn    int64     `json:"expires_in"`
	ExpiresAt    time.Time `json:"expires_at"`
	Scope        string    `json:"scope"`
	SessionID    string    `json:"session_id"`
	UserID       string    `json:"user_id"`
}

// IssuerOptions configure token lifetimes.
type IssuerOptions struct {
	// Issuer is the iss claim: the server's public URL.
	Issuer string
	// AccessTTL is the access-token lifetime (short).
	AccessTTL time.Duration
	// RefreshTTL is the refresh-token lifetime.
	RefreshTTL time.Duration
	// Now is the clock.
	Now func() time.Time
	// ReuseGrace is how soon after a rotation the rotated token may be
	// presented again without counting as reuse: a client retrying a refresh
	// whose answer was lost, or two windows refreshing at once. Such a retry
	// gets its own new pair (as Auth0's reuse interval and Okta's grace period
	// do); after the grace, presenting it revokes the session. Zero disables it.
	ReuseGrace time.Duration
}

// Issuer mints access and refresh tokens.
type Issuer struct {
	opts  IssuerOptions
	keys  *KeyRing
	store *store.Store
}

// NewIssuer returns an issuer signing with keys.
func NewIssuer(st *store.Store, keys *KeyRing, opts IssuerOptions) *Issuer {
	return &Issuer{opts: opts, keys: keys, store: st}
}

// SessionParams describe a new sign-in.
type SessionParams struct {
	UserID   uuid.UUID
	Client   Client
	Scopes   []hivesyncv1.Scope
	DeviceID *uuid.UUID
}

// StartSession creates a session (a new refresh-token family) and returns its
// first token pair. The scopes must already be checked with CheckGrant.
func (i *Issuer) StartSession(ctx context.Context, p SessionParams) (TokenPair, error) {
	var pair TokenPair
	err := i.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		var err error
		pair, err = i.StartSessionTx(ctx, q, p)
		return err
	})
	return pair, err
}

// StartSessionTx is StartSession inside the caller's transaction, so a grant
// can be consumed and its session created atomically.
func (i *Issuer) StartSessionTx(ctx context.Context, q dbgen.Querier, p SessionParams) (TokenPair, error) {
	session, err := q.SessionInsert(ctx, dbgen.SessionInsertParams{
		ID: uuid.New(), UserID: p.UserID, DeviceID: p.DeviceID, ClientID: p.Client.ID,
		ClientType: int16(p.Client.Type), Scopes: ScopeNames(p.Scopes),
	})
	if err != nil {
		return TokenPair{}, fmt.Errorf("create session: %w", err)
	}
	return i.issue(ctx, q, session)
}

// Refresh exchanges a refresh token for a new pair. Each refresh token works
// once: presenting it again revokes the whole session (reuse detection), and
// of two concurrent refreshes with the same token exactly one succeeds.
//
// clientID, when not empty, must be the client the session was issued to;
// otherwise nothing is rotated.
func (i *Issuer) Refresh(ctx context.Context, refreshToken, clientID string) (TokenPair, error) {
	hash := hashToken(refreshToken)
	var pair TokenPair
	var reused *uuid.UUID
	err := i.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		if clientID != "" {
			row, gerr := q.RefreshTokenGet(ctx, hash)
			if gerr == nil {
				session, serr := q.SessionGet(ctx, row.SessionID)
				if serr == nil && session.ClientID != clientID {
					return fmt.Errorf("%w: refresh token was issued to another client", ErrInvalidToken)
				}
			}
		}
		sessionID, err := q.RefreshTokenRotate(ctx, hash)
		if errors.Is(err, pgx.ErrNoRows) {
			row, gerr := q.RefreshTokenGet(ctx, hash)
			if gerr != nil && !errors.Is(gerr, pgx.ErrNoRows) {
				return fmt.Errorf("look up refresh token: %w", gerr) // not a verdict on the token
			}
			if gerr == nil && row.RotatedAt != nil && row.SessionRevokedAt == nil &&
				i.opts.ReuseGrace > 0 && i.opts.Now().Sub(*row.RotatedAt) <= i.opts.ReuseGrace {
				// A retry inside the grace: answer again.
				session, err := q.SessionGet(ctx, row.SessionID)
				if err != nil {
					return err
				}
				pair, err = i.issue(ctx, q, session)
				return err
			}
			if gerr == nil && row.RotatedAt != nil {
				reused = &row.SessionID
			}
			return fmt.Errorf("%w: unknown, expired or used refresh token", ErrInvalidToken)
		}
		if err != nil {
			return fmt.Errorf("rotate refresh token: %w", err)
		}
		session, err := q.SessionGet(ctx, sessionID)
		if err != nil {
			return fmt.Errorf("load session: %w", err)
		}
		if session.RevokedAt != nil {
			return fmt.Errorf("%w: session revoked", ErrInvalidToken)
		}
		pair, err = i.issue(ctx, q, session)
		return err
	})
	if reused != nil {
		// Outside the failed transaction, so the revocation sticks.
		if _, rerr := i.store.SessionRevokeAny(ctx, dbgen.SessionRevokeAnyParams{ID: *reused, Reason: "refresh_token_reused"}); rerr != nil {
			return TokenPair{}, fmt.Errorf("revoke session after refresh reuse: %w", rerr)
		}
		return TokenPair{}, fmt.Errorf("%w: %w", ErrInvalidToken, ErrRefreshReused)
	}
	return pair, err
}

// issue mints an access token and a fresh refresh token for session.
func (i *Issuer) issue(ctx context.Context, q dbgen.Querier, session dbgen.Session) (TokenPair, error) {
	now := i.opts.Now()
	refresh := randomToken()
	if err := q.RefreshTokenInsert(ctx, dbgen.RefreshTokenInsertParams{
		TokenHash: hashToken(refresh), SessionID: session.ID, ExpiresAt: now.Add(i.opts.RefreshTTL),
	}); err != nil {
		return TokenPair{}, fmt.Errorf("store refresh token: %w", err)
	}
	if err := q.SessionTouch(ctx, session.ID); err != nil {
		return TokenPair{}, fmt.Errorf("touch session: %w", err)
	}
	access, exp, err := i.mintAccess(ctx, session)
	if err != nil {
		return TokenPair{}, err
	}
	return TokenPair{
		AccessToken: access, RefreshToken: refresh, TokenType: "Bearer",
		ExpiresIn: int64(exp.Sub(now).Seconds()), ExpiresAt: exp.UTC(),
		Scope: strings.Join(session.Scopes, " "), SessionID: session.ID.String(), UserID: session.UserID.String(),
	}, nil
}

func (i *Issuer) mintAccess(ctx context.Context, session dbgen.Session) (string, time.Time, error) {
	key, err := i.keys.active(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: signingAlgorithm, Key: key.private},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader(jose.HeaderKey("kid"), key.kid))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("create signer: %w", err)
	}
	now := i.opts.Now()
	exp := now.Add(i.opts.AccessTTL)
	client := clientByID(session.ClientID)
	claims := Claims{
		Claims: jwt.Claims{
			Issuer: i.opts.Issuer, Subject: session.UserID.String(), Audience: jwt.Audience{Audience},
			Expiry: jwt.NewNumericDate(exp), NotBefore: jwt.NewNumericDate(now), IssuedAt: jwt.NewNumericDate(now),
			ID: uuid.NewString(),
		},
		Scope: strings.Join(session.Scopes, " "), ClientID: client.ID, SessionID: session.ID.String(),
		ClientType: ClientTypeName(hivesyncv1.ClientType(session.ClientType)),
	}
	token, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign access token: %w", err)
	}
	return token, exp, nil
}

func clientByID(id string) Client {
	if c, ok := Clients[id]; ok {
		return c
	}
	return Client{ID: id}
}

// Verify checks an access token's signature, issuer, audience and lifetime
// (with leeway for clock skew) and returns its claims.
func (i *Issuer) Verify(ctx context.Context, token string, leeway time.Duration) (*Claims, error) {
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{signingAlgorithm})
	if err != nil {
		return nil, fmt.Errorf("%w: malformed", ErrInvalidToken)
	}
	if len(parsed.Headers) != 1 || parsed.Headers[0].KeyID == "" {
		return nil, fmt.Errorf("%w: no key id", ErrInvalidToken)
	}
	pub, err := i.keys.publicKey(ctx, parsed.Headers[0].KeyID)
	if err != nil {
		return nil, err
	}
	var claims Claims
	if err := parsed.Claims(pub, &claims); err != nil {
		return nil, fmt.Errorf("%w: bad signature", ErrInvalidToken)
	}
	expected := jwt.Expected{Issuer: i.opts.Issuer, AnyAudience: jwt.Audience{Audience}, Time: i.opts.Now()}
	if err := claims.ValidateWithLeeway(expected, leeway); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if claims.Expiry == nil || claims.Subject == "" || claims.SessionID == "" {
		return nil, fmt.Errorf("%w: missing claims", ErrInvalidToken)
	}
	return &claims, nil
}

// TokenScopes parses the scope claim.
func (c *Claims) TokenScopes() ([]hivesyncv1.Scope, error) {
	return ParseScopes(strings.Fields(c.Scope))
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// subset reports whether every scope in a is in b.
func subset(a, b []hivesyncv1.Scope) bool {
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}

// ClientTypeName is the wire name of a client type in tokens: "vscode", "cli"…
func ClientTypeName(ct hivesyncv1.ClientType) string {
	return strings.ToLower(strings.TrimPrefix(ct.String(), "CLIENT_TYPE_"))
}
