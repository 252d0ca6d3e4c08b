package grpcapi_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/services/erpsim/internal/erp"
	"github.com/transload/transload/services/erpsim/internal/faults"
)

func TestFaultDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.faults.Set(faults.State{Down: true})

	_, err := e.client.GetCustomer(callCtx(t), &erpv1.GetCustomerRequest{Name: "customers/C0001"})
	wantStatus(t, err, codes.Unavailable, erpv1.ErrorReason_ERROR_REASON_ERP_UNAVAILABLE)
	_, err = e.client.SubmitSalesOrder(callCtx(t), &erpv1.SubmitSalesOrderRequest{SalesOrderId: "ord-down",
		SalesOrder: salesOrder("C0001", "web", line{"SKU-00001", 1, erp.StandardPriceMinor(1)})})
	wantStatus(t, err, codes.Unavailable, erpv1.ErrorReason_ERROR_REASON_ERP_UNAVAILABLE)
	stream, err := e.client.StreamCatalogExport(callCtx(t), &erpv1.StreamCatalogExportRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	wantStatus(t, err, codes.Unavailable, erpv1.ErrorReason_ERROR_REASON_ERP_UNAVAILABLE)

	// The simulator itself stays healthy while the simulated ERP is down.
	h, err := healthpb.NewHealthClient(e.conn).Check(callCtx(t), &healthpb.HealthCheckRequest{})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health while down = %v, %v", h, err)
	}
	if orders, _ := e.svc.SalesOrders(t.Context()); len(orders) != 0 {
		t.Errorf("a down ERP recorded %d sales orders", len(orders))
	}

	e.faults.Set(faults.State{})
	res := submit(t, e, "ord-down", salesOrder("C0001", "web", line{"SKU-00001", 1, erp.StandardPriceMinor(1)}))
	if res.GetOutcome() != erpv1.SubmitSalesOrderResponse_OUTCOME_ACCEPTED || res.GetDuplicate() {
		t.Errorf("submit after recovery = %v", res)
	}
}

func TestFaultSlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.faults.Set(faults.State{Slow: time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := e.client.GetCustomer(ctx, &erpv1.GetCustomerRequest{Name: "customers/C0001"})
	wantStatus(t, err, codes.DeadlineExceeded, nil)
	_, err = e.client.SubmitSalesOrder(ctx, &erpv1.SubmitSalesOrderRequest{SalesOrderId: "ord-slow",
		SalesOrder: salesOrder("C0001", "web", line{"SKU-00001", 1, erp.StandardPriceMinor(1)})})
	wantStatus(t, err, codes.DeadlineExceeded, nil)
	if orders, _ := e.svc.SalesOrders(t.Context()); len(orders) != 0 {
		t.Errorf("a call that timed out in the slow ERP recorded %d sales orders", len(orders))
	}

	const delay = 50 * time.Millisecond
	e.faults.Set(faults.State{Slow: delay})
	start := time.Now()
	if _, err := e.client.GetCustomer(callCtx(t), &erpv1.GetCustomerRequest{Name: "customers/C0001"}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("slow call took %s, want at least %s", took, delay)
	}
}

func TestFaultRejectNext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.faults.Set(faults.State{RejectNext: 2, RejectReason: erp.RejectCreditLimit})
	so := func() *erpv1.SalesOrder {
		return salesOrder("C0001", "web", line{"SKU-00001", 1, erp.StandardPriceMinor(1)})
	}
	creditLimit := erpv1.SalesOrderRejectionReason_SALES_ORDER_REJECTION_REASON_CREDIT_LIMIT

	first := submit(t, e, "ord-rej-1", so())
	if first.GetOutcome() != erpv1.SubmitSalesOrderResponse_OUTCOME_REJECTED || first.GetRejectionReason() != creditLimit || first.GetRejectionMessage() == "" {
		t.Fatalf("first = %v, want REJECTED CREDIT_LIMIT", first)
	}
	// A duplicate repeats the rejection without using up an injected one.
	if dup := submit(t, e, "ord-rej-1", so()); !dup.GetDuplicate() || dup.GetRejectionReason() != creditLimit {
		t.Errorf("duplicate = %v", dup)
	}
	if got := e.faults.Get().RejectNext; got != 1 {
		t.Errorf("rejectNext after one new order and a duplicate = %d, want 1", got)
	}
	if second := submit(t, e, "ord-rej-2", so()); second.GetRejectionReason() != creditLimit {
		t.Errorf("second = %v, want REJECTED CREDIT_LIMIT", second)
	}
	if third := submit(t, e, "ord-rej-3", so()); third.GetOutcome() != erpv1.SubmitSalesOrderResponse_OUTCOME_ACCEPTED {
		t.Errorf("third = %v, want ACCEPTED once the injected rejections are used up", third)
	}
	if got := e.faults.Get().RejectNext; got != 0 {
		t.Errorf("rejectNext = %d, want 0", got)
	}
}
