package grpcapi

import (
	notifyv1 "github.com/transload/transload/gen/transload/notify/v1"
	"github.com/transload/transload/platform/grpcserver"
)

// Callers says which mesh members may call NotificationService when the
// mesh runs mutual TLS (MESH_TLS_DIR; grpcserver.WithCallers): the
// gateway, on behalf of storefronts' webhook subscriptions, and the
// operator.
var Callers = grpcserver.Callers{
	"/" + notifyv1.NotificationService_ServiceDesc.ServiceName + "/*": {"gateway", "operator"},
}
