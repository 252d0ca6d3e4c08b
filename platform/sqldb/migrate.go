package sqldb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Migration errors, for errors.Is.
var (
	// ErrUnknownMigration means the database has a migration of the set
	// applied that the code does not ship: the binary is older than the
	// database (a downgrade) or the migration files were renamed. Migrate
	// refuses to run rather than guess.
	ErrUnknownMigration = errors.New("sqldb: database has a migration the code does not know")
	// ErrChecksumMismatch means an applied migration's file was edited
	// after it ran. Applied migrations are immutable: add a new one.
	ErrChecksumMismatch = errors.New("sqldb: applied migration was modified")
	// ErrBadMigrations means the migration files themselves are invalid:
	// a misnamed .sql file, a duplicate or missing version, an empty file.
	ErrBadMigrations = errors.New("sqldb: invalid migration files")
)

// Migration is one versioned migration file, named NNNN_name.sql (for
// example 0001_create_orders.sql). Versions of a set start at 1 and have no
// gaps.
type Migration struct {
	// Version is the number before the first underscore.
	Version int
	// Name is the part between the underscore and ".sql".
	Name string
	// SQL is the file's content, run as one script in one transaction.
	SQL string
	// Checksum is the hex SHA-256 of SQL, stored when the migration is
	// applied and compared on every later Migrate.
	Checksum string
}

var migrationFile = regexp.MustCompile(`^([0-9]+)_([A-Za-z0-9_.-]+)\.sql$`)

// LoadMigrations reads the migrations in the root directory of fsys,
// sorted by version. Files not ending in ".sql" are ignored (a README may
// sit next to the migrations); a ".sql" file that does not match
// NNNN_name.sql, duplicate versions, gaps and empty files are reported as
// [ErrBadMigrations]. With an embed.FS, pass fs.Sub(embedded, "dir").
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("sqldb: read migrations: %w", err)
	}
	var migs []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		m := migrationFile.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("%w: %q is not named NNNN_name.sql", ErrBadMigrations, e.Name())
		}
		v, err := strconv.Atoi(m[1])
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%w: %q: version must be a positive number", ErrBadMigrations, e.Name())
		}
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("sqldb: read migration %s: %w", e.Name(), err)
		}
		if strings.TrimSpace(string(body)) == "" {
			return nil, fmt.Errorf("%w: %q is empty", ErrBadMigrations, e.Name())
		}
		sum := sha256.Sum256(body)
		migs = append(migs, Migration{Version: v, Name: m[2], SQL: string(body), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].Version < migs[j].Version })
	for i, m := range migs {
		if m.Version != i+1 {
			if i > 0 && migs[i-1].Version == m.Version {
				return nil, fmt.Errorf("%w: version %d appears twice (%s, %s)", ErrBadMigrations, m.Version, migs[i-1].Name, m.Name)
			}
			return nil, fmt.Errorf("%w: version %d is missing (versions start at 1 without gaps)", ErrBadMigrations, i+1)
		}
	}
	return migs, nil
}

// Migrate brings migration set set of db up to the newest migration in
// fsys (see [LoadMigrations] for the layout). Applied migrations are
// recorded in the table schema_migrations(migration_set, version, name,
// checksum, applied_at) keyed by (migration_set, version), so several sets
// (a service's own tables, the platform outbox, ...) share one database.
//
// Each migration runs in its own transaction together with its
// schema_migrations row, so a failing migration leaves the set at the
// previous version and returns the error naming the file. Re-running is a
// no-op. Migrate refuses, before applying anything, when the database has
// a version the code does not ship ([ErrUnknownMigration]) or an applied
// file changed ([ErrChecksumMismatch]). Concurrent Migrate calls (several
// replicas starting at once) are serialised: by the SQLite write lock, and
// on PostgreSQL by a transaction-scoped advisory lock.
//
// Migration files must be transactional: no CREATE INDEX CONCURRENTLY, no
// VACUUM, no BEGIN/COMMIT of their own.
func Migrate(ctx context.Context, db *DB, set string, fsys fs.FS) error {
	if set == "" {
		return errors.New("sqldb: migrate: empty migration set name")
	}
	migs, err := LoadMigrations(fsys)
	if err != nil {
		return fmt.Errorf("sqldb: migration set %q: %w", set, err)
	}
	for {
		var applied *Migration
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			applied = nil
			next, err := db.pendingMigration(ctx, tx, set, migs)
			if err != nil || next == nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, next.SQL); err != nil {
				return fmt.Errorf("sqldb: migration set %q: apply %04d_%s: %w", set, next.Version, next.Name, err)
			}
			if _, err := tx.ExecContext(ctx, db.Rebind(
				`INSERT INTO schema_migrations (migration_set, version, name, checksum) VALUES (?, ?, ?, ?)`),
				set, next.Version, next.Name, next.Checksum); err != nil {
				return fmt.Errorf("sqldb: migration set %q: record %04d_%s: %w", set, next.Version, next.Name, err)
			}
			applied = next
			return nil
		})
		if err != nil {
			return err
		}
		if applied == nil {
			return nil
		}
		db.logger.InfoContext(ctx, "sqldb: applied migration",
			"set", set, "version", applied.Version, "name", applied.Name, "dialect", db.dialect.String())
	}
}

// MigrationsFor returns the migrations for engine d in fsys: the folder
// root/sqlite or root/postgres (root "" or "." is fsys itself). That is
// the layout of every migration set in the tree: one folder of numbered
// files per engine, embedded next to the store that owns the tables. A
// missing folder is [ErrBadMigrations] wrapping fs.ErrNotExist.
func MigrationsFor(fsys fs.FS, root string, d Dialect) (fs.FS, error) {
	if d != SQLite && d != Postgres {
		return nil, fmt.Errorf("sqldb: no migrations for dialect %s", d)
	}
	dir := path.Join(root, d.String())
	info, err := fs.Stat(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("%w: no %s folder %q: %w", ErrBadMigrations, d, dir, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%w: %q is not a folder", ErrBadMigrations, dir)
	}
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("sqldb: migrations folder %q: %w", dir, err)
	}
	return sub, nil
}

// MigrateEmbedded runs [Migrate] for set with the migrations for db's
// engine found under root in fsys (see [MigrationsFor]), so a store's
// migrate function is one call:
//
//	//go:embed migrations
//	var migrations embed.FS
//
//	func Migrate(ctx context.Context, db *sqldb.DB) error {
//		return sqldb.MigrateEmbedded(ctx, db, "orders", migrations, "migrations")
//	}
//
// Errors name the set; a missing engine folder is [ErrBadMigrations].
func MigrateEmbedded(ctx context.Context, db *DB, set string, fsys fs.FS, root string) error {
	migs, err := MigrationsFor(fsys, root, db.dialect)
	if err != nil {
		return fmt.Errorf("sqldb: migration set %q: %w", set, err)
	}
	return Migrate(ctx, db, set, migs)
}

// MigrationVersion returns the highest applied version of migration set
// set, or 0 when none is applied (including when schema_migrations does
// not exist yet).
func MigrationVersion(ctx context.Context, db *DB, set string) (int, error) {
	var exists bool
	var q string
	switch db.dialect {
	case SQLite:
		q = `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')`
	case Postgres:
		q = `SELECT to_regclass('schema_migrations') IS NOT NULL`
	default:
		// Only a DB built outside Open has no dialect.
		return 0, fmt.Errorf("sqldb: migration version on %s", db.dialect)
	}
	if err := db.sql.QueryRowContext(ctx, q).Scan(&exists); err != nil {
		return 0, fmt.Errorf("sqldb: look for schema_migrations: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	err := db.sql.QueryRowContext(ctx, db.Rebind(
		`SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE migration_set = ?`), set).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("sqldb: read version of migration set %q: %w", set, err)
	}
	return v, nil
}

// migrateLockKey is the PostgreSQL advisory lock that serialises Migrate
// across processes ("tlmigrat" as a big-endian int64).
const migrateLockKey int64 = 0x746c6d6967726174

var createMigrationsTable = map[Dialect]string{
	SQLite: `CREATE TABLE IF NOT EXISTS schema_migrations (
	migration_set TEXT NOT NULL,
	version INTEGER NOT NULL,
	name TEXT NOT NULL,
	checksum TEXT NOT NULL,
	applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	PRIMARY KEY (migration_set, version)
)`,
	Postgres: `CREATE TABLE IF NOT EXISTS schema_migrations (
	migration_set TEXT NOT NULL,
	version INTEGER NOT NULL,
	name TEXT NOT NULL,
	checksum TEXT NOT NULL,
	applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
	PRIMARY KEY (migration_set, version)
)`,
}

// pendingMigration locks the migration table, checks the applied versions
// of set against migs and returns the next one to apply, or nil when the
// set is up to date.
func (db *DB) pendingMigration(ctx context.Context, tx *sql.Tx, set string, migs []Migration) (*Migration, error) {
	if db.dialect == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
			return nil, fmt.Errorf("sqldb: lock migrations: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, createMigrationsTable[db.dialect]); err != nil {
		return nil, fmt.Errorf("sqldb: create schema_migrations: %w", err)
	}
	type applied struct {
		version        int
		name, checksum string
	}
	done, err := QueryAll(ctx, tx, db.Rebind(
		`SELECT version, name, checksum FROM schema_migrations WHERE migration_set = ? ORDER BY version`), []any{set},
		func(sc Scanner) (applied, error) {
			var a applied
			err := sc.Scan(&a.version, &a.name, &a.checksum)
			return a, err
		})
	if err != nil {
		return nil, fmt.Errorf("sqldb: read schema_migrations: %w", err)
	}
	n := 0
	for _, a := range done {
		if a.version > len(migs) || a.version < 1 {
			return nil, fmt.Errorf("%w: set %q is at version %d (%s) but the code only knows versions up to %d",
				ErrUnknownMigration, set, a.version, a.name, len(migs))
		}
		want := migs[a.version-1]
		if a.checksum != want.Checksum {
			return nil, fmt.Errorf("%w: set %q version %04d_%s", ErrChecksumMismatch, set, a.version, want.Name)
		}
		n++
		if a.version != n {
			return nil, fmt.Errorf("%w: set %q has version %d applied but not version %d", ErrUnknownMigration, set, a.version, n)
		}
	}
	if n == len(migs) {
		return nil, nil
	}
	return &migs[n], nil
}
