package config

import (
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/platform/svcmain"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// load is what svcmain.Start does with the configuration.
func load(getenv func(string) string) (Config, error) {
	var c Config
	err := svcmain.LoadConfig("gateway", getenv, &c)
	return c, err
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.GRPCAddr != "127.0.0.1:9007" || c.AdminAddr != "127.0.0.1:9107" || c.HTTPAddr != "127.0.0.1:8080" ||
		c.DefaultCurrency != "EUR" || c.MaxBodyBytes != 1<<20 || c.AvailabilityFreshFor != 2*time.Second || len(c.Currencies) < 4 ||
		c.LogLevel != "info" {
		t.Errorf("defaults: %+v", c)
	}
	for name, want := range map[string][2]time.Duration{"catalog": {c.CatalogTimeout, 5 * time.Second},
		"inventory": {c.InventoryTimeout, 5 * time.Second}, "order": {c.OrderTimeout, 15 * time.Second},
		"fulfillment": {c.FulfillmentTimeout, 5 * time.Second}} {
		if want[0] != want[1] {
			t.Errorf("%s timeout %v, want %v", name, want[0], want[1])
		}
	}
}

func TestLoadRejects(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		vars map[string]string
		want string
	}{
		"bad key":            {map[string]string{"API_KEYS": "topsecretkey"}, "API_KEYS"},
		"bad currency":       {map[string]string{"SUPPORTED_CURRENCIES": "EUR,euro"}, "SUPPORTED_CURRENCIES"},
		"default not listed": {map[string]string{"DEFAULT_CURRENCY": "JPY"}, "DEFAULT_CURRENCY"},
		"zero body limit":    {map[string]string{"HTTP_MAX_BODY_BYTES": "0"}, "HTTP_MAX_BODY_BYTES"},
		"zero order timeout": {map[string]string{"ORDER_TIMEOUT": "0s"}, "ORDER_TIMEOUT"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := load(env(tc.vars))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "topsecretkey") {
				t.Error("the error echoes an API key")
			}
		})
	}
}
