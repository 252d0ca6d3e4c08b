package deskevents_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/natstest"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/ops/internal/desk"
	"github.com/transload/transload/services/ops/internal/opstest"
)

func rejection(order, msg string, sev opsv1.Exception_Severity) opsevents.Exception {
	return opsevents.Exception{
		Kind: opsv1.Exception_KIND_ERP_REJECTION, Severity: sev, Domain: opsv1.Exception_DOMAIN_ERP,
		Resource: "orders/" + order, AggregateType: "order", AggregateID: order, Message: msg,
		Details: map[string]any{"order": "orders/" + order, "erpCode": "E42"}, CorrelationID: "corr-" + order,
	}
}

// exceptions lists every exception of s, oldest first.
func exceptions(t *testing.T, s desk.Store) []*desk.Exception {
	t.Helper()
	es, err := s.ListExceptions(t.Context(), desk.ExceptionQuery{Order: desk.ByCreateAsc, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// waitForException waits until the exception of kind on resource has
// count occurrences and returns it with its history.
func waitForException(t *testing.T, s desk.Store, kind desk.Kind, resource string, count int64) *desk.Exception {
	t.Helper()
	var found *desk.Exception
	opstest.Eventually(t, fmt.Sprintf("%d occurrence(s) of %d on %s", count, kind, resource), func() error {
		for _, e := range exceptions(t, s) {
			if e.Kind == kind && e.Resource == resource && e.State != desk.StateResolved {
				found = e
				return wait.Check(e.OccurrenceCount == count, "count %d", e.OccurrenceCount)
			}
		}
		return fmt.Errorf("no open exception")
	})
	full, err := s.GetException(t.Context(), found.ID)
	if err != nil {
		t.Fatal(err)
	}
	return full
}

func historyActions(e *desk.Exception) []string {
	var out []string
	for _, h := range e.History {
		out = append(out, h.Action)
	}
	return out
}

// TestRaiseDeduplicates: the same kind and resource count on one open
// exception; another kind opens its own; a redelivered event changes
// nothing; after resolution the next occurrence opens a new exception.
func TestRaiseDeduplicates(t *testing.T) {
	srv := natstest.Start(t)
	_, js := natstest.Connect(t, srv)
	ops := opstest.StartOps(t, js, sqldbtest.SQLiteDSN(t))
	order := opstest.NewProducer(t, js, "order")

	order.Raise(t, rejection("O-1", "ERP rejected order: customer blocked", opsv1.Exception_SEVERITY_MEDIUM))
	again := order.Raise(t, rejection("O-1", "ERP rejected order: credit limit", opsv1.Exception_SEVERITY_HIGH))
	order.Raise(t, opsevents.Exception{
		Kind: opsv1.Exception_KIND_ERP_SUBMISSION_FAILED, Severity: opsv1.Exception_SEVERITY_HIGH, Domain: opsv1.Exception_DOMAIN_ERP,
		Resource: "orders/O-1", Message: "ERP unreachable", Details: map[string]any{"order": "orders/O-1", "lastError": "timeout"},
	})
	e := waitForException(t, ops.Store, desk.KindERPRejection, "orders/O-1", 2)
	waitForException(t, ops.Store, desk.KindERPSubmissionFailed, "orders/O-1", 1)
	if e.Severity != desk.SeverityHigh || e.Message != "ERP rejected order: credit limit" || e.SourceService != "order" ||
		e.Domain != desk.DomainERP || e.CorrelationID != "corr-O-1" || e.Details["erpCode"] != "E42" {
		t.Fatalf("deduplicated exception = %+v", e)
	}
	if diff := cmp.Diff([]string{desk.HistoryRaised, desk.HistoryOccurredAgain}, historyActions(e)); diff != "" {
		t.Fatalf("history (-want +got):\n%s", diff)
	}
	if !e.LastOccurTime.After(e.CreateTime) || e.History[1].Actor != (desk.Actor{Kind: "service", ID: "order"}) {
		t.Fatalf("occurrence times %v → %v, second actor %+v", e.CreateTime, e.LastOccurTime, e.History[1].Actor)
	}

	// A redelivery of the second occurrence, then a marker event behind it
	// in the stream: once the marker is on the desk, the redelivery was
	// handled, and it changed nothing.
	opstest.Redeliver(t, js, eventstreams.Ops.Name, again)
	order.Raise(t, rejection("O-MARK", "marker", opsv1.Exception_SEVERITY_LOW))
	waitForException(t, ops.Store, desk.KindERPRejection, "orders/O-MARK", 1)
	if got := waitForException(t, ops.Store, desk.KindERPRejection, "orders/O-1", 2); len(got.History) != 2 {
		t.Fatalf("redelivery added history: %v", historyActions(got))
	}

	// Resolved stays resolved; the next occurrence opens a new exception.
	if _, err := ops.Desk.Resolve(t.Context(), desk.ActParams{ID: e.ID, RequestID: "r1", Note: "customer unblocked",
		Actor: desk.Actor{Kind: "operator", ID: "key-1"}}); err != nil {
		t.Fatal(err)
	}
	order.Raise(t, rejection("O-1", "ERP rejected order: customer blocked", opsv1.Exception_SEVERITY_MEDIUM))
	fresh := waitForException(t, ops.Store, desk.KindERPRejection, "orders/O-1", 1)
	if fresh.ID == e.ID {
		t.Fatal("the new occurrence reopened the resolved exception")
	}
	old, err := ops.Store.GetException(t.Context(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if old.State != desk.StateResolved || old.OccurrenceCount != 2 {
		t.Fatalf("resolved exception after a new occurrence: state %v, count %d", old.State, old.OccurrenceCount)
	}
}

// TestStreamLossProjection: the outbox reconciler's EVENT_STREAM_LOSS
// exception (platform/outbox/streamloss) reaches the desk as its own
// kind, deduplicated per stream, offering only acknowledge and resolve
// (there is no dead letter to replay: the events were republished).
func TestStreamLossProjection(t *testing.T) {
	srv := natstest.Start(t)
	_, js := natstest.Connect(t, srv)
	ops := opstest.StartOps(t, js, sqldbtest.SQLiteDSN(t))
	inv := opstest.NewProducer(t, js, "inventory")
	loss := func(n int) opsevents.Exception {
		return opsevents.Exception{
			Kind: opsv1.Exception_KIND_EVENT_STREAM_LOSS, Severity: opsv1.Exception_SEVERITY_HIGH,
			Domain: opsv1.Exception_DOMAIN_FULFILLMENT, Resource: "streams/TRANSLOAD_STREAMLOSS_TEST",
			Message: "stream lost events; republished",
			Details: map[string]any{"stream": "TRANSLOAD_STREAMLOSS_TEST", "service": "inventory", "republished": n},
		}
	}
	inv.Raise(t, loss(3))
	inv.Raise(t, loss(5))
	e := waitForException(t, ops.Store, desk.KindEventStreamLoss, "streams/TRANSLOAD_STREAMLOSS_TEST", 2)
	if e.Severity != desk.SeverityHigh || e.Domain != desk.DomainFulfillment || e.SourceService != "inventory" ||
		e.Details["stream"] != "TRANSLOAD_STREAMLOSS_TEST" || e.DeadLetterPending {
		t.Fatalf("EVENT_STREAM_LOSS exception = %+v", e)
	}
	if diff := cmp.Diff([]desk.Action{desk.ActionAcknowledge, desk.ActionResolve}, e.AllowedActions()); diff != "" {
		t.Fatalf("allowed actions (-want +got):\n%s", diff)
	}
}

// TestAuditProjection: an audit event becomes the record named by its
// event id, once.
func TestAuditProjection(t *testing.T) {
	srv := natstest.Start(t)
	_, js := natstest.Connect(t, srv)
	ops := opstest.StartOps(t, js, sqldbtest.SQLiteDSN(t))
	inventory := opstest.NewProducer(t, js, "inventory")

	id := inventory.Record(t, opsevents.Audit{
		Actor: opsevents.Actor{Kind: "operator", ID: "key-7"}, Action: "stock_level.correct",
		Target: "stockLevels/SKU-1@WH-HAM", Before: map[string]any{"onHand": 5}, After: map[string]any{"onHand": 7},
	})
	opstest.Redeliver(t, js, eventstreams.Ops.Name, id)
	marker := inventory.Record(t, opsevents.Audit{Actor: opsevents.Service("inventory"), Action: "reservation.expire", Target: "reservations/R-1"})
	opstest.Eventually(t, "the marker audit record", func() error {
		_, err := ops.Store.GetAuditRecord(t.Context(), marker)
		return err
	})
	got, err := ops.Store.GetAuditRecord(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := &desk.AuditRecord{
		ID: id, Actor: desk.Actor{Kind: "operator", ID: "key-7"}, Action: "stock_level.correct",
		Target: "stockLevels/SKU-1@WH-HAM", Service: "inventory",
		Before: map[string]any{"onHand": 5.0}, After: map[string]any{"onHand": 7.0},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(desk.AuditRecord{}, "CreateTime")); diff != "" {
		t.Fatalf("audit record (-want +got):\n%s", diff)
	}
	if got.CreateTime.IsZero() {
		t.Fatal("audit record without a create time")
	}
	all, err := ops.Store.ListAuditRecords(t.Context(), desk.AuditQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Fatalf("%d audit records, want 2 (the redelivery skipped)", len(all))
	}
}

// waitForDeadLetters waits until s holds n dead letters and returns them,
// oldest first.
func waitForDeadLetters(t *testing.T, s desk.Store, n int) []*desk.DeadLetter {
	t.Helper()
	var dls []*desk.DeadLetter
	opstest.Eventually(t, fmt.Sprintf("%d dead letters", n), func() error {
		var err error
		dls, err = s.ListDeadLetters(t.Context(), desk.DeadLetterQuery{OldestFirst: true, Limit: 100})
		if err != nil {
			return err
		}
		return wait.Check(len(dls) == n, "%d dead letters", len(dls))
	})
	return dls
}

// TestDeadLetterProjection: an event a consumer gives up on becomes a
// PENDING dead letter and a DEAD_LETTER exception of the consumer's
// domain.
func TestDeadLetterProjection(t *testing.T) {
	srv := natstest.Start(t)
	_, js := natstest.Connect(t, srv)
	ops := opstest.StartOps(t, js, sqldbtest.SQLiteDSN(t))
	poison := opstest.StartPoison(t, js)

	id := poison.Publish(t, "p1")
	dl := waitForDeadLetters(t, ops.Store, 1)[0]
	if dl.Consumer != opstest.PoisonConsumer || dl.EventID != id || dl.Subject != opstest.PoisonSubject ||
		dl.State != desk.DeadLetterPending || dl.DeliveryCount != 1 || !strings.Contains(dl.Error, "poisoned") ||
		dl.PayloadType != "google.protobuf.StringValue" || dl.PayloadSize == 0 || dl.PublishTime.IsZero() ||
		dl.Stream != opstest.PoisonStream.Name || dl.AggregateID != "p1" {
		t.Fatalf("dead letter = %+v", dl)
	}
	e := waitForException(t, ops.Store, desk.KindDeadLetter, dl.Name(), 1)
	if e.Domain != desk.DomainFulfillment || e.Severity != desk.SeverityHigh || e.SourceService != desk.Service ||
		!e.DeadLetterPending || e.Details["deadLetter"] != dl.Name() || e.Details["consumer"] != opstest.PoisonConsumer ||
		e.Details["subject"] != opstest.PoisonSubject {
		t.Fatalf("DEAD_LETTER exception = %+v", e)
	}
	if diff := cmp.Diff([]desk.Action{desk.ActionAcknowledge, desk.ActionResolve, desk.ActionReplayDeadLetter}, e.AllowedActions()); diff != "" {
		t.Fatalf("allowed actions (-want +got):\n%s", diff)
	}
}

// TestSurvivesRestarts: events raised while the ops service is down, and
// across a NATS restart, reach the desk once it is back; nothing from
// before is projected twice.
func TestSurvivesRestarts(t *testing.T) {
	srv := natstest.Start(t)
	nc, js := natstest.Connect(t, srv)
	dsn := sqldbtest.SQLiteDSN(t)
	ops := opstest.StartOps(t, js, dsn)
	order := opstest.NewProducer(t, js, "order")
	poison := opstest.StartPoison(t, js)

	order.Raise(t, rejection("O-1", "first", opsv1.Exception_SEVERITY_MEDIUM))
	poison.Publish(t, "p1")
	waitForException(t, ops.Store, desk.KindERPRejection, "orders/O-1", 1)
	waitForDeadLetters(t, ops.Store, 1)
	ops.Stop()

	natstest.Restart(t, srv)
	opstest.Eventually(t, "the client reconnected", func() error { return wait.Check(nc.IsConnected(), "not connected") })
	order.Raise(t, rejection("O-1", "second", opsv1.Exception_SEVERITY_MEDIUM))
	order.Raise(t, rejection("O-2", "other order", opsv1.Exception_SEVERITY_MEDIUM))
	poison.Publish(t, "p2")

	ops = opstest.StartOps(t, js, dsn)
	waitForException(t, ops.Store, desk.KindERPRejection, "orders/O-1", 2)
	waitForException(t, ops.Store, desk.KindERPRejection, "orders/O-2", 1)
	dls := waitForDeadLetters(t, ops.Store, 2)
	waitForException(t, ops.Store, desk.KindDeadLetter, dls[1].Name(), 1)

	var resources []string
	for _, e := range exceptions(t, ops.Store) {
		resources = append(resources, e.Resource)
	}
	want := []string{"orders/O-1", dls[0].Name(), "orders/O-2", dls[1].Name()}
	if diff := cmp.Diff(want, resources, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Fatalf("exceptions after the restarts (-want +got):\n%s", diff)
	}
}
