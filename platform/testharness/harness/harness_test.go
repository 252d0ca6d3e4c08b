package harness

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a testing.TB that records Fatalf/Skipf instead of acting on
// them, so the missing-binary policy can be observed. Both end the calling
// goroutine like the real ones.
type recorder struct {
	testing.TB
	mu      sync.Mutex
	fatal   string
	skipped string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = format
	if len(args) > 0 {
		r.fatal = sprintf(format, args...)
	}
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.mu.Lock()
	r.skipped = sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func sprintf(format string, args ...any) string {
	var b strings.Builder
	b.WriteString(format)
	for _, a := range args {
		if s, ok := a.(string); ok {
			b.WriteString(" ")
			b.WriteString(s)
		}
	}
	return b.String()
}

// run calls f in its own goroutine (so Goexit only ends that goroutine).
func run(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

func TestInCI(t *testing.T) {
	for _, tc := range []struct {
		val  string
		want bool
	}{
		{"true", true}, {"TRUE", true}, {"1", true}, {"yes", true},
		{"", false}, {"false", false}, {"0", false}, {"nope", false},
	} {
		t.Run(strconv.Quote(tc.val), func(t *testing.T) {
			t.Setenv("CI", tc.val)
			if got := InCI(); got != tc.want {
				t.Errorf("CI=%q: InCI() = %v, want %v", tc.val, got, tc.want)
			}
		})
	}
}

func TestFreePortIsBindable(t *testing.T) {
	t.Parallel()
	port := FreePort(t)
	if port <= 0 || port > 65535 {
		t.Fatalf("FreePort() = %d", port)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("listen on free port %d: %v", port, err)
	}
	_ = l.Close()
}

func writeExecutable(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestFindBinaryGlobPicksNewest(t *testing.T) {
	dir := t.TempDir()
	writeExecutable(t, filepath.Join(dir, "15", "bin", "fake-initdb"))
	writeExecutable(t, filepath.Join(dir, "17", "bin", "fake-initdb"))
	// Not executable: must be ignored even though it sorts last.
	if err := os.MkdirAll(filepath.Join(dir, "18", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "18", "bin", "fake-initdb"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	got := FindBinary("fake-initdb", filepath.Join(dir, "*", "bin", "fake-initdb"))
	want := filepath.Join(dir, "17", "bin", "fake-initdb")
	if got != want {
		t.Errorf("FindBinary() = %q, want %q", got, want)
	}
}

func TestFindBinaryPrefersPath(t *testing.T) {
	onPath := t.TempDir()
	writeExecutable(t, filepath.Join(onPath, "fake-server"))
	other := t.TempDir()
	writeExecutable(t, filepath.Join(other, "fake-server"))
	t.Setenv("PATH", onPath)
	if got, want := FindBinary("fake-server", filepath.Join(other, "fake-server")), filepath.Join(onPath, "fake-server"); got != want {
		t.Errorf("FindBinary() = %q, want %q", got, want)
	}
}

func TestLookBinaryMissing(t *testing.T) {
	for _, tc := range []struct {
		ci        string
		wantFatal bool
	}{
		{ci: "true", wantFatal: true},
		{ci: "", wantFatal: false},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			t.Setenv("PATH", t.TempDir())
			r := &recorder{TB: t}
			var got string
			run(func() {
				got = LookBinary(r, "no-such-server", "apt-get install -y no-such-server", "/nonexistent/*/bin/x")
			})
			if got != "" {
				t.Errorf("LookBinary() = %q, want empty", got)
			}
			msg := r.skipped
			if tc.wantFatal {
				msg = r.fatal
				if r.skipped != "" {
					t.Errorf("skipped in CI: %q", r.skipped)
				}
			} else if r.fatal != "" {
				t.Errorf("failed outside CI: %q", r.fatal)
			}
			for _, want := range []string{"no-such-server", "make test", "apt-get install -y no-such-server"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not mention %q", msg, want)
				}
			}
		})
	}
}

func TestLookBinaryFound(t *testing.T) {
	dir := t.TempDir()
	writeExecutable(t, filepath.Join(dir, "fake-server"))
	t.Setenv("PATH", t.TempDir())
	t.Setenv("CI", "true")
	r := &recorder{TB: t}
	var got string
	run(func() { got = LookBinary(r, "fake-server", "", filepath.Join(dir, "fake-server")) })
	if r.fatal != "" || r.skipped != "" {
		t.Fatalf("unexpected stop: fatal=%q skipped=%q", r.fatal, r.skipped)
	}
	if want := filepath.Join(dir, "fake-server"); got != want {
		t.Errorf("LookBinary() = %q, want %q", got, want)
	}
}

func TestWaitTCP(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := WaitTCP(ctx, l.Addr().String()); err != nil {
		t.Fatalf("WaitTCP on a listening port: %v", err)
	}
}

func TestWaitTCPGivesUp(t *testing.T) {
	t.Parallel()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := WaitTCP(ctx, addr); err == nil {
		t.Fatal("WaitTCP on a closed port returned nil")
	}
}

func TestShortTempDir(t *testing.T) {
	t.Parallel()
	d := ShortTempDir(t, "h")
	fi, err := os.Stat(d)
	if err != nil || !fi.IsDir() {
		t.Fatalf("ShortTempDir %q: %v", d, err)
	}
}

func TestBufferConcurrentWrites(t *testing.T) {
	t.Parallel()
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := len(b.String()); got != 800 {
		t.Fatalf("len = %d, want 800", got)
	}
}
