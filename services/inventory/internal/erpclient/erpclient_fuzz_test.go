package erpclient_test

import (
	"context"
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/testharness/answerconn"
	"github.com/transload/transload/services/inventory/internal/erpclient"
	"github.com/transload/transload/services/inventory/internal/inventory"
)

// FuzzStockFeedAnswers feeds inventory's ERP client a hostile stock event
// feed page (unknown kinds, extreme and wrong-signed quantities,
// out-of-range times, huge strings, the same event twice) and warehouse
// list: it never panics; every event it hands on either fails
// inventory's validation or is one the store can record (a JSON-encodable
// time, a positive magnitude for the decrementing kinds); a warehouse
// without a proper name is an error.
func FuzzStockFeedAnswers(f *testing.F) {
	f.Add(int32(4), int64(-1<<63), int64(1_700_000_000), "SKU", "W1", "warehouses/W1", int32(1))
	f.Add(int32(5), int64(-7), int64(1<<62), string(make([]byte, 1<<12)), "", "W1", int32(-2))
	f.Add(int32(99), int64(1<<63-1), int64(-1<<62), "", "W1", "warehouses/", int32(1<<30))
	f.Add(int32(6), int64(0), int64(253402300800), "S", "W", "warehouses/W", int32(0))
	f.Fuzz(func(t *testing.T, kind int32, qty, sec int64, sku, wh, whName string, priority int32) {
		ctx := context.Background()
		ev := &erpv1.StockEvent{EventId: "e1", Sku: sku, WarehouseCode: wh, SourceSequence: 1,
			Kind: erpv1.StockEvent_Kind(kind), Quantity: qty, OccurTime: &timestamppb.Timestamp{Seconds: sec}}
		page, err := erpclient.New(answerconn.Conn{Answer: &erpv1.ListStockEventsResponse{StockEvents: []*erpv1.StockEvent{ev, ev}, NextCursor: "c"}}).
			StockEvents(ctx, "", 10)
		if err == nil {
			if len(page.Events) != 2 {
				t.Fatalf("%d events for 2", len(page.Events))
			}
			for _, e := range page.Events {
				if inventory.ValidateStockEvent(e) != "" {
					continue
				}
				if _, err := json.Marshal(e); err != nil {
					t.Fatalf("valid event %+v cannot be recorded: %v", e, err)
				}
				if (e.Kind == inventory.KindTransferOut || e.Kind == inventory.KindShipment) && e.Quantity <= 0 {
					t.Fatalf("decrement %+v passed validation with magnitude %d", e, e.Quantity)
				}
			}
		}
		ws, err := erpclient.New(answerconn.Conn{Answer: &erpv1.ListWarehousesResponse{Warehouses: []*erpv1.Warehouse{
			{Name: whName, Priority: priority, DisplayName: sku},
		}}}).ListWarehouses(ctx)
		if err == nil && (len(ws) != 1 || ws[0].Code == "") {
			t.Fatalf("warehouses %+v from name %q", ws, whName)
		}
	})
}
