package opsevents_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/opsevents"
)

func md() *commonv1.EventMetadata {
	return &commonv1.EventMetadata{
		EventId: "ev-1", AggregateType: opsevents.AggregateException, AggregateId: "orders/o1", Sequence: 3,
		OccurTime: timestamppb.New(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)), CorrelationId: "corr-1", Producer: "order",
	}
}

func TestRaiseBuildsTheEventOnItsOwnAggregate(t *testing.T) {
	t.Parallel()
	ev, err := opsevents.Raise("order", opsevents.Exception{
		Kind: opsv1.Exception_KIND_ERP_REJECTION, Severity: opsv1.Exception_SEVERITY_MEDIUM, Domain: opsv1.Exception_DOMAIN_ERP,
		Resource: "orders/o1", AggregateType: "order", AggregateID: "o1", Message: "ERP rejected order: customer blocked",
		Details: map[string]any{"order": "orders/o1", "erpCode": "BLOCKED"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ev.AggregateType != opsevents.AggregateException || ev.AggregateID != "orders/o1" || ev.Subject != eventstreams.ExceptionRaised || ev.Producer != "order" {
		t.Errorf("outbox event = %+v", ev)
	}
	got, err := ev.Build(md())
	if err != nil {
		t.Fatal(err)
	}
	details, _ := structpb.NewStruct(map[string]any{"order": "orders/o1", "erpCode": "BLOCKED"})
	want := &opsv1.ExceptionRaisedEvent{
		Metadata: md(), Kind: opsv1.Exception_KIND_ERP_REJECTION, Severity: opsv1.Exception_SEVERITY_MEDIUM,
		Domain: opsv1.Exception_DOMAIN_ERP, Resource: "orders/o1", AggregateType: "order", AggregateId: "o1",
		Message: "ERP rejected order: customer blocked", Details: details, OccurTime: md().GetOccurTime(),
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
}

func TestRaiseAndRecordRejectIncompleteInput(t *testing.T) {
	t.Parallel()
	ok := opsevents.Exception{
		Kind: opsv1.Exception_KIND_WMS_REJECTION, Severity: opsv1.Exception_SEVERITY_HIGH, Domain: opsv1.Exception_DOMAIN_FULFILLMENT,
		Resource: "fulfillmentRequests/f1", Message: "WMS refused",
	}
	for name, mutate := range map[string]func(*opsevents.Exception){
		"no kind":        func(e *opsevents.Exception) { e.Kind = 0 },
		"no severity":    func(e *opsevents.Exception) { e.Severity = 0 },
		"no domain":      func(e *opsevents.Exception) { e.Domain = 0 },
		"no resource":    func(e *opsevents.Exception) { e.Resource = "" },
		"no message":     func(e *opsevents.Exception) { e.Message = "" },
		"non-JSON value": func(e *opsevents.Exception) { e.Details = map[string]any{"ch": make(chan int)} },
	} {
		e := ok
		mutate(&e)
		if _, err := opsevents.Raise("fulfillment", e); !errors.Is(err, opsevents.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := opsevents.Raise("", ok); !errors.Is(err, opsevents.ErrInvalid) {
		t.Errorf("no producer: err = %v, want ErrInvalid", err)
	}
	if _, err := opsevents.Raise("fulfillment", ok); err != nil {
		t.Errorf("complete exception: %v", err)
	}
	okAudit := opsevents.Audit{Actor: opsevents.Service("order"), Action: "order.create", Target: "orders/o1"}
	for name, a := range map[string]opsevents.Audit{
		"no actor":   {Action: "order.create", Target: "orders/o1"},
		"no action":  {Actor: okAudit.Actor, Target: "orders/o1"},
		"no target":  {Actor: okAudit.Actor, Action: "order.create"},
		"not object": {Actor: okAudit.Actor, Action: "order.create", Target: "orders/o1", After: []int{1}},
	} {
		if _, err := opsevents.Record("order", a); !errors.Is(err, opsevents.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestRecordRendersBeforeAndAfterAsJSONObjects(t *testing.T) {
	t.Parallel()
	actor := opsevents.Actor{Kind: opsevents.ActorOperator, ID: "key-abc"}
	ev, err := opsevents.Record("order", opsevents.Audit{
		Actor: actor, Action: "order.cancel", Target: "orders/o1",
		Before: &commonv1.Money{CurrencyCode: "EUR", AmountMinor: 1250},
		After:  map[string]any{"state": "STATE_CANCELLED"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ev.AggregateType != opsevents.AggregateAudit || ev.AggregateID != "orders/o1" || ev.Subject != eventstreams.AuditRecorded {
		t.Errorf("outbox event = %+v", ev)
	}
	got, err := ev.Build(md())
	if err != nil {
		t.Fatal(err)
	}
	before, _ := structpb.NewStruct(map[string]any{"currencyCode": "EUR", "amountMinor": "1250"})
	after, _ := structpb.NewStruct(map[string]any{"state": "STATE_CANCELLED"})
	want := &opsv1.AuditRecordedEvent{
		Metadata: md(), Actor: &commonv1.AuditActor{Kind: "operator", Id: "key-abc"}, Action: "order.cancel",
		Target: "orders/o1", Service: "order", Before: before, After: after,
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
	// A nil message is a creation: no before.
	ev, err = opsevents.Record("order", opsevents.Audit{Actor: actor, Action: "order.create", Target: "orders/o1", Before: (*commonv1.Money)(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := ev.Build(md()); got.(*opsv1.AuditRecordedEvent).GetBefore() != nil {
		t.Errorf("before of a creation = %v, want unset", got.(*opsv1.AuditRecordedEvent).GetBefore())
	}
}

func TestActorTravelsInMetadata(t *testing.T) {
	t.Parallel()
	a := opsevents.Actor{Kind: opsevents.ActorOperator, ID: "key-1"}
	out := opsevents.AppendActor(t.Context(), a)
	md, _ := metadata.FromOutgoingContext(out)
	in := metadata.NewIncomingContext(t.Context(), md)
	if got := opsevents.ActorFromIncoming(in, opsevents.Service("x")); got != a {
		t.Errorf("actor = %+v, want %+v", got, a)
	}
	def := opsevents.Service("order")
	bad := metadata.NewIncomingContext(t.Context(), metadata.Pairs(opsevents.ActorHeader, "no-colon"))
	if got := opsevents.ActorFromIncoming(bad, def); got != def {
		t.Errorf("malformed header: actor = %+v, want default %+v", got, def)
	}
	if got := opsevents.ActorFromIncoming(t.Context(), def); got != def {
		t.Errorf("no header: actor = %+v, want default", got)
	}
}
