// Package config is the ops service's configuration, read from the
// environment.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/svcmain"
)

// Config is the ops service's configuration; defaults let a bare binary
// start for local development.
type Config struct {
	// Base is the configuration every binary shares: SERVICE_NAME,
	// GRPC_ADDR (OpsService, default 127.0.0.1:9008), ADMIN_ADDR (default
	// 127.0.0.1:9108), LOG_LEVEL and the OTEL_* variables.
	svcmain.Base
	// Database is DATABASE_URL (default sqlite://ops.db): the desk, the
	// dead letters and the audit index.
	svcmain.Database
	// NATSURL is the NATS server the desk's consumers read from and dead
	// letters are replayed through.
	NATSURL string `env:"NATS_URL" default:"nats://127.0.0.1:4222"`
	// Streams is NATS_STREAM_REPLICAS: the replicas of the streams this
	// service ensures (3 on a three-node NATS cluster).
	Streams eventstreams.Settings
	// InventoryAddr is the inventory service (reconciliations).
	InventoryAddr string `env:"INVENTORY_ADDR" default:"127.0.0.1:9004"`
	// OrderAddr is the order service (the ERP submission queue).
	OrderAddr string `env:"ORDER_ADDR" default:"127.0.0.1:9005"`
	// InventoryTimeout is the deadline of a call to the inventory service.
	InventoryTimeout time.Duration `env:"INVENTORY_TIMEOUT" default:"5s"`
	// OrderTimeout is the deadline of a call to the order service.
	OrderTimeout time.Duration `env:"ORDER_TIMEOUT" default:"5s"`
	// MetricsTargets lists the Prometheus endpoints the KPIs are computed
	// from, comma-separated `service=http://host:port/metrics`; the
	// default is the admin port of every other binary of the port plan.
	MetricsTargets string `env:"METRICS_TARGETS" default:"erpsim=http://127.0.0.1:9101/metrics,wmssim=http://127.0.0.1:9102/metrics,catalog-pricing=http://127.0.0.1:9103/metrics,inventory=http://127.0.0.1:9104/metrics,order=http://127.0.0.1:9105/metrics,fulfillment=http://127.0.0.1:9106/metrics,gateway=http://127.0.0.1:9107/metrics"`
	// KPIScrapeInterval is how often the metrics targets are scraped.
	KPIScrapeInterval time.Duration `env:"KPI_SCRAPE_INTERVAL" default:"15s"`
	// ShutdownTimeout bounds how long in-flight calls may run after SIGTERM.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" default:"10s"`
}

// Validate checks the rules spanning fields (svcmain.LoadConfig calls it).
func (c *Config) Validate() error {
	var errs []error
	positive := func(d time.Duration, name string) {
		if d <= 0 {
			errs = append(errs, errors.New(name+" must be positive"))
		}
	}
	positive(c.InventoryTimeout, "INVENTORY_TIMEOUT")
	positive(c.OrderTimeout, "ORDER_TIMEOUT")
	positive(c.KPIScrapeInterval, "KPI_SCRAPE_INTERVAL")
	positive(c.ShutdownTimeout, "SHUTDOWN_TIMEOUT")
	if _, err := ParseTargets(c.MetricsTargets); err != nil {
		errs = append(errs, fmt.Errorf("METRICS_TARGETS: %w", err))
	}
	return errors.Join(errs...)
}

// Targets returns MetricsTargets as service → URL (Validate has checked
// it parses).
func (c *Config) Targets() map[string]string {
	t, _ := ParseTargets(c.MetricsTargets)
	return t
}

// ParseTargets reads `service=http://host:port/metrics` pairs separated
// by commas; an empty list is no targets. A pair without a name, a
// repeated name or a URL that is not absolute http(s) is an error.
func ParseTargets(s string) (map[string]string, error) {
	out := map[string]string{}
	for pair := range strings.SplitSeq(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, raw, ok := strings.Cut(pair, "=")
		name, raw = strings.TrimSpace(name), strings.TrimSpace(raw)
		if !ok || name == "" {
			return nil, fmt.Errorf("%q is not service=URL", pair)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("service %q is listed twice", name)
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%s: %q is not an absolute http(s) URL", name, raw)
		}
		out[name] = raw
	}
	return out, nil
}
