package grpcapi_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/fakeclock"
)

func wantStatus(t *testing.T, err error, code codes.Code, reason apierr.Reason) {
	t.Helper()
	if status.Code(err) != code || !apierr.HasReason(err, reason) {
		t.Fatalf("err = %v (reason %q), want %s with %s", err, apierr.ReasonOf(err), code, reason)
	}
}

func TestCreateShipmentRequestIsIdempotent(t *testing.T) {
	t.Parallel()
	e := start(t, "", nil)

	first := create(t, e, "FR-1", "WH-HAM")
	if first.GetOutcome() != wmsv1.CreateShipmentRequestResponse_OUTCOME_ACCEPTED || first.GetDuplicate() {
		t.Fatalf("first create = %v", first)
	}
	if first.GetWmsReference() == "" || first.GetShipmentRequest().GetState() != wmsv1.ShipmentRequest_STATE_ACCEPTED ||
		first.GetShipmentRequest().GetName() != "shipmentRequests/FR-1" {
		t.Fatalf("first create = %v", first)
	}

	again := create(t, e, "FR-1", "WH-HAM")
	if !again.GetDuplicate() {
		t.Fatal("replay not flagged duplicate")
	}
	again.Duplicate = false
	if diff := cmp.Diff(first, again, protocmp.Transform()); diff != "" {
		t.Fatalf("replay differs from the original (-first +replay):\n%s", diff)
	}

	changed := shipmentRequest("O-FR-1", "WH-HAM")
	changed.Lines[0].Quantity = 3
	_, err := e.client.CreateShipmentRequest(callCtx(t), &wmsv1.CreateShipmentRequestRequest{ShipmentRequestId: "FR-1", ShipmentRequest: changed})
	wantStatus(t, err, codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED)

	// Output-only fields are not part of the payload.
	withOutput := shipmentRequest("O-FR-1", "WH-HAM")
	withOutput.State = wmsv1.ShipmentRequest_STATE_DELIVERED
	withOutput.WmsReference = "whatever"
	if res, err := e.client.CreateShipmentRequest(callCtx(t), &wmsv1.CreateShipmentRequestRequest{ShipmentRequestId: "FR-1", ShipmentRequest: withOutput}); err != nil || !res.GetDuplicate() {
		t.Fatalf("replay with output-only fields: %v, %v", res, err)
	}

	rs, err := e.svc.ListShipmentRequests(callCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Submissions != 4 {
		t.Fatalf("requests = %+v, want one with 4 submissions", rs)
	}

	got, err := e.client.GetShipmentRequest(callCtx(t), &wmsv1.GetShipmentRequestRequest{Name: "shipmentRequests/FR-1"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first.GetShipmentRequest(), got, protocmp.Transform()); diff != "" {
		t.Fatalf("get (-created +got):\n%s", diff)
	}
	_, err = e.client.GetShipmentRequest(callCtx(t), &wmsv1.GetShipmentRequestRequest{Name: "shipmentRequests/nope"})
	wantStatus(t, err, codes.NotFound, wmsv1.ErrorReason_ERROR_REASON_SHIPMENT_REQUEST_NOT_FOUND)
	if md := apierr.Info(err).GetMetadata(); md["shipment_request_id"] != "nope" {
		t.Fatalf("not found metadata = %v", md)
	}
}

func TestConcurrentDuplicateCreatesCreateOne(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		concurrentDuplicates(t, startOn(t, db, nil))
	})
}

func concurrentDuplicates(t *testing.T, e *env) {
	const n = 16
	answers := make([]*wmsv1.CreateShipmentRequestResponse, n)
	var g errgroup.Group
	for i := range answers {
		g.Go(func() (err error) {
			answers[i], err = e.client.CreateShipmentRequest(callCtx(t), &wmsv1.CreateShipmentRequestRequest{
				ShipmentRequestId: "FR-C", ShipmentRequest: shipmentRequest("O-C", "WH-MUC"),
			})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	fresh, refs := 0, map[string]bool{}
	for _, res := range answers {
		if !res.GetDuplicate() {
			fresh++
		}
		refs[res.GetWmsReference()] = true
	}
	if fresh != 1 || len(refs) != 1 {
		t.Fatalf("%d non-duplicate answers, references %v; want exactly one creation", fresh, refs)
	}
	rs, _ := e.svc.ListShipmentRequests(callCtx(t))
	if len(rs) != 1 || rs[0].Submissions != n {
		t.Fatalf("requests = %+v, want one with %d submissions", rs, n)
	}
}

func TestUnknownWarehouseIsRejectedFinally(t *testing.T) {
	t.Parallel()
	e := start(t, "", nil)
	res := create(t, e, "FR-X", "WH-XXX")
	if res.GetOutcome() != wmsv1.CreateShipmentRequestResponse_OUTCOME_REJECTED ||
		res.GetRejectionReason() != wmsv1.ShipmentRequestRejectionReason_SHIPMENT_REQUEST_REJECTION_REASON_UNKNOWN_WAREHOUSE ||
		res.GetRejectionMessage() == "" || res.GetWmsReference() != "" {
		t.Fatalf("create = %v", res)
	}
	again := create(t, e, "FR-X", "WH-XXX")
	if !again.GetDuplicate() || again.GetOutcome() != wmsv1.CreateShipmentRequestResponse_OUTCOME_REJECTED {
		t.Fatalf("replay = %v", again)
	}
	if n := e.advance(t, 10); n != 0 {
		t.Fatalf("a rejected request produced %d events", n)
	}
	got, err := e.client.GetShipmentRequest(callCtx(t), &wmsv1.GetShipmentRequestRequest{Name: "shipmentRequests/FR-X"})
	if err != nil || got.GetState() != wmsv1.ShipmentRequest_STATE_REJECTED {
		t.Fatalf("get = %v, %v", got, err)
	}
}

func TestInvalidRequestsFailValidation(t *testing.T) {
	t.Parallel()
	e := start(t, "", nil)
	noLines := shipmentRequest("O-1", "WH-HAM")
	noLines.Lines = nil
	_, err := e.client.CreateShipmentRequest(callCtx(t), &wmsv1.CreateShipmentRequestRequest{ShipmentRequestId: "FR-1", ShipmentRequest: noLines})
	wantStatus(t, err, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
	_, err = e.client.ListShipmentEvents(callCtx(t), &wmsv1.ListShipmentEventsRequest{PageSize: 1001})
	wantStatus(t, err, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
}

// milestones are the states every accepted request reports, in order.
var milestones = []wmsv1.ShipmentRequest_State{
	wmsv1.ShipmentRequest_STATE_PICKED,
	wmsv1.ShipmentRequest_STATE_PACKED,
	wmsv1.ShipmentRequest_STATE_SHIPPED,
	wmsv1.ShipmentRequest_STATE_DELIVERED,
}

func TestProgressionToDeliveredWithPagedFeed(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		progressionToDelivered(t, startOn(t, db, nil))
	})
}

func progressionToDelivered(t *testing.T, e *env) {
	created := e.clock.Now()

	// An empty feed answers a non-empty cursor and nothing more.
	evs, cursor0 := allEvents(t, e, "", 0)
	if len(evs) != 0 {
		t.Fatalf("new feed has %d events", len(evs))
	}

	warehouses := map[string]string{"FR-H": "WH-HAM", "FR-M": "WH-MUC", "FR-B": "WH-BER"}
	for id, wh := range warehouses {
		create(t, e, id, wh)
	}
	if n := e.advance(t, 0); n != 0 {
		t.Fatalf("%d events before the first step", n)
	}
	// Step by step: each step moves every request one milestone.
	for i, want := range milestones {
		if n := e.advance(t, 1); n != len(warehouses) {
			t.Fatalf("step %d appended %d events, want %d", i+1, n, len(warehouses))
		}
		for id := range warehouses {
			got, err := e.client.GetShipmentRequest(callCtx(t), &wmsv1.GetShipmentRequestRequest{Name: "shipmentRequests/" + id})
			if err != nil {
				t.Fatal(err)
			}
			if got.GetState() != want {
				t.Fatalf("%s after step %d: state %s, want %s", id, i+1, got.GetState(), want)
			}
		}
	}
	if n := e.advance(t, 5); n != 0 {
		t.Fatalf("%d events after delivery", n)
	}

	// Read the whole feed in pages of 5 (12 events → has_more twice).
	evs, cursor := allEvents(t, e, cursor0, 5)
	if len(evs) != 4*len(warehouses) {
		t.Fatalf("feed has %d events, want %d", len(evs), 4*len(warehouses))
	}
	seen := map[string]bool{}
	byRequest := map[string][]*wmsv1.ShipmentEvent{}
	for _, ev := range evs {
		if seen[ev.GetEventId()] {
			t.Fatalf("event id %s repeated", ev.GetEventId())
		}
		seen[ev.GetEventId()] = true
		byRequest[ev.GetShipmentRequestId()] = append(byRequest[ev.GetShipmentRequestId()], ev)
	}
	tracking := map[string]bool{}
	for id, wh := range warehouses {
		got := byRequest[id]
		if len(got) != 4 {
			t.Fatalf("%s has %d events", id, len(got))
		}
		wantCarrier := map[string]string{"WH-HAM": "DHL", "WH-MUC": "UPS", "WH-BER": "DHL"}[wh]
		for i, ev := range got {
			if ev.GetSequence() != int64(i+1) || ev.GetState() != milestones[i] || ev.GetWarehouseCode() != wh || ev.GetOrderId() != "O-"+id {
				t.Fatalf("%s event %d = %v", id, i, ev)
			}
			if want := created.Add(time.Duration(i+1) * step); !ev.GetOccurTime().AsTime().Equal(want) {
				t.Fatalf("%s event %d occurred %v, want %v", id, i, ev.GetOccurTime().AsTime(), want)
			}
		}
		picked, packed, shipped, delivered := got[0], got[1], got[2], got[3]
		if picked.GetCarrier() != "" || picked.GetTrackingNumber() != "" || len(picked.GetLines()) != 2 {
			t.Fatalf("%s PICKED = %v", id, picked)
		}
		if packed.GetCarrier() != wantCarrier || packed.GetShipmentId() == "" || packed.GetTrackingNumber() != "" || len(packed.GetLines()) != 2 {
			t.Fatalf("%s PACKED = %v, want carrier %s", id, packed, wantCarrier)
		}
		if shipped.GetCarrier() != wantCarrier || shipped.GetTrackingNumber() == "" || shipped.GetTrackingUrl() == "" ||
			!shipped.GetFulfillmentComplete() || shipped.GetEstimatedDeliveryDate() == nil || shipped.GetCarrierService() == "" {
			t.Fatalf("%s SHIPPED = %v", id, shipped)
		}
		if diff := cmp.Diff([]*wmsv1.ShipmentEventLine{
			{LineId: "1", Sku: "SKU-00001", Quantity: 2}, {LineId: "2", Sku: "SKU-00002", Quantity: 1},
		}, shipped.GetLines(), protocmp.Transform()); diff != "" {
			t.Fatalf("%s SHIPPED lines (-want +got):\n%s", id, diff)
		}
		if delivered.GetTrackingNumber() != shipped.GetTrackingNumber() || len(delivered.GetLines()) != 0 {
			t.Fatalf("%s DELIVERED = %v", id, delivered)
		}
		if tracking[shipped.GetTrackingNumber()] {
			t.Fatalf("tracking number %s reused", shipped.GetTrackingNumber())
		}
		tracking[shipped.GetTrackingNumber()] = true

		sr, err := e.client.GetShipmentRequest(callCtx(t), &wmsv1.GetShipmentRequestRequest{Name: "shipmentRequests/" + id})
		if err != nil {
			t.Fatal(err)
		}
		if !sr.GetFulfillmentComplete() || sr.GetLines()[0].GetShippedQuantity() != 2 || !sr.GetUpdateTime().AsTime().Equal(delivered.GetOccurTime().AsTime()) {
			t.Fatalf("%s delivered request = %v", id, sr)
		}
	}

	// Caught up: same cursor back, nothing more.
	res, err := e.client.ListShipmentEvents(callCtx(t), &wmsv1.ListShipmentEventsRequest{Cursor: cursor})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.GetShipmentEvents()) != 0 || res.GetHasMore() || res.GetNextCursor() != cursor {
		t.Fatalf("caught-up read = %v", res)
	}

	// Replay-safe: reading again from the start yields the same events.
	again, _ := allEvents(t, e, "", 1000)
	if diff := cmp.Diff(evs, again, protocmp.Transform()); diff != "" {
		t.Fatalf("re-read differs (-first +again):\n%s", diff)
	}
}

func TestMissedStepsAreCaughtUpInOneRound(t *testing.T) {
	t.Parallel()
	e := start(t, "", nil)
	created := e.clock.Now()
	create(t, e, "FR-1", "WH-HAM")
	e.clock.Advance(2*step + step/2)
	if n := e.advance(t, 0); n != 2 {
		t.Fatalf("appended %d events, want PICKED and PACKED", n)
	}
	if n := e.advance(t, 10); n != 2 {
		t.Fatalf("appended %d events, want SHIPPED and DELIVERED", n)
	}
	evs, _ := allEvents(t, e, "", 0)
	for i, ev := range evs {
		if want := created.Add(time.Duration(i+1) * step); !ev.GetOccurTime().AsTime().Equal(want) {
			t.Fatalf("event %d at %v, want the due time %v", i, ev.GetOccurTime().AsTime(), want)
		}
	}
}

func TestInvalidCursor(t *testing.T) {
	t.Parallel()
	e := start(t, "", nil)
	create(t, e, "FR-1", "WH-HAM")
	e.advance(t, 1)
	retRes, err := e.client.ListReturnEvents(callCtx(t), &wmsv1.ListReturnEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	shipRes, err := e.client.ListShipmentEvents(callCtx(t), &wmsv1.ListShipmentEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for name, cursor := range map[string]string{
		"garbage":            "not a cursor!",
		"base64 of garbage":  "Z2FyYmFnZQ",
		"return feed cursor": retRes.GetNextCursor(),
		"beyond the head":    "d21zc2ltLnNlLnYxOjk5",
	} {
		_, err := e.client.ListShipmentEvents(callCtx(t), &wmsv1.ListShipmentEventsRequest{Cursor: cursor})
		wantStatus(t, err, codes.InvalidArgument, wmsv1.ErrorReason_ERROR_REASON_INVALID_CURSOR)
		if md := apierr.Info(err).GetMetadata(); md["feed"] != "shipment_events" {
			t.Fatalf("%s: metadata %v", name, md)
		}
		if v := apierr.FieldViolations(err); len(v) != 1 || v[0].Field != "cursor" || v[0].Reason != "INVALID_CURSOR" {
			t.Fatalf("%s: violations %+v, want one on cursor", name, v)
		}
	}
	_, err = e.client.ListReturnEvents(callCtx(t), &wmsv1.ListReturnEventsRequest{Cursor: shipRes.GetNextCursor()})
	wantStatus(t, err, codes.InvalidArgument, wmsv1.ErrorReason_ERROR_REASON_INVALID_CURSOR)
}

func TestCancelShipmentRequest(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		cancelRules(t, startOn(t, db, nil))
	})
}

func cancelRules(t *testing.T, e *env) {
	cancel := func(id string) (*wmsv1.ShipmentRequest, error) {
		return e.client.CancelShipmentRequest(callCtx(t), &wmsv1.CancelShipmentRequestRequest{Name: "shipmentRequests/" + id, Reason: "order cancelled"})
	}
	create(t, e, "FR-A", "WH-HAM") // cancelled while accepted
	create(t, e, "FR-P", "WH-HAM") // cancelled once packed
	create(t, e, "FR-S", "WH-HAM") // shipped before the cancel
	create(t, e, "FR-R", "WH-X")   // rejected

	got, err := cancel("FR-A")
	if err != nil || got.GetState() != wmsv1.ShipmentRequest_STATE_CANCELLED || !got.GetFulfillmentComplete() {
		t.Fatalf("cancel accepted = %v, %v", got, err)
	}
	e.advance(t, 2)
	got, err = cancel("FR-P")
	if err != nil || got.GetState() != wmsv1.ShipmentRequest_STATE_CANCELLED {
		t.Fatalf("cancel packed = %v, %v", got, err)
	}
	e.advance(t, 1)
	_, err = cancel("FR-S")
	wantStatus(t, err, codes.FailedPrecondition, wmsv1.ErrorReason_ERROR_REASON_ALREADY_SHIPPED)
	if md := apierr.Info(err).GetMetadata(); md["state"] != "STATE_SHIPPED" || md["shipment_request_id"] != "FR-S" {
		t.Fatalf("already shipped metadata = %v", md)
	}

	// Idempotent by state: cancelled and rejected come back unchanged.
	again, err := cancel("FR-A")
	if err != nil || again.GetState() != wmsv1.ShipmentRequest_STATE_CANCELLED {
		t.Fatalf("cancel again = %v, %v", again, err)
	}
	if rej, err := cancel("FR-R"); err != nil || rej.GetState() != wmsv1.ShipmentRequest_STATE_REJECTED {
		t.Fatalf("cancel rejected = %v, %v", rej, err)
	}
	_, err = cancel("nope")
	wantStatus(t, err, codes.NotFound, wmsv1.ErrorReason_ERROR_REASON_SHIPMENT_REQUEST_NOT_FOUND)

	// Cancelled requests make no further progress.
	e.advance(t, 10)
	evs, _ := allEvents(t, e, "", 0)
	count := map[string]int{}
	for _, ev := range evs {
		count[ev.GetShipmentRequestId()]++
	}
	if diff := cmp.Diff(map[string]int{"FR-P": 2, "FR-S": 4}, count); diff != "" {
		t.Fatalf("events per request (-want +got):\n%s", diff)
	}
}

func TestRestartResumesProgression(t *testing.T) {
	t.Parallel()
	dsn := sqldbtestDSN(t)
	clock := fakeclock.New(fakeclock.Start)
	created := clock.Now()

	first := start(t, dsn, clock)
	create(t, first, "FR-1", "WH-MUC")
	first.advance(t, 1) // PICKED
	evs, cursor := allEvents(t, first, "", 0)
	if len(evs) != 1 {
		t.Fatalf("before restart: %d events", len(evs))
	}
	first.stop()

	// Down for two steps; the new process catches up and the old cursor
	// still works.
	clock.Advance(2 * step)
	second := start(t, dsn, clock)
	if n := second.advance(t, 0); n != 2 {
		t.Fatalf("after restart appended %d events, want PACKED and SHIPPED", n)
	}
	evs, cursor = allEvents(t, second, cursor, 0)
	if len(evs) != 2 || evs[0].GetState() != wmsv1.ShipmentRequest_STATE_PACKED || evs[1].GetState() != wmsv1.ShipmentRequest_STATE_SHIPPED ||
		evs[0].GetSequence() != 2 || !evs[1].GetOccurTime().AsTime().Equal(created.Add(3*step)) {
		t.Fatalf("after restart: %v", evs)
	}
	second.advance(t, 1)
	evs, _ = allEvents(t, second, cursor, 0)
	if len(evs) != 1 || evs[0].GetState() != wmsv1.ShipmentRequest_STATE_DELIVERED {
		t.Fatalf("final events: %v", evs)
	}
	// The idempotency record survived too.
	if res := create(t, second, "FR-1", "WH-MUC"); !res.GetDuplicate() || res.GetShipmentRequest().GetState() != wmsv1.ShipmentRequest_STATE_DELIVERED {
		t.Fatalf("replay after restart = %v", res)
	}
}
