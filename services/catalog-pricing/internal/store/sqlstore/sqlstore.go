// Package sqlstore stores the catalog and pricing data of the
// catalog-pricing service in the service's own SQL database, on SQLite or
// PostgreSQL through platform/sqldb with one set of queries ("?"
// placeholders rebound per engine) and embedded migrations per engine.
// Events are written to the platform outbox in the same transactions.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/transload/transload/platform/correlation"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

//go:embed migrations
var migrations embed.FS

// MigrationSet names this store's migrations in schema_migrations.
const MigrationSet = "catalog_pricing"

// Migrate brings the service tables and the outbox tables up to date.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	if err := sqldb.MigrateEmbedded(ctx, db, MigrationSet, migrations, "migrations"); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return outbox.Migrate(ctx, db)
}

// Store is the service's database; Catalog and Pricing are its views for
// the two domains.
type Store struct {
	db *sqldb.DB
	// versions keeps the last Versions read on SQLite (nil on PostgreSQL).
	versions *versionsCache
}

// CatalogStore implements catalog.Store.
type CatalogStore struct{ *Store }

// PricingStore implements pricing.Store.
type PricingStore struct{ *Store }

var (
	_ catalog.Store = (*CatalogStore)(nil)
	_ pricing.Store = (*PricingStore)(nil)
)

// New returns a Store on db, which must be migrated (Migrate).
func New(db *sqldb.DB) *Store { return &Store{db: db, versions: cacheFor(db)} }

// Catalog returns the catalog.Store view.
func (s *Store) Catalog() *CatalogStore { return &CatalogStore{s} }

// Pricing returns the pricing.Store view.
func (s *Store) Pricing() *PricingStore { return &PricingStore{s} }

// DB returns the underlying database (for the outbox relay and probes).
func (s *Store) DB() *sqldb.DB { return s.db }

// Ping checks the database (readiness).
func (s *Store) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// q runs queries with rebinding on a pool or a transaction.
type q struct {
	ctx context.Context
	db  *sqldb.DB
	x   querier
}

func (s *Store) pool(ctx context.Context) q { return q{ctx: ctx, db: s.db, x: s.db.SQL()} }

// one reads the single row of query through x with scan. No row is
// missing, wrapped with what; other errors say that reading what failed.
func one[T any](x q, scan func(sqldb.Scanner) (T, error), what string, missing error, query string, args ...any) (T, error) {
	v, err := scan(x.row(query, args...))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		var zero T
		return zero, fmt.Errorf("%s: %w", what, missing)
	case err != nil:
		var zero T
		return zero, fmt.Errorf("read %s: %w", what, err)
	}
	return v, nil
}

// all runs query through x and collects its rows with scan.
func all[T any](x q, scan func(sqldb.Scanner) (T, error), query string, args ...any) ([]T, error) {
	return sqldb.QueryAll(x.ctx, x.x, x.db.Rebind(query), args, scan)
}

func (x q) row(query string, args ...any) *sql.Row {
	return x.x.QueryRowContext(x.ctx, x.db.Rebind(query), args...)
}

func (x q) exec(query string, args ...any) error {
	_, err := x.x.ExecContext(x.ctx, x.db.Rebind(query), args...)
	return err
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// chunks splits ss into slices of at most n.
func chunks(ss []string, n int) [][]string {
	var out [][]string
	for len(ss) > n {
		out = append(out, ss[:n])
		ss = ss[n:]
	}
	if len(ss) > 0 {
		out = append(out, ss)
	}
	return out
}

func args(ss []string, prefix ...any) []any {
	out := append([]any(nil), prefix...)
	for _, s := range ss {
		out = append(out, s)
	}
	return out
}

// nullTime maps the zero time to NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func fromNull(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// inTx is the shared transaction wrapper of both domain Tx types.
type inTx struct {
	q
	tx *sql.Tx
}

func (s *Store) inTx(ctx context.Context, fn func(t *inTx) error) error {
	// After the commit (or rollback): Versions reads again.
	defer s.versions.wrote()
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		return fn(&inTx{q: q{ctx: ctx, db: s.db, x: tx}, tx: tx})
	})
}

// Request implements catalog.Tx and pricing.Tx.
func (t *inTx) Request(kind, id string) (catalog.Request, bool, error) {
	r := catalog.Request{Kind: kind, ID: id}
	err := t.row(`SELECT payload_hash, response FROM idempotency WHERE kind = ? AND request_id = ?`, kind, id).
		Scan(&r.PayloadHash, &r.Response)
	if errors.Is(err, sql.ErrNoRows) {
		return catalog.Request{}, false, nil
	}
	if err != nil {
		return catalog.Request{}, false, fmt.Errorf("read request %s/%s: %w", kind, id, err)
	}
	return r, true, nil
}

// SaveRequest implements catalog.Tx and pricing.Tx.
func (t *inTx) SaveRequest(r catalog.Request) error {
	resp := r.Response
	if resp == nil {
		resp = []byte{}
	}
	err := t.exec(`INSERT INTO idempotency (kind, request_id, payload_hash, response, create_time) VALUES (?, ?, ?, ?, ?)`,
		r.Kind, r.ID, r.PayloadHash, resp, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("save request %s/%s: %w", r.Kind, r.ID, err)
	}
	return nil
}

// DraftSKUs implements pricing.Tx.
func (t *inTx) DraftSKUs(skus []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, c := range chunks(skus, 500) {
		found, err := all(t.q, sqldb.ScanValue[string],
			`SELECT sku FROM products WHERE version = ? AND sku IN (`+placeholders(len(c))+`)`, args(c, catalog.DraftVersion)...)
		if err != nil {
			return nil, fmt.Errorf("draft skus: %w", err)
		}
		for _, sku := range found {
			out[sku] = true
		}
	}
	return out, nil
}

// trailActions names this store's audit actions as the operations audit
// trail does ("<resource type>.<verb>"); the audit_records table keeps the
// names it has always had.
var trailActions = map[string]string{
	"catalog.publish":           "catalog.publish",
	"catalog.import_products":   "products.import",
	"pricing.import_prices":     "prices.import",
	"pricing.upsert_price_list": "price_list.upsert",
	"pricing.delete_price_list": "price_list.delete",
}

// serviceActor is who changes the catalog when a record names nobody.
var serviceActor = opsevents.Service(Producer)

// AppendAudit implements catalog.Tx and pricing.Tx: the record goes to
// the audit_records table and, as an AuditRecordedEvent, to the outbox for
// the operations audit trail, both in the transaction of the change.
func (t *inTx) AppendAudit(r catalog.AuditRecord) error {
	// Before and after are marshalled once, here, for both the row and the
	// event: this runs inside the change's write transaction.
	before, err := auditJSON(r.Before)
	if err != nil {
		return fmt.Errorf("audit before: %w", err)
	}
	after, err := auditJSON(r.After)
	if err != nil {
		return fmt.Errorf("audit after: %w", err)
	}
	if err := t.appendAuditRow(r, string(before), string(after)); err != nil {
		return err
	}
	action, ok := trailActions[r.Action]
	if !ok {
		action = r.Action
	}
	actor := opsevents.Actor{Kind: r.Actor.Kind, ID: r.Actor.ID}
	if actor.IsZero() {
		actor = serviceActor
	}
	ev, err := opsevents.Record(Producer, opsevents.Audit{Actor: actor, Action: action, Target: r.Resource, Before: orNil(before), After: orNil(after)})
	if err != nil {
		return fmt.Errorf("audit %s %s: %w", r.Action, r.Resource, err)
	}
	return t.writeEvent(ev)
}

// auditJSON renders an audit record's before or after as JSON; nil (no
// resource) stays nil, which opsevents.Record and the audit_records row
// ("") both read as absent.
func auditJSON(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}

// orNil returns raw as Record expects it: an untyped nil for no resource,
// since a nil json.RawMessage in an interface would render as JSON null.
func orNil(raw json.RawMessage) any {
	if raw == nil {
		return nil
	}
	return raw
}

// appendAuditRow writes r to the audit_records table with its before and
// after already rendered as JSON.
func (t *inTx) appendAuditRow(r catalog.AuditRecord, before, after string) error {
	err := t.exec(`INSERT INTO audit_records (occur_time, correlation_id, action, resource, actor_kind, actor_id, before_json, after_json)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, time.Now().UTC(), correlation.ID(t.ctx), r.Action, r.Resource, r.Actor.Kind, r.Actor.ID, before, after)
	if err != nil {
		return fmt.Errorf("append audit %s %s: %w", r.Action, r.Resource, err)
	}
	return nil
}

// writeEvent stores one outbox event in the transaction.
func (t *inTx) writeEvent(ev outbox.Event) error {
	if _, err := outbox.Write(t.ctx, t.tx, t.db.Dialect(), ev); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}
