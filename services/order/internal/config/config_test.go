package config_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/platform/tracing"
	"github.com/transload/transload/services/order/internal/config"
)

// TestDefaults: with no environment at all the configuration is valid and
// matches docs/configuration.md (order on 9005/9105, sqlite://order.db).
func TestDefaults(t *testing.T) {
	t.Parallel()
	var got config.Config
	if err := svcmain.LoadConfig("order", func(string) string { return "" }, &got); err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		Base: svcmain.Base{
			ServiceName: "order", GRPCAddr: "127.0.0.1:9005", AdminAddr: "127.0.0.1:9105",
			LogLevel: "info", AccessLog: "all", Tracing: tracing.Settings{SampleRatio: 1},
			MemoryLimitMB: svcmain.DefaultMemoryLimitMB,
		},
		Database: svcmain.Database{DatabaseURL: "sqlite://order.db"},
		NATSURL:  "nats://127.0.0.1:4222",
		Streams:  eventstreams.Settings{Replicas: 1},
		ERPAddr:  "127.0.0.1:9001", CatalogAddr: "127.0.0.1:9003", InventoryAddr: "127.0.0.1:9004", FulfillmentAddr: "127.0.0.1:9006",
		ERPReadTimeout: 2 * time.Second, ERPSubmitTimeout: 10 * time.Second,
		CatalogTimeout: 5 * time.Second, InventoryTimeout: 5 * time.Second, FulfillmentTimeout: 10 * time.Second,
		ERPBreakerFailures: 5, ERPBreakerOpenTimeout: time.Second,
		QueuePollInterval: time.Second, QueueBackoffBase: 500 * time.Millisecond, QueueBackoffMax: 10 * time.Second,
		QueueConcurrency:         16,
		ERPFailureExceptionAfter: 5, QueueMaxStrikes: 10,
		ClaimLease: 10 * time.Second, ClaimWait: 15 * time.Second, ClaimAbandonAfter: 2 * time.Minute, CustomerMaxStaleness: 24 * time.Hour,
		CustomerSyncInterval: 10 * time.Minute, QueueLeaseTTL: 15 * time.Second, IdempotencyRetention: 168 * time.Hour,
		RelayPollInterval: 200 * time.Millisecond, OutboxRetention: 168 * time.Hour,
		ReturnWindow: 720 * time.Hour, ReturnAutoApproveMaxMinor: 100000, ReturnAuthorizationTTL: 720 * time.Hour,
		PostingInterval: 10 * time.Second, PostingBatchSize: 500, PostingSubmitTimeout: 30 * time.Second,
		PostingInvoiceAccount: "4000", PostingCreditMemoAccount: "4100", PostingLeaseTTL: 30 * time.Second,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for name, env := range map[string]map[string]string{
		"short claim lease":     {"ORDER_CLAIM_LEASE": "500ms"},
		"no abandon delay":      {"ORDER_CLAIM_ABANDON_AFTER": "0s"},
		"fast customer sync":    {"ORDER_CUSTOMER_SYNC_INTERVAL": "10ms"},
		"negative local age":    {"ORDER_CUSTOMER_LOCAL_MAX_AGE": "-1s"},
		"local age > staleness": {"ORDER_CUSTOMER_LOCAL_MAX_AGE": "25h"},
		"short key retention":   {"ORDER_IDEMPOTENCY_RETENTION": "1h"},
		"bad duration":          {"ORDER_CATALOG_TIMEOUT": "soon"},
		"no failure exception":  {"ERP_FAILURE_EXCEPTION_AFTER": "0"},
		"no queue lanes":        {"ORDER_QUEUE_CONCURRENCY": "0"},
		"too many queue lanes":  {"ORDER_QUEUE_CONCURRENCY": "257"},
		"no return window":      {"ORDER_RETURN_WINDOW": "0s"},
		"bad channel window":    {"ORDER_RETURN_WINDOWS_BY_CHANNEL": "web=soon"},
		"bad auto-approval":     {"ORDER_RETURN_AUTO_APPROVE_MAX_MINOR": "-2"},
	} {
		var cfg config.Config
		if err := svcmain.LoadConfig("order", func(k string) string { return env[k] }, &cfg); err == nil {
			t.Errorf("%s: loaded without error", name)
		}
	}
}
