package bench

// The WebSocket client swarm of the realtime benchmarks (ws_bench_test.go).
//
// Ten thousand client sockets and the ten thousand server sockets they talk
// to do not fit under this machine's open-file limit (20,000) in one
// process, and clients reading in the server's process would also charge
// their allocations to the server. So the clients live in a child process:
// this test binary re-executed with swarmEnv set, which init turns into the
// swarm before the testing package (or storetest, which would start a
// Postgres cluster) runs. The benchmark drives it with one JSON command per
// request on the child's stdin and reads one JSON reply per command from its
// stdout; the child's stderr is the benchmark's.
//
// Timing across the two processes uses wall-clock UnixNano on the same
// machine: the benchmark sends the time it published, and the swarm answers
// with latencies measured against it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/proto"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/events"
)

// swarmEnv switches the test binary into the client swarm.
const swarmEnv = "HIVESYNC_BENCH_WS_SWARM"

func init() {
	if os.Getenv(swarmEnv) != "1" {
		return
	}
	raiseFileLimit()
	os.Exit(runSwarm(os.Stdin, os.Stdout))
}

// raiseFileLimit lifts the soft open-file limit to the hard one and returns
// it. (Go raises it at start-up too; this makes the requirement explicit.)
func raiseFileLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r)
	}
	return r.Cur
}

// swarmCmd is one request to the swarm.
type swarmCmd struct {
	// Op is dial, arm, wait, stall, unstall, drop (one client), close (all)
	// or storm.
	Op string `json:"op"`
	// URL is the WebSocket endpoint (dial, storm).
	URL string `json:"url,omitempty"`
	// Plain clients only connect and read (the baseline server speaks no
	// protocol); the others authenticate and subscribe like an SDK.
	Plain bool `json:"plain,omitempty"`
	// Clients are the sockets to open (dial, storm), one entry each.
	Clients []clientSpec `json:"clients,omitempty"`
	// SmallRcvBuf dials with a 4 KiB socket receive buffer, so a client that
	// stops reading backs up into the server's writes quickly.
	SmallRcvBuf bool `json:"small_rcvbuf,omitempty"`
	// Index is the client to stall or unstall.
	Index int `json:"index,omitempty"`
	// T0 is when the armed frame was published (wait), UnixNano.
	T0 int64 `json:"t0,omitempty"`
	// Spread is the window over which a storm's reconnects start.
	Spread time.Duration `json:"spread,omitempty"`
	// Missed is how many events each storm client must be replayed.
	Missed int `json:"missed,omitempty"`
}

// clientSpec is one client: its access token and the channel it subscribes
// to after the sequence it last saw (-1: from now on).
type clientSpec struct {
	Token   string `json:"token,omitempty"`
	Channel string `json:"channel,omitempty"`
	Last    int64  `json:"last"`
}

// swarmReply answers a command; Err is set when it failed.
type swarmReply struct {
	Err     string `json:"err,omitempty"`
	Clients int    `json:"clients"`
	// wait: over the clients waited for, the latency from T0 to each one's
	// receipt of the armed frame: the last one, the median and the 99th
	// percentile.
	LastNs int64 `json:"last_ns,omitempty"`
	P50Ns  int64 `json:"p50_ns,omitempty"`
	P99Ns  int64 `json:"p99_ns,omitempty"`
	// storm: when it started, when the last reconnect began, when the last
	// client had all its missed events (UnixNano), and per-client times
	// from its own reconnect to caught up.
	StartNs    int64 `json:"start_ns,omitempty"`
	LastDialNs int64 `json:"last_dial_ns,omitempty"`
	DoneNs     int64 `json:"done_ns,omitempty"`
	// unstall: frames the stalled client received in all, and the close
	// status the server ended it with (0: still open).
	Frames    int64 `json:"frames,omitempty"`
	CloseCode int   `json:"close_code,omitempty"`
}

type swarm struct {
	mu      sync.Mutex
	clients []*swarmClient
	// remaining counts the armed clients that have not yet received the
	// armed frame; the reader that brings it to zero closes done.
	remaining atomic.Int64
	done      atomic.Pointer[chan struct{}]
}

type swarmClient struct {
	c       *websocket.Conn
	frames  atomic.Int64 // data frames received since the handshake
	lastNs  atomic.Int64 // when the latest one arrived
	want    atomic.Int64 // the frame count that completes the armed broadcast (0: not armed)
	stalled atomic.Bool
	unstall chan struct{}
	code    atomic.Int64 // close status once the socket ended
	ended   chan struct{}
}

func runSwarm(in io.Reader, out io.Writer) int {
	sw := &swarm{}
	dec, enc := json.NewDecoder(in), json.NewEncoder(out)
	for {
		var cmd swarmCmd
		if err := dec.Decode(&cmd); err != nil {
			sw.closeAll()
			if errors.Is(err, io.EOF) {
				return 0
			}
			fmt.Fprintln(os.Stderr, "swarm:", err)
			return 1
		}
		reply, err := sw.do(cmd)
		if err != nil {
			reply.Err = err.Error()
		}
		if err := enc.Encode(reply); err != nil {
			fmt.Fprintln(os.Stderr, "swarm:", err)
			return 1
		}
	}
}

func (sw *swarm) do(cmd swarmCmd) (swarmReply, error) {
	switch cmd.Op {
	case "dial":
		return sw.dial(cmd)
	case "arm":
		return sw.arm(), nil
	case "wait":
		return sw.wait(cmd.T0)
	case "stall":
		cl, err := sw.client(cmd.Index)
		if err != nil {
			return swarmReply{}, err
		}
		cl.stalled.Store(true)
		return swarmReply{}, nil
	case "unstall":
		return sw.unstall(cmd.Index)
	case "drop":
		cl, err := sw.client(cmd.Index)
		if err != nil {
			return swarmReply{}, err
		}
		_ = cl.c.CloseNow()
		if cl.stalled.Swap(false) {
			close(cl.unstall)
		}
		<-cl.ended
		return swarmReply{}, nil
	case "close":
		return swarmReply{Clients: sw.closeAll()}, nil
	case "storm":
		return sw.storm(cmd)
	}
	return swarmReply{}, fmt.Errorf("unknown op %q", cmd.Op)
}

func (sw *swarm) client(i int) (*swarmClient, error) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if i < 0 || i >= len(sw.clients) {
		return nil, fmt.Errorf("no client %d", i)
	}
	return sw.clients[i], nil
}

// httpClient dials plain loopback TCP, or with a small receive buffer.
func httpClient(smallRcvBuf bool) *http.Client {
	d := &net.Dialer{Timeout: 30 * time.Second}
	if smallRcvBuf {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// dial opens the command's clients, 32 at a time, and starts their readers.
func (sw *swarm) dial(cmd swarmCmd) (swarmReply, error) {
	hc := httpClient(cmd.SmallRcvBuf)
	conns := make([]*swarmClient, len(cmd.Clients))
	var (
		next     atomic.Int64
		firstErr error
		errMu    sync.Mutex
		wg       sync.WaitGroup
	)
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(cmd.Clients) {
					return
				}
				c, err := handshake(hc, cmd.URL, cmd.Plain, cmd.Clients[i])
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("client %d: %w", i, err)
					}
					errMu.Unlock()
					return
				}
				conns[i] = &swarmClient{c: c, unstall: make(chan struct{}), ended: make(chan struct{})}
			}
		})
	}
	wg.Wait()
	sw.mu.Lock()
	for _, cl := range conns {
		if cl != nil {
			sw.clients = append(sw.clients, cl)
			go sw.read(cl)
		}
	}
	n := len(sw.clients)
	sw.mu.Unlock()
	return swarmReply{Clients: n}, firstErr
}

// handshake connects one client. A HiveSync client authenticates, waits for
// ready, subscribes to its channel and waits for the acknowledgement, as
// the SDKs do, speaking the binary subprotocol.
func handshake(hc *http.Client, url string, plain bool, spec clientSpec) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc, Subprotocols: []string{events.SubprotocolBinary}})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	if plain {
		return c, nil
	}
	if err := login(ctx, c, spec); err != nil {
		_ = c.CloseNow()
		return nil, err
	}
	return c, nil
}

func login(ctx context.Context, c *websocket.Conn, spec clientSpec) error {
	if err := writeEvent(ctx, c, &hivesyncv1.Event{Payload: &hivesyncv1.Event_Auth{Auth: &hivesyncv1.AuthEvent{Token: spec.Token}}}); err != nil {
		return err
	}
	if _, err := expect(ctx, c, "ready", ""); err != nil {
		return err
	}
	if err := writeEvent(ctx, c, &hivesyncv1.Event{Id: "sub", Payload: &hivesyncv1.Event_Subscribe{Subscribe: &hivesyncv1.SubscribeEvent{
		Channels: []*hivesyncv1.ChannelPosition{{Channel: spec.Channel, LastSequence: spec.Last}},
	}}}); err != nil {
		return err
	}
	_, err := expect(ctx, c, "ack", "sub")
	return err
}

func writeEvent(ctx context.Context, c *websocket.Conn, ev *hivesyncv1.Event) error {
	b, err := proto.Marshal(ev)
	if err != nil {
		return err
	}
	return c.Write(ctx, websocket.MessageBinary, b)
}

func readEvent(ctx context.Context, c *websocket.Conn) (*hivesyncv1.Event, error) {
	_, b, err := c.Read(ctx)
	if err != nil {
		return nil, err
	}
	ev := &hivesyncv1.Event{}
	return ev, proto.Unmarshal(b, ev)
}

// expect reads the next event and checks its type (and, for an ack, which
// frame it acknowledges).
func expect(ctx context.Context, c *websocket.Conn, typ, ackOf string) (*hivesyncv1.Event, error) {
	ev, err := readEvent(ctx, c)
	if err != nil {
		return nil, err
	}
	if ev.GetEventType() != typ || (ackOf != "" && ev.GetAck().GetEventId() != ackOf) {
		return nil, fmt.Errorf("expected %s, got %v", typ, ev)
	}
	return ev, nil
}

// read counts a client's data frames without decoding them (the frame is
// the same for every client; decoding 10,000 copies would only load the
// machine the server shares), and stops reading while the client is
// stalled.
func (sw *swarm) read(cl *swarmClient) {
	defer close(cl.ended)
	for {
		_, r, err := cl.c.Reader(context.Background())
		if err == nil {
			_, err = io.Copy(io.Discard, r)
		}
		if err != nil {
			cl.code.Store(int64(websocket.CloseStatus(err)))
			return
		}
		cl.lastNs.Store(time.Now().UnixNano())
		if cl.frames.Add(1) == cl.want.Load() && sw.remaining.Add(-1) == 0 {
			close(*sw.done.Load())
		}
		if cl.stalled.Load() {
			<-cl.unstall
		}
	}
}

// arm makes the next frame each open, unstalled client receives the one
// wait measures.
func (sw *swarm) arm() swarmReply {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	done := make(chan struct{})
	sw.done.Store(&done)
	n := 0
	for _, cl := range sw.clients {
		cl.want.Store(0)
		if cl.stalled.Load() || isClosed(cl.ended) {
			continue
		}
		cl.want.Store(cl.frames.Load() + 1)
		n++
	}
	sw.remaining.Store(int64(n))
	if n == 0 {
		close(done)
	}
	return swarmReply{Clients: n}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// wait returns once every armed client has the armed frame, with the
// latencies from t0.
func (sw *swarm) wait(t0 int64) (swarmReply, error) {
	select {
	case <-*sw.done.Load():
	case <-time.After(60 * time.Second):
		return swarmReply{}, fmt.Errorf("%d clients did not receive the frame within 60 s", sw.remaining.Load())
	}
	sw.mu.Lock()
	lat := make([]int64, 0, len(sw.clients))
	for _, cl := range sw.clients {
		if cl.want.Load() != 0 {
			lat = append(lat, cl.lastNs.Load()-t0)
		}
	}
	sw.mu.Unlock()
	if len(lat) == 0 {
		return swarmReply{}, nil
	}
	slices.Sort(lat)
	return swarmReply{Clients: len(lat), LastNs: lat[len(lat)-1], P50Ns: percentile(lat, 0.50), P99Ns: percentile(lat, 0.99)}, nil
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// unstall lets a stalled client read again and reports what it got once
// it has drained what the server had sent it (or the server's close).
func (sw *swarm) unstall(i int) (swarmReply, error) {
	cl, err := sw.client(i)
	if err != nil {
		return swarmReply{}, err
	}
	if cl.stalled.Swap(false) {
		close(cl.unstall)
	}
	for last := int64(-1); ; {
		select {
		case <-cl.ended:
			return swarmReply{Frames: cl.frames.Load(), CloseCode: int(cl.code.Load())}, nil
		case <-time.After(time.Second):
		}
		if n := cl.frames.Load(); n == last {
			return swarmReply{Frames: n}, nil
		} else {
			last = n
		}
	}
}

// closeAll drops every client (no close handshake, like a lost network)
// and waits for their readers.
func (sw *swarm) closeAll() int {
	sw.mu.Lock()
	clients := sw.clients
	sw.clients = nil
	sw.mu.Unlock()
	for _, cl := range clients {
		_ = cl.c.CloseNow()
		if cl.stalled.Swap(false) {
			close(cl.unstall)
		}
	}
	for _, cl := range clients {
		<-cl.ended
	}
	return len(clients)
}

// storm reconnects the command's clients, their starts spread evenly over
// Spread; each resumes its channel from its last sequence and must be
// replayed exactly the Missed events after it. The reply says when the
// last one had them all.
func (sw *swarm) storm(cmd swarmCmd) (swarmReply, error) {
	hc := httpClient(false)
	n := len(cmd.Clients)
	start := time.Now()
	type result struct {
		cl          *swarmClient
		began, done int64
		err         error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i, spec := range cmd.Clients {
		wg.Go(func() {
			time.Sleep(time.Until(start.Add(time.Duration(int64(cmd.Spread) * int64(i) / int64(n)))))
			began := time.Now().UnixNano()
			c, err := resume(hc, cmd.URL, spec, cmd.Missed)
			results[i] = result{began: began, done: time.Now().UnixNano(), err: err}
			if err == nil {
				results[i].cl = &swarmClient{c: c, unstall: make(chan struct{}), ended: make(chan struct{})}
			}
		})
	}
	wg.Wait()
	reply := swarmReply{StartNs: start.UnixNano()}
	var firstErr error
	failed := 0
	sw.mu.Lock()
	for i, r := range results {
		reply.LastDialNs = max(reply.LastDialNs, r.began)
		if r.err != nil {
			failed++
			if firstErr == nil {
				firstErr = fmt.Errorf("client %d: %w", i, r.err)
			}
			continue
		}
		reply.DoneNs = max(reply.DoneNs, r.done)
		sw.clients = append(sw.clients, r.cl)
		go sw.read(r.cl)
	}
	reply.Clients = len(sw.clients)
	sw.mu.Unlock()
	if firstErr != nil {
		return reply, fmt.Errorf("%d of %d reconnects failed; first: %w", failed, n, firstErr)
	}
	return reply, nil
}

// resume reconnects one client and reads the events it missed, checking
// they are exactly the next ones on its channel.
func resume(hc *http.Client, url string, spec clientSpec, missed int) (*websocket.Conn, error) {
	c, err := handshake(hc, url, false, spec)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for want := spec.Last + 1; want <= spec.Last+int64(missed); {
		ev, err := readEvent(ctx, c)
		if err != nil {
			_ = c.CloseNow()
			return nil, fmt.Errorf("waiting for sequence %d: %w", want, err)
		}
		if ev.GetChannel() != spec.Channel {
			continue // the broadcast channel, say
		}
		if ev.GetSequence() != want {
			_ = c.CloseNow()
			return nil, fmt.Errorf("expected sequence %d on %s, got %v", want, spec.Channel, ev)
		}
		want++
	}
	return c, nil
}
