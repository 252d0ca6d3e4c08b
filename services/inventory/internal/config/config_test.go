package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/inventory/internal/config"
)

// load is what svcmain.Start does with the configuration.
func load(env map[string]string) (config.Config, error) {
	var c config.Config
	err := svcmain.LoadConfig("inventory", func(k string) string { return env[k] }, &c)
	return c, err
}

// TestDefaults: with no environment at all the configuration loads,
// validates and names inventory's ports and database of
// docs/configuration.md (9004, admin 9104, not catalog-pricing's).
func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][2]string{
		"SERVICE_NAME": {c.ServiceName, "inventory"},
		"GRPC_ADDR":    {c.GRPCAddr, "127.0.0.1:9004"},
		"ADMIN_ADDR":   {c.AdminAddr, "127.0.0.1:9104"},
		"DATABASE_URL": {c.DatabaseURL, "sqlite://inventory.db"},
		"NATS_URL":     {c.NATSURL, "nats://127.0.0.1:4222"},
		"ERP_ADDR":     {c.ERPAddr, "127.0.0.1:9001"},
		"LOG_LEVEL":    {c.LogLevel, "info"},
	} {
		if got[0] != got[1] {
			t.Errorf("%s = %q, want %q", name, got[0], got[1])
		}
	}
	if c.MaxHoldTTL != 24*time.Hour || c.ERPTimeout != 5*time.Second || c.SnapshotTimeout != 10*time.Minute {
		t.Errorf("MaxHoldTTL, ERPTimeout, SnapshotTimeout = %s, %s, %s; want 24h, 5s, 10m", c.MaxHoldTTL, c.ERPTimeout, c.SnapshotTimeout)
	}
	if !c.ERPFeedPush || c.ERPFeedStreamLifetime != 5*time.Minute || c.ERPFeedInterval != 5*time.Second {
		t.Errorf("ERPFeedPush, ERPFeedStreamLifetime, ERPFeedInterval = %t, %s, %s; want true, 5m, 5s", c.ERPFeedPush, c.ERPFeedStreamLifetime, c.ERPFeedInterval)
	}
	if c.GapTimeout != 10*time.Minute || c.ReconciliationExceptionThreshold != 1 {
		t.Errorf("GapTimeout, ReconciliationExceptionThreshold = %s, %d; want 10m, 1", c.GapTimeout, c.ReconciliationExceptionThreshold)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		env  map[string]string
		want string // part of the error
	}{
		"zero hold ttl":          {map[string]string{"INVENTORY_MAX_HOLD_TTL": "0s"}, "INVENTORY_MAX_HOLD_TTL"},
		"zero expiry interval":   {map[string]string{"INVENTORY_EXPIRY_INTERVAL": "0s"}, "INVENTORY_EXPIRY_INTERVAL"},
		"retry min above max":    {map[string]string{"INVENTORY_LOAD_RETRY_MIN": "1m", "INVENTORY_LOAD_RETRY_MAX": "1s"}, "INVENTORY_LOAD_RETRY_MIN"},
		"negative feed":          {map[string]string{"INVENTORY_ERP_FEED_INTERVAL": "-1s"}, "INVENTORY_ERP_FEED_INTERVAL"},
		"zero erp timeout":       {map[string]string{"INVENTORY_ERP_TIMEOUT": "0s"}, "INVENTORY_ERP_TIMEOUT"},
		"zero stream lifetime":   {map[string]string{"INVENTORY_ERP_FEED_STREAM_LIFETIME": "0s"}, "INVENTORY_ERP_FEED_STREAM_LIFETIME"},
		"stream above snapshot":  {map[string]string{"INVENTORY_ERP_FEED_STREAM_LIFETIME": "11m"}, "INVENTORY_ERP_FEED_STREAM_LIFETIME"},
		"push not a bool":        {map[string]string{"INVENTORY_ERP_FEED_PUSH": "sometimes"}, "INVENTORY_ERP_FEED_PUSH"},
		"bad duration":           {map[string]string{"INVENTORY_STOCK_EVENT_GAP_TIMEOUT": "soon"}, "INVENTORY_STOCK_EVENT_GAP_TIMEOUT"},
		"zero gap timeout":       {map[string]string{"INVENTORY_STOCK_EVENT_GAP_TIMEOUT": "0s"}, "INVENTORY_STOCK_EVENT_GAP_TIMEOUT"},
		"zero threshold":         {map[string]string{"RECONCILIATION_EXCEPTION_THRESHOLD": "0"}, "RECONCILIATION_EXCEPTION_THRESHOLD"},
		"negative threshold":     {map[string]string{"RECONCILIATION_EXCEPTION_THRESHOLD": "-3"}, "RECONCILIATION_EXCEPTION_THRESHOLD"},
		"threshold not a number": {map[string]string{"RECONCILIATION_EXCEPTION_THRESHOLD": "ten"}, "RECONCILIATION_EXCEPTION_THRESHOLD"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := load(tc.env); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}
