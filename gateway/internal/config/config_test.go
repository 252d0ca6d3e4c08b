package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.GRPCAddr == "" || c.HTTPAddr == "" || c.AdminAddr == "" || c.DefaultCurrency != "EUR" ||
		c.MaxBodyBytes != 1<<20 || c.AvailabilityFreshFor != 2*time.Second || len(c.Currencies) < 4 {
		t.Errorf("defaults: %+v", c)
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
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(env(tc.vars))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "topsecretkey") {
				t.Error("the error echoes an API key")
			}
		})
	}
}
