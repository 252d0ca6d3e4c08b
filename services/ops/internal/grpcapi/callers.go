package grpcapi

import (
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/grpcserver"
)

// Callers says which mesh members may call OpsService when the mesh runs
// mutual TLS (MESH_TLS_DIR; grpcserver.WithCallers): the gateway, which
// serves the operator console and its KPIs, and the operator.
var Callers = grpcserver.Callers{
	"/" + opsv1.OpsService_ServiceDesc.ServiceName + "/*": {"gateway", "operator"},
}
