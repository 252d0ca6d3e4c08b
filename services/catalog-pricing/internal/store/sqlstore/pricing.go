package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/proto"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/catalog-pricing/internal/catalogpb"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

const listColumns = `id, display_name, currency, channel, priority, start_time, end_time, price_count, etag, create_time, update_time`

func scanList(sc sqldb.Scanner) (pricing.PriceList, error) {
	var l pricing.PriceList
	var start, end sql.NullTime
	err := sc.Scan(&l.ID, &l.DisplayName, &l.Currency, &l.Channel, &l.Priority, &start, &end, &l.PriceCount,
		&l.Etag, &l.CreateTime, &l.UpdateTime)
	l.StartTime, l.EndTime = fromNull(start), fromNull(end)
	l.CreateTime, l.UpdateTime = l.CreateTime.UTC(), l.UpdateTime.UTC()
	return l, err
}

func listByID(x q, id string) (pricing.PriceList, error) {
	return one(x, scanList, "price list "+id, pricing.ErrPriceListNotFound, `SELECT `+listColumns+` FROM price_lists WHERE id = ?`, id)
}

const priceColumns = `price_list_id, sku, unit_minor, currency, breaks, etag, update_time, cost_minor`

func scanPrice(sc sqldb.Scanner) (pricing.Price, error) {
	var p pricing.Price
	var breaks string
	var cost sql.NullInt64
	if err := sc.Scan(&p.PriceList, &p.SKU, &p.UnitMinor, &p.Currency, &breaks, &p.Etag, &p.UpdateTime, &cost); err != nil {
		return p, err
	}
	p.CostMinor, p.HasCost = cost.Int64, cost.Valid
	p.UpdateTime = p.UpdateTime.UTC()
	if err := json.Unmarshal([]byte(breaks), &p.Breaks); err != nil {
		return p, fmt.Errorf("decode breaks of %s/%s: %w", p.PriceList, p.SKU, err)
	}
	return p, nil
}

// PriceVersion implements pricing.Store.
func (s *PricingStore) PriceVersion(ctx context.Context) (int64, error) {
	return priceVersion(s.pool(ctx))
}

func priceVersion(x q) (int64, error) {
	var pv int64
	if err := x.row(`SELECT price_version FROM catalog_state WHERE id = 1`).Scan(&pv); err != nil {
		return 0, fmt.Errorf("read price version: %w", err)
	}
	return pv, nil
}

// Currencies implements pricing.Store.
func (s *PricingStore) Currencies(ctx context.Context) ([]string, error) {
	curs, err := all(s.pool(ctx), sqldb.ScanValue[string], `SELECT DISTINCT currency FROM price_lists ORDER BY currency`)
	if err != nil {
		return nil, fmt.Errorf("read currencies: %w", err)
	}
	return curs, nil
}

// QuoteLists implements pricing.Store.
func (s *PricingStore) QuoteLists(ctx context.Context, currency, channel string) ([]pricing.PriceList, error) {
	return lists(s.pool(ctx), `SELECT `+listColumns+` FROM price_lists
		WHERE currency = ? AND (channel = '' OR channel = ?) ORDER BY id`, currency, channel)
}

// lists and prices run a query for price lists or entries.
func lists(x q, query string, a ...any) ([]pricing.PriceList, error) {
	ls, err := all(x, scanList, query, a...)
	if err != nil {
		return nil, fmt.Errorf("read price lists: %w", err)
	}
	return ls, nil
}

func prices(x q, query string, a ...any) ([]pricing.Price, error) {
	ps, err := all(x, scanPrice, query, a...)
	if err != nil {
		return nil, fmt.Errorf("read prices: %w", err)
	}
	return ps, nil
}

// PricesFor implements pricing.Store.
func (s *PricingStore) PricesFor(ctx context.Context, listIDs, skus []string) ([]pricing.Price, error) {
	var out []pricing.Price
	x := s.pool(ctx)
	for _, c := range chunks(skus, 500) {
		a := args(listIDs)
		a = append(a, args(c)...)
		ps, err := prices(x, `SELECT `+priceColumns+` FROM prices WHERE price_list_id IN (`+
			placeholders(len(listIDs))+`) AND sku IN (`+placeholders(len(c))+`) ORDER BY sku, price_list_id`, a...)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

// PriceList implements pricing.Store.
func (s *PricingStore) PriceList(ctx context.Context, id string) (pricing.PriceList, error) {
	return listByID(s.pool(ctx), id)
}

// ListPriceLists implements pricing.Store.
func (s *PricingStore) ListPriceLists(ctx context.Context, f pricing.ListFilter, after string, limit int) ([]pricing.PriceList, error) {
	query := `SELECT ` + listColumns + ` FROM price_lists WHERE id > ?`
	a := []any{after}
	if f.Currency != "" {
		query += ` AND currency = ?`
		a = append(a, f.Currency)
	}
	if f.HasChannel {
		query += ` AND channel = ?`
		a = append(a, f.Channel)
	}
	if !f.ActiveTime.IsZero() {
		query += ` AND (start_time IS NULL OR start_time <= ?) AND (end_time IS NULL OR end_time > ?)`
		a = append(a, f.ActiveTime.UTC(), f.ActiveTime.UTC())
	}
	query += ` ORDER BY id LIMIT ?`
	return lists(s.pool(ctx), query, append(a, limit)...)
}

// Price implements pricing.Store.
func (s *PricingStore) Price(ctx context.Context, listID, sku string) (pricing.Price, error) {
	return one(s.pool(ctx), scanPrice, "price "+listID+"/"+sku, pricing.ErrPriceNotFound,
		`SELECT `+priceColumns+` FROM prices WHERE price_list_id = ? AND sku = ?`, listID, sku)
}

// ListPrices implements pricing.Store.
func (s *PricingStore) ListPrices(ctx context.Context, listID string, f pricing.PriceFilter, after string, limit int) ([]pricing.Price, error) {
	query := `SELECT ` + priceColumns + ` FROM prices WHERE price_list_id = ? AND sku > ?`
	a := []any{listID, after}
	if f.SKU != "" {
		query += ` AND sku = ?`
		a = append(a, f.SKU)
	}
	if f.SKUPrefix != "" {
		query += ` AND substr(sku, 1, ?) = ?`
		a = append(a, len(f.SKUPrefix), f.SKUPrefix)
	}
	query += ` ORDER BY sku LIMIT ?`
	return prices(s.pool(ctx), query, append(a, limit)...)
}

// InTx implements pricing.Store.
func (s *PricingStore) InTx(ctx context.Context, fn func(tx pricing.Tx) error) error {
	return s.inTx(ctx, func(t *inTx) error { return fn(pricingTx{t}) })
}

// pricingTx implements pricing.Tx. It is a distinct type from catalogTx
// because both domains name a method PriceList/Version differently.
type pricingTx struct{ *inTx }

var _ pricing.Tx = pricingTx{}

// Lock implements pricing.Tx: a row lock on the state row on PostgreSQL;
// SQLite write transactions are serialised already.
func (t pricingTx) Lock() error {
	if t.db.Dialect() != sqldb.Postgres {
		return nil
	}
	if err := t.exec(`SELECT price_version FROM catalog_state WHERE id = 1 FOR UPDATE`); err != nil {
		return fmt.Errorf("lock pricing: %w", err)
	}
	return nil
}

// PriceList implements pricing.Tx.
func (t pricingTx) PriceList(id string) (pricing.PriceList, error) { return listByID(t.q, id) }

// PutPriceList implements pricing.Tx.
func (t pricingTx) PutPriceList(l pricing.PriceList) error {
	err := t.exec(`INSERT INTO price_lists (`+listColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, currency = excluded.currency,
			channel = excluded.channel, priority = excluded.priority, start_time = excluded.start_time,
			end_time = excluded.end_time, price_count = excluded.price_count, etag = excluded.etag,
			update_time = excluded.update_time`,
		l.ID, l.DisplayName, l.Currency, l.Channel, l.Priority, nullTime(l.StartTime), nullTime(l.EndTime),
		l.PriceCount, l.Etag, l.CreateTime.UTC(), l.UpdateTime.UTC())
	if err != nil {
		return fmt.Errorf("put price list %s: %w", l.ID, err)
	}
	return nil
}

// DeletePriceList implements pricing.Tx.
func (t pricingTx) DeletePriceList(id string) error {
	if err := t.exec(`DELETE FROM prices WHERE price_list_id = ?`, id); err != nil {
		return fmt.Errorf("delete prices of %s: %w", id, err)
	}
	if err := t.exec(`DELETE FROM price_lists WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete price list %s: %w", id, err)
	}
	return nil
}

// Prices implements pricing.Tx.
func (t pricingTx) Prices(listID string, skus []string) (map[string]pricing.Price, error) {
	out := map[string]pricing.Price{}
	keep := func(ps []pricing.Price) {
		for _, p := range ps {
			out[p.SKU] = p
		}
	}
	if skus == nil {
		ps, err := prices(t.q, `SELECT `+priceColumns+` FROM prices WHERE price_list_id = ?`, listID)
		keep(ps)
		return out, err
	}
	for _, c := range chunks(skus, 500) {
		ps, err := prices(t.q, `SELECT `+priceColumns+` FROM prices WHERE price_list_id = ? AND sku IN (`+
			placeholders(len(c))+`)`, args(c, listID)...)
		if err != nil {
			return nil, err
		}
		keep(ps)
	}
	return out, nil
}

// PutPrices implements pricing.Tx.
func (t pricingTx) PutPrices(ps []pricing.Price) error {
	for _, p := range ps {
		breaks := p.Breaks
		if breaks == nil {
			breaks = []pricing.Break{}
		}
		b, err := json.Marshal(breaks)
		if err != nil {
			return err
		}
		cost := sql.NullInt64{Int64: p.CostMinor, Valid: p.HasCost}
		err = t.exec(`INSERT INTO prices (`+priceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (price_list_id, sku) DO UPDATE SET unit_minor = excluded.unit_minor,
				currency = excluded.currency, breaks = excluded.breaks, etag = excluded.etag,
				update_time = excluded.update_time, cost_minor = excluded.cost_minor`,
			p.PriceList, p.SKU, p.UnitMinor, p.Currency, string(b), p.Etag, p.UpdateTime.UTC(), cost)
		if err != nil {
			return fmt.Errorf("put price %s/%s: %w", p.PriceList, p.SKU, err)
		}
	}
	return nil
}

// DeletePrices implements pricing.Tx.
func (t pricingTx) DeletePrices(listID string, skus []string) error {
	for _, c := range chunks(skus, 500) {
		if err := t.exec(`DELETE FROM prices WHERE price_list_id = ? AND sku IN (`+placeholders(len(c))+`)`,
			args(c, listID)...); err != nil {
			return fmt.Errorf("delete prices of %s: %w", listID, err)
		}
	}
	return nil
}

// CountPrices implements pricing.Tx.
func (t pricingTx) CountPrices(listID string) (int64, error) {
	var n int64
	if err := t.row(`SELECT COUNT(*) FROM prices WHERE price_list_id = ?`, listID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count prices of %s: %w", listID, err)
	}
	return n, nil
}

// PriceVersion implements pricing.Tx.
func (t pricingTx) PriceVersion() (int64, error) { return priceVersion(t.q) }

// BumpPriceVersion implements pricing.Tx.
func (t pricingTx) BumpPriceVersion() (int64, error) {
	if err := t.exec(`UPDATE catalog_state SET price_version = price_version + 1 WHERE id = 1`); err != nil {
		return 0, fmt.Errorf("bump price version: %w", err)
	}
	return priceVersion(t.q)
}

// AppendPricesChanged implements pricing.Tx.
func (t pricingTx) AppendPricesChanged(ev pricing.PricesChanged) error {
	return t.writeEvent(outbox.Event{
		AggregateType: aggregatePricing, AggregateID: aggregatePricing, Subject: eventstreams.PricesChanged, Producer: Producer,
		Build: func(md *commonv1.EventMetadata) (proto.Message, error) { return catalogpb.PricesChanged(md, ev), nil },
	})
}
