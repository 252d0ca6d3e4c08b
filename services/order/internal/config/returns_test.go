package config_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/order/internal/config"
)

// TestReturnChannelWindows: ORDER_RETURN_WINDOWS_BY_CHANNEL gives each
// named channel its own window.
func TestReturnChannelWindows(t *testing.T) {
	t.Parallel()
	env := map[string]string{"ORDER_RETURN_WINDOWS_BY_CHANNEL": " marketplace-acme=336h, sales-app=1440h ,"}
	var cfg config.Config
	if err := svcmain.LoadConfig("order", func(k string) string { return env[k] }, &cfg); err != nil {
		t.Fatal(err)
	}
	got, err := cfg.ReturnChannelWindows()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{"marketplace-acme": 336 * time.Hour, "sales-app": 1440 * time.Hour}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("windows (-want +got):\n%s", diff)
	}
}
