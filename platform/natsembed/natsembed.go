// Package natsembed runs a real NATS server with JetStream inside the
// current process. It backs `make run` (one embedded node next to the
// services) and the integration tests; production uses a NATS cluster.
package natsembed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultReadyTimeout bounds how long Start waits for the server to accept
// client connections when Options.ReadyTimeout is zero.
const DefaultReadyTimeout = 10 * time.Second

// Options configures an embedded server.
type Options struct {
	// StoreDir is the JetStream file store directory. It is created when
	// missing. Required: an embedded node without a store would lose
	// streams on restart, which defeats the outbox.
	StoreDir string
	// Host is the listen address; empty means 127.0.0.1 (loopback only).
	Host string
	// Port is the client port; 0 picks a free port.
	Port int
	// ServerName names the node in logs and JetStream metadata; empty
	// means "transload-embedded".
	ServerName string
	// MaxStore caps JetStream file storage in bytes; 0 lets the server
	// choose from the free disk space.
	MaxStore int64
	// MaxMemory caps JetStream memory storage in bytes; 0 lets the server
	// choose.
	MaxMemory int64
	// ReadyTimeout bounds the wait for the server to accept connections.
	ReadyTimeout time.Duration
	// Logger receives the server's log lines; nil discards them.
	Logger *slog.Logger
}

// Server is a running embedded NATS server.
type Server struct {
	ns   *server.Server
	opts Options
}

// Start starts a NATS server with JetStream file storage and waits until it
// accepts client connections.
func Start(opts Options) (*Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("natsembed: StoreDir is required")
	}
	if err := os.MkdirAll(opts.StoreDir, 0o750); err != nil {
		return nil, fmt.Errorf("natsembed: create store dir: %w", err)
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.ServerName == "" {
		opts.ServerName = "transload-embedded"
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = DefaultReadyTimeout
	}
	port := opts.Port
	if port == 0 {
		// Let the server bind a random port; ClientURL reports the real one.
		port = server.RANDOM_PORT
	}
	sopts := &server.Options{
		ServerName:         opts.ServerName,
		Host:               opts.Host,
		Port:               port,
		JetStream:          true,
		StoreDir:           opts.StoreDir,
		JetStreamMaxStore:  opts.MaxStore,
		JetStreamMaxMemory: opts.MaxMemory,
		NoSigs:             true,
		NoLog:              opts.Logger == nil,
		// No HTTP monitoring, cluster, gateway or leaf listeners: a
		// single embedded node only serves clients.
		HTTPPort: 0,
	}
	ns, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: new server: %w", err)
	}
	if opts.Logger != nil {
		ns.SetLoggerV2(slogAdapter{l: opts.Logger}, false, false, false)
	}
	go ns.Start()
	if !ns.ReadyForConnections(opts.ReadyTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("natsembed: server not ready after %s", opts.ReadyTimeout)
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, errors.New("natsembed: JetStream failed to start (see server log)")
	}
	s := &Server{ns: ns, opts: opts}
	// Remember the bound port so a restart reuses it.
	s.opts.Port = s.Port()
	return s, nil
}

// ClientURL returns the nats:// URL clients connect to.
func (s *Server) ClientURL() string {
	if addr, ok := s.ns.Addr().(*net.TCPAddr); ok && addr != nil {
		return "nats://" + net.JoinHostPort(s.opts.Host, strconv.Itoa(addr.Port))
	}
	return s.ns.ClientURL()
}

// Port returns the bound client port.
func (s *Server) Port() int {
	if addr, ok := s.ns.Addr().(*net.TCPAddr); ok && addr != nil {
		return addr.Port
	}
	return s.opts.Port
}

// StoreDir returns the JetStream store directory.
func (s *Server) StoreDir() string { return s.opts.StoreDir }

// Options returns the options the server runs with, with Port set to the
// bound port, so Start(s.Options()) restarts the same node.
func (s *Server) Options() Options { return s.opts }

// NATSServer exposes the underlying nats-server for monitoring calls
// (e.g. JetStream account info); callers must not shut it down directly.
func (s *Server) NATSServer() *server.Server { return s.ns }

// Shutdown stops the server and waits until it has stopped, so its port
// and store directory can be reused.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// WaitForShutdown blocks until the server has stopped.
func (s *Server) WaitForShutdown() { s.ns.WaitForShutdown() }

// Run starts the server and blocks until ctx is cancelled, then shuts it
// down. It is the body of a `natsd`-style main.
func Run(ctx context.Context, opts Options) error {
	s, err := Start(opts)
	if err != nil {
		return err
	}
	if opts.Logger != nil {
		opts.Logger.InfoContext(ctx, "embedded NATS ready", "url", s.ClientURL(), "store_dir", opts.StoreDir)
	}
	<-ctx.Done()
	s.Shutdown()
	return nil
}

// slogAdapter feeds nats-server log lines into slog. Fatalf is logged at
// error level and does not exit: only main may end the process.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
