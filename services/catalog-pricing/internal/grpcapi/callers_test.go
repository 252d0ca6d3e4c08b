package grpcapi_test

import (
	"testing"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/catalog-pricing/internal/grpcapi"
)

// TestCallersCoverTheService: every method has callers, every entry names
// a method of the service and a mesh member (a new RPC fails here until
// the table says who may call it).
func TestCallersCoverTheService(t *testing.T) {
	t.Parallel()
	if err := grpcapi.Callers.Check(svcmain.MeshMembers(), &catalogv1.CatalogService_ServiceDesc, &catalogv1.PricingService_ServiceDesc); err != nil {
		t.Fatal(err)
	}
}
