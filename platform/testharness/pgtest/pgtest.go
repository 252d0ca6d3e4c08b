// Package pgtest gives tests throwaway PostgreSQL databases on a real
// server that the test process starts for itself.
//
// The first call to [NewDatabase] in a test binary runs initdb into a
// temporary directory and starts one postgres cluster on a free loopback
// port (TCP only, fsync and synchronous_commit off, small buffers, data in
// /dev/shm when it has room: a test cluster trades durability for speed). It then creates an empty template
// database. Every NewDatabase call clones that template with
// CREATE DATABASE ... TEMPLATE, which takes milliseconds, and drops the
// clone when the test ends, so tests never share state and may run in
// parallel. [NewDatabaseFrom] clones a template you prepare once per test
// binary instead (for example with your migrations applied).
//
// # Lifecycle
//
// The cluster is shared by all tests of the binary and is stopped by
// [Main], which every package using pgtest calls from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// A cluster must not outlive its test process, even one killed with
// SIGKILL or by `go test -timeout`: on Linux the postmaster is started with
// a parent-death signal (PR_SET_PDEATHSIG = SIGQUIT, PostgreSQL's immediate
// shutdown) from an OS thread that stays locked for the postmaster's whole
// life, so the kernel stops it as soon as the test process is gone.
// Temporary directories of clusters whose test process died are removed
// (and any survivor killed) by the next cluster start on the machine.
//
// # Privileges
//
// initdb and postgres refuse to run as root. When the tests run as root,
// pgtest runs them as the "postgres" OS user (created by the Debian/Ubuntu
// postgresql packages) with the temporary directory owned by that user.
//
// # Binaries and external servers
//
// initdb and postgres are looked up on PATH, then in
// /usr/lib/postgresql/*/bin (newest version first) and the usual Homebrew
// and /usr/local locations. When they are missing the test skips with an
// install hint, or fails when CI=true (see harness.LookBinary).
//
// When TRANSLOAD_PGTEST_DSN is set (a superuser or CREATEDB role on an
// existing server, e.g. a CI service container) no cluster is started and
// the databases are created on that server instead.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/transload/transload/platform/testharness/harness"
)

// InstallHint is the package-manager command that installs the PostgreSQL
// server binaries (initdb, postgres).
const InstallHint = "apt-get install -y postgresql"

// EnvDSN names the environment variable that points pgtest at an existing
// server instead of starting one.
const EnvDSN = "TRANSLOAD_PGTEST_DSN"

// binaryCandidates are searched after PATH; lexically greatest wins, which
// picks the newest version under /usr/lib/postgresql.
func binaryCandidates(name string) []string {
	return []string{
		"/usr/lib/postgresql/*/bin/" + name,
		"/usr/local/pgsql/bin/" + name,
		"/opt/homebrew/opt/postgresql@*/bin/" + name,
		"/usr/local/opt/postgresql@*/bin/" + name,
		"/usr/pgsql-*/bin/" + name,
	}
}

var (
	startOnce sync.Once
	// sharedMu guards shared and startErr after startOnce: Stop changes them.
	sharedMu sync.Mutex
	shared   *server
	startErr error
	dbSeq    atomic.Int64

	templatesMu sync.Mutex
	templates   = map[string]*templateDB{}
)

// lookBinaries finds initdb and postgres or ends t by the harness policy
// (skip with an install hint, fail when CI=true).
func lookBinaries(t testing.TB, candidates func(name string) []string) binaries {
	t.Helper()
	return binaries{
		initdb:   harness.LookBinary(t, "initdb", InstallHint, candidates("initdb")...),
		postgres: harness.LookBinary(t, "postgres", InstallHint, candidates("postgres")...),
	}
}

// server is the shared admin view of a cluster, started here or external.
type server struct {
	// base is the DSN of the admin connection; database names are
	// swapped into it to build per-test DSNs.
	base     *url.URL
	admin    *sql.DB
	template string
	cluster  *cluster // nil for an external server
	// strategy is appended to CREATE DATABASE: FILE_COPY on PostgreSQL
	// 15+, whose default WAL_LOG strategy writes the whole template to
	// the WAL, several times slower for small test databases.
	strategy string
	owned    []string // databases this process created on an external server
	ownedMu  sync.Mutex
}

type templateDB struct {
	once sync.Once
	name string
	err  error
}

// NewDatabase returns the DSN (postgres://...) of a new, empty database
// cloned from the shared template, and drops the database when t ends
// (terminating connections still open by then). The first call starts the
// cluster; a missing PostgreSQL installation skips t with an install hint,
// or fails it when CI=true.
func NewDatabase(t testing.TB) string {
	t.Helper()
	s := sharedServer(t)
	return s.clone(t, s.template)
}

// NewDatabaseFrom is [NewDatabase] for databases that start from a
// prepared state: the first call with a given key creates a template
// database and runs setup with its DSN (typically opening it and applying
// migrations; setup must close every connection it opens); later calls with
// the same key reuse it. Each call returns a fresh clone dropped when t
// ends. If setup fails, every call with that key fails t.
func NewDatabaseFrom(t testing.TB, key string, setup func(ctx context.Context, dsn string) error) string {
	t.Helper()
	s := sharedServer(t)

	templatesMu.Lock()
	tpl, ok := templates[key]
	if !ok {
		tpl = &templateDB{}
		templates[key] = tpl
	}
	templatesMu.Unlock()

	tpl.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		name, err := s.createDatabase(ctx, "tpl", s.template)
		if err != nil {
			tpl.err = err
			return
		}
		if err := setup(ctx, s.dsn(name)); err != nil {
			tpl.err = fmt.Errorf("setup of template %q: %w", key, err)
			return
		}
		// Connections left open by setup would make every clone fail with
		// "source database is being accessed by other users".
		if _, err := s.admin.ExecContext(ctx,
			`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, name); err != nil {
			tpl.err = fmt.Errorf("close connections to template %q: %w", key, err)
			return
		}
		tpl.name = name
	})
	if tpl.err != nil {
		t.Fatalf("pgtest: template %q: %v", key, tpl.err)
	}
	return s.clone(t, tpl.name)
}

// Main runs the tests of m, then stops the cluster (if one was started)
// and removes its directory, and exits with the tests' status. Call it
// from TestMain in every package that uses pgtest.
func Main(m *testing.M) {
	code := m.Run()
	if err := Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// Stop stops the shared cluster and removes its files (or, for an external
// server, drops what this process created there). [Main] calls it; call
// it yourself only with a TestMain of your own that cannot use Main. After
// Stop, NewDatabase fails.
func Stop() error {
	// Make sure no start can begin after Stop.
	startOnce.Do(func() {})
	sharedMu.Lock()
	s := shared
	shared = nil
	startErr = errors.New("the cluster was stopped (pgtest.Stop or pgtest.Main ran)")
	sharedMu.Unlock()
	if s == nil {
		return nil
	}

	var errs []error
	if s.cluster == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.ownedMu.Lock()
		owned := append([]string{s.template}, s.owned...)
		s.ownedMu.Unlock()
		for _, name := range owned {
			if err := dropDatabase(ctx, s.admin, name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := s.admin.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close admin connection: %w", err))
	}
	if s.cluster != nil {
		if err := s.cluster.stop(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sharedServer returns the shared server, starting it on first use and
// applying the missing-binary policy to every caller.
func sharedServer(t testing.TB) *server {
	t.Helper()
	external := os.Getenv(EnvDSN)
	var bins binaries
	if external == "" {
		bins = lookBinaries(t, binaryCandidates)
	}
	startOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var (
			s   *server
			err error
		)
		if external != "" {
			s, err = connectExternal(ctx, external)
		} else {
			s, err = startServer(ctx, t, bins)
		}
		sharedMu.Lock()
		shared, startErr = s, err
		sharedMu.Unlock()
	})
	sharedMu.Lock()
	s, err := shared, startErr
	sharedMu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return s
}

func startServer(ctx context.Context, t testing.TB, bins binaries) (*server, error) {
	c, err := startCluster(ctx, t, bins)
	if err != nil {
		return nil, err
	}
	base := &url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     fmt.Sprintf("127.0.0.1:%d", c.port),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
	s, err := newServer(ctx, base, c)
	if err != nil {
		_ = c.stop()
		return nil, err
	}
	return s, nil
}

func connectExternal(ctx context.Context, dsn string) (*server, error) {
	base, err := url.Parse(dsn)
	if err != nil || (base.Scheme != "postgres" && base.Scheme != "postgresql") {
		return nil, fmt.Errorf("%s must be a postgres:// URL", EnvDSN)
	}
	return newServer(ctx, base, nil)
}

func newServer(ctx context.Context, base *url.URL, c *cluster) (*server, error) {
	admin, err := sql.Open("pgx", base.String())
	if err != nil {
		return nil, fmt.Errorf("open admin connection: %w", err)
	}
	admin.SetMaxOpenConns(8)
	s := &server{base: base, admin: admin, cluster: c}
	if err := waitReady(ctx, admin, c); err != nil {
		_ = admin.Close()
		return nil, err
	}
	var version int
	if err := admin.QueryRowContext(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		_ = admin.Close()
		return nil, fmt.Errorf("read server version: %w", err)
	}
	if version >= 150000 {
		s.strategy = " STRATEGY FILE_COPY"
	}
	s.template, err = s.createDatabase(ctx, "tpl", "template0")
	if err != nil {
		_ = admin.Close()
		return nil, fmt.Errorf("create template database: %w", err)
	}
	return s, nil
}

// waitReady pings until the server accepts queries: a postmaster that
// listens may still answer "the database system is starting up".
func waitReady(ctx context.Context, admin *sql.DB, c *cluster) error {
	var last error
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = admin.PingContext(pctx)
		cancel()
		if last == nil {
			return nil
		}
		var exited <-chan struct{}
		if c != nil {
			exited = c.exited
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for postgres: %w", errors.Join(ctx.Err(), last, c.logTail()))
		case <-exited:
			return fmt.Errorf("postgres exited during start-up: %w", errors.Join(last, c.logTail()))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (s *server) dsn(dbName string) string {
	u := *s.base
	u.Path = "/" + dbName
	return u.String()
}

// createDatabase creates a database named after prefix, cloned from
// template, and returns its name.
func (s *server) createDatabase(ctx context.Context, prefix, template string) (string, error) {
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	name := fmt.Sprintf("pgtest_%s_%d_%d_%s", prefix, os.Getpid(), dbSeq.Add(1), hex.EncodeToString(rnd[:]))
	stmt := fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s%s`, quoteIdent(name), quoteIdent(template), s.strategy)
	for attempt := 1; ; attempt++ {
		_, err := s.admin.ExecContext(ctx, stmt)
		if err == nil {
			break
		}
		// 55006 object_in_use: the template had a connection for a moment
		// (a setup connection still closing).
		var pe *pgconn.PgError
		if attempt < 50 && errors.As(err, &pe) && pe.Code == "55006" {
			select {
			case <-ctx.Done():
				return "", fmt.Errorf("create database %s: %w", name, err)
			case <-time.After(time.Duration(attempt) * 10 * time.Millisecond):
			}
			continue
		}
		return "", fmt.Errorf("create database %s from %s: %w", name, template, err)
	}
	if s.cluster == nil {
		s.ownedMu.Lock()
		s.owned = append(s.owned, name)
		s.ownedMu.Unlock()
	}
	return name, nil
}

// clone creates a database from template for t and drops it when t ends.
func (s *server) clone(t testing.TB, template string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name, err := s.createDatabase(ctx, "db", template)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dropDatabase(ctx, s.admin, name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s.dsn(name)
}

func dropDatabase(ctx context.Context, admin *sql.DB, name string) error {
	if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+quoteIdent(name)+` WITH (FORCE)`); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }
