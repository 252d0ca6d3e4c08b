package config

import (
	"encoding/base64"
	"encoding/hex"
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
		c.LogLevel != "info" || len(c.CORSAllowedOrigins) != 0 {
		t.Errorf("defaults: %+v", c)
	}
	c, err = load(env(map[string]string{"CORS_ALLOWED_ORIGINS": "https://shop.example,http://127.0.0.1:5173"}))
	if err != nil || len(c.CORSAllowedOrigins) != 2 {
		t.Errorf("two origins: %v %v", c.CORSAllowedOrigins, err)
	}
	for name, want := range map[string][2]time.Duration{"catalog": {c.CatalogTimeout, 5 * time.Second},
		"inventory": {c.InventoryTimeout, 5 * time.Second}, "order": {c.OrderTimeout, 15 * time.Second},
		"fulfillment": {c.FulfillmentTimeout, 5 * time.Second}, "ops": {c.OpsTimeout, 10 * time.Second}} {
		if want[0] != want[1] {
			t.Errorf("%s timeout %v, want %v", name, want[0], want[1])
		}
	}
	if key, set, err := c.SessionKey(); err != nil || set || key != nil {
		t.Errorf("SessionKey() = %x, %v, %v; want unset", key, set, err)
	}
}

// TestNeighbourDefaultsFollowThePortPlan keeps each neighbour's default
// address where svcmain's port plan starts that binary, so a bare mesh
// finds itself.
func TestNeighbourDefaultsFollowThePortPlan(t *testing.T) {
	t.Parallel()
	c, err := load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]string{
		"catalog-pricing": c.CatalogAddr, "inventory": c.InventoryAddr, "order": c.OrderAddr,
		"fulfillment": c.FulfillmentAddr, "ops": c.OpsAddr,
	} {
		d, err := svcmain.DefaultsFor(name)
		if err != nil {
			t.Fatal(err)
		}
		if got != d.GRPCAddr {
			t.Errorf("%s: default address %s, the port plan says %s", name, got, d.GRPCAddr)
		}
	}
}

func TestSessionKey(t *testing.T) {
	t.Parallel()
	raw := []byte("0123456789abcdef0123456789ABCDEF")
	for name, v := range map[string]string{
		"hex":        hex.EncodeToString(raw),
		"base64":     base64.StdEncoding.EncodeToString(raw),
		"base64url":  base64.URLEncoding.EncodeToString(raw),
		"raw base64": base64.RawStdEncoding.EncodeToString(raw),
	} {
		t.Run(name, func(t *testing.T) {
			c, err := load(env(map[string]string{"CONSOLE_SESSION_KEY": v}))
			if err != nil {
				t.Fatal(err)
			}
			key, set, err := c.SessionKey()
			if err != nil || !set || string(key) != string(raw) {
				t.Errorf("SessionKey() = %q, %v, %v; want %q", key, set, err, raw)
			}
		})
	}
}

func TestLoadRejects(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		vars map[string]string
		want string
	}{
		"bad key":             {map[string]string{"API_KEYS": "topsecretkey"}, "API_KEYS"},
		"bad currency":        {map[string]string{"SUPPORTED_CURRENCIES": "EUR,euro"}, "SUPPORTED_CURRENCIES"},
		"default not listed":  {map[string]string{"DEFAULT_CURRENCY": "JPY"}, "DEFAULT_CURRENCY"},
		"zero body limit":     {map[string]string{"HTTP_MAX_BODY_BYTES": "0"}, "HTTP_MAX_BODY_BYTES"},
		"negative gzip size":  {map[string]string{"HTTP_COMPRESS_MIN_BYTES": "-1"}, "HTTP_COMPRESS_MIN_BYTES"},
		"origin with a path":  {map[string]string{"CORS_ALLOWED_ORIGINS": "https://shop.example,https://b.example/app"}, "CORS_ALLOWED_ORIGINS"},
		"wildcard origin":     {map[string]string{"CORS_ALLOWED_ORIGINS": "*"}, "CORS_ALLOWED_ORIGINS"},
		"zero order timeout":  {map[string]string{"ORDER_TIMEOUT": "0s"}, "ORDER_TIMEOUT"},
		"zero ops timeout":    {map[string]string{"OPS_TIMEOUT": "0s"}, "OPS_TIMEOUT"},
		"negative order rate": {map[string]string{"ORDER_RATE_LIMIT_PER_CUSTOMER": "-1"}, "ORDER_RATE_LIMIT_PER_CUSTOMER"},
		"zero order burst":    {map[string]string{"ORDER_RATE_LIMIT_PER_CUSTOMER_BURST": "0"}, "ORDER_RATE_LIMIT_PER_CUSTOMER_BURST"},
		"short session key":   {map[string]string{"CONSOLE_SESSION_KEY": hex.EncodeToString([]byte("topsecretkey"))}, "CONSOLE_SESSION_KEY"},
		"plain session key":   {map[string]string{"CONSOLE_SESSION_KEY": "topsecretkey-topsecretkey-topsecretkey!!"}, "CONSOLE_SESSION_KEY"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := load(env(tc.vars))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "topsecretkey") || strings.Contains(err.Error(), hex.EncodeToString([]byte("topsecretkey"))) {
				t.Error("the error echoes a secret")
			}
		})
	}
}
