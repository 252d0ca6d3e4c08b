package grpcapi_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/services/erpsim/internal/erp"
	"github.com/transload/transload/services/erpsim/internal/faults"
)

// TestFaultLoseAnswers: with loseAnswers armed the ERP commits the sales
// order and the caller gets ERP_TIMEOUT; the resubmission is answered as a
// duplicate with the original outcome, and the ERP holds one sales order.
// Only submissions use the fault up.
func TestFaultLoseAnswers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.faults.Set(faults.State{LoseAnswers: 1})
	if _, err := e.client.GetCustomer(callCtx(t), &erpv1.GetCustomerRequest{Name: "customers/C0001"}); err != nil {
		t.Fatalf("a read with loseAnswers armed: %v", err)
	}
	so := salesOrder("C0001", "web", line{"SKU-00001", 1, erp.StandardPriceMinor(1)})
	_, err := e.client.SubmitSalesOrder(callCtx(t), &erpv1.SubmitSalesOrderRequest{SalesOrderId: "ord-lost", SalesOrder: so})
	wantStatus(t, err, codes.DeadlineExceeded, erpv1.ErrorReason_ERROR_REASON_ERP_TIMEOUT)
	if n := e.faults.Get().LoseAnswers; n != 0 {
		t.Errorf("loseAnswers after one lost answer = %d, want 0", n)
	}
	orders, err := e.svc.SalesOrders(t.Context())
	if err != nil || len(orders) != 1 {
		t.Fatalf("sales orders after the lost answer = %d (%v), want 1 (committed)", len(orders), err)
	}
	res := submit(t, e, "ord-lost", so)
	if res.GetOutcome() != erpv1.SubmitSalesOrderResponse_OUTCOME_ACCEPTED || !res.GetDuplicate() {
		t.Errorf("resubmission = %v, want ACCEPTED as a duplicate", res)
	}
	if orders, _ := e.svc.SalesOrders(t.Context()); len(orders) != 1 {
		t.Errorf("sales orders after the resubmission = %d, want 1", len(orders))
	}
}

// TestFaultLoseAnswersKeptOnFailure: a submission the ERP refuses anyway
// (an invalid sales order) commits nothing, so it does not use up a lost
// answer; its own error goes out.
func TestFaultLoseAnswersKeptOnFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.faults.Set(faults.State{LoseAnswers: 1})
	_, err := e.client.SubmitSalesOrder(callCtx(t), &erpv1.SubmitSalesOrderRequest{SalesOrderId: "ord-invalid",
		SalesOrder: salesOrder("C0001", "web")})
	if code := status.Code(err); code != codes.InvalidArgument {
		t.Fatalf("an order without lines = %v, want INVALID_ARGUMENT", err)
	}
	if n := e.faults.Get().LoseAnswers; n != 1 {
		t.Errorf("loseAnswers after a failed submission = %d, want 1", n)
	}
}
