package upstream

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
)

const (
	erpSubmissionPrefix = "erpSubmissions/"
	erpQueueEntryPrefix = "erpQueueEntries/"
)

// erpSubmissionFilter is the ListErpSubmissions filter of the ops
// contract; order's ListErpQueueEntries filters on the same fields.
var erpSubmissionFilter = aip.Schema{
	{Name: "state", Kind: aip.KindEnum, Enum: opsv1.ErpSubmission_State_value, EnumPrefix: "STATE_"},
	{Name: "customer_id", Kind: aip.KindString},
	{Name: "enqueue_time", Kind: aip.KindTime, Ops: []aip.Op{aip.OpLt, aip.OpLe, aip.OpGt, aip.OpGe}},
}

// GetErpQueueStatus implements OpsService.GetErpQueueStatus.
func (u *Upstream) GetErpQueueStatus(ctx context.Context, _ *opsv1.GetErpQueueStatusRequest) (*opsv1.ErpQueueStatus, error) {
	st, err := u.order.GetErpQueueStatus(u.outgoing(ctx), &orderv1.GetErpQueueStatusRequest{})
	if err != nil {
		return nil, u.neighbourError(ctx, depOrder, "", err)
	}
	out := &opsv1.ErpQueueStatus{
		Depth:             st.GetDepth(),
		InFlight:          st.GetInFlight(),
		OldestPendingAge:  age(st.GetOldestEnqueueTime(), u.now()),
		BreakerState:      u.breakerState(ctx, st.GetBreakerState()),
		LastError:         st.GetLastError(),
		LastErrorTime:     st.GetLastErrorTime(),
		LastSuccessTime:   st.GetLastSuccessTime(),
		SubmittedLastHour: st.GetSubmittedLastHour(),
	}
	for _, b := range st.GetCustomerBlockers() {
		e := b.GetEntry()
		out.CustomerBlockers = append(out.CustomerBlockers, &opsv1.ErpQueueBlocker{
			CustomerId:    e.GetCustomerId(),
			ErpSubmission: submissionName(e.GetName()),
			AttemptCount:  e.GetAttemptCount(),
			LastError:     e.GetLastError(),
			WaitingCount:  b.GetWaitingCount(),
			EnqueueTime:   e.GetEnqueueTime(),
		})
	}
	return out, nil
}

// age is now − since, zero when since is unset or in the future.
func age(since *timestamppb.Timestamp, now time.Time) *durationpb.Duration {
	if since == nil {
		return durationpb.New(0)
	}
	return durationpb.New(max(now.Sub(since.AsTime()), 0))
}

// breakerState reads the state names of platform/breaker.
func (u *Upstream) breakerState(ctx context.Context, s string) opsv1.BreakerState {
	switch s {
	case "closed":
		return opsv1.BreakerState_BREAKER_STATE_CLOSED
	case "open":
		return opsv1.BreakerState_BREAKER_STATE_OPEN
	case "half-open":
		return opsv1.BreakerState_BREAKER_STATE_HALF_OPEN
	}
	if s != "" {
		u.logger.WarnContext(ctx, "ops: unknown breaker state from order", slog.String("state", s))
	}
	return opsv1.BreakerState_BREAKER_STATE_UNSPECIFIED
}

// ListErpSubmissions implements OpsService.ListErpSubmissions. The filter
// is checked against the ops contract, then sent to order in canonical
// form with full enum names; order's page token is passed through (it is
// bound to that filter).
func (u *Upstream) ListErpSubmissions(ctx context.Context, req *opsv1.ListErpSubmissionsRequest) (*opsv1.ListErpSubmissionsResponse, error) {
	f, err := readList(erpSubmissionFilter, req)
	if err != nil {
		return nil, err
	}
	resp, err := u.order.ListErpQueueEntries(u.outgoing(ctx), &orderv1.ListErpQueueEntriesRequest{
		PageSize: req.GetPageSize(), PageToken: req.GetPageToken(), Filter: orderQueueFilter(f),
	})
	if err != nil {
		return nil, u.neighbourError(ctx, depOrder, "", err)
	}
	out := &opsv1.ListErpSubmissionsResponse{NextPageToken: resp.GetNextPageToken()}
	for _, e := range resp.GetErpQueueEntries() {
		out.ErpSubmissions = append(out.ErpSubmissions, submissionToOps(e))
	}
	return out, nil
}

// orderQueueFilter renders an ops ListErpSubmissions filter for order:
// state with its full enum name, and the enqueue_time bounds as the one
// `>=` and one `<` order accepts (times are discrete, so `> t` is `>= t+1ns`
// and `<= t` is `< t+1ns`; several bounds on a side keep the tightest).
func orderQueueFilter(f aip.Filter) string {
	var (
		out          aip.Filter
		lower, upper time.Time
	)
	for _, t := range f.Terms {
		switch t.Field {
		case "state":
			t.Value.Text, t.Value.Quoted = opsv1.ErpSubmission_State(t.Value.Enum).String(), false
			out.Terms = append(out.Terms, t)
		case "enqueue_time":
			switch v := t.Value.Time; t.Op {
			case aip.OpGe:
				lower = later(lower, v)
			case aip.OpGt:
				lower = later(lower, v.Add(time.Nanosecond))
			case aip.OpLt:
				upper = earlier(upper, v)
			case aip.OpLe:
				upper = earlier(upper, v.Add(time.Nanosecond))
			case aip.OpEq, aip.OpNe, aip.OpHas:
				// Not declared for enqueue_time.
			}
		default:
			out.Terms = append(out.Terms, t)
		}
	}
	bound := func(op aip.Op, v time.Time) aip.Term {
		return aip.Term{Field: "enqueue_time", Op: op, Value: aip.Value{Text: v.UTC().Format(time.RFC3339Nano), Quoted: true}}
	}
	if !lower.IsZero() {
		out.Terms = append(out.Terms, bound(aip.OpGe, lower))
	}
	if !upper.IsZero() {
		out.Terms = append(out.Terms, bound(aip.OpLt, upper))
	}
	return out.String()
}

func later(a, b time.Time) time.Time {
	if a.IsZero() || b.After(a) {
		return b
	}
	return a
}

func earlier(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// GetErpSubmission implements OpsService.GetErpSubmission.
func (u *Upstream) GetErpSubmission(ctx context.Context, req *opsv1.GetErpSubmissionRequest) (*opsv1.ErpSubmission, error) {
	entry, err := entryName(req.GetName())
	if err != nil {
		return nil, err
	}
	e, err := u.order.GetErpQueueEntry(u.outgoing(ctx), &orderv1.GetErpQueueEntryRequest{Name: entry})
	if err != nil {
		return nil, u.neighbourError(ctx, depOrder, req.GetName(), err)
	}
	return submissionToOps(e), nil
}

// RetryErpSubmission implements OpsService.RetryErpSubmission. Making an
// entry due now is idempotent by nature, so order needs no request id;
// order records the audit entry under the forwarded operator.
func (u *Upstream) RetryErpSubmission(ctx context.Context, req *opsv1.RetryErpSubmissionRequest) (*opsv1.ErpSubmission, error) {
	entry, err := entryName(req.GetName())
	if err != nil {
		return nil, err
	}
	e, err := u.order.RetryErpQueueEntry(u.outgoing(ctx), &orderv1.RetryErpQueueEntryRequest{Name: entry})
	if err != nil {
		return nil, u.neighbourError(ctx, depOrder, req.GetName(), err)
	}
	return submissionToOps(e), nil
}

// entryName maps erpSubmissions/{id} to order's erpQueueEntries/{id}.
func entryName(name string) (string, error) {
	id, ok := strings.CutPrefix(name, erpSubmissionPrefix)
	if !ok || id == "" || len(id) > 64 || strings.Contains(id, "/") {
		return "", invalidArgument([]apierr.FieldViolation{{Field: "name", Description: "must be erpSubmissions/{erp_submission}", Reason: "STRING_PATTERN"}})
	}
	return erpQueueEntryPrefix + id, nil
}

// submissionName maps order's erpQueueEntries/{id} to erpSubmissions/{id}.
func submissionName(entry string) string {
	return erpSubmissionPrefix + strings.TrimPrefix(entry, erpQueueEntryPrefix)
}

// submissionToOps converts a queue entry, a parked one with its strike
// count and park time. Order's entry has no time of the last attempt, so
// last_attempt_time stays unset.
func submissionToOps(e *orderv1.ErpQueueEntry) *opsv1.ErpSubmission {
	return &opsv1.ErpSubmission{
		Name:            submissionName(e.GetName()),
		Order:           e.GetOrder(),
		CustomerId:      e.GetCustomerId(),
		State:           submissionState(e.GetState()),
		AttemptCount:    e.GetAttemptCount(),
		LastError:       e.GetLastError(),
		EnqueueTime:     e.GetEnqueueTime(),
		NextAttemptTime: e.GetNextAttemptTime(),
		StrikeCount:     e.GetStrikeCount(),
		ParkTime:        e.GetParkTime(),
	}
}

func submissionState(s orderv1.ErpQueueEntry_State) opsv1.ErpSubmission_State {
	switch s {
	case orderv1.ErpQueueEntry_STATE_PENDING:
		return opsv1.ErpSubmission_STATE_PENDING
	case orderv1.ErpQueueEntry_STATE_IN_FLIGHT:
		return opsv1.ErpSubmission_STATE_IN_FLIGHT
	case orderv1.ErpQueueEntry_STATE_BACKING_OFF:
		return opsv1.ErpSubmission_STATE_BACKING_OFF
	case orderv1.ErpQueueEntry_STATE_PARKED:
		return opsv1.ErpSubmission_STATE_PARKED
	case orderv1.ErpQueueEntry_STATE_UNSPECIFIED:
	}
	return opsv1.ErpSubmission_STATE_UNSPECIFIED
}
