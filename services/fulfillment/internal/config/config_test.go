package config_test

import (
	"testing"
	"time"

	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/fulfillment/internal/config"
)

// load is what svcmain.Start does with the configuration.
func load(env map[string]string) (config.Config, error) {
	var c config.Config
	err := svcmain.LoadConfig("fulfillment", func(k string) string { return env[k] }, &c)
	return c, err
}

// TestDefaults holds the defaults to docs/configuration.md: a bare binary
// listens on its own ports and keeps its database in the working folder.
func TestDefaults(t *testing.T) {
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][2]string{
		"GRPC_ADDR":    {c.GRPCAddr, "127.0.0.1:9006"},
		"ADMIN_ADDR":   {c.AdminAddr, "127.0.0.1:9106"},
		"DATABASE_URL": {c.DatabaseURL, "sqlite://fulfillment.db"},
		"LOG_LEVEL":    {c.LogLevel, "info"},
	} {
		if got[0] != got[1] {
			t.Errorf("%s = %q, want %q", name, got[0], got[1])
		}
	}
	if c.WMSTimeout != 10*time.Second || c.InventoryTimeout != 5*time.Second || c.OrderTimeout != 5*time.Second {
		t.Errorf("neighbour timeouts = %v, %v, %v", c.WMSTimeout, c.InventoryTimeout, c.OrderTimeout)
	}
	if c.WMSPollInterval != 500*time.Millisecond || c.WMSMaxAttempts != 0 {
		t.Errorf("defaults = %+v", c)
	}
}

func TestInvalid(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"zero poll interval":     {"FULFILLMENT_WMS_POLL_INTERVAL": "0s"},
		"backoff base above max": {"FULFILLMENT_RETRY_BACKOFF_BASE": "1m", "FULFILLMENT_RETRY_BACKOFF_MAX": "1s"},
		"zero wms timeout":       {"FULFILLMENT_WMS_TIMEOUT": "0s"},
		"negative budget":        {"FULFILLMENT_WMS_MAX_ATTEMPTS": "-1"},
		"bad duration":           {"FULFILLMENT_ORDER_TIMEOUT": "soon"},
	} {
		if _, err := load(env); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
