package adminhttp

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = "127.0.0.1:40000" // the default ADMIN_ADDR's callers
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func decodeReport(t *testing.T, body string) Report {
	t.Helper()
	var r Report
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return r
}

var ignoreDuration = cmpopts.IgnoreFields(CheckResult{}, "DurationMS")

func TestReadyz(t *testing.T) {
	t.Parallel()
	s := New(prometheus.NewRegistry())
	s.AddCheck("database", func(context.Context) error { return nil })
	h := s.Handler()

	code, body := get(t, h, "/readyz")
	if code != http.StatusOK {
		t.Fatalf("readyz = %d %s, want 200", code, body)
	}
	want := Report{Status: StatusOK, Checks: []CheckResult{{Name: "database", Status: StatusOK}}}
	if diff := cmp.Diff(want, decodeReport(t, body), ignoreDuration); diff != "" {
		t.Fatalf("report (-want +got):\n%s", diff)
	}

	s.AddCheck("nats", func(context.Context) error { return errors.New("connection refused") })
	code, body = get(t, h, "/readyz")
	if code != http.StatusServiceUnavailable {
		t.Fatalf("readyz = %d %s, want 503", code, body)
	}
	want = Report{Status: StatusUnavailable, Checks: []CheckResult{
		{Name: "database", Status: StatusOK},
		{Name: "nats", Status: StatusUnavailable, Error: "connection refused"},
	}}
	if diff := cmp.Diff(want, decodeReport(t, body), ignoreDuration); diff != "" {
		t.Fatalf("report (-want +got):\n%s", diff)
	}
}

func TestReadyzNoChecks(t *testing.T) {
	t.Parallel()
	if code, body := get(t, New(prometheus.NewRegistry()).Handler(), "/readyz"); code != http.StatusOK {
		t.Fatalf("readyz = %d %s", code, body)
	}
}

func TestDraining(t *testing.T) {
	t.Parallel()
	s := New(prometheus.NewRegistry())
	s.AddCheck("database", func(context.Context) error { return nil })
	s.SetDraining()
	h := s.Handler()
	if code, body := get(t, h, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, StatusDraining) {
		t.Fatalf("readyz while draining = %d %s", code, body)
	}
	if code, _ := get(t, h, "/healthz"); code != http.StatusOK {
		t.Fatalf("healthz while draining = %d, want 200", code)
	}
}

func TestCheckTimeoutAndPanic(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := New(prometheus.NewRegistry(), WithCheckTimeout(time.Second))
		// Ignores its context entirely: the probe must still answer.
		block := make(chan struct{})
		s.AddCheck("stuck", func(context.Context) error { <-block; return nil })
		s.AddCheck("panics", func(context.Context) error { panic("boom") })
		start := time.Now()
		rep := s.Ready(context.Background())
		if elapsed := time.Since(start); elapsed != time.Second {
			t.Errorf("Ready took %v, want exactly the 1s check timeout", elapsed)
		}
		close(block)
		want := Report{Status: StatusUnavailable, Checks: []CheckResult{
			{Name: "panics", Status: StatusUnavailable, Error: "check panicked"},
			{Name: "stuck", Status: StatusUnavailable, Error: context.DeadlineExceeded.Error()},
		}}
		if diff := cmp.Diff(want, rep, ignoreDuration); diff != "" {
			t.Fatalf("report (-want +got):\n%s", diff)
		}
	})
}

func TestMetricsAndHealthz(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "transload_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	h := New(reg).Handler()
	code, body := get(t, h, "/metrics")
	if code != http.StatusOK || !strings.Contains(body, "transload_test_total 3") {
		t.Fatalf("metrics = %d %s", code, body)
	}
	if code, body := get(t, h, "/healthz"); code != http.StatusOK || decodeReport(t, body).Status != StatusOK {
		t.Fatalf("healthz = %d %s", code, body)
	}
}

func TestServeStopsOnCancel(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	s := New(prometheus.NewRegistry())
	go func() { done <- s.Serve(ctx, ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz over TCP = %d", resp.StatusCode)
	}

	// A route added while serving is served at once.
	if err := s.Handle("POST /control/reset", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})); err != nil {
		t.Fatal(err)
	}
	resp, err = http.Post("http://"+ln.Addr().String()+"/control/reset", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("POST /control/reset = %d, want 204 from the route added while serving", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve returned %v, want nil after cancel", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Fatal("admin listener still serving after shutdown")
	}
}

func TestHandleAddsRoutes(t *testing.T) {
	t.Parallel()
	s := New(prometheus.NewRegistry())
	control := http.NewServeMux()
	control.HandleFunc("GET /control/faults", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "no faults")
	})
	if err := s.Handle("/control/", control); err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	if code, body := get(t, h, "/control/faults"); code != http.StatusOK || body != "no faults" {
		t.Errorf("GET /control/faults = %d %q, want 200 \"no faults\"", code, body)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, _ := get(t, h, path); code != http.StatusOK {
			t.Errorf("GET %s = %d after adding a route, want 200", path, code)
		}
	}
	if code, _ := get(t, h, "/elsewhere"); code != http.StatusNotFound {
		t.Errorf("GET /elsewhere = %d, want 404", code)
	}

	// Mistakes are errors at wiring time, not panics.
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for name, add := range map[string]func() error{
		"conflict with a built-in route": func() error { return s.Handle("GET /metrics", ok) },
		"the same route twice":           func() error { return s.Handle("/control/", ok) },
		"invalid pattern":                func() error { return s.Handle("GET /{", ok) },
		"nil handler":                    func() error { return s.Handle("/other/", nil) },
	} {
		err := add()
		if err == nil || !strings.HasPrefix(err.Error(), "adminhttp: route ") {
			t.Errorf("%s: err %v, want an adminhttp route error", name, err)
		}
	}
}

// TestServeStopsDespiteASilentConnection: a client connection that never
// sends a request (an HTTP client's spare keep-alive connection) must not
// turn a clean stop into an error.
func TestServeStopsDespiteASilentConnection(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(prometheus.NewRegistry()).Serve(ctx, ln) }()
	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// The request proves the server accepted connections before the stop.
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v, want nil: a silent connection is not a request in flight", err)
		}
	case <-time.After(3 * ShutdownTimeout):
		t.Fatal("Serve did not return")
	}
}

func TestProfiling(t *testing.T) {
	t.Parallel()
	t.Run("off by default", func(t *testing.T) {
		t.Parallel()
		h := New(prometheus.NewRegistry()).Handler()
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/profile?seconds=1", "/debug/pprof/heap"} {
			if code, _ := get(t, h, path); code != http.StatusNotFound {
				t.Errorf("GET %s = %d, want 404", path, code)
			}
		}
	})
	t.Run("on", func(t *testing.T) {
		t.Parallel()
		h := New(prometheus.NewRegistry(), WithProfiling(true)).Handler()
		code, body := get(t, h, "/debug/pprof/")
		if code != http.StatusOK || !strings.Contains(body, "heap") || !strings.Contains(body, "profile") {
			t.Fatalf("GET /debug/pprof/ = %d %.200q, want the index", code, body)
		}
		for path, sampleType := range map[string]string{
			"/debug/pprof/profile?seconds=1": "cpu",
			"/debug/pprof/heap":              "inuse_space",
		} {
			code, body := get(t, h, path)
			if code != http.StatusOK {
				t.Fatalf("GET %s = %d %.200q", path, code, body)
			}
			if err := isProfile([]byte(body), sampleType); err != nil {
				t.Errorf("GET %s: %v", path, err)
			}
		}
	})
}

// isProfile checks b is a pprof profile: a gzip-compressed protobuf whose
// string table holds sampleType.
func isProfile(b []byte, sampleType string) error {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("not gzip (%d bytes): %w", len(b), err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return fmt.Errorf("gzip body: %w", err)
	}
	if !bytes.Contains(raw, []byte(sampleType)) {
		return fmt.Errorf("no sample type %q in the profile (%d bytes)", sampleType, len(raw))
	}
	return nil
}

// Issue #14: metrics, profiles and a binary's own routes (the simulators'
// control API) answer a caller that is not on loopback only with the
// admin token; without a token configured, profiles and the control API
// not at all and metrics to everyone. The probes answer everyone.
func TestGuardedRoutes(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	newServer := func(opts ...Option) http.Handler {
		s := New(prometheus.NewRegistry(), append(opts, WithProfiling(true))...)
		if err := s.Handle("POST /control/faults", ok); err != nil {
			t.Fatal(err)
		}
		return s.Handler()
	}
	do := func(h http.Handler, method, path, remote, auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		req.RemoteAddr = remote
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	guarded := []struct{ method, path string }{
		{http.MethodGet, "/metrics"}, {http.MethodGet, "/debug/pprof/"}, {http.MethodPost, "/control/faults"},
	}
	const remote, token = "10.1.2.3:5555", "admin-token-for-tests"

	t.Run("no token", func(t *testing.T) {
		h := newServer()
		if rec := do(h, http.MethodGet, "/metrics", remote, ""); rec.Code != http.StatusOK {
			t.Errorf("GET /metrics from %s without a token configured: %d, want 200", remote, rec.Code)
		}
		for _, g := range guarded[1:] {
			if rec := do(h, g.method, g.path, remote, "Bearer anything"); rec.Code != http.StatusForbidden {
				t.Errorf("%s %s from %s: %d %s, want 403", g.method, g.path, remote, rec.Code, rec.Body)
			}
			for _, lo := range []string{"127.0.0.1:5555", "[::1]:5555"} {
				if rec := do(h, g.method, g.path, lo, ""); rec.Code/100 != 2 {
					t.Errorf("%s %s from %s: %d, want it served", g.method, g.path, lo, rec.Code)
				}
			}
		}
	})
	t.Run("token", func(t *testing.T) {
		h := newServer(WithToken(token))
		for _, g := range guarded {
			for _, auth := range []string{"", "Bearer wrong-token", token, "Basic " + token} {
				rec := do(h, g.method, g.path, remote, auth)
				if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
					t.Errorf("%s %s from %s with %q: %d, want 401 with WWW-Authenticate", g.method, g.path, remote, auth, rec.Code)
				}
				if strings.Contains(rec.Body.String(), token) {
					t.Errorf("the refusal echoes the token: %s", rec.Body)
				}
			}
			if rec := do(h, g.method, g.path, remote, "Bearer "+token); rec.Code/100 != 2 {
				t.Errorf("%s %s from %s with the token: %d %s", g.method, g.path, remote, rec.Code, rec.Body)
			}
			if rec := do(h, g.method, g.path, "127.0.0.1:5555", ""); rec.Code/100 != 2 {
				t.Errorf("%s %s from loopback without the token: %d", g.method, g.path, rec.Code)
			}
		}
	})
	t.Run("probes", func(t *testing.T) {
		for _, h := range []http.Handler{newServer(), newServer(WithToken(token))} {
			for _, p := range []string{"/healthz", "/readyz"} {
				if rec := do(h, http.MethodGet, p, remote, ""); rec.Code != http.StatusOK {
					t.Errorf("%s from %s: %d, want 200", p, remote, rec.Code)
				}
			}
		}
	})
}
