package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// TOTP is optional two-factor authentication (RFC 6238 with
// github.com/pquerna/otp): enrolment, confirmation, and the step-up check the
// access interceptor runs on sensitive actions.
type TOTP struct {
	store *store.Store
	now   func() time.Time
}

// NewTOTP returns the service.
func NewTOTP(st *store.Store, now func() time.Time) *TOTP { return &TOTP{store: st, now: now} }

// ErrAlreadyEnrolled means two-factor authentication is already on.
var ErrAlreadyEnrolled = errors.New("two-factor authentication is already enabled")

// ErrBadCode means a TOTP or recovery code was wrong, used or expired.
var ErrBadCode = errors.New("the code is wrong or was already used")

const totpPeriod = 30

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Enroll creates a pending secret and fresh recovery codes for the user.
func (t *TOTP) Enroll(ctx context.Context, userID uuid.UUID, account string) (secret, uri string, codes []string, err error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "HiveSync", AccountName: account, Period: totpPeriod})
	if err != nil {
		return "", "", nil, fmt.Errorf("generate totp secret: %w", err)
	}
	err = t.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		existing, err := q.TotpGetForUpdate(ctx, userID)
		if err == nil && existing.ConfirmedAt != nil {
			return ErrAlreadyEnrolled
		}
		if err := q.TotpUpsertPending(ctx, dbgen.TotpUpsertPendingParams{UserID: userID, Secret: key.Secret()}); err != nil {
			return err
		}
		if err := q.RecoveryCodesDelete(ctx, userID); err != nil {
			return err
		}
		codes = make([]string, 10)
		for i := range codes {
			codes[i] = newRecoveryCode()
			if err := q.RecoveryCodeInsert(ctx, dbgen.RecoveryCodeInsertParams{UserID: userID, CodeHash: hashToken(codes[i])}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", "", nil, err
	}
	return key.Secret(), key.URL(), codes, nil
}

// Confirm turns two-factor authentication on once a current code checks out.
func (t *TOTP) Confirm(ctx context.Context, userID uuid.UUID, code string) error {
	return t.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		row, err := q.TotpGetForUpdate(ctx, userID)
		if errors.Is(store.MapError(err), store.ErrNotFound) {
			return fmt.Errorf("%w: start enrolment first", ErrBadCode)
		}
		if err != nil {
			return err
		}
		if row.ConfirmedAt != nil {
			return ErrAlreadyEnrolled
		}
		step, ok := t.matchStep(row.Secret, code, row.LastStep)
		if !ok {
			return ErrBadCode
		}
		if err := q.TotpAccept(ctx, dbgen.TotpAcceptParams{UserID: userID, LastStep: step}); err != nil {
			return err
		}
		return Audit(ctx, q, &userID, "totp.enabled", &userID, nil)
	})
}

// Disable turns two-factor authentication off (the caller has passed the
// step-up check already).
func (t *TOTP) Disable(ctx context.Context, userID uuid.UUID) error {
	return t.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		if err := q.TotpDelete(ctx, userID); err != nil {
			return err
		}
		if err := q.RecoveryCodesDelete(ctx, userID); err != nil {
			return err
		}
		return Audit(ctx, q, &userID, "totp.disabled", &userID, nil)
	})
}

// Enabled reports whether the user has confirmed two-factor authentication.
func (t *TOTP) Enabled(ctx context.Context, userID uuid.UUID) (bool, error) {
	row, err := t.store.TotpGet(ctx, userID)
	if errors.Is(store.MapError(err), store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return row.ConfirmedAt != nil, nil
}

// Check verifies a step-up code for a user: a TOTP code not used before, or
// an unused recovery code (which is then spent). enrolled is false when the
// user has no confirmed second factor.
func (t *TOTP) Check(ctx context.Context, userID, sessionID, code string) (enrolled, ok bool, err error) {
	id, err := uuid.Parse(userID)
	if err != nil {
		return false, false, err
	}
	code = strings.TrimSpace(code)
	err = t.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		row, err := q.TotpGetForUpdate(ctx, id)
		if errors.Is(store.MapError(err), store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if row.ConfirmedAt == nil {
			return nil
		}
		enrolled = true
		if code == "" {
			return nil
		}
		if step, match := t.matchStep(row.Secret, code, row.LastStep); match {
			ok = true
			if err := q.TotpAccept(ctx, dbgen.TotpAcceptParams{UserID: id, LastStep: step}); err != nil {
				return err
			}
			return t.remember(ctx, q, sessionID)
		}
		n, err := q.RecoveryCodeUse(ctx, dbgen.RecoveryCodeUseParams{UserID: id, CodeHash: hashToken(strings.ToLower(code))})
		if err != nil {
			return err
		}
		ok = n == 1
		if ok {
			if err := t.remember(ctx, q, sessionID); err != nil {
				return err
			}
			return Audit(ctx, q, &id, "totp.recovery_code_used", &id, nil)
		}
		return nil
	})
	return enrolled, ok, err
}

// remember marks the session as having passed a second-factor check now.
func (t *TOTP) remember(ctx context.Context, q dbgen.Querier, sessionID string) error {
	sid, err := uuid.Parse(sessionID)
	if err != nil {
		return nil // no session (not a user token): nothing to remember
	}
	return q.SessionMarkSecondFactor(ctx, dbgen.SessionMarkSecondFactorParams{ID: sid, At: t.now()})
}

// matchStep accepts a code for the current step or one step either side
// (clock drift), but only steps after the last accepted one (no replay).
func (t *TOTP) matchStep(secret, code string, lastStep int64) (int64, bool) {
	if len(code) != 6 {
		return 0, false
	}
	now := t.now()
	current := now.Unix() / totpPeriod
	for _, step := range []int64{current - 1, current, current + 1} {
		if step <= lastStep {
			continue
		}
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

// newRecoveryCode is ten lower-case base32 characters as xxxxx-xxxxx.
func newRecoveryCode() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	for i, v := range b {
		b[i] = alphabet[int(v)%len(alphabet)]
	}
	return string(b[:5]) + "-" + string(b[5:])
}

// Audit appends a row to the audit log, in the caller's transaction.
func Audit(ctx context.Context, q dbgen.Querier, actor *uuid.UUID, action string, target *uuid.UUID, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	raw, err := json.Marshal(details)
	if err != nil {
		return err
	}
	if err := q.AuditInsert(ctx, dbgen.AuditInsertParams{ActorUserID: actor, Action: action, TargetUserID: target, Details: raw}); err != nil {
		return fmt.Errorf("write audit log: %w", err)
	}
	return nil
}
