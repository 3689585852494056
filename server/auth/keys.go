package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// keyLockID serializes key creation across nodes.
const keyLockID = 0x48535f4b455953 // "HS_KEYS"

// signingAlgorithm is ES256: universally supported by JWT verifiers.
const signingAlgorithm = jose.ES256

// KeyRing holds the keys that sign access tokens, backed by the signing_keys
// table so every node signs with and accepts the same keys. One key signs at a
// time; retired keys stay published until every token they signed expired.
type KeyRing struct {
	store *store.Store
	now   func() time.Time
	// keep is how long a retired key stays published: the access-token
	// lifetime plus the clock-skew grace.
	keep time.Duration

	mu       sync.Mutex
	keys     []signingKey // newest first
	loadedAt time.Time
}

type signingKey struct {
	kid         string
	private     *ecdsa.PrivateKey
	activatedAt time.Time
	retiredAt   *time.Time
}

// NewKeyRing returns a key ring; keys are loaded (and the first one created)
// on first use.
func NewKeyRing(st *store.Store, now func() time.Time, keep time.Duration) *KeyRing {
	return &KeyRing{store: st, now: now, keep: keep}
}

// reloadEvery bounds how stale a node's view of the keys can be.
const reloadEvery = time.Minute

func (k *KeyRing) load(ctx context.Context, force bool) ([]signingKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !force && len(k.keys) > 0 && k.now().Sub(k.loadedAt) < reloadEvery {
		return k.keys, nil
	}
	rows, err := k.store.SigningKeyListPublished(ctx, k.now())
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	keys := make([]signingKey, 0, len(rows))
	for _, r := range rows {
		key, err := x509.ParsePKCS8PrivateKey(r.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("parse signing key %s: %w", r.Kid, err)
		}
		ec, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("signing key %s is not ECDSA", r.Kid)
		}
		keys = append(keys, signingKey{kid: r.Kid, private: ec, activatedAt: r.ActivatedAt, retiredAt: r.RetiredAt})
	}
	k.keys, k.loadedAt = keys, k.now()
	return keys, nil
}

// active returns the key that signs now, creating the first key if there is none.
func (k *KeyRing) active(ctx context.Context) (signingKey, error) {
	keys, err := k.load(ctx, false)
	if err != nil {
		return signingKey{}, err
	}
	for _, key := range keys {
		if key.retiredAt == nil {
			return key, nil
		}
	}
	if err := k.create(ctx, false); err != nil {
		return signingKey{}, err
	}
	keys, err = k.load(ctx, true)
	if err != nil {
		return signingKey{}, err
	}
	for _, key := range keys {
		if key.retiredAt == nil {
			return key, nil
		}
	}
	return signingKey{}, errors.New("no active signing key after creating one")
}

// Rotate creates a new signing key and retires the others. Tokens signed by a
// retired key keep verifying until they expire; then the key is dropped.
func (k *KeyRing) Rotate(ctx context.Context) error {
	if err := k.create(ctx, true); err != nil {
		return err
	}
	_, err := k.load(ctx, true)
	return err
}

// create makes a key. Unless rotating, it does nothing when an active key
// already exists (another node may have just made one).
func (k *KeyRing) create(ctx context.Context, rotate bool) error {
	return k.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		if err := q.AdvisoryXactLock(ctx, keyLockID); err != nil {
			return fmt.Errorf("lock signing keys: %w", err)
		}
		now := k.now()
		if !rotate {
			rows, err := q.SigningKeyListPublished(ctx, now)
			if err != nil {
				return fmt.Errorf("list signing keys: %w", err)
			}
			for _, r := range rows {
				if r.RetiredAt == nil {
					return nil
				}
			}
		}
		private, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return fmt.Errorf("generate signing key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(private)
		if err != nil {
			return fmt.Errorf("encode signing key: %w", err)
		}
		kid := keyID(&private.PublicKey)
		if err := q.SigningKeyInsert(ctx, dbgen.SigningKeyInsertParams{Kid: kid, Algorithm: string(signingAlgorithm), PrivateKey: der, ActivatedAt: now}); err != nil {
			return fmt.Errorf("store signing key: %w", err)
		}
		expires := now.Add(k.keep)
		return q.SigningKeyRetireOthers(ctx, dbgen.SigningKeyRetireOthersParams{Now: now, ExpiresAt: expires, Kid: kid})
	})
}

// publicKey finds a published key by kid, reloading once for a kid this node
// has not seen (another node may have rotated).
func (k *KeyRing) publicKey(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	for _, force := range []bool{false, true} {
		keys, err := k.load(ctx, force)
		if err != nil {
			return nil, err
		}
		for _, key := range keys {
			if key.kid == kid {
				return &key.private.PublicKey, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: unknown key id", ErrInvalidToken)
}

// JWKS is the public key set served at /.well-known/jwks.json.
func (k *KeyRing) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	if _, err := k.active(ctx); err != nil {
		return jose.JSONWebKeySet{}, err
	}
	keys, err := k.load(ctx, false)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	set := jose.JSONWebKeySet{}
	for _, key := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &key.private.PublicKey, KeyID: key.kid, Algorithm: string(signingAlgorithm), Use: "sig"})
	}
	return set, nil
}

// keyID is the RFC 7638-style thumbprint of a public key, base64url.
func keyID(pub *ecdsa.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// RotateIfOlderThan rotates when the signing key has signed for maxAge.
func (k *KeyRing) RotateIfOlderThan(ctx context.Context, maxAge time.Duration) (bool, error) {
	key, err := k.active(ctx)
	if err != nil {
		return false, err
	}
	if k.now().Sub(key.activatedAt) < maxAge {
		return false, nil
	}
	return true, k.Rotate(ctx)
}

// RotateKeysArgs is the periodic River job that rotates the signing key.
type RotateKeysArgs struct{}

// Kind implements river.JobArgs.
func (RotateKeysArgs) Kind() string { return "auth.rotate_keys" }

// RotateKeysWorker rotates the signing key once it is MaxAge old; tokens it
// signed keep verifying until they expire.
type RotateKeysWorker struct {
	river.WorkerDefaults[RotateKeysArgs]
	Keys   *KeyRing
	MaxAge time.Duration
	Log    *slog.Logger
}

// Work implements river.Worker.
func (w *RotateKeysWorker) Work(ctx context.Context, _ *river.Job[RotateKeysArgs]) error {
	rotated, err := w.Keys.RotateIfOlderThan(ctx, w.MaxAge)
	if err != nil {
		return fmt.Errorf("rotate signing key: %w", err)
	}
	if rotated {
		w.Log.InfoContext(ctx, "signing key rotated")
	}
	return nil
}
