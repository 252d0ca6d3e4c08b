// Package config is the simulator's environment configuration.
package config

import (
	"errors"
	"time"

	"github.com/transload/transload/platform/svcmain"
)

// Config is read from the environment by svcmain.Start; defaults let a
// bare binary start for local development. svcmain.Base adds
// SERVICE_NAME, LOG_LEVEL and the OTEL_* tracing variables.
type Config struct {
	svcmain.Base
	// GRPCAddr is where WmsAdapterService listens.
	GRPCAddr string `env:"GRPC_ADDR" default:"127.0.0.1:9002"`
	// AdminAddr serves /metrics, /healthz, /readyz and the /control API;
	// empty disables the admin listener (and with it the control API).
	AdminAddr string `env:"ADMIN_ADDR" default:"127.0.0.1:9102"`
	// DatabaseURL is a sqldb DSN: sqlite://... or postgres://...
	DatabaseURL string `env:"DATABASE_URL" default:"sqlite://wmssim.db" secret:"true"`
	// Step is the time between two milestones of a shipment request
	// (picked, packed, shipped, delivered).
	Step time.Duration `env:"WMSSIM_STEP" default:"2s"`
	// Tick is how often due milestones are looked for; 0 derives it from
	// Step (a quarter of it, between 10ms and 1s).
	Tick time.Duration `env:"WMSSIM_TICK" default:"0s"`
}

// Validate checks rules spanning fields.
func (c *Config) Validate() error {
	var errs []error
	if c.Step <= 0 {
		errs = append(errs, errors.New("WMSSIM_STEP must be positive"))
	}
	if c.Tick < 0 {
		errs = append(errs, errors.New("WMSSIM_TICK must not be negative"))
	}
	if c.GRPCAddr == "" {
		errs = append(errs, errors.New("GRPC_ADDR must be set"))
	}
	return errors.Join(errs...)
}

// TickInterval is Tick, or derived from Step when Tick is 0.
func (c *Config) TickInterval() time.Duration {
	if c.Tick > 0 {
		return c.Tick
	}
	return min(max(c.Step/4, 10*time.Millisecond), time.Second)
}
