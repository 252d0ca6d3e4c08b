package grpcapi_test

import (
	"strings"
	"testing"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/inventory/internal/grpcapi"
)

// TestCallersCoverTheService: every method has callers, every entry names
// a method of the service and a mesh member (a new RPC fails here until
// the table says who may call it).
func TestCallersCoverTheService(t *testing.T) {
	t.Parallel()
	if err := grpcapi.Callers.Check(svcmain.MeshMembers(), &inventoryv1.InventoryService_ServiceDesc); err != nil {
		t.Fatal(err)
	}
}

// TestCallersOfStock: only order reserves stock; the gateway reads stock
// but may not change it.
func TestCallersOfStock(t *testing.T) {
	t.Parallel()
	c := grpcapi.Callers
	for _, id := range svcmain.MeshMembers() {
		if got := c.Allowed(inventoryv1.InventoryService_ReserveStock_FullMethodName, id); got != (id == "order") {
			t.Errorf("%s may ReserveStock: %v", id, got)
		}
	}
	for _, m := range inventoryv1.InventoryService_ServiceDesc.Methods {
		full := "/" + inventoryv1.InventoryService_ServiceDesc.ServiceName + "/" + m.MethodName
		read := strings.HasPrefix(m.MethodName, "Get") || strings.HasPrefix(m.MethodName, "List") || m.MethodName == "CheckAvailability"
		if got := c.Allowed(full, "gateway"); got != read {
			t.Errorf("gateway may call %s: %v, want %v", m.MethodName, got, read)
		}
	}
}
