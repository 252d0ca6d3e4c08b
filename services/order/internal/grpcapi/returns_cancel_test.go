package grpcapi_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/services/order/internal/grpcapi"
	"github.com/transload/transload/services/order/internal/order"
)

// receiveOne records a receipt of one unit of line 1 of return name.
func (e *returnsEnv) receiveOne(t *testing.T, name, event string) (*orderv1.RecordReturnReceiptResponse, error) {
	t.Helper()
	return e.rc.RecordReturnReceipt(t.Context(), &orderv1.RecordReturnReceiptRequest{
		Name: name, EventId: event, WarehouseId: "WH-HAM", ReceiveTime: timestamppb.New(e.clock.now()),
		Lines: []*orderv1.ReceivedReturnLine{{LineId: "1", ReceivedQuantity: 1, Disposition: orderv1.Disposition_DISPOSITION_RESTOCK}},
	})
}

// TestReturnCancelAuthorized: an AUTHORIZED return whose goods never
// arrived closes on CancelReturnAuthorization with a return_closed event
// and an audit record by the operator, frees its quantity, and is
// idempotent on request_id; a requested, received or closed return
// cannot be cancelled (FAILED_PRECONDITION, INVALID_STATE_TRANSITION).
func TestReturnCancelAuthorized(t *testing.T) {
	t.Parallel()
	forEachReturnsEngine(t, order.ReturnConfig{AutoApproveMaxMinor: 1_000_000}, func(t *testing.T, e *returnsEnv) {
		ctx := t.Context()
		id := e.deliveredOrder(t, "cancel", "C0003")
		ra, err := e.rc.CreateReturnAuthorization(ctx, returnReq(id, "r-1", rl{"1", 2, refund}))
		if err != nil || ra.GetState() != orderv1.ReturnAuthorization_STATE_AUTHORIZED {
			t.Fatalf("create = %s, %v", ra.GetState(), err)
		}
		cancel := func(name, requestID, reason string) (*orderv1.ReturnAuthorization, metadata.MD, error) {
			var md metadata.MD
			r, err := e.rc.CancelReturnAuthorization(ctx, &orderv1.CancelReturnAuthorizationRequest{
				Name: name, RequestId: requestID, Reason: reason}, grpc.Header(&md))
			return r, md, err
		}
		// Named under another order: NOT_FOUND, nothing changes.
		_, _, err = cancel("orders/O-other/returnAuthorizations/"+ra.GetReturnAuthorizationId(), "c-x", "")
		wantReason(t, err, codes.NotFound, orderv1.ErrorReason_ERROR_REASON_RETURN_NOT_FOUND)
		got, md, err := cancel(ra.GetName(), "c-1", "parcel lost")
		if err != nil || got.GetState() != orderv1.ReturnAuthorization_STATE_CLOSED {
			t.Fatalf("cancel = %s, %v", got.GetState(), err)
		}
		if len(md.Get(grpcapi.ReplayedHeader)) != 0 {
			t.Error("first cancel marked replayed")
		}
		if h := got.GetStateHistory(); len(h) == 0 || h[len(h)-1].GetReason() != "parcel lost" {
			t.Errorf("history %v, want the cancel reason last", h)
		}
		again, md, err := cancel(ra.GetName(), "c-1", "parcel lost")
		if err != nil || again.GetEtag() != got.GetEtag() || len(md.Get(grpcapi.ReplayedHeader)) == 0 {
			t.Errorf("replayed cancel = %s %v, %v", again.GetEtag(), md, err)
		}
		_, _, err = cancel(ra.GetName(), "c-1", "another reason")
		wantReason(t, err, codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED)
		// A new request id on the closed return: not AUTHORIZED any more.
		_, _, err = cancel(ra.GetName(), "c-2", "")
		md2 := wantReason(t, err, codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_INVALID_STATE_TRANSITION)
		if md2["from"] != "STATE_CLOSED" {
			t.Errorf("transition metadata %v", md2)
		}
		// The closed return holds nothing: all 4 delivered units of line 1
		// may be returned again.
		next, err := e.rc.CreateReturnAuthorization(ctx, returnReq(id, "r-2", rl{"1", 4, refund}))
		if err != nil {
			t.Fatalf("return after a cancellation: %v", err)
		}
		// Received goods cannot be cancelled.
		if _, err := e.receiveOne(t, next.GetName(), "rcv-1"); err != nil {
			t.Fatal(err)
		}
		_, _, err = cancel(next.GetName(), "c-3", "")
		md2 = wantReason(t, err, codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_INVALID_STATE_TRANSITION)
		if md2["from"] != "STATE_RECEIVED" {
			t.Errorf("transition metadata %v", md2)
		}
		wantSubjects(t, e, ra.GetReturnAuthorizationId(), "transload.order.return_requested", "transload.order.return_authorized",
			"transload.order.return_closed")
		var audits []string
		for _, a := range e.auditsOf(t, ra.GetName()) {
			audits = append(audits, a.GetAction()+" by "+a.GetActor().GetKind())
		}
		if want := []string{"return_authorization.create by api_key", "return_authorization.cancel by operator"}; !slices.Equal(audits, want) {
			t.Errorf("audit trail %v, want %v", audits, want)
		}
	})
}

// TestReturnCancelRequested: a return still waiting for an operator
// cannot be cancelled (it is rejected instead).
func TestReturnCancelRequested(t *testing.T) {
	t.Parallel()
	e := newReturnsEnv(t, order.ReturnConfig{AutoApproveMaxMinor: -1})
	id := e.deliveredOrder(t, "cancel-req", "C0003")
	ra, err := e.rc.CreateReturnAuthorization(t.Context(), returnReq(id, "r-1", rl{"1", 1, refund}))
	if err != nil || ra.GetState() != orderv1.ReturnAuthorization_STATE_REQUESTED {
		t.Fatalf("create = %s, %v", ra.GetState(), err)
	}
	_, err = e.rc.CancelReturnAuthorization(t.Context(), &orderv1.CancelReturnAuthorizationRequest{Name: ra.GetName(), RequestId: "c-1"})
	md := wantReason(t, err, codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_INVALID_STATE_TRANSITION)
	if md["from"] != "STATE_REQUESTED" || md["to"] != "STATE_CLOSED" {
		t.Errorf("transition metadata %v", md)
	}
}

// TestReturnAuthorizationExpiry: with a TTL of an hour, the expiry closes
// the AUTHORIZED returns authorized more than an hour ago (as the return
// policy, audited as an expiry, with a return_closed event), paging past
// the first page, and leaves younger and received ones alone; it runs only
// on the replica holding the "return-expiry" lease.
func TestReturnAuthorizationExpiry(t *testing.T) {
	t.Parallel()
	forEachReturnsEngine(t, order.ReturnConfig{AutoApproveMaxMinor: 1_000_000, AuthorizationTTL: time.Hour}, func(t *testing.T, e *returnsEnv) {
		ctx := t.Context()
		id := e.deliveredOrder(t, "expire", "C0003")
		old1, err := e.rc.CreateReturnAuthorization(ctx, returnReq(id, "r-old1", rl{"1", 1, refund}))
		if err != nil {
			t.Fatal(err)
		}
		old2, err := e.rc.CreateReturnAuthorization(ctx, returnReq(id, "r-old2", rl{"1", 1, refund}))
		if err != nil {
			t.Fatal(err)
		}
		received, err := e.rc.CreateReturnAuthorization(ctx, returnReq(id, "r-rcv", rl{"1", 1, refund}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.receiveOne(t, received.GetName(), "rcv-1"); err != nil {
			t.Fatal(err)
		}
		e.clock.advance(40 * time.Minute)
		young, err := e.rc.CreateReturnAuthorization(ctx, returnReq(id, "r-young", rl{"2", 1, refund}))
		if err != nil {
			t.Fatal(err)
		}
		e.clock.advance(21 * time.Minute)

		// Another replica holds the lease: this one expires nothing.
		if ok, err := e.store.AcquireLease(ctx, "return-expiry", "other-replica", e.clock.now(), e.clock.now().Add(time.Hour)); err != nil || !ok {
			t.Fatalf("take the lease: %v %v", ok, err)
		}
		runCtx, stop := context.WithTimeout(ctx, 300*time.Millisecond)
		if err := e.returns.RunExpiry(runCtx, 20*time.Millisecond, time.Minute); err != nil {
			t.Fatal(err)
		}
		stop()
		state := func(r *orderv1.ReturnAuthorization) *orderv1.ReturnAuthorization {
			g, err := e.rc.GetReturnAuthorization(ctx, &orderv1.GetReturnAuthorizationRequest{Name: r.GetName()})
			if err != nil {
				t.Fatal(err)
			}
			return g
		}
		if g := state(old1); g.GetState() != orderv1.ReturnAuthorization_STATE_AUTHORIZED {
			t.Fatalf("expired while another replica held the lease: %s", g.GetState())
		}

		n, err := e.returns.ExpireAuthorized(ctx, 1)
		if err != nil || n != 2 {
			t.Fatalf("expired %d, %v; want 2", n, err)
		}
		for _, r := range []*orderv1.ReturnAuthorization{old1, old2} {
			g := state(r)
			h := g.GetStateHistory()
			if g.GetState() != orderv1.ReturnAuthorization_STATE_CLOSED || h[len(h)-1].GetActor().GetKind() != "system" {
				t.Errorf("%s: %s by %v, want CLOSED by the return policy", r.GetReturnAuthorizationId(), g.GetState(), h[len(h)-1].GetActor())
			}
		}
		if g := state(young); g.GetState() != orderv1.ReturnAuthorization_STATE_AUTHORIZED {
			t.Errorf("young return %s, want AUTHORIZED", g.GetState())
		}
		if g := state(received); g.GetState() != orderv1.ReturnAuthorization_STATE_RECEIVED {
			t.Errorf("received return %s, want RECEIVED", g.GetState())
		}
		wantSubjects(t, e, old1.GetReturnAuthorizationId(), "transload.order.return_requested", "transload.order.return_authorized",
			"transload.order.return_closed")
		audits := e.auditsOf(t, old2.GetName())
		if last := audits[len(audits)-1]; last.GetAction() != "return_authorization.expire" || last.GetActor().GetKind() != "system" {
			t.Errorf("last audit %s by %v", last.GetAction(), last.GetActor())
		}
		if n, err := e.returns.ExpireAuthorized(ctx, 1); err != nil || n != 0 {
			t.Errorf("second pass expired %d, %v; want 0", n, err)
		}
	})
}
