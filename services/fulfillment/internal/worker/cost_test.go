package worker_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/store/storetest"
	"github.com/transload/transload/services/fulfillment/internal/worker"
)

// countingNeighbours are the inventory and the order service, counting
// the calls they get.
type countingNeighbours struct{ commits, reports atomic.Int64 }

func (c *countingNeighbours) CommitReservation(context.Context, fulfillment.Commit) error {
	c.commits.Add(1)
	return nil
}

func (c *countingNeighbours) RecordShipmentProgress(context.Context, fulfillment.Progress) error {
	c.reports.Add(1)
	return nil
}

// TestCommitsPerOrder follows orders through fulfillment once their
// requests exist: one dispatcher round sends them to the WMS, one page of
// the feed brings each shipment's PICKED, PACKED, SHIPPED and DELIVERED
// (the bench's WMS steps 50 ms apart, the feed is polled every 500 ms),
// and the effect runner reports to inventory and the order service. It
// counts the database commits and the neighbour calls per order: a round,
// a page and a batch of effects commit once each, and a shipment shipped
// and delivered in one page is one DELIVERED report.
func TestCommitsPerOrder(t *testing.T) {
	const n = 10
	s, db := newStoreDB(t)
	var events []*wmsv1.ShipmentEvent
	for i := range n {
		order := fmt.Sprint("O-C", i)
		r := &fulfillment.Request{ID: fulfillment.RequestID(order, "WH-MUC"), OrderID: order, WarehouseID: "WH-MUC",
			ReservationID: "R-" + order, State: fulfillment.RequestPending, CreateTime: t0, UpdateTime: t0, NextAttemptTime: t0,
			Lines: []fulfillment.Line{{OrderLineID: "1", SKU: "SKU-1", Quantity: 1}}}
		storetest.Insert(t, s, r)
		for j, st := range []wmsv1.ShipmentRequest_State{wmsv1.ShipmentRequest_STATE_PICKED, wmsv1.ShipmentRequest_STATE_PACKED,
			wmsv1.ShipmentRequest_STATE_SHIPPED, wmsv1.ShipmentRequest_STATE_DELIVERED} {
			events = append(events, &wmsv1.ShipmentEvent{
				EventId: fmt.Sprintf("E-%d-%d", i, j), ShipmentRequestId: r.ID, WarehouseCode: "WH-MUC", State: st,
				ShipmentId: fmt.Sprint("P-", i), Lines: []*wmsv1.ShipmentEventLine{{LineId: "1", Sku: "SKU-1", Quantity: 1}},
				OccurTime: timestamppb.New(t0),
			})
		}
	}
	wms := &fakeWMS{events: events, create: func(r *fulfillment.Request) (fulfillment.WMSAnswer, error) {
		return fulfillment.WMSAnswer{Accepted: true, Reference: "W-" + r.ID}, nil
	}}
	nb := &countingNeighbours{}
	common := worker.Common{Now: func() time.Time { return t0 }}
	ctx := t.Context()
	commits0, _ := db.CommitStats()

	if _, err := worker.NewDispatcher(s, wms, worker.DispatcherConfig{Common: common}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	p := worker.NewPoller(s, wms, worker.PollerConfig{Common: common, PageSize: 100})
	prep0, reuse0 := db.StatementStats()
	for more := true; more; {
		var err error
		if more, err = p.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	prep1, reuse1 := db.StatementStats()
	pageStatements := float64(prep1+reuse1-prep0-reuse0) / n
	t.Logf("feed page: %.1f statements per order (4 milestones)", pageStatements)
	// Measured 34.5 with one outbox batch per event, 26.8 with one per
	// page, 23.7 with each request read once per page's transaction, 20.7
	// with each shipment too, 16.8 with the page's events looked up in one
	// read.
	if pageStatements > 17 {
		t.Errorf("feed page: %.1f statements per order, want at most 17 (its outbox events written as one batch, each request and shipment read once, its events looked up at once)", pageStatements)
	}
	checkShipmentEvents(t, db, n)
	r := worker.NewEffectRunner(s, nb, nb, nil, worker.EffectRunnerConfig{Common: common})
	for more := true; more; {
		var err error
		if more, err = r.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	commits, _ := db.CommitStats()
	perOrder := func(v int64) float64 { return float64(v) / n }
	t.Logf("per order: %.2f commits, %.2f inventory commits, %.2f progress reports",
		perOrder(int64(commits-commits0)), perOrder(nb.commits.Load()), perOrder(nb.reports.Load()))
	if got := commits - commits0; got > 3 {
		t.Errorf("%d commits for %d orders, want at most 3 (dispatcher round, feed page, effect batch)", got, n)
	}
	if nb.commits.Load() != n || nb.reports.Load() != n {
		t.Errorf("%d inventory commits and %d progress reports for %d orders, want one each",
			nb.commits.Load(), nb.reports.Load(), n)
	}
}

// checkShipmentEvents checks that the outbox holds, for each of the n
// shipments, its four ShipmentUpdatedEvents with sequences 1..4 in id
// order, whichever way they were batched.
func checkShipmentEvents(t *testing.T, db *sqldb.DB, n int) {
	t.Helper()
	rows, err := db.SQL().QueryContext(t.Context(), `SELECT aggregate_id, aggregate_seq FROM outbox_events
		WHERE subject = ? ORDER BY id`, eventstreams.ShipmentUpdated)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seqs := map[string][]int64{}
	for rows.Next() {
		var (
			id  string
			seq int64
		)
		if err := rows.Scan(&id, &seq); err != nil {
			t.Fatal(err)
		}
		seqs[id] = append(seqs[id], seq)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seqs) != n {
		t.Errorf("ShipmentUpdatedEvents of %d shipments, want %d", len(seqs), n)
	}
	for id, got := range seqs {
		if !slices.Equal(got, []int64{1, 2, 3, 4}) {
			t.Errorf("shipment %s events in id order have sequences %v, want [1 2 3 4]", id, got)
		}
	}
}
