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
	"runtime/debug"
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
	// MemoryLimitMB is the Go runtime's soft memory limit in MiB
	// (debug.SetMemoryLimit): the garbage collector runs harder as the
	// heap nears it instead of letting it grow to twice the live heap
	// (GOGC=100). JetStream keeps every stream's message ids of the
	// duplicate window (10 min) and recent file-store blocks in memory, and
	// without a limit the node peaked at 180–216 MB RSS in the sustained
	// bench, over issue #12's 150 MB per process. The limit is soft:
	// nothing is dropped or refused above it (messages stay in the file
	// store and acknowledged publishes stay durable), the GC just uses
	// more CPU (the runtime caps it near half). Size it to the live heap
	// of your rates; 0 leaves the runtime's default, and a GOMEMLIMIT in
	// the environment wins over it.
	MemoryLimitMB int64 `env:"NATS_MEMORY_LIMIT_MB" default:"100"`
}

// applyMemoryLimit sets cfg's soft memory limit unless GOMEMLIMIT is set
// (the runtime already applied it) or the limit is 0, and returns the
// limit in force in bytes (math.MaxInt64: none).
func applyMemoryLimit(cfg Config, getenv func(string) string) (int64, error) {
	if cfg.MemoryLimitMB < 0 {
		return 0, fmt.Errorf("NATS_MEMORY_LIMIT_MB %d: must not be negative (0 turns it off)", cfg.MemoryLimitMB)
	}
	if cfg.MemoryLimitMB > 0 && getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.MemoryLimitMB << 20)
	}
	return debug.SetMemoryLimit(-1), nil
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
	if _, err := applyMemoryLimit(cfg, getenv); err != nil {
		return err
	}
	log := logging.New(stdout, "nats", slog.LevelInfo)
	if cfg.ClusterAddr != "" {
		return runClusterNode(ctx, cfg, host, port, log)
	}
	return natsembed.Run(ctx, natsembed.Options{StoreDir: cfg.StoreDir, Host: host, Port: port, Logger: log})
}
