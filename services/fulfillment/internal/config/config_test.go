package config_test

import (
	"testing"
	"time"

	"github.com/transload/transload/services/fulfillment/internal/config"
)

func TestLoad(t *testing.T) {
	c, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c.WMSPollInterval != 500*time.Millisecond || c.GRPCAddr == "" || c.WMSMaxAttempts != 0 {
		t.Fatalf("defaults = %+v", c)
	}
	env := map[string]string{"FULFILLMENT_WMS_POLL_INTERVAL": "0s"}
	if _, err := config.Load(func(k string) string { return env[k] }); err == nil {
		t.Fatal("zero poll interval accepted")
	}
	env = map[string]string{"FULFILLMENT_RETRY_BACKOFF_BASE": "1m", "FULFILLMENT_RETRY_BACKOFF_MAX": "1s"}
	if _, err := config.Load(func(k string) string { return env[k] }); err == nil {
		t.Fatal("base above max accepted")
	}
}
