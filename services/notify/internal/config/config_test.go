package config

import (
	"strings"
	"testing"

	"github.com/transload/transload/platform/svcmain"
)

func load(t *testing.T, env map[string]string) (*Config, error) {
	t.Helper()
	var c Config
	err := svcmain.LoadConfig("notify", func(k string) string { return env[k] }, &c)
	return &c, err
}

func TestDefaultsAreTheProductionPolicy(t *testing.T) {
	c, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.GRPCAddr != "127.0.0.1:9009" || c.AdminAddr != "127.0.0.1:9109" || c.DatabaseURL != "sqlite://notify.db" {
		t.Fatalf("port plan: %s %s %s", c.GRPCAddr, c.AdminAddr, c.DatabaseURL)
	}
	if p := c.Policy(); p.AllowHTTP || p.AllowPrivate {
		t.Fatal("local targets allowed by default")
	}
	d := c.Dispatcher()
	if c.DeliveryLogRetention.Hours() != 30*24 {
		t.Fatalf("delivery log retention %s, want 30 days", c.DeliveryLogRetention)
	}
	if d.AttemptTimeout.Seconds() != 5 || d.Horizon.Hours() != 24 || d.DisableAfter != 20 {
		t.Fatalf("dispatcher defaults %+v", d)
	}
	c, err = load(t, map[string]string{"WEBHOOK_ALLOW_LOCAL_TARGETS": "true"})
	if err != nil || !c.Policy().AllowHTTP || !c.Policy().AllowPrivate {
		t.Fatalf("allow local: %v %+v", err, c.Policy())
	}
}

func TestValidate(t *testing.T) {
	for env, want := range map[string]string{
		"WEBHOOK_ATTEMPT_TIMEOUT=0s":       "WEBHOOK_ATTEMPT_TIMEOUT must be positive",
		"WEBHOOK_DISABLE_AFTER=0":          "WEBHOOK_DISABLE_AFTER must be positive",
		"WEBHOOK_BACKOFF_MAX=10ms":         "WEBHOOK_BACKOFF_MAX must be at least",
		"NOTIFY_DELIVERY_LOG_RETENTION=0s": "NOTIFY_DELIVERY_LOG_RETENTION must be positive",
	} {
		k, v, _ := strings.Cut(env, "=")
		if _, err := load(t, map[string]string{k: v}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", env, err, want)
		}
	}
}
