package grpcapi_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/services/wmssim/internal/faults"
)

func sqldbtestDSN(t *testing.T) string { return sqldbtest.SQLiteDSN(t) }

func TestDownFault(t *testing.T) {
	t.Parallel()
	e := start(t, "", nil)
	e.faults.Replace(faults.Faults{Down: true})
	_, err := e.client.CreateShipmentRequest(callCtx(t), &wmsv1.CreateShipmentRequestRequest{ShipmentRequestId: "FR-1", ShipmentRequest: shipmentRequest("O-1", "WH-HAM")})
	wantStatus(t, err, codes.Unavailable, wmsv1.ErrorReason_ERROR_REASON_WMS_UNAVAILABLE)
	if md := apierr.Info(err).GetMetadata(); md["wms_system"] != "wmssim" {
		t.Fatalf("metadata = %v", md)
	}
	_, err = e.client.ListShipmentEvents(callCtx(t), &wmsv1.ListShipmentEventsRequest{})
	wantStatus(t, err, codes.Unavailable, wmsv1.ErrorReason_ERROR_REASON_WMS_UNAVAILABLE)
	if rs, _ := e.svc.ListShipmentRequests(callCtx(t)); len(rs) != 0 {
		t.Fatalf("a call while down created %d requests", len(rs))
	}

	e.faults.Replace(faults.Faults{})
	if res := create(t, e, "FR-1", "WH-HAM"); res.GetDuplicate() || res.GetOutcome() != wmsv1.CreateShipmentRequestResponse_OUTCOME_ACCEPTED {
		t.Fatalf("create after recovery = %v", res)
	}
}

func TestSlowFaultExceedsCallerDeadline(t *testing.T) {
	t.Parallel()
	e := start(t, "", nil)
	e.faults.Replace(faults.Faults{SlowMs: 60_000})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := e.client.GetShipmentRequest(ctx, &wmsv1.GetShipmentRequestRequest{Name: "shipmentRequests/FR-1"})
	if code := apierr.ReasonOf(err); code != "" && code != wmsv1.ErrorReason_ERROR_REASON_WMS_TIMEOUT.String() {
		t.Fatalf("reason = %q", code)
	}
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("slow call: %v, want DeadlineExceeded", err)
	}
}

func TestRejectNextFault(t *testing.T) {
	t.Parallel()
	e := start(t, "", nil)
	e.faults.Replace(faults.Faults{RejectNext: 1})
	rej := create(t, e, "FR-1", "WH-HAM")
	if rej.GetOutcome() != wmsv1.CreateShipmentRequestResponse_OUTCOME_REJECTED ||
		rej.GetRejectionReason() != wmsv1.ShipmentRequestRejectionReason_SHIPMENT_REQUEST_REJECTION_REASON_CAPACITY {
		t.Fatalf("first create under rejectNext = %v", rej)
	}
	// A replay is the original outcome and uses no injected rejection.
	if again := create(t, e, "FR-1", "WH-HAM"); !again.GetDuplicate() || again.GetOutcome() != wmsv1.CreateShipmentRequestResponse_OUTCOME_REJECTED {
		t.Fatalf("replay = %v", again)
	}
	if got := e.faults.Get().RejectNext; got != 0 {
		t.Fatalf("rejectNext left = %d, want 0", got)
	}
	if ok := create(t, e, "FR-2", "WH-HAM"); ok.GetOutcome() != wmsv1.CreateShipmentRequestResponse_OUTCOME_ACCEPTED {
		t.Fatalf("create after the injected rejection = %v", ok)
	}
}

func TestHealthIgnoresFaults(t *testing.T) {
	t.Parallel()
	e := start(t, "", nil)
	e.faults.Replace(faults.Faults{Down: true})
	res, err := healthpb.NewHealthClient(e.conn).Check(callCtx(t), &healthpb.HealthCheckRequest{})
	if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health while down = %v, %v", res, err)
	}
}

func TestDuplicateNextFaultRedeliversLastEvent(t *testing.T) {
	t.Parallel()
	e := start(t, "", nil)
	create(t, e, "FR-1", "WH-HAM")
	e.advance(t, 2) // PICKED, PACKED
	e.faults.Replace(faults.Faults{DuplicateNext: 1})

	first, err := e.client.ListShipmentEvents(callCtx(t), &wmsv1.ListShipmentEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.GetShipmentEvents()) != 2 || !first.GetHasMore() {
		t.Fatalf("first page = %v", first)
	}
	second, err := e.client.ListShipmentEvents(callCtx(t), &wmsv1.ListShipmentEventsRequest{Cursor: first.GetNextCursor()})
	if err != nil {
		t.Fatal(err)
	}
	if len(second.GetShipmentEvents()) != 1 || second.GetHasMore() ||
		second.GetShipmentEvents()[0].GetEventId() != first.GetShipmentEvents()[1].GetEventId() {
		t.Fatalf("second page = %v, want the PACKED event again", second)
	}
	// Used up: the feed is caught up now.
	third, err := e.client.ListShipmentEvents(callCtx(t), &wmsv1.ListShipmentEventsRequest{Cursor: second.GetNextCursor()})
	if err != nil || len(third.GetShipmentEvents()) != 0 || third.GetNextCursor() != second.GetNextCursor() {
		t.Fatalf("third page = %v, %v", third, err)
	}
}
