package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/services/erpsim/internal/control"
	"github.com/transload/transload/services/erpsim/internal/erp"
	"github.com/transload/transload/services/erpsim/internal/faults"
)

// fakeERP stands in for the simulated ERP; the control API only reads and
// forwards.
type fakeERP struct {
	orders   []erp.SalesOrder
	err      error
	recorded []erp.StockEvent
}

func (f *fakeERP) SalesOrders(context.Context) ([]erp.SalesOrder, error) { return f.orders, f.err }

func (f *fakeERP) RecordStockEvent(_ context.Context, ev erp.StockEvent) (erp.StockEvent, error) {
	if ev.SKU == "SKU-BAD" {
		return erp.StockEvent{}, fmt.Errorf("%w: unknown SKU", erp.ErrInvalidStockEvent)
	}
	f.recorded = append(f.recorded, ev)
	ev.EventID, ev.SourceSequence = "ev-1", 1
	return ev, nil
}

func (f *fakeERP) RecordPriceChanges(context.Context, erp.PriceChanges) ([]erp.PriceEvent, error) {
	return nil, errors.New("fakeERP records no prices (prices_test.go uses the real simulator)")
}

func newHandler(e *fakeERP) (*control.Handler, *faults.Faults) {
	f := faults.New()
	return control.New(f, e, slog.New(slog.NewTextHandler(io.Discard, nil))), f
}

func do(t *testing.T, h http.Handler, method, path, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, rd))
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s: body %q is not JSON: %v", method, path, rec.Body.String(), err)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	return rec.Code, out
}

func TestFaults(t *testing.T) {
	t.Parallel()
	h, f := newHandler(&fakeERP{})

	code, got := do(t, h, http.MethodGet, "/control/faults", "")
	want := map[string]any{"down": false, "slowMs": float64(0), "rejectNext": float64(0), "rejectReason": "OTHER"}
	if code != http.StatusOK || !cmp.Equal(want, got) {
		t.Fatalf("initial GET = %d %v", code, got)
	}

	code, got = do(t, h, http.MethodPost, "/control/faults", `{"down": true, "slowMs": 250, "rejectNext": 3, "rejectReason": "CREDIT_LIMIT"}`)
	want = map[string]any{"down": true, "slowMs": float64(250), "rejectNext": float64(3), "rejectReason": "CREDIT_LIMIT"}
	if code != http.StatusOK || !cmp.Equal(want, got) {
		t.Fatalf("POST = %d %v", code, got)
	}
	if st := f.Get(); !st.Down || st.Slow != 250*time.Millisecond || st.RejectNext != 3 || st.RejectReason != erp.RejectCreditLimit {
		t.Errorf("state after POST = %+v", st)
	}

	// Omitted fields keep their value; full enum names are accepted.
	code, got = do(t, h, http.MethodPost, "/control/faults", `{"down": false, "rejectReason": "SALES_ORDER_REJECTION_REASON_CREDIT_HOLD"}`)
	want = map[string]any{"down": false, "slowMs": float64(250), "rejectNext": float64(3), "rejectReason": "CREDIT_HOLD"}
	if code != http.StatusOK || !cmp.Equal(want, got) {
		t.Errorf("partial POST = %d %v", code, got)
	}
	if _, got = do(t, h, http.MethodGet, "/control/faults", ""); !cmp.Equal(want, got) {
		t.Errorf("GET after partial POST = %v", got)
	}

	code, got = do(t, h, http.MethodPost, "/control/faults", `{"rejectCustomers": ["C0007"]}`)
	want["rejectCustomers"] = []any{"C0007"}
	if code != http.StatusOK || !cmp.Equal(want, got) {
		t.Errorf("POST rejectCustomers = %d %v", code, got)
	}
	if st := f.Get(); !cmp.Equal(st.RejectCustomers, []string{"C0007"}) {
		t.Errorf("RejectCustomers = %v", st.RejectCustomers)
	}

	code, got = do(t, h, http.MethodDelete, "/control/faults", "")
	want = map[string]any{"down": false, "slowMs": float64(0), "rejectNext": float64(0), "rejectReason": "OTHER"}
	if code != http.StatusOK || !cmp.Equal(want, got) {
		t.Errorf("DELETE = %d %v", code, got)
	}
}

func TestFaultsRejectsBadInput(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"slowMs": -1}`,
		`{"rejectNext": -2}`,
		`{"rejectReason": "BECAUSE"}`,
		`{"dwon": true}`,
		`{"down": "yes"}`,
		`not json`,
	} {
		t.Run(body, func(t *testing.T) {
			h, f := newHandler(&fakeERP{})
			code, got := do(t, h, http.MethodPost, "/control/faults", body)
			if code != http.StatusBadRequest || got["error"] == "" {
				t.Errorf("POST %s = %d %v, want 400 with an error", body, code, got)
			}
			if st := f.Get(); st.Down || st.Slow != 0 || st.RejectNext != 0 {
				t.Errorf("a rejected request changed the faults: %+v", st)
			}
		})
	}
}

func TestSalesOrders(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	h, _ := newHandler(&fakeERP{orders: []erp.SalesOrder{
		{OrderID: "ord-1", ERPOrderNumber: "SO40000001", Submissions: 3, CustomerID: "C0001", State: erp.OrderAccepted, GrandTotalMinor: 1000, Currency: "EUR", CreateTime: created},
		{OrderID: "ord-2", Submissions: 1, CustomerID: "C0020", State: erp.OrderRejected, RejectionReason: erp.RejectCreditHold, RejectionMessage: "on hold", Currency: "EUR", CreateTime: created},
	}})
	code, got := do(t, h, http.MethodGet, "/control/sales-orders", "")
	want := map[string]any{"count": float64(2), "orders": []any{
		map[string]any{"orderId": "ord-1", "erpOrderNumber": "SO40000001", "submissions": float64(3), "customerId": "C0001",
			"state": "STATE_ACCEPTED", "grandTotalMinor": float64(1000), "currency": "EUR", "createTime": "2026-03-01T10:00:00Z"},
		map[string]any{"orderId": "ord-2", "erpOrderNumber": "", "submissions": float64(1), "customerId": "C0020",
			"state": "STATE_REJECTED", "rejectionReason": "CREDIT_HOLD", "rejectionMessage": "on hold",
			"grandTotalMinor": float64(0), "currency": "EUR", "createTime": "2026-03-01T10:00:00Z"},
	}}
	if code != http.StatusOK {
		t.Fatalf("code = %d", code)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sales orders (-want +got):\n%s", diff)
	}

	h, _ = newHandler(&fakeERP{})
	if code, got = do(t, h, http.MethodGet, "/control/sales-orders", ""); code != http.StatusOK || got["count"] != float64(0) || got["orders"] == nil {
		t.Errorf("empty = %d %v, want count 0 and an empty list", code, got)
	}

	h, _ = newHandler(&fakeERP{err: errors.New("disk on fire")})
	if code, got = do(t, h, http.MethodGet, "/control/sales-orders", ""); code != http.StatusInternalServerError || got["error"] != "internal error" {
		t.Errorf("store failure = %d %v, want 500 without the cause", code, got)
	}
}

func TestStockEvents(t *testing.T) {
	t.Parallel()
	e := &fakeERP{}
	h, _ := newHandler(e)
	code, got := do(t, h, http.MethodPost, "/control/stock-events", `{"sku": "SKU-00001", "warehouseCode": "WH-HAM", "kind": "ADJUSTMENT", "quantity": -3, "reasonCode": "DAMAGED"}`)
	if code != http.StatusCreated || got["eventId"] != "ev-1" || got["kind"] != "ADJUSTMENT" || got["quantity"] != float64(-3) {
		t.Errorf("POST = %d %v", code, got)
	}
	if len(e.recorded) != 1 || e.recorded[0].Kind != erp.StockAdjustment || e.recorded[0].ReasonCode != "DAMAGED" {
		t.Errorf("recorded = %+v", e.recorded)
	}
	for _, body := range []string{
		`{"sku": "SKU-00001", "warehouseCode": "WH-HAM", "kind": "TELEPORT", "quantity": 1}`,
		`{"sku": "SKU-BAD", "warehouseCode": "WH-HAM", "kind": "RECEIPT", "quantity": 1}`,
	} {
		if code, got := do(t, h, http.MethodPost, "/control/stock-events", body); code != http.StatusBadRequest || got["error"] == "" {
			t.Errorf("POST %s = %d %v, want 400", body, code, got)
		}
	}
}
