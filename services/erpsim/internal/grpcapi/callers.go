package grpcapi

import (
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/grpcserver"
)

// Callers says which mesh members may call the ERP adapter when the mesh
// runs mutual TLS (MESH_TLS_DIR; grpcserver.WithCallers): order submits,
// cancels and credit-checks sales orders and posts journals; inventory
// and catalog-pricing read the stock, catalog and price exports and
// events; all three and the operator read the rest.
var Callers = grpcserver.Callers{
	"/" + erpv1.ErpAdapterService_ServiceDesc.ServiceName + "/*": {"order", "inventory", "catalog-pricing", "operator"},

	erpv1.ErpAdapterService_SubmitSalesOrder_FullMethodName: {"order", "operator"},
	erpv1.ErpAdapterService_CancelSalesOrder_FullMethodName: {"order", "operator"},
	erpv1.ErpAdapterService_PostJournalBatch_FullMethodName: {"order", "operator"},
}
