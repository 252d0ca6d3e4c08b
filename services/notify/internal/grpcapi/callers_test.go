package grpcapi_test

import (
	"testing"

	notifyv1 "github.com/transload/transload/gen/transload/notify/v1"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/services/notify/internal/grpcapi"
)

// TestCallersCoverTheService: every method has callers, every entry names
// a method of the service and a mesh member (a new RPC fails here until
// the table says who may call it).
func TestCallersCoverTheService(t *testing.T) {
	t.Parallel()
	if err := grpcapi.Callers.Check(svcmain.MeshMembers(), &notifyv1.NotificationService_ServiceDesc); err != nil {
		t.Fatal(err)
	}
}
