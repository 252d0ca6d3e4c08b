package grpcapi_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// GetReturnReceipt and ListReturnReceipts serve the recorded receipts with
// their dispositions: another order's receipt is NOT_FOUND, the filters
// and pages of the contract work, and a bad filter is INVALID_ARGUMENT.
func TestReturnReceiptReads(t *testing.T) {
	t.Parallel()
	client, store := start(t, nil)
	ctx := t.Context()
	err := store.InTx(ctx, func(tx fulfillment.Tx) error {
		for i, wh := range []string{"WH-HAM", "WH-MUC", "WH-HAM"} {
			at := t0.Add(time.Duration(i) * time.Minute)
			order := "O-1"
			if i == 1 {
				order = "O-2"
			}
			rr := &fulfillment.ReturnReceipt{
				ID: "RR-" + string(rune('A'+i)), ReturnAuthorizationID: "RMA-" + order, ExpectedReturnID: "RMA-" + order,
				OrderID: order, CustomerID: "C0001", WarehouseID: wh, Source: "wms.returns", WMSEventID: "RE-" + string(rune('A'+i)),
				ReceiveTime: at, CreateTime: at,
				Lines: []fulfillment.ReceiptLine{
					{ReturnLineID: "RL-1", OrderLineID: "1", SKU: "SKU-00001", Quantity: 1, Disposition: fulfillment.DispositionRestock},
					{ReturnLineID: "RL-1", OrderLineID: "1", SKU: "SKU-00001", Quantity: 2, Disposition: fulfillment.DispositionQuarantine},
				},
			}
			if err := tx.InsertReturnReceipt(ctx, rr); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	got, err := client.GetReturnReceipt(ctx, &fulfillmentv1.GetReturnReceiptRequest{Name: "orders/O-1/returnReceipts/RR-A"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetName() != "orders/O-1/returnReceipts/RR-A" || got.GetReturnAuthorizationId() != "RMA-O-1" || got.GetWmsEventId() != "RE-A" ||
		len(got.GetLines()) != 2 || got.GetLines()[0].GetDisposition() != fulfillmentv1.Disposition_DISPOSITION_RESTOCK ||
		got.GetLines()[1].GetDisposition() != fulfillmentv1.Disposition_DISPOSITION_QUARANTINE || got.GetLines()[1].GetReceivedQuantity() != 2 ||
		got.GetOrderRecordTime() != nil {
		t.Fatalf("GetReturnReceipt = %v", got)
	}
	if _, err := client.GetReturnReceipt(ctx, &fulfillmentv1.GetReturnReceiptRequest{Name: "orders/-/returnReceipts/RR-B"}); err != nil {
		t.Fatalf("any order: %v", err)
	}
	_, err = client.GetReturnReceipt(ctx, &fulfillmentv1.GetReturnReceiptRequest{Name: "orders/O-1/returnReceipts/RR-B"})
	if status.Code(err) != codes.NotFound || apierr.ReasonOf(err) != fulfillmentv1.ErrorReason_ERROR_REASON_RETURN_RECEIPT_NOT_FOUND.String() {
		t.Fatalf("another order's receipt: %v", err)
	}

	list := func(req *fulfillmentv1.ListReturnReceiptsRequest) []string {
		t.Helper()
		var ids []string
		for {
			res, err := client.ListReturnReceipts(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			for _, rr := range res.GetReturnReceipts() {
				ids = append(ids, rr.GetReturnReceiptId())
			}
			if res.GetNextPageToken() == "" {
				return ids
			}
			req.PageToken = res.GetNextPageToken()
		}
	}
	for _, tc := range []struct {
		req  *fulfillmentv1.ListReturnReceiptsRequest
		want string
	}{
		{&fulfillmentv1.ListReturnReceiptsRequest{Parent: "orders/-"}, "[RR-A RR-B RR-C]"},
		{&fulfillmentv1.ListReturnReceiptsRequest{Parent: "orders/-", PageSize: 1}, "[RR-A RR-B RR-C]"},
		{&fulfillmentv1.ListReturnReceiptsRequest{Parent: "orders/O-1"}, "[RR-A RR-C]"},
		{&fulfillmentv1.ListReturnReceiptsRequest{Parent: "orders/-", OrderBy: "receive_time desc", PageSize: 2}, "[RR-C RR-B RR-A]"},
		{&fulfillmentv1.ListReturnReceiptsRequest{Parent: "orders/-", Filter: `warehouse_id = "WH-MUC"`}, "[RR-B]"},
		{&fulfillmentv1.ListReturnReceiptsRequest{Parent: "orders/-", Filter: `return_authorization_id = "RMA-O-1" AND receive_time >= "2026-11-26T12:01:00Z"`}, "[RR-C]"},
	} {
		if got := fmtIDs(list(tc.req)); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.req, got, tc.want)
		}
	}
	_, err = client.ListReturnReceipts(ctx, &fulfillmentv1.ListReturnReceiptsRequest{Parent: "orders/-", Filter: `state = "X"`})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("unknown filter field: %v", err)
	}
}

func fmtIDs(ids []string) string {
	out := "["
	for i, id := range ids {
		if i > 0 {
			out += " "
		}
		out += id
	}
	return out + "]"
}
