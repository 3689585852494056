// Package redistest runs a real, throwaway redis-server for tests.
package redistest

import (
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"
)

// Server is a running redis-server.
type Server struct {
	URL string
	cmd *exec.Cmd
}

// Stop kills the server now (an outage).
func (s *Server) Stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// Start runs redis-server on a free loopback port until the test ends and
// returns its URL. It skips the test when redis-server is not installed
// (`make test` installs it).
func Start(t testing.TB) string { return StartServer(t).URL }

// StartServer is Start, returning the server so the test can stop it.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed here; `make test` installs it (apt-get install redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatalf("redistest: start redis-server: %v", err)
	}
	srv := &Server{cmd: cmd}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			_ = c.Close()
			srv.URL = fmt.Sprintf("redis://127.0.0.1:%d/0", port)
			return srv
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: redis-server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
