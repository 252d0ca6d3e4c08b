// Package config is the fulfillment service's configuration, read from the
// environment.
package config

import (
	"errors"
	"time"

	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/svcmain"
)

// Config is the fulfillment service's configuration; defaults let a bare
// binary start for local development (docs/configuration.md).
type Config struct {
	// Base is the configuration every binary shares: SERVICE_NAME,
	// GRPC_ADDR (FulfillmentService), ADMIN_ADDR, LOG_LEVEL and the OTEL_*
	// tracing variables, the addresses from svcmain's port plan.
	svcmain.Base
	// Database is DATABASE_URL (default sqlite://fulfillment.db).
	svcmain.Database
	// NATSURL is the NATS server the service consumes order events from and
	// publishes its own events to.
	NATSURL string `env:"NATS_URL" default:"nats://127.0.0.1:4222"`
	// Streams is NATS_STREAM_REPLICAS: the replicas of the streams this
	// service ensures (3 on a three-node NATS cluster).
	Streams eventstreams.Settings
	// WMSAddr is the WMS adapter (wms.v1 WmsAdapterService).
	WMSAddr string `env:"WMS_ADDR" default:"127.0.0.1:9002"`
	// InventoryAddr is the inventory service.
	InventoryAddr string `env:"INVENTORY_ADDR" default:"127.0.0.1:9004"`
	// OrderAddr is the order service.
	OrderAddr string `env:"ORDER_ADDR" default:"127.0.0.1:9005"`
	// WMSTimeout is the deadline of a call to the WMS adapter; the wms.v1
	// contract's budget for CreateShipmentRequest and
	// CancelShipmentRequest is 10s.
	WMSTimeout time.Duration `env:"FULFILLMENT_WMS_TIMEOUT" default:"10s"`
	// InventoryTimeout is the deadline of a CommitReservation call.
	InventoryTimeout time.Duration `env:"FULFILLMENT_INVENTORY_TIMEOUT" default:"5s"`
	// OrderTimeout is the deadline of a RecordShipmentProgress call.
	OrderTimeout time.Duration `env:"FULFILLMENT_ORDER_TIMEOUT" default:"5s"`
	// WMSWarehouses lists the warehouse codes the WMS adapter serves; an
	// order allocated to another warehouse is dead-lettered for an
	// operator to route and replay. Empty means every warehouse.
	WMSWarehouses []string `env:"FULFILLMENT_WMS_WAREHOUSES"`
	// WMSSource names the WMS feed the poller reads; WMS event ids are
	// unique per source and the feed cursor is stored under it.
	WMSSource string `env:"FULFILLMENT_WMS_SOURCE" default:"wms"`
	// WMSPollInterval is the pause between polls of the WMS shipment event
	// feed when it is caught up.
	WMSPollInterval time.Duration `env:"FULFILLMENT_WMS_POLL_INTERVAL" default:"500ms"`
	// DispatchInterval is how often pending fulfilment requests are looked
	// for when nothing wakes the dispatcher.
	DispatchInterval time.Duration `env:"FULFILLMENT_DISPATCH_INTERVAL" default:"500ms"`
	// RetryBackoffBase is the pause after the first failed delivery attempt
	// to a neighbour; it doubles per attempt up to RetryBackoffMax.
	RetryBackoffBase time.Duration `env:"FULFILLMENT_RETRY_BACKOFF_BASE" default:"200ms"`
	// RetryBackoffMax caps the backoff between delivery attempts to a
	// neighbour (WMS, inventory, order).
	RetryBackoffMax time.Duration `env:"FULFILLMENT_RETRY_BACKOFF_MAX" default:"30s"`
	// WMSMaxAttempts is the retry budget of a fulfilment request: after so
	// many failed deliveries it goes to FAILED. 0 retries forever.
	WMSMaxAttempts int `env:"FULFILLMENT_WMS_MAX_ATTEMPTS" default:"0"`
	// BreakerOpenTimeout is how long a neighbour's circuit breaker stays
	// open before a trial call.
	BreakerOpenTimeout time.Duration `env:"FULFILLMENT_BREAKER_OPEN_TIMEOUT" default:"10s"`
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
	positive(c.ShutdownTimeout, "SHUTDOWN_TIMEOUT")
	positive(c.WMSTimeout, "FULFILLMENT_WMS_TIMEOUT")
	positive(c.InventoryTimeout, "FULFILLMENT_INVENTORY_TIMEOUT")
	positive(c.OrderTimeout, "FULFILLMENT_ORDER_TIMEOUT")
	positive(c.WMSPollInterval, "FULFILLMENT_WMS_POLL_INTERVAL")
	positive(c.DispatchInterval, "FULFILLMENT_DISPATCH_INTERVAL")
	positive(c.RetryBackoffMax, "FULFILLMENT_RETRY_BACKOFF_MAX")
	positive(c.BreakerOpenTimeout, "FULFILLMENT_BREAKER_OPEN_TIMEOUT")
	if c.RetryBackoffBase <= 0 || c.RetryBackoffBase > c.RetryBackoffMax {
		errs = append(errs, errors.New("FULFILLMENT_RETRY_BACKOFF_BASE must be positive and at most FULFILLMENT_RETRY_BACKOFF_MAX"))
	}
	if c.WMSMaxAttempts < 0 {
		errs = append(errs, errors.New("FULFILLMENT_WMS_MAX_ATTEMPTS must not be negative"))
	}
	return errors.Join(errs...)
}
