// Command transload-nats runs the embedded single-node NATS JetStream server
// that `make run` starts next to the services, or, with NATS_CLUSTER_ADDR
// and NATS_ROUTES, one node of the three-node JetStream cluster of `make
// run-scale` (cluster.go). Production points the services at a NATS
// cluster instead (NATS_URL).
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
	// ClusterAddr is host:port of the node's route listener; empty runs a
	// single node.
	ClusterAddr string `env:"NATS_CLUSTER_ADDR"`
	// Routes are the route URLs of every node of the cluster (this one's
	// may be among them), e.g. nats://127.0.0.1:6222,...
	Routes []string `env:"NATS_ROUTES"`
	// ClusterName names the cluster; every node must agree.
	ClusterName string `env:"NATS_CLUSTER_NAME" default:"transload"`
	// ServerName names the node; unique within the cluster.
	ServerName string `env:"SERVICE_NAME" default:"transload-embedded"`
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
	if cfg.ClusterAddr != "" {
		return runClusterNode(ctx, cfg, host, port, log)
	}
	return natsembed.Run(ctx, natsembed.Options{StoreDir: cfg.StoreDir, Host: host, Port: port, Logger: log})
}
