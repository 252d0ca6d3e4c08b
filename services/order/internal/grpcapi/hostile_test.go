package grpcapi_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
)

// TestCreateOrderUnknownAccountStateFailsClosed (issue #14): a customer
// whose ERP account state this version does not know (a hostile or newer
// ERP answer) may not order, as a blocked one may not; nothing is reserved.
func TestCreateOrderUnknownAccountStateFailsClosed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.erp.AddCustomer("C0042", erpv1.Customer_AccountState(9))
	_, err := e.client.CreateOrder(t.Context(), createReq("unknown-state", "C0042", line{"SKU-00001", 1}))
	wantReason(t, err, codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_CUSTOMER_ON_CREDIT_HOLD)
	if orders, reservations := e.counts(t); orders != 0 || reservations != 0 {
		t.Errorf("%d orders and %d reservations, want none", orders, reservations)
	}
}
