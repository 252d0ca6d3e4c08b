package grpcapi

import (
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/grpcserver"
)

const orderService = "/transload.order.v1.OrderService/"

// Callers says which mesh members may call which OrderService method when
// the mesh runs mutual TLS (MESH_TLS_DIR; grpcserver.WithCallers): the
// gateway places, reads and cancels orders and returns for storefronts;
// fulfillment records shipment progress and return receipts; ops reads
// and retries the ERP queue and forwards operators' return decisions;
// notify reads what it notifies about; the operator runs postings. Everything else is read
// by the gateway, fulfillment, ops, notify and the operator.
var Callers = grpcserver.Callers{
	orderService + "*": {"gateway", "fulfillment", "ops", "notify", "operator"},

	orderv1.OrderService_CreateOrder_FullMethodName:                {"gateway", "operator"},
	orderv1.OrderService_CancelOrder_FullMethodName:                {"gateway", "operator"},
	orderv1.OrderService_CreateReturnAuthorization_FullMethodName:  {"gateway", "operator"},
	orderv1.OrderService_CancelReturnAuthorization_FullMethodName:  {"gateway", "ops", "operator"},
	orderv1.OrderService_ApproveReturnAuthorization_FullMethodName: {"ops", "operator"},
	orderv1.OrderService_RejectReturnAuthorization_FullMethodName:  {"ops", "operator"},
	orderv1.OrderService_RecordShipmentProgress_FullMethodName:     {"fulfillment", "operator"},
	orderv1.OrderService_RecordReturnReceipt_FullMethodName:        {"fulfillment", "operator"},
	orderv1.OrderService_CreatePostingBatch_FullMethodName:         {"ops", "operator"},
	orderv1.OrderService_SubmitPostingBatch_FullMethodName:         {"ops", "operator"},
	orderv1.OrderService_RetryPostingLines_FullMethodName:          {"ops", "operator"},
	orderv1.OrderService_RetryErpQueueEntry_FullMethodName:         {"ops", "operator"},
}
