// Package config is erpsim's configuration, read from the environment.
package config

import (
	"errors"
	"time"

	"github.com/transload/transload/platform/config"
	"github.com/transload/transload/platform/logging"
)

// Config is erpsim's configuration; defaults let a bare binary start for
// local development.
type Config struct {
	// ServiceName labels logs and metrics.
	ServiceName string `env:"SERVICE_NAME" default:"erpsim"`
	// GRPCAddr is the gRPC listen address of ErpAdapterService.
	GRPCAddr string `env:"GRPC_ADDR" default:"127.0.0.1:9001"`
	// AdminAddr serves /metrics, /healthz, /readyz and /control/*.
	AdminAddr string `env:"ADMIN_ADDR" default:"127.0.0.1:9101"`
	// DatabaseURL is the sqldb DSN (sqlite://... or postgres://...).
	DatabaseURL string `env:"DATABASE_URL" default:"sqlite://erpsim.db" secret:"true"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"LOG_LEVEL" default:"info"`
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
	if _, err := logging.ParseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.StockEventInterval < 0 {
		errs = append(errs, errors.New("STOCK_EVENT_INTERVAL must not be negative"))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("SHUTDOWN_TIMEOUT must be positive"))
	}
	return errors.Join(errs...)
}

// Load reads the configuration from getenv.
func Load(getenv func(string) string) (Config, error) {
	var c Config
	if err := config.Load(&c, getenv); err != nil {
		return Config{}, err
	}
	return c, nil
}
