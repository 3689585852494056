// Package meta serves MetaService: version compatibility, the bootstrap
// discovery document, server time for drift detection, and the WebSocket
// event schema. Every answer is computed from configuration and the contract;
// nothing here touches user data.
package meta

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/access"
)

// APIVersions lists the REST API versions this server serves.
var APIVersions = []string{"v1"}

// Options configures the service.
type Options struct {
	// ServerVersion is this build's release.
	ServerVersion string
	// Versions is the accepted client and plugin version range.
	Versions access.VersionPolicy
	// Bootstrap returns the current discovery document; it is called per
	// request so an announced migration shows up at once.
	Bootstrap func(context.Context) (*hivesyncv1.BootstrapConfig, error)
	// DriftWarningThreshold is reported with the server time.
	DriftWarningThreshold time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Service implements hivesyncv1connect.MetaServiceHandler.
type Service struct {
	opts   Options
	schema *hivesyncv1.GetEventSchemaResponse
}

var _ hivesyncv1connect.MetaServiceHandler = (*Service)(nil)

// New builds the service. It fails if the event envelope in the contract is
// malformed (a payload without an event spec), which a test also checks.
func New(opts Options) (*Service, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	schema, err := EventSchema()
	if err != nil {
		return nil, err
	}
	return &Service{opts: opts, schema: schema}, nil
}

// GetCompatibility implements hivesyncv1connect.MetaServiceHandler.
func (s *Service) GetCompatibility(ctx context.Context, req *hivesyncv1.GetCompatibilityRequest) (*hivesyncv1.GetCompatibilityResponse, error) {
	if err := s.opts.Versions.ClientVersion(req.GetClientVersion()); err != nil {
		return nil, err
	}
	plugin := access.PluginVersionFrom(ctx)
	v := s.opts.Versions
	return &hivesyncv1.GetCompatibilityResponse{
		ServerVersion:                s.opts.ServerVersion,
		ApiVersions:                  APIVersions,
		CurrentPluginProtocolVersion: v.CurrentPluginProtocol,
		MinPluginProtocolVersion:     v.MinPluginProtocol,
		MinClientVersion:             v.MinClient,
		PluginProtocolVersion:        plugin,
		UpgradeRecommended:           plugin != 0 && plugin < v.CurrentPluginProtocol,
		UpgradeUrl:                   v.UpgradeURL,
		ServerTime:                   timestamppb.New(s.opts.Now().UTC()),
	}, nil
}

// GetBootstrapConfig implements hivesyncv1connect.MetaServiceHandler.
func (s *Service) GetBootstrapConfig(ctx context.Context, _ *hivesyncv1.GetBootstrapConfigRequest) (*hivesyncv1.GetBootstrapConfigResponse, error) {
	cfg, err := s.opts.Bootstrap(ctx)
	if err != nil {
		return nil, fmt.Errorf("build bootstrap config: %w", err)
	}
	return &hivesyncv1.GetBootstrapConfigResponse{Config: cfg}, nil
}

// GetServerTime implements hivesyncv1connect.MetaServiceHandler.
func (s *Service) GetServerTime(_ context.Context, req *hivesyncv1.GetServerTimeRequest) (*hivesyncv1.GetServerTimeResponse, error) {
	now := s.opts.Now().UTC()
	resp := &hivesyncv1.GetServerTimeResponse{
		ServerTime:            timestamppb.New(now),
		DriftWarningThreshold: durationpb.New(s.opts.DriftWarningThreshold),
	}
	if req.GetClientTime() != nil {
		if err := req.GetClientTime().CheckValid(); err != nil {
			return nil, invalidTimestamp(err)
		}
		resp.Drift = durationpb.New(now.Sub(req.GetClientTime().AsTime()))
	}
	return resp, nil
}

// GetEventSchema implements hivesyncv1connect.MetaServiceHandler.
func (s *Service) GetEventSchema(context.Context, *hivesyncv1.GetEventSchemaRequest) (*hivesyncv1.GetEventSchemaResponse, error) {
	return proto.CloneOf(s.schema), nil
}

// EventSchema derives the event list from the Event envelope's payload oneof
// and bundles the descriptors a client needs to decode any event.
func EventSchema() (*hivesyncv1.GetEventSchemaResponse, error) {
	envelope := (&hivesyncv1.Event{}).ProtoReflect().Descriptor()
	payload := envelope.Oneofs().ByName("payload")
	if payload == nil {
		return nil, fmt.Errorf("%s has no payload oneof", envelope.FullName())
	}
	resp := &hivesyncv1.GetEventSchemaResponse{EnvelopeMessage: string(envelope.FullName())}
	seen := map[string]string{}
	fields := payload.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		spec, ok := EventSpecOf(f)
		if !ok || spec.GetEventType() == "" || spec.GetDirection() == hivesyncv1.EventDirection_EVENT_DIRECTION_UNSPECIFIED {
			return nil, fmt.Errorf("event payload %s lacks a complete (hivesync.v1.event) spec", f.FullName())
		}
		if other, dup := seen[spec.GetEventType()]; dup {
			return nil, fmt.Errorf("event type %q is declared by both %s and %s", spec.GetEventType(), other, f.Name())
		}
		seen[spec.GetEventType()] = string(f.Name())
		resp.EventTypes = append(resp.EventTypes, &hivesyncv1.EventType{
			Spec:           spec,
			PayloadField:   string(f.Name()),
			PayloadMessage: string(f.Message().FullName()),
		})
	}
	resp.Descriptors = &descriptorpb.FileDescriptorSet{File: fileWithDependencies(envelope.ParentFile())}
	return resp, nil
}

// EventSpecOf returns the event spec declared on a payload field.
func EventSpecOf(f protoreflect.FieldDescriptor) (*hivesyncv1.EventSpec, bool) {
	opts, ok := f.Options().(*descriptorpb.FieldOptions)
	if !ok || opts == nil || !proto.HasExtension(opts, hivesyncv1.E_Event) {
		return nil, false
	}
	spec, ok := proto.GetExtension(opts, hivesyncv1.E_Event).(*hivesyncv1.EventSpec)
	return spec, ok && spec != nil
}

// fileWithDependencies returns file and everything it imports, dependencies
// first, as a protoc-style FileDescriptorSet would list them.
func fileWithDependencies(file protoreflect.FileDescriptor) []*descriptorpb.FileDescriptorProto {
	var out []*descriptorpb.FileDescriptorProto
	seen := map[string]bool{}
	var visit func(protoreflect.FileDescriptor)
	visit = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		imports := f.Imports()
		for i := range imports.Len() {
			visit(imports.Get(i).FileDescriptor)
		}
		out = append(out, protodesc.ToFileDescriptorProto(f))
	}
	visit(file)
	return out
}
