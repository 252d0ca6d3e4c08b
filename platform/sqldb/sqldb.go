// Package sqldb opens the SQL database a Transload service owns and gives
// every service the same small set of storage primitives on top of
// database/sql: one DSN format for both engines, transactions with bounded
// retries, placeholder rebinding, versioned embedded migrations and
// engine-neutral error classification.
//
// Two engines are supported:
//
//   - SQLite (modernc.org/sqlite, pure Go) is the embedded default:
//     "sqlite://data/orders.db" (relative path), "sqlite:///var/lib/x.db"
//     (absolute path) or "sqlite://:memory:" (a private in-memory database,
//     for tests). A missing parent folder is created.
//   - PostgreSQL (pgx v5 through its database/sql driver) is the scale
//     engine: "postgres://user:pass@host:5432/db?sslmode=disable" or the
//     "postgresql://" spelling.
//
// Both engines are used through *sql.DB and *sql.Tx so store code can be
// shared where the SQL is identical. Queries are written with "?"
// placeholders and passed through [DB.Rebind], which turns them into
// "$1".."$n" for PostgreSQL.
//
// # SQLite settings
//
// Every SQLite connection runs with journal_mode=WAL, busy_timeout
// (default 5s, see [WithBusyTimeout]), foreign_keys=ON, synchronous=FULL,
// temp_store=MEMORY (statement journals and sorts never touch temporary
// files), cache_size of 2 MiB per connection (see [WithPageCache]; a DSN
// _pragma parameter replaces both) and BEGIN IMMEDIATE for
// read-write transactions, so a transaction takes
// the write lock when it starts instead of failing with SQLITE_BUSY when it
// tries to upgrade a read lock. WAL lets readers run concurrently with the
// single writer, so the pool keeps several connections open for reads
// while [DB.InTx] serialises this process's writers in process: writers
// queue in Go instead of spinning in SQLite's busy handler, and
// busy_timeout plus the InTx retry only have to cover writers in other
// processes. time.Time values are written as UTC text
// "2006-01-02 15:04:05.999999999+00:00" (sortable, understood by SQLite's
// date functions) and read back as UTC from columns declared DATE,
// DATETIME or TIMESTAMP. Extra modernc DSN parameters given in the DSN's
// query string (for example "?_synchronous=NORMAL") override the defaults.
// WAL checkpoints stay SQLite's automatic ones, run by the COMMIT that
// takes the WAL past 1000 pages: a background PASSIVE checkpointer (with
// wal_autocheckpoint=0) was measured at 0.3-0.9x the throughput under 16
// concurrent writers, and since the writers never pause it never finished a
// checkpoint, so the WAL could not restart and grew without bound (20 MiB
// after 3 s against 4 MiB).
//
// # Memory
//
// modernc.org/sqlite allocates SQLite's memory (page caches, compiled
// statements) outside the Go heap, so the Go runtime's memory limit
// (svcmain's MEMORY_LIMIT_MB) does not bound it; the pool does. Each
// connection's page cache holds at most cache_size ([WithPageCache], 2
// MiB) and the pool at most [WithMaxOpenConns] connections (max(4,
// GOMAXPROCS) for a file), so one database's page caches stay within 8
// MiB on a 2-core host. A larger cache buys little here: in WAL mode a
// connection drops its whole cache when it finds that another connection
// committed since its last transaction, which in a busy service is almost
// every time. mmap_size stays 0 (SQLite's default: pages are read with
// pread, nothing of the file is mapped into the process) and each
// connection keeps at most 256 compiled statements ([WithStatementCache]).
// Measured in the sustained bench, order's and inventory's resident
// memory outside the Go runtime's (page caches, statements and the
// allocator's overhead together) was about 20 MB.
//
// An in-memory database lives in one connection, so "sqlite://:memory:"
// pools exactly one connection: a read issued through [DB.SQL] while a
// transaction is open on the same DB waits for that transaction.
//
// # Group commit (SQLite files)
//
// A commit with synchronous=FULL costs an fsync, and SQLite has one
// writer, so one transaction per write caps a busy service at one write
// per fsync. By default (see [WithGroupCommit], 64) concurrent [DB.InTx]
// calls on an SQLite file share one transaction and one COMMIT: the first
// waiting writer begins it (BEGIN IMMEDIATE), then the waiting writers
// take turns on it, each fn running in its caller's goroutine inside its
// own SAVEPOINT (except the first member with work in the batch: it needs
// none, since rolling the whole transaction back undoes only it, and a
// savepoint makes SQLite journal every page it changes); when nobody else
// waits, or the batch is full, it commits.
// Guarantees per InTx call are those of a transaction of its own:
//
//   - durability: InTx returns nil only after the COMMIT that holds its
//     writes returned (with synchronous=FULL, after the fsync);
//   - isolation: members run one after another, each seeing the writes of
//     the members before it, as if the calls had been serialised;
//   - atomicity: a member whose fn returns an error, panics or calls
//     runtime.Goexit is rolled back to its savepoint and leaves no trace;
//     the others commit;
//   - a batch whose transaction breaks (a statement that rolls back the
//     whole transaction, such as an interrupted one or INSERT OR
//     ROLLBACK, a failed savepoint or COMMIT) acknowledges nobody: its
//     members run fn again in a new transaction ([DB.InTx] already allows
//     fn to run more than once).
//
// The cost is latency for the first members of a batch, which wait for the
// later ones before their commit. [DB.CommitStats] reports commits and
// acknowledged InTx calls. PostgreSQL, in-memory SQLite and
// WithGroupCommit(1) run one transaction per InTx.
//
// # Prepared statements
//
// Stores pass SQL text to ExecContext/QueryContext; compiling it on every
// call is a large share of a write's CPU on SQLite. Each SQLite connection
// therefore keeps the statements it compiled, by query text, in a bounded
// LRU (see [WithStatementCache], 256 per connection): the connection
// wrapper makes database/sql prepare every call and hands out the cached
// statement, whose Close keeps it. A statement still busy with open rows
// (the same query run again while iterating it) is not handed out twice:
// that call gets a fresh statement. Multi-statement scripts (migrations)
// are not cached. SQLite recompiles a cached statement by itself when the
// schema changes. [DB.StatementStats] counts compilations and reuses.
// PostgreSQL needs none of this: pgx caches prepared statements per
// connection already.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite" // also registers the "sqlite" database/sql driver
)

// Dialect identifies the SQL engine behind a [DB].
type Dialect int

const (
	// SQLite is the embedded engine (modernc.org/sqlite).
	SQLite Dialect = iota + 1
	// Postgres is PostgreSQL through pgx.
	Postgres
)

// String returns "sqlite" or "postgres".
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	default:
		return "Dialect(" + strconv.Itoa(int(d)) + ")"
	}
}

// ErrUnsupportedDSN is returned by [Open] for a DSN whose scheme is not
// sqlite, postgres or postgresql, or which is otherwise malformed.
var ErrUnsupportedDSN = errors.New("sqldb: unsupported DSN")

// DB is an open database: a *sql.DB plus what the rest of the package needs
// to know about its engine. It is safe for concurrent use.
type DB struct {
	sql     *sql.DB
	dialect Dialect
	// writeSem serialises read-write transactions of this process on
	// SQLite (capacity 1); nil for PostgreSQL.
	writeSem chan struct{}
	retry    retryPolicy
	logger   *slog.Logger
	// group batches concurrent InTx calls of an SQLite file into one
	// transaction (see [WithGroupCommit]); nil when off.
	group *groupCommit
	stats commitStats
	stmts stmtStats
	// tempStoreDefault is set when the SQLite DSN kept the default
	// temp_store and cache_size pragmas (no _pragma of its own), so Open
	// checks them.
	tempStoreDefault bool
	// pageCacheKiB is the cache_size (in KiB) each connection was opened
	// with.
	pageCacheKiB int
}

// SQL returns the underlying connection pool for queries outside a
// transaction. Queries must go through [DB.Rebind] to be portable.
func (db *DB) SQL() *sql.DB { return db.sql }

// Dialect reports the engine behind db.
func (db *DB) Dialect() Dialect { return db.dialect }

// Ping checks that the database is reachable.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sql.PingContext(ctx); err != nil {
		return fmt.Errorf("sqldb: ping %s: %w", db.dialect, err)
	}
	return nil
}

// Close closes the pool. Open transactions are not waited for.
func (db *DB) Close() error { return db.sql.Close() }

// Option configures [Open].
type Option func(*config)

type config struct {
	maxOpenConns    int
	maxIdleConns    int
	connMaxLifetime time.Duration
	connMaxIdleTime time.Duration
	busyTimeout     time.Duration
	retry           retryPolicy
	logger          *slog.Logger
	groupMaxBatch   int
	stmtCacheSize   int
	pageCacheKiB    int
}

// defaultPageCacheKiB is the page cache of each SQLite connection in KiB
// (PRAGMA cache_size=-2048).
const defaultPageCacheKiB = 2048

// WithPageCache sets the page cache of each SQLite connection in KiB
// (PRAGMA cache_size=-kib, default 2048), the bound on what one
// connection's cache holds outside the Go heap (see the package
// documentation's Memory section). kib <= 0 takes the default. Ignored
// for PostgreSQL and when the DSN has a _pragma parameter of its own.
func WithPageCache(kib int) Option { return func(c *config) { c.pageCacheKiB = kib } }

// WithMaxOpenConns caps the pool size. Defaults: PostgreSQL 10; SQLite
// max(4, GOMAXPROCS) for a file (readers run concurrently under WAL) and 1
// for ":memory:", which cannot be raised.
func WithMaxOpenConns(n int) Option { return func(c *config) { c.maxOpenConns = n } }

// WithMaxIdleConns sets how many idle connections the pool keeps (default:
// the same as the maximum open connections).
func WithMaxIdleConns(n int) Option { return func(c *config) { c.maxIdleConns = n } }

// WithConnMaxLifetime closes connections older than d (default 30 minutes
// for PostgreSQL so load balancers and failovers are picked up, unlimited
// for SQLite).
func WithConnMaxLifetime(d time.Duration) Option {
	return func(c *config) { c.connMaxLifetime = d }
}

// WithConnMaxIdleTime closes connections idle for longer than d (default 5
// minutes for PostgreSQL, unlimited for SQLite).
func WithConnMaxIdleTime(d time.Duration) Option {
	return func(c *config) { c.connMaxIdleTime = d }
}

// WithBusyTimeout sets SQLite's busy_timeout: how long a statement waits
// for a lock held by another connection before failing with SQLITE_BUSY
// (default 5s). Ignored for PostgreSQL.
func WithBusyTimeout(d time.Duration) Option { return func(c *config) { c.busyTimeout = d } }

// WithTxRetry sets how many times [DB.InTx] runs a transaction that failed
// with a retryable error (see [IsRetryable]) in total, and the first
// backoff, which doubles up to 32 times base with jitter. Defaults: 5
// attempts, 5ms. attempts < 1 is treated as 1 (no retry).
func WithTxRetry(attempts int, base time.Duration) Option {
	return func(c *config) {
		if attempts < 1 {
			attempts = 1
		}
		c.retry = retryPolicy{attempts: attempts, base: base}
	}
}

// WithLogger sets the logger for retries and other notable events
// (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// Open opens and pings the database named by dsn; see the package
// documentation for the DSN forms. An unknown scheme yields an error
// wrapping [ErrUnsupportedDSN]. The caller closes the returned DB.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	cfg := config{
		busyTimeout:  5 * time.Second,
		pageCacheKiB: defaultPageCacheKiB,
		retry:        retryPolicy{attempts: 5, base: 5 * time.Millisecond},
		logger:       slog.Default(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.pageCacheKiB <= 0 {
		cfg.pageCacheKiB = defaultPageCacheKiB
	}

	scheme, _, ok := strings.Cut(dsn, "://")
	if !ok {
		return nil, fmt.Errorf("%w: %q has no scheme (want sqlite://, postgres:// or postgresql://)", ErrUnsupportedDSN, redact(dsn))
	}
	var (
		db  *DB
		err error
	)
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3":
		db, err = openSQLite(dsn[len(scheme)+3:], cfg)
	case "postgres", "postgresql":
		db, err = openPostgres(dsn, cfg)
	default:
		return nil, fmt.Errorf("%w: scheme %q (want sqlite, postgres or postgresql)", ErrUnsupportedDSN, scheme)
	}
	if err != nil {
		return nil, err
	}
	if err := db.Ping(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	if db.dialect == SQLite {
		if err := db.checkSQLite(ctx); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	return db, nil
}

func openSQLite(rest string, cfg config) (*DB, error) {
	path, rawQuery, _ := strings.Cut(rest, "?")
	if path == "" {
		return nil, fmt.Errorf("%w: sqlite DSN without a path (use sqlite://file.db, sqlite:///abs/file.db or sqlite://:memory:)", ErrUnsupportedDSN)
	}
	user, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: sqlite DSN query: %w", ErrUnsupportedDSN, err)
	}
	params := url.Values{
		"_busy_timeout": {strconv.FormatInt(cfg.busyTimeout.Milliseconds(), 10)},
		"_foreign_keys": {"1"},
		"_journal_mode": {"WAL"},
		"_synchronous":  {"FULL"},
		"_txlock":       {"immediate"},
		// time.Time values are written as "2006-01-02 15:04:05.999999999-07:00"
		// in UTC: sortable as text, understood by SQLite's date functions,
		// and without the monotonic-clock suffix of the driver's default
		// (time.Time.String). Read back as UTC time.Time from columns
		// declared DATE, DATETIME or TIMESTAMP.
		"_time_format": {"sqlite"},
		"_timezone":    {"UTC"},
		// Statement journals and savepoint sub-journals (and sorts, temp
		// tables) stay in memory instead of spilling to temporary files:
		// a group-commit member's sub-journal passed the 64 KiB spill
		// threshold and cost an open and pwrites per transaction.
		// Nothing durable lives there.
		// Each connection's page cache, outside the Go heap, is bounded
		// (see the Memory section of the package documentation).
		"_pragma": {"temp_store(MEMORY)", "cache_size(-" + strconv.Itoa(cfg.pageCacheKiB) + ")"},
	}
	for k, v := range user {
		params[k] = v
	}
	memory := path == ":memory:" || strings.Contains(rawQuery, "mode=memory")
	if memory {
		// WAL does not apply to an in-memory database; asking for it is
		// harmless but misleading.
		params.Set("_journal_mode", "MEMORY")
	}

	if !memory {
		// A fresh data folder (make run, a new volume) is the normal case.
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("sqldb: create the folder of %s: %w", path, err)
		}
	}
	db := &DB{
		dialect:          SQLite,
		writeSem:         make(chan struct{}, 1),
		retry:            cfg.retry,
		logger:           cfg.logger,
		tempStoreDefault: user["_pragma"] == nil,
		pageCacheKiB:     cfg.pageCacheKiB,
	}
	cacheSize := cfg.stmtCacheSize
	if cacheSize == 0 {
		cacheSize = defaultStmtCacheSize
	}
	var sqlDB *sql.DB
	if cacheSize > 0 {
		base, err := sqlite.NewConnector(path + "?" + params.Encode())
		if err != nil {
			return nil, fmt.Errorf("sqldb: open sqlite %s: %w", path, err)
		}
		sqlDB = sql.OpenDB(&stmtCacheConnector{base: base, size: cacheSize, stats: &db.stmts})
	} else {
		var err error
		if sqlDB, err = sql.Open("sqlite", path+"?"+params.Encode()); err != nil {
			return nil, fmt.Errorf("sqldb: open sqlite %s: %w", path, err)
		}
	}
	db.sql = sqlDB

	maxOpen := cfg.maxOpenConns
	if maxOpen <= 0 {
		maxOpen = max(4, runtime.GOMAXPROCS(0))
	}
	if memory {
		maxOpen = 1
	}
	maxIdle := cfg.maxIdleConns
	if maxIdle <= 0 || memory {
		maxIdle = maxOpen
	}
	sqlDB.SetMaxOpenConns(maxOpen)
	sqlDB.SetMaxIdleConns(maxIdle)
	if memory {
		// Closing the only connection would drop the database.
		sqlDB.SetConnMaxLifetime(0)
		sqlDB.SetConnMaxIdleTime(0)
	} else {
		sqlDB.SetConnMaxLifetime(cfg.connMaxLifetime)
		sqlDB.SetConnMaxIdleTime(cfg.connMaxIdleTime)
	}
	maxBatch := cfg.groupMaxBatch
	if maxBatch == 0 {
		maxBatch = defaultGroupMaxBatch
	}
	if maxBatch > 1 && !memory {
		db.group = &groupCommit{db: db, maxBatch: maxBatch}
	}
	return db, nil
}

// checkSQLite verifies that the pragmas took effect: a DSN parameter that
// modernc silently ignored would otherwise surface as lock errors under
// load, far from the cause.
func (db *DB) checkSQLite(ctx context.Context) error {
	var fk int
	if err := db.sql.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return fmt.Errorf("sqldb: read sqlite foreign_keys: %w", err)
	}
	if fk != 1 {
		return errors.New("sqldb: sqlite foreign_keys is off; the driver ignored _foreign_keys")
	}
	var temp int
	if err := db.sql.QueryRowContext(ctx, "PRAGMA temp_store").Scan(&temp); err != nil {
		return fmt.Errorf("sqldb: read sqlite temp_store: %w", err)
	}
	if temp != 2 && db.tempStoreDefault {
		return fmt.Errorf("sqldb: sqlite temp_store is %d, want 2 (MEMORY); the driver ignored _pragma", temp)
	}
	var cache int
	if err := db.sql.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&cache); err != nil {
		return fmt.Errorf("sqldb: read sqlite cache_size: %w", err)
	}
	if cache != -db.pageCacheKiB && db.tempStoreDefault {
		return fmt.Errorf("sqldb: sqlite cache_size is %d, want %d; the driver ignored _pragma", cache, -db.pageCacheKiB)
	}
	return nil
}

func openPostgres(dsn string, cfg config) (*DB, error) {
	pgCfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The parse error can quote the DSN, password included.
		return nil, fmt.Errorf("%w: postgres DSN %q does not parse", ErrUnsupportedDSN, redact(dsn))
	}
	sqlDB := stdlib.OpenDB(*pgCfg)

	maxOpen := cfg.maxOpenConns
	if maxOpen <= 0 {
		maxOpen = 10
	}
	maxIdle := cfg.maxIdleConns
	if maxIdle <= 0 {
		maxIdle = maxOpen
	}
	lifetime := cfg.connMaxLifetime
	if lifetime == 0 {
		lifetime = 30 * time.Minute
	}
	idle := cfg.connMaxIdleTime
	if idle == 0 {
		idle = 5 * time.Minute
	}
	sqlDB.SetMaxOpenConns(maxOpen)
	sqlDB.SetMaxIdleConns(maxIdle)
	sqlDB.SetConnMaxLifetime(lifetime)
	sqlDB.SetConnMaxIdleTime(idle)
	return &DB{
		sql:     sqlDB,
		dialect: Postgres,
		retry:   cfg.retry,
		logger:  cfg.logger,
	}, nil
}

// redact hides the password of a URL-shaped DSN so it can go into errors
// and logs.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		if strings.Contains(dsn, "@") || strings.Contains(strings.ToLower(dsn), "password") {
			return "<dsn with credentials>"
		}
		return dsn
	}
	return u.Redacted()
}
