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
	// ShutdownTimeout bounds how long in-flight calls may run after SIGTERM.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" default:"10s"`
}

// Validate checks the rules spanning fields.
func (c *Config) Validate() error {
	var errs []error
	if _, err := logging.ParseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
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
