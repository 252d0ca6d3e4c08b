// Package config is the simulator's environment configuration.
package config

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/transload/transload/platform/svcmain"
)

// Config is read from the environment by svcmain.LoadConfig; defaults let
// a bare binary start for local development.
type Config struct {
	// Base is SERVICE_NAME, GRPC_ADDR (WmsAdapterService), ADMIN_ADDR
	// (which also serves the /control API), LOG_LEVEL and the OTEL_*
	// tracing variables, the addresses from svcmain's port plan.
	svcmain.Base
	// Database is DATABASE_URL (default sqlite://wmssim.db).
	svcmain.Database
	// Step is the time between two milestones of a shipment request
	// (picked, packed, shipped, delivered).
	Step time.Duration `env:"WMSSIM_STEP" default:"2s"`
	// Tick is how often due milestones are looked for; 0 derives it from
	// Step (half of it, between 10ms and 1s). Milestones are stamped
	// with the time they were due, not the tick that found them, so the
	// tick only decides how soon they show in the feed; each tick costs
	// two due-queries and a commit whether or not much is due (a quarter
	// of the step made those 13% of the simulator's CPU in the sustained
	// bench, where the step is 50ms).
	Tick time.Duration `env:"WMSSIM_TICK" default:"0s"`
	// ReturnReceiptDelay is how long after its registration an expected
	// return is received on its own (everything outstanding, condition
	// NEW, disposition RESTOCK); 0 leaves receipts to the control API.
	ReturnReceiptDelay time.Duration `env:"WMSSIM_RETURN_RECEIPT_DELAY" default:"5s"`
	// SQLiteSynchronous is the synchronous pragma of an SQLite database:
	// NORMAL (default) or FULL. The simulator stands in for a warehouse's
	// system, so it does not pay Transload's price of an fsync per commit
	// (issue #12 allows NORMAL for the simulators): in WAL mode NORMAL
	// loses no committed transaction when the process crashes or is
	// killed, only the last ones when the machine loses power (fsync at
	// checkpoints). FULL fsyncs every commit. A DATABASE_URL with its own
	// _synchronous parameter wins; PostgreSQL ignores it.
	SQLiteSynchronous string `env:"WMSSIM_SQLITE_SYNCHRONOUS" default:"NORMAL"`
}

// DatabaseDSN is DatabaseURL with SQLiteSynchronous for an SQLite
// database whose URL does not choose _synchronous itself.
func (c *Config) DatabaseDSN() string {
	dsn := c.DatabaseURL
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok || (!strings.EqualFold(scheme, "sqlite") && !strings.EqualFold(scheme, "sqlite3")) {
		return dsn
	}
	_, query, hasQuery := strings.Cut(rest, "?")
	if q, err := url.ParseQuery(query); err == nil && q.Has("_synchronous") {
		return dsn
	}
	sep := "?"
	if hasQuery {
		sep = "&"
	}
	return dsn + sep + "_synchronous=" + c.SQLiteSynchronous
}

// Validate checks rules spanning fields.
func (c *Config) Validate() error {
	var errs []error
	if c.Step <= 0 {
		errs = append(errs, errors.New("WMSSIM_STEP must be positive"))
	}
	if c.ReturnReceiptDelay < 0 {
		errs = append(errs, errors.New("WMSSIM_RETURN_RECEIPT_DELAY must not be negative"))
	}
	if c.SQLiteSynchronous != "NORMAL" && c.SQLiteSynchronous != "FULL" {
		errs = append(errs, errors.New("WMSSIM_SQLITE_SYNCHRONOUS must be NORMAL or FULL"))
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
	return min(max(c.Step/2, 10*time.Millisecond), time.Second)
}
