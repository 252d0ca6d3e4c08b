package grpcapi

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
)

// TestReturnToProto: the storefront Return of an order service RMA: its
// name under the order, the RMA number once authorized, the refund once
// received, the majority disposition per line and the storefront state of
// each order service state.
func TestReturnToProto(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	created, received := timestamppb.New(at), timestamppb.New(at.Add(48*time.Hour))
	eur := func(v int64) *commonv1.Money { return &commonv1.Money{AmountMinor: v, CurrencyCode: "EUR"} }
	ra := &orderv1.ReturnAuthorization{
		ReturnAuthorizationId: "R-1", OrderId: "O-1", CustomerId: "C1", State: orderv1.ReturnAuthorization_STATE_RECEIVED,
		CustomerComment: "broken", CreditTotal: eur(2000), RefundTotal: eur(3000), CreateTime: created, ReceiveTime: received,
		Lines: []*orderv1.ReturnLine{{
			LineId: "1", OrderLineId: "2", Sku: "SKU-1", Quantity: 3, Reason: orderv1.ReturnReason_RETURN_REASON_DAMAGED,
			Resolution: orderv1.Resolution_RESOLUTION_REFUND, ReceivedQuantity: 3,
			Received: []*orderv1.DispositionQuantity{
				{Disposition: orderv1.Disposition_DISPOSITION_RESTOCK, Quantity: 1},
				{Disposition: orderv1.Disposition_DISPOSITION_SCRAP, Quantity: 2},
			},
		}},
	}
	want := &storefrontv1.Return{
		Name: "orders/O-1/returns/R-1", CustomerNote: "broken", State: storefrontv1.Return_STATE_RECEIVED,
		StateMessage: "Received by the warehouse", RmaNumber: "R-1", RefundAmount: eur(2000), CreateTime: created,
		Resolution: storefrontv1.Return_RESOLUTION_REFUND,
		Lines: []*storefrontv1.ReturnLine{{Sku: "SKU-1", Quantity: 3, Reason: storefrontv1.ReturnLine_REASON_DAMAGED,
			ReceivedQuantity: 3, Disposition: storefrontv1.ReturnLine_DISPOSITION_SCRAP}},
	}
	if diff := cmp.Diff(want, returnToProto(ra), protocmp.Transform()); diff != "" {
		t.Errorf("returnToProto (-want +got):\n%s", diff)
	}
	requested := &orderv1.ReturnAuthorization{ReturnAuthorizationId: "R-2", OrderId: "O-1", State: orderv1.ReturnAuthorization_STATE_REQUESTED,
		RefundTotal: eur(3000), Lines: []*orderv1.ReturnLine{{Sku: "SKU-1", Quantity: 1, Resolution: orderv1.Resolution_RESOLUTION_REFUND}}}
	if got := returnToProto(requested); got.GetRmaNumber() != "" || got.GetRefundAmount() != nil {
		t.Errorf("requested return shows RMA %q refund %v before authorization and receipt", got.GetRmaNumber(), got.GetRefundAmount())
	}
	for st, want := range map[orderv1.ReturnAuthorization_State]storefrontv1.Return_State{
		orderv1.ReturnAuthorization_STATE_AUTHORIZED: storefrontv1.Return_STATE_AUTHORIZED,
		orderv1.ReturnAuthorization_STATE_CREDITED:   storefrontv1.Return_STATE_COMPLETED,
		orderv1.ReturnAuthorization_STATE_REJECTED:   storefrontv1.Return_STATE_REJECTED,
	} {
		if got := returnStateToProto(&orderv1.ReturnAuthorization{State: st}); got != want {
			t.Errorf("%s → %s, want %s", st, got, want)
		}
	}
	closed := &orderv1.ReturnAuthorization{State: orderv1.ReturnAuthorization_STATE_CLOSED}
	if got := returnStateToProto(closed); got != storefrontv1.Return_STATE_CANCELLED {
		t.Errorf("closed without receipt → %s, want CANCELLED", got)
	}
	closed.ReceiveTime = received
	if got := returnStateToProto(closed); got != storefrontv1.Return_STATE_COMPLETED {
		t.Errorf("closed after receipt → %s, want COMPLETED", got)
	}
	for _, r := range []storefrontv1.ReturnLine_Reason{storefrontv1.ReturnLine_REASON_DAMAGED, storefrontv1.ReturnLine_REASON_DEFECTIVE,
		storefrontv1.ReturnLine_REASON_WRONG_ITEM, storefrontv1.ReturnLine_REASON_NO_LONGER_NEEDED, storefrontv1.ReturnLine_REASON_OTHER} {
		if back := returnReasonToProto(returnReasonToOrder(r)); back != r {
			t.Errorf("reason %s round-trips to %s", r, back)
		}
	}
}
