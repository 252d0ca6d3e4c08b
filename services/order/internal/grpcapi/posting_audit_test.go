package grpcapi_test

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/platform/opsevents/opseventstest"
	"github.com/transload/transload/services/order/internal/grpcapi"
	"github.com/transload/transload/services/order/internal/order"
)

// TestOperatorPostingIsAudited: an operator's CreatePostingBatch and
// SubmitPostingBatch are each in the audit trail with the operator as
// actor (the create with the batch, the submit with OPEN → SUBMITTING),
// once: a replayed create, a create with nothing to post and a submit of
// a posted batch record nothing; the scheduler's own batches are not
// audited.
func TestOperatorPostingIsAudited(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		e.shipOrders(t, "pa", 1, "C0001")
		p := e.poster(t, newFakeJournal(), order.PostingConfig{})
		srv := grpcapi.New(e.svc, e.worker, quiet).WithPoster(p)
		// The server is called directly: the operator arrives as incoming
		// metadata, as the gateway's call would.
		opCtx := metadata.NewIncomingContext(ctx, metadata.Pairs(opsevents.ActorHeader, operator.String()))
		req := &orderv1.CreatePostingBatchRequest{RequestId: "op-audit",
			PostingBatch: &orderv1.PostingBatch{Kind: orderv1.PostingBatch_KIND_INVOICE, CurrencyCode: "EUR"}}
		b, err := srv.CreatePostingBatch(opCtx, req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.CreatePostingBatch(opCtx, req); err != nil {
			t.Fatalf("replayed create: %v", err)
		}
		target := "postingBatches/" + b.GetPostingBatchId()
		if got := summarize(e.auditsOf(t, target)); !slices.Equal(got, []auditSummary{
			{Action: order.AuditPostingCreate, Actor: "operator:key-ops-1", AfterState: "STATE_OPEN"},
		}) {
			t.Fatalf("audit after create = %+v", got)
		}
		if a := e.auditsOf(t, target)[0]; a.GetAfter().GetFields()["requestId"].GetStringValue() != "op-audit" ||
			a.GetAfter().GetFields()["kind"].GetStringValue() != string(order.DocumentInvoice) {
			t.Errorf("create audit after = %v", a.GetAfter())
		}

		posted, err := srv.SubmitPostingBatch(opCtx, &orderv1.SubmitPostingBatchRequest{Name: b.GetName()})
		if err != nil || posted.GetState() != orderv1.PostingBatch_STATE_POSTED {
			t.Fatalf("submit: %v %v", posted.GetState(), err)
		}
		if _, err := srv.SubmitPostingBatch(opCtx, &orderv1.SubmitPostingBatchRequest{Name: b.GetName()}); err != nil {
			t.Fatalf("submit of a posted batch: %v", err)
		}
		_, err = srv.CreatePostingBatch(opCtx, &orderv1.CreatePostingBatchRequest{RequestId: "op-empty",
			PostingBatch: &orderv1.PostingBatch{Kind: orderv1.PostingBatch_KIND_INVOICE, CurrencyCode: "EUR"}})
		if err == nil {
			t.Fatal("a create with nothing to post succeeded")
		}
		if got := summarize(e.auditsOf(t, target)); !slices.Equal(got, []auditSummary{
			{Action: order.AuditPostingCreate, Actor: "operator:key-ops-1", AfterState: "STATE_OPEN"},
			{Action: order.AuditPostingSubmit, Actor: "operator:key-ops-1", BeforeState: "STATE_OPEN", AfterState: "STATE_SUBMITTING"},
		}) {
			t.Fatalf("audit after submit = %+v", got)
		}

		// The scheduler's batch of the next shipment: no audit record.
		e.shipOrders(t, "pb", 1, "C0002")
		if err := p.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		var postingAudits int
		for _, a := range opseventstest.Read(t, e.db).Audits {
			if strings.HasPrefix(a.GetTarget(), "postingBatches/") {
				postingAudits++
			}
		}
		if postingAudits != 2 {
			t.Errorf("%d posting audit records after a scheduler pass, want the operator's 2", postingAudits)
		}
	})
}
