package svcmain

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/transload/transload/platform/config"
	"github.com/transload/transload/platform/sqldb"
)

// helperEnv makes the test binary act as a binary calling Main (see
// TestMain): "serve" waits for a signal, "fail" returns an error.
const helperEnv = "SVCMAIN_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "serve":
		Main("helper", func(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
			_, _ = io.WriteString(stdout, "ready "+getenv(helperEnv)+"\n")
			<-ctx.Done()
			_, _ = io.WriteString(stdout, "stopping\n")
			return nil
		})
	case "fail":
		Main("helper", func(context.Context, func(string) string, io.Writer) error {
			return errors.New("config: DATABASE_URL: required")
		})
	}
	os.Exit(m.Run())
}

func helper(t *testing.T, mode string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	return cmd
}

func TestMainStopsCleanlyOnSIGTERM(t *testing.T) {
	cmd := helper(t, "serve")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	// run is called after the signal handler is installed, so its first
	// line means SIGTERM will cancel ctx rather than kill the process.
	if !lines.Scan() || lines.Text() != "ready serve" {
		t.Fatalf("first line %q, want %q (run gets os.Getenv and os.Stdout)", lines.Text(), "ready serve")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !lines.Scan() || lines.Text() != "stopping" {
		t.Errorf("after SIGTERM: %q, want %q (ctx cancelled)", lines.Text(), "stopping")
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0; stderr: %s", err, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr %q, want empty", stderr.String())
	}
}

func TestMainExitsOneWithTheError(t *testing.T) {
	cmd := helper(t, "fail")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1", err)
	}
	if got, want := stderr.String(), "helper: config: DATABASE_URL: required\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
}

func TestExitCode(t *testing.T) {
	env := map[string]string{"GRPC_ADDR": "127.0.0.1:0"}
	getenv := func(k string) string { return env[k] }
	var stdout, stderr bytes.Buffer
	code := exitCode(t.Context(), "order", func(ctx context.Context, getenv func(string) string, w io.Writer) error {
		_, _ = io.WriteString(w, getenv("GRPC_ADDR"))
		return nil
	}, getenv, &stdout, &stderr)
	if code != 0 || stdout.String() != "127.0.0.1:0" || stderr.Len() != 0 {
		t.Errorf("success: code %d, stdout %q, stderr %q; want 0, the address, nothing", code, stdout.String(), stderr.String())
	}

	stderr.Reset()
	code = exitCode(t.Context(), "order", func(context.Context, func(string) string, io.Writer) error {
		return errors.New("nats: no servers")
	}, getenv, io.Discard, &stderr)
	if code != 1 || stderr.String() != "order: nats: no servers\n" {
		t.Errorf("failure: code %d, stderr %q; want 1, %q", code, stderr.String(), "order: nats: no servers\n")
	}
}

// logLines decodes the JSON log records in b.
func logLines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for dec := json.NewDecoder(b); dec.More(); {
		var rec map[string]any
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("log record: %v", err)
		}
		out = append(out, rec)
	}
	return out
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	logger, err := newLogger(&buf, "inventory", "WARN")
	if err != nil {
		t.Fatal(err)
	}
	logger.Info("hidden")
	logger.Warn("shown")
	lines := logLines(t, &buf)
	if len(lines) != 1 || lines[0]["msg"] != "shown" || lines[0]["service"] != "inventory" || lines[0]["level"] != "WARN" {
		t.Errorf("logs %v, want only the warning, with service=inventory", lines)
	}

	if _, err := newLogger(io.Discard, "inventory", "chatty"); err == nil || !strings.Contains(err.Error(), "chatty") {
		t.Errorf("level chatty: err %v, want one naming the level", err)
	}
}

type testConfig struct {
	GRPCAddr    string        `env:"GRPC_ADDR" default:"127.0.0.1:9004"`
	DatabaseURL string        `env:"DATABASE_URL" secret:"true"`
	APIKeys     string        `env:"API_KEYS" secret:"true"`
	Timeout     time.Duration `env:"TIMEOUT" default:"5s"`
}

func TestLogConfigMasksSecrets(t *testing.T) {
	const secret = "postgres://app:hunter2@db:5432/inventory"
	var cfg testConfig
	env := map[string]string{"DATABASE_URL": secret}
	if err := config.Load(&cfg, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	logger, err := newLogger(&buf, "inventory", "info")
	if err != nil {
		t.Fatal(err)
	}
	logConfig(t.Context(), logger, "starting", &cfg)

	if strings.Contains(buf.String(), "hunter2") {
		t.Fatalf("the secret is logged: %s", buf.String())
	}
	lines := logLines(t, &buf)
	if len(lines) != 1 || lines[0]["msg"] != "starting" || lines[0]["level"] != "INFO" {
		t.Fatalf("logs %v, want one info line \"starting\"", lines)
	}
	got, _ := lines[0]["config"].(map[string]any)
	want := map[string]any{"GRPC_ADDR": "127.0.0.1:9004", "DATABASE_URL": config.Mask, "API_KEYS": "", "TIMEOUT": "5s"}
	if len(got) != len(want) {
		t.Errorf("config %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("config[%s] = %v, want %q", k, got[k], v)
		}
	}
}

var migrations = fstest.MapFS{
	"0001_create_parcels.sql": {Data: []byte("CREATE TABLE parcels (id TEXT PRIMARY KEY);")},
}

func migrateParcels(ctx context.Context, db *sqldb.DB) error {
	return sqldb.Migrate(ctx, db, "parcels", migrations)
}

func TestOpenDBMigrates(t *testing.T) {
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "data", "parcels.db")
	var deadline time.Time
	db, err := openDB(t.Context(), dsn, quietLogger(), func(ctx context.Context, db *sqldb.DB) error {
		deadline, _ = ctx.Deadline()
		return migrateParcels(ctx, db)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if deadline.IsZero() || time.Until(deadline) > OpenTimeout {
		t.Errorf("migrate ran with deadline %v, want one within %v", deadline, OpenTimeout)
	}
	if v, err := sqldb.MigrationVersion(t.Context(), db, "parcels"); err != nil || v != 1 {
		t.Errorf("migration version %d, %v; want 1", v, err)
	}
	if _, err := db.SQL().ExecContext(t.Context(), "INSERT INTO parcels (id) VALUES ('P-1')"); err != nil {
		t.Errorf("insert into the migrated table: %v", err)
	}
	// The DB outlives OpenDB's own deadline context.
	if err := db.Ping(t.Context()); err != nil {
		t.Errorf("ping after OpenDB: %v", err)
	}
}

func TestOpenDBRejectsUnsupportedScheme(t *testing.T) {
	migrated := false
	_, err := openDB(t.Context(), "mysql://app@db/inventory", quietLogger(), func(context.Context, *sqldb.DB) error {
		migrated = true
		return nil
	})
	if !errors.Is(err, sqldb.ErrUnsupportedDSN) {
		t.Fatalf("err %v, want sqldb.ErrUnsupportedDSN", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "open database: ") || !strings.Contains(msg, `"mysql"`) {
		t.Errorf("err %q, want it to say the open failed and name the scheme", msg)
	}
	if migrated {
		t.Error("migrate ran without a database")
	}
}

func TestOpenDBClosesOnMigrationFailure(t *testing.T) {
	errBroken := errors.New("broken migration")
	var opened *sqldb.DB
	db, err := openDB(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "x.db"), quietLogger(), func(_ context.Context, db *sqldb.DB) error {
		opened = db
		return errBroken
	})
	if db != nil || !errors.Is(err, errBroken) || !strings.HasPrefix(err.Error(), "migrate database: ") {
		t.Fatalf("OpenDB = %v, %v; want nil and a wrapped migration error", db, err)
	}
	if opened == nil {
		t.Fatal("migrate was not called")
	}
	if err := opened.Ping(t.Context()); err == nil {
		t.Error("the database is still open after the failed migration")
	}
}

// quietLogger is the logger OpenDB gets in tests that do not read logs.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
