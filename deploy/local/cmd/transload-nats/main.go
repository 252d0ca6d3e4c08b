// Command transload-nats runs the embedded single-node NATS JetStream server
// that `make run` starts next to the services. Production points the
// services at a NATS cluster instead (NATS_URL).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	platformconfig "github.com/transload/transload/platform/config"
	"github.com/transload/transload/platform/logging"
	"github.com/transload/transload/platform/natsembed"
)

// Config is the environment of transload-nats.
type Config struct {
	// Addr is host:port for NATS clients (the launcher passes GRPC_ADDR).
	Addr string `env:"GRPC_ADDR" default:"127.0.0.1:4222"`
	// StoreDir holds the JetStream file store.
	StoreDir string `env:"NATS_STORE_DIR" default:".data/nats"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Getenv, os.Stdout)
	// Not deferred: os.Exit skips deferred calls.
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "transload-nats:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	var cfg Config
	if err := platformconfig.Load(&cfg, getenv); err != nil {
		return err
	}
	host, portText, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("GRPC_ADDR %q: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return fmt.Errorf("GRPC_ADDR %q: %w", cfg.Addr, err)
	}
	// nats-server only logs a port it cannot bind and then waits out its
	// ready timeout; fail at once instead, so the launcher can move NATS
	// to another free port quickly.
	probe, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("GRPC_ADDR %q: %w", cfg.Addr, err)
	}
	if err := probe.Close(); err != nil {
		return fmt.Errorf("GRPC_ADDR %q: %w", cfg.Addr, err)
	}
	log := logging.New(stdout, "nats", slog.LevelInfo)
	return natsembed.Run(ctx, natsembed.Options{StoreDir: cfg.StoreDir, Host: host, Port: port, Logger: log})
}
