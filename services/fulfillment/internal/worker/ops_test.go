package worker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox/outboxtest"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/worker"
)

var operator = fulfillment.Actor{Kind: "operator", ID: "key-ops"}

// opsEvents returns the exceptions raised and the audit records written
// to the outbox of db so far.
func opsEvents(t *testing.T, db *sqldb.DB) ([]*opsv1.ExceptionRaisedEvent, []*opsv1.AuditRecordedEvent) {
	t.Helper()
	var (
		excs   []*opsv1.ExceptionRaisedEvent
		audits []*opsv1.AuditRecordedEvent
	)
	for _, row := range outboxtest.Read(t, db, eventstreams.ExceptionRaised, eventstreams.AuditRecorded) {
		switch m := row.Message.(type) {
		case *opsv1.ExceptionRaisedEvent:
			excs = append(excs, m)
		case *opsv1.AuditRecordedEvent:
			audits = append(audits, m)
		default:
			t.Fatalf("%s carries a %T", row.Subject, m)
		}
	}
	return excs, audits
}

// exceptionSummary is what a test checks of a raised exception.
type exceptionSummary struct {
	Kind     opsv1.Exception_Kind
	Severity opsv1.Exception_Severity
	Domain   opsv1.Exception_Domain
	Resource string
	Details  map[string]any
}

func summarize(excs []*opsv1.ExceptionRaisedEvent) []exceptionSummary {
	var out []exceptionSummary
	for _, e := range excs {
		out = append(out, exceptionSummary{e.GetKind(), e.GetSeverity(), e.GetDomain(), e.GetResource(), e.GetDetails().AsMap()})
	}
	return out
}

// auditSummary is what a test checks of an audit record: action, target,
// actor and the states before and after.
type auditSummary struct {
	Action, Target, Actor string
	Before, After         any
}

func summarizeAudits(audits []*opsv1.AuditRecordedEvent) []auditSummary {
	var out []auditSummary
	for _, a := range audits {
		s := auditSummary{Action: a.GetAction(), Target: a.GetTarget(), Actor: a.GetActor().GetKind() + ":" + a.GetActor().GetId()}
		if a.GetService() != "fulfillment" {
			s.Actor += " (service " + a.GetService() + ")"
		}
		if b := a.GetBefore(); b != nil {
			s.Before = b.AsMap()["state"]
		}
		if af := a.GetAfter(); af != nil {
			s.After = af.AsMap()["state"]
		}
		out = append(out, s)
	}
	return out
}

func wmsRejection(request, order, code, message string) exceptionSummary {
	return exceptionSummary{
		Kind: opsv1.Exception_KIND_WMS_REJECTION, Severity: opsv1.Exception_SEVERITY_HIGH, Domain: opsv1.Exception_DOMAIN_FULFILLMENT,
		Resource: "fulfillmentRequests/" + request,
		Details: map[string]any{"fulfillmentRequest": "orders/" + order + "/fulfillmentRequests/" + request, "order": "orders/" + order,
			"wmsCode": code, "wmsMessage": message},
	}
}

// TestFailedRequestRaisesWMSRejection: whichever way a request fails, its
// FulfillmentRequestFailedEvent and the WMS_REJECTION exception are
// written together, with the WMS's code and message.
func TestFailedRequestRaisesWMSRejection(t *testing.T) {
	down := &fulfillment.DependencyError{Dependency: "wms", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		name        string
		answer      fulfillment.WMSAnswer
		err         error
		maxAttempts int
		code, msg   string
	}{
		{name: "refused in the answer", answer: fulfillment.WMSAnswer{RejectionReason: "UNKNOWN_SKU", RejectionMessage: "SKU-1 unknown"},
			code: "UNKNOWN_SKU", msg: "SKU-1 unknown"},
		{name: "call rejected", err: &fulfillment.DependencyError{Dependency: "wms", Rejected: true, Reason: "INVALID_ADDRESS", Err: errors.New("no street")},
			code: "INVALID_ADDRESS", msg: "no street"},
		{name: "retry budget spent", err: down, maxAttempts: 1, msg: down.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, db := newStoreDB(t)
			r := pendingRequest(t, s, "O-2")
			d := worker.NewDispatcher(s, answering(tc.answer, tc.err), worker.DispatcherConfig{
				Common: worker.Common{Now: func() time.Time { return t0 }}, MaxAttempts: tc.maxAttempts})
			if _, err := d.RunOnce(t.Context()); err != nil {
				t.Fatal(err)
			}
			var subjects []string
			for _, row := range outboxtest.Read(t, db) {
				subjects = append(subjects, row.Subject)
			}
			if diff := cmp.Diff([]string{eventstreams.FulfillmentRequestFailed, eventstreams.ExceptionRaised}, subjects); diff != "" {
				t.Fatalf("outbox (-want +got):\n%s", diff)
			}
			excs, _ := opsEvents(t, db)
			if diff := cmp.Diff([]exceptionSummary{wmsRejection(r.ID, "O-2", tc.code, tc.msg)}, summarize(excs)); diff != "" {
				t.Errorf("exceptions (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("refused by a pushed acknowledgement", func(t *testing.T) {
		s, db := newStoreDB(t)
		r := pendingRequest(t, s, "O-3")
		a := worker.NewPushApplier(s, worker.Common{Now: func() time.Time { return t0 }})
		_, _, err := a.Apply(t.Context(), "wms", "", []fulfillment.WMSEvent{{ID: "A1", RequestID: r.ID, Kind: fulfillment.WMSEventAcknowledgement,
			Fingerprint: "f", Answer: fulfillment.WMSAnswer{RejectionReason: "BLOCKED", RejectionMessage: "customer on hold"}}})
		if err != nil {
			t.Fatal(err)
		}
		excs, _ := opsEvents(t, db)
		if diff := cmp.Diff([]exceptionSummary{wmsRejection(r.ID, "O-3", "BLOCKED", "customer on hold")}, summarize(excs)); diff != "" {
			t.Errorf("exceptions (-want +got):\n%s", diff)
		}
	})
	t.Run("not failed yet", func(t *testing.T) {
		s, db := newStoreDB(t)
		pendingRequest(t, s, "O-4")
		d := worker.NewDispatcher(s, answering(fulfillment.WMSAnswer{}, down), worker.DispatcherConfig{
			Common: worker.Common{Now: func() time.Time { return t0 }}, Schedule: oneSecond})
		if _, err := d.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		if rows := outboxtest.Read(t, db); len(rows) != 0 {
			t.Errorf("outbox after a failed attempt with budget left: %+v", rows)
		}
	})
}

// TestRetryIsAudited: an operator's retry is recorded with who did it and
// the request before and after; a replay or a refused retry records
// nothing.
func TestRetryIsAudited(t *testing.T) {
	s, db := newStoreDB(t)
	r := pendingRequest(t, s, "O-5")
	d := worker.NewDispatcher(s, answering(fulfillment.WMSAnswer{RejectionMessage: "no"}, nil), worker.DispatcherConfig{
		Common: worker.Common{Now: func() time.Time { return t0 }}})
	if _, err := d.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second call is a replay
		if _, err := d.Retry(t.Context(), "O-5", r.ID, "ops-1", "fp-1", "fixed", operator); err != nil {
			t.Fatal(err)
		}
	}
	var rej *fulfillment.RejectionError
	if _, err := d.Retry(t.Context(), "O-5", r.ID, "ops-2", "fp-2", "again", operator); !errors.As(err, &rej) {
		t.Fatalf("retry of a pending request: %v", err)
	}
	_, audits := opsEvents(t, db)
	want := []auditSummary{{Action: "fulfillment_request.retry", Target: "orders/O-5/fulfillmentRequests/" + r.ID, Actor: "operator:key-ops",
		Before: "STATE_FAILED", After: "STATE_PENDING"}}
	if diff := cmp.Diff(want, summarizeAudits(audits)); diff != "" {
		t.Errorf("audit records (-want +got):\n%s", diff)
	}
}

// TestCancelIsAudited: each request a CancelFulfillment cancels is
// recorded with the caller, who is also named in the cancelled event.
func TestCancelIsAudited(t *testing.T) {
	s, db := newStoreDB(t)
	r := pendingRequest(t, s, "O-6")
	c := worker.NewCanceller(s, answering(fulfillment.WMSAnswer{}, nil), worker.Common{Now: func() time.Time { return t0 }})
	if _, err := c.Cancel(t.Context(), "O-6", "c-1", "customer", "fp", operator); err != nil {
		t.Fatal(err)
	}
	_, audits := opsEvents(t, db)
	want := []auditSummary{{Action: "fulfillment_request.cancel", Target: "orders/O-6/fulfillmentRequests/" + r.ID, Actor: "operator:key-ops",
		Before: "STATE_PENDING", After: "STATE_CANCELLED"}}
	if diff := cmp.Diff(want, summarizeAudits(audits)); diff != "" {
		t.Errorf("audit records (-want +got):\n%s", diff)
	}
	rows := outboxtest.Read(t, db, eventstreams.FulfillmentRequestCancelled)
	if len(rows) != 1 {
		t.Fatalf("cancelled events: %+v", rows)
	}
	if got := rows[0].Message.(*fulfillmentv1.FulfillmentRequestCancelledEvent).GetActor(); got.GetKind() != "operator" || got.GetId() != "key-ops" {
		t.Errorf("cancelled event actor = %v", got)
	}
}

// cursorFails is a store whose transactions fail when they store the feed
// cursor, the last step of applying a page.
type cursorFails struct{ fulfillment.Store }

var errCursor = errors.New("cursor not stored")

func (s cursorFails) InTx(ctx context.Context, fn func(fulfillment.Tx) error) error {
	return s.Store.InTx(ctx, func(tx fulfillment.Tx) error { return fn(cursorFailsTx{tx}) })
}

type cursorFailsTx struct{ fulfillment.Tx }

func (cursorFailsTx) SetCursor(context.Context, string, string, time.Time) error { return errCursor }

// TestShipmentMismatchesRaisedNotAudited: a report that does not match the
// allocation raises SHIPMENT_MISMATCH in the transaction that applies the
// page (when it rolls back, nothing is written); shipment changes
// themselves are the WMS's record and write no audit record.
func TestShipmentMismatchesRaisedNotAudited(t *testing.T) {
	s, db := newStoreDB(t)
	picked := shipEvent("E1", "FR-O-1-WH-HAM", wmsv1.ShipmentRequest_STATE_PICKED, 2)
	over := shipEvent("E2", "FR-O-1-WH-HAM", wmsv1.ShipmentRequest_STATE_SHIPPED, 5)
	otherSKU := shipEvent("E3", "FR-O-1-WH-HAM", wmsv1.ShipmentRequest_STATE_SHIPPED, 1)
	otherSKU.Lines[0].Sku = "SKU-X"
	unknown := shipEvent("E4", "FR-unknown", wmsv1.ShipmentRequest_STATE_SHIPPED, 1)
	shipped := shipEvent("E5", "FR-O-1-WH-HAM", wmsv1.ShipmentRequest_STATE_SHIPPED, 2)
	tracked := shipEvent("E6", "FR-O-1-WH-HAM", wmsv1.ShipmentRequest_STATE_SHIPPED, 0)
	tracked.TrackingNumber, tracked.OccurTime = "T-1", timestamppb.New(t0.Add(time.Minute))
	f := &fakeWMS{events: []*wmsv1.ShipmentEvent{picked, over, otherSKU, unknown, shipped, tracked}}
	cfg := worker.PollerConfig{Source: "wms", PageSize: 10, Common: worker.Common{Now: func() time.Time { return t0 }}}

	if _, err := worker.NewPoller(cursorFails{s}, f, cfg).PollOnce(t.Context()); !errors.Is(err, errCursor) {
		t.Fatalf("poll with a failing cursor: %v", err)
	}
	if rows := outboxtest.Read(t, db); len(rows) != 0 {
		t.Fatalf("outbox after a rolled back page: %+v", rows)
	}

	if _, err := worker.NewPoller(s, f, cfg).PollOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	list, err := shipments(t, s, "O-1")
	if err != nil || len(list) != 1 {
		t.Fatalf("shipments = %+v, %v", list, err)
	}
	sh := "orders/O-1/shipments/" + list[0].ID
	excs, audits := opsEvents(t, db)
	mismatch := func(event, sku string, expected, reported float64) exceptionSummary {
		return exceptionSummary{
			Kind: opsv1.Exception_KIND_SHIPMENT_MISMATCH, Severity: opsv1.Exception_SEVERITY_HIGH, Domain: opsv1.Exception_DOMAIN_FULFILLMENT,
			Resource: "fulfillmentRequests/FR-O-1-WH-HAM",
			Details: map[string]any{"shipment": sh, "fulfillmentRequest": "orders/O-1/fulfillmentRequests/FR-O-1-WH-HAM", "order": "orders/O-1",
				"orderLine": "1", "wmsEvent": event, "sku": sku, "expected": expected, "reported": reported},
		}
	}
	if diff := cmp.Diff([]exceptionSummary{mismatch("E2", "SKU-1", 2, 5), mismatch("E3", "SKU-X", 0, 1)}, summarize(excs)); diff != "" {
		t.Errorf("exceptions (-want +got):\n%s", diff)
	}
	if got := summarizeAudits(audits); len(got) != 0 {
		t.Errorf("shipment reports wrote audit records: %+v", got)
	}
}
