package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/pgtest"
	"github.com/transload/transload/services/wmssim/internal/store/sqlstore"
	"github.com/transload/transload/services/wmssim/internal/wms"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 123456000, time.UTC)

func newStore(t *testing.T, db *sqldb.DB) *sqlstore.Store {
	t.Helper()
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	// Migrating again is a no-op.
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	return sqlstore.New(db)
}

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

func TestStore(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		ctx := t.Context()
		s := newStore(t, db)

		t.Run("create, replay and get", func(t *testing.T) {
			got, created, err := s.CreateShipmentRequest(ctx, "FR-1", func(n int64) (wms.ShipmentRequest, error) {
				return request("FR-1", n), nil
			})
			if err != nil || !created {
				t.Fatalf("create: created=%v err=%v", created, err)
			}
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
		})

		t.Run("update appends events in feed order and due list follows next step", func(t *testing.T) {
			for _, id := range []string{"FR-A", "FR-B"} {
				if _, _, err := s.CreateShipmentRequest(ctx, id, func(n int64) (wms.ShipmentRequest, error) {
					return request(id, n), nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			head0, err := s.ShipmentEventHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			due, err := s.DueShipmentRequests(ctx, t0.Add(time.Second), 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(due) < 2 {
				t.Fatalf("due = %v, want FR-A and FR-B among them", due)
			}
			if due, _ := s.DueShipmentRequests(ctx, t0, 10); len(due) != 0 {
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
			if evs[2].Sequence != 2 || evs[2].OccurTime != t0 {
				t.Fatalf("third event = %+v", evs[2])
			}
			if page, _ := s.ShipmentEvents(ctx, head0+1, 1); len(page) != 1 || page[0].EventID != "E-1" {
				t.Fatalf("page after first = %+v", page)
			}
			if head, _ := s.ShipmentEventHead(ctx); head != head0+3 {
				t.Fatalf("head = %d, want %d", head, head0+3)
			}
			if due, _ := s.DueShipmentRequests(ctx, t0.Add(time.Hour), 10); len(due) != 0 && (due[0] == "FR-A" || due[0] == "FR-B") {
				t.Fatalf("due after clearing next step = %v", due)
			}
		})

		t.Run("failed update changes nothing", func(t *testing.T) {
			boom := errors.New("boom")
			_, err := s.UpdateShipmentRequest(ctx, "FR-1", func(r *wms.ShipmentRequest) ([]wms.ShipmentEvent, error) {
				r.State = wms.StateCancelled
				return nil, boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v, want boom", err)
			}
			if r, _ := s.GetShipmentRequest(ctx, "FR-1"); r.State != wms.StateAccepted {
				t.Fatalf("state = %s after failed update", r.State)
			}
			if _, err := s.UpdateShipmentRequest(ctx, "nope", nil); !errors.Is(err, wms.ErrShipmentRequestNotFound) {
				t.Fatalf("update unknown: %v", err)
			}
		})

		t.Run("concurrent creates of one id create one", func(t *testing.T) {
			const n = 8
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				created int
				numbers = map[int64]bool{}
			)
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var (
						r   wms.ShipmentRequest
						c   bool
						err error
					)
					for range 3 { // the service retries ErrDuplicateKey the same way
						r, c, err = s.CreateShipmentRequest(ctx, "FR-C", func(num int64) (wms.ShipmentRequest, error) {
							return request("FR-C", num), nil
						})
						if !errors.Is(err, wms.ErrDuplicateKey) {
							break
						}
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					numbers[r.Number] = true
					if c {
						created++
					}
				}()
			}
			wg.Wait()
			if created != 1 || len(numbers) != 1 {
				t.Fatalf("created %d times with numbers %v, want once", created, numbers)
			}
			if r, _ := s.GetShipmentRequest(ctx, "FR-C"); r.Submissions != n {
				t.Fatalf("submissions = %d, want %d", r.Submissions, n)
			}
		})

		t.Run("expected returns and return feed", func(t *testing.T) {
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
			head0, _ := s.ReturnEventHead(ctx)
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
			if _, err := s.GetExpectedReturn(ctx, "nope"); !errors.Is(err, wms.ErrExpectedReturnNotFound) {
				t.Fatalf("get unknown return: %v", err)
			}
			if _, err := s.UpdateExpectedReturn(ctx, "nope", nil); !errors.Is(err, wms.ErrExpectedReturnNotFound) {
				t.Fatalf("update unknown return: %v", err)
			}
		})

		t.Run("list is ordered by number", func(t *testing.T) {
			rs, err := s.ListShipmentRequests(context.WithoutCancel(ctx))
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i < len(rs); i++ {
				if rs[i-1].Number >= rs[i].Number {
					t.Fatalf("not ordered: %d then %d", rs[i-1].Number, rs[i].Number)
				}
			}
			if len(rs) != 4 {
				t.Fatalf("listed %d requests, want 4", len(rs))
			}
		})
	})
}
