package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// healthWS is /health/ws. Opened as a WebSocket, it echoes one message (at
// most 4 KiB) and closes: a monitor's end-to-end check through load
// balancers and proxies. Fetched as plain HTTP, the node opens such a socket
// to itself and reports whether a random payload came back.
func (a *App) healthWS(w http.ResponseWriter, r *http.Request) {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		echoOnce(w, r)
		return
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "error": "no local address"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	payload := make([]byte, 16)
	_, _ = rand.Read(payload)
	want := hex.EncodeToString(payload)
	fail := func(err error) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "error": err.Error()})
	}
	c, resp, err := websocket.Dial(ctx, "ws://"+local.String()+"/health/ws", nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		fail(err)
		return
	}
	defer func() { _ = c.CloseNow() }()
	if err := c.Write(ctx, websocket.MessageText, []byte(want)); err != nil {
		fail(err)
		return
	}
	_, got, err := c.Read(ctx)
	if err != nil {
		fail(err)
		return
	}
	if !bytes.Equal(got, []byte(want)) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "error": "the echo did not match"})
		return
	}
	_ = c.Close(websocket.StatusNormalClosure, "")
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "round_trip_ms": time.Since(start).Milliseconds()})
}

// echoOnce serves the WebSocket side of /health/ws.
func echoOnce(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer func() { _ = c.CloseNow() }()
	c.SetReadLimit(4 << 10)
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	typ, msg, err := c.Read(ctx)
	if err != nil {
		return
	}
	if err := c.Write(ctx, typ, msg); err != nil {
		return
	}
	_ = c.Close(websocket.StatusNormalClosure, "")
}
