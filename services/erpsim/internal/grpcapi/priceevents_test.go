package grpcapi_test

import (
	"testing"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/services/erpsim/internal/erp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func changePrice(t *testing.T, e *env, sku string, minor int64) erp.PriceEvent {
	t.Helper()
	evs, err := e.svc.RecordPriceChanges(t.Context(), erp.PriceChanges{ListPrices: []erp.ListPrice{{PriceListID: erp.PriceListStandard, SKU: sku, UnitPriceMinor: minor}}})
	if err != nil || len(evs) != 1 {
		t.Fatalf("RecordPriceChanges = %v, %v", evs, err)
	}
	return evs[0]
}

// TestPriceEventsListAndWatch: ListPriceEvents pages the price feed from a
// cursor; WatchPriceEvents sends the backlog at once, then pushes a new
// change as soon as it is committed, with interchangeable cursors.
func TestPriceEventsListAndWatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	empty, err := e.client.ListPriceEvents(callCtx(t), &erpv1.ListPriceEventsRequest{})
	if err != nil || len(empty.GetPriceEvents()) != 0 || empty.GetNextCursor() == "" || empty.GetHasMore() {
		t.Fatalf("empty feed = %v, %v", empty, err)
	}
	changePrice(t, e, "SKU-00001", 1111)
	changePrice(t, e, "SKU-00002", 2222)
	page, err := e.client.ListPriceEvents(callCtx(t), &erpv1.ListPriceEventsRequest{Cursor: empty.GetNextCursor(), PageSize: 1})
	if err != nil || len(page.GetPriceEvents()) != 1 || !page.GetHasMore() {
		t.Fatalf("first page = %v, %v", page, err)
	}
	if ev := page.GetPriceEvents()[0]; ev.GetSourceSequence() != 1 || ev.GetListPrice().GetSku() != "SKU-00001" ||
		ev.GetListPrice().GetUnitPrice().GetAmountMinor() != 1111 || ev.GetListPrice().GetUnitPrice().GetCurrencyCode() != erp.Currency {
		t.Errorf("first event = %v", ev)
	}

	stream, err := e.client.WatchPriceEvents(callCtx(t), &erpv1.WatchPriceEventsRequest{Cursor: page.GetNextCursor()})
	if err != nil {
		t.Fatal(err)
	}
	backlog, err := stream.Recv()
	if err != nil || len(backlog.GetPriceEvents()) != 1 || backlog.GetPriceEvents()[0].GetSourceSequence() != 2 {
		t.Fatalf("backlog = %v, %v", backlog, err)
	}
	changePrice(t, e, "SKU-00003", 3333)
	pushed, err := stream.Recv()
	if err != nil || len(pushed.GetPriceEvents()) != 1 || pushed.GetPriceEvents()[0].GetListPrice().GetSku() != "SKU-00003" {
		t.Fatalf("pushed = %v, %v", pushed, err)
	}
	rest, err := e.client.ListPriceEvents(callCtx(t), &erpv1.ListPriceEventsRequest{Cursor: pushed.GetNextCursor()})
	if err != nil || len(rest.GetPriceEvents()) != 0 || rest.GetNextCursor() != pushed.GetNextCursor() {
		t.Errorf("after the pushed cursor = %v, %v", rest, err)
	}
}

// TestPriceEventsBadCursor: a stock cursor, garbage, or a position the feed
// never reached is INVALID_ARGUMENT.
func TestPriceEventsBadCursor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	stock, err := e.client.ListStockEvents(callCtx(t), &erpv1.ListStockEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	changePrice(t, e, "SKU-00001", 1)
	ahead, err := e.client.ListPriceEvents(callCtx(t), &erpv1.ListPriceEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	other := newEnv(t) // a fresh feed has never reached ahead's position
	for name, tc := range map[string]struct {
		e      *env
		cursor string
	}{"stock cursor": {e, stock.GetNextCursor()}, "garbage": {e, "%%%"}, "beyond the head": {other, ahead.GetNextCursor()}} {
		_, err := tc.e.client.ListPriceEvents(callCtx(t), &erpv1.ListPriceEventsRequest{Cursor: tc.cursor})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: err = %v, want InvalidArgument", name, err)
		}
	}
}

// TestContractChangeInFeedAndExport: a contract change is one price event
// carrying the whole contract (no list price), and the price export with
// include_contracts shows the contract as changed.
func TestContractChangeInFeedAndExport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := erp.Contract{ID: "CTR-GRPC", CustomerID: erp.CustomerID(5), DisplayName: "grpc test",
		Prices: []erp.ContractPrice{{SKU: "SKU-00001", UnitPriceMinor: 4242}, {SKU: "SKU-00002", DiscountBps: 250}}}
	if _, err := e.svc.RecordPriceChanges(t.Context(), erp.PriceChanges{Contracts: []erp.Contract{c}}); err != nil {
		t.Fatal(err)
	}
	page, err := e.client.ListPriceEvents(callCtx(t), &erpv1.ListPriceEventsRequest{})
	if err != nil || len(page.GetPriceEvents()) != 1 {
		t.Fatalf("ListPriceEvents = %v, %v", page, err)
	}
	ev := page.GetPriceEvents()[0]
	got := ev.GetContract()
	if ev.GetListPrice() != nil || got.GetContractId() != c.ID || got.GetCustomerId() != c.CustomerID || len(got.GetPrices()) != 2 ||
		got.GetPrices()[0].GetUnitPrice().GetAmountMinor() != 4242 || got.GetPrices()[0].GetUnitPrice().GetCurrencyCode() != erp.Currency ||
		got.GetPrices()[0].GetUnit() != "EA" || got.GetPrices()[1].GetDiscountBasisPoints() != 250 || got.GetEffectiveStartTime() != nil {
		t.Fatalf("contract event = %v", ev)
	}
	stream, err := e.client.StreamPriceExport(callCtx(t), &erpv1.StreamPriceExportRequest{IncludeContracts: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for {
		msg, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range msg.GetChunk().GetContracts() {
			ids = append(ids, k.GetContractId())
		}
		if msg.GetTrailer() != nil {
			break
		}
	}
	if len(ids) != 2 || ids[0] != "CTR-"+erp.DemoContractCustomer || ids[1] != c.ID { // by id
		t.Errorf("exported contracts = %v, want the demo contract and %s", ids, c.ID)
	}
}
