// Package config holds the gateway's configuration, loaded from environment
// variables by svcmain.LoadConfig (platform/config). Every field has a default so
// a bare binary starts for local development; API_KEYS has none (without
// keys every call is rejected as unauthenticated).
package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/transload/transload/platform/cache"
	"github.com/transload/transload/platform/svcmain"

	"github.com/transload/transload/gateway/internal/auth"
	"github.com/transload/transload/gateway/internal/rest"
)

// Config is the gateway's configuration.
type Config struct {
	// Base holds SERVICE_NAME, GRPC_ADDR, ADMIN_ADDR, LOG_LEVEL and the
	// OTEL_* tracing settings, the addresses from svcmain's port plan.
	// GRPC_ADDR serves storefront.v1 over gRPC; the REST side dials it
	// too, so one interceptor chain covers both.
	svcmain.Base

	// HTTPAddr is the REST (grpc-gateway) listen address.
	HTTPAddr string `env:"HTTP_ADDR" default:"127.0.0.1:8080"`

	// Neighbour addresses (plaintext gRPC host:port).
	CatalogAddr     string `env:"CATALOG_ADDR" default:"127.0.0.1:9003"`
	InventoryAddr   string `env:"INVENTORY_ADDR" default:"127.0.0.1:9004"`
	OrderAddr       string `env:"ORDER_ADDR" default:"127.0.0.1:9005"`
	FulfillmentAddr string `env:"FULFILLMENT_ADDR" default:"127.0.0.1:9006"`
	// OpsAddr is the ops service, which serves ops.v1 behind the gateway.
	OpsAddr string `env:"OPS_ADDR" default:"127.0.0.1:9008"`
	// NotifyAddr is the notify service, which serves the storefront
	// webhook routes (subscriptions, delivery log) behind the gateway.
	NotifyAddr string `env:"NOTIFY_ADDR" default:"127.0.0.1:9009"`
	// Per-neighbour budgets, set on each connection: every call ends at the
	// earlier of the request's deadline and this budget, and when the budget
	// expires the neighbour's breaker counts the slow answer. ORDER_TIMEOUT
	// is as long as a REST request because CreateOrder may wait up to the
	// order service's ORDER_CLAIM_WAIT (15s) for a concurrent duplicate.
	CatalogTimeout     time.Duration `env:"CATALOG_TIMEOUT" default:"5s"`
	InventoryTimeout   time.Duration `env:"INVENTORY_TIMEOUT" default:"5s"`
	OrderTimeout       time.Duration `env:"ORDER_TIMEOUT" default:"15s"`
	FulfillmentTimeout time.Duration `env:"FULFILLMENT_TIMEOUT" default:"5s"`
	// OpsTimeout is longer than a read needs because a replay of many dead
	// letters or a reconciliation trigger does its work inside the call.
	OpsTimeout time.Duration `env:"OPS_TIMEOUT" default:"10s"`
	// NotifyTimeout bounds a call to the notify service; a test delivery
	// (TestWebhookSubscription) waits for the target, up to its 5 s
	// attempt timeout, inside the call.
	NotifyTimeout time.Duration `env:"NOTIFY_TIMEOUT" default:"10s"`

	// APIKeys lists `key:channel[:customer]` (storefront) and
	// `key:ops:viewer|operator|admin` (operator) entries, comma separated.
	// Secret: never logged.
	APIKeys []string `env:"API_KEYS" secret:"true"`

	// ConsoleSessionKey signs the operator console's session cookies: 32
	// bytes, hex or base64. Empty means a random key per process, so
	// sessions end with the process and do not span replicas. Secret.
	ConsoleSessionKey string `env:"CONSOLE_SESSION_KEY" secret:"true"`

	// Currencies are the ISO 4217 codes the storefront accepts; a
	// well-formed code outside this set fails with UNSUPPORTED_CURRENCY.
	Currencies []string `env:"SUPPORTED_CURRENCIES" default:"EUR,USD,GBP,CHF,SEK,NOK,DKK,PLN,CZK"`
	// DefaultCurrency prices Product.list_price in GetProduct/ListProducts.
	DefaultCurrency string `env:"DEFAULT_CURRENCY" default:"EUR"`

	// MaxBodyBytes bounds REST request bodies (413 PAYLOAD_TOO_LARGE above).
	MaxBodyBytes int64 `env:"HTTP_MAX_BODY_BYTES" default:"1048576"`
	// RequestTimeout is the deadline of one REST request end to end.
	RequestTimeout time.Duration `env:"HTTP_REQUEST_TIMEOUT" default:"15s"`
	// CompressMinBytes is the REST answer size from which answers are
	// gzipped for clients that accept gzip; 0 turns gzip off (e.g. when
	// the ingress compresses). Gzipping a 1.6 KB availability answer costs
	// about 20 µs of CPU, more than encoding it as JSON.
	CompressMinBytes int `env:"HTTP_COMPRESS_MIN_BYTES" default:"1024"`
	// CORSAllowedOrigins are the browser origins (exact
	// scheme://host[:port], comma separated) whose scripts may call the
	// REST API; empty means no CORS headers, so browsers allow only
	// same-origin pages.
	CORSAllowedOrigins []string `env:"CORS_ALLOWED_ORIGINS"`

	// AvailabilityFreshFor is how long CheckAvailability trusts the catalog,
	// price and stock versions it last saw to serve answers from the
	// version-keyed cache (CONFIDENCE_CACHED) without asking pricing and
	// inventory; 0 disables the hot-path cache.
	AvailabilityFreshFor time.Duration `env:"AVAILABILITY_FRESH_FOR" default:"2s"`
	// AvailabilitySnapshotTTL is how long the last good price and stock
	// answers are kept for the fallback when a dependency is unavailable.
	AvailabilitySnapshotTTL time.Duration `env:"AVAILABILITY_SNAPSHOT_TTL" default:"24h"`
	// AvailabilityDependencyTimeout bounds each live pricing/inventory call
	// of CheckAvailability, so a slow dependency turns into a snapshot
	// answer instead of a slow page.
	AvailabilityDependencyTimeout time.Duration `env:"AVAILABILITY_DEPENDENCY_TIMEOUT" default:"1500ms"`

	// RateLimitRPS is the sustained calls per second allowed per API key
	// (429 RATE_LIMITED above it); 0 disables limiting.
	RateLimitRPS float64 `env:"RATE_LIMIT_RPS" default:"2000"`
	// RateLimitBurst is the burst allowed per API key.
	RateLimitBurst int `env:"RATE_LIMIT_BURST" default:"4000"`
	// OrderRatePerCustomer is the sustained orders per second one customer
	// may place (CreateOrder, 429 RATE_LIMITED above it), whichever keys
	// send them: two keys bound to the customer, or a channel key ordering
	// for it, share the budget. 0 disables the limit.
	OrderRatePerCustomer float64 `env:"ORDER_RATE_LIMIT_PER_CUSTOMER" default:"50"`
	// OrderBurstPerCustomer is the burst of orders allowed per customer.
	OrderBurstPerCustomer int `env:"ORDER_RATE_LIMIT_PER_CUSTOMER_BURST" default:"100"`

	// NATSURL is where catalog-pricing publishes CatalogPublished and
	// PricesChanged; the gateway listens to drop trusted price versions at
	// once. Empty disables the listener (prices then rely on
	// AVAILABILITY_FRESH_FOR alone).
	NATSURL string `env:"NATS_URL" default:"nats://127.0.0.1:4222"`

	// AvailabilityStockProjection answers CheckAvailability's stock from a
	// projection of inventory's StockChangedEvents (read from NATS_URL)
	// for the SKUs it holds, instead of calling inventory on every call.
	// It needs NATS_URL; false reads stock live on every call.
	AvailabilityStockProjection bool `env:"AVAILABILITY_STOCK_PROJECTION" default:"true"`
	// AvailabilityWarehousesRefresh is how often the projection re-reads
	// inventory's warehouse table (which warehouses are active and serve
	// which channel); a changed table clears the projection.
	AvailabilityWarehousesRefresh time.Duration `env:"AVAILABILITY_WAREHOUSES_REFRESH" default:"10s"`

	// Cache selects Redis (REDIS_ADDR) or the in-process store.
	Cache cache.Config
}

var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// Validate checks the rules spanning fields.
func (c *Config) Validate() error {
	var errs []error
	if _, err := auth.ParseKeys(c.APIKeys); err != nil {
		errs = append(errs, fmt.Errorf("API_KEYS: %w", err))
	}
	if len(c.Currencies) == 0 {
		errs = append(errs, errors.New("SUPPORTED_CURRENCIES: at least one currency is required"))
	}
	for _, cur := range c.Currencies {
		if !currencyPattern.MatchString(cur) {
			errs = append(errs, fmt.Errorf("SUPPORTED_CURRENCIES: %q is not an ISO 4217 code", cur))
		}
	}
	if !slices.Contains(c.Currencies, c.DefaultCurrency) {
		errs = append(errs, fmt.Errorf("DEFAULT_CURRENCY: %q is not in SUPPORTED_CURRENCIES", c.DefaultCurrency))
	}
	if c.AvailabilityWarehousesRefresh <= 0 {
		errs = append(errs, errors.New("AVAILABILITY_WAREHOUSES_REFRESH: must be positive"))
	}
	if c.OrderRatePerCustomer < 0 || c.OrderBurstPerCustomer < 1 {
		errs = append(errs, errors.New("ORDER_RATE_LIMIT_PER_CUSTOMER must not be negative (0 turns it off) and ORDER_RATE_LIMIT_PER_CUSTOMER_BURST must be at least 1"))
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("HTTP_MAX_BODY_BYTES: must be positive"))
	}
	if c.CompressMinBytes < 0 {
		errs = append(errs, errors.New("HTTP_COMPRESS_MIN_BYTES: must not be negative (0 turns gzip off)"))
	}
	for _, o := range c.CORSAllowedOrigins {
		if _, err := rest.ParseOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("CORS_ALLOWED_ORIGINS: %w", err))
		}
	}
	if c.RequestTimeout <= 0 || c.AvailabilityDependencyTimeout <= 0 {
		errs = append(errs, errors.New("HTTP_REQUEST_TIMEOUT and AVAILABILITY_DEPENDENCY_TIMEOUT must be positive"))
	}
	if c.CatalogTimeout <= 0 || c.InventoryTimeout <= 0 || c.OrderTimeout <= 0 || c.FulfillmentTimeout <= 0 || c.OpsTimeout <= 0 {
		errs = append(errs, errors.New("CATALOG_TIMEOUT, INVENTORY_TIMEOUT, ORDER_TIMEOUT, FULFILLMENT_TIMEOUT and OPS_TIMEOUT must be positive"))
	}
	if _, _, err := c.SessionKey(); err != nil {
		errs = append(errs, err)
	}
	if c.AvailabilityFreshFor < 0 || c.AvailabilitySnapshotTTL <= 0 {
		errs = append(errs, errors.New("AVAILABILITY_FRESH_FOR must not be negative and AVAILABILITY_SNAPSHOT_TTL must be positive"))
	}
	return errors.Join(errs...)
}

// SessionKeySize is the length of CONSOLE_SESSION_KEY once decoded.
const SessionKeySize = 32

// SessionKey decodes CONSOLE_SESSION_KEY (hex, or base64 in the standard
// or URL alphabet, padded or not) into its SessionKeySize bytes; set is
// false when it is empty. The error never contains the value.
func (c *Config) SessionKey() (key []byte, set bool, err error) {
	if c.ConsoleSessionKey == "" {
		return nil, false, nil
	}
	decoders := []func(string) ([]byte, error){
		hex.DecodeString,
		base64.StdEncoding.DecodeString,
		base64.URLEncoding.DecodeString,
		base64.RawStdEncoding.DecodeString,
		base64.RawURLEncoding.DecodeString,
	}
	for _, decode := range decoders {
		if b, err := decode(c.ConsoleSessionKey); err == nil && len(b) == SessionKeySize {
			return b, true, nil
		}
	}
	return nil, false, fmt.Errorf("CONSOLE_SESSION_KEY: want %d bytes in hex (%d digits) or base64; generate one with `openssl rand -hex %d`",
		SessionKeySize, 2*SessionKeySize, SessionKeySize)
}
