package grpcapi_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/order/internal/erpclient"
	"github.com/transload/transload/services/order/internal/order"
)

func wantReason(t *testing.T, err error, code codes.Code, reason apierr.Reason) map[string]string {
	t.Helper()
	if status.Code(err) != code || !apierr.HasReason(err, reason) {
		t.Fatalf("err = %v (reason %q), want %s with %s", err, apierr.ReasonOf(err), code, reason)
	}
	return apierr.Info(err).GetMetadata()
}

func TestCreateOrderHappyPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var hdr metadata.MD
	res, err := e.client.CreateOrder(t.Context(), createReq("r-1", "C0001", line{"SKU-00001", 5}, line{"SKU-00500", 6}), grpc.Header(&hdr))
	if err != nil {
		t.Fatal(err)
	}
	o := res.GetOrder()
	if res.GetReplayed() || len(hdr.Get("idempotent-replayed")) != 0 {
		t.Error("a first call must not be a replay")
	}
	if o.GetState() != orderv1.Order_STATE_ACCEPTED_PENDING_ERP {
		t.Errorf("state = %s, want ACCEPTED_PENDING_ERP", o.GetState())
	}
	if o.GetName() != "orders/"+o.GetOrderId() || o.GetCreateRequestId() != "r-1" || o.GetReservationId() == "" {
		t.Errorf("identity fields: %+v", o)
	}
	// SKU-00001 costs 100, SKU-00500 50000 cents in the fake catalog.
	if got, want := o.GetTotals().GetTotal().GetAmountMinor(), int64(5*100+6*50000); got != want {
		t.Errorf("total = %d, want %d", got, want)
	}
	type alloc struct {
		wh string
		q  int64
	}
	var got []alloc
	for _, a := range o.GetLines()[1].GetAllocations() {
		got = append(got, alloc{a.GetWarehouseId(), a.GetAllocatedQuantity()})
	}
	if diff := cmp.Diff([]alloc{{"WH-HAM", 4}, {"WH-MUC", 2}}, got, cmp.AllowUnexported(alloc{})); diff != "" {
		t.Errorf("SKU-00500 allocations (-want +got):\n%s", diff)
	}
	confirmed := e.waitState(t, o.GetOrderId(), orderv1.Order_STATE_CONFIRMED)
	if confirmed.GetErpOrderReference() == "" || confirmed.GetConfirmTime() == nil {
		t.Errorf("confirmed order lacks ERP reference or confirm time: %+v", confirmed)
	}
	if diff := cmp.Diff([]string{o.GetOrderId()}, e.erp.Accepted()); diff != "" {
		t.Errorf("ERP sales orders (-want +got):\n%s", diff)
	}
	e.waitSubjects(t, o.GetOrderId(), eventstreams.OrderAccepted, eventstreams.OrderConfirmed)
	if n := len(confirmed.GetStateHistory()); n != 2 {
		t.Errorf("history has %d entries, want 2", n)
	}
}

func TestCreateOrderConcurrentSameRequestID(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		const n = 20
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			ids      = map[string]int{}
			replayed int
			headers  int
		)
		for range n {
			wg.Go(func() {
				var hdr metadata.MD
				res, err := e.client.CreateOrder(t.Context(), createReq("same-key", "C0002", line{"SKU-00010", 1}), grpc.Header(&hdr))
				if err != nil {
					t.Errorf("CreateOrder: %v", err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				ids[res.GetOrder().GetOrderId()]++
				if res.GetReplayed() {
					replayed++
				}
				if slices.Equal(hdr.Get("idempotent-replayed"), []string{"true"}) {
					headers++
				}
			})
		}
		wg.Wait()
		if len(ids) != 1 || replayed != n-1 || headers != n-1 {
			t.Fatalf("order ids %v, %d replayed, %d replay headers; want one order, %d replays", ids, replayed, headers, n-1)
		}
		if orders, reservations := e.counts(t); orders != 1 || reservations != 1 {
			t.Fatalf("%d orders and %d reservations exist, want 1 and 1", orders, reservations)
		}
	})
}

func TestCreateOrderIdempotency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first, err := e.client.CreateOrder(t.Context(), createReq("k", "C0003", line{"SKU-00003", 2}))
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.client.CreateOrder(t.Context(), createReq("k", "C0003", line{"SKU-00003", 2}))
	if err != nil {
		t.Fatal(err)
	}
	if !again.GetReplayed() || again.GetOrder().GetOrderId() != first.GetOrder().GetOrderId() {
		t.Errorf("same key same payload: replayed=%v id=%s, want the original %s", again.GetReplayed(),
			again.GetOrder().GetOrderId(), first.GetOrder().GetOrderId())
	}
	_, err = e.client.CreateOrder(t.Context(), createReq("k", "C0003", line{"SKU-00003", 3}))
	wantReason(t, err, codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED)
	if n := e.inventory.ReservationCount(); n != 1 {
		t.Errorf("%d reservations, want 1", n)
	}
}

func TestCreateOrderRejections(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()

	t.Run("credit hold", func(t *testing.T) {
		_, err := e.client.CreateOrder(ctx, createReq("hold-1", "C0020", line{"SKU-00001", 1}))
		md := wantReason(t, err, codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_CUSTOMER_ON_CREDIT_HOLD)
		if md["customer_id"] != "C0020" {
			t.Errorf("metadata = %v", md)
		}
		// The rejection is the stored result of the request id.
		_, err = e.client.CreateOrder(ctx, createReq("hold-1", "C0020", line{"SKU-00001", 1}))
		wantReason(t, err, codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_CUSTOMER_ON_CREDIT_HOLD)
	})
	t.Run("unknown customer", func(t *testing.T) {
		_, err := e.client.CreateOrder(ctx, createReq("nobody", "C9999", line{"SKU-00001", 1}))
		wantReason(t, err, codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_CUSTOMER_NOT_FOUND)
	})
	t.Run("out of stock", func(t *testing.T) {
		_, err := e.client.CreateOrder(ctx, createReq("oos", "C0001", line{"SKU-00001", 1}, line{"SKU-00500", 11}))
		md := wantReason(t, err, codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_OUT_OF_STOCK)
		if diff := cmp.Diff(map[string]string{"sku": "SKU-00500", "requested": "11", "available": "10"}, md); diff != "" {
			t.Errorf("metadata (-want +got):\n%s", diff)
		}
		var subjects []string
		for _, d := range status.Convert(err).Details() {
			if pf, ok := d.(*errdetails.PreconditionFailure); ok {
				for _, v := range pf.GetViolations() {
					subjects = append(subjects, v.GetType()+":"+v.GetSubject())
				}
			}
		}
		if !slices.Equal(subjects, []string{"OUT_OF_STOCK:SKU-00500"}) {
			t.Errorf("precondition failures = %v", subjects)
		}
	})
	t.Run("unknown SKU", func(t *testing.T) {
		_, err := e.client.CreateOrder(ctx, createReq("unknown-sku", "C0001", line{"SKU-00001", 1}, line{"NOPE-1", 1}))
		md := wantReason(t, err, codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_UNKNOWN_SKU)
		if md["sku"] != "NOPE-1" || md["line_index"] != "1" {
			t.Errorf("metadata = %v", md)
		}
		vs := apierr.FieldViolations(err)
		if len(vs) != 1 || vs[0].Field != "lines[1].sku" {
			t.Errorf("field violations = %+v, want lines[1].sku", vs)
		}
	})
	t.Run("duplicate SKU", func(t *testing.T) {
		_, err := e.client.CreateOrder(ctx, createReq("dup", "C0001", line{"SKU-00001", 1}, line{"SKU-00001", 2}))
		wantReason(t, err, codes.InvalidArgument, orderv1.ErrorReason_ERROR_REASON_DUPLICATE_SKU)
	})
	t.Run("price changed", func(t *testing.T) {
		r := createReq("price", "C0001", line{"SKU-00002", 1})
		r.ExpectedTotal = &commonv1.Money{AmountMinor: 199, CurrencyCode: "EUR"}
		md := wantReason(t, func() error { _, err := e.client.CreateOrder(ctx, r); return err }(),
			codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_PRICE_CHANGED)
		if md["actual_minor"] != "200" {
			t.Errorf("metadata = %v", md)
		}
	})
	t.Run("validation", func(t *testing.T) {
		_, err := e.client.CreateOrder(ctx, createReq("", "C0001", line{"SKU-00001", 0}))
		wantReason(t, err, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
	})
	if orders, reservations := e.counts(t); orders != 0 || reservations != 0 {
		t.Errorf("rejected requests left %d orders and %d reservations", orders, reservations)
	}
}

func TestCreateOrderDependencyDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()

	// No snapshot and the ERP down: UNAVAILABLE, nothing reserved.
	e.erp.SetDown(true)
	_, err := e.client.CreateOrder(ctx, createReq("cold", "C0004", line{"SKU-00001", 1}))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("ERP down without snapshot: err = %v, want UNAVAILABLE", err)
	}
	e.erp.SetDown(false)
	// The request id was not used up by the outage.
	retryWhileUnavailable(t, "a retry after the ERP came back", func() error {
		_, err := e.client.CreateOrder(ctx, createReq("cold", "C0004", line{"SKU-00001", 1}))
		return err
	})

	// Inventory down: UNAVAILABLE and no reservation stays.
	e.inventory.SetDown(true)
	_, err = e.client.CreateOrder(ctx, createReq("inv-down", "C0004", line{"SKU-00001", 1}))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("inventory down: err = %v, want UNAVAILABLE", err)
	}
	e.inventory.SetDown(false)
	// The failures opened inventory's breaker; retry until it lets calls
	// through again.
	var res *orderv1.CreateOrderResponse
	retryWhileUnavailable(t, "a retry after inventory came back", func() error {
		res, err = e.client.CreateOrder(ctx, createReq("inv-down", "C0004", line{"SKU-00001", 1}))
		return err
	})
	if res.GetReplayed() {
		t.Error("the retry after an outage must create the order, not replay")
	}

	// Pricing down: UNAVAILABLE.
	e.pricing.SetDown(true)
	_, err = e.client.CreateOrder(ctx, createReq("price-down", "C0004", line{"SKU-00001", 1}))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("pricing down: err = %v, want UNAVAILABLE", err)
	}
	e.pricing.SetDown(false)
	if n := e.inventory.ReservationCount(); n != 2 {
		t.Errorf("%d reservations, want 2 (one per accepted order)", n)
	}
}

// TestERPDownQueuesAndDrainsInOrder: orders placed while the ERP is down
// queue and reach it once each when it is back; with one lane
// (ORDER_QUEUE_CONCURRENCY=1, the behaviour before the lanes) in creation
// order across customers.
func TestERPDownQueuesAndDrainsInOrder(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		// A first order while the ERP is up leaves a customer snapshot.
		warm := e.createConfirmed(t, createReq("warm", "C0005", line{"SKU-00001", 1}))

		// The snapshot sync covers customers that never ordered.
		if n, err := e.svc.SyncCustomers(ctx); err != nil || n != 11 {
			t.Fatalf("SyncCustomers = %d, %v; want 11 customers", n, err)
		}
		e.erp.SetDown(true)
		// A customer who never ordered, then four more orders, all while the
		// ERP is down.
		ids := []string{e.create(t, createReq("never-ordered", "C0010", line{"SKU-00009", 1})).GetOrderId()}
		for i := range 4 {
			o := e.create(t, createReq(fmt.Sprintf("down-%d", i), fmt.Sprintf("C000%d", 5+i%2), line{fmt.Sprintf("SKU-%05d", i+1), 1}))
			if o.GetState() != orderv1.Order_STATE_ACCEPTED_PENDING_ERP {
				t.Fatalf("state = %s", o.GetState())
			}
			ids = append(ids, o.GetOrderId())
		}
		// The worker keeps failing; the orders stay pending and record it.
		wait.Eventually(t, waitTimeout, "a failed ERP attempt on the first pending order", func() error {
			n := e.get(t, ids[0]).GetErpSubmission().GetAttemptCount()
			return wait.Check(n > 0, "%d attempts", n)
		})
		for _, id := range ids {
			if st := e.get(t, id).GetState(); st != orderv1.Order_STATE_ACCEPTED_PENDING_ERP {
				t.Fatalf("%s is %s while the ERP is down", id, st)
			}
		}
		e.erp.SetDown(false)
		for _, id := range ids {
			e.waitState(t, id, orderv1.Order_STATE_CONFIRMED)
		}
		want := append([]string{warm}, ids...)
		if diff := cmp.Diff(want, e.erp.Accepted()); diff != "" {
			t.Errorf("ERP sales orders, in creation order, once each (-want +got):\n%s", diff)
		}
		for _, id := range ids {
			if n := slices.Index(e.erp.SubmitCalls(), id); n < 0 {
				t.Errorf("%s never reached the ERP", id)
			}
		}
		if n, _ := e.erp.Concurrency(); n != 1 {
			t.Errorf("%d ERP calls at once with one lane", n)
		}
	}, withQueueConcurrency(1))
}

func TestERPRejectionReleasesReservation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.erp.RejectCustomer("C0006", erpv1.SalesOrderRejectionReason_SALES_ORDER_REJECTION_REASON_CREDIT_LIMIT)
	before := e.inventory.Available("SKU-00500", "WH-HAM")
	res, err := e.client.CreateOrder(t.Context(), createReq("rej", "C0006", line{"SKU-00500", 2}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.GetOrder().GetOrderId()
	o := e.waitState(t, id, orderv1.Order_STATE_REJECTED)
	if r := o.GetRejection(); r.GetReason() != orderv1.OrderRejection_REASON_CREDIT_LIMIT_EXCEEDED || r.GetMessage() == "" ||
		r.GetErpCode() != "SALES_ORDER_REJECTION_REASON_CREDIT_LIMIT" {
		t.Errorf("rejection = %+v", r)
	}
	waitEqual(t, "reservation released", e.inventory.Releases, []string{res.GetOrder().GetReservationId()})
	if got := e.inventory.Available("SKU-00500", "WH-HAM"); got != before {
		t.Errorf("available after release = %d, want %d", got, before)
	}
	e.waitSubjects(t, id, eventstreams.OrderAccepted, eventstreams.OrderRejected)
	// Never retried: one submission only.
	if calls := e.erp.SubmitCalls(); len(calls) != 1 {
		t.Errorf("ERP submissions = %v, want exactly one", calls)
	}
}

// TestSlowOwnerKeepsItsClaim: the owner renews its lease while a neighbour
// is slow, so a concurrent duplicate waits for it instead of taking over.
func TestSlowOwnerKeepsItsClaim(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withoutWorker, func(o *envOptions) {
		o.cfg = order.Config{ClaimLease: 300 * time.Millisecond, ClaimWait: 5 * time.Second}
	})
	e.inventory.SetReserveDelay(time.Second)
	ctx := t.Context()
	req := createReq("slow", "C0001", line{"SKU-00001", 1})
	var wg sync.WaitGroup
	res := make([]*orderv1.CreateOrderResponse, 2)
	for i := range res {
		wg.Go(func() {
			if i == 1 {
				// Start once the first call is inside the slow reservation.
				waitEqual(t, "the first call reserving", e.inventory.ReserveCalls, 1)
			}
			r, err := e.client.CreateOrder(ctx, req)
			if err != nil {
				t.Errorf("call %d: %v", i, err)
				return
			}
			res[i] = r
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if res[0].GetOrder().GetOrderId() != res[1].GetOrder().GetOrderId() || res[0].GetReplayed() || !res[1].GetReplayed() {
		t.Errorf("first %s (replayed %v), second %s (replayed %v)", res[0].GetOrder().GetOrderId(), res[0].GetReplayed(),
			res[1].GetOrder().GetOrderId(), res[1].GetReplayed())
	}
	if n := e.inventory.ReserveCalls(); n != 1 {
		t.Errorf("%d ReserveStock calls, want 1 (no takeover of a live owner)", n)
	}
}

// TestTwoWorkersOneLeader: two workers on one database (two replicas) drain
// the queue through one lease holder: every order reaches the ERP once,
// each customer's in creation order.
func TestTwoWorkersOneLeader(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		second := order.NewWorker(workerConfig, e.svc, erpclient.New(e.erpConn))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = second.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })

		var ids []string
		want := map[string][]string{}
		for i := range 12 {
			customer := fmt.Sprintf("C%04d", 1+i%3)
			res, err := e.client.CreateOrder(t.Context(), createReq(fmt.Sprintf("two-%d", i), customer, line{"SKU-00001", 1}))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, res.GetOrder().GetOrderId())
			want[customer] = append(want[customer], "submit:"+res.GetOrder().GetOrderId())
		}
		for _, id := range ids {
			e.waitState(t, id, orderv1.Order_STATE_CONFIRMED)
		}
		if diff := cmp.Diff(want, e.erp.CallsByCustomer()); diff != "" {
			t.Errorf("ERP calls per customer (-want +got):\n%s", diff)
		}
		if calls := e.erp.SubmitCalls(); len(calls) != len(ids) {
			t.Errorf("%d submissions for %d orders: %v", len(calls), len(ids), calls)
		}
	})
}
