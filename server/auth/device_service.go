package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/apierror"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// Field limits for device registration.
const (
	maxDeviceName    = 100
	maxPlatform      = 32
	maxClientVersion = 64
	maxPushToken     = 4096
)

// RegisterDevice implements hivesyncv1connect.DeviceServiceHandler.
func (s *Service) RegisterDevice(ctx context.Context, req *hivesyncv1.RegisterDeviceRequest) (*hivesyncv1.RegisterDeviceResponse, error) {
	p, userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkText("name", req.GetName(), maxDeviceName); err != nil {
		return nil, err
	}
	if err := checkText("platform", req.GetPlatform(), maxPlatform); err != nil {
		return nil, err
	}
	if err := checkText("client_version", req.GetClientVersion(), maxClientVersion); err != nil {
		return nil, err
	}
	if err := checkText("push_token", req.GetPushToken(), maxPushToken); err != nil {
		return nil, err
	}
	deviceID := uuid.New()
	if req.GetDeviceId() != "" {
		if deviceID, err = parseID("device_id", req.GetDeviceId()); err != nil {
			return nil, err
		}
	}
	name := strings.TrimSpace(req.GetName())
	if name == "" && req.GetDeviceId() == "" && p.DeviceID == "" {
		name = defaultDeviceName(p.ClientType, req.GetPlatform())
	}
	var pushToken *string
	if req.GetPushToken() != "" {
		pushToken = &req.PushToken
	}
	sessionID, err := uuid.Parse(p.SessionID)
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	var device dbgen.Device
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		// A session belongs to one device: once bound it may update that
		// device but never move to another one (which could hide a stolen
		// session under the victim's phone).
		if p.DeviceID != "" && p.DeviceID != deviceID.String() {
			if req.GetDeviceId() != "" {
				return store.ErrNotFound
			}
			deviceID = uuid.MustParse(p.DeviceID)
		}
		device, err = q.DeviceUpsert(ctx, dbgen.DeviceUpsertParams{
			ID: deviceID, UserID: userID, Name: name, Platform: req.GetPlatform(), ClientType: int16(p.ClientType),
			ClientVersion: req.GetClientVersion(), PluginProtocolVersion: access.PluginVersionFrom(ctx), PushToken: pushToken,
		})
		if err != nil {
			// The id exists but belongs to someone else, or was revoked.
			return store.MapError(err)
		}
		return q.SessionBindDevice(ctx, dbgen.SessionBindDeviceParams{ID: sessionID, DeviceID: &device.ID})
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such device"))
	}
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	return &hivesyncv1.RegisterDeviceResponse{Device: deviceProto(device)}, nil
}

// ListDevices implements hivesyncv1connect.DeviceServiceHandler.
func (s *Service) ListDevices(ctx context.Context, _ *hivesyncv1.ListDevicesRequest) (*hivesyncv1.ListDevicesResponse, error) {
	_, userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.DeviceListActive(ctx, userID)
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	resp := &hivesyncv1.ListDevicesResponse{}
	for _, d := range rows {
		resp.Devices = append(resp.Devices, deviceProto(d))
	}
	return resp, nil
}

// RenameDevice implements hivesyncv1connect.DeviceServiceHandler.
func (s *Service) RenameDevice(ctx context.Context, req *hivesyncv1.RenameDeviceRequest) (*hivesyncv1.RenameDeviceResponse, error) {
	_, userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	id, err := parseID("device_id", req.GetDeviceId())
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(req.GetName())
	if name == "" {
		return nil, apierror.InvalidArgument("name", "must not be empty")
	}
	if err := checkText("name", name, maxDeviceName); err != nil {
		return nil, err
	}
	device, err := s.store.DeviceRename(ctx, dbgen.DeviceRenameParams{ID: id, UserID: userID, Name: name})
	if errors.Is(store.MapError(err), store.ErrNotFound) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such device"))
	}
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	return &hivesyncv1.RenameDeviceResponse{Device: deviceProto(device)}, nil
}

// RevokeDevice implements hivesyncv1connect.DeviceServiceHandler. The device
// and every session on it are revoked in one transaction.
func (s *Service) RevokeDevice(ctx context.Context, req *hivesyncv1.RevokeDeviceRequest) (*hivesyncv1.RevokeDeviceResponse, error) {
	_, userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	id, err := parseID("device_id", req.GetDeviceId())
	if err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		n, err := q.DeviceRevoke(ctx, dbgen.DeviceRevokeParams{ID: id, UserID: userID})
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		_, err = q.SessionRevokeByDevice(ctx, dbgen.SessionRevokeByDeviceParams{DeviceID: &id, Reason: "device_revoked"})
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such device"))
	}
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	return &hivesyncv1.RevokeDeviceResponse{}, nil
}

func checkText(field, v string, maxLen int) error {
	if !utf8.ValidString(v) {
		return apierror.InvalidArgument(field, "must be valid UTF-8")
	}
	if utf8.RuneCountInString(v) > maxLen {
		return apierror.InvalidArgument(field, fmt.Sprintf("must be at most %d characters", maxLen))
	}
	if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return apierror.InvalidArgument(field, "must not contain control characters")
	}
	return nil
}

func defaultDeviceName(ct hivesyncv1.ClientType, platform string) string {
	name := strings.ToLower(strings.TrimPrefix(ct.String(), "CLIENT_TYPE_"))
	if platform != "" {
		name += " on " + platform
	}
	return name
}

func deviceProto(d dbgen.Device) *hivesyncv1.Device {
	return &hivesyncv1.Device{
		Id: d.ID.String(), Name: d.Name, Platform: d.Platform, ClientType: hivesyncv1.ClientType(d.ClientType),
		ClientVersion: d.ClientVersion, PluginProtocolVersion: d.PluginProtocolVersion, HasPushToken: d.PushToken != nil,
		CreatedAt: timestamppb.New(d.CreatedAt), LastSeenAt: timestamppb.New(d.LastSeenAt),
	}
}
