package fulfillmentpb_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
)

func TestRequestsFromOrder(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	o := &orderv1.Order{
		OrderId: "O-1", CustomerId: "C0001", ReservationId: "R-1", CustomerPoNumber: "PO-7",
		ShipTo: &commonv1.Address{Recipient: "Ada", Lines: []string{"Street 1"}, RegionCode: "DE"},
		Lines: []*orderv1.OrderLine{
			{LineId: "1", Sku: "A", Quantity: 5, Allocations: []*orderv1.LineAllocation{{WarehouseId: "WH-MUC", AllocatedQuantity: 2}, {WarehouseId: "WH-HAM", AllocatedQuantity: 3}}},
			{LineId: "2", Sku: "B", Quantity: 1, Allocations: []*orderv1.LineAllocation{{WarehouseId: "WH-HAM", AllocatedQuantity: 1}, {WarehouseId: "WH-BER", AllocatedQuantity: 0}}},
		},
	}
	got, err := fulfillmentpb.RequestsFromOrder(o, "ev-1", now)
	if err != nil {
		t.Fatal(err)
	}
	base := fulfillment.Request{
		OrderID: "O-1", CustomerID: "C0001", ReservationID: "R-1", SourceEventID: "ev-1", CustomerPO: "PO-7",
		ShipTo: fulfillment.Address{Recipient: "Ada", Lines: []string{"Street 1"}, RegionCode: "DE"},
		State:  fulfillment.RequestPending, CreateTime: now, UpdateTime: now, NextAttemptTime: now,
	}
	muc, ham := base, base
	muc.ID, muc.WarehouseID = "FR-O-1-WH-MUC", "WH-MUC"
	muc.Lines = []fulfillment.Line{{OrderLineID: "1", SKU: "A", Quantity: 2}}
	ham.ID, ham.WarehouseID = "FR-O-1-WH-HAM", "WH-HAM"
	ham.Lines = []fulfillment.Line{{OrderLineID: "1", SKU: "A", Quantity: 3}, {OrderLineID: "2", SKU: "B", Quantity: 1}}
	if diff := cmp.Diff([]*fulfillment.Request{&muc, &ham}, got); diff != "" {
		t.Fatalf("requests (-want +got):\n%s", diff)
	}
	if _, err := fulfillmentpb.RequestsFromOrder(&orderv1.Order{}, "ev", now); err == nil {
		t.Fatal("order without id accepted")
	}
}

// A line whose allocations add up to more than its quantity is refused as
// an invalid argument (the consumer dead-letters it), also when the
// allocations are so large their sum would wrap int64 back to the quantity;
// an exact or partial (backordered) allocation is accepted.
func TestRequestsFromOrderRefusesAllocationsAboveTheQuantity(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	alloc := func(qs ...int64) []*orderv1.LineAllocation {
		var out []*orderv1.LineAllocation
		for i, q := range qs {
			out = append(out, &orderv1.LineAllocation{WarehouseId: []string{"WH-HAM", "WH-MUC", "WH-BER"}[i], AllocatedQuantity: q})
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		quantity int64
		allocs   []*orderv1.LineAllocation
		ok       bool
	}{
		{"exact", 5, alloc(2, 3), true},
		{"partial", 5, alloc(2), true},
		{"one above", 5, alloc(3, 3), false},
		{"single above", 1, alloc(2), false},
		// 2 + MaxInt64 + MaxInt64 wraps to 0, which a naive sum compares
		// as at most the quantity.
		{"max int64 twice", 2, alloc(2, math.MaxInt64, math.MaxInt64), false},
		{"max int64 after one", 1, alloc(1, math.MaxInt64), false},
		{"max int64 on a max line", math.MaxInt64, alloc(math.MaxInt64, 1), false},
		{"max int64 exact", math.MaxInt64, alloc(math.MaxInt64), true},
		{"no quantity", 0, alloc(1), false},
		{"negative quantity", -3, alloc(1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &orderv1.Order{OrderId: "O-1", Lines: []*orderv1.OrderLine{
				{LineId: "1", Sku: "A", Quantity: 1, Allocations: alloc(1)},
				{LineId: "2", Sku: "B", Quantity: tc.quantity, Allocations: tc.allocs},
			}}
			reqs, err := fulfillmentpb.RequestsFromOrder(o, "ev-1", now)
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				var shipped int64
				for _, r := range reqs {
					for _, l := range r.Lines {
						if l.OrderLineID == "2" {
							shipped += l.Quantity
						}
					}
				}
				if shipped > tc.quantity {
					t.Fatalf("requests ship %d of line 2, ordered %d", shipped, tc.quantity)
				}
				return
			}
			if !errors.Is(err, fulfillment.ErrInvalidArgument) || reqs != nil {
				t.Fatalf("RequestsFromOrder = %v, %v; want no requests and an invalid-argument error", reqs, err)
			}
		})
	}
}

func TestCallsRoundTripThroughTheirStoredForm(t *testing.T) {
	occur := time.Date(2026, 11, 26, 12, 30, 0, 0, time.UTC)
	sh := &fulfillment.Shipment{
		ID: "S-1", OrderID: "O-1", RequestID: "FR-O-1-WH-HAM", WarehouseID: "WH-HAM", ReservationID: "R-1", TrackingNumber: "T",
		Lines: []fulfillment.ShipmentLine{{OrderLineID: "1", SKU: "A", Quantity: 2}, {OrderLineID: "2", SKU: "A", Quantity: 1}},
	}
	c := fulfillmentpb.CommitToProto(sh.Commit())
	if c.GetName() != "reservations/R-1" || c.GetShipmentId() != "S-1" || c.GetRequestId() != "commit-S-1" ||
		len(c.GetLines()) != 1 || c.GetLines()[0].GetQuantity() != 3 {
		t.Fatalf("commit = %v", c)
	}
	p := fulfillmentpb.ProgressToProto(sh.Progress(true, "ev-9", occur))
	if p.GetName() != "orders/O-1" || p.GetMilestone() != orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_DELIVERED ||
		p.GetEventId() != "ev-9" || len(p.GetLines()) != 2 || p.GetTrackingNumber() != "T" {
		t.Fatalf("progress = %v", p)
	}
	for name, e := range map[string]fulfillment.Effect{
		"commit":    fulfillment.CommitEffect("O-1", sh.Commit(), occur),
		"shipped":   fulfillment.ProgressEffect(sh.Progress(false, "ev-1", occur), occur),
		"delivered": fulfillment.ProgressEffect(sh.Progress(true, "ev-2", occur), occur),
	} {
		t.Run(name, func(t *testing.T) {
			b, err := fulfillmentpb.EncodeEffect(e)
			if err != nil {
				t.Fatal(err)
			}
			got := fulfillment.Effect{Kind: e.Kind, OrderID: e.OrderID, Key: e.Key, NextAttemptAt: e.NextAttemptAt, CreateTime: e.CreateTime}
			if err := fulfillmentpb.DecodeEffect(&got, b); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(e, got); diff != "" {
				t.Fatalf("decoded effect (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := fulfillmentpb.EncodeEffect(fulfillment.Effect{Kind: fulfillment.EffectCommitReservation, Key: "S-1"}); err == nil {
		t.Error("effect without its call encoded")
	}
	for _, e := range []fulfillment.Effect{{Kind: "carrier.book", Key: "x"}, {Kind: fulfillment.EffectCommitReservation, Key: "y"}} {
		if err := fulfillmentpb.DecodeEffect(&e, []byte{0xff, 0xff}); err == nil {
			t.Errorf("DecodeEffect(%s, garbage) = nil", e.Kind)
		}
	}
}

// TestStateParity fails when a proto state has no domain state of the same
// number and name: the domain states are cast from and to the proto numbers.
func TestStateParity(t *testing.T) {
	for n, name := range fulfillmentv1.FulfillmentRequest_State_name {
		if n == 0 {
			continue
		}
		if got := "STATE_" + fulfillment.RequestState(n).String(); got != name {
			t.Errorf("RequestState(%d) is %s, proto says %s", n, got, name)
		}
	}
	for n, name := range fulfillmentv1.Shipment_State_name {
		if n == 0 {
			continue
		}
		if got := "STATE_" + fulfillment.ShipmentState(n).String(); got != name {
			t.Errorf("ShipmentState(%d) is %s, proto says %s", n, got, name)
		}
	}
}

// TestRejectReasonParity holds the domain's reject reasons, which are
// stored by name, and the contract's ErrorReason values together.
func TestRejectReasonParity(t *testing.T) {
	for _, r := range []fulfillment.RejectReason{
		fulfillment.RejectUnknownRequest, fulfillment.RejectWarehouseMismatch, fulfillment.RejectUnknownOrderLine,
		fulfillment.RejectQuantityExceedsRequested, fulfillment.RejectInvalidStateTransition, fulfillment.RejectEventIDReused,
		fulfillment.RejectAlreadyShipped, fulfillment.RejectWMSRejected,
	} {
		if got := fulfillmentpb.RejectReasonToProto(r); got.String() != "ERROR_REASON_"+string(r) {
			t.Errorf("RejectReasonToProto(%s) = %s", r, got)
		}
	}
	if got := fulfillmentpb.RejectReasonToProto(fulfillment.RejectNotSupported); got != fulfillmentv1.ErrorReason_ERROR_REASON_UNSPECIFIED {
		t.Errorf("RejectNotSupported maps to %s", got)
	}
}

func TestFeedPageFromProto(t *testing.T) {
	occur := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	shipped := &wmsv1.ShipmentEvent{
		EventId: "E1", ShipmentRequestId: "FR-1", WarehouseCode: "WH-HAM", State: wmsv1.ShipmentRequest_STATE_SHIPPED,
		ShipmentId: "P1", Carrier: "DHL", ExceptionCode: "X", ExceptionMessage: "late", OccurTime: timestamppb.New(occur),
		Lines: []*wmsv1.ShipmentEventLine{{LineId: "1", Sku: "A", Quantity: 2}},
	}
	res := &wmsv1.ListShipmentEventsResponse{NextCursor: "c2", HasMore: true, ShipmentEvents: []*wmsv1.ShipmentEvent{
		shipped,
		{EventId: "E2", ShipmentRequestId: "FR-1", State: wmsv1.ShipmentRequest_STATE_CANCELLED},
		{EventId: "E3", ShipmentRequestId: "FR-1", State: wmsv1.ShipmentRequest_STATE_ACCEPTED},
	}}
	page, err := fulfillmentpb.FeedPageFromProto(res)
	if err != nil {
		t.Fatal(err)
	}
	if page.NextCursor != "c2" || !page.HasMore || len(page.Events) != 3 {
		t.Fatalf("page = %+v", page)
	}
	var kinds []fulfillment.WMSEventKind
	for _, ev := range page.Events {
		kinds = append(kinds, ev.Kind)
	}
	if diff := cmp.Diff([]fulfillment.WMSEventKind{fulfillment.WMSEventShipment, fulfillment.WMSEventCancelled, fulfillment.WMSEventIgnored}, kinds); diff != "" {
		t.Fatalf("kinds (-want +got):\n%s", diff)
	}
	want := fulfillment.ShipmentEvent{
		EventID: "E1", RequestID: "FR-1", WarehouseID: "WH-HAM", WMSReference: "P1", State: fulfillment.ShipmentShipped,
		Carrier: "DHL", Detail: "X: late", OccurTime: occur,
		Lines: []fulfillment.ShipmentLine{{OrderLineID: "1", SKU: "A", Quantity: 2}},
	}
	if diff := cmp.Diff(want, page.Events[0].Shipment); diff != "" {
		t.Fatalf("shipment event (-want +got):\n%s", diff)
	}
	// The fingerprint is the digest stored by earlier versions: SHA-256 of
	// the deterministic encoding, which is also the stored payload.
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(shipped)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got := page.Events[0]; got.Fingerprint != hex.EncodeToString(sum[:]) || !bytes.Equal(got.Payload, b) {
		t.Fatalf("fingerprint %s, payload %x; want %x, %x", got.Fingerprint, got.Payload, sum, b)
	}
}

func TestPushedEvents(t *testing.T) {
	occur := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	update, err := fulfillmentpb.WMSEventFromPush(&fulfillmentv1.WmsEvent{EventId: "P-1", WarehouseId: "WH-HAM", OccurTime: timestamppb.New(occur),
		Payload: &fulfillmentv1.WmsEvent_ShipmentUpdate{ShipmentUpdate: &fulfillmentv1.WmsShipmentUpdate{
			FulfillmentRequestId: "FR-1", WmsShipmentReference: "P1", State: fulfillmentv1.Shipment_STATE_IN_TRANSIT, TrackingNumber: "T",
		}}})
	if err != nil {
		t.Fatal(err)
	}
	if update.Kind != fulfillment.WMSEventShipment || update.RequestID != "FR-1" || update.Fingerprint == "" ||
		update.Shipment.State != fulfillment.ShipmentInTransit || !update.Shipment.OccurTime.Equal(occur) {
		t.Fatalf("shipment update = %+v", update)
	}
	ack, err := fulfillmentpb.WMSEventFromPush(&fulfillmentv1.WmsEvent{EventId: "P-2",
		Payload: &fulfillmentv1.WmsEvent_FulfillmentAcknowledgement{FulfillmentAcknowledgement: &fulfillmentv1.WmsFulfillmentAcknowledgement{
			FulfillmentRequestId: "FR-1", RejectionMessage: "no stock"}}})
	if err != nil {
		t.Fatal(err)
	}
	if ack.Kind != fulfillment.WMSEventAcknowledgement || ack.Answer.Accepted || ack.Answer.RejectionMessage != "no stock" {
		t.Fatalf("acknowledgement = %+v", ack)
	}

	for _, tc := range []struct {
		in   fulfillment.WMSEventResult
		want *fulfillmentv1.WmsEventResult
	}{
		{fulfillment.WMSEventResult{EventID: "a", Outcome: fulfillment.WMSEventApplied, OrderID: "O-1", RequestID: "FR-1", ShipmentID: "S-1"},
			&fulfillmentv1.WmsEventResult{EventId: "a", Outcome: fulfillmentv1.WmsEventResult_OUTCOME_APPLIED, Resource: "orders/O-1/shipments/S-1"}},
		{fulfillment.WMSEventResult{EventID: "b", Outcome: fulfillment.WMSEventApplied, OrderID: "O-1", RequestID: "FR-1"},
			&fulfillmentv1.WmsEventResult{EventId: "b", Outcome: fulfillmentv1.WmsEventResult_OUTCOME_APPLIED, Resource: "orders/O-1/fulfillmentRequests/FR-1"}},
		{fulfillment.WMSEventResult{EventID: "c", Outcome: fulfillment.WMSEventDuplicate},
			&fulfillmentv1.WmsEventResult{EventId: "c", Outcome: fulfillmentv1.WmsEventResult_OUTCOME_DUPLICATE}},
		{fulfillment.WMSEventResult{EventID: "d", Outcome: fulfillment.WMSEventRejected, Reason: fulfillment.RejectEventIDReused, Message: "m"},
			&fulfillmentv1.WmsEventResult{EventId: "d", Outcome: fulfillmentv1.WmsEventResult_OUTCOME_REJECTED,
				ErrorReason: fulfillmentv1.ErrorReason_ERROR_REASON_EVENT_ID_REUSED, Message: "m"}},
	} {
		if got := fulfillmentpb.WMSEventResultToProto(tc.in); !proto.Equal(got, tc.want) {
			t.Errorf("WMSEventResultToProto(%+v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// asStruct is m as the audit trail stores it: its protobuf JSON.
func asStruct(t *testing.T, m proto.Message) *structpb.Struct {
	t.Helper()
	b, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out := &structpb.Struct{}
	if err := protojson.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func details(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestEvents: each domain event becomes its fulfillment.v1 event and what
// it tells the operations plane, in one batch for the same transaction.
func TestEvents(t *testing.T) {
	occur := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	failed := &fulfillment.Request{ID: "FR-O-1-WH-HAM", OrderID: "O-1", State: fulfillment.RequestFailed, LastError: "WMS rejected the request: NO_STOCK none left"}
	pending := &fulfillment.Request{ID: "FR-O-1-WH-HAM", OrderID: "O-1", State: fulfillment.RequestPending}
	r := &fulfillment.Request{ID: "FR-O-1-WH-HAM", OrderID: "O-1", State: fulfillment.RequestCancelled}
	sh := &fulfillment.Shipment{ID: "S-1", OrderID: "O-1", State: fulfillment.ShipmentShipped, TrackingNumber: "T1"}
	md := &commonv1.EventMetadata{EventId: "ev-1", Sequence: 3, OccurTime: timestamppb.New(occur)}
	order := &commonv1.AuditActor{Kind: "service", Id: "order"}
	operator := fulfillment.Actor{Kind: "operator", ID: "key-ops"}
	type built struct {
		subject, aggregate string
		msg                proto.Message
	}
	audit := func(actor *commonv1.AuditActor, action, target string, before, after proto.Message) built {
		ev := &opsv1.AuditRecordedEvent{Metadata: md, Actor: actor, Action: action, Target: target, Service: "fulfillment", After: asStruct(t, after)}
		if before != nil {
			ev.Before = asStruct(t, before)
		}
		return built{eventstreams.AuditRecorded, "audit/" + target, ev}
	}
	for _, tc := range []struct {
		name string
		ev   fulfillment.Event
		want []built
	}{
		{"new shipment", fulfillment.Event{Type: fulfillment.EventShipmentUpdated, Shipment: sh, WMSEventID: "E1"}, []built{
			{eventstreams.ShipmentUpdated, "shipment/S-1", &fulfillmentv1.ShipmentUpdatedEvent{Metadata: md, Shipment: fulfillmentpb.ShipmentToProto(sh), WmsEventId: "E1"}},
		}},
		// Shipments are the WMS's record: a state change is published, not audited.
		{"shipment state change", fulfillment.Event{Type: fulfillment.EventShipmentUpdated, Shipment: sh,
			PreviousShipmentState: fulfillment.ShipmentPacked, WMSEventID: "E2"}, []built{
			{eventstreams.ShipmentUpdated, "shipment/S-1", &fulfillmentv1.ShipmentUpdatedEvent{Metadata: md, Shipment: fulfillmentpb.ShipmentToProto(sh),
				PreviousState: fulfillmentv1.Shipment_STATE_PACKED, WmsEventId: "E2"}},
		}},
		{"request failed", fulfillment.Event{Type: fulfillment.EventRequestFailed, Request: failed, PreviousRequestState: fulfillment.RequestPending,
			WMSCode: "NO_STOCK", WMSMessage: "none left"}, []built{
			{eventstreams.FulfillmentRequestFailed, "fulfillment_request/FR-O-1-WH-HAM",
				&fulfillmentv1.FulfillmentRequestFailedEvent{Metadata: md, FulfillmentRequest: fulfillmentpb.RequestToProto(failed), PreviousState: fulfillmentv1.FulfillmentRequest_STATE_PENDING}},
			{eventstreams.ExceptionRaised, "ops_exception/fulfillmentRequests/FR-O-1-WH-HAM", &opsv1.ExceptionRaisedEvent{
				Metadata: md, Kind: opsv1.Exception_KIND_WMS_REJECTION, Severity: opsv1.Exception_SEVERITY_HIGH, Domain: opsv1.Exception_DOMAIN_FULFILLMENT,
				Resource: "fulfillmentRequests/FR-O-1-WH-HAM", AggregateType: "fulfillment_request", AggregateId: "FR-O-1-WH-HAM",
				Message: "fulfillment request FR-O-1-WH-HAM failed: WMS rejected the request: NO_STOCK none left",
				Details: details(t, map[string]any{"fulfillmentRequest": "orders/O-1/fulfillmentRequests/FR-O-1-WH-HAM", "order": "orders/O-1",
					"wmsCode": "NO_STOCK", "wmsMessage": "none left"}),
				OccurTime: md.GetOccurTime(),
			}},
		}},
		{"cancelled by the order service", fulfillment.Event{Type: fulfillment.EventRequestCancelled, Request: r, PreviousRequest: pending,
			PreviousRequestState: fulfillment.RequestAcknowledged}, []built{
			{eventstreams.FulfillmentRequestCancelled, "fulfillment_request/FR-O-1-WH-HAM",
				&fulfillmentv1.FulfillmentRequestCancelledEvent{Metadata: md, FulfillmentRequest: fulfillmentpb.RequestToProto(r),
					PreviousState: fulfillmentv1.FulfillmentRequest_STATE_ACKNOWLEDGED, Actor: order}},
			audit(order, "fulfillment_request.cancel", "orders/O-1/fulfillmentRequests/FR-O-1-WH-HAM", fulfillmentpb.RequestToProto(pending), fulfillmentpb.RequestToProto(r)),
		}},
		{"cancelled by an operator", fulfillment.Event{Type: fulfillment.EventRequestCancelled, Request: r, PreviousRequest: pending,
			PreviousRequestState: fulfillment.RequestPending, Actor: operator}, []built{
			{eventstreams.FulfillmentRequestCancelled, "fulfillment_request/FR-O-1-WH-HAM",
				&fulfillmentv1.FulfillmentRequestCancelledEvent{Metadata: md, FulfillmentRequest: fulfillmentpb.RequestToProto(r),
					PreviousState: fulfillmentv1.FulfillmentRequest_STATE_PENDING, Actor: &commonv1.AuditActor{Kind: "operator", Id: "key-ops"}}},
			audit(&commonv1.AuditActor{Kind: "operator", Id: "key-ops"}, "fulfillment_request.cancel", "orders/O-1/fulfillmentRequests/FR-O-1-WH-HAM",
				fulfillmentpb.RequestToProto(pending), fulfillmentpb.RequestToProto(r)),
		}},
		{"retried", fulfillment.Event{Type: fulfillment.EventRequestRetried, Request: pending, PreviousRequest: failed, Actor: operator}, []built{
			audit(&commonv1.AuditActor{Kind: "operator", Id: "key-ops"}, "fulfillment_request.retry", "orders/O-1/fulfillmentRequests/FR-O-1-WH-HAM",
				fulfillmentpb.RequestToProto(failed), fulfillmentpb.RequestToProto(pending)),
		}},
		{"shipment mismatch", fulfillment.Event{Type: fulfillment.EventShipmentMismatch, WMSEventID: "E9", Mismatch: &fulfillment.ShipmentMismatch{
			RequestID: "FR-O-1-WH-HAM", OrderID: "O-1", ShipmentID: "S-1", WMSReference: "P1", OrderLineID: "1", SKU: "SKU-1", Expected: 2, Reported: 5,
		}}, []built{
			{eventstreams.ExceptionRaised, "ops_exception/fulfillmentRequests/FR-O-1-WH-HAM", &opsv1.ExceptionRaisedEvent{
				Metadata: md, Kind: opsv1.Exception_KIND_SHIPMENT_MISMATCH, Severity: opsv1.Exception_SEVERITY_HIGH, Domain: opsv1.Exception_DOMAIN_FULFILLMENT,
				Resource: "fulfillmentRequests/FR-O-1-WH-HAM", AggregateType: "fulfillment_request", AggregateId: "FR-O-1-WH-HAM",
				Message: `WMS shipment report for fulfillment request FR-O-1-WH-HAM reports 5 of SKU "SKU-1" (order line "1"), the request allocates 2`,
				Details: details(t, map[string]any{"shipment": "orders/O-1/shipments/S-1", "fulfillmentRequest": "orders/O-1/fulfillmentRequests/FR-O-1-WH-HAM",
					"order": "orders/O-1", "orderLine": "1", "wmsEvent": "E9", "sku": "SKU-1", "expected": 2, "reported": 5}),
				OccurTime: md.GetOccurTime(),
			}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := fulfillmentpb.Events(tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			var got []built
			for _, oe := range out {
				if oe.Producer != fulfillmentpb.Producer {
					t.Errorf("%s: producer %q", oe.Subject, oe.Producer)
				}
				m, err := oe.Build(md)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, built{oe.Subject, oe.AggregateType + "/" + oe.AggregateID, m})
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(built{}), protocmp.Transform()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
	for _, ev := range []fulfillment.Event{{}, {Type: fulfillment.EventShipmentUpdated}, {Type: fulfillment.EventRequestCancelled},
		{Type: fulfillment.EventRequestRetried}, {Type: fulfillment.EventShipmentMismatch}} {
		if _, err := fulfillmentpb.Events(ev); err == nil {
			t.Errorf("Events(%+v) = nil error", ev)
		}
	}
}
