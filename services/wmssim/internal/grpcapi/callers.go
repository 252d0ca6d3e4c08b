package grpcapi

import (
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/grpcserver"
)

// Callers says which mesh members may call the WMS adapter when the mesh
// runs mutual TLS (MESH_TLS_DIR; grpcserver.WithCallers): fulfillment,
// which sends shipment and return requests and reads their events, and
// the operator.
var Callers = grpcserver.Callers{
	"/" + wmsv1.WmsAdapterService_ServiceDesc.ServiceName + "/*": {"fulfillment", "operator"},
}
