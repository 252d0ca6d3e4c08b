package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ServiceName != "erpsim" || c.DatabaseURL != "sqlite://erpsim.db" || c.StockEventInterval != 0 || c.ShutdownTimeout != 10*time.Second {
		t.Errorf("defaults = %+v", c)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct {
		env  map[string]string
		want string
	}{
		"bad level":         {map[string]string{"LOG_LEVEL": "loud"}, "loud"},
		"negative interval": {map[string]string{"STOCK_EVENT_INTERVAL": "-1s"}, "STOCK_EVENT_INTERVAL"},
		"zero shutdown":     {map[string]string{"SHUTDOWN_TIMEOUT": "0s"}, "SHUTDOWN_TIMEOUT"},
		"bad duration":      {map[string]string{"STOCK_EVENT_INTERVAL": "soon"}, "STOCK_EVENT_INTERVAL"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}
