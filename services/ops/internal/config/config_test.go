package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/ops/internal/config"
)

func load(env map[string]string) (*config.Config, error) {
	var c config.Config
	err := svcmain.LoadConfig("ops", func(k string) string { return env[k] }, &c)
	return &c, err
}

func TestDefaults(t *testing.T) {
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.GRPCAddr != "127.0.0.1:9008" || c.AdminAddr != "127.0.0.1:9108" || c.DatabaseURL != "sqlite://ops.db" ||
		c.NATSURL != "nats://127.0.0.1:4222" || c.InventoryAddr != "127.0.0.1:9004" || c.OrderAddr != "127.0.0.1:9005" ||
		c.InventoryTimeout != 5*time.Second || c.OrderTimeout != 5*time.Second || c.KPIScrapeInterval != 15*time.Second {
		t.Fatalf("defaults = %+v", c)
	}
	want := map[string]string{
		"erpsim": "http://127.0.0.1:9101/metrics", "wmssim": "http://127.0.0.1:9102/metrics",
		"catalog-pricing": "http://127.0.0.1:9103/metrics", "inventory": "http://127.0.0.1:9104/metrics",
		"order": "http://127.0.0.1:9105/metrics", "fulfillment": "http://127.0.0.1:9106/metrics",
		"gateway": "http://127.0.0.1:9107/metrics",
	}
	if diff := cmp.Diff(want, c.Targets()); diff != "" {
		t.Fatalf("default targets (-want +got):\n%s", diff)
	}
}

func TestInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"target without URL", map[string]string{"METRICS_TARGETS": "order"}, "METRICS_TARGETS"},
		{"relative URL", map[string]string{"METRICS_TARGETS": "order=/metrics"}, "METRICS_TARGETS"},
		{"other scheme", map[string]string{"METRICS_TARGETS": "order=ftp://h/metrics"}, "METRICS_TARGETS"},
		{"twice", map[string]string{"METRICS_TARGETS": "a=http://h:1/metrics,a=http://h:2/metrics"}, "METRICS_TARGETS"},
		{"no name", map[string]string{"METRICS_TARGETS": "=http://h:1/metrics"}, "METRICS_TARGETS"},
		{"zero timeout", map[string]string{"ORDER_TIMEOUT": "0s"}, "ORDER_TIMEOUT"},
		{"negative interval", map[string]string{"KPI_SCRAPE_INTERVAL": "-1s"}, "KPI_SCRAPE_INTERVAL"},
		{"not a duration", map[string]string{"INVENTORY_TIMEOUT": "soon"}, "INVENTORY_TIMEOUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	got, err := config.ParseTargets(" order = http://o:9105/metrics , ,gateway=https://g/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"order": "http://o:9105/metrics", "gateway": "https://g/metrics"}, got); diff != "" {
		t.Fatalf("targets (-want +got):\n%s", diff)
	}
	if got, err := config.ParseTargets(""); err != nil || len(got) != 0 {
		t.Fatalf("empty list = %v, %v", got, err)
	}
}
