// Package consoletest is an in-memory stand-in for the ops.v1 OpsService
// client, for the console's tests and for the browser test's local
// console server (consoletest/consoledemo). It checks bearer keys and
// roles the way the gateway does (unknown key UNAUTHENTICATED, a viewer's
// mutation PERMISSION_DENIED), keeps exceptions, dead letters and audit
// records, and records every call.
package consoletest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/apierr"
)

// The keys Seed configures.
const (
	OperatorKey = "test-operator-key"
	ViewerKey   = "test-viewer-key"
	// StorefrontKey is a known key without an operator role.
	StorefrontKey = "test-storefront-key"
)

// Role is what a key may do.
type Role int

// The roles the fake knows.
const (
	// RoleNone is a known key that is not an operator key.
	RoleNone Role = iota
	// RoleViewer may call Get* and List*.
	RoleViewer
	// RoleOperator may call every method.
	RoleOperator
)

// Call is one recorded call.
type Call struct {
	Method string
	// Authorization is the authorization metadata the call carried.
	Authorization string
	// Request is a copy of the request.
	Request proto.Message
}

// Ops is the fake OpsService client. Its exported fields are the state;
// lock Mu to change them while the fake is in use.
type Ops struct {
	opsv1.OpsServiceClient // nil: a method not implemented below panics

	Mu              sync.Mutex
	Keys            map[string]Role
	Now             func() time.Time
	Kpis            *opsv1.Kpis
	Exceptions      []*opsv1.Exception
	DeadLetters     []*opsv1.DeadLetter
	AuditRecords    []*opsv1.AuditRecord
	Reconciliations []*opsv1.Reconciliation
	ErpStatus       *opsv1.ErpQueueStatus
	ErpSubmissions  []*opsv1.ErpSubmission
	// Fail, when set for a method name, is returned by that method after
	// the key check.
	Fail map[string]error

	calls   []Call
	replays map[string]*opsv1.ReplayDeadLettersResponse
	seq     int
}

var _ opsv1.OpsServiceClient = (*Ops)(nil)

// Calls returns the calls so far.
func (f *Ops) Calls() []Call {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return slices.Clone(f.calls)
}

// CallsTo returns the calls of one method.
func (f *Ops) CallsTo(method string) []Call {
	var out []Call
	for _, c := range f.Calls() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// begin locks the fake, records the call and checks its key; the caller
// unlocks whatever begin returns.
func (f *Ops) begin(ctx context.Context, method string, req proto.Message, mutation bool) (string, error) {
	f.Mu.Lock()
	md, _ := metadata.FromOutgoingContext(ctx)
	auth := strings.Join(md.Get("authorization"), ",")
	f.calls = append(f.calls, Call{Method: method, Authorization: auth, Request: proto.Clone(req)})
	key, ok := strings.CutPrefix(auth, "Bearer ")
	role, known := f.Keys[key]
	switch {
	case !ok || !known:
		return "", apierr.Unauthenticated("missing or unknown API key")
	case role == RoleNone:
		return "", apierr.PermissionDenied("this key may not call the ops API")
	case mutation && role != RoleOperator:
		return "", apierr.PermissionDenied(method + " needs the operator role")
	}
	if err := f.Fail[method]; err != nil {
		return "", err
	}
	return keyID(key), nil
}

// serve runs one call: it records it, checks the key and runs fn with
// the fake locked, passing the caller's key id.
func serve[T any](ctx context.Context, f *Ops, method string, in proto.Message, mutation bool, fn func(actor string) (T, error)) (T, error) {
	actor, err := f.begin(ctx, method, in, mutation)
	defer f.Mu.Unlock()
	if err != nil {
		var zero T
		return zero, err
	}
	return fn(actor)
}

// byName finds the item called name.
func byName[T interface{ GetName() string }](items []T, name string) (T, error) {
	for _, it := range items {
		if it.GetName() == name {
			return it, nil
		}
	}
	var zero T
	return zero, status.Error(codes.NotFound, name+" not found")
}

// keyID stands in for the gateway's digest-based key id.
func keyID(key string) string { return "key-" + key }

func (f *Ops) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Ops) audit(actorID, action, target string) {
	f.seq++
	f.AuditRecords = append([]*opsv1.AuditRecord{{
		Name:          fmt.Sprintf("auditRecords/a%d", f.seq),
		Actor:         &commonv1.AuditActor{Kind: "operator", Id: actorID},
		Action:        action,
		Target:        target,
		Service:       "ops",
		CorrelationId: fmt.Sprintf("corr-%d", f.seq),
		CreateTime:    timestamppb.New(f.now()),
	}}, f.AuditRecords...)
}

// matchTerms reads the `field = value` terms of the simple filters the
// console builds; the fake supports equality only.
func matchTerms(filter string) map[string]string {
	terms := map[string]string{}
	for t := range strings.SplitSeq(filter, " AND ") {
		k, v, ok := strings.Cut(t, " = ")
		if ok {
			terms[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return terms
}

// ListExceptions lists the exceptions matching the filter's equality terms.
func (f *Ops) ListExceptions(ctx context.Context, in *opsv1.ListExceptionsRequest, _ ...grpc.CallOption) (*opsv1.ListExceptionsResponse, error) {
	return serve(ctx, f, "ListExceptions", in, false, func(string) (*opsv1.ListExceptionsResponse, error) {
		terms := matchTerms(in.GetFilter())
		out := &opsv1.ListExceptionsResponse{}
		for _, e := range f.Exceptions {
			if (terms["state"] == "" || terms["state"] == e.GetState().String()) &&
				(terms["kind"] == "" || terms["kind"] == e.GetKind().String()) &&
				(terms["domain"] == "" || terms["domain"] == e.GetDomain().String()) &&
				(terms["severity"] == "" || terms["severity"] == e.GetSeverity().String()) &&
				(terms["resource"] == "" || terms["resource"] == e.GetResource()) {
				c := proto.CloneOf(e)
				c.History = nil
				out.Exceptions = append(out.Exceptions, c)
			}
		}
		return out, nil
	})
}

// GetException returns one exception.
func (f *Ops) GetException(ctx context.Context, in *opsv1.GetExceptionRequest, _ ...grpc.CallOption) (*opsv1.Exception, error) {
	return serve(ctx, f, "GetException", in, false, func(string) (*opsv1.Exception, error) {
		e, err := byName(f.Exceptions, in.GetName())
		return proto.CloneOf(e), err
	})
}

// AcknowledgeException marks an exception acknowledged.
func (f *Ops) AcknowledgeException(ctx context.Context, in *opsv1.AcknowledgeExceptionRequest, _ ...grpc.CallOption) (*opsv1.Exception, error) {
	return serve(ctx, f, "AcknowledgeException", in, true, func(actor string) (*opsv1.Exception, error) {
		e, err := byName(f.Exceptions, in.GetName())
		if err != nil {
			return nil, err
		}
		e.State = opsv1.Exception_STATE_ACKNOWLEDGED
		e.Acknowledger = &commonv1.AuditActor{Kind: "operator", Id: actor}
		e.AllowedActions = slices.DeleteFunc(e.AllowedActions, func(a opsv1.Exception_Action) bool { return a == opsv1.Exception_ACTION_ACKNOWLEDGE })
		e.History = append(e.History, &opsv1.ExceptionHistoryEntry{Action: "acknowledged", Actor: e.Acknowledger, CreateTime: timestamppb.New(f.now())})
		f.audit(actor, "exception.acknowledge", e.GetName())
		return proto.CloneOf(e), nil
	})
}

// ResolveException resolves an exception with a note.
func (f *Ops) ResolveException(ctx context.Context, in *opsv1.ResolveExceptionRequest, _ ...grpc.CallOption) (*opsv1.Exception, error) {
	return serve(ctx, f, "ResolveException", in, true, func(actor string) (*opsv1.Exception, error) {
		e, err := byName(f.Exceptions, in.GetName())
		if err != nil {
			return nil, err
		}
		e.State = opsv1.Exception_STATE_RESOLVED
		e.Resolver = &commonv1.AuditActor{Kind: "operator", Id: actor}
		e.ResolutionNote = in.GetNote()
		e.ResolveTime = timestamppb.New(f.now())
		e.AllowedActions = nil
		e.History = append(e.History, &opsv1.ExceptionHistoryEntry{Action: "resolved", Actor: e.Resolver, Note: in.GetNote(), CreateTime: e.ResolveTime})
		f.audit(actor, "exception.resolve", e.GetName())
		return proto.CloneOf(e), nil
	})
}

// ListDeadLetters lists dead letters matching consumer, subject and state.
func (f *Ops) ListDeadLetters(ctx context.Context, in *opsv1.ListDeadLettersRequest, _ ...grpc.CallOption) (*opsv1.ListDeadLettersResponse, error) {
	return serve(ctx, f, "ListDeadLetters", in, false, func(string) (*opsv1.ListDeadLettersResponse, error) {
		out := &opsv1.ListDeadLettersResponse{}
		for _, d := range f.selectDeadLetters(in.GetFilter(), false) {
			c := proto.CloneOf(d)
			c.PayloadJson = ""
			out.DeadLetters = append(out.DeadLetters, c)
		}
		return out, nil
	})
}

func (f *Ops) selectDeadLetters(filter string, pendingByDefault bool) []*opsv1.DeadLetter {
	terms := matchTerms(filter)
	state := terms["state"]
	if state == "" && pendingByDefault {
		state = opsv1.DeadLetter_STATE_PENDING.String()
	}
	var out []*opsv1.DeadLetter
	for _, d := range f.DeadLetters {
		if (terms["consumer"] == "" || terms["consumer"] == d.GetConsumer()) &&
			(terms["subject"] == "" || terms["subject"] == d.GetSubject()) &&
			(state == "" || state == d.GetState().String()) {
			out = append(out, d)
		}
	}
	return out
}

// GetDeadLetter returns one dead letter.
func (f *Ops) GetDeadLetter(ctx context.Context, in *opsv1.GetDeadLetterRequest, _ ...grpc.CallOption) (*opsv1.DeadLetter, error) {
	return serve(ctx, f, "GetDeadLetter", in, false, func(string) (*opsv1.DeadLetter, error) {
		d, err := byName(f.DeadLetters, in.GetName())
		return proto.CloneOf(d), err
	})
}

// ReplayDeadLetters replays PENDING dead letters (by name or filter),
// answering WOULD_REPLAY in a dry run; a real replay marks them REPLAYED,
// writes one audit record each and is remembered by request id.
func (f *Ops) ReplayDeadLetters(ctx context.Context, in *opsv1.ReplayDeadLettersRequest, _ ...grpc.CallOption) (*opsv1.ReplayDeadLettersResponse, error) {
	return serve(ctx, f, "ReplayDeadLetters", in, true, func(actor string) (*opsv1.ReplayDeadLettersResponse, error) {
		if res, ok := f.replays[in.GetRequestId()]; ok && !in.GetDryRun() {
			return proto.CloneOf(res), nil
		}
		var selected []*opsv1.DeadLetter
		if len(in.GetNames()) > 0 {
			for _, n := range in.GetNames() {
				d, err := byName(f.DeadLetters, n)
				if err != nil {
					return nil, err
				}
				selected = append(selected, d)
			}
		} else {
			selected = f.selectDeadLetters(in.GetFilter(), true)
		}
		res := &opsv1.ReplayDeadLettersResponse{DryRun: in.GetDryRun(), MatchedCount: int64(len(selected))}
		for _, d := range selected {
			r := &opsv1.ReplayResult{DeadLetter: d.GetName(), EventId: d.GetEventId(), Consumer: d.GetConsumer(), Subject: d.GetSubject()}
			switch {
			case d.GetState() != opsv1.DeadLetter_STATE_PENDING:
				r.Outcome, r.Detail = opsv1.ReplayResult_OUTCOME_SKIPPED, "already replayed"
				res.SkippedCount++
			case in.GetDryRun():
				r.Outcome = opsv1.ReplayResult_OUTCOME_WOULD_REPLAY
				res.ReplayedCount++
			default:
				r.Outcome = opsv1.ReplayResult_OUTCOME_REPLAYED
				res.ReplayedCount++
				d.State = opsv1.DeadLetter_STATE_REPLAYED
				d.ReplayCount++
				d.LastReplayTime = timestamppb.New(f.now())
				f.audit(actor, "dead_letter.replay", d.GetName())
			}
			res.Results = append(res.Results, r)
		}
		if !in.GetDryRun() {
			if f.replays == nil {
				f.replays = map[string]*opsv1.ReplayDeadLettersResponse{}
			}
			f.replays[in.GetRequestId()] = proto.CloneOf(res)
		}
		return res, nil
	})
}

// TriggerReconciliation records a PENDING run.
func (f *Ops) TriggerReconciliation(ctx context.Context, in *opsv1.TriggerReconciliationRequest, _ ...grpc.CallOption) (*opsv1.Reconciliation, error) {
	return serve(ctx, f, "TriggerReconciliation", in, true, func(actor string) (*opsv1.Reconciliation, error) {
		f.seq++
		run := &opsv1.Reconciliation{
			Name:             fmt.Sprintf("reconciliations/r%d", f.seq),
			State:            opsv1.Reconciliation_STATE_PENDING,
			Warehouses:       in.GetWarehouses(),
			Skus:             in.GetSkus(),
			ApplyCorrections: in.GetApplyCorrections(),
			Requester:        &commonv1.AuditActor{Kind: "operator", Id: actor},
			CreateTime:       timestamppb.New(f.now()),
		}
		f.Reconciliations = append([]*opsv1.Reconciliation{run}, f.Reconciliations...)
		return proto.CloneOf(run), nil
	})
}

// GetReconciliation returns one run.
func (f *Ops) GetReconciliation(ctx context.Context, in *opsv1.GetReconciliationRequest, _ ...grpc.CallOption) (*opsv1.Reconciliation, error) {
	return serve(ctx, f, "GetReconciliation", in, false, func(string) (*opsv1.Reconciliation, error) {
		r, err := byName(f.Reconciliations, in.GetName())
		return proto.CloneOf(r), err
	})
}

// ListReconciliations lists every run.
func (f *Ops) ListReconciliations(ctx context.Context, in *opsv1.ListReconciliationsRequest, _ ...grpc.CallOption) (*opsv1.ListReconciliationsResponse, error) {
	return serve(ctx, f, "ListReconciliations", in, false, func(string) (*opsv1.ListReconciliationsResponse, error) {
		out := &opsv1.ListReconciliationsResponse{}
		for _, r := range f.Reconciliations {
			c := proto.CloneOf(r)
			c.TopVariances = nil
			out.Reconciliations = append(out.Reconciliations, c)
		}
		return out, nil
	})
}

// GetKpis returns Kpis with the desk's figures counted from Exceptions
// and DeadLetters, as the ops service counts them from its desk: open
// exceptions (OPEN or ACKNOWLEDGED) in total and per domain (every domain
// but UNSPECIFIED, in enum order, zero included), pending dead letters in
// total and per consumer (sorted). So an acknowledge, resolve or replay
// shows on the overview.
func (f *Ops) GetKpis(ctx context.Context, in *opsv1.GetKpisRequest, _ ...grpc.CallOption) (*opsv1.Kpis, error) {
	return serve(ctx, f, "GetKpis", in, false, func(string) (*opsv1.Kpis, error) {
		k := &opsv1.Kpis{}
		if f.Kpis != nil {
			k = proto.CloneOf(f.Kpis)
		}
		open := map[opsv1.Exception_Domain]int64{}
		k.OpenExceptions = 0
		for _, e := range f.Exceptions {
			if e.GetState() == opsv1.Exception_STATE_OPEN || e.GetState() == opsv1.Exception_STATE_ACKNOWLEDGED {
				open[e.GetDomain()]++
				k.OpenExceptions++
			}
		}
		k.DomainExceptions = nil
		domains := opsv1.Exception_DOMAIN_UNSPECIFIED.Descriptor().Values()
		for i := range domains.Len() {
			if d := opsv1.Exception_Domain(domains.Get(i).Number()); d != opsv1.Exception_DOMAIN_UNSPECIFIED {
				k.DomainExceptions = append(k.DomainExceptions, &opsv1.DomainExceptions{Domain: d, Open: open[d]})
			}
		}
		pending := map[string]int64{}
		k.DeadLetterDepth = 0
		for _, d := range f.DeadLetters {
			if d.GetState() == opsv1.DeadLetter_STATE_PENDING {
				pending[d.GetConsumer()]++
				k.DeadLetterDepth++
			}
		}
		k.DeadLetterDepths = nil
		for _, c := range slices.Sorted(maps.Keys(pending)) {
			k.DeadLetterDepths = append(k.DeadLetterDepths, &opsv1.DeadLetterDepth{Consumer: c, Pending: pending[c]})
		}
		return k, nil
	})
}

// ListAuditRecords lists the records matching target, action and actor
// equality terms, newest first.
func (f *Ops) ListAuditRecords(ctx context.Context, in *opsv1.ListAuditRecordsRequest, _ ...grpc.CallOption) (*opsv1.ListAuditRecordsResponse, error) {
	return serve(ctx, f, "ListAuditRecords", in, false, func(string) (*opsv1.ListAuditRecordsResponse, error) {
		terms := matchTerms(in.GetFilter())
		out := &opsv1.ListAuditRecordsResponse{}
		for _, a := range f.AuditRecords {
			if (terms["target"] == "" || terms["target"] == a.GetTarget()) &&
				(terms["action"] == "" || terms["action"] == a.GetAction()) &&
				(terms["actor.kind"] == "" || terms["actor.kind"] == a.GetActor().GetKind()) &&
				(terms["actor.id"] == "" || terms["actor.id"] == a.GetActor().GetId()) {
				out.AuditRecords = append(out.AuditRecords, proto.CloneOf(a))
			}
		}
		return out, nil
	})
}

// GetErpQueueStatus returns ErpStatus.
func (f *Ops) GetErpQueueStatus(ctx context.Context, in *opsv1.GetErpQueueStatusRequest, _ ...grpc.CallOption) (*opsv1.ErpQueueStatus, error) {
	return serve(ctx, f, "GetErpQueueStatus", in, false, func(string) (*opsv1.ErpQueueStatus, error) {
		return proto.CloneOf(f.ErpStatus), nil
	})
}

// ListErpSubmissions lists ErpSubmissions.
func (f *Ops) ListErpSubmissions(ctx context.Context, in *opsv1.ListErpSubmissionsRequest, _ ...grpc.CallOption) (*opsv1.ListErpSubmissionsResponse, error) {
	return serve(ctx, f, "ListErpSubmissions", in, false, func(string) (*opsv1.ListErpSubmissionsResponse, error) {
		out := &opsv1.ListErpSubmissionsResponse{}
		for _, s := range f.ErpSubmissions {
			out.ErpSubmissions = append(out.ErpSubmissions, proto.CloneOf(s))
		}
		return out, nil
	})
}

// RetryErpSubmission makes a queued submission due now.
func (f *Ops) RetryErpSubmission(ctx context.Context, in *opsv1.RetryErpSubmissionRequest, _ ...grpc.CallOption) (*opsv1.ErpSubmission, error) {
	return serve(ctx, f, "RetryErpSubmission", in, true, func(actor string) (*opsv1.ErpSubmission, error) {
		s, err := byName(f.ErpSubmissions, in.GetName())
		if err != nil {
			return nil, err
		}
		s.NextAttemptTime = timestamppb.New(f.now())
		f.audit(actor, "erp_submission.retry", s.GetName())
		return proto.CloneOf(s), nil
	})
}

// Seed returns a fake with the three keys and a small desk: an ERP
// rejection, a DEAD_LETTER exception for a pending dead letter, a
// replayed dead letter, a reconciliation with variances and a queue with
// one blocked customer.
func Seed(now time.Time) *Ops {
	ts := func(ago time.Duration) *timestamppb.Timestamp { return timestamppb.New(now.Add(-ago)) }
	details := func(m map[string]any) *structpb.Struct {
		s, err := structpb.NewStruct(m)
		if err != nil {
			panic(err) // static seed data; a bad literal is a bug in this file
		}
		return s
	}
	f := &Ops{
		Keys: map[string]Role{OperatorKey: RoleOperator, ViewerKey: RoleViewer, StorefrontKey: RoleNone},
		Now:  func() time.Time { return now },
		// GetKpis adds the desk's figures.
		Kpis: &opsv1.Kpis{
			Window: durationpb.New(15 * time.Minute), ComputeTime: ts(0),
			OrderAcceptanceLatency: &opsv1.LatencySummary{P50: durationpb.New(42 * time.Millisecond), P99: durationpb.New(180 * time.Millisecond), Count: 120},
			OrdersAccepted:         118, OrdersRejected: 2, ErpQueueDepth: 3, OldestPendingErpOrderAge: durationpb.New(95 * time.Second),
			ChannelOrders: []*opsv1.ChannelOrders{
				{Channel: "app", Accepted: 38, PendingErp: 1, Rejected: 1},
				{Channel: "web", Accepted: 80, PendingErp: 2, Rejected: 1},
			},
			InventoryVarianceUnits: 7, InventoryVariancePositions: 1, LastReconciliationTime: ts(time.Hour),
			PricingCalls: 300, FailedPricingCalls: 1,
			OutboxLags: []*opsv1.OutboxLag{{Service: "order", PendingEvents: 0, OldestPendingAge: durationpb.New(0)}},
			Breakers:   []*opsv1.BreakerStatus{{Service: "order", Dependency: "erp", State: opsv1.BreakerState_BREAKER_STATE_CLOSED, ChangeTime: ts(time.Hour)}},
		},
		Exceptions: []*opsv1.Exception{
			{
				Name: "exceptions/exc-erp-1", Kind: opsv1.Exception_KIND_ERP_REJECTION, Severity: opsv1.Exception_SEVERITY_MEDIUM,
				Domain: opsv1.Exception_DOMAIN_ERP, SourceService: "order", AggregateType: "order", AggregateId: "ord-1001",
				Resource: "orders/ord-1001", Message: "ERP rejected order: customer on credit hold", State: opsv1.Exception_STATE_OPEN,
				CorrelationId: "corr-erp-1", OccurrenceCount: 1, CreateTime: ts(10 * time.Minute), UpdateTime: ts(10 * time.Minute), LastOccurTime: ts(10 * time.Minute),
				Details:        details(map[string]any{"order": "orders/ord-1001", "erpCode": "CREDIT_HOLD", "erpMessage": "customer on credit hold"}),
				AllowedActions: []opsv1.Exception_Action{opsv1.Exception_ACTION_ACKNOWLEDGE, opsv1.Exception_ACTION_RESOLVE},
				History:        []*opsv1.ExceptionHistoryEntry{{Action: "raised", Actor: &commonv1.AuditActor{Kind: "service", Id: "order"}, Note: "ERP rejected order", CreateTime: ts(10 * time.Minute)}},
			},
			{
				Name: "exceptions/exc-dl-7", Kind: opsv1.Exception_KIND_DEAD_LETTER, Severity: opsv1.Exception_SEVERITY_HIGH,
				Domain: opsv1.Exception_DOMAIN_FULFILLMENT, SourceService: "ops", AggregateType: "order", AggregateId: "ord-1002",
				Resource: "deadLetters/7", Message: "fulfillment-order-confirmed dead-lettered transload.order.confirmed", State: opsv1.Exception_STATE_OPEN,
				CorrelationId: "corr-dl-7", OccurrenceCount: 1, CreateTime: ts(5 * time.Minute), UpdateTime: ts(5 * time.Minute), LastOccurTime: ts(5 * time.Minute),
				Details:        details(map[string]any{"deadLetter": "deadLetters/7", "consumer": "fulfillment-order-confirmed", "subject": "transload.order.confirmed"}),
				AllowedActions: []opsv1.Exception_Action{opsv1.Exception_ACTION_ACKNOWLEDGE, opsv1.Exception_ACTION_RESOLVE, opsv1.Exception_ACTION_REPLAY_DEAD_LETTER},
			},
		},
		DeadLetters: []*opsv1.DeadLetter{
			{
				Name: "deadLetters/7", Consumer: "fulfillment-order-confirmed", Subject: "transload.order.confirmed",
				EventId: "0190c0de-0000-7000-8000-000000000007", AggregateType: "order", AggregateId: "ord-1002", AggregateSequence: 2,
				CorrelationId: "corr-dl-7", Error: "events: malformed event: decode transload.order.v1.OrderConfirmedEvent", DeliveryCount: 1,
				PublishTime: ts(6 * time.Minute), DeadLetterTime: ts(5 * time.Minute), PayloadType: "transload.order.v1.OrderConfirmedEvent",
				PayloadJson: `{"order": {"name": "orders/ord-1002"}}`, PayloadSizeBytes: 24, State: opsv1.DeadLetter_STATE_PENDING,
			},
			{
				Name: "deadLetters/6", Consumer: "inventory.order_cancelled", Subject: "transload.order.cancelled",
				EventId: "0190c0de-0000-7000-8000-000000000006", AggregateType: "order", AggregateId: "ord-0999",
				Error: "timeout", DeliveryCount: 5, PublishTime: ts(2 * time.Hour), DeadLetterTime: ts(2 * time.Hour),
				PayloadType: "transload.order.v1.OrderCancelledEvent", State: opsv1.DeadLetter_STATE_REPLAYED, ReplayCount: 1, LastReplayTime: ts(time.Hour),
			},
		},
		Reconciliations: []*opsv1.Reconciliation{{
			Name: "reconciliations/rec-1", State: opsv1.Reconciliation_STATE_SUCCEEDED, Warehouses: []string{"DE-HAM"},
			Requester: &commonv1.AuditActor{Kind: "system", Id: "scheduler"}, SnapshotTime: ts(time.Hour), CreateTime: ts(time.Hour),
			StartTime: ts(time.Hour), EndTime: ts(59 * time.Minute),
			Summary:      &opsv1.ReconciliationSummary{PositionsCompared: 40, VariancePositions: 1, AbsoluteVarianceUnits: 7, NetVarianceUnits: -7},
			TopVariances: []*opsv1.StockVariance{{Sku: "SKU-00011", Warehouse: "DE-HAM", ErpOnHand: 10, TransloadOnHand: 17, VarianceUnits: -7}},
		}},
		ErpStatus: &opsv1.ErpQueueStatus{
			Depth: 3, OldestPendingAge: durationpb.New(95 * time.Second), BreakerState: opsv1.BreakerState_BREAKER_STATE_CLOSED,
			LastError: "erp: unavailable", LastErrorTime: ts(2 * time.Minute), LastSuccessTime: ts(time.Minute), SubmittedLastHour: 117,
			CustomerBlockers: []*opsv1.ErpQueueBlocker{{CustomerId: "C0007", ErpSubmission: "erpSubmissions/ord-1003", AttemptCount: 4, LastError: "erp: unavailable", WaitingCount: 2, EnqueueTime: ts(95 * time.Second)}},
		},
		ErpSubmissions: []*opsv1.ErpSubmission{{
			Name: "erpSubmissions/ord-1003", Order: "orders/ord-1003", CustomerId: "C0007", State: opsv1.ErpSubmission_STATE_BACKING_OFF,
			AttemptCount: 4, LastError: "erp: unavailable", EnqueueTime: ts(95 * time.Second), LastAttemptTime: ts(30 * time.Second), NextAttemptTime: ts(-30 * time.Second),
		}},
	}
	return f
}
