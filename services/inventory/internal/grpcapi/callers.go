package grpcapi

import (
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/grpcserver"
)

// Callers says which mesh members may call which InventoryService method
// when the mesh runs mutual TLS (MESH_TLS_DIR; grpcserver.WithCallers):
// reservations are made, confirmed, extended and released only by order;
// fulfillment commits them and applies the WMS's stock events; ops and
// the operator start reconciliations and edit warehouses; the gateway,
// order, fulfillment, ops and the operator read. The gateway may read
// stock but never change it.
var Callers = grpcserver.Callers{
	"/" + inventoryv1.InventoryService_ServiceDesc.ServiceName + "/*": {"gateway", "order", "fulfillment", "ops", "operator"},

	inventoryv1.InventoryService_ReserveStock_FullMethodName:        {"order"},
	inventoryv1.InventoryService_ConfirmReservation_FullMethodName:  {"order"},
	inventoryv1.InventoryService_ExtendReservation_FullMethodName:   {"order"},
	inventoryv1.InventoryService_ReleaseReservation_FullMethodName:  {"order"},
	inventoryv1.InventoryService_CommitReservation_FullMethodName:   {"fulfillment"},
	inventoryv1.InventoryService_ApplyStockEvents_FullMethodName:    {"fulfillment", "operator"},
	inventoryv1.InventoryService_StartReconciliation_FullMethodName: {"ops", "operator"},
	inventoryv1.InventoryService_UpdateWarehouse_FullMethodName:     {"ops", "operator"},
}
