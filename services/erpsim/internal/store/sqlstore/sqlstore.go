// Package sqlstore is the erp.Store on database/sql, one implementation for
// both engines sqldb supports (SQLite and PostgreSQL): the SQL is shared,
// only the migrations differ (BLOB/BYTEA) and PostgreSQL adds row locks
// where SQLite's single writer already serialises.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/erpsim/internal/erp"
)

//go:embed migrations
var migrations embed.FS

// MigrationSet is the name of erpsim's migration set in schema_migrations.
const MigrationSet = "erpsim"

// Migrate brings db's erpsim tables to the newest version.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	if err := sqldb.MigrateEmbedded(ctx, db, MigrationSet, migrations, "migrations"); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
}

// Store is the erp.Store on a sqldb.DB migrated with Migrate.
type Store struct {
	db *sqldb.DB
}

var _ erp.Store = (*Store)(nil)

// New returns a Store on db.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// uniqueRetries bounds how often a write that lost a race on a unique key
// (PostgreSQL only: two new submissions of one id) is run again; the rerun
// finds the winner's row.
const uniqueRetries = 3

// inTxRetryingUnique runs fn in a transaction, again (up to uniqueRetries
// times in all) when it lost a race on a unique key: a concurrent first
// write of the same natural key with no row to lock beforehand.
func (s *Store) inTxRetryingUnique(ctx context.Context, fn func(tx *sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.db.InTx(ctx, fn)
		if err == nil || !sqldb.IsUniqueViolation(err) || attempt == uniqueRetries {
			return err
		}
	}
}

func (s *Store) q(query string) string { return s.db.Rebind(query) }

// forUpdate is the row-lock suffix; SQLite has one writer and no FOR UPDATE.
func (s *Store) forUpdate() string {
	if s.db.Dialect() == sqldb.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

func micros(t time.Time) int64 { return t.UTC().UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain structs, strings and slices are stored; they always
		// marshal.
		panic(fmt.Sprintf("sqlstore: marshal %T: %v", v, err))
	}
	return string(b)
}

func fromJSON(s string, v any) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("sqlstore: decode %T: %w", v, err)
	}
	return nil
}

// channelsFromJSON decodes a stored channel list; an empty one is nil,
// which the domain reads as "every channel".
func channelsFromJSON(s string) ([]string, error) {
	var channels []string
	if err := fromJSON(s, &channels); err != nil || len(channels) == 0 {
		return nil, err
	}
	return channels, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (s *Store) nextCounter(ctx context.Context, tx *sql.Tx, name string) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, s.q(`UPDATE erp_counters SET value = value + 1 WHERE name = ? RETURNING value`), name).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: next %s: %w", name, err)
	}
	return v, nil
}

// --- seed ---

// Seed loads seed once, in one transaction.
func (s *Store) Seed(ctx context.Context, seed erp.Seed, now time.Time) (bool, error) {
	seeded := false
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		seeded = false
		var v string
		err := tx.QueryRowContext(ctx, s.q(`SELECT value FROM erp_meta WHERE key = 'seeded_at'`)).Scan(&v)
		if err == nil {
			return s.seedContracts(ctx, tx, seed.Contracts, now)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlstore: read seed marker: %w", err)
		}
		if err := s.insertSeed(ctx, tx, seed); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO erp_meta (key, value) VALUES ('seeded_at', ?)`), now.UTC().Format(time.RFC3339Nano)); err != nil {
			return fmt.Errorf("sqlstore: write seed marker: %w", err)
		}
		if err := s.seedContracts(ctx, tx, seed.Contracts, now); err != nil {
			return err
		}
		seeded = true
		return nil
	})
	return seeded, err
}

// Seeded reports whether Seed has run.
func (s *Store) Seeded(ctx context.Context) (bool, error) {
	var n int
	if err := s.db.SQL().QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM erp_meta WHERE key = 'seeded_at'`)).Scan(&n); err != nil {
		return false, fmt.Errorf("sqlstore: read seed marker: %w", err)
	}
	return n == 1, nil
}

// insertRows inserts rows in multi-row statements of up to 100 rows.
func (s *Store) insertRows(ctx context.Context, tx *sql.Tx, table string, cols []string, rows [][]any) error {
	const batch = 100
	one := "(" + placeholders(len(cols)) + ")"
	for start := 0; start < len(rows); start += batch {
		end := min(start+batch, len(rows))
		vals := make([]string, 0, end-start)
		args := make([]any, 0, (end-start)*len(cols))
		for _, r := range rows[start:end] {
			vals = append(vals, one)
			args = append(args, r...)
		}
		query := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " + strings.Join(vals, ", ")
		if _, err := tx.ExecContext(ctx, s.q(query), args...); err != nil {
			return fmt.Errorf("sqlstore: seed %s: %w", table, err)
		}
	}
	return nil
}

func (s *Store) insertSeed(ctx context.Context, tx *sql.Tx, seed erp.Seed) error {
	var rows [][]any
	for _, c := range seed.Customers {
		rows = append(rows, []any{c.ID, c.DisplayName, int(c.State), boolInt(c.HasCreditLimit), c.CreditLimitMinor,
			c.OpenBalanceMinor, c.Currency, c.PaymentTermsCode, c.PaymentTermsDesc, c.PaymentNetDays,
			boolInt(c.PrepaymentRequired), toJSON(nonNil(c.AllowedChannels)), toJSON(nonNil(c.PriceListIDs)),
			toJSON(c.BillTo), toJSON(c.ShipTos), micros(c.UpdateTime)})
	}
	if err := s.insertRows(ctx, tx, "customers", customerCols, rows); err != nil {
		return err
	}
	rows = rows[:0]
	for _, p := range seed.Products {
		rows = append(rows, []any{p.SKU, p.Title, p.Description, toJSON(p.Attributes), p.UoM, int(p.SalesState),
			toJSON(nonNil(p.Channels)), p.Category, p.GTIN, micros(p.UpdateTime)})
	}
	if err := s.insertRows(ctx, tx, "products", productCols, rows); err != nil {
		return err
	}
	rows = rows[:0]
	for _, pl := range seed.PriceLists {
		rows = append(rows, []any{pl.ID, pl.DisplayName, pl.Currency, toJSON(nonNil(pl.Channels))})
	}
	if err := s.insertRows(ctx, tx, "price_lists", []string{"id", "display_name", "currency", "channels"}, rows); err != nil {
		return err
	}
	rows = rows[:0]
	for _, lp := range seed.ListPrices {
		rows = append(rows, []any{lp.PriceListID, lp.SKU, lp.UoM, lp.UnitPriceMinor})
	}
	if err := s.insertRows(ctx, tx, "list_prices", []string{"price_list_id", "sku", "uom", "unit_price_minor"}, rows); err != nil {
		return err
	}
	rows = rows[:0]
	for _, w := range seed.Warehouses {
		rows = append(rows, []any{w.Code, w.DisplayName, w.Region, toJSON(w.Address), w.Priority, toJSON(nonNil(w.Channels)), boolInt(w.Active)})
	}
	if err := s.insertRows(ctx, tx, "warehouses", []string{"code", "display_name", "region", "address", "priority", "channels", "active"}, rows); err != nil {
		return err
	}
	rows = rows[:0]
	for _, r := range seed.Stock {
		rows = append(rows, []any{r.SKU, r.WarehouseCode, r.OnHand, r.UoM, r.SourceSequence})
	}
	return s.insertRows(ctx, tx, "stock", []string{"sku", "warehouse_code", "on_hand", "uom", "source_sequence"}, rows)
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// --- customers ---

var customerCols = []string{"id", "display_name", "account_state", "has_credit_limit", "credit_limit_minor",
	"open_balance_minor", "currency", "terms_code", "terms_desc", "terms_net_days", "prepayment",
	"allowed_channels", "price_list_ids", "bill_to", "ship_tos", "update_time"}

var customerSelect = "SELECT " + strings.Join(customerCols, ", ") + " FROM customers"

func scanCustomer(sc sqldb.Scanner) (erp.Customer, error) {
	var (
		c                                  erp.Customer
		state, hasLimit, netDays, prepay   int
		channels, priceLists, billTo, ship string
		update                             int64
	)
	if err := sc.Scan(&c.ID, &c.DisplayName, &state, &hasLimit, &c.CreditLimitMinor, &c.OpenBalanceMinor,
		&c.Currency, &c.PaymentTermsCode, &c.PaymentTermsDesc, &netDays, &prepay,
		&channels, &priceLists, &billTo, &ship, &update); err != nil {
		return erp.Customer{}, err
	}
	c.State, c.HasCreditLimit, c.PaymentNetDays, c.PrepaymentRequired = erp.AccountState(state), hasLimit == 1, netDays, prepay == 1
	c.UpdateTime = fromMicros(update)
	for _, f := range []struct {
		s string
		v any
	}{{channels, &c.AllowedChannels}, {priceLists, &c.PriceListIDs}, {billTo, &c.BillTo}, {ship, &c.ShipTos}} {
		if err := fromJSON(f.s, f.v); err != nil {
			return erp.Customer{}, err
		}
	}
	return c, nil
}

func (s *Store) customer(ctx context.Context, q querier, id string, lock bool) (erp.Customer, error) {
	query := customerSelect + " WHERE id = ?"
	if lock {
		query += s.forUpdate()
	}
	c, err := scanCustomer(q.QueryRowContext(ctx, s.q(query), id))
	if errors.Is(err, sql.ErrNoRows) {
		return erp.Customer{}, &erp.NotFoundError{Kind: erp.ErrCustomerNotFound, ID: id}
	}
	if err != nil {
		return erp.Customer{}, fmt.Errorf("sqlstore: read customer %s: %w", id, err)
	}
	return c, nil
}

// Customer returns a customer.
func (s *Store) Customer(ctx context.Context, id string) (erp.Customer, error) {
	return s.customer(ctx, s.db.SQL(), id, false)
}

// Customers lists customers by (update_time, id) after the cursor.
func (s *Store) Customers(ctx context.Context, minUpdate time.Time, after erp.CustomerCursor, limit int) ([]erp.Customer, error) {
	query := customerSelect + " WHERE update_time >= ?"
	args := []any{int64(0)}
	if !minUpdate.IsZero() {
		args[0] = micros(minUpdate)
	}
	if !after.IsZero() {
		t := micros(after.UpdateTime)
		query += " AND (update_time > ? OR (update_time = ? AND id > ?))"
		args = append(args, t, t, after.ID)
	}
	query += " ORDER BY update_time, id LIMIT ?"
	args = append(args, limit)
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(query), args, scanCustomer)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list customers: %w", err)
	}
	return out, nil
}

// --- products and prices ---

var productCols = []string{"sku", "title", "description", "attributes", "uom", "sales_state", "channels", "category", "gtin", "update_time"}

var productSelect = "SELECT " + strings.Join(productCols, ", ") + " FROM products"

func scanProduct(sc sqldb.Scanner) (erp.Product, error) {
	var (
		p               erp.Product
		attrs, channels string
		state           int
		update          int64
	)
	if err := sc.Scan(&p.SKU, &p.Title, &p.Description, &attrs, &p.UoM, &state, &channels, &p.Category, &p.GTIN, &update); err != nil {
		return erp.Product{}, err
	}
	p.SalesState, p.UpdateTime = erp.SalesState(state), fromMicros(update)
	err := fromJSON(attrs, &p.Attributes)
	if err != nil {
		return erp.Product{}, err
	}
	p.Channels, err = channelsFromJSON(channels)
	return p, err
}

// Products returns the products updated at or after minUpdate and
// sellable in channel, by SKU.
func (s *Store) Products(ctx context.Context, minUpdate time.Time, channel string) ([]erp.Product, error) {
	var since int64
	if !minUpdate.IsZero() {
		since = micros(minUpdate)
	}
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(productSelect+" WHERE update_time >= ? ORDER BY sku"), []any{since}, scanProduct)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list products: %w", err)
	}
	if channel != "" {
		out = slices.DeleteFunc(out, func(p erp.Product) bool { return len(p.Channels) > 0 && !slices.Contains(p.Channels, channel) })
	}
	return out, nil
}

func (s *Store) productsBySKU(ctx context.Context, q querier, skus []string) (map[string]erp.Product, error) {
	out := map[string]erp.Product{}
	if len(skus) == 0 {
		return out, nil
	}
	uniq := map[string]bool{}
	var list []string
	for _, sku := range skus {
		if !uniq[sku] {
			uniq[sku] = true
			list = append(list, sku)
		}
	}
	rows, err := q.QueryContext(ctx, s.q(productSelect+" WHERE sku IN ("+placeholders(len(list))+")"), anySlice(list)...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read products: %w", err)
	}
	err = sqldb.Each(rows, func(sc sqldb.Scanner) error {
		p, err := scanProduct(sc)
		if err != nil {
			return err
		}
		out[p.SKU] = p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read products: %w", err)
	}
	return out, nil
}

func scanPriceList(sc sqldb.Scanner) (erp.PriceList, error) {
	var (
		pl       erp.PriceList
		channels string
	)
	err := sc.Scan(&pl.ID, &pl.DisplayName, &pl.Currency, &channels)
	if err != nil {
		return erp.PriceList{}, err
	}
	pl.Channels, err = channelsFromJSON(channels)
	return pl, err
}

// PriceLists returns the given price lists (all when ids is empty), by id.
func (s *Store) PriceLists(ctx context.Context, ids []string) ([]erp.PriceList, error) {
	all, err := sqldb.QueryAll(ctx, s.db.SQL(), `SELECT id, display_name, currency, channels FROM price_lists ORDER BY id`, nil, scanPriceList)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list price lists: %w", err)
	}
	if len(ids) == 0 {
		return all, nil
	}
	for _, id := range ids {
		if !slices.ContainsFunc(all, func(pl erp.PriceList) bool { return pl.ID == id }) {
			return nil, &erp.NotFoundError{Kind: erp.ErrPriceListNotFound, ID: id}
		}
	}
	return slices.DeleteFunc(all, func(pl erp.PriceList) bool { return !slices.Contains(ids, pl.ID) }), nil
}

func scanListPrice(sc sqldb.Scanner) (erp.ListPrice, error) {
	var lp erp.ListPrice
	err := sc.Scan(&lp.PriceListID, &lp.SKU, &lp.UoM, &lp.UnitPriceMinor)
	return lp, err
}

// ListPrices returns the list prices of the given price lists by price
// list, SKU and unit.
func (s *Store) ListPrices(ctx context.Context, priceListIDs []string) ([]erp.ListPrice, error) {
	if len(priceListIDs) == 0 {
		return nil, nil
	}
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), s.q(`SELECT price_list_id, sku, uom, unit_price_minor FROM list_prices
		WHERE price_list_id IN (`+placeholders(len(priceListIDs))+`) ORDER BY price_list_id, sku, uom`), anySlice(priceListIDs), scanListPrice)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list prices: %w", err)
	}
	return out, nil
}
