package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/store/storetest"
)

// TestTxReadsARequestOnce: inside one transaction a request is read from
// the database once; later reads give what a read of the row would
// (after the transaction's own updates too), each a fresh copy the caller
// may change, and a failed update is not remembered.
func TestTxReadsARequestOnce(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		s := migrated(t, db)
		t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
		r := storetest.Request("O-RC", "WH-HAM", t0)
		storetest.Insert(t, s, r)

		var inTx []*fulfillment.Request
		statements := -1
		storetest.InTx(t, s, func(tx fulfillment.Tx) error {
			inTx = nil
			first, err := tx.GetRequest(ctx, r.ID)
			if err != nil {
				return err
			}
			first.Lines[0].Quantity = 99 // the caller's copy only
			first.ShipTo.Lines[0] = "changed"
			prep0, reuse0 := db.StatementStats()
			again, err := tx.GetRequest(ctx, r.ID)
			if err != nil {
				return err
			}
			prep1, reuse1 := db.StatementStats()
			statements = int(prep1 + reuse1 - prep0 - reuse0)
			want := storetest.Request("O-RC", "WH-HAM", t0)
			want.Version = 1
			if diff := cmp.Diff(want, again); diff != "" {
				t.Errorf("second read (-want +got, the first copy's changes must not show):\n%s", diff)
			}

			// Its own update: microsecond times as stored, version + 1.
			again.Answered(fulfillment.WMSAnswer{Accepted: true, Reference: "W-1"}, t0.Add(1500*time.Nanosecond))
			if err := tx.UpdateRequest(ctx, again); err != nil {
				return err
			}
			afterUpdate, err := tx.GetRequest(ctx, r.ID)
			if err != nil {
				return err
			}
			inTx = append(inTx, afterUpdate)

			// A stale version fails and is not remembered.
			stale := *afterUpdate
			stale.Version--
			stale.LastError = "stale"
			if err := tx.UpdateRequest(ctx, &stale); err == nil {
				t.Error("update with a stale version succeeded")
			}
			afterFailure, err := tx.GetRequest(ctx, r.ID)
			if err != nil {
				return err
			}
			inTx = append(inTx, afterFailure)
			return nil
		})
		if db.Dialect() == sqldb.SQLite && statements != 0 {
			t.Errorf("second read in the transaction ran %d statements, want 0", statements)
		}
		stored, err := s.GetRequest(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Version != 2 || stored.State != fulfillment.RequestAcknowledged {
			t.Errorf("stored after commit: version %d, state %v; want 2, ACKNOWLEDGED", stored.Version, stored.State)
		}
		for i, got := range inTx {
			if diff := cmp.Diff(stored, got); diff != "" {
				t.Errorf("read %d after the update (-stored +in tx):\n%s", i, diff)
			}
		}
	})
}

// TestTxReadsAShipmentOnce: FindShipment serves the shipments a
// transaction inserted, read or updated without a statement and exactly
// as a read of the row would (adopting a reference moves it from "" to
// that reference), each call a fresh copy; what it does not hold is read
// from the database.
func TestTxReadsAShipmentOnce(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		s := migrated(t, db)
		t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
		r := storetest.Request("O-SC", "WH-MUC", t0)
		storetest.Insert(t, s, r)
		sh := &fulfillment.Shipment{
			ID: "S-SC", OrderID: r.OrderID, CustomerID: r.CustomerID, RequestID: r.ID, WarehouseID: r.WarehouseID,
			Lines: []fulfillment.ShipmentLine{{OrderLineID: "1", SKU: "SKU-00001", Quantity: 3}},
			State: fulfillment.ShipmentPicked, MaxProgress: fulfillment.ShipmentPicked,
			History:       []fulfillment.StateChange{{State: fulfillment.ShipmentPicked, OccurTime: t0, RecordTime: t0, WMSEventID: "E1"}},
			ReservationID: "R-1", CreateTime: t0, UpdateTime: t0.Add(1500 * time.Nanosecond),
		}
		var inTx []*fulfillment.Shipment
		statements := -1
		storetest.InTx(t, s, func(tx fulfillment.Tx) error {
			inTx = nil
			if err := tx.InsertShipment(ctx, sh); err != nil {
				return err
			}
			prep0, reuse0 := db.StatementStats()
			unpacked, err := tx.FindShipment(ctx, r.ID, "")
			if err != nil {
				return err
			}
			unpacked.Lines[0].Quantity = 99 // the caller's copy only
			// Packed: the WMS reference is adopted.
			packed, err := tx.FindShipment(ctx, r.ID, "")
			if err != nil {
				return err
			}
			packed.WMSReference, packed.Carrier, packed.State, packed.MaxProgress = "P-1", "DHL", fulfillment.ShipmentPacked, fulfillment.ShipmentPacked
			packed.History = append(packed.History, fulfillment.StateChange{State: fulfillment.ShipmentPacked, OccurTime: t0, RecordTime: t0, WMSEventID: "E2"})
			packed.UpdateTime = t0.Add(2500 * time.Nanosecond)
			if err := tx.UpdateShipment(ctx, packed); err != nil {
				return err
			}
			byRef, err := tx.FindShipment(ctx, r.ID, "P-1")
			if err != nil {
				return err
			}
			prep1, reuse1 := db.StatementStats()
			statements = int(prep1+reuse1-prep0-reuse0) - 1 // the UPDATE
			inTx = append(inTx, byRef)
			if _, err := tx.FindShipment(ctx, r.ID, ""); !errors.Is(err, fulfillment.ErrShipmentNotFound) {
				t.Errorf("unpacked shipment after the adoption: %v, want ErrShipmentNotFound", err)
			}
			latest, err := tx.LatestShipment(ctx, r.ID)
			if err != nil {
				return err
			}
			inTx = append(inTx, latest)
			return nil
		})
		if db.Dialect() == sqldb.SQLite && statements != 0 {
			t.Errorf("finding held shipments ran %d statements, want 0", statements)
		}
		stored, err := s.GetShipment(ctx, "S-SC")
		if err != nil {
			t.Fatal(err)
		}
		if stored.Version != 2 || stored.WMSReference != "P-1" || stored.Lines[0].Quantity != 3 {
			t.Errorf("stored: version %d, reference %q, quantity %d; want 2, P-1, 3", stored.Version, stored.WMSReference, stored.Lines[0].Quantity)
		}
		for i, got := range inTx {
			if diff := cmp.Diff(stored, got); diff != "" {
				t.Errorf("read %d in the transaction (-stored +in tx):\n%s", i, diff)
			}
		}
		// Another transaction holds nothing of this one.
		storetest.InTx(t, s, func(tx fulfillment.Tx) error {
			got, err := tx.FindShipment(ctx, r.ID, "P-1")
			if err != nil {
				return err
			}
			if diff := cmp.Diff(stored, got); diff != "" {
				t.Errorf("next transaction (-stored +got):\n%s", diff)
			}
			return nil
		})
	})
}

// TestPrefetchWMSEvents: after one read of a page's event ids, lookups of
// those ids cost no statement and answer as the database would, including
// for an event the transaction records itself; other ids are looked up
// in the database.
func TestPrefetchWMSEvents(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		s := migrated(t, db)
		t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
		rec := func(id string, outcome fulfillment.WMSEventOutcome) fulfillment.WMSEventRecord {
			return fulfillment.WMSEventRecord{Source: "wms", EventID: id, Fingerprint: "fp-" + id, RequestID: "FR-1",
				Outcome: outcome, Reason: "r", Detail: "d", Payload: []byte("{}"), RecordTime: t0.Add(1500 * time.Nanosecond)}
		}
		storetest.InTx(t, s, func(tx fulfillment.Tx) error { return tx.RecordWMSEvent(ctx, rec("E1", fulfillment.WMSEventRejected)) })
		stored := func(id string) fulfillment.WMSEventRecord {
			var got fulfillment.WMSEventRecord
			storetest.InTx(t, s, func(tx fulfillment.Tx) error {
				var ok bool
				var err error
				got, ok, err = tx.LookupWMSEvent(ctx, "wms", id)
				if err == nil && !ok {
					t.Errorf("%s not recorded", id)
				}
				return err
			})
			return got
		}
		type lookup struct {
			rec fulfillment.WMSEventRecord
			ok  bool
		}
		got := map[string]lookup{}
		statements := -1
		storetest.InTx(t, s, func(tx fulfillment.Tx) error {
			clear(got)
			p, ok := tx.(interface {
				PrefetchWMSEvents(context.Context, string, []string) error
			})
			if !ok {
				t.Fatal("sqlstore.Tx has no PrefetchWMSEvents")
			}
			if err := p.PrefetchWMSEvents(ctx, "wms", []string{"E1", "E2"}); err != nil {
				return err
			}
			prep0, reuse0 := db.StatementStats()
			for _, id := range []string{"E1", "E2"} {
				r, ok, err := tx.LookupWMSEvent(ctx, "wms", id)
				if err != nil {
					return err
				}
				got[id] = lookup{r, ok}
			}
			if err := tx.RecordWMSEvent(ctx, rec("E2", fulfillment.WMSEventApplied)); err != nil {
				return err
			}
			r, ok, err := tx.LookupWMSEvent(ctx, "wms", "E2")
			if err != nil {
				return err
			}
			got["E2 recorded"] = lookup{r, ok}
			prep1, reuse1 := db.StatementStats()
			statements = int(prep1+reuse1-prep0-reuse0) - 1 // the INSERT
			if _, ok, err := tx.LookupWMSEvent(ctx, "other", "E1"); err != nil || ok {
				t.Errorf("E1 of another source: found %v, %v", ok, err)
			}
			return nil
		})
		if db.Dialect() == sqldb.SQLite && statements != 0 {
			t.Errorf("lookups of prefetched events ran %d statements, want 0", statements)
		}
		want := map[string]lookup{"E1": {stored("E1"), true}, "E2": {}, "E2 recorded": {stored("E2"), true}}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(lookup{})); diff != "" {
			t.Errorf("lookups (-as stored +in the transaction):\n%s", diff)
		}
	})
}
