// Package access enforces the access rules declared in the contract. Every RPC
// carries a `(hivesync.v1.access)` option; Rules reads them from the service
// descriptors, Authorize decides one call, and Interceptor applies both (plus
// the plugin protocol version check) to every Connect, gRPC and REST call.
package access

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/apierror"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	// UserID is the caller's user id.
	UserID string
	// SessionID is the session (refresh-token family) the token belongs to.
	SessionID string
	// DeviceID is the device the token was issued to, when known.
	DeviceID string
	// ClientType is the kind of client the token was issued to.
	ClientType hivesyncv1.ClientType
	// Scopes are the scopes the token carries.
	Scopes []hivesyncv1.Scope
	// Tier is the caller's entitlement tier at the time of the request.
	Tier hivesyncv1.Tier
	// SecondFactorAt is when the session last passed a second-factor check.
	SecondFactorAt *time.Time
}

// Authenticator turns a bearer token into a Principal. It returns an error
// wrapping ErrInvalidToken for a token that is malformed, expired or revoked,
// and any other error when the token could not be checked at all (which the
// client sees as Unavailable, so it keeps its session and retries).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*Principal, error)
}

// ErrInvalidToken is wrapped by Authenticator errors for unusable tokens.
var ErrInvalidToken = errors.New("invalid token")

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller of the request, or nil for a public call
// made without a token.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Rules maps a procedure ("/hivesync.v1.MetaService/GetCompatibility") to its rule.
type Rules map[string]*hivesyncv1.AccessRule

// RulesFor reads the rule of every method of the services. It fails when a
// method has no rule, or a non-public rule names no scope: such a method would
// otherwise be reachable by accident.
func RulesFor(services ...protoreflect.ServiceDescriptor) (Rules, error) {
	rules := Rules{}
	for _, svc := range services {
		methods := svc.Methods()
		for i := range methods.Len() {
			m := methods.Get(i)
			rule, ok := RuleOf(m)
			procedure := fmt.Sprintf("/%s/%s", svc.FullName(), m.Name())
			if !ok {
				return nil, fmt.Errorf("method %s has no (hivesync.v1.access) rule", procedure)
			}
			if !rule.GetPublic() && len(rule.GetScopes()) == 0 {
				return nil, fmt.Errorf("method %s is not public and names no scope", procedure)
			}
			if slices.Contains(rule.GetScopes(), hivesyncv1.Scope_SCOPE_UNSPECIFIED) {
				return nil, fmt.Errorf("method %s names SCOPE_UNSPECIFIED", procedure)
			}
			rules[procedure] = rule
		}
	}
	return rules, nil
}

// RuleOf returns the access rule declared on a method, if any.
func RuleOf(m protoreflect.MethodDescriptor) (*hivesyncv1.AccessRule, bool) {
	opts, ok := m.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil || !proto.HasExtension(opts, hivesyncv1.E_Access) {
		return nil, false
	}
	rule, ok := proto.GetExtension(opts, hivesyncv1.E_Access).(*hivesyncv1.AccessRule)
	return rule, ok && rule != nil
}

// Denial says why Authorize refused a call, for the security log.
type Denial string

// Reasons a call is refused.
const (
	DenialNone        Denial = ""
	DenialNoToken     Denial = "no_token"
	DenialScope       Denial = "scope_mismatch"
	DenialClientType  Denial = "client_type_mismatch"
	DenialEntitlement Denial = "entitlement"
)

// Authorize decides whether p may call a method with rule. It returns the
// Connect error to send (nil when allowed) and, for refusals, the reason.
// Tier gates answer EntitlementRequired with what the upgrade intercept needs.
func Authorize(rule *hivesyncv1.AccessRule, p *Principal, deepLink string) (*connect.Error, Denial) {
	if rule.GetPublic() {
		return nil, DenialNone
	}
	if p == nil {
		return connect.NewError(connect.CodeUnauthenticated, errors.New("this call needs a HiveSync access token")), DenialNoToken
	}
	if !slices.ContainsFunc(rule.GetScopes(), func(s hivesyncv1.Scope) bool { return slices.Contains(p.Scopes, s) }) {
		return connect.NewError(connect.CodePermissionDenied, errors.New("the token lacks a scope this call needs")), DenialScope
	}
	if len(rule.GetClientTypes()) > 0 && !slices.Contains(rule.GetClientTypes(), p.ClientType) {
		return connect.NewError(connect.CodePermissionDenied, errors.New("this call is not available to this kind of client")), DenialClientType
	}
	if !TierSatisfies(p.Tier, rule.GetMinTier()) {
		return apierror.EntitlementRequired(&hivesyncv1.EntitlementRequired{
			Feature:         rule.GetFeature(),
			RequiredTier:    rule.GetMinTier(),
			CurrentTier:     p.Tier,
			Message:         fmt.Sprintf("%s is a HiveSync Pro feature. Upgrade in the HiveSync mobile app to use it.", featureTitle(rule.GetFeature())),
			UpgradeDeepLink: deepLink,
		}), DenialEntitlement
	}
	return nil, DenialNone
}

// TierSatisfies reports whether tier have unlocks a rule requiring need. An
// active trial unlocks everything Pro does.
func TierSatisfies(have, need hivesyncv1.Tier) bool {
	switch need {
	case hivesyncv1.Tier_TIER_UNSPECIFIED, hivesyncv1.Tier_TIER_FREE:
		return true
	case hivesyncv1.Tier_TIER_TRIAL, hivesyncv1.Tier_TIER_PRO:
		return have == hivesyncv1.Tier_TIER_TRIAL || have == hivesyncv1.Tier_TIER_PRO
	}
	return false
}

func featureTitle(feature string) string {
	if feature == "" {
		return "This feature"
	}
	return fmt.Sprintf("%q", feature)
}

// CallerUserID is the signed-in user of a request: unauthenticated without a
// principal, permission_denied for a principal that is not a user (the admin
// API key).
func CallerUserID(ctx context.Context) (uuid.UUID, error) {
	p := PrincipalFrom(ctx)
	if p == nil {
		return uuid.Nil, connect.NewError(connect.CodeUnauthenticated, errors.New("this call needs a HiveSync access token"))
	}
	id, err := uuid.Parse(p.UserID)
	if err != nil {
		return uuid.Nil, connect.NewError(connect.CodePermissionDenied, errors.New("this call needs a user's token"))
	}
	return id, nil
}
