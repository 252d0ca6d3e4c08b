// Package natstest starts real embedded NATS JetStream servers for tests,
// with a temporary store directory and cleanup tied to the test.
package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/transload/transload/platform/natsembed"
)

// Start starts an embedded NATS server with JetStream on a free loopback
// port and a store directory under t.TempDir. The server is shut down when
// the test ends.
func Start(t testing.TB) *natsembed.Server {
	t.Helper()
	s, err := natsembed.Start(natsembed.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatalf("natstest: start embedded NATS: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// Restart shuts s down and starts a new server on the same port and store
// directory, as an operator restarting the node would. Streams, consumers
// and stored messages survive; connected clients see a disconnect and
// reconnect to the same URL. The returned server replaces s and is shut
// down when the test ends.
func Restart(t testing.TB, s *natsembed.Server) *natsembed.Server {
	t.Helper()
	opts := s.Options()
	s.Shutdown()
	// The port is free once Shutdown returns, but another process may grab
	// it in between; retry briefly before giving up.
	var lastErr error
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		ns, err := natsembed.Start(opts)
		if err == nil {
			t.Cleanup(ns.Shutdown)
			return ns
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("natstest: restart embedded NATS on port %d: %v", opts.Port, lastErr)
	return nil
}

// Connect opens a client connection to s that reconnects forever (so it
// survives [Restart]) and returns it with a JetStream handle. The
// connection is closed when the test ends.
func Connect(t testing.TB, s *natsembed.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(),
		nats.Name(t.Name()),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(20*time.Millisecond),
		nats.ReconnectJitter(0, 0),
	)
	if err != nil {
		t.Fatalf("natstest: connect to %s: %v", s.ClientURL(), err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("natstest: jetstream: %v", err)
	}
	return nc, js
}
