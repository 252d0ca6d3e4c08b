// Command transload-run is `make run`: it starts the whole Transload mesh on
// embedded defaults (SQLite files and an embedded NATS node under one data
// folder), prints how to talk to it, and stops everything on Ctrl-C. With
// -postgres the services run on a local PostgreSQL cluster instead, one
// database each; -scale (`make run-scale`) adds the scale topology on
// top: a three-node NATS JetStream cluster with streams replicated three
// times and two replicas of catalog-pricing, inventory, order,
// fulfillment and the gateway.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	// Not deferred: os.Exit skips deferred calls.
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "transload-run:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("transload-run", flag.ContinueOnError)
	binDir := fs.String("bin", "bin", "folder holding the built binaries")
	dataDir := fs.String("data", ".data", "folder for SQLite files, the NATS store and logs")
	postgres := fs.Bool("postgres", false, "run the services on a local PostgreSQL cluster (initdb into <data>/postgres on first use, one database per service) instead of SQLite files")
	postgresPort := fs.Int("postgres-port", 5433, "loopback port of the -postgres cluster")
	scale := fs.Bool("scale", false, "the scale topology: -postgres, a three-node NATS JetStream cluster (streams with 3 replicas) and two replicas of catalog-pricing, inventory, order, fulfillment and the gateway")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *scale {
		// Replicas share their service's database: not a SQLite file.
		*postgres = true
	}
	data, err := filepath.Abs(*dataDir)
	if err != nil {
		return err
	}
	redisAddr := getenv("REDIS_ADDR")
	if redisAddr == "" {
		addr, stopRedis, err := startRedis(data, stdout)
		if err != nil {
			return err
		}
		defer stopRedis()
		redisAddr = addr
	}
	cfg := launcher.Config{BinDir: *binDir, DataDir: data, RedisAddr: redisAddr, Log: stdout, Scale: *scale}
	databases := "SQLite files in " + data
	if *postgres {
		pg, err := launcher.StartPostgres(ctx, filepath.Join(data, "postgres"), *postgresPort, stdout)
		if err != nil {
			return err
		}
		defer func() {
			if err := pg.Stop(); err != nil {
				fmt.Fprintln(stdout, "transload-run:", err)
			}
		}()
		if err := launcher.CreateDatabases(ctx, pg.Addr, stdout); err != nil {
			return err
		}
		cfg.ExtraEnv = launcher.PostgresEnv(pg.Addr)
		databases = "PostgreSQL at " + pg.Addr + ", one database per service (" + filepath.Join(data, "postgres") + ")"
	}
	mesh, err := launcher.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(stdout, "\ntransload-run: stopping the mesh…")
		mesh.Stop()
		fmt.Fprintln(stdout, "transload-run: stopped; data kept in", data)
	}()
	base := mesh.RESTURL()
	if *scale {
		databases += "\n  topology      : 3 NATS nodes, 2 replicas of catalog-pricing, inventory, order, fulfillment; gateways at " +
			strings.Join(mesh.RESTURLs(), " and ")
	}
	fmt.Fprintf(stdout, `
Transload is running.
  REST base URL : %[1]s
  demo API key  : %[2]s  (channel "web"; %[3]s is bound to customer C0001)
  logs          : %[4]s/logs/
  cache         : %[5]s
  databases     : %[9]s

Operators:
  console       : %[6]s  (sign in with the operator key %[7]s; %[8]s may only read)
  ops REST      : curl -s -H 'Authorization: Bearer %[7]s' %[1]s/v1/ops/exceptions
  KPIs          : curl -s -H 'Authorization: Bearer %[7]s' %[1]s/v1/ops/kpis

Try:
  curl -s -H 'Authorization: Bearer %[2]s' -X POST %[1]s/v1/availability:check \
    -d '{"customerId":"C0001","currencyCode":"EUR","shipTo":{"regionCode":"DE","postalCode":"20457"},"lines":[{"sku":"SKU-00001","quantity":2},{"sku":"SKU-00002","quantity":1}]}'

  curl -s -H 'Authorization: Bearer %[2]s' -H 'Idempotency-Key: demo-order-1' -X POST %[1]s/v1/orders \
    -d '{"customerId":"C0001","currencyCode":"EUR","lines":[{"sku":"SKU-00001","quantity":2}],"shipTo":{"recipient":"Demo GmbH","lines":["Hafenstr. 1"],"locality":"Hamburg","postalCode":"20457","regionCode":"DE"}}'

  curl -s -G -H 'Authorization: Bearer %[2]s' %[1]s/v1/orders --data-urlencode 'filter=customer_id = "C0001"'

Press Ctrl-C to stop.
`, base, launcher.DemoAPIKey, launcher.DemoCustomerAPIKey, data, cacheMode(redisAddr),
		mesh.ConsoleURL(), launcher.DemoOperatorAPIKey, launcher.DemoViewerAPIKey, databases)
	<-ctx.Done()
	return nil
}

func cacheMode(addr string) string {
	if addr == "" {
		return "in-process (no REDIS_ADDR and no redis-server on the PATH)"
	}
	return "Redis at " + addr
}

// startRedis starts redis-server when it is on the PATH; otherwise the
// services use their in-process caches.
func startRedis(data string, stdout io.Writer) (string, func(), error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		fmt.Fprintln(stdout, "transload-run: redis-server not on the PATH; services use their in-process cache")
		return "", func() {}, nil
	}
	addr := "127.0.0.1:6380"
	dir := filepath.Join(data, "redis")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", "6380", "--save", "", "--appendonly", "no", "--dir", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start redis-server: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return "", nil, fmt.Errorf("redis-server did not start on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return addr, func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }, nil
}
