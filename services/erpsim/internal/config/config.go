// Package config is erpsim's configuration, read from the environment.
package config

import (
	"errors"
	"time"

	"github.com/transload/transload/platform/svcmain"
)

// Config is erpsim's configuration; defaults let a bare binary start for
// local development. svcmain.LoadConfig loads it.
type Config struct {
	// Base is SERVICE_NAME, GRPC_ADDR (ErpAdapterService), ADMIN_ADDR
	// (which also serves /control/*), LOG_LEVEL and the OTEL_* tracing
	// variables, the addresses from svcmain's port plan.
	svcmain.Base
	// Database is DATABASE_URL (default sqlite://erpsim.db).
	svcmain.Database
	// StockEventInterval makes the ERP record a random stock movement
	// (receipt or damage write-off, never SKU-00500) at this interval; 0
	// turns the generator off, so stock only moves through the control API.
	StockEventInterval time.Duration `env:"STOCK_EVENT_INTERVAL" default:"0s"`
	// StockEventSeed seeds the generator's choices.
	StockEventSeed uint64 `env:"STOCK_EVENT_SEED" default:"1"`
	// ShutdownTimeout bounds how long in-flight calls may run after SIGTERM.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" default:"10s"`
}

// Validate checks the rules spanning fields.
func (c *Config) Validate() error {
	var errs []error
	if c.StockEventInterval < 0 {
		errs = append(errs, errors.New("STOCK_EVENT_INTERVAL must not be negative"))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("SHUTDOWN_TIMEOUT must be positive"))
	}
	return errors.Join(errs...)
}
