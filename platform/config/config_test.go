package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type dbConfig struct {
	URL      string `env:"DB_URL" required:"true" secret:"true"`
	MaxConns int    `env:"DB_MAX_CONNS" default:"10"`
}

// testConfig has fields of several kinds, a nested struct, and an
// unexported field that Load must skip (it cannot set it) and leave as it was.
type testConfig struct {
	Addr       string        `env:"ADDR" default:":8080"`
	Debug      bool          `env:"DEBUG"`
	Timeout    time.Duration `env:"TIMEOUT" default:"5s"`
	Brokers    []string      `env:"BROKERS" default:"a:1,b:2"`
	APIKey     string        `env:"API_KEY" secret:"true"`
	Ratio      float64       `env:"RATIO" default:"0.5"`
	DB         dbConfig
	unexported string
}

func (c *testConfig) Validate() error {
	if c.Debug && c.Addr == ":80" {
		return errors.New("debug on port 80 is not allowed")
	}
	return nil
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c := testConfig{unexported: "kept"}
	if err := Load(&c, env(map[string]string{"DB_URL": "postgres://u:p@h/db"})); err != nil {
		t.Fatal(err)
	}
	want := testConfig{
		Addr: ":8080", Timeout: 5 * time.Second, Brokers: []string{"a:1", "b:2"}, Ratio: 0.5,
		DB:         dbConfig{URL: "postgres://u:p@h/db", MaxConns: 10},
		unexported: "kept",
	}
	if diff := cmp.Diff(want, c, cmp.AllowUnexported(testConfig{})); diff != "" {
		t.Fatalf("config (-want +got):\n%s", diff)
	}
}

func TestLoadOverrides(t *testing.T) {
	t.Parallel()
	var c testConfig
	err := Load(&c, env(map[string]string{
		"DB_URL": "x", "ADDR": "127.0.0.1:9", "DEBUG": "true", "TIMEOUT": "250ms",
		"BROKERS": " n1:4222 , ,n2:4222 ", "DB_MAX_CONNS": "3", "RATIO": "1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9" || !c.Debug || c.Timeout != 250*time.Millisecond || c.DB.MaxConns != 3 || c.Ratio != 1 {
		t.Fatalf("unexpected config %+v", c)
	}
	if diff := cmp.Diff([]string{"n1:4222", "n2:4222"}, c.Brokers); diff != "" {
		t.Fatalf("brokers (-want +got):\n%s", diff)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      map[string]string
		wantVars []string
		wantText string
	}{
		{name: "required missing", env: map[string]string{}, wantVars: []string{"DB_URL"}, wantText: "required"},
		{name: "bad duration", env: map[string]string{"DB_URL": "x", "TIMEOUT": "5 parsecs"}, wantVars: []string{"TIMEOUT"}, wantText: "invalid duration"},
		{name: "bad int and bool together", env: map[string]string{"DB_URL": "x", "DB_MAX_CONNS": "ten", "DEBUG": "yes please"}, wantVars: []string{"DEBUG", "DB_MAX_CONNS"}},
		{name: "validate hook", env: map[string]string{"DB_URL": "x", "DEBUG": "1", "ADDR": ":80"}, wantText: "port 80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c testConfig
			err := Load(&c, env(tt.env))
			if err == nil {
				t.Fatal("Load succeeded, want error")
			}
			for _, v := range tt.wantVars {
				if !strings.Contains(err.Error(), v) {
					t.Errorf("error %q does not name %s", err, v)
				}
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
		})
	}
}

func TestRequiredIsFieldError(t *testing.T) {
	t.Parallel()
	var c testConfig
	err := Load(&c, env(nil))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Var != "DB_URL" || !errors.Is(err, ErrRequired) {
		t.Fatalf("err = %v, want FieldError{DB_URL, ErrRequired}", err)
	}
}

func TestSecretValueNotInParseError(t *testing.T) {
	t.Parallel()
	type c struct {
		Port int `env:"PORT" secret:"true"`
	}
	err := Load(&c{}, env(map[string]string{"PORT": "hunter2"}))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v, want an error without the secret value", err)
	}
}

func TestLoadRejectsNonPointer(t *testing.T) {
	t.Parallel()
	if err := Load(testConfig{}, env(nil)); err == nil {
		t.Fatal("Load(non-pointer) succeeded")
	}
}

func TestDescribeMasksSecrets(t *testing.T) {
	t.Parallel()
	var c testConfig
	if err := Load(&c, env(map[string]string{"DB_URL": "postgres://user:s3cret@db/x"})); err != nil {
		t.Fatal(err)
	}
	got := Describe(&c)
	want := strings.Join([]string{
		"ADDR=:8080", "DEBUG=false", "TIMEOUT=5s", "BROKERS=a:1,b:2", "API_KEY=", "RATIO=0.5",
		"DB_URL=" + Mask, "DB_MAX_CONNS=10",
	}, "\n") + "\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Describe (-want +got):\n%s", diff)
	}
	if strings.Contains(got, "s3cret") {
		t.Fatal("secret leaked")
	}
	if m := Map(c); m["DB_URL"] != Mask || m["ADDR"] != ":8080" {
		t.Fatalf("Map = %v", m)
	}
}

// Common is the shape of a struct every binary's configuration embeds
// (svcmain.Base): its fields are loaded and described like the outer ones.
type Common struct {
	LogLevel string `env:"LOG_LEVEL" default:"info"`
	Token    string `env:"TOKEN" secret:"true"`
	Tracing  struct {
		Endpoint string `env:"OTEL_ENDPOINT"`
	}
}

type embeddingConfig struct {
	Common
	GRPCAddr string `env:"GRPC_ADDR" default:"127.0.0.1:9005"`
}

func TestEmbeddedStruct(t *testing.T) {
	t.Parallel()
	var c embeddingConfig
	if err := Load(&c, env(map[string]string{"TOKEN": "t0k3n", "OTEL_ENDPOINT": "otel:4317"})); err != nil {
		t.Fatal(err)
	}
	if c.LogLevel != "info" || c.Token != "t0k3n" || c.Tracing.Endpoint != "otel:4317" || c.GRPCAddr != "127.0.0.1:9005" {
		t.Fatalf("embedded fields not loaded: %+v", c)
	}
	want := "LOG_LEVEL=info\nTOKEN=" + Mask + "\nOTEL_ENDPOINT=otel:4317\nGRPC_ADDR=127.0.0.1:9005\n"
	if diff := cmp.Diff(want, Describe(&c)); diff != "" {
		t.Errorf("Describe (-want +got):\n%s", diff)
	}
	if err := Load(&c, env(map[string]string{"LOG_LEVEL": "x", "GRPC_ADDR": ":1"})); err != nil || c.LogLevel != "x" {
		t.Errorf("override of an embedded field: %v, LOG_LEVEL=%q", err, c.LogLevel)
	}
}
