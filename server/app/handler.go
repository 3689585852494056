package app

import (
	"fmt"
	"net/http"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"connectrpc.com/vanguard"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/apierror"
)

// mountedService is one Connect service with its descriptor, so access rules,
// REST routes and reflection all derive from the same list.
type mountedService struct {
	desc    protoreflect.ServiceDescriptor
	path    string
	handler http.Handler
}

// newHandler assembles the HTTP surface: every service on its RPC path
// (Connect, gRPC, gRPC-Web) and through vanguard on its REST routes, gRPC health and
// reflection, the health probes and /metrics, all behind the request limit.
func newHandler(services []mountedService, h *health, m *metrics, maxRequestBytes int64, extra func(*http.ServeMux)) (http.Handler, error) {
	vservices := make([]*vanguard.Service, 0, len(services))
	names := make([]string, 0, len(services))
	for _, s := range services {
		vservices = append(vservices, vanguard.NewService(s.path, s.handler))
		names = append(names, string(s.desc.FullName()))
	}
	mux := http.NewServeMux()
	if len(vservices) > 0 {
		transcoder, err := vanguard.NewTranscoder(vservices)
		if err != nil {
			return nil, fmt.Errorf("build REST transcoder: %w", err)
		}
		mux.Handle("/", limitRequestBody(transcoder, maxRequestBytes))
	}
	for _, s := range services {
		// RPC paths go straight to the Connect handler, which speaks
		// Connect, gRPC and gRPC-Web itself: the transcoder is for REST
		// routes, and in front of every RPC it cost about 3% of a save's CPU.
		mux.Handle(s.path, limitRequestBody(s.handler, maxRequestBytes))
		if s.desc.FullName() == "hivesync.v1.HistoryService" {
			// Streamed past the transcoder, which would buffer the whole file.
			mux.Handle("POST /api/v1/projects/{project_id}/export/{format}", restExport(s.handler))
		}
	}

	mux.Handle(grpchealth.NewHandler(h))
	reflector := grpcreflect.NewStaticReflector(names...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))

	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /health/ready", h.ready)
	mux.HandleFunc("GET /health/db", h.db)
	mux.HandleFunc("GET /health/env", h.env)
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	extra(mux)
	return mux, nil
}

// limitRequestBody refuses bodies over max before reading them, with a typed
// LimitExceeded error in the caller's protocol; bodies of unknown length are
// cut off at max while being read.
func limitRequestBody(next http.Handler, max int64) http.Handler {
	errorWriter := connect.NewErrorWriter(connect.WithRequireConnectProtocolHeader())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			err := apierror.PayloadTooLarge(&hivesyncv1.LimitExceeded{
				Limit:   hivesyncv1.Limit_LIMIT_REQUEST_SIZE,
				Max:     max,
				Actual:  r.ContentLength,
				Message: fmt.Sprintf("the request body is %d bytes; the server accepts at most %d", r.ContentLength, max),
			})
			if errorWriter.IsSupported(r) {
				_ = errorWriter.Write(w, r, err)
			} else {
				writeRESTError(w, err)
			}
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
		next.ServeHTTP(w, r)
	})
}

// writeRESTError writes err as vanguard does for REST routes: a google.rpc.Status
// JSON body with typed details and the HTTP status matching the code.
func writeRESTError(w http.ResponseWriter, err *connect.Error) {
	st := &status.Status{Code: int32(err.Code()), Message: err.Message()}
	for _, d := range err.Details() {
		if msg, derr := d.Value(); derr == nil {
			if a, aerr := anypb.New(msg); aerr == nil {
				st.Details = append(st.Details, a)
			}
		}
	}
	body, _ := protojson.Marshal(st)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus(err.Code()))
	_, _ = w.Write(body)
}

// httpStatus is the HTTP status of a Connect code, as in the Connect protocol.
func httpStatus(code connect.Code) int {
	switch code {
	case connect.CodeCanceled:
		return 499
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition, connect.CodeOutOfRange:
		return http.StatusBadRequest
	case connect.CodeDeadlineExceeded:
		return http.StatusGatewayTimeout
	case connect.CodeNotFound:
		return http.StatusNotFound
	case connect.CodeAlreadyExists, connect.CodeAborted:
		return http.StatusConflict
	case connect.CodePermissionDenied:
		return http.StatusForbidden
	case connect.CodeResourceExhausted:
		return http.StatusTooManyRequests
	case connect.CodeUnimplemented:
		return http.StatusNotImplemented
	case connect.CodeUnavailable:
		return http.StatusServiceUnavailable
	case connect.CodeUnauthenticated:
		return http.StatusUnauthorized
	default:
		return http.StatusInternalServerError
	}
}
