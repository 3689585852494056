package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// DevIdentityProvider is a minimal OIDC identity provider served by
// `hivesyncd dev` only, so the mobile sign-in works offline: it publishes a
// discovery document and keys like a real provider, and mints ID tokens for
// any email at POST /dev/idp/token. Never mounted outside dev mode.
type DevIdentityProvider struct {
	baseURL func() string
	key     *ecdsa.PrivateKey
	kid     string
	now     func() time.Time
}

// Dev identity provider paths and audience.
const (
	DevIDPPath     = "/dev/idp"
	DevIDPClientID = "hivesync-mobile"
)

// NewDevIdentityProvider creates the provider with a fresh in-memory key.
func NewDevIdentityProvider(baseURL func() string, now func() time.Time) (*DevIdentityProvider, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &DevIdentityProvider{baseURL: baseURL, key: key, kid: keyID(&key.PublicKey), now: now}, nil
}

// Issuer is the provider's issuer URL.
func (d *DevIdentityProvider) Issuer() string {
	return strings.TrimRight(d.baseURL(), "/") + DevIDPPath
}

// Provider is its configuration entry.
func (d *DevIdentityProvider) Provider() IdentityProvider {
	return IdentityProvider{Name: "dev", Issuer: d.Issuer(), ClientIDs: []string{DevIDPClientID}}
}

// Register mounts the provider's endpoints.
func (d *DevIdentityProvider) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+DevIDPPath+"/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		writeOAuthJSON(w, http.StatusOK, map[string]any{
			"issuer": d.Issuer(), "jwks_uri": d.Issuer() + "/jwks", "token_endpoint": d.Issuer() + "/token",
			"authorization_endpoint": d.Issuer() + "/authorize", "response_types_supported": []string{"id_token"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"ES256"},
		})
	})
	mux.HandleFunc("GET "+DevIDPPath+"/jwks", func(w http.ResponseWriter, _ *http.Request) {
		writeOAuthJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &d.key.PublicKey, KeyID: d.kid, Algorithm: "ES256", Use: "sig"}}})
	})
	mux.HandleFunc("POST "+DevIDPPath+"/token", d.token)
}

// token mints an ID token for form fields email, nonce and (optional) name.
func (d *DevIdentityProvider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !strings.Contains(r.PostForm.Get("email"), "@") || r.PostForm.Get("nonce") == "" {
		writeOAuthJSON(w, http.StatusBadRequest, &oauthError{Code: "invalid_request", Description: "email and nonce are required"})
		return
	}
	token, err := d.Mint(r.PostForm.Get("email"), r.PostForm.Get("name"), r.PostForm.Get("nonce"))
	if err != nil {
		writeOAuthJSON(w, http.StatusInternalServerError, &oauthError{Code: "server_error"})
		return
	}
	writeOAuthJSON(w, http.StatusOK, map[string]string{"id_token": token})
}

// Mint signs an ID token for email.
func (d *DevIdentityProvider) Mint(email, name, nonce string) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: d.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), d.kid))
	if err != nil {
		return "", err
	}
	now := d.now()
	claims := map[string]any{
		"iss": d.Issuer(), "sub": "dev|" + strings.ToLower(email), "aud": DevIDPClientID,
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "nonce": nonce,
		"email": email, "email_verified": true, "jti": randomToken(),
	}
	if name != "" {
		claims["name"] = name
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}
