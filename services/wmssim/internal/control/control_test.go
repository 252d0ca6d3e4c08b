package control_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/services/wmssim/internal/control"
	"github.com/transload/transload/services/wmssim/internal/faults"
	"github.com/transload/transload/services/wmssim/internal/store/sqlstore"
	"github.com/transload/transload/services/wmssim/internal/wms"
)

type fixture struct {
	svc    *wms.Service
	faults *faults.Set
	url    string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := sqldbtest.OpenSQLite(t)
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	set := &faults.Set{}
	svc := wms.NewService(sqlstore.New(db), wms.WithFaults(set), wms.WithLogger(logger))
	srv := httptest.NewServer(control.New(svc, set, logger))
	t.Cleanup(srv.Close)
	return &fixture{svc: svc, faults: set, url: srv.URL}
}

func do(t *testing.T, method, url, body string, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: decode: %v", method, url, err)
		}
	}
	return res.StatusCode
}

func TestFaults(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var got faults.Faults
	if code := do(t, "GET", f.url+"/control/faults", "", &got); code != 200 || got != (faults.Faults{}) {
		t.Fatalf("initial faults: %d %+v", code, got)
	}
	if code := do(t, "POST", f.url+"/control/faults", `{"down":true,"slowMs":250,"rejectNext":2,"duplicateNext":3}`, &got); code != 200 {
		t.Fatalf("set faults: %d", code)
	}
	want := faults.Faults{Down: true, SlowMs: 250, RejectNext: 2, DuplicateNext: 3}
	if got != want || f.faults.Get() != want {
		t.Fatalf("after set: answer %+v, state %+v, want %+v", got, f.faults.Get(), want)
	}
	// Omitted fields keep their value.
	do(t, "POST", f.url+"/control/faults", `{"down":false}`, &got)
	if want := (faults.Faults{SlowMs: 250, RejectNext: 2, DuplicateNext: 3}); got != want {
		t.Fatalf("after partial set: %+v, want %+v", got, want)
	}
	for _, bad := range []string{`{"down":"yes"}`, `{"slowMs":-1}`, `{"duplicateNext":-2}`, `{"nope":1}`, `not json`} {
		if code := do(t, "POST", f.url+"/control/faults", bad, nil); code != http.StatusBadRequest {
			t.Errorf("POST %s: %d, want 400", bad, code)
		}
	}
}

func order(id, wh string) wms.ShipmentOrder {
	return wms.ShipmentOrder{OrderID: "O-" + id, Warehouse: wh, Lines: []wms.OrderLine{{LineID: "1", SKU: "SKU-00001", Quantity: 1}}}
}

func TestShipmentRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for _, c := range []struct{ id, wh string }{{"FR-1", "WH-HAM"}, {"FR-2", "WH-XXX"}, {"FR-1", "WH-HAM"}} {
		if _, err := f.svc.CreateShipmentRequest(ctx, c.id, order(c.id, c.wh)); err != nil {
			t.Fatal(err)
		}
	}
	var got control.ShipmentRequestList
	if code := do(t, "GET", f.url+"/control/shipment-requests", "", &got); code != 200 {
		t.Fatalf("status %d", code)
	}
	want := control.ShipmentRequestList{Count: 2, Requests: []control.ShipmentRequestSummary{
		{RequestID: "FR-1", OrderID: "O-FR-1", Warehouse: "WH-HAM", State: "ACCEPTED", Submissions: 2},
		{RequestID: "FR-2", OrderID: "O-FR-2", Warehouse: "WH-XXX", State: "REJECTED", Submissions: 1},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("list (-want +got):\n%s", diff)
	}
}

func TestReceiveReturn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	notice := wms.ReturnNotice{OrderID: "O-1", Warehouse: "WH-MUC", Lines: []wms.ReturnLine{
		{LineID: "r1", SKU: "SKU-00001", Quantity: 2}, {LineID: "r2", SKU: "SKU-00002", Quantity: 1},
	}}
	if _, err := f.svc.RegisterExpectedReturn(context.Background(), "RMA-1", notice); err != nil {
		t.Fatal(err)
	}
	var ev wms.ReturnEvent
	code := do(t, "POST", f.url+"/control/returns/RMA-1:receive",
		`{"lines":[{"sku":"SKU-00001","quantity":2,"condition":"OPENED","disposition":"QUARANTINE","note":"box torn"}]}`, &ev)
	if code != 200 || ev.Sequence != 1 || ev.ReceiptComplete || len(ev.Lines) != 1 || ev.Lines[0].LineID != "r1" ||
		ev.Lines[0].Disposition != wms.DispositionQuarantine {
		t.Fatalf("partial receipt: %d %+v", code, ev)
	}
	if code := do(t, "POST", f.url+"/control/returns/RMA-1:receive", "", &ev); code != 200 || !ev.ReceiptComplete || ev.Lines[0].LineID != "r2" {
		t.Fatalf("receive the rest: %d %+v", code, ev)
	}
	if code := do(t, "POST", f.url+"/control/returns/RMA-1:receive", "", nil); code != http.StatusConflict {
		t.Fatalf("receive again: %d, want 409", code)
	}
	if code := do(t, "POST", f.url+"/control/returns/nope:receive", "", nil); code != http.StatusNotFound {
		t.Fatalf("receive unknown: %d, want 404", code)
	}
	if code := do(t, "POST", f.url+"/control/returns/RMA-1", "", nil); code != http.StatusNotFound {
		t.Fatalf("missing :receive: %d, want 404", code)
	}
	r, _ := f.svc.GetExpectedReturn(context.Background(), "RMA-1")
	if r.State != wms.ReturnReceived {
		t.Fatalf("state = %s", r.State)
	}
}
