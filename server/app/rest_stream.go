package app

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/proto"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
)

// restExport serves the REST route of HistoryService.ExportHistory
// (POST /api/v1/projects/{project_id}/export/{format}) by calling the
// Connect handler in process, with the Connect streaming protocol, and
// writing each HttpBody chunk to the client as it comes. The transcoder would
// collect the whole body first (memory growing with the project), which
// defeats a streamed export. The call goes through the same handler, so the
// same interceptors (token, scopes, rate limits, logging) apply.
func restExport(connectHandler http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msg, _ := proto.Marshal(&hivesyncv1.ExportHistoryRequest{ProjectId: r.PathValue("project_id"), Format: r.PathValue("format")})
		frame := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg)))
		inner := r.Clone(r.Context())
		inner.Method = http.MethodPost
		inner.URL.Path = "/hivesync.v1.HistoryService/ExportHistory"
		inner.URL.RawQuery = ""
		inner.Body = io.NopCloser(bytes.NewReader(append(frame, msg...)))
		inner.ContentLength = int64(len(frame) + len(msg))
		inner.Header.Set("Content-Type", "application/connect+proto")
		inner.Header.Del("Content-Encoding")
		inner.Header.Del("Connect-Content-Encoding")
		inner.Header.Del("Connect-Accept-Encoding")
		inner.Header.Del("Accept-Encoding")
		out := &bodyStreamWriter{w: w, header: http.Header{}}
		connectHandler.ServeHTTP(out, inner)
		out.finish()
	})
}

// bodyStreamWriter receives a Connect server stream of HttpBody messages and
// writes their data to w: the first message's content type becomes the
// response's, and an error before any data becomes a REST error. An error
// after data was sent aborts the connection, so a client never mistakes a cut
// export for a whole one.
type bodyStreamWriter struct {
	w       http.ResponseWriter
	header  http.Header
	buf     []byte
	started bool
	done    bool
	failed  bool
}

func (b *bodyStreamWriter) Header() http.Header { return b.header }

func (b *bodyStreamWriter) WriteHeader(int) {}

func (b *bodyStreamWriter) Flush() {
	if f, ok := b.w.(http.Flusher); ok && b.started {
		f.Flush()
	}
}

func (b *bodyStreamWriter) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	for len(b.buf) >= 5 {
		size := int(binary.BigEndian.Uint32(b.buf[1:5]))
		if len(b.buf) < 5+size {
			break
		}
		flags, payload := b.buf[0], b.buf[5:5+size]
		if err := b.frame(flags, payload); err != nil {
			return 0, err
		}
		b.buf = b.buf[5+size:]
	}
	return len(p), nil
}

func (b *bodyStreamWriter) frame(flags byte, payload []byte) error {
	if flags&0x02 != 0 { // end of stream
		b.done = true
		var end struct {
			Error *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(payload, &end); err != nil || end.Error == nil {
			return nil
		}
		var code connect.Code
		if err := code.UnmarshalText([]byte(end.Error.Code)); err != nil {
			code = connect.CodeUnknown
		}
		b.fail(connect.NewError(code, errors.New(end.Error.Message)))
		return nil
	}
	chunk := &httpbody.HttpBody{}
	if err := proto.Unmarshal(payload, chunk); err != nil {
		b.fail(connect.NewError(connect.CodeInternal, errors.New("the export could not be encoded")))
		return err
	}
	if !b.started {
		b.started = true
		h := b.w.Header()
		h.Set("Content-Type", chunk.GetContentType())
		if cd := b.header.Get("Content-Disposition"); cd != "" {
			h.Set("Content-Disposition", cd)
		}
		h.Set("X-Content-Type-Options", "nosniff")
		b.w.WriteHeader(http.StatusOK)
	}
	_, err := b.w.Write(chunk.GetData())
	return err
}

func (b *bodyStreamWriter) fail(err *connect.Error) {
	if b.failed {
		return
	}
	b.failed = true
	if !b.started {
		b.started = true
		writeRESTError(b.w, err)
		return
	}
	panic(http.ErrAbortHandler) // headers are gone: cut the connection
}

// finish reports a stream that ended without its end frame (a broken
// handler) like any failure.
func (b *bodyStreamWriter) finish() {
	if !b.done && !b.failed {
		msg := "the export ended early"
		if ct := b.header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/connect") {
			msg = "the export could not start"
		}
		b.fail(connect.NewError(connect.CodeInternal, errors.New(msg)))
	}
}
