package grpcapi

import (
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	"github.com/transload/transload/platform/grpcserver"
)

// Callers says which mesh members may call which FulfillmentService
// method when the mesh runs mutual TLS (MESH_TLS_DIR;
// grpcserver.WithCallers): order cancels fulfillments; the operator
// retries requests and feeds WMS events by hand; the gateway, order, ops
// and the operator read.
var Callers = grpcserver.Callers{
	"/" + fulfillmentv1.FulfillmentService_ServiceDesc.ServiceName + "/*": {"gateway", "order", "ops", "operator"},

	fulfillmentv1.FulfillmentService_CancelFulfillment_FullMethodName:       {"order", "operator"},
	fulfillmentv1.FulfillmentService_RetryFulfillmentRequest_FullMethodName: {"ops", "operator"},
	fulfillmentv1.FulfillmentService_ApplyWmsEvents_FullMethodName:          {"operator"},
}
