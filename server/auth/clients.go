// Package auth is HiveSync's identity domain: accounts, devices, the keys that
// sign access tokens, sessions (refresh-token families with rotation and reuse
// detection), the Authenticator every RPC goes through, and the AuthService and
// DeviceService handlers.
package auth

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
)

// Client is a registered OAuth client: every HiveSync app and plugin is a
// public client (no secret), identified by its client id.
type Client struct {
	// ID is the client id, e.g. "vscode".
	ID string
	// Type is the client type its tokens carry.
	Type hivesyncv1.ClientType
	// Scopes are the scopes the client may ask for.
	Scopes []hivesyncv1.Scope
	// RedirectURIs are the exact redirect URIs of the browser (code) flow.
	RedirectURIs []string
	// Loopback allows http://127.0.0.1:<any port>/… and http://[::1]:<port>/…
	// redirects (RFC 8252 §7.3), for clients that listen locally.
	Loopback bool
	// DeviceFlow allows the device authorization grant (RFC 8628).
	DeviceFlow bool
}

var userScopes = []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_USER, hivesyncv1.Scope_SCOPE_READ, hivesyncv1.Scope_SCOPE_WRITE, hivesyncv1.Scope_SCOPE_LIVE, hivesyncv1.Scope_SCOPE_PREVIEW}
var pluginScopes = []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_PLUGIN, hivesyncv1.Scope_SCOPE_READ, hivesyncv1.Scope_SCOPE_WRITE, hivesyncv1.Scope_SCOPE_LIVE}

// Clients are the registered clients, by id.
// The mobile app signs in through its identity provider, not these flows.
var Clients = map[string]Client{
	"mobile": {ID: "mobile", Type: hivesyncv1.ClientType_CLIENT_TYPE_MOBILE, Scopes: userScopes},
	"desktop": {ID: "desktop", Type: hivesyncv1.ClientType_CLIENT_TYPE_DESKTOP, Scopes: userScopes,
		RedirectURIs: []string{"hivesync://auth/complete"}, Loopback: true, DeviceFlow: true},
	"vscode": {ID: "vscode", Type: hivesyncv1.ClientType_CLIENT_TYPE_VSCODE, Scopes: pluginScopes,
		RedirectURIs: []string{"vscode://hivesync.auth/complete", "vscode-insiders://hivesync.auth/complete"}, Loopback: true, DeviceFlow: true},
	"jetbrains": {ID: "jetbrains", Type: hivesyncv1.ClientType_CLIENT_TYPE_JETBRAINS, Scopes: pluginScopes, Loopback: true, DeviceFlow: true},
	"sublime":   {ID: "sublime", Type: hivesyncv1.ClientType_CLIENT_TYPE_SUBLIME, Scopes: pluginScopes, Loopback: true, DeviceFlow: true},
	"neovim":    {ID: "neovim", Type: hivesyncv1.ClientType_CLIENT_TYPE_NEOVIM, Scopes: pluginScopes, Loopback: true, DeviceFlow: true},
	"cli": {ID: "cli", Type: hivesyncv1.ClientType_CLIENT_TYPE_CLI, Scopes: append(slices.Clone(pluginScopes), hivesyncv1.Scope_SCOPE_USER),
		Loopback: true, DeviceFlow: true},
	"admin": {ID: "admin", Type: hivesyncv1.ClientType_CLIENT_TYPE_ADMIN, Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_ADMIN, hivesyncv1.Scope_SCOPE_USER, hivesyncv1.Scope_SCOPE_READ},
		Loopback: true, DeviceFlow: true},
}

// AllowsRedirect reports whether uri is a registered redirect of the client.
func (c Client) AllowsRedirect(uri string) bool {
	if slices.Contains(c.RedirectURIs, uri) {
		return true
	}
	if !c.Loopback {
		return false
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Fragment != "" {
		return false
	}
	host := u.Hostname()
	return host == "127.0.0.1" || host == "::1"
}

// DefaultScopes are the scopes granted when a client asks for none: all it may
// hold except admin.
func (c Client) DefaultScopes() []hivesyncv1.Scope {
	out := make([]hivesyncv1.Scope, 0, len(c.Scopes))
	for _, s := range c.Scopes {
		if s != hivesyncv1.Scope_SCOPE_ADMIN {
			out = append(out, s)
		}
	}
	return out
}

// ScopeName is the wire name of a scope in tokens: "user", "plugin", …
func ScopeName(s hivesyncv1.Scope) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "SCOPE_"))
}

// ParseScope reads a wire scope name.
func ParseScope(name string) (hivesyncv1.Scope, error) {
	v, ok := hivesyncv1.Scope_value["SCOPE_"+strings.ToUpper(strings.TrimSpace(name))]
	if !ok || v == 0 {
		return 0, fmt.Errorf("unknown scope %q (known: admin, user, plugin, preview, read, write, live)", name)
	}
	return hivesyncv1.Scope(v), nil
}

// ScopeNames converts scopes to wire names.
func ScopeNames(scopes []hivesyncv1.Scope) []string {
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		out = append(out, ScopeName(s))
	}
	return out
}

// ParseScopes reads wire scope names, rejecting unknown ones.
func ParseScopes(names []string) ([]hivesyncv1.Scope, error) {
	out := make([]hivesyncv1.Scope, 0, len(names))
	for _, n := range names {
		s, err := ParseScope(n)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// CheckGrant verifies that client may receive scopes for a user: every scope
// must be one the client may ask for, and admin only for admins.
func CheckGrant(client Client, scopes []hivesyncv1.Scope, isAdmin bool) error {
	if len(scopes) == 0 {
		return fmt.Errorf("no scopes requested")
	}
	for _, s := range scopes {
		if !slices.Contains(client.Scopes, s) {
			return fmt.Errorf("client %q may not receive scope %q", client.ID, ScopeName(s))
		}
		if s == hivesyncv1.Scope_SCOPE_ADMIN && !isAdmin {
			return fmt.Errorf("scope admin needs an admin account")
		}
	}
	return nil
}
