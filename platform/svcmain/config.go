package svcmain

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/transload/transload/platform/config"
	"github.com/transload/transload/platform/tracing"
)

// Base is the configuration every binary shares. A binary's
// configuration struct embeds it by value, next to its own fields
// (neighbours, tuning), and embeds [Database] too when it keeps state in a
// SQL database:
//
//	type Config struct {
//		svcmain.Base
//		svcmain.Database
//		NATSURL string `env:"NATS_URL" default:"nats://127.0.0.1:4222"`
//		...
//	}
//
// The embedding struct must not declare SERVICE_NAME, LOG_LEVEL,
// GRPC_ADDR, GRPC_REFLECTION, ADMIN_ADDR, ADMIN_TOKEN, PPROF_ENABLED, DATABASE_URL,
// MESH_TLS_DIR, MESH_PLAINTEXT, MEMORY_LIMIT_MB
// or the OTEL_* variables again.
// GRPC_ADDR, ADMIN_ADDR and DATABASE_URL have no default tag: their
// defaults come from the binary's place in the port plan
// ([DefaultsFor]), so that one table, not one per binary, says which binary
// listens where.
type Base struct {
	// ServiceName names the binary in logs, metrics and traces; empty
	// means the name given to [Start].
	ServiceName string `env:"SERVICE_NAME"`
	// GRPCAddr is the gRPC listen address (host:port). Empty takes the
	// binary's port in the mesh's port plan ([DefaultsFor]).
	GRPCAddr string `env:"GRPC_ADDR"`
	// AdminAddr is the admin HTTP listen address: /metrics, /healthz,
	// /readyz and the routes a binary adds (the simulators' /control API).
	// Empty takes the binary's admin port in the port plan, so the admin
	// listener cannot be switched off through the environment.
	AdminAddr string `env:"ADMIN_ADDR"`
	// AdminToken admits callers that are not on loopback to the admin
	// listener's /metrics, /debug/pprof/ and binary routes (the
	// simulators' /control API) with `Authorization: Bearer <token>`
	// (adminhttp.WithToken). Empty: those routes answer loopback callers
	// only (403 otherwise); /healthz and /readyz answer everyone. Secret.
	AdminToken string `env:"ADMIN_TOKEN" secret:"true"`
	// Reflection serves gRPC server reflection on the gRPC listener
	// (grpcserver.WithReflection), so grpcurl and `buf curl` list,
	// describe and call the binary's services and decode error details
	// without proto files. Off by default: `make run` turns it on, a
	// production port does not describe its API to whoever asks.
	Reflection bool `env:"GRPC_REFLECTION" default:"false"`
	// Profiling serves net/http/pprof's CPU, heap, goroutine and trace
	// profiles under /debug/pprof/ on the admin listener
	// (adminhttp.WithProfiling). Off by default: a profile shows the
	// binary's internals to whoever reaches the admin port, and a CPU
	// profile costs CPU while it runs. The benchmark harness turns it on
	// to save profiles; keep it off in production.
	Profiling bool `env:"PPROF_ENABLED" default:"false"`
	// MeshTLSDir is the mesh folder (issue #14, platform/meshtls): ca.pem
	// and the binary's <name>.pem and <name>-key.pem. When set, the
	// binary's internal gRPC clients ([Runtime.ClientOptions]) dial with
	// mutual TLS and verify the callee's identity, and its servers made
	// with [Runtime.Mesh] serve mutual TLS and authorize callers by
	// identity. A rotated certificate is picked up without a restart.
	// Empty: MeshPlaintext must say plaintext is meant, or the binary
	// refuses to start (ErrMeshModeUnset).
	MeshTLSDir string `env:"MESH_TLS_DIR"`
	// MeshPlaintext is the explicit development flag for plaintext
	// internal gRPC. Setting it with MESH_TLS_DIR is a configuration
	// error, and so is leaving both unset (ErrMeshModeUnset): make run
	// sets it only for TRANSLOAD_MESH_PLAINTEXT=1.
	MeshPlaintext bool `env:"MESH_PLAINTEXT" default:"false"`
	// MemoryLimitMB is the Go runtime's soft memory limit in MiB
	// (debug.SetMemoryLimit), applied by [Start] and restored by
	// [Runtime.Close]: the garbage collector works harder as the Go
	// memory nears it instead of letting the heap grow to twice the live
	// heap (GOGC=100), which under a burst of requests took order and
	// inventory to 187-198 MB resident, over issue #12's 150 MB per
	// process. Soft: nothing is refused or dropped above it, the GC just
	// spends more CPU (the runtime caps that near half). It bounds only
	// Go's memory; SQLite's page caches live outside the Go heap
	// (platform/sqldb bounds them). 0 turns it off; a GOMEMLIMIT in the
	// environment wins over it. Default [DefaultMemoryLimitMB].
	MemoryLimitMB int64 `env:"MEMORY_LIMIT_MB" default:"64"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"LOG_LEVEL" default:"info"`
	// AccessLog says which successful gRPC calls the access log keeps:
	// all (default: any request can be followed by its correlation id),
	// errors, or sampled (1 in 100). Failed calls are always logged
	// (grpcserver.WithAccessLog).
	AccessLog string `env:"LOG_ACCESS" default:"all"`
	// Tracing says where spans are exported (the standard OTEL_*
	// variables); without an endpoint nothing is exported, but trace
	// context still propagates.
	Tracing tracing.Settings
}

// BaseConfig returns b. Promoted through embedding, it is how [Start]
// finds the Base inside a binary's configuration struct.
func (b *Base) BaseConfig() *Base { return b }

// Database is the configuration of a binary that keeps its state in a SQL
// database (every service but the gateway). Embed it next to [Base].
type Database struct {
	// DatabaseURL is the sqldb DSN (sqlite://... or postgres://...).
	// Empty takes sqlite://<name>.db in the working directory, name being
	// the one given to [Start]. Secret: a PostgreSQL URL carries a
	// password, so the logged configuration masks it.
	DatabaseURL string `env:"DATABASE_URL" secret:"true"`
}

// Config is a pointer to a binary's configuration struct that embeds
// [Base] (so the compiler, not a run, rejects a struct without it).
// [LoadConfig] loads it with platform/config, so its fields carry env tags
// and it may implement config.Validator.
type Config interface {
	BaseConfig() *Base
}

// place is one binary's place in the port plan.
type place struct {
	grpc, admin int
	database    bool // it embeds Database
}

// portPlan is the mesh's port plan, the one docs/configuration.md
// documents: every binary has its own gRPC port (90xx) and admin port
// (91xx), so that all of them start side by side on one host with no
// environment at all, and each one with a database keeps it in its own
// file. Keyed by the name each main passes to [Start].
var portPlan = map[string]place{
	"erpsim":          {9001, 9101, true},
	"wmssim":          {9002, 9102, true},
	"catalog-pricing": {9003, 9103, true},
	"inventory":       {9004, 9104, true},
	"order":           {9005, 9105, true},
	"fulfillment":     {9006, 9106, true},
	"gateway":         {9007, 9107, false},
	"ops":             {9008, 9108, true},
	"notify":          {9009, 9109, true},
}

// ErrUnknownService is the cause of the error [DefaultsFor],
// [LoadConfig] and [Start] return for a name that has no place in the
// port plan: picking some port for it would collide with a neighbour.
var ErrUnknownService = errors.New("svcmain: unknown service")

// Defaults are the values the shared fields of a binary's configuration
// take when the environment leaves them empty.
type Defaults struct {
	// GRPCAddr is GRPC_ADDR's default: loopback on the binary's gRPC port.
	GRPCAddr string
	// AdminAddr is ADMIN_ADDR's default: loopback on its admin port.
	AdminAddr string
	// DatabaseURL is DATABASE_URL's default: sqlite://<name>.db for a
	// binary with a database, empty for the gateway.
	DatabaseURL string
}

// DefaultsFor returns the defaults of the binary called name (as passed
// to [Start], e.g. "catalog-pricing") from the mesh's port plan. A name
// outside the plan is an error wrapping [ErrUnknownService].
func DefaultsFor(name string) (Defaults, error) {
	p, ok := portPlan[name]
	if !ok {
		return Defaults{}, fmt.Errorf("%w %q (the port plan has %s)",
			ErrUnknownService, name, strings.Join(slices.Sorted(maps.Keys(portPlan)), ", "))
	}
	d := Defaults{
		GRPCAddr:  fmt.Sprintf("127.0.0.1:%d", p.grpc),
		AdminAddr: fmt.Sprintf("127.0.0.1:%d", p.admin),
	}
	if p.database {
		d.DatabaseURL = "sqlite://" + name + ".db"
	}
	return d, nil
}

// under returns getenv with d beneath it: a shared variable that getenv
// leaves empty (or blank, which platform/config treats as unset) reads as
// its default, before platform/config parses and validates, so Validate
// sees the values the binary will use.
func (d Defaults) under(getenv func(string) string) func(string) string {
	defaults := map[string]string{
		"GRPC_ADDR":    d.GRPCAddr,
		"ADMIN_ADDR":   d.AdminAddr,
		"DATABASE_URL": d.DatabaseURL,
	}
	return func(key string) string {
		if v := getenv(key); strings.TrimSpace(v) != "" {
			return v
		}
		return defaults[key]
	}
}

// LoadConfig loads cfg as [Start] does, without starting anything (a
// service's configuration test calls it to see its defaults): the shared
// fields default from name's place in the port plan ([DefaultsFor]), the
// others from their tags, then platform/config checks required fields and
// calls cfg's Validate; an empty SERVICE_NAME becomes name.
//
// Errors: one wrapping [ErrUnknownService] for a name outside the plan,
// otherwise what platform/config reports (*config.FieldError, or the
// Validate error wrapped).
func LoadConfig(name string, getenv func(string) string, cfg Config) error {
	d, err := DefaultsFor(name)
	if err != nil {
		return err
	}
	if err := config.Load(cfg, d.under(getenv)); err != nil {
		return err
	}
	if base := cfg.BaseConfig(); base.ServiceName == "" {
		base.ServiceName = name
	}
	return nil
}
