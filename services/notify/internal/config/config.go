// Package config is the notify service's configuration, read from the
// environment.
package config

import (
	"errors"
	"time"

	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/notify/internal/deliver"
	"github.com/transload/transload/services/notify/internal/target"
)

// Config is the notify service's configuration; defaults let a bare
// binary start for local development, with the production SSRF policy.
type Config struct {
	// Base: SERVICE_NAME, GRPC_ADDR (NotificationService, default
	// 127.0.0.1:9009), ADMIN_ADDR (default 127.0.0.1:9109), LOG_LEVEL and
	// the OTEL_* variables.
	svcmain.Base
	// Database is DATABASE_URL (default sqlite://notify.db):
	// subscriptions, the delivery queue and the delivery log.
	svcmain.Database
	// NATSURL is the NATS server the order and fulfillment events are read
	// from and exceptions are published to.
	NATSURL string `env:"NATS_URL" default:"nats://127.0.0.1:4222"`
	// Streams is NATS_STREAM_REPLICAS: the replicas of the streams this
	// service ensures (3 on a three-node NATS cluster).
	Streams eventstreams.Settings
	// AllowLocalTargets accepts plain http targets and hosts on loopback,
	// private and link-local addresses: local development only (`make run`
	// sets it; production manifests must not).
	AllowLocalTargets bool `env:"WEBHOOK_ALLOW_LOCAL_TARGETS" default:"false"`
	// AttemptTimeout bounds one delivery attempt.
	AttemptTimeout time.Duration `env:"WEBHOOK_ATTEMPT_TIMEOUT" default:"5s"`
	// RetryHorizon is how long after queueing a delivery is retried.
	RetryHorizon time.Duration `env:"WEBHOOK_RETRY_HORIZON" default:"24h"`
	// BackoffBase and BackoffMax shape the retry delays (base·2^(n-1),
	// capped, ±20% jitter).
	BackoffBase time.Duration `env:"WEBHOOK_BACKOFF_BASE" default:"1s"`
	BackoffMax  time.Duration `env:"WEBHOOK_BACKOFF_MAX" default:"10m"`
	// DisableAfter is the consecutive failed attempts that disable a
	// subscription.
	DisableAfter int `env:"WEBHOOK_DISABLE_AFTER" default:"20"`
	// Workers bounds the delivery attempts in flight.
	Workers int `env:"WEBHOOK_WORKERS" default:"16"`
	// BreakerThreshold consecutive retryable failures to one host open its
	// breaker for BreakerOpen.
	BreakerThreshold int           `env:"WEBHOOK_BREAKER_THRESHOLD" default:"5"`
	BreakerOpen      time.Duration `env:"WEBHOOK_BREAKER_OPEN" default:"5s"`
	// DeliveryLogRetention is how long a finished (delivered or failed)
	// delivery stays in the delivery log; pending ones are never pruned.
	DeliveryLogRetention time.Duration `env:"NOTIFY_DELIVERY_LOG_RETENTION" default:"720h"`
	// ShutdownTimeout bounds how long in-flight calls may run after SIGTERM.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" default:"10s"`
}

// Validate checks the rules spanning fields (svcmain.LoadConfig calls it).
func (c *Config) Validate() error {
	var errs []error
	for name, d := range map[string]time.Duration{
		"WEBHOOK_ATTEMPT_TIMEOUT": c.AttemptTimeout, "WEBHOOK_RETRY_HORIZON": c.RetryHorizon,
		"WEBHOOK_BACKOFF_BASE": c.BackoffBase, "WEBHOOK_BACKOFF_MAX": c.BackoffMax, "WEBHOOK_BREAKER_OPEN": c.BreakerOpen,
		"SHUTDOWN_TIMEOUT": c.ShutdownTimeout, "NOTIFY_DELIVERY_LOG_RETENTION": c.DeliveryLogRetention,
	} {
		if d <= 0 {
			errs = append(errs, errors.New(name+" must be positive"))
		}
	}
	for name, n := range map[string]int{"WEBHOOK_DISABLE_AFTER": c.DisableAfter, "WEBHOOK_WORKERS": c.Workers,
		"WEBHOOK_BREAKER_THRESHOLD": c.BreakerThreshold} {
		if n <= 0 {
			errs = append(errs, errors.New(name+" must be positive"))
		}
	}
	if c.BackoffMax < c.BackoffBase {
		errs = append(errs, errors.New("WEBHOOK_BACKOFF_MAX must be at least WEBHOOK_BACKOFF_BASE"))
	}
	return errors.Join(errs...)
}

// Policy is the SSRF policy of the configuration.
func (c *Config) Policy() target.Policy {
	return target.Policy{AllowHTTP: c.AllowLocalTargets, AllowPrivate: c.AllowLocalTargets}
}

// Dispatcher is the dispatcher configuration.
func (c *Config) Dispatcher() deliver.Config {
	return deliver.Config{
		Workers: c.Workers, AttemptTimeout: c.AttemptTimeout, Horizon: c.RetryHorizon, BackoffBase: c.BackoffBase,
		BackoffMax: c.BackoffMax, DisableAfter: c.DisableAfter, BreakerThreshold: c.BreakerThreshold,
		BreakerOpen: c.BreakerOpen, Policy: c.Policy(), Service: c.ServiceName,
	}
}
