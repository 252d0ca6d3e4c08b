package grpcapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/natsembed"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/natstest"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/ops/internal/grpcapi"
	"github.com/transload/transload/services/ops/internal/opstest"
)

// rig is the ops API over bufconn on a real desk (SQLite, real NATS)
// with a fake upstream.
type rig struct {
	nats     *natsembed.Server
	nc       *nats.Conn
	api      opsv1.OpsServiceClient
	ops      *opstest.Ops
	upstream *fakeUpstream
}

func start(t *testing.T) (*rig, *opstest.Producer, *opstest.Poison) {
	t.Helper()
	srv := natstest.Start(t)
	nc, js := natstest.Connect(t, srv)
	ops := opstest.StartOps(t, js, sqldbtest.SQLiteDSN(t))
	up := &fakeUpstream{}
	lis := bufconn.Listen(1 << 20)
	gs, err := grpcserver.New(grpcserver.WithListener(lis), grpcserver.WithAdminAddr(""),
		grpcserver.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	opsv1.RegisterOpsServiceServer(gs, grpcapi.NewServer(ops.Desk, ops.Store, up, slog.New(slog.DiscardHandler)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gs.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &rig{nats: srv, nc: nc, api: opsv1.NewOpsServiceClient(conn), ops: ops, upstream: up},
		opstest.NewProducer(t, js, "order"), opstest.StartPoison(t, js)
}

// as returns a context calling as operator key id, as the gateway does.
func as(t *testing.T, id string) context.Context {
	return opsevents.AppendActor(t.Context(), opsevents.Actor{Kind: opsevents.ActorOperator, ID: id})
}

func wantStatus(t *testing.T, err error, code codes.Code, reason fmt.Stringer) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
	if reason != nil && !apierr.HasReason(err, reason) {
		t.Fatalf("reason = %q, want %s (%v)", apierr.ReasonOf(err), reason, err)
	}
}

// listExceptions waits until the desk lists n exceptions and returns
// them, newest first.
func listExceptions(t *testing.T, r *rig, n int) []*opsv1.Exception {
	t.Helper()
	var es []*opsv1.Exception
	opstest.Eventually(t, fmt.Sprintf("%d exceptions", n), func() error {
		res, err := r.api.ListExceptions(t.Context(), &opsv1.ListExceptionsRequest{PageSize: 100})
		if err != nil {
			return err
		}
		es = res.GetExceptions()
		return wait.Check(len(es) == n, "%d exceptions", len(es))
	})
	return es
}

func byResource(es []*opsv1.Exception, kind opsv1.Exception_Kind, resource string) *opsv1.Exception {
	for _, e := range es {
		if e.GetKind() == kind && e.GetResource() == resource {
			return e
		}
	}
	return nil
}

func names(es []*opsv1.Exception) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.GetResource()
	}
	return out
}

func raise(kind opsv1.Exception_Kind, sev opsv1.Exception_Severity, domain opsv1.Exception_Domain, resource string) opsevents.Exception {
	return opsevents.Exception{
		Kind: kind, Severity: sev, Domain: domain, Resource: resource, AggregateType: "order", AggregateID: resource,
		Message: kind.String() + " on " + resource, Details: map[string]any{"resource": resource},
	}
}

func TestExceptions(t *testing.T) {
	r, order, _ := start(t)
	ctx := t.Context()
	order.Raise(t, raise(opsv1.Exception_KIND_ERP_REJECTION, opsv1.Exception_SEVERITY_MEDIUM, opsv1.Exception_DOMAIN_ERP, "orders/O-1"))
	order.Raise(t, raise(opsv1.Exception_KIND_ERP_REJECTION, opsv1.Exception_SEVERITY_MEDIUM, opsv1.Exception_DOMAIN_ERP, "orders/O-1"))
	order.Raise(t, raise(opsv1.Exception_KIND_ERP_SUBMISSION_FAILED, opsv1.Exception_SEVERITY_HIGH, opsv1.Exception_DOMAIN_ERP, "orders/O-2"))
	order.Raise(t, raise(opsv1.Exception_KIND_INVENTORY_VARIANCE, opsv1.Exception_SEVERITY_LOW, opsv1.Exception_DOMAIN_FULFILLMENT, "stockLevels/S-1@WH"))
	es := listExceptions(t, r, 3)
	opstest.Eventually(t, "the second occurrence", func() error {
		es = listExceptions(t, r, 3)
		n := byResource(es, opsv1.Exception_KIND_ERP_REJECTION, "orders/O-1").GetOccurrenceCount()
		return wait.Check(n == 2, "count %d", n)
	})
	rejection := byResource(es, opsv1.Exception_KIND_ERP_REJECTION, "orders/O-1")
	failed := byResource(es, opsv1.Exception_KIND_ERP_SUBMISSION_FAILED, "orders/O-2")
	variance := byResource(es, opsv1.Exception_KIND_INVENTORY_VARIANCE, "stockLevels/S-1@WH")
	if diff := cmp.Diff([]string{"stockLevels/S-1@WH", "orders/O-2", "orders/O-1"}, names(es)); diff != "" {
		t.Fatalf("newest first (-want +got):\n%s", diff)
	}
	for _, e := range es {
		if len(e.GetHistory()) != 0 {
			t.Fatalf("ListExceptions returned history for %s", e.GetName())
		}
	}
	A := func(as ...opsv1.Exception_Action) []opsv1.Exception_Action { return as }
	for _, tc := range []struct {
		e    *opsv1.Exception
		want []opsv1.Exception_Action
	}{
		{rejection, A(opsv1.Exception_ACTION_ACKNOWLEDGE, opsv1.Exception_ACTION_RESOLVE)},
		{failed, A(opsv1.Exception_ACTION_ACKNOWLEDGE, opsv1.Exception_ACTION_RESOLVE, opsv1.Exception_ACTION_RETRY_ERP_SUBMISSION)},
		{variance, A(opsv1.Exception_ACTION_ACKNOWLEDGE, opsv1.Exception_ACTION_RESOLVE, opsv1.Exception_ACTION_TRIGGER_RECONCILIATION)},
	} {
		if diff := cmp.Diff(tc.want, tc.e.GetAllowedActions()); diff != "" {
			t.Errorf("allowed actions of %s (-want +got):\n%s", tc.e.GetResource(), diff)
		}
	}

	got, err := r.api.GetException(ctx, &opsv1.GetExceptionRequest{Name: rejection.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.GetHistory()) != 2 || got.GetHistory()[0].GetAction() != "raised" || got.GetHistory()[1].GetAction() != "occurred_again" ||
		got.GetHistory()[0].GetActor().GetId() != "order" || got.GetDetails().GetFields()["resource"].GetStringValue() != "orders/O-1" ||
		got.GetSourceService() != "order" || got.GetLastOccurTime() == nil {
		t.Fatalf("GetException = %v", got)
	}
	_, err = r.api.GetException(ctx, &opsv1.GetExceptionRequest{Name: "exceptions/nope"})
	wantStatus(t, err, codes.NotFound, commonv1.ErrorReason_ERROR_REASON_NOT_FOUND)

	t.Run("filters and order", func(t *testing.T) {
		for _, tc := range []struct {
			filter, orderBy string
			want            []string
		}{
			{`kind = KIND_ERP_REJECTION`, "", []string{"orders/O-1"}},
			{`kind != ERP_REJECTION AND domain = ERP`, "", []string{"orders/O-2"}},
			{`severity = SEVERITY_LOW`, "", []string{"stockLevels/S-1@WH"}},
			{`state = STATE_OPEN AND resource = "orders/O-2"`, "", []string{"orders/O-2"}},
			{`source_service = "order" AND aggregate_type = "order"`, "create_time", []string{"orders/O-1", "orders/O-2", "stockLevels/S-1@WH"}},
			{`create_time >= "2000-01-01T00:00:00Z" AND last_occur_time < "2100-01-01T00:00:00Z"`, "severity desc", []string{"orders/O-2", "orders/O-1", "stockLevels/S-1@WH"}},
			{`create_time < "2000-01-01T00:00:00Z"`, "", nil},
		} {
			t.Run(tc.filter+" "+tc.orderBy, func(t *testing.T) {
				var got []string
				token := ""
				for range 5 {
					res, err := r.api.ListExceptions(ctx, &opsv1.ListExceptionsRequest{Filter: tc.filter, OrderBy: tc.orderBy, PageSize: 1, PageToken: token})
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, names(res.GetExceptions())...)
					if token = res.GetNextPageToken(); token == "" {
						break
					}
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Fatalf("resources (-want +got):\n%s", diff)
				}
			})
		}
		first, err := r.api.ListExceptions(ctx, &opsv1.ListExceptionsRequest{PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.api.ListExceptions(ctx, &opsv1.ListExceptionsRequest{PageSize: 1, PageToken: first.GetNextPageToken(), Filter: `state = STATE_OPEN`})
		wantStatus(t, err, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN)
	})

	t.Run("acknowledge and resolve", func(t *testing.T) {
		ack, err := r.api.AcknowledgeException(as(t, "key-ann"), &opsv1.AcknowledgeExceptionRequest{Name: failed.GetName(), RequestId: "ack-1"})
		if err != nil {
			t.Fatal(err)
		}
		if ack.GetState() != opsv1.Exception_STATE_ACKNOWLEDGED || ack.GetAcknowledger().GetKind() != "operator" ||
			ack.GetAcknowledger().GetId() != "key-ann" {
			t.Fatalf("acknowledged = %v", ack)
		}
		again, err := r.api.AcknowledgeException(as(t, "key-ann"), &opsv1.AcknowledgeExceptionRequest{Name: failed.GetName(), RequestId: "ack-1"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ack, again, protocmp.Transform()); diff != "" {
			t.Fatalf("the repeated request answered differently (-first +again):\n%s", diff)
		}
		_, err = r.api.AcknowledgeException(as(t, "key-ann"), &opsv1.AcknowledgeExceptionRequest{Name: rejection.GetName(), RequestId: "ack-1"})
		wantStatus(t, err, codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED)
		// Another operator takes it over.
		taken, err := r.api.AcknowledgeException(as(t, "key-bob"), &opsv1.AcknowledgeExceptionRequest{Name: failed.GetName(), RequestId: "ack-1"})
		if err != nil || taken.GetAcknowledger().GetId() != "key-bob" {
			t.Fatalf("acknowledge by another operator = %v, %v", taken, err)
		}

		res, err := r.api.ResolveException(as(t, "key-bob"), &opsv1.ResolveExceptionRequest{Name: failed.GetName(), RequestId: "res-1", Note: "ERP back"})
		if err != nil {
			t.Fatal(err)
		}
		if res.GetState() != opsv1.Exception_STATE_RESOLVED || res.GetResolver().GetId() != "key-bob" || res.GetResolutionNote() != "ERP back" ||
			res.GetResolveTime() == nil || len(res.GetAllowedActions()) != 1 || res.GetAllowedActions()[0] != opsv1.Exception_ACTION_RETRY_ERP_SUBMISSION {
			t.Fatalf("resolved = %v", res)
		}
		replayed, err := r.api.ResolveException(as(t, "key-bob"), &opsv1.ResolveExceptionRequest{Name: failed.GetName(), RequestId: "res-1", Note: "ERP back"})
		if err != nil || !proto.Equal(res, replayed) {
			t.Fatalf("repeated resolve = %v, %v; want the first answer", replayed, err)
		}
		_, err = r.api.ResolveException(as(t, "key-bob"), &opsv1.ResolveExceptionRequest{Name: failed.GetName(), RequestId: "res-1", Note: "other note"})
		wantStatus(t, err, codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED)
		_, err = r.api.ResolveException(as(t, "key-bob"), &opsv1.ResolveExceptionRequest{Name: failed.GetName(), RequestId: "res-2", Note: "again"})
		wantStatus(t, err, codes.FailedPrecondition, opsv1.ErrorReason_ERROR_REASON_EXCEPTION_ALREADY_RESOLVED)
		_, err = r.api.AcknowledgeException(as(t, "key-bob"), &opsv1.AcknowledgeExceptionRequest{Name: failed.GetName(), RequestId: "ack-9"})
		wantStatus(t, err, codes.FailedPrecondition, opsv1.ErrorReason_ERROR_REASON_EXCEPTION_ALREADY_RESOLVED)
		_, err = r.api.AcknowledgeException(as(t, "key-bob"), &opsv1.AcknowledgeExceptionRequest{Name: "exceptions/nope", RequestId: "ack-10"})
		wantStatus(t, err, codes.NotFound, commonv1.ErrorReason_ERROR_REASON_NOT_FOUND)

		full, err := r.api.GetException(ctx, &opsv1.GetExceptionRequest{Name: failed.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		for _, h := range full.GetHistory() {
			steps = append(steps, h.GetAction()+" by "+h.GetActor().GetId()+": "+h.GetNote())
		}
		want := []string{"raised by order: " + failed.GetMessage(), "acknowledged by key-ann: ", "acknowledged by key-bob: ", "resolved by key-bob: ERP back"}
		if diff := cmp.Diff(want, steps); diff != "" {
			t.Fatalf("history (-want +got):\n%s", diff)
		}

		// Every action is in the audit trail, with the operator.
		audit, err := r.api.ListAuditRecords(ctx, &opsv1.ListAuditRecordsRequest{Filter: `target = "` + failed.GetName() + `"`})
		if err != nil {
			t.Fatal(err)
		}
		var trail []string
		for _, a := range audit.GetAuditRecords() {
			trail = append(trail, a.GetAction()+" by "+a.GetActor().GetKind()+":"+a.GetActor().GetId())
		}
		if diff := cmp.Diff([]string{"exception.resolve by operator:key-bob", "exception.acknowledge by operator:key-bob",
			"exception.acknowledge by operator:key-ann"}, trail); diff != "" {
			t.Fatalf("audit trail, newest first (-want +got):\n%s", diff)
		}
		resolve := audit.GetAuditRecords()[0]
		if resolve.GetService() != "ops" || resolve.GetBefore().GetFields()["state"].GetStringValue() != "STATE_ACKNOWLEDGED" ||
			resolve.GetAfter().GetFields()["state"].GetStringValue() != "STATE_RESOLVED" ||
			resolve.GetAfter().GetFields()["resolutionNote"].GetStringValue() != "ERP back" || resolve.GetCorrelationId() == "" {
			t.Fatalf("resolve audit record = %v", resolve)
		}
		one, err := r.api.GetAuditRecord(ctx, &opsv1.GetAuditRecordRequest{Name: resolve.GetName()})
		if err != nil || !proto.Equal(one, resolve) {
			t.Fatalf("GetAuditRecord = %v, %v; want %v", one, err, resolve)
		}
		_, err = r.api.GetAuditRecord(ctx, &opsv1.GetAuditRecordRequest{Name: "auditRecords/nope"})
		wantStatus(t, err, codes.NotFound, commonv1.ErrorReason_ERROR_REASON_NOT_FOUND)
		byAnn, err := r.api.ListAuditRecords(ctx, &opsv1.ListAuditRecordsRequest{Filter: `actor.kind = "operator" AND actor.id = "key-ann" AND action = "exception.acknowledge"`})
		if err != nil || len(byAnn.GetAuditRecords()) != 1 {
			t.Fatalf("audit records by key-ann = %v, %v", byAnn, err)
		}
	})

	t.Run("ERP retry goes upstream and into the history", func(t *testing.T) {
		// A fresh occurrence: the resolved one stays resolved.
		order.Raise(t, raise(opsv1.Exception_KIND_ERP_SUBMISSION_FAILED, opsv1.Exception_SEVERITY_HIGH, opsv1.Exception_DOMAIN_ERP, "orders/O-2"))
		es := listExceptions(t, r, 4)
		open := es[0]
		if open.GetResource() != "orders/O-2" || open.GetState() != opsv1.Exception_STATE_OPEN {
			t.Fatalf("newest exception = %v", open)
		}
		for range 2 { // the same request twice notes the retry once
			sub, err := r.api.RetryErpSubmission(as(t, "key-ann"), &opsv1.RetryErpSubmissionRequest{Name: "erpSubmissions/O-2", RequestId: "retry-1"})
			if err != nil || sub.GetName() != "erpSubmissions/O-2" {
				t.Fatalf("RetryErpSubmission = %v, %v", sub, err)
			}
		}
		full, err := r.api.GetException(ctx, &opsv1.GetExceptionRequest{Name: open.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		h := full.GetHistory()
		if len(h) != 2 || h[1].GetAction() != "erp_submission.retry" || h[1].GetActor().GetId() != "key-ann" || h[1].GetOutcome() != "due now (3 attempts so far)" {
			t.Fatalf("history after the retry = %v", h)
		}
		if got := r.upstream.calls(); got["RetryErpSubmission"] != 2 {
			t.Fatalf("upstream calls = %v", got)
		}
	})

	t.Run("a reconciliation is noted on the stock exceptions in its scope", func(t *testing.T) {
		order.Raise(t, raise(opsv1.Exception_KIND_INVENTORY_VARIANCE, opsv1.Exception_SEVERITY_MEDIUM, opsv1.Exception_DOMAIN_FULFILLMENT, "stockLevels/SKU-1@WH-HAM"))
		order.Raise(t, raise(opsv1.Exception_KIND_STOCK_SEQUENCE_GAP, opsv1.Exception_SEVERITY_MEDIUM, opsv1.Exception_DOMAIN_FULFILLMENT, "stockLevels/SKU-2@WH-MUC"))
		history := func(resource string) []*opsv1.ExceptionHistoryEntry {
			t.Helper()
			var e *opsv1.Exception
			opstest.Eventually(t, "exception on "+resource, func() error {
				l, err := r.api.ListExceptions(ctx, &opsv1.ListExceptionsRequest{Filter: `resource = "` + resource + `"`})
				if err != nil {
					return err
				}
				if len(l.GetExceptions()) != 1 {
					return fmt.Errorf("%d exceptions", len(l.GetExceptions()))
				}
				e = l.GetExceptions()[0]
				return nil
			})
			full, err := r.api.GetException(ctx, &opsv1.GetExceptionRequest{Name: e.GetName()})
			if err != nil {
				t.Fatal(err)
			}
			return full.GetHistory()
		}
		last := func(h []*opsv1.ExceptionHistoryEntry) string { return h[len(h)-1].GetAction() }
		history("stockLevels/SKU-1@WH-HAM")
		history("stockLevels/SKU-2@WH-MUC")
		if _, err := r.api.TriggerReconciliation(as(t, "key-ann"), &opsv1.TriggerReconciliationRequest{RequestId: "recon-1", Warehouses: []string{"WH-HAM"}}); err != nil {
			t.Fatal(err)
		}
		if h := history("stockLevels/SKU-1@WH-HAM"); last(h) != "reconciliation.trigger" || h[len(h)-1].GetOutcome() != "started reconciliations/r1" {
			t.Errorf("in scope: history = %v", h)
		}
		if h := history("stockLevels/SKU-2@WH-MUC"); last(h) == "reconciliation.trigger" {
			t.Errorf("out of scope (WH-MUC): history = %v", h)
		}
		if _, err := r.api.TriggerReconciliation(as(t, "key-ann"), &opsv1.TriggerReconciliationRequest{RequestId: "recon-2"}); err != nil {
			t.Fatal(err)
		}
		if h := history("stockLevels/SKU-2@WH-MUC"); last(h) != "reconciliation.trigger" {
			t.Errorf("a run over everything: history = %v", h)
		}
	})
}

func TestInvalidFilters(t *testing.T) {
	r, _, _ := start(t)
	ctx := as(t, "key-ann")
	for _, tc := range []struct {
		name string
		call func(filter string) error
	}{
		{"exceptions", func(f string) error {
			_, err := r.api.ListExceptions(ctx, &opsv1.ListExceptionsRequest{Filter: f})
			return err
		}},
		{"dead letters", func(f string) error {
			_, err := r.api.ListDeadLetters(ctx, &opsv1.ListDeadLettersRequest{Filter: f})
			return err
		}},
		{"audit", func(f string) error {
			_, err := r.api.ListAuditRecords(ctx, &opsv1.ListAuditRecordsRequest{Filter: f})
			return err
		}},
		{"replay", func(f string) error {
			_, err := r.api.ReplayDeadLetters(ctx, &opsv1.ReplayDeadLettersRequest{RequestId: "r", Filter: f, DryRun: true})
			return err
		}},
	} {
		for _, filter := range []string{
			`colour = "red"`,
			`state = STATE_MAYBE`,
			`create_time = "2026-01-01T00:00:00Z"`,
			`dead_letter_time > "yesterday"`,
			`consumer = "a" OR consumer = "b"`,
			`target < "x"`,
		} {
			t.Run(tc.name+"/"+filter, func(t *testing.T) {
				err := tc.call(filter)
				wantStatus(t, err, codes.InvalidArgument, opsv1.ErrorReason_ERROR_REASON_INVALID_FILTER)
				vs := apierr.FieldViolations(err)
				if len(vs) != 1 || vs[0].Field != "filter" || vs[0].Reason != aip.ViolationInvalidFilter {
					t.Fatalf("violations = %+v", vs)
				}
			})
		}
	}
}

// deadLetterNames waits until n dead letters are listed and returns
// their names, oldest first.
func deadLetterNames(t *testing.T, r *rig, n int) []string {
	t.Helper()
	var out []string
	opstest.Eventually(t, fmt.Sprintf("%d dead letters", n), func() error {
		res, err := r.api.ListDeadLetters(t.Context(), &opsv1.ListDeadLettersRequest{PageSize: 100})
		if err != nil {
			return err
		}
		out = nil
		for _, d := range res.GetDeadLetters() {
			out = append([]string{d.GetName()}, out...)
		}
		return wait.Check(len(out) == n, "%d dead letters", len(out))
	})
	return out
}

func outcomes(res *opsv1.ReplayDeadLettersResponse) []string {
	var out []string
	for _, r := range res.GetResults() {
		out = append(out, r.GetDeadLetter()+" "+r.GetOutcome().String())
	}
	return out
}

// TestDeadLetterReplay drives a real replay: a consumer fails an event
// until fixed, the platform dead-letters it, the desk shows it, a dry run
// lists exactly it, the replay after the fix applies it once, a second
// replay skips it, and the audit trail shows who replayed it.
func TestDeadLetterReplay(t *testing.T) {
	r, _, poison := start(t)
	ctx := t.Context()
	op := as(t, "key-ann")
	p1 := poison.Publish(t, "p1")
	dl := deadLetterNames(t, r, 1)[0]
	p2 := poison.Publish(t, "p2")
	dl2 := deadLetterNames(t, r, 2)[1]

	got, err := r.api.GetDeadLetter(ctx, &opsv1.GetDeadLetterRequest{Name: dl})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetEventId() != p1 || got.GetConsumer() != opstest.PoisonConsumer || got.GetPayloadJson() != `"p1"` ||
		got.GetPayloadType() != "google.protobuf.StringValue" || got.GetState() != opsv1.DeadLetter_STATE_PENDING ||
		got.GetDeliveryCount() != 1 || got.GetDeadLetterTime() == nil || got.GetPublishTime() == nil {
		t.Fatalf("GetDeadLetter = %v", got)
	}
	list, err := r.api.ListDeadLetters(ctx, &opsv1.ListDeadLettersRequest{Filter: `event_id = "` + p1 + `"`})
	if err != nil || len(list.GetDeadLetters()) != 1 || list.GetDeadLetters()[0].GetPayloadJson() != "" ||
		list.GetDeadLetters()[0].GetPayloadSizeBytes() == 0 {
		t.Fatalf("ListDeadLetters by event id = %v, %v (want one, without payload JSON)", list, err)
	}
	_, err = r.api.GetDeadLetter(ctx, &opsv1.GetDeadLetterRequest{Name: "deadLetters/999"})
	wantStatus(t, err, codes.NotFound, commonv1.ErrorReason_ERROR_REASON_NOT_FOUND)
	_, err = r.api.GetDeadLetter(ctx, &opsv1.GetDeadLetterRequest{Name: "deadLetters/x"})
	wantStatus(t, err, codes.NotFound, commonv1.ErrorReason_ERROR_REASON_NOT_FOUND)

	exc := listExceptions(t, r, 2)
	dlExc := byResource(exc, opsv1.Exception_KIND_DEAD_LETTER, dl)
	if dlExc == nil || dlExc.GetDomain() != opsv1.Exception_DOMAIN_FULFILLMENT ||
		dlExc.GetDetails().GetFields()["deadLetter"].GetStringValue() != dl ||
		!cmp.Equal(dlExc.GetAllowedActions(), []opsv1.Exception_Action{opsv1.Exception_ACTION_ACKNOWLEDGE, opsv1.Exception_ACTION_RESOLVE, opsv1.Exception_ACTION_REPLAY_DEAD_LETTER}) {
		t.Fatalf("DEAD_LETTER exception = %v", dlExc)
	}

	// Dry runs name exactly the selected dead letter and change nothing;
	// they are not remembered, so the request id serves the real run.
	for _, req := range []*opsv1.ReplayDeadLettersRequest{
		{RequestId: "replay-1", Names: []string{dl}, DryRun: true},
		{RequestId: "replay-1", Filter: `event_id = "` + p1 + `"`, DryRun: true},
	} {
		dry, err := r.api.ReplayDeadLetters(op, req)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{dl + " OUTCOME_WOULD_REPLAY"}, outcomes(dry)); diff != "" || !dry.GetDryRun() || dry.GetReplayedCount() != 1 || dry.GetMatchedCount() != 1 {
			t.Fatalf("dry run %v = %v (-want +got):\n%s", req, dry, diff)
		}
	}
	if applied := poison.Applied(t); len(applied) != 0 {
		t.Fatalf("a dry run applied %v", applied)
	}

	poison.Fix()
	res, err := r.api.ReplayDeadLetters(op, &opsv1.ReplayDeadLettersRequest{RequestId: "replay-1", Names: []string{dl}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{dl + " OUTCOME_REPLAYED"}, outcomes(res)); diff != "" || res.GetDryRun() || res.GetReplayedCount() != 1 {
		t.Fatalf("replay = %v (-want +got):\n%s", res, diff)
	}
	opstest.Eventually(t, "the fixed consumer applied the replayed event", func() error {
		return wait.Check(cmp.Equal(poison.Applied(t), []string{p1}), "applied %v", poison.Applied(t))
	})
	again, err := r.api.ReplayDeadLetters(op, &opsv1.ReplayDeadLettersRequest{RequestId: "replay-1", Names: []string{dl}})
	if err != nil || !proto.Equal(res, again) {
		t.Fatalf("the repeated request = %v, %v; want the first answer", again, err)
	}
	second, err := r.api.ReplayDeadLetters(op, &opsv1.ReplayDeadLettersRequest{RequestId: "replay-2", Names: []string{dl}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{dl + " OUTCOME_SKIPPED"}, outcomes(second)); diff != "" || second.GetSkippedCount() != 1 ||
		second.GetResults()[0].GetDetail() != "already replayed" {
		t.Fatalf("second replay = %v (-want +got):\n%s", second, diff)
	}
	_, err = r.api.ReplayDeadLetters(op, &opsv1.ReplayDeadLettersRequest{RequestId: "replay-2", Names: []string{dl2}})
	wantStatus(t, err, codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED)
	_, err = r.api.ReplayDeadLetters(op, &opsv1.ReplayDeadLettersRequest{RequestId: "replay-3", Names: []string{"deadLetters/999"}})
	wantStatus(t, err, codes.NotFound, commonv1.ErrorReason_ERROR_REASON_NOT_FOUND)

	replayed, err := r.api.GetDeadLetter(ctx, &opsv1.GetDeadLetterRequest{Name: dl})
	if err != nil || replayed.GetState() != opsv1.DeadLetter_STATE_REPLAYED || replayed.GetReplayCount() != 1 || replayed.GetLastReplayTime() == nil {
		t.Fatalf("replayed dead letter = %v, %v", replayed, err)
	}
	e, err := r.api.GetException(ctx, &opsv1.GetExceptionRequest{Name: dlExc.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, h := range e.GetHistory() {
		steps = append(steps, h.GetAction()+" "+h.GetOutcome())
	}
	if diff := cmp.Diff([]string{"raised ", "dead_letter.replay replayed", "dead_letter.replay skipped: already replayed"}, steps); diff != "" {
		t.Fatalf("DEAD_LETTER history (-want +got):\n%s", diff)
	}
	if slices.Contains(e.GetAllowedActions(), opsv1.Exception_ACTION_REPLAY_DEAD_LETTER) {
		t.Fatalf("a replayed dead letter still offers a replay: %v", e.GetAllowedActions())
	}
	audit, err := r.api.ListAuditRecords(ctx, &opsv1.ListAuditRecordsRequest{Filter: `action = "dead_letter.replay"`})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit.GetAuditRecords()) != 1 || audit.GetAuditRecords()[0].GetTarget() != dl ||
		audit.GetAuditRecords()[0].GetActor().GetId() != "key-ann" ||
		audit.GetAuditRecords()[0].GetAfter().GetFields()["state"].GetStringValue() != "STATE_REPLAYED" {
		t.Fatalf("replay audit records = %v", audit)
	}

	// By filter: only what is still pending.
	byFilter, err := r.api.ReplayDeadLetters(op, &opsv1.ReplayDeadLettersRequest{RequestId: "replay-4", Filter: `consumer = "` + opstest.PoisonConsumer + `"`})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{dl2 + " OUTCOME_REPLAYED"}, outcomes(byFilter)); diff != "" {
		t.Fatalf("replay by filter (-want +got):\n%s", diff)
	}
	opstest.Eventually(t, "both events applied once", func() error {
		return wait.Check(cmp.Equal(poison.Applied(t), []string{p1, p2}), "applied %v", poison.Applied(t))
	})
	pending, err := r.api.ListDeadLetters(ctx, &opsv1.ListDeadLettersRequest{Filter: `state = STATE_PENDING`})
	if err != nil || len(pending.GetDeadLetters()) != 0 {
		t.Fatalf("pending dead letters after the replays = %v, %v", pending, err)
	}
}

// TestUpstreamMethods: the eight methods other services own reach the
// upstream unchanged, and its statuses reach the caller unchanged.
func TestUpstreamMethods(t *testing.T) {
	r, _, _ := start(t)
	ctx := t.Context()
	calls := []func() error{
		func() error {
			_, err := r.api.TriggerReconciliation(ctx, &opsv1.TriggerReconciliationRequest{RequestId: "t"})
			return err
		},
		func() error {
			_, err := r.api.GetReconciliation(ctx, &opsv1.GetReconciliationRequest{Name: "reconciliations/r"})
			return err
		},
		func() error {
			_, err := r.api.ListReconciliations(ctx, &opsv1.ListReconciliationsRequest{})
			return err
		},
		func() error { _, err := r.api.GetErpQueueStatus(ctx, &opsv1.GetErpQueueStatusRequest{}); return err },
		func() error { _, err := r.api.ListErpSubmissions(ctx, &opsv1.ListErpSubmissionsRequest{}); return err },
		func() error {
			_, err := r.api.GetErpSubmission(ctx, &opsv1.GetErpSubmissionRequest{Name: "erpSubmissions/O-1"})
			return err
		},
		func() error {
			_, err := r.api.RetryErpSubmission(ctx, &opsv1.RetryErpSubmissionRequest{Name: "erpSubmissions/O-1", RequestId: "x"})
			return err
		},
		func() error { _, err := r.api.GetKpis(ctx, &opsv1.GetKpisRequest{}); return err },
		func() error {
			_, err := r.api.ApproveReturnAuthorization(ctx, &opsv1.ApproveReturnAuthorizationRequest{Name: "returnAuthorizations/R-1", RequestId: "a"})
			return err
		},
		func() error {
			_, err := r.api.RejectReturnAuthorization(ctx, &opsv1.RejectReturnAuthorizationRequest{Name: "returnAuthorizations/R-1", RequestId: "r", Message: "m"})
			return err
		},
		func() error {
			_, err := r.api.CancelReturnAuthorization(ctx, &opsv1.CancelReturnAuthorizationRequest{Name: "returnAuthorizations/R-1", RequestId: "c"})
			return err
		},
	}
	for _, call := range calls {
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int{"TriggerReconciliation": 1, "GetReconciliation": 1, "ListReconciliations": 1, "GetErpQueueStatus": 1,
		"ListErpSubmissions": 1, "GetErpSubmission": 1, "RetryErpSubmission": 1, "GetKpis": 1,
		"ApproveReturnAuthorization": 1, "RejectReturnAuthorization": 1, "CancelReturnAuthorization": 1}
	if diff := cmp.Diff(want, r.upstream.calls()); diff != "" {
		t.Fatalf("upstream calls (-want +got):\n%s", diff)
	}
	r.upstream.fail(apierr.Error(codes.NotFound, commonv1.ErrorReason_ERROR_REASON_NOT_FOUND, "erpSubmissions/O-1 not found", nil))
	for _, call := range calls {
		wantStatus(t, call(), codes.NotFound, commonv1.ErrorReason_ERROR_REASON_NOT_FOUND)
	}
}

// fakeUpstream answers the upstream methods with fixed resources, or
// with err once fail is called, counting calls.
type fakeUpstream struct {
	mu  sync.Mutex
	n   map[string]int
	err error
}

func (f *fakeUpstream) called(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil {
		f.n = map[string]int{}
	}
	f.n[method]++
	return f.err
}

func (f *fakeUpstream) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeUpstream) calls() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.n {
		out[k] = v
	}
	return out
}

func (f *fakeUpstream) TriggerReconciliation(context.Context, *opsv1.TriggerReconciliationRequest) (*opsv1.Reconciliation, error) {
	return &opsv1.Reconciliation{Name: "reconciliations/r1"}, f.called("TriggerReconciliation")
}

func (f *fakeUpstream) GetReconciliation(context.Context, *opsv1.GetReconciliationRequest) (*opsv1.Reconciliation, error) {
	return &opsv1.Reconciliation{Name: "reconciliations/r1"}, f.called("GetReconciliation")
}

func (f *fakeUpstream) ListReconciliations(context.Context, *opsv1.ListReconciliationsRequest) (*opsv1.ListReconciliationsResponse, error) {
	return &opsv1.ListReconciliationsResponse{}, f.called("ListReconciliations")
}

func (f *fakeUpstream) GetErpQueueStatus(context.Context, *opsv1.GetErpQueueStatusRequest) (*opsv1.ErpQueueStatus, error) {
	return &opsv1.ErpQueueStatus{Depth: 2}, f.called("GetErpQueueStatus")
}

func (f *fakeUpstream) ListErpSubmissions(context.Context, *opsv1.ListErpSubmissionsRequest) (*opsv1.ListErpSubmissionsResponse, error) {
	return &opsv1.ListErpSubmissionsResponse{}, f.called("ListErpSubmissions")
}

func (f *fakeUpstream) GetErpSubmission(_ context.Context, req *opsv1.GetErpSubmissionRequest) (*opsv1.ErpSubmission, error) {
	return &opsv1.ErpSubmission{Name: req.GetName()}, f.called("GetErpSubmission")
}

func (f *fakeUpstream) ApproveReturnAuthorization(_ context.Context, req *opsv1.ApproveReturnAuthorizationRequest) (*opsv1.ReturnAuthorization, error) {
	return &opsv1.ReturnAuthorization{Name: req.GetName()}, f.called("ApproveReturnAuthorization")
}

func (f *fakeUpstream) RejectReturnAuthorization(_ context.Context, req *opsv1.RejectReturnAuthorizationRequest) (*opsv1.ReturnAuthorization, error) {
	return &opsv1.ReturnAuthorization{Name: req.GetName()}, f.called("RejectReturnAuthorization")
}

func (f *fakeUpstream) CancelReturnAuthorization(_ context.Context, req *opsv1.CancelReturnAuthorizationRequest) (*opsv1.ReturnAuthorization, error) {
	return &opsv1.ReturnAuthorization{Name: req.GetName()}, f.called("CancelReturnAuthorization")
}

func (f *fakeUpstream) RetryErpSubmission(_ context.Context, req *opsv1.RetryErpSubmissionRequest) (*opsv1.ErpSubmission, error) {
	return &opsv1.ErpSubmission{Name: req.GetName(), AttemptCount: 3}, f.called("RetryErpSubmission")
}

func (f *fakeUpstream) GetKpis(context.Context, *opsv1.GetKpisRequest) (*opsv1.Kpis, error) {
	return &opsv1.Kpis{OpenExceptions: 1}, f.called("GetKpis")
}

// TestReplayWithoutNATS: with NATS down a dry run answers UNAVAILABLE and
// a replay reports every dead letter FAILED and still PENDING, without
// remembering the request, so the same request id replays them once NATS
// is back.
func TestReplayWithoutNATS(t *testing.T) {
	r, _, poison := start(t)
	op := as(t, "key-ann")
	poison.Publish(t, "p1")
	dl := deadLetterNames(t, r, 1)[0]
	poison.Fix()

	r.nats.Shutdown()
	opstest.Eventually(t, "the client noticed", func() error { return wait.Check(!r.nc.IsConnected(), "still connected") })
	_, err := r.api.ReplayDeadLetters(op, &opsv1.ReplayDeadLettersRequest{RequestId: "r1", Names: []string{dl}, DryRun: true})
	wantStatus(t, err, codes.Unavailable, commonv1.ErrorReason_ERROR_REASON_DEPENDENCY_UNAVAILABLE)
	res, err := r.api.ReplayDeadLetters(op, &opsv1.ReplayDeadLettersRequest{RequestId: "r1", Names: []string{dl}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{dl + " OUTCOME_FAILED"}, outcomes(res)); diff != "" || res.GetFailedCount() != 1 {
		t.Fatalf("replay without NATS = %v (-want +got):\n%s", res, diff)
	}
	got, err := r.api.GetDeadLetter(t.Context(), &opsv1.GetDeadLetterRequest{Name: dl})
	if err != nil || got.GetState() != opsv1.DeadLetter_STATE_PENDING || got.GetReplayCount() != 0 {
		t.Fatalf("dead letter after the failed replay = %v, %v", got, err)
	}

	natstest.Restart(t, r.nats)
	opstest.Eventually(t, "the client reconnected", func() error { return wait.Check(r.nc.IsConnected(), "not connected") })
	opstest.Eventually(t, "the replay with the same request id", func() error {
		res, err := r.api.ReplayDeadLetters(op, &opsv1.ReplayDeadLettersRequest{RequestId: "r1", Names: []string{dl}})
		if err != nil {
			return err
		}
		return wait.Check(cmp.Equal(outcomes(res), []string{dl + " OUTCOME_REPLAYED"}), "outcomes %v", outcomes(res))
	})
	opstest.Eventually(t, "the event applied", func() error {
		return wait.Check(len(poison.Applied(t)) == 1, "applied %v", poison.Applied(t))
	})
}
