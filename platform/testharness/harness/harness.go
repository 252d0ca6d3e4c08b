// Package harness holds the small helpers shared by the test servers that
// Transload's integration tests start for themselves (Redis, PostgreSQL,
// NATS): free loopback ports, locating server binaries with one policy for
// a missing binary, CI detection and TCP readiness.
//
// The policy for a missing server binary is the project's testing rule:
// outside CI a test skips with a message saying exactly how to install the
// server; with CI=true a missing server fails the test, so a CI run can
// never pass by silently skipping its integration tests.
package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// InstallHintMakeTest is the first half of every install hint: `make test`
// runs deploy/scripts/ensure-test-servers.sh before the tests.
const InstallHintMakeTest = "run `make test` (it installs the test servers via deploy/scripts/ensure-test-servers.sh)"

// InCI reports whether the tests run in continuous integration, that is
// whether the CI environment variable is set to a true value ("true", "1",
// "yes", case-insensitive). Most CI systems set CI=true.
func InCI() bool {
	v := strings.TrimSpace(strings.ToLower(os.Getenv("CI")))
	switch v {
	case "true", "1", "yes", "on":
		return true
	}
	if b, err := strconv.ParseBool(v); err == nil {
		return b
	}
	return false
}

// FreePort returns a TCP port on 127.0.0.1 that was free when it was
// picked. The port is released before FreePort returns, so another process
// could take it in between; servers started on it should be retried on a
// new port if they fail to bind.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("harness: pick a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatalf("harness: release port %d: %v", port, err)
	}
	return port
}

// FindBinary looks for the executable name on PATH and then in the
// candidate paths, which may be glob patterns (for example
// "/usr/lib/postgresql/*/bin/initdb"). When a glob matches several files
// the lexically greatest wins, which for versioned directories of the same
// width is the newest. It returns "" when nothing executable is found.
func FindBinary(name string, candidates ...string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, c := range candidates {
		matches, err := filepath.Glob(c)
		if err != nil {
			continue
		}
		sort.Sort(sort.Reverse(sort.StringSlice(matches)))
		for _, m := range matches {
			if isExecutable(m) {
				return m
			}
		}
	}
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || fi.IsDir() {
		return false
	}
	return fi.Mode().Perm()&0o111 != 0
}

// LookBinary returns the path of the server binary name, found on PATH or
// in the candidate paths (glob patterns allowed, see FindBinary). When it
// is missing, LookBinary stops the test: with CI=true it fails (t.Fatalf),
// otherwise it skips (t.Skipf). Both messages tell how to install the
// binary: `make test` or, when installHint is not empty, installHint (for
// example "apt-get install -y redis-server").
func LookBinary(t testing.TB, name string, installHint string, candidates ...string) string {
	t.Helper()
	if p := FindBinary(name, candidates...); p != "" {
		return p
	}
	msg := MissingBinaryMessage(name, installHint)
	if InCI() {
		t.Fatalf("%s (CI=true: a missing test server is a failure, not a skip)", msg)
	}
	t.Skipf("%s", msg)
	return ""
}

// MissingBinaryMessage is the message LookBinary reports for a missing
// server binary; exported so that other harnesses report the same words.
func MissingBinaryMessage(name, installHint string) string {
	how := InstallHintMakeTest
	if installHint != "" {
		how += " or `" + installHint + "`"
	}
	return fmt.Sprintf("%s not found on PATH: %s", name, how)
}

// WaitTCP waits until a TCP connection to addr succeeds or ctx is done,
// retrying with a short pause. It returns the last dial error joined with
// the context error when ctx ends first.
func WaitTCP(ctx context.Context, addr string) error {
	var d net.Dialer
	var last error
	for {
		dctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		c, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			return c.Close()
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("harness: wait for %s: %w", addr, errors.Join(ctx.Err(), last))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// ShortTempDir returns a fresh directory under os.TempDir with a short
// name, removed when the test ends; fit for Unix sockets, whose paths are
// limited to about 100 bytes.
func ShortTempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatalf("harness: make temp dir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
