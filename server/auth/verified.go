package auth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/go-jose/go-jose/v4/jwt"
)

// maxVerifiedTokens bounds the verified-token cache (a few hundred bytes an
// entry): far more than the live tokens of the clients one node serves.
const maxVerifiedTokens = 1 << 14

// verifiedTokens remembers, by SHA-256 of the token, the claims of access
// tokens whose ES256 signature already verified, so a client's calls do not
// each repeat the signature check (about a fifth of the CPU of a small save).
// It only stands in for the signature: the token's times are still checked on
// every call, and Authenticate still checks the session, user and device in
// the database on every call, so revocation takes effect at once. A token
// verifies the same way until it expires, as a signing key stays published
// until every token it signed has expired (KeyRing), so an entry is dropped
// once its token has expired.
type verifiedTokens struct {
	mu     sync.Mutex
	claims map[[sha256.Size]byte]*Claims
}

// verify is Issuer.Verify, with the signature check done once per token.
func (a *Authenticator) verify(ctx context.Context, token string) (*Claims, error) {
	key := sha256.Sum256([]byte(token))
	a.verified.mu.Lock()
	claims, ok := a.verified.claims[key]
	a.verified.mu.Unlock()
	if ok {
		if err := a.validate(claims); err != nil {
			a.verified.mu.Lock()
			delete(a.verified.claims, key)
			a.verified.mu.Unlock()
			return nil, err
		}
		return claims, nil
	}
	claims, err := a.issuer.Verify(ctx, token, a.leeway)
	if err != nil {
		return nil, err
	}
	a.verified.mu.Lock()
	defer a.verified.mu.Unlock()
	if a.verified.claims == nil {
		a.verified.claims = make(map[[sha256.Size]byte]*Claims)
	}
	if len(a.verified.claims) >= maxVerifiedTokens {
		a.evictVerified()
	}
	a.verified.claims[key] = claims
	return claims, nil
}

// validate checks the claims of a token verified earlier as Issuer.Verify
// does, at the issuer's current time.
func (a *Authenticator) validate(claims *Claims) error {
	expected := jwt.Expected{Issuer: a.issuer.opts.Issuer, AnyAudience: jwt.Audience{Audience}, Time: a.issuer.opts.Now()}
	if err := claims.ValidateWithLeeway(expected, a.leeway); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return nil
}

// evictVerified makes room in the full cache: expired tokens go first, then
// (if they were few) an arbitrary half, map order being random.
func (a *Authenticator) evictVerified() {
	for key, claims := range a.verified.claims {
		if a.validate(claims) != nil {
			delete(a.verified.claims, key)
		}
	}
	for key := range a.verified.claims {
		if len(a.verified.claims) < maxVerifiedTokens/2 {
			return
		}
		delete(a.verified.claims, key)
	}
}
