// Package config holds the inventory service's configuration, loaded from
// environment variables through platform/config.
package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/svcmain"
)

// Config is the inventory service configuration. Defaults let a bare binary
// start for local development, on the ports docs/configuration.md assigns
// to inventory; svcmain.LoadConfig loads it.
type Config struct {
	// Base is what every binary shares: SERVICE_NAME, GRPC_ADDR,
	// ADMIN_ADDR, LOG_LEVEL, OTEL_*; the addresses from svcmain's port plan.
	svcmain.Base
	// Database is DATABASE_URL (default sqlite://inventory.db).
	svcmain.Database
	// NATSURL is the NATS server the outbox relay publishes to.
	NATSURL string `env:"NATS_URL" default:"nats://127.0.0.1:4222"`
	// Streams is NATS_STREAM_REPLICAS: the replicas of the streams this
	// service ensures (3 on a three-node NATS cluster).
	Streams eventstreams.Settings
	// ERPAddr is the ERP adapter (host:port, plaintext gRPC).
	ERPAddr string `env:"ERP_ADDR" default:"127.0.0.1:9001"`

	// MaxHoldTTL is the longest checkout hold ReserveStock and
	// ExtendReservation accept.
	MaxHoldTTL time.Duration `env:"INVENTORY_MAX_HOLD_TTL" default:"24h"`
	// ExpiryInterval is how often HELD reservations past their expiry are
	// expired.
	ExpiryInterval time.Duration `env:"INVENTORY_EXPIRY_INTERVAL" default:"5s"`
	// LoadRetryMin and LoadRetryMax bound the backoff between attempts of
	// the initial load from the ERP.
	LoadRetryMin time.Duration `env:"INVENTORY_LOAD_RETRY_MIN" default:"500ms"`
	// LoadRetryMax is the longest pause between initial load attempts.
	LoadRetryMax time.Duration `env:"INVENTORY_LOAD_RETRY_MAX" default:"30s"`
	// ERPFeedInterval is how often the ERP stock event feed is polled when
	// caught up; 0 disables the poller.
	ERPFeedInterval time.Duration `env:"INVENTORY_ERP_FEED_INTERVAL" default:"5s"`
	// ERPFeedPush subscribes to the ERP's WatchStockEvents stream so stock
	// changes apply as the ERP records them (milliseconds, not a poll
	// interval); the poll stays as the fallback, at most every minute while
	// the stream is live. An ERP adapter without the method is polled only
	// (logged once). false polls only.
	ERPFeedPush bool `env:"INVENTORY_ERP_FEED_PUSH" default:"true"`
	// ERPFeedStreamLifetime is the deadline of one WatchStockEvents stream;
	// the watcher then reopens it from its saved cursor. At most
	// INVENTORY_SNAPSHOT_TIMEOUT, the connection's cap on any stream.
	ERPFeedStreamLifetime time.Duration `env:"INVENTORY_ERP_FEED_STREAM_LIFETIME" default:"5m"`
	// GapTimeout is how long a buffered (out-of-order) stock event may wait
	// for its predecessor before the gap is reported as overdue.
	GapTimeout time.Duration `env:"INVENTORY_STOCK_EVENT_GAP_TIMEOUT" default:"10m"`
	// ReconciliationExceptionThreshold is the smallest variance, in units
	// either way, that a reconciliation raises as an INVENTORY_VARIANCE
	// exception (HIGH from ten times it, MEDIUM below).
	ReconciliationExceptionThreshold int64 `env:"RECONCILIATION_EXCEPTION_THRESHOLD" default:"1"`
	// ERPTimeout is the deadline of each unary ERP call (one page), set on
	// the connection so its breaker counts a slow ERP.
	ERPTimeout time.Duration `env:"INVENTORY_ERP_TIMEOUT" default:"5s"`
	// SnapshotTimeout bounds one whole StreamStockSnapshot stream (set on
	// the ERP connection with grpcclient.WithStreamTimeout).
	SnapshotTimeout time.Duration `env:"INVENTORY_SNAPSHOT_TIMEOUT" default:"10m"`
}

// Validate checks rules spanning fields and value ranges.
func (c *Config) Validate() error {
	var errs []error
	if c.MaxHoldTTL <= 0 {
		errs = append(errs, fmt.Errorf("INVENTORY_MAX_HOLD_TTL must be positive, got %s", c.MaxHoldTTL))
	}
	if c.ExpiryInterval <= 0 {
		errs = append(errs, fmt.Errorf("INVENTORY_EXPIRY_INTERVAL must be positive, got %s", c.ExpiryInterval))
	}
	if c.LoadRetryMin <= 0 || c.LoadRetryMax < c.LoadRetryMin {
		errs = append(errs, fmt.Errorf("INVENTORY_LOAD_RETRY_MIN (%s) must be positive and at most INVENTORY_LOAD_RETRY_MAX (%s)",
			c.LoadRetryMin, c.LoadRetryMax))
	}
	if c.ERPFeedInterval < 0 {
		errs = append(errs, fmt.Errorf("INVENTORY_ERP_FEED_INTERVAL must not be negative, got %s", c.ERPFeedInterval))
	}
	if c.ERPFeedStreamLifetime <= 0 || c.ERPFeedStreamLifetime > c.SnapshotTimeout {
		errs = append(errs, fmt.Errorf("INVENTORY_ERP_FEED_STREAM_LIFETIME (%s) must be positive and at most INVENTORY_SNAPSHOT_TIMEOUT (%s)",
			c.ERPFeedStreamLifetime, c.SnapshotTimeout))
	}
	if c.GapTimeout <= 0 {
		errs = append(errs, fmt.Errorf("INVENTORY_STOCK_EVENT_GAP_TIMEOUT must be positive, got %s", c.GapTimeout))
	}
	if c.ReconciliationExceptionThreshold < 1 {
		errs = append(errs, fmt.Errorf("RECONCILIATION_EXCEPTION_THRESHOLD must be at least 1 unit, got %d", c.ReconciliationExceptionThreshold))
	}
	if c.ERPTimeout <= 0 || c.SnapshotTimeout <= 0 {
		errs = append(errs, errors.New("INVENTORY_ERP_TIMEOUT and INVENTORY_SNAPSHOT_TIMEOUT must be positive"))
	}
	return errors.Join(errs...)
}
