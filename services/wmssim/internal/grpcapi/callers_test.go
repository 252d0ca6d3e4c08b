package grpcapi_test

import (
	"testing"

	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/wmssim/internal/grpcapi"
)

// TestCallersCoverTheService: every method has callers, every entry names
// a method of the service and a mesh member (a new RPC fails here until
// the table says who may call it).
func TestCallersCoverTheService(t *testing.T) {
	t.Parallel()
	if err := grpcapi.Callers.Check(svcmain.MeshMembers(), &wmsv1.WmsAdapterService_ServiceDesc); err != nil {
		t.Fatal(err)
	}
}
