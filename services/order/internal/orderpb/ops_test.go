package orderpb_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
)

var opsMD = &commonv1.EventMetadata{EventId: "ev-1", Sequence: 1, Producer: "order"}

// TestExceptionsAreFiledAsDesigned: every order exception kind maps to the
// ops.v1 kind, severity and domain of the design's table, on
// TRANSLOAD_OPS.
func TestExceptionsAreFiledAsDesigned(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind     order.ExceptionKind
		orderID  string
		want     *opsv1.ExceptionRaisedEvent
		resource string
	}{
		{order.ExceptionERPRejection, "O-1", &opsv1.ExceptionRaisedEvent{Kind: opsv1.Exception_KIND_ERP_REJECTION,
			Severity: opsv1.Exception_SEVERITY_MEDIUM, Domain: opsv1.Exception_DOMAIN_ERP, AggregateType: "order", AggregateId: "O-1"}, "orders/O-1"},
		{order.ExceptionERPSubmissionFailed, "O-1", &opsv1.ExceptionRaisedEvent{Kind: opsv1.Exception_KIND_ERP_SUBMISSION_FAILED,
			Severity: opsv1.Exception_SEVERITY_HIGH, Domain: opsv1.Exception_DOMAIN_ERP, AggregateType: "order", AggregateId: "O-1"}, "orders/O-1"},
		{order.ExceptionClaimReaped, "", &opsv1.ExceptionRaisedEvent{Kind: opsv1.Exception_KIND_ORDER_CLAIM_REAPED,
			Severity: opsv1.Exception_SEVERITY_LOW, Domain: opsv1.Exception_DOMAIN_COMMERCE}, "orders:claims/r-1"},
	} {
		t.Run(tc.want.GetKind().String(), func(t *testing.T) {
			t.Parallel()
			ev, err := orderpb.Encoder{}.Exception(order.Exception{Kind: tc.kind, Resource: tc.resource, OrderID: tc.orderID,
				Message: "m", Details: map[string]string{"k": "v"}})
			if err != nil {
				t.Fatal(err)
			}
			if ev.Subject != eventstreams.ExceptionRaised || ev.Producer != orderpb.Producer {
				t.Errorf("outbox event = %+v", ev)
			}
			msg, err := ev.Build(opsMD)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.Metadata, want.Resource, want.Message = opsMD, tc.resource, "m"
			want.Details, _ = structpb.NewStruct(map[string]any{"k": "v"})
			if diff := cmp.Diff(want, msg, protocmp.Transform()); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := (orderpb.Encoder{}).Exception(order.Exception{Kind: 99, Resource: "x", Message: "m"}); err == nil {
		t.Error("unknown kind encoded without error")
	}
}

// TestAuditRendersResources: before and after are the order.v1 resources,
// the queue entry in its state as of the change; an unknown resource is an
// error, not a silent empty record.
func TestAuditRendersResources(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	entry := order.QueueEntry{OrderID: "O-1", CustomerID: "C1", Action: order.ActionSubmit, Attempts: 2,
		NextAttemptAt: at.Add(time.Minute), LastError: "down", CreatedAt: at.Add(-time.Hour)}
	ev, err := orderpb.Encoder{}.Audit(order.Audit{Actor: order.Actor{Kind: "operator", ID: "k1"}, Action: order.AuditQueueEntryRetry,
		Target: order.QueueEntryName("O-1"), Before: entry, After: nil, OccurredAt: at})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := ev.Build(opsMD)
	if err != nil {
		t.Fatal(err)
	}
	got := msg.(*opsv1.AuditRecordedEvent)
	wantBefore := &orderv1.ErpQueueEntry{Name: "erpQueueEntries/O-1", Order: "orders/O-1", CustomerId: "C1", Action: "submit",
		State: orderv1.ErpQueueEntry_STATE_BACKING_OFF, AttemptCount: 2, LastError: "down",
		EnqueueTime: timestamppb.New(at.Add(-time.Hour)), NextAttemptTime: timestamppb.New(at.Add(time.Minute))}
	var gotBefore orderv1.ErpQueueEntry
	raw, err := got.GetBefore().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := protojson.Unmarshal(raw, &gotBefore); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantBefore, &gotBefore, protocmp.Transform()); diff != "" {
		t.Errorf("before (-want +got):\n%s", diff)
	}
	if got.GetAfter() != nil || got.GetActor().GetKind() != "operator" || got.GetTarget() != "erpQueueEntries/O-1" || got.GetService() != "order" {
		t.Errorf("audit = %v", got)
	}
	if _, err := (orderpb.Encoder{}).Audit(order.Audit{Actor: order.ServiceActor, Action: "x.y", Target: "t", After: "not a resource"}); err == nil {
		t.Error("unknown resource encoded without error")
	}
}
