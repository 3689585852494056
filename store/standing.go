package store

import (
	"context"

	"github.com/hivesync/hivesync/store/dbgen"
)

// What authenticating a request reads (SessionPrincipal: a session, its
// user, device and entitlement) may be cached by the node. Migration 00027's
// triggers tell every node when any of it changes, with a NOTIFY sent at the
// commit; this node additionally learns of its own changes at once, before
// the call that made them returns, so a client that revokes a session and
// then uses it is refused on this node without waiting for the
// notification to travel. The queries that change those rows are wrapped
// below (standingWrites lists them; store's tests fail when a query writing
// sessions, users, devices or entitlements is neither wrapped nor listed as
// leaving the standing alone).

// SetStandingListener sets what is called after a committed statement or
// transaction changed the standing of some session (server/auth drops its
// cached sessions). Set it once, before serving.
func (s *Store) SetStandingListener(fn func()) { s.standing.Store(&fn) }

func (s *Store) standingChanged() {
	if fn := s.standing.Load(); fn != nil && *fn != nil {
		(*fn)()
	}
}

// standingWrites are the queries that change a session's standing; each
// has a wrapper on Store and on txQueries.
var standingWrites = []string{
	"DeviceRevoke", "EntitlementSet", "SessionBindDevice", "SessionMarkSecondFactor", "SessionRevoke",
	"SessionRevokeAllForUser", "SessionRevokeAny", "SessionRevokeByDevice", "UserSetDisabled", "UserUpsertByEmail",
}

// standingUnchanged are the queries that write those tables without
// changing anything SessionPrincipal reads, and why.
var standingUnchanged = map[string]string{
	"SessionInsert":  "a new session: nothing can have cached it",
	"SessionTouch":   "last_used_at only",
	"DeviceUpsert":   "never changes revoked_at or the owner (the conflict arm requires both unchanged)",
	"DeviceRename":   "the name only",
	"UserInsert":     "a new user: nothing can have cached its sessions",
	"UserPhoneSet":   "the phone number only",
	"UserPhoneClear": "the phone number only",
}

// standingDone calls the listener once err shows the write happened.
func (s *Store) standingDone(err error) {
	if err == nil {
		s.standingChanged()
	}
}

// DeviceRevoke revokes a device and reports the standing change.
func (s *Store) DeviceRevoke(ctx context.Context, arg dbgen.DeviceRevokeParams) (int64, error) {
	n, err := s.Querier.DeviceRevoke(ctx, arg)
	s.standingDone(err)
	return n, err
}

// EntitlementSet records a tier and reports the standing change.
func (s *Store) EntitlementSet(ctx context.Context, arg dbgen.EntitlementSetParams) (dbgen.Entitlement, error) {
	e, err := s.Querier.EntitlementSet(ctx, arg)
	s.standingDone(err)
	return e, err
}

// SessionBindDevice binds a session to a device and reports the standing change.
func (s *Store) SessionBindDevice(ctx context.Context, arg dbgen.SessionBindDeviceParams) error {
	err := s.Querier.SessionBindDevice(ctx, arg)
	s.standingDone(err)
	return err
}

// SessionMarkSecondFactor records a second factor and reports the standing change.
func (s *Store) SessionMarkSecondFactor(ctx context.Context, arg dbgen.SessionMarkSecondFactorParams) error {
	err := s.Querier.SessionMarkSecondFactor(ctx, arg)
	s.standingDone(err)
	return err
}

// SessionRevoke revokes a session and reports the standing change.
func (s *Store) SessionRevoke(ctx context.Context, arg dbgen.SessionRevokeParams) (int64, error) {
	n, err := s.Querier.SessionRevoke(ctx, arg)
	s.standingDone(err)
	return n, err
}

// SessionRevokeAllForUser revokes a user's sessions and reports the standing change.
func (s *Store) SessionRevokeAllForUser(ctx context.Context, arg dbgen.SessionRevokeAllForUserParams) (int64, error) {
	n, err := s.Querier.SessionRevokeAllForUser(ctx, arg)
	s.standingDone(err)
	return n, err
}

// SessionRevokeAny revokes a session and reports the standing change.
func (s *Store) SessionRevokeAny(ctx context.Context, arg dbgen.SessionRevokeAnyParams) (int64, error) {
	n, err := s.Querier.SessionRevokeAny(ctx, arg)
	s.standingDone(err)
	return n, err
}

// SessionRevokeByDevice revokes a device's sessions and reports the standing change.
func (s *Store) SessionRevokeByDevice(ctx context.Context, arg dbgen.SessionRevokeByDeviceParams) (int64, error) {
	n, err := s.Querier.SessionRevokeByDevice(ctx, arg)
	s.standingDone(err)
	return n, err
}

// UserSetDisabled disables or enables a user and reports the standing change.
func (s *Store) UserSetDisabled(ctx context.Context, arg dbgen.UserSetDisabledParams) (dbgen.User, error) {
	u, err := s.Querier.UserSetDisabled(ctx, arg)
	s.standingDone(err)
	return u, err
}

// UserUpsertByEmail creates or updates a user (possibly granting admin)
// and reports the standing change.
func (s *Store) UserUpsertByEmail(ctx context.Context, arg dbgen.UserUpsertByEmailParams) (dbgen.User, error) {
	u, err := s.Querier.UserUpsertByEmail(ctx, arg)
	s.standingDone(err)
	return u, err
}

// In a transaction the change is reported once it committed (InTx).

func (q *txQueries) noteStanding(err error) {
	if err == nil {
		q.standing = true
	}
}

func (q *txQueries) DeviceRevoke(ctx context.Context, arg dbgen.DeviceRevokeParams) (int64, error) {
	n, err := q.Queries.DeviceRevoke(ctx, arg)
	q.noteStanding(err)
	return n, err
}

func (q *txQueries) EntitlementSet(ctx context.Context, arg dbgen.EntitlementSetParams) (dbgen.Entitlement, error) {
	e, err := q.Queries.EntitlementSet(ctx, arg)
	q.noteStanding(err)
	return e, err
}

func (q *txQueries) SessionBindDevice(ctx context.Context, arg dbgen.SessionBindDeviceParams) error {
	err := q.Queries.SessionBindDevice(ctx, arg)
	q.noteStanding(err)
	return err
}

func (q *txQueries) SessionMarkSecondFactor(ctx context.Context, arg dbgen.SessionMarkSecondFactorParams) error {
	err := q.Queries.SessionMarkSecondFactor(ctx, arg)
	q.noteStanding(err)
	return err
}

func (q *txQueries) SessionRevoke(ctx context.Context, arg dbgen.SessionRevokeParams) (int64, error) {
	n, err := q.Queries.SessionRevoke(ctx, arg)
	q.noteStanding(err)
	return n, err
}

func (q *txQueries) SessionRevokeAllForUser(ctx context.Context, arg dbgen.SessionRevokeAllForUserParams) (int64, error) {
	n, err := q.Queries.SessionRevokeAllForUser(ctx, arg)
	q.noteStanding(err)
	return n, err
}

func (q *txQueries) SessionRevokeAny(ctx context.Context, arg dbgen.SessionRevokeAnyParams) (int64, error) {
	n, err := q.Queries.SessionRevokeAny(ctx, arg)
	q.noteStanding(err)
	return n, err
}

func (q *txQueries) SessionRevokeByDevice(ctx context.Context, arg dbgen.SessionRevokeByDeviceParams) (int64, error) {
	n, err := q.Queries.SessionRevokeByDevice(ctx, arg)
	q.noteStanding(err)
	return n, err
}

func (q *txQueries) UserSetDisabled(ctx context.Context, arg dbgen.UserSetDisabledParams) (dbgen.User, error) {
	u, err := q.Queries.UserSetDisabled(ctx, arg)
	q.noteStanding(err)
	return u, err
}

func (q *txQueries) UserUpsertByEmail(ctx context.Context, arg dbgen.UserUpsertByEmailParams) (dbgen.User, error) {
	u, err := q.Queries.UserUpsertByEmail(ctx, arg)
	q.noteStanding(err)
	return u, err
}
