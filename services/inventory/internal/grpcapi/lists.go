package grpcapi

import (
	"fmt"
	"time"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/services/inventory/internal/inventory"
)

// The filters of the list methods (the fields each proto documents), read
// with the platform's AIP-160 grammar so every list rejects a filter it
// cannot honour with the same status.
var (
	warehouseFilter = aip.Schema{
		{Name: "channel"},
		{Name: "active", Kind: aip.KindBool},
		{Name: "region"},
	}
	stockLevelFilter = aip.Schema{
		{Name: "sku"},
		{Name: "available", Kind: aip.KindInt, Ops: []aip.Op{aip.OpGt}, Check: aboveZeroOnly},
		{Name: "oversold", Kind: aip.KindInt, Ops: []aip.Op{aip.OpGt}, Check: aboveZeroOnly},
	}
	reservationFilter = aip.Schema{
		{Name: "reference_id"},
		{Name: "channel"},
		{Name: "sku"},
		{Name: "state", Kind: aip.KindEnum, Enum: inventoryv1.Reservation_State_value, EnumPrefix: "STATE_"},
	}
	reconciliationFilter = aip.Schema{
		{Name: "snapshot_source"},
		{Name: "state", Kind: aip.KindEnum, Enum: inventoryv1.Reconciliation_State_value, EnumPrefix: "STATE_"},
	}
	varianceFilter = aip.Schema{
		{Name: "sku"},
		{Name: "warehouse_code"},
		{Name: "kind", Kind: aip.KindEnum, Enum: inventoryv1.ReconciliationVariance_Kind_value, EnumPrefix: "KIND_"},
		{Name: "corrected", Kind: aip.KindBool},
	}
)

// aboveZeroOnly keeps `available > 0` and `oversold > 0` the only
// comparisons: the store answers "has any", not arbitrary thresholds.
func aboveZeroOnly(t aip.Term) error {
	if t.Value.Int != 0 {
		return fmt.Errorf("%s supports only %s > 0", t.Field, t.Field)
	}
	return nil
}

// listRequest is what every List request has.
type listRequest interface {
	GetFilter() string
	GetPageToken() string
	GetPageSize() int32
}

// list is a List request read: its filter, the query its page tokens are
// bound to and the page size.
type list struct {
	filter aip.Filter
	query  aip.Query
	size   int
}

// readList parses req's filter against schema and decodes its page token,
// bound to method, the filter and params (the parent), into cursor: the
// keys the previous page's last row was encoded with, or the offset of a
// list paged in memory. An empty token leaves cursor untouched. Errors are
// *aip.FilterError or *aip.PageTokenError.
func readList(req listRequest, method string, schema aip.Schema, params []string, cursor ...any) (list, error) {
	f, err := schema.Parse(req.GetFilter())
	if err != nil {
		return list{}, err
	}
	q := aip.Query{Method: method, Filter: req.GetFilter(), Params: params}
	if err := aip.DecodePageToken(req.GetPageToken(), q, cursor...); err != nil {
		return list{}, err
	}
	return list{filter: f, query: q, size: int(aip.ClampPageSize(req.GetPageSize(), aip.DefaultPageSize, aip.MaxPageSize))}, nil
}

// eq returns the value of the term `field = value`; the zero Value (empty
// text, enum 0) when the filter has none, which the domain queries read
// as "any".
func (l list) eq(field string) aip.Value {
	v, _ := l.filter.Find(field, aip.OpEq)
	return v
}

// has reports whether the filter has a term on field with op.
func (l list) has(field string, op aip.Op) bool {
	_, ok := l.filter.Find(field, op)
	return ok
}

// limit is the number of rows a keyset-paged list fetches: one more than
// the page, so aip.KeysetPage sees whether another page follows.
func (l list) limit() int { return l.size + 1 }

// keyset finishes a keyset-paged list: it keeps the first page of rows,
// converts it and returns the token of the next page.
func keyset[T, P any](l list, rows []T, cursor func(T) []aip.Key, convert func(T) P) ([]P, string) {
	rows, next := aip.KeysetPage(rows, l.size, l.query, cursor)
	return convertAll(rows, convert), next
}

// convertAll converts every element of in.
func convertAll[T, P any](in []T, convert func(T) P) []P {
	out := make([]P, 0, len(in))
	for _, v := range in {
		out = append(out, convert(v))
	}
	return out
}

// newestFirst is the cursor of the lists ordered by create time, then id,
// newest first (reservations, reconciliation runs).
type newestFirst struct {
	before   time.Time
	beforeID string
}

// dst are the page token keys it is decoded from.
func (c *newestFirst) dst() []any { return []any{&c.before, &c.beforeID} }

// bySKU is the cursor of the lists ordered by SKU, then warehouse code
// (stock levels, variances).
type bySKU struct{ sku, warehouse string }

// dst are the page token keys it is decoded from.
func (c *bySKU) dst() []any { return []any{&c.sku, &c.warehouse} }

func reservationCursor(r inventory.Reservation) []aip.Key {
	return []aip.Key{aip.KeyOf(r.CreateTime), aip.KeyOf(r.ID)}
}

func reconciliationCursor(r inventory.Reconciliation) []aip.Key {
	return []aip.Key{aip.KeyOf(r.CreateTime), aip.KeyOf(r.ID)}
}

func stockLevelCursor(l inventory.StockLevel) []aip.Key {
	return []aip.Key{aip.KeyOf(l.SKU), aip.KeyOf(l.WarehouseCode)}
}

func varianceCursor(v inventory.Variance) []aip.Key {
	return []aip.Key{aip.KeyOf(v.SKU), aip.KeyOf(v.WarehouseCode)}
}
