// Package redistest starts real, throw-away redis-server processes for
// tests: loopback only, a free port, no persistence, its own temporary
// directory, stopped when the test ends.
//
// A test that needs Redis calls Start; when redis-server is not installed
// the test skips with install instructions, or fails when CI=true (see
// harness.LookBinary). Stop and Restart let fault-injection tests kill
// Redis mid-test and bring it back on the same address.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transload/transload/platform/testharness/harness"
)

// InstallHint is the package-manager command that installs redis-server.
const InstallHint = "apt-get install -y redis-server"

// startTimeout bounds how long Start and Restart wait for PING to answer.
const startTimeout = 15 * time.Second

// portAttempts is how many free ports Start tries: FreePort cannot reserve
// a port, so a parallel test may take it before redis-server binds it.
const portAttempts = 5

// Server is one redis-server process owned by a test. Its methods are safe
// for concurrent use.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int

	mu   sync.Mutex
	proc *process
}

type process struct {
	cmd    *exec.Cmd
	out    *harness.Buffer
	exited chan struct{}
}

// Start starts a redis-server on a free loopback port, waits until it
// answers PING and registers a cleanup that stops it. It skips the test
// (outside CI) or fails it (CI=true) when redis-server is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := harness.LookBinary(t, "redis-server", InstallHint, "/usr/bin/redis-server", "/usr/local/bin/redis-server", "/opt/homebrew/bin/redis-server")
	s := &Server{t: t, bin: bin, dir: harness.ShortTempDir(t, "redis")}
	t.Cleanup(s.Stop)

	var errs []error
	for range portAttempts {
		s.port = harness.FreePort(t)
		err := s.start()
		if err == nil {
			return s
		}
		errs = append(errs, err)
	}
	t.Fatalf("redistest: start redis-server: %v", errors.Join(errs...))
	return nil
}

// Addr returns the server's host:port on 127.0.0.1. It stays the same
// across Stop and Restart.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Stop kills the server with SIGKILL, as a crash would, and waits for the
// process to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if s.proc == nil {
		return
	}
	_ = s.proc.cmd.Process.Kill()
	<-s.proc.exited
	s.proc = nil
}

// Restart starts the server again on the same port (killing it first if it
// is running) and waits until it answers PING. Data does not survive: the
// server has no persistence. It fails the test if Redis does not come back.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	s.stopLocked()
	s.mu.Unlock()
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: restart redis-server on %s: %v", s.Addr(), err)
	}
}

// start launches redis-server on s.port and waits for PING.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return errors.New("already running")
	}
	out := &harness.Buffer{}
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--logfile", "",
		"--loglevel", "warning",
	)
	cmd.Dir = s.dir
	cmd.Stdout = out
	cmd.Stderr = out
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec %s: %w", s.bin, err)
	}
	p := &process{cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for {
		if err := ping(ctx, s.Addr()); err == nil {
			s.proc = p
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("redis-server on port %d exited: %s", s.port, strings.TrimSpace(out.String()))
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-p.exited
			return fmt.Errorf("redis-server on port %d did not answer PING within %s: %s", s.port, startTimeout, strings.TrimSpace(out.String()))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// ping sends one inline PING and expects +PONG.
func ping(ctx context.Context, addr string) error {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	c, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("unexpected PING reply %q", line)
	}
	return nil
}
