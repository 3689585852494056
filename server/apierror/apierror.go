// Package apierror builds HiveSync's typed errors: a Connect code plus an error
// detail message from errors.proto, so every client decodes a structure rather
// than parsing a string. It is the one place domain failures become API errors.
package apierror

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/store"
)

// WithDetail returns a Connect error with code, message and one typed detail.
func WithDetail(code connect.Code, msg string, detail proto.Message) *connect.Error {
	err := connect.NewError(code, errors.New(msg))
	if d, derr := connect.NewErrorDetail(detail); derr == nil {
		err.AddDetail(d)
	}
	return err
}

// UpgradeRequired reports a client or plugin older than the server supports.
func UpgradeRequired(d *hivesyncv1.UpgradeRequired) *connect.Error {
	return WithDetail(connect.CodeFailedPrecondition, d.GetMessage(), d)
}

// EntitlementRequired reports a tier gate that denied the call.
func EntitlementRequired(d *hivesyncv1.EntitlementRequired) *connect.Error {
	return WithDetail(connect.CodePermissionDenied, d.GetMessage(), d)
}

// Conflict reports a save whose base revision is no longer the head.
func Conflict(d *hivesyncv1.Conflict) *connect.Error {
	return WithDetail(connect.CodeAborted, "the file changed on the server since your base revision; nothing was written", d)
}

// PayloadTooLarge reports one request or file over a size limit
// (invalid_argument: retrying the same payload will never succeed).
func PayloadTooLarge(d *hivesyncv1.LimitExceeded) *connect.Error {
	return WithDetail(connect.CodeInvalidArgument, d.GetMessage(), d)
}

// QuotaExceeded reports a quota that is used up (resource_exhausted).
func QuotaExceeded(d *hivesyncv1.LimitExceeded) *connect.Error {
	return WithDetail(connect.CodeResourceExhausted, d.GetMessage(), d)
}

// RateLimited reports too many requests.
func RateLimited(d *hivesyncv1.RateLimited) *connect.Error {
	msg := fmt.Sprintf("too many requests; retry in %s", d.GetRetryAfter().AsDuration())
	return WithDetail(connect.CodeResourceExhausted, msg, d)
}

// InvalidArgument reports bad input on one field, before anything is written.
func InvalidArgument(field, why string) *connect.Error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s: %s", field, why))
}

// Unavailable answers a call the database could not serve for a moment. A
// write cut off at its commit may or may not have been stored, so clients
// retry it with the same idempotency key, which converges either way.
func Unavailable() *connect.Error {
	return connect.NewError(connect.CodeUnavailable, errors.New("the database is briefly unavailable; retry shortly"))
}

// FromDomain maps an error from a domain or the store to a Connect error:
// typed Connect errors pass through, store sentinels become NotFound or
// Aborted, a context ending becomes Canceled or DeadlineExceeded, a database
// out of reach becomes Unavailable, and anything else is logged with an id and
// returned as Internal without its cause.
func FromDomain(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	switch {
	case errors.As(err, &ce):
		return ce
	case errors.Is(err, store.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, errors.New("not found"))
	case errors.Is(err, store.ErrConflict):
		return connect.NewError(connect.CodeAborted, errors.New("a concurrent change won; reload and retry"))
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("the request took too long"))
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("the request was canceled"))
	case store.Unavailable(err):
		log.WarnContext(ctx, "database unavailable", slog.String("error", err.Error()))
		return Unavailable()
	}
	id := newErrorID()
	log.ErrorContext(ctx, "internal error", slog.String("error_id", id), slog.String("error", err.Error()))
	return connect.NewError(connect.CodeInternal, fmt.Errorf("internal error (id %s)", id))
}

// Page reads a keyset page request: page_size (def when zero, at most max)
// and page_token, the positive key the previous page stopped at (first when
// the token is empty: the largest int64, for "below everything").
func Page(size int32, token string, def, maxSize int32) (int32, int64, error) {
	switch {
	case size == 0:
		size = def
	case size < 0 || size > maxSize:
		return 0, 0, InvalidArgument("page_size", fmt.Sprintf("must be between 1 and %d", maxSize))
	}
	if token == "" {
		return size, math.MaxInt64, nil
	}
	n, err := strconv.ParseInt(token, 10, 64)
	if err != nil || n <= 0 {
		return 0, 0, InvalidArgument("page_token", "is not a token from a previous page")
	}
	return size, n, nil
}

// ParseID reads a UUID field, answering invalid_argument for malformed input.
func ParseID(field, value string) (uuid.UUID, error) {
	id, err := uuid.Parse(value)
	if err != nil {
		return uuid.Nil, InvalidArgument(field, "must be a UUID")
	}
	return id, nil
}

// PageSize checks a list's page_size: zero means def, and anything outside
// 1..maxSize is invalid_argument.
func PageSize(size, def, maxSize int32) (int32, error) {
	switch {
	case size == 0:
		return def, nil
	case size < 0 || size > maxSize:
		return 0, InvalidArgument("page_size", fmt.Sprintf("must be between 1 and %d", maxSize))
	}
	return size, nil
}

// EncodeCursor makes an opaque page token of a keyset position (the sort
// key of the last row of a page). Parts must not contain NUL.
func EncodeCursor(parts ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, "\x00")))
}

// DecodeCursor reads a token made by EncodeCursor with n parts; anything
// else is invalid_argument.
func DecodeCursor(token string, n int) ([]string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	parts := strings.Split(string(raw), "\x00")
	if err != nil || len(parts) != n {
		return nil, InvalidArgument("page_token", "is not a token from a previous page")
	}
	return parts, nil
}

// TimeCursor reads a page token of a newest-first listing sorted by
// (time, id); no token starts after the end of time.
func TimeCursor(token string) (time.Time, uuid.UUID, error) {
	if token == "" {
		return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), uuid.Max, nil
	}
	parts, err := DecodeCursor(token, 2)
	if err != nil {
		return time.Time{}, uuid.Nil, err
	}
	at, terr := time.Parse(time.RFC3339Nano, parts[0])
	id, ierr := uuid.Parse(parts[1])
	if terr != nil || ierr != nil {
		return time.Time{}, uuid.Nil, InvalidArgument("page_token", "is not a token from a previous page")
	}
	return at, id, nil
}

// EncodeTimeCursor is the page token after a row sorted by (time, id).
func EncodeTimeCursor(at time.Time, id uuid.UUID) string {
	return EncodeCursor(at.UTC().Format(time.RFC3339Nano), id.String())
}
