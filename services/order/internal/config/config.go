// Package config is the order service's environment configuration.
package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/svcmain"
)

// Config is read from the environment by svcmain.LoadConfig (platform/config).
// Defaults let a bare binary start for local development (the ports of
// docs/configuration.md and `make run`).
type Config struct {
	// Base is SERVICE_NAME, GRPC_ADDR, ADMIN_ADDR, LOG_LEVEL and the OTEL_*
	// tracing settings, the addresses from svcmain's port plan.
	svcmain.Base
	// Database is DATABASE_URL (default sqlite://order.db).
	svcmain.Database
	NATSURL string `env:"NATS_URL" default:"nats://127.0.0.1:4222"`
	// Streams is NATS_STREAM_REPLICAS: the replicas of the streams this
	// service ensures (3 on a three-node NATS cluster).
	Streams eventstreams.Settings

	ERPAddr       string `env:"ERP_ADDR" default:"127.0.0.1:9001"`
	CatalogAddr   string `env:"CATALOG_ADDR" default:"127.0.0.1:9003"`
	InventoryAddr string `env:"INVENTORY_ADDR" default:"127.0.0.1:9004"`
	// FulfillmentAddr is called to cancel fulfilment of confirmed orders.
	FulfillmentAddr string `env:"FULFILLMENT_ADDR" default:"127.0.0.1:9006"`

	// Neighbour call deadlines (the ERP contract's budgets), set on each
	// connection: ERP reads (customers) and the ERP queue's submissions and
	// cancellations have their own budgets.
	ERPReadTimeout     time.Duration `env:"ORDER_ERP_READ_TIMEOUT" default:"2s"`
	ERPSubmitTimeout   time.Duration `env:"ORDER_ERP_SUBMIT_TIMEOUT" default:"10s"`
	CatalogTimeout     time.Duration `env:"ORDER_CATALOG_TIMEOUT" default:"5s"`
	InventoryTimeout   time.Duration `env:"ORDER_INVENTORY_TIMEOUT" default:"5s"`
	FulfillmentTimeout time.Duration `env:"ORDER_FULFILLMENT_TIMEOUT" default:"10s"`

	// Breaker for the ERP: trips after this many consecutive failures and
	// stays open this long before a trial call.
	ERPBreakerFailures uint `env:"ORDER_ERP_BREAKER_FAILURES" default:"5"`
	// The open time bounds how soon a halted ERP queue resumes after the
	// ERP is back (the worker sends its probe when the breaker half-opens);
	// a down ERP sees one trial call per open time.
	ERPBreakerOpenTimeout time.Duration `env:"ORDER_ERP_BREAKER_OPEN_TIMEOUT" default:"1s"`

	// ERP queue worker.
	QueuePollInterval time.Duration `env:"ORDER_QUEUE_POLL_INTERVAL" default:"1s"`
	QueueBackoffBase  time.Duration `env:"ORDER_QUEUE_BACKOFF_BASE" default:"500ms"`
	QueueBackoffMax   time.Duration `env:"ORDER_QUEUE_BACKOFF_MAX" default:"10s"`
	// QueueConcurrency is how many customers' ERP queue entries are sent
	// to the ERP at once (each customer's still one at a time, in queue
	// order); 1 sends one entry at a time in queue order.
	QueueConcurrency int `env:"ORDER_QUEUE_CONCURRENCY" default:"16"`
	// ERPFailureExceptionAfter is how many failed attempts of one ERP queue
	// entry raise an ERP_SUBMISSION_FAILED exception for operators (again
	// at every further multiple).
	ERPFailureExceptionAfter int `env:"ERP_FAILURE_EXCEPTION_AFTER" default:"5"`
	// QueueMaxStrikes is how many failures of its own (the ERP answers it
	// with an unexpected error while answering other calls, or the adapter
	// cannot send it) an ERP queue entry may have before it is parked for
	// an operator, letting the customer's later entries go on.
	QueueMaxStrikes int `env:"ORDER_QUEUE_MAX_STRIKES" default:"10"`

	// Idempotency and the customer snapshot.
	ClaimLease time.Duration `env:"ORDER_CLAIM_LEASE" default:"10s"`
	ClaimWait  time.Duration `env:"ORDER_CLAIM_WAIT" default:"15s"`
	// ClaimAbandonAfter is how long after its lease ended a pending
	// CreateOrder claim (its owner died after reserving stock and no retry
	// took it over) is reaped: its reservation released and the claim
	// dropped. The queue worker's reaper looks every 30s.
	ClaimAbandonAfter    time.Duration `env:"ORDER_CLAIM_ABANDON_AFTER" default:"2m"`
	CustomerMaxStaleness time.Duration `env:"ORDER_CUSTOMER_MAX_STALENESS" default:"24h"`
	// CustomerSyncInterval is how often the snapshots are refreshed from
	// the ERP's ListCustomers (also once at start).
	CustomerSyncInterval time.Duration `env:"ORDER_CUSTOMER_SYNC_INTERVAL" default:"10m"`
	// CustomerLocalMaxAge, when positive, makes CreateOrder read a known
	// customer from its local snapshot instead of the ERP while the last
	// complete customer sync started at most this long ago (0: always ask
	// the ERP).
	CustomerLocalMaxAge time.Duration `env:"ORDER_CUSTOMER_LOCAL_MAX_AGE" default:"0s"`

	// QueueLeaseTTL is the ERP queue worker's singleton lease (one worker
	// drains the queue when several replicas share a database).
	QueueLeaseTTL time.Duration `env:"ORDER_QUEUE_LEASE_TTL" default:"15s"`
	// IdempotencyRetention is how long finished request ids and event ids
	// are remembered (the contract promises at least 24h).
	IdempotencyRetention time.Duration `env:"ORDER_IDEMPOTENCY_RETENTION" default:"168h"`

	// Outbox relay.
	RelayPollInterval time.Duration `env:"ORDER_OUTBOX_POLL_INTERVAL" default:"200ms"`
	// OutboxRetention is how long published outbox rows are kept.
	OutboxRetention time.Duration `env:"ORDER_OUTBOX_RETENTION" default:"168h"`

	// Returns (RMA) policy. ReturnWindow is how long after delivery goods
	// may be returned; ReturnWindowsByChannel overrides it per sales
	// channel as "channel=duration" pairs separated by commas (e.g.
	// "marketplace-acme=336h,sales-app=1440h").
	ReturnWindow           time.Duration `env:"ORDER_RETURN_WINDOW" default:"720h"`
	ReturnWindowsByChannel string        `env:"ORDER_RETURN_WINDOWS_BY_CHANNEL" default:""`
	// ReturnAllowShipped lets shipped, not yet delivered goods be returned
	// (the window then runs from shipment).
	ReturnAllowShipped bool `env:"ORDER_RETURN_ALLOW_SHIPPED" default:"false"`
	// ReturnAutoApproveMaxMinor authorizes a return that passes the rules
	// at once when its goods are worth at most this many minor units of
	// the order currency; above it an operator approves or rejects. -1
	// sends every return to an operator.
	ReturnAutoApproveMaxMinor int64 `env:"ORDER_RETURN_AUTO_APPROVE_MAX_MINOR" default:"100000"`
	// ReturnAuthorizationTTL closes an AUTHORIZED return whose goods have
	// not arrived this long after its authorization (one expiry task
	// across replicas); 0 never closes one.
	ReturnAuthorizationTTL time.Duration `env:"ORDER_RETURN_AUTHORIZATION_TTL" default:"720h"`

	// Financial posting. The scheduler (one across replicas) collects
	// unposted invoice and credit memo lines into journal batches of at
	// most PostingBatchSize lines every PostingInterval (0s: operators post
	// on demand only) and posts them to the ERP, each call bounded by
	// PostingSubmitTimeout; lines go to the general-ledger accounts below.
	PostingInterval          time.Duration `env:"ORDER_POSTING_INTERVAL" default:"10s"`
	PostingBatchSize         int           `env:"ORDER_POSTING_BATCH_SIZE" default:"500"`
	PostingSubmitTimeout     time.Duration `env:"ORDER_POSTING_SUBMIT_TIMEOUT" default:"30s"`
	PostingInvoiceAccount    string        `env:"ORDER_POSTING_INVOICE_ACCOUNT" default:"4000"`
	PostingCreditMemoAccount string        `env:"ORDER_POSTING_CREDIT_MEMO_ACCOUNT" default:"4100"`
	// PostingLeaseTTL is the scheduler's singleton lease, taken at the
	// start of each pass: a replica that died holding it (SIGKILL) is
	// replaced by another's scheduler at most this long after its last pass.
	PostingLeaseTTL time.Duration `env:"ORDER_POSTING_LEASE_TTL" default:"30s"`
}

// ReturnChannelWindows parses ORDER_RETURN_WINDOWS_BY_CHANNEL.
func (c *Config) ReturnChannelWindows() (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for _, pair := range strings.Split(c.ReturnWindowsByChannel, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		ch, d, ok := strings.Cut(pair, "=")
		w, err := time.ParseDuration(strings.TrimSpace(d))
		if !ok || strings.TrimSpace(ch) == "" || err != nil || w <= 0 {
			return nil, fmt.Errorf("ORDER_RETURN_WINDOWS_BY_CHANNEL: %q is not channel=duration with a positive duration", pair)
		}
		out[strings.TrimSpace(ch)] = w
	}
	return out, nil
}

// maxQueueConcurrency bounds ORDER_QUEUE_CONCURRENCY: each lane holds a
// database transaction at a time and an ERP call.
const maxQueueConcurrency = 256

// Validate checks rules that span fields.
func (c *Config) Validate() error {
	var errs []error
	if c.ClaimLease < time.Second {
		errs = append(errs, errors.New("ORDER_CLAIM_LEASE must be at least 1s"))
	}
	if c.ClaimAbandonAfter <= 0 {
		errs = append(errs, errors.New("ORDER_CLAIM_ABANDON_AFTER must be positive"))
	}
	if c.CustomerSyncInterval < time.Second {
		errs = append(errs, errors.New("ORDER_CUSTOMER_SYNC_INTERVAL must be at least 1s"))
	}
	if c.CustomerLocalMaxAge < 0 || c.CustomerLocalMaxAge > c.CustomerMaxStaleness {
		errs = append(errs, errors.New("ORDER_CUSTOMER_LOCAL_MAX_AGE must be between 0 and ORDER_CUSTOMER_MAX_STALENESS"))
	}
	if c.IdempotencyRetention < 24*time.Hour {
		errs = append(errs, errors.New("ORDER_IDEMPOTENCY_RETENTION must be at least 24h (order.v1 idempotency contract)"))
	}
	if c.QueueConcurrency < 1 || c.QueueConcurrency > maxQueueConcurrency {
		errs = append(errs, fmt.Errorf("ORDER_QUEUE_CONCURRENCY must be between 1 and %d", maxQueueConcurrency))
	}
	if c.ERPFailureExceptionAfter < 1 {
		errs = append(errs, errors.New("ERP_FAILURE_EXCEPTION_AFTER must be at least 1"))
	}
	if c.QueueMaxStrikes < 1 {
		errs = append(errs, errors.New("ORDER_QUEUE_MAX_STRIKES must be at least 1"))
	}
	if c.ReturnWindow <= 0 {
		errs = append(errs, errors.New("ORDER_RETURN_WINDOW must be positive"))
	}
	if _, err := c.ReturnChannelWindows(); err != nil {
		errs = append(errs, err)
	}
	if c.PostingInterval < 0 || c.PostingSubmitTimeout <= 0 || c.PostingLeaseTTL <= 0 {
		errs = append(errs, errors.New("ORDER_POSTING_INTERVAL must not be negative, ORDER_POSTING_SUBMIT_TIMEOUT and ORDER_POSTING_LEASE_TTL must be positive"))
	}
	if c.PostingBatchSize < 1 || c.PostingBatchSize > 1000 {
		errs = append(errs, errors.New("ORDER_POSTING_BATCH_SIZE must be between 1 and 1000 (the ERP's journal batch limit)"))
	}
	if c.PostingInvoiceAccount == "" || c.PostingCreditMemoAccount == "" || len(c.PostingInvoiceAccount) > 32 || len(c.PostingCreditMemoAccount) > 32 {
		errs = append(errs, errors.New("ORDER_POSTING_INVOICE_ACCOUNT and ORDER_POSTING_CREDIT_MEMO_ACCOUNT must be 1..32 characters"))
	}
	if c.ReturnAuthorizationTTL < 0 {
		errs = append(errs, errors.New("ORDER_RETURN_AUTHORIZATION_TTL must not be negative (0 never expires)"))
	}
	if c.ReturnAutoApproveMaxMinor < -1 {
		errs = append(errs, errors.New("ORDER_RETURN_AUTO_APPROVE_MAX_MINOR must be -1 (never) or at least 0"))
	}
	if c.GRPCAddr == "" {
		errs = append(errs, errors.New("GRPC_ADDR is empty"))
	}
	return errors.Join(errs...)
}
