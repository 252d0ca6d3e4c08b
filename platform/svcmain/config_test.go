package svcmain

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/platform/config"
)

// meshPlan is the port plan as docs/configuration.md states it.
var meshPlan = map[string]Defaults{
	"erpsim":          {GRPCAddr: "127.0.0.1:9001", AdminAddr: "127.0.0.1:9101", DatabaseURL: "sqlite://erpsim.db"},
	"wmssim":          {GRPCAddr: "127.0.0.1:9002", AdminAddr: "127.0.0.1:9102", DatabaseURL: "sqlite://wmssim.db"},
	"catalog-pricing": {GRPCAddr: "127.0.0.1:9003", AdminAddr: "127.0.0.1:9103", DatabaseURL: "sqlite://catalog-pricing.db"},
	"inventory":       {GRPCAddr: "127.0.0.1:9004", AdminAddr: "127.0.0.1:9104", DatabaseURL: "sqlite://inventory.db"},
	"order":           {GRPCAddr: "127.0.0.1:9005", AdminAddr: "127.0.0.1:9105", DatabaseURL: "sqlite://order.db"},
	"fulfillment":     {GRPCAddr: "127.0.0.1:9006", AdminAddr: "127.0.0.1:9106", DatabaseURL: "sqlite://fulfillment.db"},
	"gateway":         {GRPCAddr: "127.0.0.1:9007", AdminAddr: "127.0.0.1:9107"}, // no database
	"ops":             {GRPCAddr: "127.0.0.1:9008", AdminAddr: "127.0.0.1:9108", DatabaseURL: "sqlite://ops.db"},
	"notify":          {GRPCAddr: "127.0.0.1:9009", AdminAddr: "127.0.0.1:9109", DatabaseURL: "sqlite://notify.db"},
}

// dbConfig is the configuration of a service with a database; gwConfig
// of one without (the gateway).
type dbConfig struct {
	Base
	Database
}

type gwConfig struct {
	Base
	HTTPAddr string `env:"HTTP_ADDR" default:"127.0.0.1:8080"`
}

func TestDefaultsForEveryService(t *testing.T) {
	t.Parallel()
	if len(portPlan) != len(meshPlan) {
		t.Errorf("the port plan has %d services, docs/configuration.md %d", len(portPlan), len(meshPlan))
	}
	for name, want := range meshPlan {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := DefaultsFor(name)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("DefaultsFor(%q) (-want +got):\n%s", name, diff)
			}

			// LoadConfig puts them in the fields, with nothing set.
			var cfg dbConfig
			if err := LoadConfig(name, func(string) string { return "" }, &cfg); err != nil {
				t.Fatal(err)
			}
			loaded := Defaults{GRPCAddr: cfg.GRPCAddr, AdminAddr: cfg.AdminAddr, DatabaseURL: cfg.DatabaseURL}
			if diff := cmp.Diff(want, loaded); diff != "" {
				t.Errorf("LoadConfig(%q) with no environment (-want +got):\n%s", name, diff)
			}
			if cfg.ServiceName != name || cfg.LogLevel != "info" {
				t.Errorf("SERVICE_NAME %q, LOG_LEVEL %q; want %q, info", cfg.ServiceName, cfg.LogLevel, name)
			}
		})
	}
}

// TestPortPlanHasNoCollisions: the binaries of the plan start side by side on
// one host with no environment, so no two listen addresses are the same.
func TestPortPlanHasNoCollisions(t *testing.T) {
	t.Parallel()
	owner := map[string]string{}
	for name := range portPlan {
		d, err := DefaultsFor(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, addr := range []string{d.GRPCAddr, d.AdminAddr} {
			if other, ok := owner[addr]; ok {
				t.Errorf("%s is both %s's and %s's", addr, other, name)
			}
			owner[addr] = name
		}
	}
}

func TestLoadConfigEnvironmentWins(t *testing.T) {
	t.Parallel()
	const dsn = "postgres://app:hunter2@db:5432/inventory"
	for _, tc := range []struct {
		name string
		env  map[string]string
		want Defaults
	}{
		{
			"every variable set",
			map[string]string{"GRPC_ADDR": ":50051", "ADMIN_ADDR": "0.0.0.0:8081", "DATABASE_URL": dsn},
			Defaults{GRPCAddr: ":50051", AdminAddr: "0.0.0.0:8081", DatabaseURL: dsn},
		},
		{
			"one set, the others default",
			map[string]string{"GRPC_ADDR": "127.0.0.1:0"},
			Defaults{GRPCAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:9104", DatabaseURL: "sqlite://inventory.db"},
		},
		{
			// Empty and blank mean unset, as for every platform/config
			// variable: an empty ADMIN_ADDR does not switch the admin
			// listener off.
			"empty and blank take the default",
			map[string]string{"GRPC_ADDR": "", "ADMIN_ADDR": "  ", "DATABASE_URL": "\t"},
			Defaults{GRPCAddr: "127.0.0.1:9004", AdminAddr: "127.0.0.1:9104", DatabaseURL: "sqlite://inventory.db"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var cfg dbConfig
			if err := LoadConfig("inventory", func(k string) string { return tc.env[k] }, &cfg); err != nil {
				t.Fatal(err)
			}
			got := Defaults{GRPCAddr: cfg.GRPCAddr, AdminAddr: cfg.AdminAddr, DatabaseURL: cfg.DatabaseURL}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("loaded (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadConfigUnknownService(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "invoicing", "Order", "catalog"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := DefaultsFor(name); !errors.Is(err, ErrUnknownService) {
				t.Errorf("DefaultsFor(%q) error %v, want ErrUnknownService", name, err)
			}
			// Even with every address set: a name outside the plan is a
			// wiring mistake, not a configuration choice.
			env := map[string]string{"GRPC_ADDR": "127.0.0.1:0", "ADMIN_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite://x.db"}
			var cfg dbConfig
			err := LoadConfig(name, func(k string) string { return env[k] }, &cfg)
			if !errors.Is(err, ErrUnknownService) || !strings.Contains(err.Error(), `"`+name+`"`) || !strings.Contains(err.Error(), "catalog-pricing") {
				t.Errorf("LoadConfig(%q) error %v, want ErrUnknownService naming it and the known services", name, err)
			}
		})
	}
}

// validatedConfig checks GRPC_ADDR in Validate, as order and wmssim do.
type validatedConfig struct {
	Base
}

func (c *validatedConfig) Validate() error {
	if c.GRPCAddr == "" {
		return errors.New("GRPC_ADDR must be set")
	}
	return nil
}

// TestLoadConfigValidatesTheDefaults: Validate sees the addresses from
// the port plan, not the empty environment.
func TestLoadConfigValidatesTheDefaults(t *testing.T) {
	t.Parallel()
	var cfg validatedConfig
	if err := LoadConfig("wmssim", func(string) string { return "" }, &cfg); err != nil {
		t.Errorf("LoadConfig with no environment: %v", err)
	}
}

// TestLoadConfigLogsTheDatabaseURLMasked: DATABASE_URL is a secret
// whether it comes from the environment or from the port plan, and a
// configuration without Database has no DATABASE_URL at all.
func TestLoadConfigLogsTheDatabaseURLMasked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"from the environment", map[string]string{"DATABASE_URL": "postgres://app:hunter2@db:5432/order"}},
		{"default", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var cfg dbConfig
			if err := LoadConfig("order", func(k string) string { return tc.env[k] }, &cfg); err != nil {
				t.Fatal(err)
			}
			logged := config.Map(&cfg)
			if logged["DATABASE_URL"] != config.Mask {
				t.Errorf("DATABASE_URL logged as %q, want %q", logged["DATABASE_URL"], config.Mask)
			}
			if logged["GRPC_ADDR"] != "127.0.0.1:9005" || logged["ADMIN_ADDR"] != "127.0.0.1:9105" {
				t.Errorf("logged %v, want order's addresses", logged)
			}
		})
	}

	var gw gwConfig
	if err := LoadConfig("gateway", func(string) string { return "" }, &gw); err != nil {
		t.Fatal(err)
	}
	logged := config.Map(&gw)
	if _, ok := logged["DATABASE_URL"]; ok {
		t.Errorf("a configuration without Database logs DATABASE_URL: %v", logged)
	}
	if logged["GRPC_ADDR"] != "127.0.0.1:9007" || logged["ADMIN_ADDR"] != "127.0.0.1:9107" || logged["HTTP_ADDR"] != "127.0.0.1:8080" {
		t.Errorf("gateway logged %v, want its addresses", logged)
	}
}
