package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/erpsim/internal/config"
)

// load is what svcmain.Start does with the configuration.
func load(env map[string]string) (config.Config, error) {
	var c config.Config
	err := svcmain.LoadConfig("erpsim", func(k string) string { return env[k] }, &c)
	return c, err
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	// The ports are erpsim's in docs/configuration.md (9001, admin 9101).
	if c.GRPCAddr != "127.0.0.1:9001" || c.AdminAddr != "127.0.0.1:9101" || c.DatabaseURL != "sqlite://erpsim.db" ||
		c.LogLevel != "info" || c.StockEventInterval != 0 || c.ShutdownTimeout != 10*time.Second {
		t.Errorf("defaults = %+v", c)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct {
		env  map[string]string
		want string
	}{
		"negative interval": {map[string]string{"STOCK_EVENT_INTERVAL": "-1s"}, "STOCK_EVENT_INTERVAL"},
		"zero shutdown":     {map[string]string{"SHUTDOWN_TIMEOUT": "0s"}, "SHUTDOWN_TIMEOUT"},
		"bad duration":      {map[string]string{"STOCK_EVENT_INTERVAL": "soon"}, "STOCK_EVENT_INTERVAL"},
		"bad sample ratio":  {map[string]string{"OTEL_TRACES_SAMPLER_ARG": "often"}, "OTEL_TRACES_SAMPLER_ARG"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := load(tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}
