// Package svcmain is how every Transload binary starts, so each main keeps
// only its own wiring (servers, clients, workers):
//
//   - [Main] runs a binary's run function under a context cancelled by
//     SIGINT or SIGTERM and turns its error into "name: error" on stderr
//     and exit status 1;
//   - [Start], called first by run, loads the configuration (a struct
//     embedding [Base], and [Database] when the binary has one), builds
//     the JSON logger, logs the configuration with secrets masked, sets
//     tracing up and returns the [Runtime]: the logger, tracer provider,
//     Prometheus registry and admin HTTP server (readiness from the
//     checks the binary registers, extra routes), the options that tie
//     gRPC servers and clients to them, [Runtime.OpenDB] and Close;
//   - [LoadConfig] is Start's first step alone, with the listen addresses
//     and database defaulting from the mesh's port plan ([DefaultsFor]),
//     so a configuration test sees the defaults without starting anything.
package svcmain

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/transload/transload/platform/config"
	"github.com/transload/transload/platform/logging"
	"github.com/transload/transload/platform/sqldb"
)

// RunFunc is a binary's run function: it reads its configuration through
// getenv, logs to stdout and serves until ctx ends. A nil error means a
// clean shutdown.
type RunFunc func(ctx context.Context, getenv func(string) string, stdout io.Writer) error

// Main calls run with a context that ends on SIGINT or SIGTERM, os.Getenv
// and os.Stdout. When run fails it prints "name: error" to stderr and
// exits with status 1; otherwise it exits with status 0. Only a main
// function calls it: it never returns.
func Main(name string, run RunFunc) {
	meshModeRequired = true // a deployed binary: mutual TLS or the explicit plaintext flag
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := exitCode(ctx, name, run, os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitCode runs run and returns the process exit status, reporting a
// failure on stderr.
func exitCode(ctx context.Context, name string, run RunFunc, getenv func(string) string, stdout, stderr io.Writer) int {
	if err := run(ctx, getenv, stdout); err != nil {
		// The binary's last word goes to stderr as plain text: the JSON
		// logger may not exist yet (a configuration error).
		_, _ = fmt.Fprintln(stderr, name+":", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, service, level string) (*slog.Logger, error) {
	l, err := logging.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	return logging.New(w, service, l), nil
}

func logConfig(ctx context.Context, logger *slog.Logger, msg string, cfg any) {
	logger.InfoContext(ctx, msg, slog.Any("config", config.Map(cfg)))
}

// OpenTimeout bounds how long [Runtime.OpenDB] may take to open the database and
// run its migrations.
const OpenTimeout = time.Minute

// openDB opens the database named by dsn (see [sqldb.Open]) with logger
// and brings its schema up to date with migrate, both within
// [OpenTimeout] of ctx. Errors say which step failed; an unsupported DSN
// wraps [sqldb.ErrUnsupportedDSN]. On error nothing is left open.
func openDB(ctx context.Context, dsn string, logger *slog.Logger, migrate func(context.Context, *sqldb.DB) error) (*sqldb.DB, error) {
	ctx, cancel := context.WithTimeout(ctx, OpenTimeout)
	defer cancel()
	db, err := sqldb.Open(ctx, dsn, sqldb.WithLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := migrate(ctx, db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	return db, nil
}

// Bind returns the RunFunc of the binary name whose configuration type is
// C: it loads and logs the configuration and starts the runtime with
// [Start], calls serve, and closes the runtime when serve returns. Every
// main reads the same:
//
//	func main() { svcmain.Main("order", run) }
//
//	var run = svcmain.Bind("order", serve)
//
//	func serve(ctx context.Context, rt *svcmain.Runtime, cfg *config.Config) error { ... }
//
// Tests call run with their own environment and output.
func Bind[C any, P interface {
	*C
	Config
}](name string, serve func(ctx context.Context, rt *Runtime, cfg *C) error) RunFunc {
	return func(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
		cfg := new(C)
		rt, err := Start(ctx, name, getenv, stdout, P(cfg))
		if err != nil {
			return err
		}
		defer func() { _ = rt.Close() }() // Close logs what it could not release
		return serve(ctx, rt, cfg)
	}
}
