package bench

import (
	"bytes"
	"io"
	"net/http"
)

// oneWrite is the benchmark clients' transport: it sends a unary request's
// headers and body in one write, as the SDKs' HTTP clients do (OkHttp
// buffers both and flushes once; Node's undici corks the socket around
// them). Go's net/http flushes the headers on their own when it cannot tell
// the body is already in memory, and connect-go's unary body is its own
// type, so each request would reach the server in two segments: a second
// read, and often a second wake-up, on the server for every call.
type oneWrite struct{ next http.RoundTripper }

// oneWriteMax is the largest body sent with its headers (HTTP/1.1's write
// buffer is 4 KB; larger bodies go out in their own writes anyway).
const oneWriteMax = 3 << 10

func (t oneWrite) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength <= 0 || r.ContentLength > oneWriteMax {
		return t.next.RoundTrip(r)
	}
	body := make([]byte, r.ContentLength)
	_, err := io.ReadFull(r.Body, body)
	_ = r.Body.Close()
	if err != nil {
		return nil, err
	}
	// A RoundTripper must not change the caller's request: send a copy.
	copied := *r
	copied.Body = io.NopCloser(bytes.NewReader(body))
	copied.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return t.next.RoundTrip(&copied)
}
