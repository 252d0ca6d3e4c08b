package config_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/wmssim/internal/config"
)

// load is what svcmain.Start does with the configuration.
func load(t *testing.T, env map[string]string) (config.Config, error) {
	t.Helper()
	var c config.Config
	err := svcmain.LoadConfig("wmssim", func(k string) string { return env[k] }, &c)
	return c, err
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The ports are wmssim's in docs/configuration.md (9002, admin 9102).
	if c.Step != 2*time.Second || c.GRPCAddr != "127.0.0.1:9002" || c.AdminAddr != "127.0.0.1:9102" ||
		c.DatabaseURL != "sqlite://wmssim.db" || c.LogLevel != "info" {
		t.Fatalf("defaults = %+v", c)
	}
	if got := c.TickInterval(); got != time.Second {
		t.Fatalf("tick = %v, want step/2", got)
	}
}

func TestTickInterval(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		step, tick, want string
	}{
		{"100ms", "", "50ms"},
		{"50ms", "", "25ms"},
		{"10ms", "", "10ms"},
		{"1m", "", "1s"},
		{"1m", "250ms", "250ms"},
	} {
		c, err := load(t, map[string]string{"WMSSIM_STEP": tc.step, "WMSSIM_TICK": tc.tick})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := time.ParseDuration(tc.want)
		if got := c.TickInterval(); got != want {
			t.Errorf("step %s tick %q: %v, want %v", tc.step, tc.tick, got, want)
		}
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	for _, env := range []map[string]string{
		{"WMSSIM_STEP": "0s"},
		{"WMSSIM_STEP": "soon"},
		{"WMSSIM_TICK": "-1s"},
		{"WMSSIM_SQLITE_SYNCHRONOUS": "OFF"},
	} {
		if _, err := load(t, env); err == nil {
			t.Errorf("%v: no error", env)
		}
	}
}

// TestDatabaseDSN: an SQLite database gets WMSSIM_SQLITE_SYNCHRONOUS
// (NORMAL by default) unless its URL chooses _synchronous; PostgreSQL is
// left alone. The DSN opens with that setting in force.
func TestDatabaseDSN(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "wmssim.db")
	for _, tc := range []struct {
		env    map[string]string
		want   string
		pragma int // PRAGMA synchronous after opening; -1: not opened
	}{
		{map[string]string{"DATABASE_URL": "sqlite://" + file}, "sqlite://" + file + "?_synchronous=NORMAL", 1},
		{map[string]string{"DATABASE_URL": "sqlite://" + file, "WMSSIM_SQLITE_SYNCHRONOUS": "FULL"}, "sqlite://" + file + "?_synchronous=FULL", 2},
		{map[string]string{"DATABASE_URL": "sqlite://" + file + "?_busy_timeout=100"}, "sqlite://" + file + "?_busy_timeout=100&_synchronous=NORMAL", 1},
		{map[string]string{"DATABASE_URL": "sqlite://" + file + "?_synchronous=FULL"}, "sqlite://" + file + "?_synchronous=FULL", 2},
		{map[string]string{"DATABASE_URL": "postgres://u@localhost/wms"}, "postgres://u@localhost/wms", -1},
	} {
		c, err := load(t, tc.env)
		if err != nil {
			t.Fatal(err)
		}
		got := c.DatabaseDSN()
		if got != tc.want {
			t.Errorf("%v: DatabaseDSN %q, want %q", tc.env, got, tc.want)
		}
		if tc.pragma < 0 {
			continue
		}
		db, err := sqldb.Open(t.Context(), got)
		if err != nil {
			t.Fatal(err)
		}
		var sync int
		if err := db.SQL().QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&sync); err != nil {
			t.Fatal(err)
		}
		_ = db.Close()
		if sync != tc.pragma {
			t.Errorf("%v: PRAGMA synchronous %d, want %d", tc.env, sync, tc.pragma)
		}
	}
}
