// Package pgcluster runs a private PostgreSQL cluster from the machine's own
// PostgreSQL binaries. `hivesyncd dev` uses it for a zero-configuration
// database that persists under HIVESYNC_DATA_DIR, and tests use it for a
// throwaway server. The postgres process is a child of ours: it listens only on
// 127.0.0.1, authenticates with a generated password, and stops when we stop
// (or when we die, through the parent-death signal).
//
// PostgreSQL refuses to run as root. When we are root, the cluster's files are
// owned by, and the server runs as, an unprivileged user ("postgres" when it
// exists, otherwise "nobody").
package pgcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoPostgres is returned when no PostgreSQL server binaries can be found.
var ErrNoPostgres = errors.New("no PostgreSQL server binaries found: install PostgreSQL 14+ " +
	"(Debian: apt-get install postgresql) or set HIVESYNC_DATABASE_URL to an existing database")

// Options configures a cluster.
type Options struct {
	// Dir holds the cluster: pgdata/, postgres.log and the superuser password.
	Dir string
	// BinDir is the directory with initdb and postgres; found when empty.
	BinDir string
	// Ephemeral trades durability for speed (fsync off, no initdb sync). Only
	// for tests: data written with it may be lost on a crash.
	Ephemeral bool
	// MaxConnections is the server's max_connections; 100 when zero.
	MaxConnections int
	// Log receives lifecycle messages; discarded when nil.
	Log *slog.Logger
}

// Cluster is a running PostgreSQL server.
type Cluster struct {
	opts     Options
	binDir   string
	port     int
	password string
	cred     *syscall.Credential
	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error
}

const superuser = "postgres"

// FindBinaries returns the directory holding initdb and postgres: from PATH,
// then `pg_config --bindir`, then the newest /usr/lib/postgresql/*/bin.
func FindBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if isFile(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if isFile(filepath.Join(dir, "initdb")) && isFile(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	for _, dir := range matches {
		if isFile(filepath.Join(dir, "initdb")) && isFile(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", ErrNoPostgres
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// Start initializes the cluster if Dir holds none yet, then starts the server
// on a free loopback port and waits until it accepts connections.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = 100
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("resolve cluster dir: %w", err)
	}
	opts.Dir = dir
	c := &Cluster{opts: opts, binDir: opts.BinDir}
	if c.binDir == "" {
		if c.binDir, err = FindBinaries(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cluster dir: %w", err)
	}
	if os.Geteuid() == 0 {
		if c.cred, err = unprivilegedCredential(); err != nil {
			return nil, err
		}
		if err := checkReachable(dir, c.cred); err != nil {
			return nil, err
		}
	}
	if err := c.initIfNeeded(ctx); err != nil {
		return nil, err
	}
	pw, err := os.ReadFile(c.passwordFile())
	if err != nil {
		return nil, fmt.Errorf("read cluster password: %w", err)
	}
	c.password = strings.TrimSpace(string(pw))

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if lastErr = c.start(ctx); lastErr == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func (c *Cluster) dataDir() string      { return filepath.Join(c.opts.Dir, "pgdata") }
func (c *Cluster) passwordFile() string { return filepath.Join(c.opts.Dir, "superuser.password") }
func (c *Cluster) logFile() string      { return filepath.Join(c.opts.Dir, "postgres.log") }

func (c *Cluster) initIfNeeded(ctx context.Context) error {
	if isFile(filepath.Join(c.dataDir(), "PG_VERSION")) {
		return nil
	}
	c.opts.Log.InfoContext(ctx, "initializing private postgres cluster", slog.String("dir", c.dataDir()))
	if err := os.RemoveAll(c.dataDir()); err != nil {
		return fmt.Errorf("clear incomplete cluster: %w", err)
	}
	if err := os.Mkdir(c.dataDir(), 0o700); err != nil {
		return fmt.Errorf("create pgdata: %w", err)
	}
	password := randomHex(24)
	// initdb reads the password from a file the server user can read; it is
	// removed right after. Our own copy is readable only by us.
	initPw := filepath.Join(c.opts.Dir, ".initdb-password")
	if err := os.WriteFile(initPw, []byte(password+"\n"), 0o600); err != nil {
		return fmt.Errorf("write initdb password: %w", err)
	}
	defer func() { _ = os.Remove(initPw) }()
	if err := c.chown(c.dataDir(), initPw); err != nil {
		return err
	}
	args := []string{
		"-D", c.dataDir(), "-U", superuser, "--pwfile=" + initPw,
		"--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-instructions",
	}
	if c.opts.Ephemeral {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, "initdb"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w: %s", err, strings.TrimSpace(string(out)))
	}
	if err := os.WriteFile(c.passwordFile(), []byte(password+"\n"), 0o600); err != nil {
		return fmt.Errorf("write cluster password: %w", err)
	}
	return nil
}

func (c *Cluster) start(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	c.port = port
	logf, err := os.OpenFile(c.logFile(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open postgres log: %w", err)
	}
	args := []string{
		"-D", c.dataDir(),
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "max_connections=" + strconv.Itoa(c.opts.MaxConnections),
	}
	if c.opts.Ephemeral {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(c.binDir, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: c.cred,
		// Own process group: a terminal's Ctrl-C reaches us, and we stop
		// postgres in order. If we die, postgres gets a fast shutdown.
		Setpgid:   true,
		Pdeathsig: syscall.SIGINT,
	}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	c.cmd = cmd
	c.exited = make(chan struct{})
	go func() {
		c.waitErr = cmd.Wait()
		_ = logf.Close()
		close(c.exited)
	}()
	if err := c.waitReady(ctx); err != nil {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		<-c.exited
		return err
	}
	c.opts.Log.InfoContext(ctx, "private postgres ready", slog.Int("port", port), slog.String("dir", c.dataDir()))
	return nil
}

func (c *Cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err == nil {
			_ = conn.Close(ctx)
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("postgres exited during startup (%w); see %s: %s", c.waitErr, c.logFile(), tail(c.logFile()))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within 60s: %w", err)
		}
	}
}

// URL returns a connection URL for database name as the superuser.
func (c *Cluster) URL(name string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(superuser, c.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + name,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port is the TCP port the server listens on.
func (c *Cluster) Port() int { return c.port }

// Password is the superuser password.
func (c *Cluster) Password() string { return c.password }

// Exited is closed when the server process ends, expectedly or not.
func (c *Cluster) Exited() <-chan struct{} { return c.exited }

// EnsureDatabase creates database name when it does not exist yet.
func (c *Cluster) EnsureDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("connect to cluster: %w", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// Stop shuts the server down (fast shutdown: open transactions roll back,
// committed data is kept) and waits for it, escalating to an immediate
// shutdown if ctx ends first.
func (c *Cluster) Stop(ctx context.Context) error {
	if c.cmd == nil {
		return nil
	}
	select {
	case <-c.exited:
		return nil
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.exited:
		c.opts.Log.InfoContext(ctx, "private postgres stopped")
		return nil
	case <-ctx.Done():
		_ = c.cmd.Process.Signal(syscall.SIGQUIT)
		<-c.exited
		return fmt.Errorf("postgres did not stop in time; sent immediate shutdown: %w", ctx.Err())
	}
}

// Crash stops the server the way a power cut looks to its clients: an
// immediate shutdown, with no checkpoint, so the next Start recovers from the
// write-ahead log. It is for crash-safety tests.
func (c *Cluster) Crash() {
	if c.cmd == nil {
		return
	}
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGQUIT)
	<-c.exited
}

func (c *Cluster) chown(paths ...string) error {
	if c.cred == nil {
		return nil
	}
	for _, p := range paths {
		if err := os.Chown(p, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("hand %s to the postgres user: %w", p, err)
		}
	}
	return nil
}

func unprivilegedCredential() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("running as root, but no unprivileged user (postgres or nobody) exists to run PostgreSQL as")
}

// checkReachable verifies that the server user can traverse every directory
// above dir; dir itself is made traversable.
func checkReachable(dir string, cred *syscall.Credential) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("make %s traversable: %w", dir, err)
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		sys, _ := st.Sys().(*syscall.Stat_t)
		mode := st.Mode().Perm()
		ok := mode&0o001 != 0 ||
			(sys != nil && sys.Uid == cred.Uid && mode&0o100 != 0) ||
			(sys != nil && sys.Gid == cred.Gid && mode&0o010 != 0)
		if !ok {
			return fmt.Errorf("postgres runs as uid %d and cannot enter %s (mode %v): choose a data directory "+
				"under a world-traversable path (HIVESYNC_DATA_DIR) or set HIVESYNC_DATABASE_URL", cred.Uid, p, mode)
		}
		if p == "/" {
			return nil
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// Attach returns the cluster in opts.Dir: the server already running there
// (started by another process, such as `hivesyncd dev`) when there is one,
// otherwise a newly started one. Stop only stops a server Attach started.
func Attach(ctx context.Context, opts Options) (*Cluster, error) {
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("resolve cluster dir: %w", err)
	}
	c := &Cluster{opts: opts}
	c.opts.Dir = dir
	if port, ok := runningPort(c.dataDir()); ok {
		pw, err := os.ReadFile(c.passwordFile())
		if err != nil {
			return nil, fmt.Errorf("read cluster password: %w", err)
		}
		c.port, c.password = port, strings.TrimSpace(string(pw))
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err == nil {
			_ = conn.Close(ctx)
			return c, nil
		}
	}
	return Start(ctx, opts)
}

// runningPort reads the port of a live server from postmaster.pid.
func runningPort(dataDir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 4 {
		return 0, false
	}
	pid, err1 := strconv.Atoi(strings.TrimSpace(lines[0]))
	port, err2 := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err1 != nil || err2 != nil || syscall.Kill(pid, 0) != nil {
		return 0, false
	}
	return port, true
}
