// Package adminhttp serves the operational HTTP side listener every
// Transload binary exposes next to its gRPC port: /metrics (Prometheus),
// /healthz (liveness) and /readyz (readiness).
//
// A binary adds routes of its own to the same listener with
// [Server.Handle] (the simulators' /control API), so it runs one admin
// server rather than a second HTTP server around this one.
//
// With [WithProfiling] the listener also serves net/http/pprof's CPU,
// heap, goroutine and trace profiles under /debug/pprof/ (svcmain turns it
// on with PPROF_ENABLED; off by default, since a profile reveals the
// binary's internals and a CPU profile costs CPU while it runs).
//
// Callers beyond loopback: with an admin token set ([WithToken],
// ADMIN_TOKEN through svcmain) everything but /healthz and /readyz
// (metrics, profiles, the simulators' control API) needs it as
// `Authorization: Bearer <token>` (401 without). Without a token, profiles
// and a binary's own routes answer loopback callers only (403 for others),
// so an admin port bound beyond loopback (a container's 0.0.0.0) never
// hands out profiles or fault switches to whoever reaches it; /metrics
// then stays open to every scraper, as before tokens existed. The probes
// always answer: a kubelet calls them from the node.
//
// Liveness answers 200 as long as the process can serve HTTP at all; it never
// checks dependencies, so a database outage does not get pods restarted.
// Readiness runs the registered checks for hard dependencies only (things
// without which the service cannot answer any request, such as its own
// database) and answers 503 with a JSON body naming each failing check.
package adminhttp

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports whether one hard dependency is usable. It must honour ctx,
// which carries the check timeout.
type Check func(ctx context.Context) error

// DefaultCheckTimeout bounds each readiness check unless WithCheckTimeout
// says otherwise.
const DefaultCheckTimeout = 2 * time.Second

// Server is the admin HTTP handler set plus the readiness state.
type Server struct {
	gatherer     prometheus.Gatherer
	logger       *slog.Logger
	checkTimeout time.Duration
	profiling    bool
	// tokenDigest is the SHA-256 of the admin token; nil means none is
	// set and only loopback callers reach the guarded routes.
	tokenDigest []byte

	mu     sync.RWMutex
	checks map[string]Check

	// mux holds the built-in routes and those added by Handle; it is safe
	// for registration while serving.
	mux *http.ServeMux

	draining atomic.Bool
}

// Option configures a Server.
type Option func(*Server)

// WithCheckTimeout bounds every readiness check by d.
func WithCheckTimeout(d time.Duration) Option {
	return func(s *Server) { s.checkTimeout = d }
}

// WithLogger sets the logger for failed checks and server errors.
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) { s.logger = l }
}

// WithProfiling serves net/http/pprof under /debug/pprof/ when on: the
// index, the named profiles (heap, allocs, goroutine, block, mutex,
// threadcreate), profile (CPU, ?seconds=N), trace, cmdline and symbol.
// Only on this Server's routes: net/http/pprof's registration on
// http.DefaultServeMux is never served by a Transload binary.
func WithProfiling(on bool) Option {
	return func(s *Server) { s.profiling = on }
}

// WithToken lets callers that are not on loopback reach the guarded
// routes (everything but /healthz and /readyz, /metrics included) with
// `Authorization: Bearer <token>` only; an empty token keeps profiles and
// a binary's own routes loopback-only and /metrics open.
func WithToken(token string) Option {
	return func(s *Server) {
		if token == "" {
			s.tokenDigest = nil
			return
		}
		d := sha256.Sum256([]byte(token))
		s.tokenDigest = d[:]
	}
}

// New returns a Server exposing the metrics gathered by g (typically the
// service's *prometheus.Registry).
func New(g prometheus.Gatherer, opts ...Option) *Server {
	s := &Server{gatherer: g, logger: slog.Default(), checkTimeout: DefaultCheckTimeout, checks: map[string]Check{}}
	for _, o := range opts {
		o(s)
	}
	s.mux = http.NewServeMux()
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{ErrorLog: slogPromLogger{s.logger}}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, Report{Status: StatusOK})
	})
	s.mux.HandleFunc("GET /readyz", s.serveReady)
	if s.profiling {
		s.mux.HandleFunc("GET /debug/pprof/", pprof.Index) // and the named profiles
		s.mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		s.mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		s.mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		s.mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
		s.mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return s
}

// Handle adds a route of the binary's own (for example the simulators'
// "/control/" API) next to /metrics, /healthz and /readyz. pattern is an
// http.ServeMux pattern; a route may be added before or while the server
// serves. An invalid pattern, a nil handler or a pattern that conflicts
// with a registered route (the built-in ones included) is an error, not
// the panic http.ServeMux raises.
func (s *Server) Handle(pattern string, h http.Handler) (err error) {
	if h == nil {
		return fmt.Errorf("adminhttp: route %q: nil handler", pattern)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("adminhttp: route %q: %v", pattern, p)
		}
	}()
	s.mux.Handle(pattern, h)
	return nil
}

// AddCheck registers a readiness check under name, replacing any check of
// the same name. Register hard dependencies only.
func (s *Server) AddCheck(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = c
}

// SetDraining marks the process as shutting down: from then on /readyz
// answers 503 so load balancers stop sending new work, while /healthz keeps
// answering 200 so the process is not killed before it drains.
func (s *Server) SetDraining() { s.draining.Store(true) }

// Handler returns the admin routes, including those added with Handle,
// behind the loopback-or-token guard.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.guarded(r.URL.Path) {
			if code, msg := s.refuse(r); code != 0 {
				if code == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Bearer realm="admin"`)
				}
				writeJSON(w, code, map[string]string{"error": msg})
				return
			}
		}
		s.mux.ServeHTTP(w, r)
	})
}

// guarded reports whether path needs a loopback caller or the token:
// everything but the probes, and /metrics only once a token is set.
func (s *Server) guarded(path string) bool {
	switch path {
	case "/healthz", "/readyz":
		return false
	case "/metrics":
		return s.tokenDigest != nil
	}
	return true
}

// refuse says why r may not reach a guarded route (status and message),
// or 0 when it may: loopback callers always may, others with the token.
func (s *Server) refuse(r *http.Request) (int, string) {
	if loopback(r.RemoteAddr) {
		return 0, ""
	}
	if s.tokenDigest == nil {
		return http.StatusForbidden, "this admin endpoint answers loopback callers only; set ADMIN_TOKEN to admit others with it"
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	d := sha256.Sum256([]byte(strings.TrimSpace(token)))
	if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(d[:], s.tokenDigest) != 1 {
		return http.StatusUnauthorized, "admin endpoints need Authorization: Bearer <ADMIN_TOKEN> from outside loopback"
	}
	return 0, ""
}

// loopback reports whether a request's remote address is on loopback.
func loopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Status values in a Report.
const (
	StatusOK          = "ok"
	StatusUnavailable = "unavailable"
	StatusDraining    = "draining"
)

// Report is the JSON body of /healthz and /readyz.
type Report struct {
	Status string        `json:"status"`
	Checks []CheckResult `json:"checks,omitempty"`
}

// CheckResult is the outcome of one readiness check.
type CheckResult struct {
	Name       string `json:"name"`
	Status     string `json:"status"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// Ready runs every check concurrently, each bounded by the check timeout,
// and returns the report (Status ok only when every check passed and the
// server is not draining).
func (s *Server) Ready(ctx context.Context) Report {
	if s.draining.Load() {
		return Report{Status: StatusDraining}
	}
	s.mu.RLock()
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	checks := make([]Check, len(names))
	slices.Sort(names)
	for i, n := range names {
		checks[i] = s.checks[n]
	}
	s.mu.RUnlock()

	results := make([]CheckResult, len(names))
	var wg sync.WaitGroup
	for i := range names {
		wg.Go(func() {
			results[i] = s.runCheck(ctx, names[i], checks[i])
		})
	}
	wg.Wait()
	rep := Report{Status: StatusOK, Checks: results}
	for _, r := range results {
		if r.Status != StatusOK {
			rep.Status = StatusUnavailable
		}
	}
	return rep
}

func (s *Server) runCheck(ctx context.Context, name string, c Check) (res CheckResult) {
	ctx, cancel := context.WithTimeout(ctx, s.checkTimeout)
	defer cancel()
	start := time.Now()
	res = CheckResult{Name: name, Status: StatusOK}
	err := runBounded(ctx, c)
	res.DurationMS = time.Since(start).Milliseconds()
	var pe panicError
	if errors.As(err, &pe) {
		res.Status, res.Error = StatusUnavailable, "check panicked"
		s.logger.ErrorContext(ctx, "readiness check panicked", slog.String("check", name), slog.Any("panic", pe.value))
		return res
	}
	if err != nil {
		res.Status, res.Error = StatusUnavailable, err.Error()
		s.logger.WarnContext(ctx, "readiness check failed", slog.String("check", name), slog.Any("error", err))
	}
	return res
}

// runBounded returns when c returns or ctx expires, whichever is first, so a
// check that ignores its context cannot hang the probe.
func runBounded(ctx context.Context, c Check) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- panicError{p}
			}
		}()
		done <- c(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

type panicError struct{ value any }

// Error implements error.
func (p panicError) Error() string { return "check panicked" }

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	rep := s.Ready(r.Context())
	code := http.StatusOK
	if rep.Status != StatusOK {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, rep)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}

// ShutdownTimeout bounds how long Serve waits for in-flight admin requests
// after its context is cancelled.
const ShutdownTimeout = 5 * time.Second

// Serve serves the admin routes on ln until ctx is cancelled, then shuts
// the HTTP server down. It returns nil after a shutdown caused by ctx.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// A connection a client opened but never sent a request on (an
		// HTTP client's spare keep-alive connection) counts as busy for
		// its first 5 seconds, so Shutdown can outwait the grace period
		// with nothing in flight. Admin requests are short: close what is
		// left rather than fail the binary's clean exit.
		s.logger.Warn("admin http: closing connections still open after the shutdown grace period")
		err = srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

type slogPromLogger struct{ l *slog.Logger }

// Println logs a promhttp error through slog.
func (p slogPromLogger) Println(v ...any) {
	p.l.Error("prometheus handler error", slog.Any("detail", v))
}
