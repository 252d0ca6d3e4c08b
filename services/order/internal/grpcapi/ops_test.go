package grpcapi_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/testing/protocmp"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/platform/opsevents/opseventstest"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/order/internal/order"
)

// as returns ctx naming a as the caller, as the gateway does.
func as(ctx context.Context, a opsevents.Actor) context.Context {
	return metadata.AppendToOutgoingContext(ctx, opsevents.ActorHeader, a.String())
}

var operator = opsevents.Actor{Kind: opsevents.ActorOperator, ID: "key-ops-1"}

// outboxRow is an outbox row as the transaction test reads it.
type outboxRow struct {
	id        int64
	aggType   string
	aggID     string
	subject   string
	createdUS int64
}

// outboxRows returns every outbox row in write order.
func (e *env) outboxRows(t *testing.T) []outboxRow {
	t.Helper()
	rows, err := sqldb.QueryAll(t.Context(), e.db.SQL(),
		`SELECT id, aggregate_type, aggregate_id, subject, created_unix_us FROM outbox_events ORDER BY id`, nil,
		func(sc sqldb.Scanner) (outboxRow, error) {
			var r outboxRow
			err := sc.Scan(&r.id, &r.aggType, &r.aggID, &r.subject, &r.createdUS)
			return r, err
		})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// auditsOf returns the audit records of target, in write order.
func (e *env) auditsOf(t *testing.T, target string) []*opsv1.AuditRecordedEvent {
	t.Helper()
	var out []*opsv1.AuditRecordedEvent
	for _, a := range opseventstest.Read(t, e.db).Audits {
		if a.GetTarget() == target {
			out = append(out, a)
		}
	}
	return out
}

// auditSummary is what the tests compare of an audit record.
type auditSummary struct {
	Action, Actor, BeforeState, AfterState string
}

func summarize(as []*opsv1.AuditRecordedEvent) []auditSummary {
	var out []auditSummary
	for _, a := range as {
		out = append(out, auditSummary{
			Action: a.GetAction(), Actor: a.GetActor().GetKind() + ":" + a.GetActor().GetId(),
			BeforeState: a.GetBefore().GetFields()["state"].GetStringValue(), AfterState: a.GetAfter().GetFields()["state"].GetStringValue(),
		})
	}
	return out
}

// TestERPRejectionRaisesExceptionInTheSameTransaction: the REJECTED state,
// its event, the ERP_REJECTION exception and the order.reject audit record
// are written by one transaction (one outbox batch: one write time,
// adjacent rows), and the exception carries the contract's details.
func TestERPRejectionRaisesExceptionInTheSameTransaction(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		e.erp.RejectCustomer("C0006", erpv1.SalesOrderRejectionReason_SALES_ORDER_REJECTION_REASON_CREDIT_LIMIT)
		// No actor header: the creation is audited with the channel's key,
		// as the state history has it.
		id := e.create(t, createReq("rej-ops", "C0006", line{"SKU-00500", 2})).GetOrderId()
		e.waitState(t, id, orderv1.Order_STATE_REJECTED)

		// The rejection's outbox rows, from its event on.
		rows := e.outboxRows(t)
		start := slices.IndexFunc(rows, func(r outboxRow) bool { return r.subject == eventstreams.OrderRejected })
		if start < 0 || len(rows) != start+3 {
			t.Fatalf("outbox = %+v, want the rejected event, then the exception and the audit record", rows)
		}
		batch := rows[start:]
		if batch[1].subject != eventstreams.ExceptionRaised || batch[1].aggID != "orders/"+id ||
			batch[2].subject != eventstreams.AuditRecorded || batch[2].aggID != "orders/"+id {
			t.Fatalf("outbox after the rejection = %+v, want the rejected event, the exception and the audit record", batch)
		}
		for i, r := range batch {
			if r.createdUS != batch[0].createdUS || r.id != batch[0].id+int64(i) {
				t.Errorf("%s written apart from the rejection (%+v vs %+v): not one outbox batch", r.subject, r, batch[0])
			}
		}

		ops := opseventstest.Read(t, e.db)
		if len(ops.Exceptions) != 1 {
			t.Fatalf("exceptions = %v, want one", ops.Exceptions)
		}
		ex := ops.Exceptions[0]
		want := &opsv1.ExceptionRaisedEvent{
			Kind: opsv1.Exception_KIND_ERP_REJECTION, Severity: opsv1.Exception_SEVERITY_MEDIUM, Domain: opsv1.Exception_DOMAIN_ERP,
			Resource: "orders/" + id, AggregateType: "order", AggregateId: id,
		}
		got := &opsv1.ExceptionRaisedEvent{Kind: ex.GetKind(), Severity: ex.GetSeverity(), Domain: ex.GetDomain(),
			Resource: ex.GetResource(), AggregateType: ex.GetAggregateType(), AggregateId: ex.GetAggregateId()}
		if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
			t.Errorf("exception (-want +got):\n%s", diff)
		}
		details := ex.GetDetails().AsMap()
		if details["order"] != "orders/"+id || details["erpCode"] != "SALES_ORDER_REJECTION_REASON_CREDIT_LIMIT" ||
			details["erpMessage"] != "credit limit exceeded in the ERP" || len(details) != 3 {
			t.Errorf("exception details = %v", details)
		}
		if !strings.Contains(ex.GetMessage(), id) || ex.GetMetadata().GetProducer() != "order" {
			t.Errorf("exception message %q, producer %q", ex.GetMessage(), ex.GetMetadata().GetProducer())
		}
		wantAudits := []auditSummary{
			{order.AuditOrderCreate, "api_key:web", "", "STATE_ACCEPTED_PENDING_ERP"},
			{order.AuditOrderReject, "service:order", "STATE_ACCEPTED_PENDING_ERP", "STATE_REJECTED"},
		}
		if diff := cmp.Diff(wantAudits, summarize(e.auditsOf(t, "orders/"+id))); diff != "" {
			t.Errorf("audit trail (-want +got):\n%s", diff)
		}
		waitEqual(t, "the ERP's rejection counted", func() int { return e.metrics.decisionCount("web/erp/rejected") }, 1)
		if n := e.metrics.decisionCount("web/placement/accepted"); n != 1 {
			t.Errorf("accepted at placement counted %d times, want 1", n)
		}
	})
}

// TestAuditTrailOfAnOrder: every change of an order is audited with the
// acting principal the caller names, the order before and after (order.v1
// JSON), and the target.
func TestAuditTrailOfAnOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	storefront := opsevents.Actor{Kind: opsevents.ActorAPIKey, ID: "key-web-1"}
	res, err := e.client.CreateOrder(as(t.Context(), storefront), createReq("audit-1", "C0007", line{"SKU-00500", 2}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.GetOrder().GetOrderId()
	e.waitState(t, id, orderv1.Order_STATE_CONFIRMED)
	fulfillment := opsevents.Service("fulfillment")
	if _, err := e.client.RecordShipmentProgress(as(t.Context(), fulfillment),
		progress(id, "ev-a1", "S1", "WH-HAM", orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_SHIPPED, map[string]int64{"1": 2})); err != nil {
		t.Fatal(err)
	}
	other := e.create(t, createReq("audit-2", "C0007", line{"SKU-00001", 1})).GetOrderId()
	e.waitState(t, other, orderv1.Order_STATE_CONFIRMED)
	if _, err := e.client.CancelOrder(as(t.Context(), operator), &orderv1.CancelOrderRequest{Name: "orders/" + other, RequestId: "c-a", Reason: "test"}); err != nil {
		t.Fatal(err)
	}

	want := []auditSummary{
		{order.AuditOrderCreate, "api_key:key-web-1", "", "STATE_ACCEPTED_PENDING_ERP"},
		{order.AuditOrderConfirm, "service:order", "STATE_ACCEPTED_PENDING_ERP", "STATE_CONFIRMED"},
		{order.AuditOrderShip, "service:fulfillment", "STATE_CONFIRMED", "STATE_SHIPPED"},
	}
	audits := e.auditsOf(t, "orders/"+id)
	if diff := cmp.Diff(want, summarize(audits)); diff != "" {
		t.Errorf("audit trail of %s (-want +got):\n%s", id, diff)
	}
	// After is the order as stored (its etag names the stored version).
	if got := e.get(t, id); len(audits) == 3 && audits[2].GetAfter().GetFields()["etag"].GetStringValue() != got.GetEtag() {
		t.Errorf("audit after etag %s, stored order etag %s", audits[2].GetAfter().GetFields()["etag"].GetStringValue(), got.GetEtag())
	}
	if len(audits) > 0 && (audits[0].GetBefore() != nil || audits[0].GetService() != "order") {
		t.Errorf("creation audit: before %v, service %q; want no before, service order", audits[0].GetBefore(), audits[0].GetService())
	}
	wantOther := []auditSummary{
		{order.AuditOrderCreate, "api_key:web", "", "STATE_ACCEPTED_PENDING_ERP"},
		{order.AuditOrderConfirm, "service:order", "STATE_ACCEPTED_PENDING_ERP", "STATE_CONFIRMED"},
		{order.AuditOrderCancel, "operator:key-ops-1", "STATE_CONFIRMED", "STATE_CANCELLED"},
	}
	if diff := cmp.Diff(wantOther, summarize(e.auditsOf(t, "orders/"+other))); diff != "" {
		t.Errorf("audit trail of %s (-want +got):\n%s", other, diff)
	}
	// The shipment report's WMS time lies in the past: propagation is
	// measured from it.
	if got := e.metrics.propagations(); len(got) != 1 || got[0] <= 0 {
		t.Errorf("shipment propagation observations = %v, want one positive", got)
	}
	waitEqual(t, "both ERP confirmations counted", func() int { return e.metrics.decisionCount("web/erp/accepted") }, 2)
}

// TestPlacementRejectionIsCounted: a business refusal at placement counts
// once per decision, not per replay.
func TestPlacementRejectionIsCounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withoutWorker)
	for range 2 {
		_, err := e.client.CreateOrder(t.Context(), createReq("on-hold", "C0020", line{"SKU-00001", 1}))
		wantReason(t, err, codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_CUSTOMER_ON_CREDIT_HOLD)
	}
	if n := e.metrics.decisionCount("web/placement/rejected"); n != 1 {
		t.Errorf("placement rejections counted %d, want 1 (the replay is the same decision)", n)
	}
}

// TestRepeatedERPFailureRaisesAtThreshold: an entry that keeps failing at
// the ERP raises ERP_SUBMISSION_FAILED when its attempts reach the
// threshold and again at each multiple; the queue status shows the error,
// the open breaker and the customer's blocker.
func TestRepeatedERPFailureRaisesAtThreshold(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOptions) { o.failureExceptionAfter = 3 })
	// A first order stores the customer snapshot CreateOrder falls back to
	// while the ERP is down.
	e.createConfirmed(t, createReq("snap", "C0003", line{"SKU-00001", 1}))
	e.erp.SetDown(true)
	id := e.create(t, createReq("stuck-1", "C0003", line{"SKU-00001", 1})).GetOrderId()
	behind := e.create(t, createReq("stuck-2", "C0003", line{"SKU-00002", 1})).GetOrderId()

	var exs []*opsv1.ExceptionRaisedEvent
	wait.Eventually(t, waitTimeout, "two ERP_SUBMISSION_FAILED exceptions", func() error {
		exs = opseventstest.Read(t, e.db).Exceptions
		return wait.Check(len(exs) >= 2, "%d exceptions", len(exs))
	})
	for i, ex := range exs[:2] {
		details := ex.GetDetails().AsMap()
		if ex.GetKind() != opsv1.Exception_KIND_ERP_SUBMISSION_FAILED || ex.GetSeverity() != opsv1.Exception_SEVERITY_HIGH ||
			ex.GetDomain() != opsv1.Exception_DOMAIN_ERP || ex.GetResource() != "orders/"+id ||
			details["order"] != "orders/"+id || details["lastError"] == "" || len(details) != 2 {
			t.Errorf("exception %d = %v", i, ex)
		}
		if times := []string{"failed 3 times", "failed 6 times"}[i]; !strings.Contains(ex.GetMessage(), times) {
			t.Errorf("exception %d message %q, want it raised at %s", i, ex.GetMessage(), times)
		}
	}

	st, err := e.client.GetErpQueueStatus(t.Context(), &orderv1.GetErpQueueStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st.GetDepth() != 2 || st.GetLastError() == "" || st.GetLastErrorTime() == nil || st.GetLastSuccessTime() == nil ||
		st.GetSubmittedLastHour() != 1 || st.GetOldestEnqueueTime() == nil {
		t.Errorf("status = %v, want depth 2, the last error and one earlier success", st)
	}
	if b := st.GetCustomerBlockers(); len(b) != 1 || b[0].GetEntry().GetName() != "erpQueueEntries/"+id ||
		b[0].GetEntry().GetCustomerId() != "C0003" || b[0].GetWaitingCount() != 1 || b[0].GetEntry().GetAttemptCount() < 6 {
		t.Errorf("blockers = %v, want %s with %s waiting behind it", b, id, behind)
	}
	wait.Eventually(t, waitTimeout, "the breaker reported open", func() error {
		st, err := e.client.GetErpQueueStatus(t.Context(), &orderv1.GetErpQueueStatusRequest{})
		if err != nil {
			return err
		}
		return wait.Check(st.GetBreakerState() == "open", "breaker %q", st.GetBreakerState())
	})

	// Back up: the queue drains and nothing blocks any more.
	e.erp.SetDown(false)
	e.waitState(t, behind, orderv1.Order_STATE_CONFIRMED)
	st, err = e.client.GetErpQueueStatus(t.Context(), &orderv1.GetErpQueueStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st.GetDepth() != 0 || len(st.GetCustomerBlockers()) != 0 || st.GetOldestEnqueueTime() != nil || st.GetSubmittedLastHour() != 3 {
		t.Errorf("status after recovery = %v, want empty with three submissions", st)
	}
}

// TestErpQueueRPCs: list with filters and pages, get, NOT_FOUND, retry of a
// backing-off entry (audited, and due for the very next pass).
func TestErpQueueRPCs(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		a := e.create(t, createReq("q-a", "C0004", line{"SKU-00001", 1})).GetOrderId()
		b := e.create(t, createReq("q-b", "C0005", line{"SKU-00001", 1})).GetOrderId()
		c := e.create(t, createReq("q-c", "C0004", line{"SKU-00001", 1})).GetOrderId()
		// a failed once and backs off for an hour.
		entry, err := e.store.GetQueueEntry(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if err := e.store.StartQueueAttempt(ctx, entry.Seq, now, now); err != nil {
			t.Fatal(err)
		}
		if err := e.store.RecordQueueFailure(ctx, entry.Seq, now.Add(time.Hour), "ERP refused the payload", nil); err != nil {
			t.Fatal(err)
		}

		names := func(es []*orderv1.ErpQueueEntry) []string {
			var out []string
			for _, e := range es {
				out = append(out, strings.TrimPrefix(e.GetName(), "erpQueueEntries/"))
			}
			return out
		}
		list := func(r *orderv1.ListErpQueueEntriesRequest) *orderv1.ListErpQueueEntriesResponse {
			t.Helper()
			res, err := e.client.ListErpQueueEntries(as(ctx, operator), r)
			if err != nil {
				t.Fatalf("ListErpQueueEntries(%v): %v", r, err)
			}
			return res
		}
		for _, tc := range []struct {
			filter string
			want   []string
		}{
			{"", []string{a, b, c}},
			{"state = STATE_BACKING_OFF", []string{a}},
			{"state = PENDING", []string{b, c}},
			{"state = IN_FLIGHT", nil},
			{`customer_id = "C0004"`, []string{a, c}},
			{`customer_id = "C0004" AND state = PENDING`, []string{c}},
			{`enqueue_time >= "` + now.Add(-time.Hour).UTC().Format(time.RFC3339) + `" AND enqueue_time < "` + now.Add(time.Hour).UTC().Format(time.RFC3339) + `"`, []string{a, b, c}},
			{`enqueue_time < "2000-01-01T00:00:00Z"`, nil},
		} {
			if diff := cmp.Diff(tc.want, names(list(&orderv1.ListErpQueueEntriesRequest{Filter: tc.filter}).GetErpQueueEntries())); diff != "" {
				t.Errorf("filter %q (-want +got):\n%s", tc.filter, diff)
			}
		}
		// Pages of two, in queue order; the token is bound to the filter.
		p1 := list(&orderv1.ListErpQueueEntriesRequest{PageSize: 2})
		if diff := cmp.Diff([]string{a, b}, names(p1.GetErpQueueEntries())); diff != "" || p1.GetNextPageToken() == "" {
			t.Fatalf("first page (-want +got):\n%s (token %q)", diff, p1.GetNextPageToken())
		}
		p2 := list(&orderv1.ListErpQueueEntriesRequest{PageSize: 2, PageToken: p1.GetNextPageToken()})
		if diff := cmp.Diff([]string{c}, names(p2.GetErpQueueEntries())); diff != "" || p2.GetNextPageToken() != "" {
			t.Errorf("second page (-want +got):\n%s (token %q)", diff, p2.GetNextPageToken())
		}
		for name, r := range map[string]*orderv1.ListErpQueueEntriesRequest{
			"token of another filter": {PageToken: p1.GetNextPageToken(), Filter: "state = PENDING"},
			"garbage token":           {PageToken: "not-a-token"},
		} {
			_, err := e.client.ListErpQueueEntries(as(ctx, operator), r)
			wantReason(t, err, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN)
			if v := apierr.FieldViolations(err); len(v) != 1 || v[0].Field != "page_token" {
				t.Errorf("%s: violations %v, want one on page_token", name, v)
			}
		}
		for _, f := range []string{"state = SHIPPED", "channel = \"web\"", "customer_id != \"C0004\"", "enqueue_time >= \"yesterday\"", "state = PENDING OR state = IN_FLIGHT"} {
			_, err := e.client.ListErpQueueEntries(ctx, &orderv1.ListErpQueueEntriesRequest{Filter: f})
			wantReason(t, err, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
			if v := apierr.FieldViolations(err); len(v) != 1 || v[0].Field != "filter" || v[0].Reason != "INVALID_FILTER" {
				t.Errorf("filter %q: violations %v, want INVALID_FILTER on filter", f, v)
			}
		}

		got, err := e.client.GetErpQueueEntry(ctx, &orderv1.GetErpQueueEntryRequest{Name: "erpQueueEntries/" + a})
		if err != nil {
			t.Fatal(err)
		}
		want := &orderv1.ErpQueueEntry{
			Name: "erpQueueEntries/" + a, Order: "orders/" + a, CustomerId: "C0004", Action: "submit",
			State: orderv1.ErpQueueEntry_STATE_BACKING_OFF, AttemptCount: 1, LastError: "ERP refused the payload",
		}
		if diff := cmp.Diff(want, got, protocmp.Transform(), protocmp.IgnoreFields(&orderv1.ErpQueueEntry{}, "enqueue_time", "next_attempt_time")); diff != "" {
			t.Errorf("GetErpQueueEntry (-want +got):\n%s", diff)
		}
		if got.GetEnqueueTime() == nil || got.GetNextAttemptTime() == nil || got.GetNextAttemptTime().AsTime().Before(now.Add(59*time.Minute)) {
			t.Errorf("times: enqueued %v, next attempt %v (want about an hour from now)", got.GetEnqueueTime(), got.GetNextAttemptTime())
		}
		for _, name := range []string{"erpQueueEntries/O-UNKNOWN"} {
			_, err := e.client.GetErpQueueEntry(ctx, &orderv1.GetErpQueueEntryRequest{Name: name})
			md := wantReason(t, err, codes.NotFound, orderv1.ErrorReason_ERROR_REASON_ERP_QUEUE_ENTRY_NOT_FOUND)
			if md["erp_queue_entry"] != name {
				t.Errorf("metadata = %v, want erp_queue_entry %s", md, name)
			}
			_, err = e.client.RetryErpQueueEntry(ctx, &orderv1.RetryErpQueueEntryRequest{Name: name})
			wantReason(t, err, codes.NotFound, orderv1.ErrorReason_ERROR_REASON_ERP_QUEUE_ENTRY_NOT_FOUND)
		}

		// A pass leaves the backing-off entry alone (and so C0004's later
		// order); after the retry the next pass sends both.
		e.worker.Pass(ctx)
		if calls := e.erp.SubmitCalls(); !slices.Equal(calls, []string{b}) {
			t.Fatalf("ERP calls before the retry = %v, want only %s", calls, b)
		}
		retried, err := e.client.RetryErpQueueEntry(as(ctx, operator), &orderv1.RetryErpQueueEntryRequest{Name: "erpQueueEntries/" + a})
		if err != nil {
			t.Fatal(err)
		}
		if retried.GetState() != orderv1.ErpQueueEntry_STATE_PENDING || retried.GetNextAttemptTime() != nil || retried.GetAttemptCount() != 1 {
			t.Errorf("retried entry = %v, want PENDING with no next attempt time", retried)
		}
		audits := e.auditsOf(t, "erpQueueEntries/"+a)
		if len(audits) != 1 || audits[0].GetAction() != order.AuditQueueEntryRetry || audits[0].GetActor().GetKind() != "operator" ||
			audits[0].GetActor().GetId() != "key-ops-1" ||
			audits[0].GetBefore().GetFields()["state"].GetStringValue() != "STATE_BACKING_OFF" ||
			audits[0].GetAfter().GetFields()["state"].GetStringValue() != "STATE_PENDING" {
			t.Errorf("retry audit = %v", audits)
		}
		e.worker.Pass(ctx)
		if calls := e.erp.SubmitCalls(); !slices.Equal(calls, []string{b, a, c}) {
			t.Errorf("ERP calls after the retry = %v, want %s then %s, %s", calls, b, a, c)
		}
		e.waitState(t, a, orderv1.Order_STATE_CONFIRMED)
		_, err = e.client.GetErpQueueEntry(ctx, &orderv1.GetErpQueueEntryRequest{Name: "erpQueueEntries/" + a})
		wantReason(t, err, codes.NotFound, orderv1.ErrorReason_ERROR_REASON_ERP_QUEUE_ENTRY_NOT_FOUND)
	}, withoutWorker)
}
