package grpcapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/inventory/internal/inventory"
)

func TestListSchemas(t *testing.T) {
	t.Parallel()
	for name, s := range map[string]aip.Schema{
		"warehouses": warehouseFilter, "stock levels": stockLevelFilter, "reservations": reservationFilter,
		"reconciliations": reconciliationFilter, "variances": varianceFilter,
	} {
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestReadListFilters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		schema aip.Schema
		filter string
		// check inspects the parsed list; nil means the filter is refused.
		check func(t *testing.T, l list)
	}{
		{"state with prefix", reservationFilter, `state = STATE_HELD AND sku = "SKU-1"`, func(t *testing.T, l list) {
			if got := inventory.ReservationState(l.eq("state").Enum); got != inventory.StateHeld || l.eq("sku").Text != "SKU-1" {
				t.Errorf("state %v, sku %q", got, l.eq("sku").Text)
			}
		}},
		{"state without prefix", reconciliationFilter, `state = SUCCEEDED`, func(t *testing.T, l list) {
			if got := inventory.ReconciliationState(l.eq("state").Enum); got != inventory.ReconSucceeded {
				t.Errorf("state %v", got)
			}
		}},
		{"absent term reads as any", reservationFilter, ``, func(t *testing.T, l list) {
			if l.eq("state").Enum != 0 || l.eq("channel").Text != "" {
				t.Errorf("empty filter has terms: %v", l.filter)
			}
		}},
		{"available above zero", stockLevelFilter, `available > 0 AND oversold > 0`, func(t *testing.T, l list) {
			if !l.has("available", aip.OpGt) || !l.has("oversold", aip.OpGt) || l.has("sku", aip.OpEq) {
				t.Errorf("filter %v", l.filter)
			}
		}},
		{"variance kind and corrected", varianceFilter, `kind = QUANTITY_MISMATCH AND corrected = false`, func(t *testing.T, l list) {
			c, ok := l.filter.Find("corrected", aip.OpEq)
			if inventory.VarianceKind(l.eq("kind").Enum) != inventory.KindQuantityMismatch || !ok || c.Bool {
				t.Errorf("filter %v", l.filter)
			}
		}},
		{"warehouse active", warehouseFilter, `active = true AND channel = web`, func(t *testing.T, l list) {
			if !l.eq("active").Bool || l.eq("channel").Text != "web" {
				t.Errorf("filter %v", l.filter)
			}
		}},
		{"unknown field", warehouseFilter, `colour = "red"`, nil},
		{"threshold other than zero", stockLevelFilter, `available > 5`, nil},
		{"operator the field lacks", reservationFilter, `sku > "A"`, nil},
		{"unknown state", reservationFilter, `state = GONE`, nil},
		{"unspecified state", reservationFilter, `state = UNSPECIFIED`, nil},
		{"not a bool", varianceFilter, `corrected = yes`, nil},
		{"repeated term", reservationFilter, `sku = "A" AND sku = "B"`, nil},
		{"lower-case and", reservationFilter, `sku = "A" and channel = "web"`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, err := readList(&inventoryv1.ListReservationsRequest{Filter: tc.filter}, "m", tc.schema, nil)
			if tc.check == nil {
				if status.Code(err) != codes.InvalidArgument ||
					!apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED) {
					t.Fatalf("readList(%q) = %v, want INVALID_ARGUMENT / VALIDATION_FAILED", tc.filter, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("readList(%q): %v", tc.filter, err)
			}
			tc.check(t, l)
		})
	}
}

// TestPageTokens: a token resumes the list that made it, and only that
// list: another method, parent or filter is INVALID_PAGE_TOKEN.
func TestPageTokens(t *testing.T) {
	t.Parallel()
	method := inventoryv1.InventoryService_ListReconciliationVariances_FullMethodName
	first := &inventoryv1.ListReconciliationVariancesRequest{Parent: "reconciliations/r1", Filter: "corrected = true", PageSize: 1}
	l, err := readList(first, method, varianceFilter, []string{first.GetParent()})
	if err != nil {
		t.Fatal(err)
	}
	if l.size != 1 || l.limit() != 2 {
		t.Fatalf("size %d, limit %d; want 1 and 2", l.size, l.limit())
	}
	rows := []inventory.Variance{{SKU: "A", WarehouseCode: "W1"}, {SKU: "A", WarehouseCode: "W2"}}
	page, next := keyset(l, rows, varianceCursor, func(v inventory.Variance) string { return v.SKU + "@" + v.WarehouseCode })
	if len(page) != 1 || page[0] != "A@W1" || next == "" {
		t.Fatalf("first page %v, next %q", page, next)
	}

	var after bySKU
	again := &inventoryv1.ListReconciliationVariancesRequest{Parent: first.GetParent(), Filter: first.GetFilter(), PageToken: next}
	if _, err := readList(again, method, varianceFilter, []string{again.GetParent()}, after.dst()...); err != nil {
		t.Fatal(err)
	}
	if after != (bySKU{"A", "W1"}) {
		t.Errorf("cursor %+v, want A@W1", after)
	}

	tests := []struct {
		name   string
		method string
		req    *inventoryv1.ListReconciliationVariancesRequest
	}{
		{"other parent", method, &inventoryv1.ListReconciliationVariancesRequest{Parent: "reconciliations/r2", Filter: first.GetFilter(), PageToken: next}},
		{"other filter", method, &inventoryv1.ListReconciliationVariancesRequest{Parent: first.GetParent(), PageToken: next}},
		{"other method", inventoryv1.InventoryService_ListStockLevels_FullMethodName, again},
		{"damaged", method, &inventoryv1.ListReconciliationVariancesRequest{Parent: first.GetParent(), Filter: first.GetFilter(), PageToken: next[:len(next)-2]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var after bySKU
			_, err := readList(tc.req, tc.method, varianceFilter, []string{tc.req.GetParent()}, after.dst()...)
			if status.Code(err) != codes.InvalidArgument || !apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN) {
				t.Errorf("readList = %v, want INVALID_ARGUMENT / INVALID_PAGE_TOKEN", err)
			}
		})
	}
}

// TestNewestFirstCursor: the reservation and run cursors keep the create
// time to the microsecond the store compares.
func TestNewestFirstCursor(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 11, 26, 12, 0, 0, 123456000, time.UTC)
	q := aip.Query{Method: inventoryv1.InventoryService_ListReservations_FullMethodName}
	token := aip.EncodePageToken(q, reservationCursor(inventory.Reservation{ID: "r-2", CreateTime: created})...)
	var after newestFirst
	if err := aip.DecodePageToken(token, q, after.dst()...); err != nil {
		t.Fatal(err)
	}
	if !after.before.Equal(created) || after.beforeID != "r-2" {
		t.Errorf("cursor %v %q, want %v r-2", after.before, after.beforeID, created)
	}
}

// TestToStatusListErrors: filter and token errors keep their own status,
// also when wrapped.
func TestToStatusListErrors(t *testing.T) {
	t.Parallel()
	s, err := New(nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, ferr := reservationFilter.Parse(`colour = "red"`)
	terr := aip.DecodePageToken("bm9wZQ", aip.Query{Method: "m"})
	for _, tc := range []struct {
		err    error
		reason apierr.Reason
	}{
		{ferr, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
		{fmt.Errorf("list reservations: %w", ferr), commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
		{terr, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN},
		{fmt.Errorf("list reservations: %w", terr), commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN},
	} {
		got := s.toStatus(context.Background(), tc.err, nil)
		if status.Code(got) != codes.InvalidArgument || !apierr.HasReason(got, tc.reason) {
			t.Errorf("toStatus(%v) = %v, want INVALID_ARGUMENT / %v", tc.err, got, tc.reason)
		}
	}
}

// TestAvailabilityCarriesRevision: each warehouse of an availability answer
// carries its level's revision, which the gateway's stock projection seeds
// from.
func TestAvailabilityCarriesRevision(t *testing.T) {
	got := availabilityToProto(inventory.SKUAvailability{SKU: "S", Known: true, Warehouses: []inventory.WarehouseAvailability{
		{WarehouseCode: "WH-A", Quantities: inventory.Quantities{OnHand: 5}, Revision: 7},
		{WarehouseCode: "WH-B", Revision: 2},
	}})
	if ws := got.GetWarehouses(); len(ws) != 2 || ws[0].GetRevision() != 7 || ws[1].GetRevision() != 2 || ws[0].GetAvailable() != 5 {
		t.Errorf("warehouses %v", ws)
	}
}
