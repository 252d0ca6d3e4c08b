package grpcapi_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/services/erpsim/internal/erp"
)

func TestGetCustomer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, err := e.client.GetCustomer(callCtx(t), &erpv1.GetCustomerRequest{Name: "customers/C0001"})
	if err != nil {
		t.Fatal(err)
	}
	if c.GetName() != "customers/C0001" || c.GetAccountState() != erpv1.Customer_ACCOUNT_STATE_ACTIVE ||
		c.GetCreditLimit().GetAmountMinor() != 6_000_000 || c.GetAvailableCredit().GetAmountMinor() != 6_000_000 ||
		c.GetDefaultCurrencyCode() != "EUR" || len(c.GetShipToAddresses()) != 1 || c.GetUpdateTime() == nil {
		t.Errorf("C0001 = %v", c)
	}
	if diff := cmp.Diff([]string{"b2b", "web"}, c.GetAllowedChannels()); diff != "" {
		t.Errorf("C0001 channels (-want +got):\n%s", diff)
	}
	hold, err := e.client.GetCustomer(callCtx(t), &erpv1.GetCustomerRequest{Name: "customers/" + erp.CreditHoldCustomer})
	if err != nil || hold.GetAccountState() != erpv1.Customer_ACCOUNT_STATE_CREDIT_HOLD {
		t.Errorf("C0020 = %v, %v; want CREDIT_HOLD", hold, err)
	}

	_, err = e.client.GetCustomer(callCtx(t), &erpv1.GetCustomerRequest{Name: "customers/C0999"})
	wantStatus(t, err, codes.NotFound, erpv1.ErrorReason_ERROR_REASON_CUSTOMER_NOT_FOUND)
	_, err = e.client.GetCustomer(callCtx(t), &erpv1.GetCustomerRequest{Name: "C0001"})
	wantStatus(t, err, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
}

func TestListCustomers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var names []string
	tok := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("too many pages")
		}
		res, err := e.client.ListCustomers(callCtx(t), &erpv1.ListCustomersRequest{PageSize: 8, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range res.GetCustomers() {
			names = append(names, c.GetName())
		}
		if tok = res.GetNextPageToken(); tok == "" {
			break
		}
	}
	if len(names) != 20 || names[0] != "customers/C0001" || names[19] != "customers/C0020" {
		t.Errorf("names = %v", names)
	}
	// An order changes the customer's open balance, so it shows up in an
	// incremental sync from after the seed.
	submit(t, e, "ord-sync", salesOrder("C0007", "web", line{"SKU-00001", 1, erp.StandardPriceMinor(1)}))
	res, err := e.client.ListCustomers(callCtx(t), &erpv1.ListCustomersRequest{MinUpdateTime: timestampAfterSeed()})
	if err != nil || len(res.GetCustomers()) != 1 || res.GetCustomers()[0].GetName() != "customers/C0007" {
		t.Errorf("incremental sync = %v, %v; want only C0007", res, err)
	}
}

// A page token is good only for the listing that made it: not for another
// watermark, not for another list.
func TestPageTokensAreBoundToTheirListing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	firstCustomers, err := e.client.ListCustomers(callCtx(t), &erpv1.ListCustomersRequest{PageSize: 1})
	firstWarehouses, err2 := e.client.ListWarehouses(callCtx(t), &erpv1.ListWarehousesRequest{PageSize: 1})
	customers, warehouses := firstCustomers.GetNextPageToken(), firstWarehouses.GetNextPageToken()
	if err != nil || err2 != nil || customers == "" || warehouses == "" {
		t.Fatalf("first pages: customers %q, %v; warehouses %q, %v; want next page tokens", customers, err, warehouses, err2)
	}
	for name, list := range map[string]func() error{
		"garbage": func() error {
			_, err := e.client.ListCustomers(callCtx(t), &erpv1.ListCustomersRequest{PageToken: "nope"})
			return err
		},
		"other watermark": func() error {
			_, err := e.client.ListCustomers(callCtx(t), &erpv1.ListCustomersRequest{PageToken: customers, MinUpdateTime: timestampAfterSeed()})
			return err
		},
		"watermark added": func() error {
			_, err := e.client.ListCustomers(callCtx(t), &erpv1.ListCustomersRequest{PageToken: customers, MinUpdateTime: timestamppb.New(erp.SeedTime)})
			return err
		},
		"warehouses token for customers": func() error {
			_, err := e.client.ListCustomers(callCtx(t), &erpv1.ListCustomersRequest{PageToken: warehouses})
			return err
		},
		"customers token for warehouses": func() error {
			_, err := e.client.ListWarehouses(callCtx(t), &erpv1.ListWarehousesRequest{PageToken: customers})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			wantStatus(t, list(), codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN)
		})
	}
}

func TestCheckCredit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name     string
		customer string
		amount   *commonv1.Money
		approved bool
		reason   erpv1.CreditDecisionReason
	}{
		{"within limit", "C0001", eur(100_00), true, erpv1.CreditDecisionReason_CREDIT_DECISION_REASON_WITHIN_LIMIT},
		{"exactly the limit", "C0001", eur(6_000_000), true, erpv1.CreditDecisionReason_CREDIT_DECISION_REASON_WITHIN_LIMIT},
		{"over the limit", "C0019", eur(1_000_01), false, erpv1.CreditDecisionReason_CREDIT_DECISION_REASON_CREDIT_LIMIT_EXCEEDED},
		{"credit hold", "C0020", eur(1), false, erpv1.CreditDecisionReason_CREDIT_DECISION_REASON_CREDIT_HOLD},
		{"foreign currency", "C0001", &commonv1.Money{AmountMinor: 1, CurrencyCode: "USD"}, false, erpv1.CreditDecisionReason_CREDIT_DECISION_REASON_CURRENCY_NOT_SUPPORTED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.client.CheckCredit(callCtx(t), &erpv1.CheckCreditRequest{Name: "customers/" + tt.customer, OrderAmount: tt.amount})
			if err != nil {
				t.Fatal(err)
			}
			if res.GetApproved() != tt.approved || res.GetReason() != tt.reason || res.GetCheckTime() == nil {
				t.Errorf("CheckCredit = %v, want approved=%v reason=%v", res, tt.approved, tt.reason)
			}
		})
	}
	_, err := e.client.CheckCredit(callCtx(t), &erpv1.CheckCreditRequest{Name: "customers/C0999", OrderAmount: eur(1)})
	wantStatus(t, err, codes.NotFound, erpv1.ErrorReason_ERROR_REASON_CUSTOMER_NOT_FOUND)
}

func TestSubmitSalesOrderOutcomes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p1 := erp.StandardPriceMinor(1)
	tests := []struct {
		name    string
		order   *erpv1.SalesOrder
		outcome erpv1.SubmitSalesOrderResponse_Outcome
		reason  erpv1.SalesOrderRejectionReason
	}{
		{"accepted", salesOrder("C0001", "web", line{"SKU-00001", 2, p1}, line{"SKU-00500", 1, erp.StandardPriceMinor(500)}),
			erpv1.SubmitSalesOrderResponse_OUTCOME_ACCEPTED, 0},
		{"credit hold", salesOrder("C0020", "b2b", line{"SKU-00001", 1, p1}),
			erpv1.SubmitSalesOrderResponse_OUTCOME_REJECTED, erpv1.SalesOrderRejectionReason_SALES_ORDER_REJECTION_REASON_CREDIT_HOLD},
		{"unknown customer", salesOrder("C0999", "web", line{"SKU-00001", 1, p1}),
			erpv1.SubmitSalesOrderResponse_OUTCOME_REJECTED, erpv1.SalesOrderRejectionReason_SALES_ORDER_REJECTION_REASON_UNKNOWN_CUSTOMER},
		{"unknown SKU", salesOrder("C0002", "web", line{"SKU-00001", 1, p1}, line{"SKU-99999", 1, 100}),
			erpv1.SubmitSalesOrderResponse_OUTCOME_REJECTED, erpv1.SalesOrderRejectionReason_SALES_ORDER_REJECTION_REASON_UNKNOWN_SKU},
		{"credit limit", salesOrder("C0019", "b2b", line{"SKU-00002", 100, erp.StandardPriceMinor(2)}),
			erpv1.SubmitSalesOrderResponse_OUTCOME_REJECTED, erpv1.SalesOrderRejectionReason_SALES_ORDER_REJECTION_REASON_CREDIT_LIMIT},
		{"channel not allowed", salesOrder("C0015", "web", line{"SKU-00001", 1, p1}),
			erpv1.SubmitSalesOrderResponse_OUTCOME_REJECTED, erpv1.SalesOrderRejectionReason_SALES_ORDER_REJECTION_REASON_OTHER},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "ord-outcome-" + string(rune('a'+i))
			res := submit(t, e, id, tt.order)
			if res.GetOutcome() != tt.outcome || res.GetRejectionReason() != tt.reason || res.GetDuplicate() {
				t.Fatalf("first submit = %v", res)
			}
			accepted := tt.outcome == erpv1.SubmitSalesOrderResponse_OUTCOME_ACCEPTED
			if accepted != (res.GetErpOrderNumber() != "") || accepted == (res.GetRejectionMessage() != "") {
				t.Errorf("erp number %q / rejection message %q do not fit the outcome", res.GetErpOrderNumber(), res.GetRejectionMessage())
			}
			if got := res.GetSalesOrder(); got.GetName() != "salesOrders/"+id || len(got.GetLines()) != len(tt.order.GetLines()) || got.GetCreateTime() == nil {
				t.Errorf("recorded sales order = %v", got)
			}
			again := submit(t, e, id, tt.order)
			if !again.GetDuplicate() {
				t.Errorf("resubmit not flagged duplicate")
			}
			again.Duplicate = false
			if diff := cmp.Diff(res, again, protocmp.Transform()); diff != "" {
				t.Errorf("resubmit differs from the original outcome (-first +again):\n%s", diff)
			}
			got, err := e.client.GetSalesOrder(callCtx(t), &erpv1.GetSalesOrderRequest{Name: "salesOrders/" + id})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(res.GetSalesOrder(), got, protocmp.Transform()); diff != "" {
				t.Errorf("GetSalesOrder (-submit +get):\n%s", diff)
			}
		})
	}
}

func TestSubmitSalesOrderConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	so := salesOrder("C0003", "web", line{"SKU-00042", 3, erp.StandardPriceMinor(42)})
	answers := make([]*erpv1.SubmitSalesOrderResponse, 20)
	var g errgroup.Group
	for i := range answers {
		g.Go(func() (err error) {
			answers[i], err = e.client.SubmitSalesOrder(callCtx(t), &erpv1.SubmitSalesOrderRequest{SalesOrderId: "ord-burst", SalesOrder: so})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("submit: %v", err)
	}
	numbers, firsts := map[string]int{}, 0
	for _, res := range answers {
		numbers[res.GetErpOrderNumber()]++
		if !res.GetDuplicate() {
			firsts++
		}
		if res.GetOutcome() != erpv1.SubmitSalesOrderResponse_OUTCOME_ACCEPTED {
			t.Errorf("outcome = %v", res.GetOutcome())
		}
	}
	if len(numbers) != 1 || firsts != 1 {
		t.Errorf("ERP order numbers %v, non-duplicate answers %d; want one number, one original", numbers, firsts)
	}
	orders, err := e.svc.SalesOrders(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(orders) != 1 || orders[0].Submissions != 20 {
		t.Errorf("sales orders = %d (submissions %d); want 1 with 20 submissions", len(orders), orders[0].Submissions)
	}
	if a, d := e.counter(t, "erpsim_sales_order_submissions_total", "accepted"), e.counter(t, "erpsim_sales_order_submissions_total", "duplicate"); a != 1 || d != 19 {
		t.Errorf("submission metrics: accepted %v, duplicate %v; want 1, 19", a, d)
	}
	c, err := e.client.GetCustomer(callCtx(t), &erpv1.GetCustomerRequest{Name: "customers/C0003"})
	if err != nil || c.GetOpenBalance().GetAmountMinor() != so.GetGrandTotal().GetAmountMinor() {
		t.Errorf("open balance = %v, %v; want the order booked once", c.GetOpenBalance(), err)
	}
}

func TestSubmitSalesOrderKeyReuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	submit(t, e, "ord-reuse", salesOrder("C0001", "web", line{"SKU-00001", 1, erp.StandardPriceMinor(1)}))
	_, err := e.client.SubmitSalesOrder(callCtx(t), &erpv1.SubmitSalesOrderRequest{SalesOrderId: "ord-reuse",
		SalesOrder: salesOrder("C0001", "web", line{"SKU-00001", 2, erp.StandardPriceMinor(1)})})
	wantStatus(t, err, codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED)

	// Output-only fields of the submission do not count as a different payload.
	so := salesOrder("C0001", "web", line{"SKU-00001", 1, erp.StandardPriceMinor(1)})
	so.State, so.ErpOrderNumber = erpv1.SalesOrder_STATE_REJECTED, "made-up"
	if res := submit(t, e, "ord-reuse", so); !res.GetDuplicate() || res.GetSalesOrder().GetErpOrderNumber() == "made-up" {
		t.Errorf("resubmit with output-only fields = %v", res)
	}
}

func TestCancelSalesOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := e.client.CancelSalesOrder(callCtx(t), &erpv1.CancelSalesOrderRequest{Name: "salesOrders/ord-none"})
	wantStatus(t, err, codes.NotFound, erpv1.ErrorReason_ERROR_REASON_SALES_ORDER_NOT_FOUND)
	_, err = e.client.GetSalesOrder(callCtx(t), &erpv1.GetSalesOrderRequest{Name: "salesOrders/ord-none"})
	wantStatus(t, err, codes.NotFound, erpv1.ErrorReason_ERROR_REASON_SALES_ORDER_NOT_FOUND)

	submit(t, e, "ord-cancel", salesOrder("C0004", "web", line{"SKU-00004", 1, 5000}))
	got, err := e.client.CancelSalesOrder(callCtx(t), &erpv1.CancelSalesOrderRequest{Name: "salesOrders/ord-cancel", Reason: "customer request"})
	if err != nil || got.GetState() != erpv1.SalesOrder_STATE_CANCELLED {
		t.Fatalf("cancel = %v, %v", got, err)
	}
	again, err := e.client.CancelSalesOrder(callCtx(t), &erpv1.CancelSalesOrderRequest{Name: "salesOrders/ord-cancel"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, again, protocmp.Transform()); diff != "" {
		t.Errorf("second cancel changed the order (-first +second):\n%s", diff)
	}
	c, err := e.client.GetCustomer(callCtx(t), &erpv1.GetCustomerRequest{Name: "customers/C0004"})
	if err != nil || c.GetOpenBalance().GetAmountMinor() != 0 {
		t.Errorf("open balance after cancel = %v, %v; want 0", c.GetOpenBalance(), err)
	}
	// The submission outcome stays ACCEPTED for a later duplicate.
	if res := submit(t, e, "ord-cancel", salesOrder("C0004", "web", line{"SKU-00004", 1, 5000})); !res.GetDuplicate() ||
		res.GetOutcome() != erpv1.SubmitSalesOrderResponse_OUTCOME_ACCEPTED || res.GetSalesOrder().GetState() != erpv1.SalesOrder_STATE_CANCELLED {
		t.Errorf("resubmit after cancel = %v", res)
	}
}
