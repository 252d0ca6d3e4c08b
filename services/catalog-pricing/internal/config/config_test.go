package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/catalog-pricing/internal/config"
)

// load is what svcmain.Start does with the configuration.
func load(env map[string]string) (config.Config, error) {
	var cfg config.Config
	err := svcmain.LoadConfig("catalog-pricing", func(k string) string { return env[k] }, &cfg)
	return cfg, err
}

// TestDefaultsAreDocumented: with no environment at all the configuration
// loads, validates and names the ports and database of
// docs/configuration.md.
func TestDefaultsAreDocumented(t *testing.T) {
	cfg, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ got, want string }{
		"GRPC_ADDR":    {cfg.GRPCAddr, "127.0.0.1:9003"},
		"ADMIN_ADDR":   {cfg.AdminAddr, "127.0.0.1:9103"},
		"DATABASE_URL": {cfg.DatabaseURL, "sqlite://catalog-pricing.db"},
		"ERP_ADDR":     {cfg.ERPAddr, "127.0.0.1:9001"},
		"NATS_URL":     {cfg.NATSURL, "nats://127.0.0.1:4222"},
		"LOG_LEVEL":    {cfg.LogLevel, "info"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", name, c.got, c.want)
		}
	}
	if cfg.ERPTimeout != 5*time.Second || cfg.ExportTimeout != 2*time.Minute {
		t.Errorf("ERP timeouts = %s / %s, want 5s / 2m", cfg.ERPTimeout, cfg.ExportTimeout)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string // part of the error
	}{
		{map[string]string{"CATALOG_SYNC_RETRY_MIN": "1s", "CATALOG_SYNC_RETRY_MAX": "500ms"}, "CATALOG_SYNC_RETRY_MIN"},
		{map[string]string{"CATALOG_SYNC_RETRY_MIN": "0s"}, "CATALOG_SYNC_RETRY_MIN"},
		{map[string]string{"CATALOG_ERP_TIMEOUT": "0s"}, "CATALOG_ERP_TIMEOUT"},
		{map[string]string{"CATALOG_EXPORT_TIMEOUT": "-1s"}, "CATALOG_EXPORT_TIMEOUT"},
		{map[string]string{"CATALOG_SYNC_INTERVAL": "-1s"}, "CATALOG_SYNC_INTERVAL"},
		{map[string]string{"CATALOG_DEFAULT_CHANNELS": ","}, "CATALOG_DEFAULT_CHANNELS"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			if _, err := load(c.env); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one naming %s", err, c.want)
			}
		})
	}
}
