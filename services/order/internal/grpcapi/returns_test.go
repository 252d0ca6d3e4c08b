package grpcapi_test

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/order/internal/grpcapi"
	"github.com/transload/transload/services/order/internal/order"
)

// returnsEnv is the order service with returns served under policy cfg,
// on a clock the test moves.
type returnsEnv struct {
	*env
	clock   *testClock
	rc      orderv1.OrderServiceClient
	returns *order.Returns
}

func newReturnsEnv(t *testing.T, cfg order.ReturnConfig, opts ...func(*envOptions)) *returnsEnv {
	t.Helper()
	clock := &testClock{t: time.Now()}
	e := newEnv(t, append([]func(*envOptions){func(o *envOptions) { o.now = clock.now }}, opts...)...)
	rs := order.NewReturns(e.svc, e.store.(order.ReturnStore), cfg)
	dialer := serve(t, func(s *grpc.Server) {
		orderv1.RegisterOrderServiceServer(s, grpcapi.New(e.svc, e.worker, quiet).WithReturns(rs))
	})
	conn, err := grpc.NewClient("passthrough:///order-returns", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return dialer(ctx, "") }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &returnsEnv{env: e, clock: clock, rc: orderv1.NewOrderServiceClient(conn), returns: rs}
}

func forEachReturnsEngine(t *testing.T, cfg order.ReturnConfig, fn func(t *testing.T, e *returnsEnv)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, newReturnsEnv(t, cfg)) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, newReturnsEnv(t, cfg, onPostgres)) })
}

// rl is a return line request.
type rl struct {
	orderLine  string
	qty        int64
	resolution orderv1.Resolution
}

func returnReq(orderID, requestID string, lines ...rl) *orderv1.CreateReturnAuthorizationRequest {
	ra := &orderv1.ReturnAuthorization{CustomerComment: "test"}
	for _, l := range lines {
		ra.Lines = append(ra.Lines, &orderv1.ReturnLine{
			OrderLineId: l.orderLine, Quantity: l.qty, Reason: orderv1.ReturnReason_RETURN_REASON_DEFECTIVE,
			RequestedDisposition: orderv1.Disposition_DISPOSITION_RESTOCK, Resolution: l.resolution,
		})
	}
	return &orderv1.CreateReturnAuthorizationRequest{Parent: "orders/" + orderID, RequestId: requestID, ReturnAuthorization: ra}
}

const refund = orderv1.Resolution_RESOLUTION_REFUND

// deliveredOrder places an order of SKU-00500 x6 (WH-HAM 4, WH-MUC 2) and
// SKU-00001 x1 (WH-HAM) for customer, has it confirmed and delivers the
// WH-HAM shipment (line 1: 4, line 2: 1).
func (e *returnsEnv) deliveredOrder(t *testing.T, requestID, customer string) string {
	t.Helper()
	id := e.createConfirmed(t, createReq(requestID, customer, line{"SKU-00500", 6}, line{"SKU-00001", 1}))
	if _, err := e.client.RecordShipmentProgress(t.Context(), progress(id, requestID+"-dlv", "S1", "WH-HAM",
		orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_DELIVERED, map[string]int64{"1": 4, "2": 1})); err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *returnsEnv) returnsOf(t *testing.T, orderID string) []*orderv1.ReturnAuthorization {
	t.Helper()
	res, err := e.rc.ListReturnAuthorizations(t.Context(), &orderv1.ListReturnAuthorizationsRequest{Parent: "orders/" + orderID})
	if err != nil {
		t.Fatal(err)
	}
	return res.GetReturnAuthorizations()
}

// wantRule checks a refused return: FAILED_PRECONDITION with reason and a
// PreconditionFailure naming subject.
func wantRule(t *testing.T, err error, reason apierr.Reason, subject string) map[string]string {
	t.Helper()
	md := wantReason(t, err, codes.FailedPrecondition, reason)
	vs := apierr.PreconditionViolations(err)
	if len(vs) != 1 || vs[0].Subject != subject {
		t.Errorf("%s: precondition violations %+v, want one on %s", reason, vs, subject)
	}
	return md
}

// TestReturnRules: each rule in the order refuses with its reason
// and the offending line, and creates nothing; a return that passes is
// authorized by policy with its refund from the order's prices; a customer
// on credit hold may still return.
func TestReturnRules(t *testing.T) {
	t.Parallel()
	forEachReturnsEngine(t, order.ReturnConfig{AutoApproveMaxMinor: 1_000_000}, func(t *testing.T, e *returnsEnv) {
		ctx := t.Context()
		// Confirmed, nothing delivered: not returnable.
		undelivered := e.createConfirmed(t, createReq("undelivered", "C0001", line{"SKU-00002", 1}))
		_, err := e.rc.CreateReturnAuthorization(ctx, returnReq(undelivered, "r-undelivered", rl{"1", 1, refund}))
		md := wantRule(t, err, orderv1.ErrorReason_ERROR_REASON_ORDER_NOT_RETURNABLE, "orders/"+undelivered)
		if md["state"] != "STATE_CONFIRMED" {
			t.Errorf("not returnable metadata = %v", md)
		}
		// Shipped but not delivered: still not returnable (delivery required).
		if _, err := e.client.RecordShipmentProgress(ctx, progress(undelivered, "ship-u", "S1", "WH-HAM",
			orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_SHIPPED, map[string]int64{"1": 1})); err != nil {
			t.Fatal(err)
		}
		_, err = e.rc.CreateReturnAuthorization(ctx, returnReq(undelivered, "r-undelivered", rl{"1", 1, refund}))
		wantRule(t, err, orderv1.ErrorReason_ERROR_REASON_ORDER_NOT_RETURNABLE, "orders/"+undelivered)

		id := e.deliveredOrder(t, "delivered", "C0001")
		// More than delivered (4 of line 1 delivered, 6 ordered).
		_, err = e.rc.CreateReturnAuthorization(ctx, returnReq(id, "r-too-many", rl{"2", 1, refund}, rl{"1", 5, refund}))
		md = wantRule(t, err, orderv1.ErrorReason_ERROR_REASON_RETURN_QUANTITY_EXCEEDS_SHIPPED, "orders/"+id+"/lines/1")
		if md["requested"] != "5" || md["returnable"] != "4" || md["order_line_id"] != "1" {
			t.Errorf("quantity metadata = %v", md)
		}
		_, err = e.rc.CreateReturnAuthorization(ctx, returnReq(id, "r-unknown", rl{"9", 1, refund}))
		wantReason(t, err, codes.InvalidArgument, orderv1.ErrorReason_ERROR_REASON_UNKNOWN_LINE)
		if n := len(e.returnsOf(t, id)) + len(e.returnsOf(t, undelivered)); n != 0 {
			t.Fatalf("%d returns after refusals, want none", n)
		}

		// The customer is put on credit hold: returns are still accepted.
		e.erp.AddCustomer("C0001", erpv1.Customer_ACCOUNT_STATE_CREDIT_HOLD)
		ra, err := e.rc.CreateReturnAuthorization(ctx, returnReq(id, "r-ok", rl{"1", 3, refund}))
		if err != nil {
			t.Fatal(err)
		}
		if ra.GetState() != orderv1.ReturnAuthorization_STATE_AUTHORIZED || ra.GetCustomerId() != "C0001" || ra.GetLines()[0].GetSku() != "SKU-00500" {
			t.Errorf("return = state %s customer %s", ra.GetState(), ra.GetCustomerId())
		}
		if got := ra.GetRefundTotal().GetAmountMinor(); got != 3*50_000 {
			t.Errorf("refund total = %d, want 3 × 500.00", got)
		}
		if h := ra.GetStateHistory(); len(h) != 2 || h[1].GetActor().GetId() != "return-policy" {
			t.Errorf("history = %v", h)
		}
		// Replay and reuse of the request id.
		again, err := e.rc.CreateReturnAuthorization(ctx, returnReq(id, "r-ok", rl{"1", 3, refund}))
		if err != nil || again.GetReturnAuthorizationId() != ra.GetReturnAuthorizationId() {
			t.Fatalf("replay = %v, %v", again.GetReturnAuthorizationId(), err)
		}
		_, err = e.rc.CreateReturnAuthorization(ctx, returnReq(id, "r-ok", rl{"1", 2, refund}))
		wantReason(t, err, codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED)
		// The open return holds 3 of the 4 delivered: 1 is left.
		_, err = e.rc.CreateReturnAuthorization(ctx, returnReq(id, "r-second", rl{"1", 2, refund}))
		md = wantRule(t, err, orderv1.ErrorReason_ERROR_REASON_RETURN_QUANTITY_EXCEEDS_SHIPPED, "orders/"+id+"/lines/1")
		if md["returnable"] != "1" {
			t.Errorf("returnable after an open return = %v", md)
		}

		// 31 days after delivery the 30-day window has ended.
		e.clock.advance(31 * 24 * time.Hour)
		_, err = e.rc.CreateReturnAuthorization(ctx, returnReq(id, "r-late", rl{"2", 1, refund}))
		md = wantRule(t, err, orderv1.ErrorReason_ERROR_REASON_RETURN_WINDOW_EXPIRED, "orders/"+id+"/lines/2")
		if md["window_days"] != "30" || md["returnable_until"] == "" {
			t.Errorf("window metadata = %v", md)
		}
		if got := e.returnsOf(t, id); len(got) != 1 {
			t.Fatalf("%d returns, want only r-ok", len(got))
		}
		wantSubjects(t, e, ra.GetReturnAuthorizationId(), "transload.order.return_requested", "transload.order.return_authorized")
	})
}

// TestReturnWindowPerChannel: a channel's own window replaces the default.
func TestReturnWindowPerChannel(t *testing.T) {
	t.Parallel()
	e := newReturnsEnv(t, order.ReturnConfig{AutoApproveMaxMinor: 1_000_000, ChannelWindows: map[string]time.Duration{"web": 7 * 24 * time.Hour}})
	id := e.deliveredOrder(t, "w", "C0002")
	e.clock.advance(8 * 24 * time.Hour)
	_, err := e.rc.CreateReturnAuthorization(t.Context(), returnReq(id, "r-w", rl{"2", 1, refund}))
	md := wantRule(t, err, orderv1.ErrorReason_ERROR_REASON_RETURN_WINDOW_EXPIRED, "orders/"+id+"/lines/2")
	if md["window_days"] != "7" {
		t.Errorf("metadata = %v", md)
	}
}

// TestReturnApprovalAndReceipt: over the threshold a return waits for an
// operator; reject and approve follow the state machine; receipts add up
// by disposition, credit refund lines at the order's price, count on the
// order lines, refuse more than the return holds and are idempotent on
// their event id.
func TestReturnApprovalAndReceipt(t *testing.T) {
	t.Parallel()
	forEachReturnsEngine(t, order.ReturnConfig{AutoApproveMaxMinor: 50_000}, func(t *testing.T, e *returnsEnv) {
		ctx := t.Context()
		id := e.deliveredOrder(t, "approve", "C0003")
		// 2 × 500.00 is above the 500.00 threshold.
		ra, err := e.rc.CreateReturnAuthorization(ctx, returnReq(id, "r-big", rl{"1", 2, refund}))
		if err != nil {
			t.Fatal(err)
		}
		if ra.GetState() != orderv1.ReturnAuthorization_STATE_REQUESTED {
			t.Fatalf("state = %s, want REQUESTED", ra.GetState())
		}
		other, err := e.rc.CreateReturnAuthorization(ctx, returnReq(id, "r-other", rl{"1", 2, refund}))
		if err != nil {
			t.Fatal(err)
		}
		rej, err := e.rc.RejectReturnAuthorization(ctx, &orderv1.RejectReturnAuthorizationRequest{
			Name: other.GetName(), RequestId: "rej-1", Message: "not eligible"})
		if err != nil || rej.GetState() != orderv1.ReturnAuthorization_STATE_REJECTED || rej.GetRejectionMessage() != "not eligible" {
			t.Fatalf("reject = %s %q, %v", rej.GetState(), rej.GetRejectionMessage(), err)
		}
		_, err = e.rc.ApproveReturnAuthorization(ctx, &orderv1.ApproveReturnAuthorizationRequest{Name: other.GetName(), RequestId: "app-x"})
		md := wantReason(t, err, codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_INVALID_STATE_TRANSITION)
		if md["from"] != "STATE_REJECTED" || md["to"] != "STATE_AUTHORIZED" {
			t.Errorf("transition metadata = %v", md)
		}
		// A rejected return frees its quantity: a third return of 2 fits.
		if _, err := e.rc.CreateReturnAuthorization(ctx, returnReq(id, "r-third", rl{"1", 2, refund})); err != nil {
			t.Errorf("return after a rejection: %v", err)
		}
		app, err := e.rc.ApproveReturnAuthorization(ctx, &orderv1.ApproveReturnAuthorizationRequest{Name: ra.GetName(), RequestId: "app-1", Note: "ok"})
		if err != nil || app.GetState() != orderv1.ReturnAuthorization_STATE_AUTHORIZED {
			t.Fatalf("approve = %s, %v", app.GetState(), err)
		}
		// The same approval again answers the return as it is.
		if again, err := e.rc.ApproveReturnAuthorization(ctx, &orderv1.ApproveReturnAuthorizationRequest{Name: ra.GetName(), RequestId: "app-1", Note: "ok"}); err != nil || again.GetEtag() != app.GetEtag() {
			t.Errorf("repeated approve = %v, %v", again.GetEtag(), err)
		}
		// Named under another order: NOT_FOUND.
		_, err = e.rc.GetReturnAuthorization(ctx, &orderv1.GetReturnAuthorizationRequest{Name: "orders/O-other/returnAuthorizations/" + ra.GetReturnAuthorizationId()})
		wantReason(t, err, codes.NotFound, orderv1.ErrorReason_ERROR_REASON_RETURN_NOT_FOUND)

		receipt := func(event string, qty int64, d orderv1.Disposition) (*orderv1.RecordReturnReceiptResponse, error) {
			return e.rc.RecordReturnReceipt(ctx, &orderv1.RecordReturnReceiptRequest{
				Name: ra.GetName(), EventId: event, WarehouseId: "WH-HAM", ReceiveTime: timestamppb.New(e.clock.now()),
				Lines: []*orderv1.ReceivedReturnLine{{LineId: "1", ReceivedQuantity: qty, Disposition: d}},
			})
		}
		_, err = receipt("rcv-too-many", 3, orderv1.Disposition_DISPOSITION_RESTOCK)
		wantReason(t, err, codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_RECEIPT_QUANTITY_EXCEEDS_RETURN)
		r1, err := receipt("rcv-1", 1, orderv1.Disposition_DISPOSITION_RESTOCK)
		if err != nil {
			t.Fatal(err)
		}
		got := r1.GetReturnAuthorization()
		if got.GetState() != orderv1.ReturnAuthorization_STATE_RECEIVED || got.GetCreditTotal().GetAmountMinor() != 50_000 ||
			got.GetLines()[0].GetReceivedQuantity() != 1 || got.GetReceiveTime() == nil {
			t.Fatalf("after first receipt: %s credit %d received %d", got.GetState(), got.GetCreditTotal().GetAmountMinor(), got.GetLines()[0].GetReceivedQuantity())
		}
		dup, err := receipt("rcv-1", 1, orderv1.Disposition_DISPOSITION_RESTOCK)
		if err != nil || !dup.GetDuplicate() || dup.GetReturnAuthorization().GetEtag() != got.GetEtag() {
			t.Fatalf("repeated receipt: duplicate %v, %v", dup.GetDuplicate(), err)
		}
		_, err = receipt("rcv-1", 1, orderv1.Disposition_DISPOSITION_SCRAP)
		wantReason(t, err, codes.AlreadyExists, orderv1.ErrorReason_ERROR_REASON_EVENT_ID_REUSED)
		r2, err := receipt("rcv-2", 1, orderv1.Disposition_DISPOSITION_SCRAP)
		if err != nil {
			t.Fatal(err)
		}
		got = r2.GetReturnAuthorization()
		if got.GetCreditTotal().GetAmountMinor() != 100_000 || len(got.GetLines()[0].GetReceived()) != 2 {
			t.Errorf("after second receipt: credit %d, by disposition %v", got.GetCreditTotal().GetAmountMinor(), got.GetLines()[0].GetReceived())
		}
		if l := e.get(t, id).GetLines()[0]; l.GetReturnedQuantity() != 2 {
			t.Errorf("order line returned quantity = %d, want 2", l.GetReturnedQuantity())
		}
		// Each receipt stored its credit memo with the receipt, the
		// repeated one none: 1 unit at 500.00 each.
		docs, err := e.store.(order.DocumentReader).ListDocuments(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var memos []string
		for _, d := range docs {
			if d.Kind != order.DocumentCreditMemo {
				continue
			}
			memos = append(memos, d.ID)
			if d.SourceID != ra.GetReturnAuthorizationId() || len(d.Lines) != 1 || d.Lines[0].AmountMinor != 50_000 ||
				d.Lines[0].Quantity != 1 || d.Lines[0].SourceLineID != "1" || d.Lines[0].OrderLineID != "1" {
				t.Errorf("credit memo %+v", d)
			}
		}
		rmaID := ra.GetReturnAuthorizationId()
		if len(memos) != 2 || memos[0] == memos[1] {
			t.Fatalf("credit memos %v, want one per receipt", memos)
		}
		// Once the poster recorded the ERP's number on the memo's lines
		// (as its batch outcome does), the return shows it.
		if _, err := e.db.SQL().ExecContext(ctx, e.db.Rebind(
			`UPDATE document_lines SET erp_document_number = 'CM-100', posting_state = 2 WHERE document_id = ?`), order.CreditMemoID(rmaID, "rcv-1")); err != nil {
			t.Fatal(err)
		}
		if g, err := e.rc.GetReturnAuthorization(ctx, &orderv1.GetReturnAuthorizationRequest{Name: ra.GetName()}); err != nil || g.GetCreditMemoReference() != "CM-100" {
			t.Errorf("credit memo reference %q, %v; want CM-100", g.GetCreditMemoReference(), err)
		}
		wantSubjects(t, e, ra.GetReturnAuthorizationId(), "transload.order.return_requested", "transload.order.return_authorized",
			"transload.order.return_received", "transload.order.return_received")
		// Every change is audited in its transaction, by its actor.
		var audits []string
		for _, a := range e.auditsOf(t, ra.GetName()) {
			audits = append(audits, a.GetAction()+" by "+a.GetActor().GetKind())
		}
		if want := []string{"return_authorization.create by api_key", "return_authorization.approve by operator",
			"return_authorization.receive by service", "return_authorization.receive by service"}; !slices.Equal(audits, want) {
			t.Errorf("audit trail %v, want %v", audits, want)
		}
	})
}

// TestReturnWithoutRefundCloses: a fully received return with nothing to
// credit is closed.
func TestReturnWithoutRefundCloses(t *testing.T) {
	t.Parallel()
	e := newReturnsEnv(t, order.ReturnConfig{AutoApproveMaxMinor: 1_000_000})
	id := e.deliveredOrder(t, "norefund", "C0004")
	ra, err := e.rc.CreateReturnAuthorization(t.Context(), returnReq(id, "r-nr", rl{"2", 1, orderv1.Resolution_RESOLUTION_NO_REFUND}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.rc.RecordReturnReceipt(t.Context(), &orderv1.RecordReturnReceiptRequest{
		Name: ra.GetName(), EventId: "rcv-nr", WarehouseId: "WH-HAM", ReceiveTime: timestamppb.Now(),
		Lines: []*orderv1.ReceivedReturnLine{{LineId: "1", ReceivedQuantity: 1, Disposition: orderv1.Disposition_DISPOSITION_QUARANTINE}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.GetReturnAuthorization(); got.GetState() != orderv1.ReturnAuthorization_STATE_CLOSED || got.GetCreditTotal().GetAmountMinor() != 0 {
		t.Errorf("return = %s credit %d, want CLOSED without credit", got.GetState(), got.GetCreditTotal().GetAmountMinor())
	}
	wantSubjects(t, e, ra.GetReturnAuthorizationId(), "transload.order.return_requested", "transload.order.return_authorized",
		"transload.order.return_received", "transload.order.return_closed")
}

// TestReturnReplacementPlacedOnce: the receipt of a REPLACEMENT return
// places one replacement order through the normal placement path, also
// when the receipt is repeated or pricing was down at the first attempt.
func TestReturnReplacementPlacedOnce(t *testing.T) {
	t.Parallel()
	forEachReturnsEngine(t, order.ReturnConfig{AutoApproveMaxMinor: 1_000_000}, func(t *testing.T, e *returnsEnv) {
		ctx := t.Context()
		id := e.deliveredOrder(t, "repl", "C0005")
		ra, err := e.rc.CreateReturnAuthorization(ctx, returnReq(id, "r-repl", rl{"1", 2, orderv1.Resolution_RESOLUTION_REPLACEMENT}))
		if err != nil {
			t.Fatal(err)
		}
		before, _ := e.counts(t)
		req := &orderv1.RecordReturnReceiptRequest{
			Name: ra.GetName(), EventId: "rcv-repl", WarehouseId: "WH-HAM", ReceiveTime: timestamppb.Now(),
			Lines: []*orderv1.ReceivedReturnLine{{LineId: "1", ReceivedQuantity: 2, Disposition: orderv1.Disposition_DISPOSITION_RESTOCK}},
		}
		// Pricing down: the receipt is stored, the replacement cannot be
		// placed yet and the caller is told to retry.
		e.pricing.SetDown(true)
		_, err = e.rc.RecordReturnReceipt(ctx, req)
		wantReason(t, err, codes.Unavailable, commonv1.ErrorReason_ERROR_REASON_DEPENDENCY_UNAVAILABLE)
		e.pricing.SetDown(false)
		var replacement string
		for i := range 3 {
			res, err := e.rc.RecordReturnReceipt(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			got := res.GetReturnAuthorization()
			if !res.GetDuplicate() || got.GetReplacementOrderId() == "" || got.GetCreditTotal().GetAmountMinor() != 0 {
				t.Fatalf("retry %d: duplicate %v replacement %q credit %d", i, res.GetDuplicate(), got.GetReplacementOrderId(), got.GetCreditTotal().GetAmountMinor())
			}
			if replacement != "" && got.GetReplacementOrderId() != replacement {
				t.Fatalf("retry %d placed another replacement %s (first %s)", i, got.GetReplacementOrderId(), replacement)
			}
			replacement = got.GetReplacementOrderId()
		}
		after, _ := e.counts(t)
		if after != before+1 {
			t.Errorf("orders %d → %d, want exactly one replacement", before, after)
		}
		o := e.get(t, replacement)
		if o.GetCustomerId() != "C0005" || len(o.GetLines()) != 1 || o.GetLines()[0].GetSku() != "SKU-00500" || o.GetLines()[0].GetQuantity() != 2 ||
			o.GetCreateRequestId() != order.ReplacementRequestID(ra.GetReturnAuthorizationId()) {
			t.Errorf("replacement order = %v", o)
		}
		// At no charge, as the storefront contract says: every line at
		// zero, its price rule saying why, and so is its shipment's
		// invoice.
		rule := order.ReplacementPriceRule(ra.GetReturnAuthorizationId())
		if l := o.GetLines()[0]; l.GetUnitPrice().GetAmountMinor() != 0 || l.GetExtendedPrice().GetAmountMinor() != 0 || l.GetPriceRuleId() != rule {
			t.Errorf("replacement line %v, want 0 at rule %s", l, rule)
		}
		if o.GetTotals().GetSubtotal().GetAmountMinor() != 0 || o.GetTotals().GetTotal().GetAmountMinor() != 0 {
			t.Errorf("replacement totals %v, want 0", o.GetTotals())
		}
		alloc := e.waitState(t, replacement, orderv1.Order_STATE_CONFIRMED).GetLines()[0].GetAllocations()[0]
		if _, err := e.client.RecordShipmentProgress(ctx, progress(replacement, "repl-ship", "S-R", alloc.GetWarehouseId(),
			orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_SHIPPED, map[string]int64{"1": alloc.GetAllocatedQuantity()})); err != nil {
			t.Fatal(err)
		}
		docs, err := e.store.(order.DocumentReader).ListDocuments(ctx, replacement)
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) != 1 || docs[0].Kind != order.DocumentInvoice || len(docs[0].Lines) != 1 ||
			docs[0].Lines[0].AmountMinor != 0 || docs[0].Lines[0].TaxMinor != 0 || docs[0].Lines[0].Quantity != alloc.GetAllocatedQuantity() {
			t.Errorf("replacement invoice %+v, want one line of %d at zero", docs, alloc.GetAllocatedQuantity())
		}
	})
}

// wantSubjects checks the outbox events of a return, in order.
func wantSubjects(t *testing.T, e *returnsEnv, returnID string, want ...string) {
	t.Helper()
	rows, err := e.db.SQL().QueryContext(t.Context(), e.db.Rebind(
		`SELECT subject FROM outbox_events WHERE aggregate_type = 'return_authorization' AND aggregate_id = ? ORDER BY aggregate_seq`), returnID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("return %s events %v, want %v", returnID, got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("return %s events %v, want %v", returnID, got, want)
		}
	}
}

// TestReturnCreditedWhenPosted: a fully received refund return whose
// credit memo the poster posted becomes CREDITED with the ERP number and
// then CLOSED, with both events; a partly received one, or one whose memo
// is not posted yet, stays RECEIVED and does not hide the later ones from
// the scan.
func TestReturnCreditedWhenPosted(t *testing.T) {
	t.Parallel()
	forEachReturnsEngine(t, order.ReturnConfig{AutoApproveMaxMinor: 1_000_000}, func(t *testing.T, e *returnsEnv) {
		ctx := t.Context()
		id := e.deliveredOrder(t, "credit", "C0006")
		full, err := e.rc.CreateReturnAuthorization(ctx, returnReq(id, "r-full", rl{"1", 2, refund}))
		if err != nil {
			t.Fatal(err)
		}
		part, err := e.rc.CreateReturnAuthorization(ctx, returnReq(id, "r-part", rl{"1", 2, refund}))
		if err != nil {
			t.Fatal(err)
		}
		for _, rc := range []struct {
			ra    *orderv1.ReturnAuthorization
			event string
			qty   int64
		}{{part, "rcv-part", 1}, {full, "rcv-full", 2}} { // the partly received return is the older change
			if _, err := e.rc.RecordReturnReceipt(ctx, &orderv1.RecordReturnReceiptRequest{
				Name: rc.ra.GetName(), EventId: rc.event, WarehouseId: "WH-HAM", ReceiveTime: timestamppb.Now(),
				Lines: []*orderv1.ReceivedReturnLine{{LineId: "1", ReceivedQuantity: rc.qty, Disposition: orderv1.Disposition_DISPOSITION_RESTOCK}},
			}); err != nil {
				t.Fatal(err)
			}
		}
		credit := func(want int) {
			t.Helper()
			// Pages of one: the partly received return, first in the
			// scan, must not hide the completable one behind it.
			if n, err := e.returns.CreditPosted(ctx, 1); err != nil || n != want {
				t.Fatalf("CreditPosted = %d, %v; want %d", n, err, want)
			}
		}
		credit(0) // nothing posted yet
		for _, doc := range []string{order.CreditMemoID(full.GetReturnAuthorizationId(), "rcv-full"), order.CreditMemoID(part.GetReturnAuthorizationId(), "rcv-part")} {
			if _, err := e.db.SQL().ExecContext(ctx, e.db.Rebind(
				`UPDATE document_lines SET posting_state = 2, erp_document_number = ? WHERE document_id = ?`), "CM-"+doc, doc); err != nil {
				t.Fatal(err)
			}
		}
		credit(1) // the partly received return waits for the rest
		credit(0)
		got, err := e.rc.GetReturnAuthorization(ctx, &orderv1.GetReturnAuthorizationRequest{Name: full.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		wantRef := "CM-" + order.CreditMemoID(full.GetReturnAuthorizationId(), "rcv-full")
		if got.GetState() != orderv1.ReturnAuthorization_STATE_CLOSED || got.GetCreditMemoReference() != wantRef ||
			got.GetCreditTime() == nil || got.GetCreditTotal().GetAmountMinor() != 2*50_000 {
			t.Errorf("credited return: %s ref %q credit %d", got.GetState(), got.GetCreditMemoReference(), got.GetCreditTotal().GetAmountMinor())
		}
		wantSubjects(t, e, full.GetReturnAuthorizationId(), "transload.order.return_requested", "transload.order.return_authorized",
			"transload.order.return_received", "transload.order.return_credited", "transload.order.return_closed")
		if p, err := e.rc.GetReturnAuthorization(ctx, &orderv1.GetReturnAuthorizationRequest{Name: part.GetName()}); err != nil ||
			p.GetState() != orderv1.ReturnAuthorization_STATE_RECEIVED {
			t.Errorf("partly received return: %s, %v", p.GetState(), err)
		}
	})
}
