// Package storetest is the conformance suite every fulfillment.Store
// implementation passes: requests, shipments, the WMS event record and
// cursors, the effect queue, cancellations and outbox events, read and
// written the way the workers and the API use them.
package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// Factory returns a new, empty, migrated store for one test.
type Factory func(t *testing.T) fulfillment.Store

// Run runs the whole suite, each test on a store of its own.
func Run(t *testing.T, newStore Factory) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, fulfillment.Store)
	}{
		{"Requests", testRequests},
		{"ListRequests", testListRequests},
		{"Shipments", testShipments},
		{"WMSEventsAndCursor", testWMS},
		{"Effects", testEffects},
		{"Cancellations", testCancellations},
		{"Events", testEvents},
		{"ExpectedReturns", testExpectedReturns},
		{"ReturnReceipts", testReturnReceipts},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newStore(t)) })
	}
}

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// Request returns a fixture request of order for warehouse wh created at.
func Request(order, wh string, at time.Time) *fulfillment.Request {
	return &fulfillment.Request{
		ID: fulfillment.RequestID(order, wh), OrderID: order, CustomerID: "C0001", WarehouseID: wh,
		ShipTo: fulfillment.Address{Recipient: "Ada", Lines: []string{"Street 1"}, Locality: "Hamburg", PostalCode: "20095", RegionCode: "DE"},
		Lines:  []fulfillment.Line{{OrderLineID: "1", SKU: "SKU-00001", Quantity: 3}, {OrderLineID: "2", SKU: "SKU-00002", Quantity: 1}},
		State:  fulfillment.RequestPending, ReservationID: "R-1", SourceEventID: "ev-1",
		CreateTime: at, UpdateTime: at, NextAttemptTime: at,
	}
}

// Insert inserts rs in one transaction, failing t on an error, and
// reports which were created.
func Insert(t *testing.T, s fulfillment.Store, rs ...*fulfillment.Request) []bool {
	t.Helper()
	var created []bool
	InTx(t, s, func(tx fulfillment.Tx) error {
		created = nil
		for _, r := range rs {
			ok, err := tx.InsertRequest(t.Context(), r)
			if err != nil {
				return err
			}
			created = append(created, ok)
		}
		return nil
	})
	return created
}

// InTx runs fn in a transaction of s, failing t on an error.
func InTx(t *testing.T, s fulfillment.Store, fn func(tx fulfillment.Tx) error) {
	t.Helper()
	if err := s.InTx(t.Context(), fn); err != nil {
		t.Fatal(err)
	}
}

func testRequests(t *testing.T, s fulfillment.Store) {
	ctx := t.Context()
	r := Request("O-REQ", "WH-HAM", t0)
	if !Insert(t, s, r)[0] {
		t.Fatal("first insert did not create")
	}
	if Insert(t, s, Request("O-REQ", "WH-HAM", t0.Add(time.Hour)))[0] {
		t.Fatal("second insert of the same id created a row")
	}
	got, err := s.GetRequest(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Fatalf("GetRequest (-want +got):\n%s", diff)
	}
	if _, err := s.GetRequest(ctx, "FR-nope"); !errors.Is(err, fulfillment.ErrRequestNotFound) {
		t.Fatalf("GetRequest(unknown) = %v, want ErrRequestNotFound", err)
	}

	due, err := s.DueRequests(ctx, t0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !containsRequest(due, r.ID) {
		t.Fatalf("DueRequests at t0 misses %s", r.ID)
	}

	// Acknowledge through the optimistic update.
	err = s.InTx(ctx, func(tx fulfillment.Tx) error {
		cur, err := tx.GetRequest(ctx, r.ID)
		if err != nil {
			return err
		}
		cur.AttemptCount++
		cur.Acknowledge("WMS-1", t0.Add(time.Second))
		return tx.UpdateRequest(ctx, cur)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err = s.GetRequest(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != fulfillment.RequestAcknowledged || got.WMSReference != "WMS-1" || got.AttemptCount != 1 ||
		!got.AcknowledgeTime.Equal(t0.Add(time.Second)) || got.Version != 2 {
		t.Fatalf("after acknowledge: %+v", got)
	}
	due, err = s.DueRequests(ctx, t0.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	if containsRequest(due, r.ID) {
		t.Fatal("acknowledged request is still due")
	}

	// A stale version is refused.
	stale := *got
	stale.Version = 1
	err = s.InTx(ctx, func(tx fulfillment.Tx) error { return tx.UpdateRequest(ctx, &stale) })
	if !errors.Is(err, fulfillment.ErrConflict) {
		t.Fatalf("stale update = %v, want ErrConflict", err)
	}
}

func containsRequest(rs []*fulfillment.Request, id string) bool {
	for _, r := range rs {
		if r.ID == id {
			return true
		}
	}
	return false
}

// ids returns the ids of rs.
func ids[T any](rs []T, id func(T) string) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, id(r))
	}
	return out
}

func requestID(r *fulfillment.Request) string { return r.ID }

func testListRequests(t *testing.T, s fulfillment.Store) {
	ctx := t.Context()
	var want []string
	for i := range 5 {
		// Two requests share a create time: the id breaks the tie.
		r := Request("O-LIST", fmt.Sprintf("WH-%d", i), t0.Add(time.Duration(i/2)*time.Minute))
		Insert(t, s, r)
		want = append(want, r.ID)
	}
	Insert(t, s, Request("O-OTHER", "WH-HAM", t0))

	list := func(q fulfillment.RequestQuery) []string {
		t.Helper()
		rs, err := s.ListRequests(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return ids(rs, requestID)
	}
	for _, desc := range []bool{false, true} {
		var got []string
		p := fulfillment.Page{Limit: 2, Desc: desc}
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("paging does not end")
			}
			rs, err := s.ListRequests(ctx, fulfillment.RequestQuery{OrderID: "O-LIST", Page: p})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ids(rs, requestID)...)
			if len(rs) < p.Limit {
				break
			}
			p.AfterTime, p.AfterID = rs[len(rs)-1].CreateTime, rs[len(rs)-1].ID
		}
		w := slices.Clone(want)
		if desc {
			slices.Reverse(w)
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Fatalf("paged list, desc %v (-want +got):\n%s", desc, diff)
		}
	}

	for name, tc := range map[string]struct {
		q    fulfillment.RequestQuery
		want []string
	}{
		"warehouse":      {fulfillment.RequestQuery{WarehouseID: "WH-2"}, want[2:3]},
		"created from":   {fulfillment.RequestQuery{OrderID: "O-LIST", CreatedFrom: t0.Add(time.Minute)}, want[2:]},
		"created before": {fulfillment.RequestQuery{OrderID: "O-LIST", CreatedBefore: t0.Add(time.Minute)}, want[:2]},
		"customer":       {fulfillment.RequestQuery{CustomerID: "C0001", OrderID: "O-OTHER"}, []string{"FR-O-OTHER-WH-HAM"}},
		"state":          {fulfillment.RequestQuery{State: fulfillment.RequestFailed}, []string{}},
		"limit":          {fulfillment.RequestQuery{OrderID: "O-LIST", Page: fulfillment.Page{Limit: 1, Desc: true}}, want[4:]},
	} {
		if tc.q.Limit == 0 {
			tc.q.Limit = 100
		}
		if diff := cmp.Diff(tc.want, list(tc.q)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

func testShipments(t *testing.T, s fulfillment.Store) {
	ctx := t.Context()
	r := Request("O-SHIP", "WH-MUC", t0)
	Insert(t, s, r)
	sh := &fulfillment.Shipment{
		ID: "S-1", OrderID: r.OrderID, CustomerID: r.CustomerID, RequestID: r.ID, WarehouseID: r.WarehouseID,
		Lines: []fulfillment.ShipmentLine{{OrderLineID: "1", SKU: "SKU-00001", Quantity: 3}},
		State: fulfillment.ShipmentPicked, MaxProgress: fulfillment.ShipmentPicked,
		History:       []fulfillment.StateChange{{State: fulfillment.ShipmentPicked, OccurTime: t0, RecordTime: t0, WMSEventID: "E1"}},
		ReservationID: "R-1", CreateTime: t0, UpdateTime: t0,
	}
	err := s.InTx(ctx, func(tx fulfillment.Tx) error { return tx.InsertShipment(ctx, sh) })
	if err != nil {
		t.Fatal(err)
	}
	// One unpacked shipment per request.
	dup := *sh
	dup.ID = "S-2"
	err = s.InTx(ctx, func(tx fulfillment.Tx) error { return tx.InsertShipment(ctx, &dup) })
	if err == nil {
		t.Fatal("second unpacked shipment of a request inserted")
	}

	err = s.InTx(ctx, func(tx fulfillment.Tx) error {
		cur, err := tx.FindShipment(ctx, r.ID, "")
		if err != nil {
			return err
		}
		cur.WMSReference, cur.State, cur.Carrier = "PCL-1", fulfillment.ShipmentShipped, "DHL"
		cur.ShipTime, cur.UpdateTime = t0.Add(time.Hour), t0.Add(time.Hour)
		cur.History = append(cur.History, fulfillment.StateChange{State: fulfillment.ShipmentShipped, OccurTime: t0.Add(time.Hour), RecordTime: t0.Add(time.Hour), WMSEventID: "E2"})
		return tx.UpdateShipment(ctx, cur)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetShipment(ctx, "S-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.WMSReference != "PCL-1" || got.State != fulfillment.ShipmentShipped || len(got.History) != 2 ||
		!got.ShipTime.Equal(t0.Add(time.Hour)) || got.Version != 2 {
		t.Fatalf("after update: %+v", got)
	}
	err = s.InTx(ctx, func(tx fulfillment.Tx) error {
		byRef, err := tx.FindShipment(ctx, r.ID, "PCL-1")
		if err != nil {
			return err
		}
		latest, err := tx.LatestShipment(ctx, r.ID)
		if err != nil {
			return err
		}
		if byRef.ID != "S-1" || latest.ID != "S-1" {
			return fmt.Errorf("found %s and %s, want S-1", byRef.ID, latest.ID)
		}
		if _, err := tx.FindShipment(ctx, r.ID, ""); !errors.Is(err, fulfillment.ErrShipmentNotFound) {
			return fmt.Errorf("unpacked shipment after adoption: %w", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetShipment(ctx, "S-none"); !errors.Is(err, fulfillment.ErrShipmentNotFound) {
		t.Fatalf("GetShipment(unknown) = %v", err)
	}

	list, err := s.ListShipments(ctx, fulfillment.ShipmentQuery{OrderID: "O-SHIP", Page: fulfillment.Page{Limit: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != "S-1" {
		t.Fatalf("ListShipments = %v", list)
	}
	if diff := cmp.Diff(got, list[0]); diff != "" {
		t.Fatalf("listed shipment differs (-get +list):\n%s", diff)
	}
	for name, tc := range map[string]struct {
		q    fulfillment.ShipmentQuery
		want int
	}{
		"state":                 {fulfillment.ShipmentQuery{State: fulfillment.ShipmentShipped}, 1},
		"other state":           {fulfillment.ShipmentQuery{State: fulfillment.ShipmentPicked}, 0},
		"request by update":     {fulfillment.ShipmentQuery{RequestID: r.ID, ByUpdateTime: true, Page: fulfillment.Page{Desc: true}}, 1},
		"after by update":       {fulfillment.ShipmentQuery{RequestID: r.ID, ByUpdateTime: true, Page: fulfillment.Page{AfterTime: t0.Add(time.Hour), AfterID: "S-0"}}, 1},
		"past by update":        {fulfillment.ShipmentQuery{RequestID: r.ID, ByUpdateTime: true, Page: fulfillment.Page{AfterTime: t0.Add(time.Hour), AfterID: "S-1"}}, 0},
		"warehouse and updated": {fulfillment.ShipmentQuery{WarehouseID: "WH-MUC", UpdatedFrom: t0.Add(time.Minute)}, 1},
		"updated before":        {fulfillment.ShipmentQuery{OrderID: "O-SHIP", UpdatedBefore: t0.Add(time.Minute)}, 0},
		"tracking number":       {fulfillment.ShipmentQuery{TrackingNumber: "none"}, 0},
		"customer":              {fulfillment.ShipmentQuery{CustomerID: "C0001"}, 1},
	} {
		if tc.q.Limit == 0 {
			tc.q.Limit = 10
		}
		list, err := s.ListShipments(ctx, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != tc.want {
			t.Errorf("%s: %d shipments, want %d", name, len(list), tc.want)
		}
	}
}

func testWMS(t *testing.T, s fulfillment.Store) {
	ctx := t.Context()
	err := s.InTx(ctx, func(tx fulfillment.Tx) error {
		if c, err := tx.Cursor(ctx, "wms"); err != nil || c != "" {
			return fmt.Errorf("initial cursor %q, %w", c, err)
		}
		if err := tx.SetCursor(ctx, "wms", "c1", t0); err != nil {
			return err
		}
		if err := tx.SetCursor(ctx, "wms", "c2", t0); err != nil {
			return err
		}
		if _, ok, err := tx.LookupWMSEvent(ctx, "wms", "E1"); err != nil || ok {
			return fmt.Errorf("unseen event found: %v %w", ok, err)
		}
		for _, ev := range []fulfillment.WMSEventRecord{
			{Source: "wms", EventID: "E1", Fingerprint: "f1", Outcome: fulfillment.WMSEventApplied, RecordTime: t0, Payload: []byte{1}},
			{Source: "wms", EventID: "E2", Fingerprint: "f2", Outcome: fulfillment.WMSEventRejected, Reason: "UNKNOWN_ORDER_LINE", RecordTime: t0},
		} {
			if err := tx.RecordWMSEvent(ctx, ev); err != nil {
				return err
			}
		}
		ev, ok, err := tx.LookupWMSEvent(ctx, "wms", "E1")
		if err != nil || !ok || ev.Fingerprint != "f1" {
			return fmt.Errorf("lookup E1: %+v %v %w", ev, ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.Cursor(ctx, "wms"); err != nil || c != "c2" {
		t.Fatalf("cursor = %q, %v; want c2", c, err)
	}
	if c, err := s.Cursor(ctx, "other"); err != nil || c != "" {
		t.Fatalf("other source cursor = %q, %v", c, err)
	}
	rej, err := s.RejectedWMSEvents(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rej) != 1 || rej[0].EventID != "E2" || rej[0].Reason != "UNKNOWN_ORDER_LINE" {
		t.Fatalf("rejected = %+v", rej)
	}
	// Recording the same event twice is refused by the key.
	err = s.InTx(ctx, func(tx fulfillment.Tx) error {
		return tx.RecordWMSEvent(ctx, fulfillment.WMSEventRecord{Source: "wms", EventID: "E1", Fingerprint: "f1", Outcome: fulfillment.WMSEventApplied, RecordTime: t0})
	})
	if err == nil {
		t.Fatal("an event recorded twice")
	}
}

func testEffects(t *testing.T, s fulfillment.Store) {
	ctx := t.Context()
	commitS1 := fulfillment.CommitEffect("O-1", fulfillment.Commit{ReservationID: "R-1", RequestID: "commit-S-1", ShipmentID: "S-1",
		Lines: []fulfillment.ShipmentLine{{SKU: "SKU-00001", Quantity: 2}}}, t0)
	progress := fulfillment.ProgressEffect(fulfillment.Progress{OrderID: "O-1", EventID: "ev-1", ShipmentID: "S-1", OccurTime: t0,
		Lines: []fulfillment.ShipmentLine{{OrderLineID: "1", Quantity: 2}}}, t0)
	var created []bool
	err := s.InTx(ctx, func(tx fulfillment.Tx) error {
		created = nil
		for _, e := range []fulfillment.Effect{commitS1, progress, commitS1} {
			ok, err := tx.EnqueueEffect(ctx, e)
			if err != nil {
				return err
			}
			created = append(created, ok)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]bool{true, true, false}, created); diff != "" {
		t.Fatalf("enqueue created (-want +got):\n%s", diff)
	}
	pending, err := s.PendingEffects(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fulfillment.Effect{commitS1, progress}, pending, cmpopts.IgnoreFields(fulfillment.Effect{}, "ID")); diff != "" {
		t.Fatalf("pending (-want +got):\n%s", diff)
	}
	if err := s.RetryEffect(ctx, pending[0].ID, "inventory down", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishEffects(ctx, []fulfillment.EffectResult{{ID: pending[1].ID}}, t0); err != nil {
		t.Fatal(err)
	}
	pending, err = s.PendingEffects(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].Attempts != 1 || pending[0].LastError != "inventory down" || !pending[0].NextAttemptAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after retry: %+v", pending)
	}
	// One call finishes several effects, each with its own outcome.
	err = s.InTx(ctx, func(tx fulfillment.Tx) error {
		for _, key := range []string{"ev-2", "ev-3"} {
			p := progress
			p.Key, p.Progress = key, &fulfillment.Progress{OrderID: "O-1", EventID: key, ShipmentID: "S-1", OccurTime: t0}
			if _, err := tx.EnqueueEffect(ctx, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pending, err = s.PendingEffects(ctx, 10)
	if err != nil || len(pending) != 3 {
		t.Fatalf("pending = %d, %v; want 3", len(pending), err)
	}
	if err := s.FinishEffects(ctx, []fulfillment.EffectResult{{ID: pending[0].ID, Failure: "refused"}, {ID: pending[1].ID},
		{ID: pending[2].ID, Failure: "refused too"}}, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishEffects(ctx, nil, t0); err != nil {
		t.Fatalf("finish nothing: %v", err)
	}
	for state, want := range map[fulfillment.EffectState]int{fulfillment.EffectPending: 0, fulfillment.EffectDone: 2, fulfillment.EffectFailed: 2} {
		n, err := s.CountEffects(ctx, state)
		if err != nil || n != want {
			t.Fatalf("CountEffects(%s) = %d, %v; want %d", state, n, err, want)
		}
	}
	// Only a pending effect can be dropped; a done one stays.
	err = s.InTx(ctx, func(tx fulfillment.Tx) error {
		p := progress
		p.Key, p.Progress = "ev-4", &fulfillment.Progress{OrderID: "O-1", EventID: "ev-4", ShipmentID: "S-1", OccurTime: t0}
		if _, err := tx.EnqueueEffect(ctx, p); err != nil {
			return err
		}
		for _, c := range []struct {
			key  string
			want bool
		}{{"ev-4", true}, {"ev-4", false}, {"ev-2", false}} {
			if dropped, err := tx.DropPendingEffect(ctx, fulfillment.EffectRecordShipmentProgress, c.key); err != nil || dropped != c.want {
				t.Errorf("DropPendingEffect(%s) = %v, %v; want %v", c.key, dropped, err, c.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountEffects(ctx, fulfillment.EffectDone); n != 2 {
		t.Errorf("%d done effects after the drops, want 2", n)
	}
}

func testCancellations(t *testing.T, s fulfillment.Store) {
	ctx := t.Context()
	Insert(t, s, Request("O-CAN", "WH-HAM", t0))
	Insert(t, s, Request("O-CAN", "WH-MUC", t0.Add(time.Second)))
	err := s.InTx(ctx, func(tx fulfillment.Tx) error {
		if ok, err := tx.OrderCancelled(ctx, "O-CAN"); err != nil || ok {
			return fmt.Errorf("cancelled before any record: %v %w", ok, err)
		}
		if _, ok, err := tx.Cancellation(ctx, "k1"); err != nil || ok {
			return fmt.Errorf("unknown cancellation found: %v %w", ok, err)
		}
		if err := tx.RecordCancellation(ctx, fulfillment.Cancellation{RequestID: "k1", OrderID: "O-CAN", Fingerprint: "fp", Reason: "r", CreateTime: t0}); err != nil {
			return err
		}
		c, ok, err := tx.Cancellation(ctx, "k1")
		if err != nil || !ok || c.OrderID != "O-CAN" || c.Fingerprint != "fp" || !c.CreateTime.Equal(t0) {
			return fmt.Errorf("cancellation %+v %v %w", c, ok, err)
		}
		if ok, err := tx.OrderCancelled(ctx, "O-CAN"); err != nil || !ok {
			return fmt.Errorf("order not cancelled: %v %w", ok, err)
		}
		rs, err := tx.OrderRequests(ctx, "O-CAN")
		if err != nil {
			return err
		}
		if len(rs) != 2 || rs[0].WarehouseID != "WH-HAM" || rs[1].WarehouseID != "WH-MUC" {
			return fmt.Errorf("order requests %v", rs)
		}
		has, err := tx.RequestHasShipments(ctx, rs[0].ID)
		if err != nil || has {
			return fmt.Errorf("shipments of a new request: %v %w", has, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testEvents(t *testing.T, s fulfillment.Store) {
	ctx := t.Context()
	r := Request("O-EV", "WH-HAM", t0)
	Insert(t, s, r)
	sh := &fulfillment.Shipment{ID: "S-EV", OrderID: r.OrderID, RequestID: r.ID, WarehouseID: r.WarehouseID,
		State: fulfillment.ShipmentPicked, CreateTime: t0, UpdateTime: t0}
	InTx(t, s, func(tx fulfillment.Tx) error {
		for _, ev := range []fulfillment.Event{
			{Type: fulfillment.EventShipmentUpdated, ID: "0190a3c4-0000-7000-8000-000000000001", Shipment: sh, WMSEventID: "E1", OccurTime: t0},
			{Type: fulfillment.EventRequestFailed, Request: r, PreviousRequestState: fulfillment.RequestPending, OccurTime: t0},
			{Type: fulfillment.EventRequestCancelled, Request: r, PreviousRequestState: fulfillment.RequestFailed},
		} {
			if err := tx.WriteEvent(ctx, ev); err != nil {
				return fmt.Errorf("event type %d: %w", ev.Type, err)
			}
		}
		return nil
	})
	for _, ev := range []fulfillment.Event{{}, {Type: fulfillment.EventShipmentUpdated}, {Type: fulfillment.EventRequestFailed}} {
		err := s.InTx(ctx, func(tx fulfillment.Tx) error { return tx.WriteEvent(ctx, ev) })
		if err == nil {
			t.Errorf("WriteEvent(%+v) = nil, want an error", ev)
		}
	}

	// A failing transaction leaves nothing behind.
	boom := errors.New("boom")
	other := Request("O-EV", "WH-MUC", t0)
	err := s.InTx(ctx, func(tx fulfillment.Tx) error {
		if _, err := tx.InsertRequest(ctx, other); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want the callback's error", err)
	}
	if _, err := s.GetRequest(ctx, other.ID); !errors.Is(err, fulfillment.ErrRequestNotFound) {
		t.Fatalf("request of a rolled back transaction: %v", err)
	}
}
