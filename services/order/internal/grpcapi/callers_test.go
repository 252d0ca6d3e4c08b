package grpcapi_test

import (
	"testing"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/order/internal/grpcapi"
)

// TestCallersCoverTheService: every method has callers, every entry names
// a method of the service and a mesh member (a new RPC fails here until
// the table says who may call it).
func TestCallersCoverTheService(t *testing.T) {
	t.Parallel()
	if err := grpcapi.Callers.Check(svcmain.MeshMembers(), &orderv1.OrderService_ServiceDesc); err != nil {
		t.Fatal(err)
	}
}

// TestCallersOfOrders: the gateway places and cancels orders, ops
// forwards return decisions, fulfillment records shipments; none of them
// may do another's part.
func TestCallersOfOrders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method, id string
		want       bool
	}{
		{orderv1.OrderService_CreateOrder_FullMethodName, "gateway", true},
		{orderv1.OrderService_CreateOrder_FullMethodName, "fulfillment", false},
		{orderv1.OrderService_ApproveReturnAuthorization_FullMethodName, "ops", true},
		{orderv1.OrderService_ApproveReturnAuthorization_FullMethodName, "gateway", false},
		{orderv1.OrderService_RecordShipmentProgress_FullMethodName, "fulfillment", true},
		{orderv1.OrderService_RecordShipmentProgress_FullMethodName, "gateway", false},
		{orderv1.OrderService_RetryErpQueueEntry_FullMethodName, "ops", true},
		{orderv1.OrderService_GetOrder_FullMethodName, "inventory", false},
	} {
		if got := grpcapi.Callers.Allowed(tc.method, tc.id); got != tc.want {
			t.Errorf("%s may call %s: %v, want %v", tc.id, tc.method, got, tc.want)
		}
	}
}
