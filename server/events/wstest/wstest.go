// Package wstest is a test client of the /api/v1/ws event stream speaking
// the JSON subprotocol, shared by the server's and hivesyncd's tests.
package wstest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/events"
)

// Client is one socket; each method fails the test on error.
type Client struct {
	T    testing.TB
	Conn *websocket.Conn
}

// Dial opens baseURL's event stream (http:// base) with the JSON
// subprotocol unless others are named; the socket closes when the test ends.
func Dial(t testing.TB, baseURL string, protocols ...string) *Client {
	t.Helper()
	return DialHeader(t, baseURL, nil, protocols...)
}

// DialHeader is Dial with extra request headers.
func DialHeader(t testing.TB, baseURL string, header http.Header, protocols ...string) *Client {
	t.Helper()
	if len(protocols) == 0 {
		protocols = []string{events.SubprotocolJSON}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, strings.Replace(baseURL, "http://", "ws://", 1)+"/api/v1/ws",
		&websocket.DialOptions{Subprotocols: protocols, HTTPHeader: header})
	require.NoError(t, err)
	if resp.Body != nil {
		_ = resp.Body.Close()
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return &Client{T: t, Conn: c}
}

// Send writes one event.
func (w *Client) Send(ev *hivesyncv1.Event) {
	w.T.Helper()
	b, err := protojson.Marshal(ev)
	require.NoError(w.T, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(w.T, w.Conn.Write(ctx, websocket.MessageText, b))
}

// Next reads the next event, failing the test after a timeout.
func (w *Client) Next() *hivesyncv1.Event {
	w.T.Helper()
	ev, err := w.Read(10 * time.Second)
	require.NoError(w.T, err)
	return ev
}

// Read reads the next event within timeout.
func (w *Client) Read(timeout time.Duration) (*hivesyncv1.Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, b, err := w.Conn.Read(ctx)
	if err != nil {
		return nil, err
	}
	ev := &hivesyncv1.Event{}
	return ev, protojson.Unmarshal(b, ev)
}

// Closed reads until the server closes and returns the close status.
func (w *Client) Closed() websocket.StatusCode {
	w.T.Helper()
	for range 100000 {
		_, err := w.Read(15 * time.Second)
		if err != nil {
			return websocket.CloseStatus(err)
		}
	}
	w.T.Fatal("the socket was never closed")
	return 0
}

// Login authenticates and waits for ready.
func (w *Client) Login(token string) *hivesyncv1.ReadyEvent {
	w.T.Helper()
	w.Send(&hivesyncv1.Event{Payload: &hivesyncv1.Event_Auth{Auth: &hivesyncv1.AuthEvent{Token: token}}})
	ev := w.Next()
	require.Equal(w.T, "ready", ev.GetEventType(), "%v", ev)
	return ev.GetReady()
}

// Subscribe joins channels, waits for the acknowledgement and returns the
// position each channel starts after.
func (w *Client) Subscribe(positions ...*hivesyncv1.ChannelPosition) map[string]int64 {
	w.T.Helper()
	id := fmt.Sprintf("sub-%d", time.Now().UnixNano())
	w.Send(&hivesyncv1.Event{Id: id, Payload: &hivesyncv1.Event_Subscribe{Subscribe: &hivesyncv1.SubscribeEvent{Channels: positions}}})
	ev := w.Next()
	require.Equal(w.T, "ack", ev.GetEventType(), "%v", ev)
	require.Equal(w.T, id, ev.GetAck().GetEventId())
	out := map[string]int64{}
	for _, p := range ev.GetAck().GetPositions() {
		out[p.GetChannel()] = p.GetLastSequence()
	}
	require.Len(w.T, out, len(positions))
	return out
}

// At is a channel position: resume after last (-1: from now on).
func At(channel string, last int64) *hivesyncv1.ChannelPosition {
	return &hivesyncv1.ChannelPosition{Channel: channel, LastSequence: last}
}
