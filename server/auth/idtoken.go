package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// IdentityProvider configures an OIDC identity provider the mobile app signs
// in with.
type IdentityProvider struct {
	// Name is how the app names it ("apple", "google", "dev").
	Name string
	// Issuer is its OIDC issuer URL; keys are found through its discovery
	// document.
	Issuer string
	// ClientIDs are the audiences accepted (the app's client ids at the provider).
	ClientIDs []string
}

// ParseIdentityProviders reads HIVESYNC_OIDC_PROVIDERS:
// "name=issuer|client_id[,client_id…];name=…".
func ParseIdentityProviders(s string) ([]IdentityProvider, error) {
	var out []IdentityProvider
	for _, item := range strings.Split(s, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, rest, ok1 := strings.Cut(item, "=")
		issuer, clients, ok2 := strings.Cut(rest, "|")
		if !ok1 || !ok2 || name == "" || !strings.HasPrefix(issuer, "http") || clients == "" {
			return nil, fmt.Errorf("provider %q: want name=issuer|client_id[,client_id]", item)
		}
		p := IdentityProvider{Name: strings.TrimSpace(name), Issuer: strings.TrimSpace(issuer)}
		for _, c := range strings.Split(clients, ",") {
			if c = strings.TrimSpace(c); c != "" {
				p.ClientIDs = append(p.ClientIDs, c)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// compactJWS is the only serialization accepted for ID tokens.
var compactJWS = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)

// ErrIDTokenRejected wraps every reason an ID token is refused.
var ErrIDTokenRejected = errors.New("identity token rejected")

// ErrAccountDisabled means an administrator disabled the account.
var ErrAccountDisabled = errors.New("account disabled")

// IDTokenSignIn verifies provider ID tokens (with coreos/go-oidc) and turns
// them into HiveSync sessions of the mobile client.
type IDTokenSignIn struct {
	store     *store.Store
	issuer    *Issuer
	providers func() []IdentityProvider
	now       func() time.Time

	mu        sync.Mutex
	verifiers map[string]*oidc.IDTokenVerifier
}

// NewIDTokenSignIn returns the sign-in. providers is called on use, so a
// provider whose URL is known only once the server listens (dev) works.
func NewIDTokenSignIn(st *store.Store, issuer *Issuer, providers func() []IdentityProvider, now func() time.Time) *IDTokenSignIn {
	return &IDTokenSignIn{store: st, issuer: issuer, providers: providers, now: now, verifiers: map[string]*oidc.IDTokenVerifier{}}
}

// Providers lists the configured providers.
func (s *IDTokenSignIn) Providers() []IdentityProvider { return s.providers() }

func (s *IDTokenSignIn) verifier(ctx context.Context, name string) (*oidc.IDTokenVerifier, IdentityProvider, error) {
	i := slices.IndexFunc(s.providers(), func(p IdentityProvider) bool { return p.Name == name })
	if i < 0 {
		return nil, IdentityProvider{}, fmt.Errorf("%w: unknown provider %q", ErrIDTokenRejected, name)
	}
	p := s.providers()[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.verifiers[p.Issuer]; ok {
		return v, p, nil
	}
	// Discovery and keys are fetched on first use and cached; key rotation at
	// the provider is followed by go-oidc's remote key set.
	// The context outlives this request: go-oidc keeps it for key refreshes.
	base := oidc.ClientContext(context.WithoutCancel(ctx), &http.Client{Timeout: 10 * time.Second})
	provider, err := oidc.NewProvider(base, p.Issuer)
	if err != nil {
		return nil, p, fmt.Errorf("discover identity provider %s: %w", p.Name, err)
	}
	v := provider.Verifier(&oidc.Config{
		SkipClientIDCheck:    true, // checked against every accepted client id below
		SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256, oidc.PS256, oidc.EdDSA},
		Now:                  s.now,
	})
	s.verifiers[p.Issuer] = v
	return v, p, nil
}

// SignInResult is a new mobile session.
type SignInResult struct {
	Pair    TokenPair
	User    dbgen.User
	NewUser bool
}

// SignIn verifies rawIDToken from provider and starts a mobile session.
func (s *IDTokenSignIn) SignIn(ctx context.Context, provider, rawIDToken, nonce, displayName string) (SignInResult, error) {
	if nonce == "" {
		return SignInResult{}, fmt.Errorf("%w: a nonce is required", ErrIDTokenRejected)
	}
	if !compactJWS.MatchString(rawIDToken) {
		return SignInResult{}, fmt.Errorf("%w: not a compact JWS", ErrIDTokenRejected)
	}
	v, p, err := s.verifier(ctx, provider)
	if err != nil {
		return SignInResult{}, err
	}
	tok, err := v.Verify(ctx, rawIDToken)
	if err != nil {
		return SignInResult{}, fmt.Errorf("%w: %w", ErrIDTokenRejected, err)
	}
	if !slices.ContainsFunc(tok.Audience, func(a string) bool { return slices.Contains(p.ClientIDs, a) }) {
		return SignInResult{}, fmt.Errorf("%w: audience is not a HiveSync app", ErrIDTokenRejected)
	}
	if tok.Nonce != nonce {
		return SignInResult{}, fmt.Errorf("%w: nonce mismatch", ErrIDTokenRejected)
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified any    `json:"email_verified"`
		Name          string `json:"name"`
		JTI           string `json:"jti"`
		// A verified phone number lets Live View creators invite the
		// account by phone (spec §4).
		PhoneNumber         string `json:"phone_number"`
		PhoneNumberVerified any    `json:"phone_number_verified"`
	}
	if err := tok.Claims(&claims); err != nil {
		return SignInResult{}, fmt.Errorf("%w: claims: %w", ErrIDTokenRejected, err)
	}
	if !strings.Contains(claims.Email, "@") || !verified(claims.EmailVerified) {
		return SignInResult{}, fmt.Errorf("%w: the token carries no verified email", ErrIDTokenRejected)
	}
	name := claims.Name
	if name == "" {
		name = strings.TrimSpace(displayName)
	}
	var res SignInResult
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		// The replay key comes from the verified claims, so re-encodings of
		// one token (whitespace, base64 padding bits) are the same use.
		useKey := strings.Join([]string{tok.Issuer, tok.Subject, tok.IssuedAt.UTC().Format(time.RFC3339Nano), tok.Expiry.UTC().Format(time.RFC3339Nano),
			tok.Nonce, claims.JTI, strings.Join(tok.Audience, ",")}, "\x00")
		n, err := q.IDTokenUseInsert(ctx, dbgen.IDTokenUseInsertParams{TokenHash: hashToken(useKey), ExpiresAt: tok.Expiry})
		if err != nil {
			return fmt.Errorf("record id token use: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("%w: this ID token was already used", ErrIDTokenRejected)
		}
		user, isNew, err := s.account(ctx, q, p.Name, tok.Subject, claims.Email, name)
		if err != nil {
			return err
		}
		if user.DisabledAt != nil {
			return ErrAccountDisabled
		}
		if phone, ok := NormalizePhone(claims.PhoneNumber); ok && verified(claims.PhoneNumberVerified) {
			if err := q.UserPhoneClear(ctx, dbgen.UserPhoneClearParams{Phone: phone, ID: user.ID}); err != nil {
				return fmt.Errorf("release phone number: %w", err)
			}
			if err := q.UserPhoneSet(ctx, dbgen.UserPhoneSetParams{Phone: phone, ID: user.ID}); err != nil {
				return fmt.Errorf("record phone number: %w", err)
			}
		}
		mobile := Clients["mobile"]
		pair, err := s.issuer.StartSessionTx(ctx, q, SessionParams{UserID: user.ID, Client: mobile, Scopes: mobile.DefaultScopes()})
		res = SignInResult{Pair: pair, User: user, NewUser: isNew}
		return err
	})
	return res, err
}

// account finds the user of (provider, subject), or links the verified email's
// account (creating it) to that subject.
func (s *IDTokenSignIn) account(ctx context.Context, q dbgen.Querier, provider, subject, email, name string) (dbgen.User, bool, error) {
	identity, err := q.IdentityGet(ctx, dbgen.IdentityGetParams{Provider: provider, Subject: subject})
	if err == nil {
		u, err := q.UserGetByID(ctx, identity.UserID)
		return u, false, err
	}
	if !errors.Is(store.MapError(err), store.ErrNotFound) {
		return dbgen.User{}, false, err
	}
	row, err := q.UserInsert(ctx, dbgen.UserInsertParams{ID: uuid.New(), Email: email, DisplayName: name})
	if err != nil {
		return dbgen.User{}, false, fmt.Errorf("create account: %w", err)
	}
	if !row.Inserted {
		// An account with this email exists. It is linked to this identity
		// only if no identity owns it yet (an account an operator created);
		// otherwise another provider asserting the same email (a lapsed
		// domain, say) could take it over.
		n, err := q.IdentityCountForUser(ctx, row.ID)
		if err != nil {
			return dbgen.User{}, false, err
		}
		if n > 0 {
			return dbgen.User{}, false, fmt.Errorf("%w: this email belongs to an account that signs in with another identity", ErrIDTokenRejected)
		}
	}
	if err := q.IdentityInsert(ctx, dbgen.IdentityInsertParams{Provider: provider, Subject: subject, UserID: row.ID, Email: email}); err != nil {
		return dbgen.User{}, false, fmt.Errorf("link identity: %w", err)
	}
	u := dbgen.User{ID: row.ID, Email: row.Email, EmailNormalized: row.EmailNormalized, DisplayName: row.DisplayName,
		IsAdmin: row.IsAdmin, DisabledAt: row.DisabledAt, CreatedAt: row.CreatedAt}
	return u, row.Inserted, nil
}

// verified accepts email_verified as a boolean or the string "true" (Apple).
func verified(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return x == "true"
	case nil:
		return false
	}
	return false
}
