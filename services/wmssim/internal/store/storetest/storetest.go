// Package storetest is the conformance suite every wms.Store passes, run
// on SQLite and PostgreSQL by the sqlstore tests.
package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/transload/transload/services/wmssim/internal/wms"
)

// t0 has microseconds, the resolution every engine keeps.
var t0 = time.Date(2026, 11, 26, 10, 0, 0, 123456000, time.UTC)

// Run runs the suite. newStore returns a migrated store; the sub-suites
// run one after another and may share one database: each uses its own
// ids and reads the feeds from the head it found.
func Run(t *testing.T, newStore func(t *testing.T) wms.Store) {
	for _, sub := range []struct {
		name string
		test func(*testing.T, wms.Store)
	}{
		{"CreateReplayGet", testCreateReplayGet},
		{"UpdateAppendsEventsInFeedOrder", testUpdateAppendsEvents},
		{"FailedUpdateChangesNothing", testFailedUpdate},
		{"UpdateManyAllOrNothing", testUpdateMany},
		{"ConcurrentCreatesCreateOne", testConcurrentCreates},
		{"ExpectedReturnsAndReturnFeed", testExpectedReturns},
		{"ListOrderedByNumber", testListOrdered},
	} {
		t.Run(sub.name, func(t *testing.T) { sub.test(t, newStore(t)) })
	}
}

// request is an accepted request due one second after t0; the store
// assigns its number.
func request(id string, number int64) wms.ShipmentRequest {
	return wms.ShipmentRequest{
		ID: id, Number: number, State: wms.StateAccepted, Fingerprint: "fp-" + id,
		Order: wms.ShipmentOrder{
			OrderID: "O-" + id, Warehouse: "WH-HAM",
			ShipTo: wms.Address{Recipient: "A", Lines: []string{"Street 1"}, RegionCode: "DE"},
			Lines:  []wms.OrderLine{{LineID: "1", SKU: "SKU-00001", Quantity: 2}},
		},
		CreateTime: t0, UpdateTime: t0, NextStepAt: t0.Add(time.Second),
	}
}

// create creates request(id) and fails the test unless it is new.
func create(t *testing.T, s wms.Store, id string) wms.ShipmentRequest {
	t.Helper()
	r, created, err := s.CreateShipmentRequest(t.Context(), id, func(n int64) (wms.ShipmentRequest, error) {
		return request(id, n), nil
	})
	if err != nil || !created {
		t.Fatalf("create %s: created=%v err=%v", id, created, err)
	}
	return r
}

// testCreateReplayGet: a new id is built and stored with one submission;
// the same id again is counted, not built; Get reads what was stored.
func testCreateReplayGet(t *testing.T, s wms.Store) {
	ctx := t.Context()
	got := create(t, s, "FR-1")
	want := request("FR-1", got.Number)
	want.Submissions = 1
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("created (-want +got):\n%s", diff)
	}
	again, created, err := s.CreateShipmentRequest(ctx, "FR-1", func(int64) (wms.ShipmentRequest, error) {
		t.Fatal("build called for an existing id")
		return wms.ShipmentRequest{}, nil
	})
	if err != nil || created {
		t.Fatalf("replay: created=%v err=%v", created, err)
	}
	want.Submissions = 2
	if diff := cmp.Diff(want, again); diff != "" {
		t.Fatalf("replay (-want +got):\n%s", diff)
	}
	stored, err := s.GetShipmentRequest(ctx, "FR-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, stored); diff != "" {
		t.Fatalf("get (-want +got):\n%s", diff)
	}
	if _, err := s.GetShipmentRequest(ctx, "nope"); !errors.Is(err, wms.ErrShipmentRequestNotFound) {
		t.Fatalf("get unknown: %v", err)
	}
}

// testUpdateAppendsEvents: updates append their events at consecutive
// feed positions in commit order, and the due list follows NextStepAt.
func testUpdateAppendsEvents(t *testing.T, s wms.Store) {
	ctx := t.Context()
	create(t, s, "FR-A")
	create(t, s, "FR-B")
	head0, err := s.ShipmentEventHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	due, err := s.DueShipmentRequests(ctx, t0.Add(time.Second), 100)
	if err != nil || !slices.Contains(due, "FR-A") || !slices.Contains(due, "FR-B") {
		t.Fatalf("due = %v, %v; want FR-A and FR-B among them", due, err)
	}
	if due, _ := s.DueShipmentRequests(ctx, t0, 100); len(due) != 0 {
		t.Fatalf("due before next step = %v, want none", due)
	}
	for i, id := range []string{"FR-A", "FR-B", "FR-A"} {
		_, err := s.UpdateShipmentRequest(ctx, id, func(r *wms.ShipmentRequest) ([]wms.ShipmentEvent, error) {
			r.EventCount++
			r.State = wms.StatePicked
			r.NextStepAt = time.Time{}
			return []wms.ShipmentEvent{{
				EventID: fmt.Sprintf("E-%d", i), ShipmentRequestID: id, Sequence: r.EventCount,
				State: wms.StatePicked, OccurTime: t0, Lines: []wms.EventLine{{LineID: "1", SKU: "S", Quantity: 2}},
			}}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.ShipmentEvents(ctx, head0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, ev := range evs {
		ids = append(ids, ev.EventID)
		if ev.Position != head0+int64(i)+1 {
			t.Errorf("event %s position %d, want %d", ev.EventID, ev.Position, head0+int64(i)+1)
		}
	}
	if diff := cmp.Diff([]string{"E-0", "E-1", "E-2"}, ids); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	if evs[2].Sequence != 2 || !evs[2].OccurTime.Equal(t0) {
		t.Fatalf("third event = %+v", evs[2])
	}
	if page, _ := s.ShipmentEvents(ctx, head0+1, 1); len(page) != 1 || page[0].EventID != "E-1" {
		t.Fatalf("page after first = %+v", page)
	}
	if head, _ := s.ShipmentEventHead(ctx); head != head0+3 {
		t.Fatalf("head = %d, want %d", head, head0+3)
	}
	if due, _ := s.DueShipmentRequests(ctx, t0.Add(time.Hour), 100); slices.Contains(due, "FR-A") || slices.Contains(due, "FR-B") {
		t.Fatalf("due after clearing next step = %v", due)
	}
}

// testFailedUpdate: an error from the update function leaves the record
// as it was; an unknown id is not found.
func testFailedUpdate(t *testing.T, s wms.Store) {
	ctx := t.Context()
	create(t, s, "FR-F")
	boom := errors.New("boom")
	_, err := s.UpdateShipmentRequest(ctx, "FR-F", func(r *wms.ShipmentRequest) ([]wms.ShipmentEvent, error) {
		r.State = wms.StateCancelled
		return nil, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if r, _ := s.GetShipmentRequest(ctx, "FR-F"); r.State != wms.StateAccepted {
		t.Fatalf("state = %s after failed update", r.State)
	}
	if _, err := s.UpdateShipmentRequest(ctx, "nope", nil); !errors.Is(err, wms.ErrShipmentRequestNotFound) {
		t.Fatalf("update unknown: %v", err)
	}
}

// testUpdateMany: UpdateShipmentRequests updates every request named,
// appends their events in the order of the ids and returns them; an
// error of one request (fn's, or an unknown id) stores none of them.
func testUpdateMany(t *testing.T, s wms.Store) {
	ctx := t.Context()
	create(t, s, "FR-M1")
	create(t, s, "FR-M2")
	head0, err := s.ShipmentEventHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pick := func(r *wms.ShipmentRequest) ([]wms.ShipmentEvent, error) {
		r.EventCount++
		r.State = wms.StatePicked
		return []wms.ShipmentEvent{{EventID: "E-" + r.ID, ShipmentRequestID: r.ID, Sequence: r.EventCount,
			State: wms.StatePicked, OccurTime: t0}}, nil
	}
	boom := errors.New("boom")
	failSecond := func(r *wms.ShipmentRequest) ([]wms.ShipmentEvent, error) {
		if r.ID == "FR-M2" {
			return nil, boom
		}
		return pick(r)
	}
	if _, err := s.UpdateShipmentRequests(ctx, []string{"FR-M1", "FR-M2"}, failSecond); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if _, err := s.UpdateShipmentRequests(ctx, []string{"FR-M1", "nope"}, pick); !errors.Is(err, wms.ErrShipmentRequestNotFound) {
		t.Fatalf("update with unknown id: %v", err)
	}
	if r, _ := s.GetShipmentRequest(ctx, "FR-M1"); r.State != wms.StateAccepted {
		t.Fatalf("FR-M1 state = %s after failed batches, want ACCEPTED", r.State)
	}
	if head, _ := s.ShipmentEventHead(ctx); head != head0 {
		t.Fatalf("head = %d after failed batches, want %d", head, head0)
	}
	got, err := s.UpdateShipmentRequests(ctx, []string{"FR-M2", "FR-M1"}, pick)
	if err != nil {
		t.Fatal(err)
	}
	feed, err := s.ShipmentEvents(ctx, head0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var returned, stored []string
	for _, ev := range got {
		returned = append(returned, ev.EventID)
	}
	for _, ev := range feed {
		stored = append(stored, ev.EventID)
	}
	want := []string{"E-FR-M2", "E-FR-M1"}
	if diff := cmp.Diff(want, returned); diff != "" {
		t.Errorf("returned events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, stored); diff != "" {
		t.Errorf("feed (-want +got):\n%s", diff)
	}
	for _, id := range []string{"FR-M1", "FR-M2"} {
		if r, _ := s.GetShipmentRequest(ctx, id); r.State != wms.StatePicked || r.EventCount != 1 {
			t.Errorf("%s = %s with %d events, want PICKED with 1", id, r.State, r.EventCount)
		}
	}
}

// testConcurrentCreates: concurrent creations of one id create it once,
// retrying wms.ErrDuplicateKey as the service does, and count every
// submission.
func testConcurrentCreates(t *testing.T, s wms.Store) {
	const n = 8
	type answer struct {
		r       wms.ShipmentRequest
		created bool
	}
	answers := make([]answer, n)
	var g errgroup.Group
	for i := range answers {
		g.Go(func() (err error) {
			for range 3 {
				answers[i].r, answers[i].created, err = s.CreateShipmentRequest(t.Context(), "FR-C", func(num int64) (wms.ShipmentRequest, error) {
					return request("FR-C", num), nil
				})
				if !errors.Is(err, wms.ErrDuplicateKey) {
					break
				}
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	created, numbers := 0, map[int64]bool{}
	for _, a := range answers {
		numbers[a.r.Number] = true
		if a.created {
			created++
		}
	}
	if created != 1 || len(numbers) != 1 {
		t.Fatalf("created %d times with numbers %v, want once", created, numbers)
	}
	if r, _ := s.GetShipmentRequest(t.Context(), "FR-C"); r.Submissions != n {
		t.Fatalf("submissions = %d, want %d", r.Submissions, n)
	}
}

// testExpectedReturns: expected returns are created, replayed and updated
// like shipment requests, with their own feed.
func testExpectedReturns(t *testing.T, s wms.Store) {
	ctx := t.Context()
	ret, created, err := s.CreateExpectedReturn(ctx, "RMA-1", func(n int64) (wms.ExpectedReturn, error) {
		return wms.ExpectedReturn{ID: "RMA-1", State: wms.ReturnExpected, CreateTime: t0, UpdateTime: t0,
			Notice: wms.ReturnNotice{OrderID: "O-1", Warehouse: "WH-MUC", Lines: []wms.ReturnLine{{LineID: "r1", SKU: "S", Quantity: 1}}}}, nil
	})
	if err != nil || !created || ret.Number == 0 || ret.Submissions != 1 {
		t.Fatalf("create return: %+v created=%v err=%v", ret, created, err)
	}
	if _, created, _ := s.CreateExpectedReturn(ctx, "RMA-1", nil); created {
		t.Fatal("replay created again")
	}
	head0, err := s.ReturnEventHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateExpectedReturn(ctx, "RMA-1", func(r *wms.ExpectedReturn) ([]wms.ReturnEvent, error) {
		r.State = wms.ReturnReceived
		r.Received = map[string]int64{"r1": 1}
		return []wms.ReturnEvent{{EventID: "RE-1", ExpectedReturn: "RMA-1", Sequence: 1, OccurTime: t0,
			Lines: []wms.ReceiptLine{{LineID: "r1", SKU: "S", Quantity: 1, Condition: wms.ConditionNew, Disposition: wms.DispositionRestock}}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetExpectedReturn(ctx, "RMA-1")
	if err != nil || got.State != wms.ReturnReceived || got.Received["r1"] != 1 || got.Submissions != 2 {
		t.Fatalf("get return: %+v err=%v", got, err)
	}
	evs, err := s.ReturnEvents(ctx, head0, 10)
	if err != nil || len(evs) != 1 || evs[0].EventID != "RE-1" || evs[0].Position != head0+1 {
		t.Fatalf("return events: %+v err=%v", evs, err)
	}
	if head, _ := s.ReturnEventHead(ctx); head != head0+1 {
		t.Fatalf("return head = %d, want %d", head, head0+1)
	}
	if _, err := s.GetExpectedReturn(ctx, "nope"); !errors.Is(err, wms.ErrExpectedReturnNotFound) {
		t.Fatalf("get unknown return: %v", err)
	}
	if _, err := s.UpdateExpectedReturn(ctx, "nope", nil); !errors.Is(err, wms.ErrExpectedReturnNotFound) {
		t.Fatalf("update unknown return: %v", err)
	}
}

// testListOrdered: every request is listed once, by number.
func testListOrdered(t *testing.T, s wms.Store) {
	mine := []string{"FR-L1", "FR-L2", "FR-L3"}
	for _, id := range mine {
		create(t, s, id)
	}
	rs, err := s.ListShipmentRequests(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for i, r := range rs {
		if i > 0 && rs[i-1].Number >= r.Number {
			t.Fatalf("not ordered: %d then %d", rs[i-1].Number, r.Number)
		}
		if slices.Contains(mine, r.ID) {
			listed = append(listed, r.ID)
		}
	}
	if diff := cmp.Diff(mine, listed); diff != "" {
		t.Fatalf("listed (-want +got):\n%s", diff)
	}
}
