// Package config holds the catalog-pricing service's configuration, loaded
// from environment variables through platform/config.
package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/transload/transload/platform/cache"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/svcmain"
)

// Config is the catalog-pricing configuration. Defaults let a bare binary
// start (docs/configuration.md); svcmain.LoadConfig loads it.
type Config struct {
	// Base is SERVICE_NAME, GRPC_ADDR, ADMIN_ADDR, LOG_LEVEL and the
	// OTEL_* variables, the addresses from svcmain's port plan.
	svcmain.Base
	// Database is DATABASE_URL (default sqlite://catalog-pricing.db).
	svcmain.Database
	// NATSURL is the NATS server the outbox relay publishes to; empty
	// disables the relay (events stay in the outbox).
	NATSURL string `env:"NATS_URL" default:"nats://127.0.0.1:4222"`
	// Streams is NATS_STREAM_REPLICAS: the replicas of the streams this
	// service ensures (3 on a three-node NATS cluster).
	Streams eventstreams.Settings
	// ERPAddr is the ERP adapter (host:port, plaintext gRPC).
	ERPAddr string `env:"ERP_ADDR" default:"127.0.0.1:9001"`

	// Cache selects Redis (REDIS_ADDR) or the in-process cache.
	Cache cache.Config

	// DefaultChannels is the assortment given to ERP products whose
	// channel list is empty (the ERP's "all channels").
	DefaultChannels []string `env:"CATALOG_DEFAULT_CHANNELS" default:"web,b2b"`
	// QuoteTTL caps how long a quote is valid and cached.
	QuoteTTL time.Duration `env:"CATALOG_QUOTE_TTL" default:"15m"`
	// SyncRetryMin and SyncRetryMax bound the backoff between ERP import
	// attempts while the ERP is down.
	SyncRetryMin time.Duration `env:"CATALOG_SYNC_RETRY_MIN" default:"500ms"`
	// SyncRetryMax is the longest pause between import attempts.
	SyncRetryMax time.Duration `env:"CATALOG_SYNC_RETRY_MAX" default:"30s"`
	// SyncInterval re-imports from the ERP periodically; 0 imports only at
	// start when no catalog is published.
	SyncInterval time.Duration `env:"CATALOG_SYNC_INTERVAL" default:"0s"`
	// ERPTimeout is the default deadline of unary ERP calls (set on the
	// connection).
	ERPTimeout time.Duration `env:"CATALOG_ERP_TIMEOUT" default:"5s"`
	// ExportTimeout bounds one whole ERP export stream (set on the
	// connection for streams opened without a deadline).
	ExportTimeout time.Duration `env:"CATALOG_EXPORT_TIMEOUT" default:"2m"`
	// ERPBreakerOpenTimeout is how long the ERP breaker stays open.
	ERPBreakerOpenTimeout time.Duration `env:"CATALOG_ERP_BREAKER_OPEN_TIMEOUT" default:"10s"`
}

// Validate checks rules spanning fields and value ranges.
func (c *Config) Validate() error {
	var errs []error
	if c.SyncRetryMin <= 0 || c.SyncRetryMax < c.SyncRetryMin {
		errs = append(errs, fmt.Errorf("CATALOG_SYNC_RETRY_MIN (%s) must be positive and at most CATALOG_SYNC_RETRY_MAX (%s)",
			c.SyncRetryMin, c.SyncRetryMax))
	}
	if c.QuoteTTL <= 0 || c.ERPTimeout <= 0 || c.ExportTimeout <= 0 || c.ERPBreakerOpenTimeout <= 0 {
		errs = append(errs, errors.New("CATALOG_QUOTE_TTL, CATALOG_ERP_TIMEOUT, CATALOG_EXPORT_TIMEOUT and CATALOG_ERP_BREAKER_OPEN_TIMEOUT must be positive"))
	}
	if c.SyncInterval < 0 {
		errs = append(errs, errors.New("CATALOG_SYNC_INTERVAL must not be negative"))
	}
	if len(c.DefaultChannels) == 0 {
		errs = append(errs, errors.New("CATALOG_DEFAULT_CHANNELS must list at least one channel"))
	}
	return errors.Join(errs...)
}
