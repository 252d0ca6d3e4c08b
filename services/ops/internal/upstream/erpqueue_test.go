package upstream

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/apierr"
)

func queueEntry(id, customer string, st orderv1.ErpQueueEntry_State, attempts int32) *orderv1.ErpQueueEntry {
	return &orderv1.ErpQueueEntry{
		Name: "erpQueueEntries/" + id, Order: "orders/" + id, CustomerId: customer, Action: "submit",
		State: st, AttemptCount: attempts, LastError: "erp down", EnqueueTime: tspb(t0.Add(-time.Hour)),
		NextAttemptTime: tspb(t0.Add(time.Minute)),
	}
}

func TestGetErpQueueStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		breaker string
		want    opsv1.BreakerState
	}{
		{"closed", opsv1.BreakerState_BREAKER_STATE_CLOSED},
		{"open", opsv1.BreakerState_BREAKER_STATE_OPEN},
		{"half-open", opsv1.BreakerState_BREAKER_STATE_HALF_OPEN},
		{"", opsv1.BreakerState_BREAKER_STATE_UNSPECIFIED},
		{"sideways", opsv1.BreakerState_BREAKER_STATE_UNSPECIFIED},
	}
	for _, tc := range tests {
		t.Run(tc.breaker, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			f.ord.status = &orderv1.ErpQueueStatus{
				Depth: 7, InFlight: 1, OldestEnqueueTime: tspb(t0.Add(-90 * time.Second)), BreakerState: tc.breaker,
				LastError: "timeout", LastErrorTime: tspb(t0.Add(-time.Second)), LastSuccessTime: tspb(t0.Add(-time.Hour)),
				SubmittedLastHour: 42,
				CustomerBlockers: []*orderv1.ErpQueueBlocker{{
					Entry: queueEntry("o-1", "C0001", orderv1.ErpQueueEntry_STATE_BACKING_OFF, 3), WaitingCount: 2,
				}},
			}
			got, err := f.u.GetErpQueueStatus(operatorCtx(), &opsv1.GetErpQueueStatusRequest{})
			if err != nil {
				t.Fatal(err)
			}
			wantForwarded(t, f.ord.last())
			want := &opsv1.ErpQueueStatus{
				Depth: 7, InFlight: 1, OldestPendingAge: durationpb.New(90 * time.Second), BreakerState: tc.want,
				LastError: "timeout", LastErrorTime: tspb(t0.Add(-time.Second)), LastSuccessTime: tspb(t0.Add(-time.Hour)),
				SubmittedLastHour: 42,
				CustomerBlockers: []*opsv1.ErpQueueBlocker{{
					CustomerId: "C0001", ErpSubmission: "erpSubmissions/o-1", AttemptCount: 3, LastError: "erp down",
					WaitingCount: 2, EnqueueTime: tspb(t0.Add(-time.Hour)),
				}},
			}
			if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGetErpQueueStatusEmptyQueue(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.ord.status = &orderv1.ErpQueueStatus{BreakerState: "closed"}
	got, err := f.u.GetErpQueueStatus(context.Background(), &opsv1.GetErpQueueStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetOldestPendingAge().AsDuration() != 0 || got.GetOldestPendingAge() == nil {
		t.Errorf("oldest age of an empty queue = %v, want 0s", got.GetOldestPendingAge())
	}
}

func TestListErpSubmissions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.ord.entries = []*orderv1.ErpQueueEntry{
		queueEntry("o-1", "C0001", orderv1.ErpQueueEntry_STATE_BACKING_OFF, 3),
		queueEntry("o-2", "C0001", orderv1.ErpQueueEntry_STATE_PENDING, 0),
		queueEntry("o-3", "C0002", orderv1.ErpQueueEntry_STATE_IN_FLIGHT, 1),
	}
	got, err := f.u.ListErpSubmissions(operatorCtx(), &opsv1.ListErpSubmissionsRequest{
		PageSize: 2, Filter: `state = BACKING_OFF AND customer_id = "C0001" AND enqueue_time >= 2026-11-27T10:00:00+01:00`,
	})
	if err != nil {
		t.Fatal(err)
	}
	wantForwarded(t, f.ord.last())
	wantFilter := `state = STATE_BACKING_OFF AND customer_id = "C0001" AND enqueue_time >= "2026-11-27T09:00:00Z"`
	if f.ord.lists[0].GetFilter() != wantFilter || f.ord.lists[0].GetPageSize() != 2 {
		t.Errorf("order request = %v, want filter %s", f.ord.lists[0], wantFilter)
	}
	want := &opsv1.ListErpSubmissionsResponse{
		ErpSubmissions: []*opsv1.ErpSubmission{
			{
				Name: "erpSubmissions/o-1", Order: "orders/o-1", CustomerId: "C0001", State: opsv1.ErpSubmission_STATE_BACKING_OFF,
				AttemptCount: 3, LastError: "erp down", EnqueueTime: tspb(t0.Add(-time.Hour)), NextAttemptTime: tspb(t0.Add(time.Minute)),
			},
			{
				Name: "erpSubmissions/o-2", Order: "orders/o-2", CustomerId: "C0001", State: opsv1.ErpSubmission_STATE_PENDING,
				LastError: "erp down", EnqueueTime: tspb(t0.Add(-time.Hour)), NextAttemptTime: tspb(t0.Add(time.Minute)),
			},
		},
		NextPageToken: "2",
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("page (-want +got):\n%s", diff)
	}
	next, err := f.u.ListErpSubmissions(context.Background(), &opsv1.ListErpSubmissionsRequest{PageToken: got.GetNextPageToken()})
	if err != nil || len(next.GetErpSubmissions()) != 1 || next.GetErpSubmissions()[0].GetState() != opsv1.ErpSubmission_STATE_IN_FLIGHT {
		t.Errorf("next page = %v, %v", next, err)
	}

	_, err = f.u.ListErpSubmissions(context.Background(), &opsv1.ListErpSubmissionsRequest{Filter: "order = x"})
	wantStatus(t, err, codes.InvalidArgument, opsv1.ErrorReason_ERROR_REASON_INVALID_FILTER)
	_, err = f.u.ListErpSubmissions(context.Background(), &opsv1.ListErpSubmissionsRequest{Filter: `enqueue_time = "2026-11-27T09:00:00Z"`})
	wantStatus(t, err, codes.InvalidArgument, opsv1.ErrorReason_ERROR_REASON_INVALID_FILTER)
	if vs := apierr.FieldViolations(err); len(vs) != 1 || vs[0].Field != "filter" {
		t.Errorf("violations = %v, want one on filter", vs)
	}
}

func TestOrderQueueFilter(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{`customer_id = "C 1"`, `customer_id = "C 1"`},
		{`state = STATE_PENDING`, `state = STATE_PENDING`},
		{`enqueue_time > "2026-11-27T09:00:00Z"`, `enqueue_time >= "2026-11-27T09:00:00.000000001Z"`},
		{`enqueue_time <= "2026-11-27T09:00:00Z"`, `enqueue_time < "2026-11-27T09:00:00.000000001Z"`},
		{
			`enqueue_time >= "2026-11-27T08:00:00Z" AND enqueue_time > "2026-11-27T09:00:00Z" AND enqueue_time < "2026-11-27T12:00:00Z" AND enqueue_time <= "2026-11-27T10:00:00Z"`,
			`enqueue_time >= "2026-11-27T09:00:00.000000001Z" AND enqueue_time < "2026-11-27T10:00:00.000000001Z"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			f, err := erpSubmissionFilter.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := orderQueueFilter(f); got != tc.want {
				t.Errorf("orderQueueFilter(%s) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestGetAndRetryErpSubmission(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.ord.entries = []*orderv1.ErpQueueEntry{queueEntry("o-1", "C0001", orderv1.ErpQueueEntry_STATE_BACKING_OFF, 3)}

	got, err := f.u.GetErpSubmission(operatorCtx(), &opsv1.GetErpSubmissionRequest{Name: "erpSubmissions/o-1"})
	if err != nil || got.GetName() != "erpSubmissions/o-1" || got.GetOrder() != "orders/o-1" {
		t.Fatalf("GetErpSubmission = %v, %v", got, err)
	}
	got, err = f.u.RetryErpSubmission(operatorCtx(), &opsv1.RetryErpSubmissionRequest{Name: "erpSubmissions/o-1", RequestId: "r"})
	if err != nil || got.GetName() != "erpSubmissions/o-1" {
		t.Fatalf("RetryErpSubmission = %v, %v", got, err)
	}
	if diff := cmp.Diff([]string{"erpQueueEntries/o-1"}, f.ord.retried); diff != "" {
		t.Errorf("retried (-want +got):\n%s", diff)
	}
	wantForwarded(t, f.ord.last())

	tests := []struct {
		name   string
		call   func() error
		code   codes.Code
		reason apierr.Reason
	}{
		{"get gone", func() error {
			_, err := f.u.GetErpSubmission(context.Background(), &opsv1.GetErpSubmissionRequest{Name: "erpSubmissions/o-9"})
			return err
		}, codes.NotFound, commonv1.ErrorReason_ERROR_REASON_NOT_FOUND},
		{"retry gone", func() error {
			_, err := f.u.RetryErpSubmission(context.Background(), &opsv1.RetryErpSubmissionRequest{Name: "erpSubmissions/o-9", RequestId: "r"})
			return err
		}, codes.NotFound, commonv1.ErrorReason_ERROR_REASON_NOT_FOUND},
		{"bad name", func() error {
			_, err := f.u.GetErpSubmission(context.Background(), &opsv1.GetErpSubmissionRequest{Name: "erpQueueEntries/o-1"})
			return err
		}, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
		{"nested name", func() error {
			_, err := f.u.RetryErpSubmission(context.Background(), &opsv1.RetryErpSubmissionRequest{Name: "erpSubmissions/a/b"})
			return err
		}, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, tc.call(), tc.code, tc.reason)
		})
	}
}

func TestErpQueueOrderDown(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.ord.err = apierr.DependencyUnavailable("order", "down")
	_, err := f.u.GetErpQueueStatus(context.Background(), &opsv1.GetErpQueueStatusRequest{})
	wantStatus(t, err, codes.Unavailable, commonv1.ErrorReason_ERROR_REASON_DEPENDENCY_UNAVAILABLE)
	if got := apierr.Info(err).GetMetadata()["dependency"]; got != "order" {
		t.Errorf("dependency = %q, want order", got)
	}
}

// TestSubmissionStateParity fails when order.v1 adds a queue entry state
// that ops.v1 does not show: every state but unspecified maps to its own
// ops state.
func TestSubmissionStateParity(t *testing.T) {
	t.Parallel()
	seen := map[opsv1.ErpSubmission_State]string{}
	for n, name := range orderv1.ErpQueueEntry_State_name {
		s := orderv1.ErpQueueEntry_State(n)
		if s == orderv1.ErpQueueEntry_STATE_UNSPECIFIED {
			continue
		}
		got := submissionState(s)
		if got == opsv1.ErpSubmission_STATE_UNSPECIFIED {
			t.Errorf("queue entry state %s shows as unspecified in ops", name)
			continue
		}
		if other, dup := seen[got]; dup {
			t.Errorf("queue entry states %s and %s both show as %s", other, name, got)
		}
		seen[got] = name
		if got.String() != name {
			t.Errorf("queue entry state %s shows as %s", name, got)
		}
	}
}

// A parked entry shows as parked with its strike count and park time, and
// an operator's `state = PARKED` filter reaches order with the full name.
func TestParkedErpSubmission(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	parked := queueEntry("o-1", "C0001", orderv1.ErpQueueEntry_STATE_PARKED, 10)
	parked.StrikeCount, parked.ParkTime, parked.NextAttemptTime = 10, tspb(t0.Add(-time.Minute)), nil
	f.ord.entries = []*orderv1.ErpQueueEntry{parked}

	got, err := f.u.GetErpSubmission(operatorCtx(), &opsv1.GetErpSubmissionRequest{Name: "erpSubmissions/o-1"})
	if err != nil {
		t.Fatal(err)
	}
	want := &opsv1.ErpSubmission{
		Name: "erpSubmissions/o-1", Order: "orders/o-1", CustomerId: "C0001", State: opsv1.ErpSubmission_STATE_PARKED,
		AttemptCount: 10, LastError: "erp down", EnqueueTime: tspb(t0.Add(-time.Hour)),
		StrikeCount: 10, ParkTime: tspb(t0.Add(-time.Minute)),
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("parked submission (-want +got):\n%s", diff)
	}
	if _, err := f.u.ListErpSubmissions(operatorCtx(), &opsv1.ListErpSubmissionsRequest{Filter: "state = PARKED"}); err != nil {
		t.Fatal(err)
	}
	if got := f.ord.lists[0].GetFilter(); got != "state = STATE_PARKED" {
		t.Errorf("order filter = %q, want state = STATE_PARKED", got)
	}
}
