package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

const ruleColumns = `id, body, etag, create_time, update_time`

func scanRule(sc sqldb.Scanner) (pricing.RuleRow, error) {
	var r pricing.RuleRow
	var body string
	err := sc.Scan(&r.ID, &body, &r.Etag, &r.CreateTime, &r.UpdateTime)
	r.Body, r.CreateTime, r.UpdateTime = []byte(body), r.CreateTime.UTC(), r.UpdateTime.UTC()
	return r, err
}

func ruleByID(x q, table, id string) (pricing.RuleRow, error) {
	return one(x, scanRule, table+" "+id, pricing.ErrRuleNotFound,
		`SELECT `+ruleColumns+` FROM pricing_rules WHERE kind = ? AND id = ?`, table, id)
}

// PublishedRuleSet implements pricing.Store.
func (s *PricingStore) PublishedRuleSet(ctx context.Context, v int64) (pricing.RuleSnapshot, error) {
	_, snap, err := publishedRules(s.pool(ctx), v)
	return snap, err
}

// Rule implements pricing.Store.
func (s *PricingStore) Rule(ctx context.Context, table, id string) (pricing.RuleRow, error) {
	return ruleByID(s.pool(ctx), table, id)
}

// Rules implements pricing.Store.
func (s *PricingStore) Rules(ctx context.Context, table, after string, limit int) ([]pricing.RuleRow, error) {
	rs, err := all(s.pool(ctx), scanRule, `SELECT `+ruleColumns+` FROM pricing_rules WHERE kind = ? AND id > ? ORDER BY id LIMIT ?`,
		table, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read %s rules: %w", table, err)
	}
	return rs, nil
}

// Usage implements pricing.Store.
func (s *PricingStore) Usage(ctx context.Context, customer string) (map[string]pricing.Usage, error) {
	return usage(s.pool(ctx), customer)
}

type usageRow struct {
	promotion       string
	total, customer int64
}

func usage(x q, customer string) (map[string]pricing.Usage, error) {
	rows, err := all(x, func(sc sqldb.Scanner) (usageRow, error) {
		var u usageRow
		err := sc.Scan(&u.promotion, &u.total, &u.customer)
		return u, err
	}, `SELECT promotion_id, COUNT(*), SUM(CASE WHEN customer_id = ? THEN 1 ELSE 0 END)
		FROM promotion_redemptions WHERE state <> 'released' GROUP BY promotion_id`, customer)
	if err != nil {
		return nil, fmt.Errorf("read promotion usage: %w", err)
	}
	out := make(map[string]pricing.Usage, len(rows))
	for _, r := range rows {
		out[r.promotion] = pricing.Usage{Total: r.total, Customer: r.customer}
	}
	return out, nil
}

// publishedRules reads the rule set published at v (0: the latest), or
// the latest before v when v published none.
func publishedRules(x q, v int64) (int64, pricing.RuleSnapshot, error) {
	var snap pricing.RuleSnapshot
	query := `SELECT price_version, body FROM pricing_rule_sets ORDER BY price_version DESC LIMIT 1`
	a := []any{}
	if v > 0 {
		query = `SELECT price_version, body FROM pricing_rule_sets WHERE price_version <= ? ORDER BY price_version DESC LIMIT 1`
		a = append(a, v)
	}
	var got int64
	var body string
	err := x.row(query, a...).Scan(&got, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, snap, nil
	}
	if err != nil {
		return 0, snap, fmt.Errorf("read published rules: %w", err)
	}
	if err := json.Unmarshal([]byte(body), &snap); err != nil {
		return 0, snap, fmt.Errorf("decode published rules %d: %w", got, err)
	}
	return got, snap, nil
}

// Rule implements pricing.Tx.
func (t pricingTx) Rule(table, id string) (pricing.RuleRow, error) { return ruleByID(t.q, table, id) }

// AllRules implements pricing.Tx.
func (t pricingTx) AllRules(table string) ([]pricing.RuleRow, error) {
	rs, err := all(t.q, scanRule, `SELECT `+ruleColumns+` FROM pricing_rules WHERE kind = ? ORDER BY id`, table)
	if err != nil {
		return nil, fmt.Errorf("read %s rules: %w", table, err)
	}
	return rs, nil
}

// PutRule implements pricing.Tx.
func (t pricingTx) PutRule(table string, r pricing.RuleRow) error {
	err := t.exec(`INSERT INTO pricing_rules (kind, `+ruleColumns+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body, etag = excluded.etag, update_time = excluded.update_time`,
		table, r.ID, string(r.Body), r.Etag, r.CreateTime.UTC(), r.UpdateTime.UTC())
	if err != nil {
		return fmt.Errorf("put %s %s: %w", table, r.ID, err)
	}
	return nil
}

// DeleteRule implements pricing.Tx.
func (t pricingTx) DeleteRule(table, id string) error {
	if err := t.exec(`DELETE FROM pricing_rules WHERE kind = ? AND id = ?`, table, id); err != nil {
		return fmt.Errorf("delete %s %s: %w", table, id, err)
	}
	return nil
}

// PublishedRules implements pricing.Tx.
func (t pricingTx) PublishedRules(v int64) (int64, pricing.RuleSnapshot, error) {
	return publishedRules(t.q, v)
}

// PublishedDigest implements pricing.Tx.
func (t pricingTx) PublishedDigest(v int64) (string, error) {
	if v == 0 {
		return "", nil
	}
	var d string
	if err := t.row(`SELECT digest FROM pricing_rule_sets WHERE price_version = ?`, v).Scan(&d); err != nil {
		return "", fmt.Errorf("read rule set digest %d: %w", v, err)
	}
	return d, nil
}

// PublishedBefore implements pricing.Tx.
func (t pricingTx) PublishedBefore(v int64) (int64, error) {
	var got sql.NullInt64
	if err := t.row(`SELECT MAX(price_version) FROM pricing_rule_sets WHERE price_version < ?`, v).Scan(&got); err != nil {
		return 0, fmt.Errorf("read rule set before %d: %w", v, err)
	}
	return got.Int64, nil
}

// PutPublishedRules implements pricing.Tx.
func (t pricingTx) PutPublishedRules(v int64, body []byte, digest string) error {
	if err := t.exec(`INSERT INTO pricing_rule_sets (price_version, digest, body) VALUES (?, ?, ?)`, v, digest, string(body)); err != nil {
		return fmt.Errorf("put rule set %d: %w", v, err)
	}
	if err := t.exec(`UPDATE catalog_state SET rules_version = ? WHERE id = 1`, v); err != nil {
		return fmt.Errorf("set rules version %d: %w", v, err)
	}
	return nil
}

// Reservation implements pricing.Tx.
func (t pricingTx) Reservation(id string) ([]pricing.ReservationRow, error) {
	rows, err := all(t.q, func(sc sqldb.Scanner) (pricing.ReservationRow, error) {
		var r pricing.ReservationRow
		var state string
		err := sc.Scan(&r.Reservation, &r.Promotion, &r.Customer, &state, &r.UpdateTime)
		r.State, r.UpdateTime = pricing.ReservationState(state), r.UpdateTime.UTC()
		return r, err
	}, `SELECT reservation_id, promotion_id, customer_id, state, update_time FROM promotion_redemptions
		WHERE reservation_id = ? ORDER BY promotion_id`, id)
	if err != nil {
		return nil, fmt.Errorf("read reservation %s: %w", id, err)
	}
	return rows, nil
}

// PutReservation implements pricing.Tx.
func (t pricingTx) PutReservation(r pricing.ReservationRow) error {
	if err := t.exec(`INSERT INTO promotion_redemptions (reservation_id, promotion_id, customer_id, state, update_time)
		VALUES (?, ?, ?, ?, ?)`, r.Reservation, r.Promotion, r.Customer, string(r.State), r.UpdateTime.UTC()); err != nil {
		return fmt.Errorf("put reservation %s/%s: %w", r.Reservation, r.Promotion, err)
	}
	return nil
}

// DropReservation deletes every row of a reservation (pricing's
// re-reservation replaces a reserved set with another in the transaction).
func (t pricingTx) DropReservation(id string) error {
	if err := t.exec(`DELETE FROM promotion_redemptions WHERE reservation_id = ?`, id); err != nil {
		return fmt.Errorf("drop reservation %s: %w", id, err)
	}
	return nil
}

// SetReservationState implements pricing.Tx.
func (t pricingTx) SetReservationState(id string, state pricing.ReservationState, at time.Time) error {
	if err := t.exec(`UPDATE promotion_redemptions SET state = ?, update_time = ? WHERE reservation_id = ?`,
		string(state), at.UTC(), id); err != nil {
		return fmt.Errorf("set reservation %s to %s: %w", id, state, err)
	}
	return nil
}

// Usage implements pricing.Tx.
func (t pricingTx) Usage(customer string) (map[string]pricing.Usage, error) {
	return usage(t.q, customer)
}
