package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// testExpectedReturns: an expected return is recorded once per id with
// its lines (and the order line each returns) and read back as written;
// its registration effect round-trips through the queue.
func testExpectedReturns(t *testing.T, s fulfillment.Store) {
	er := fulfillment.ExpectedReturn{
		ID: "RMA-1.WH-HAM", ReturnAuthorizationID: "RMA-1", OrderID: "O-1", WarehouseID: "WH-HAM", CreateTime: t0,
		Lines: []fulfillment.ReturnLine{{LineID: "RL-1", OrderLineID: "1", SKU: "SKU-00001", Quantity: 2, Reason: "RETURN_REASON_DAMAGED"}},
	}
	var created []bool
	for range 2 {
		InTx(t, s, func(tx fulfillment.Tx) error {
			ok, err := tx.InsertExpectedReturn(t.Context(), er)
			created = append(created, ok)
			return err
		})
	}
	if !cmp.Equal(created, []bool{true, false}) {
		t.Fatalf("created = %v, want [true false]", created)
	}
	InTx(t, s, func(tx fulfillment.Tx) error {
		got, ok, err := tx.ExpectedReturn(t.Context(), er.ID)
		if err != nil {
			return err
		}
		if !ok {
			t.Fatal("expected return not found")
		}
		if diff := cmp.Diff(er, got); diff != "" {
			t.Errorf("expected return (-want +got):\n%s", diff)
		}
		if _, ok, err := tx.ExpectedReturn(t.Context(), "RMA-404"); err != nil || ok {
			t.Errorf("unknown id: ok = %v, err = %v", ok, err)
		}
		_, err = tx.EnqueueEffect(t.Context(), fulfillment.RegisterReturnEffect(er, t0))
		return err
	})
	effs, err := s.PendingEffects(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(effs) != 1 || effs[0].Kind != fulfillment.EffectRegisterExpectedReturn || effs[0].Return == nil || effs[0].Unreadable != nil {
		t.Fatalf("effects = %+v, want the registration", effs)
	}
	if diff := cmp.Diff(er, *effs[0].Return); diff != "" {
		t.Errorf("effect's expected return (-want +got):\n%s", diff)
	}
	testExpectedReturnCancel(t, s, er)
}

// testExpectedReturnCancel: an expected return is cancelled once (the
// second cancel changes nothing and keeps the first time), is read back
// cancelled by id and by its RMA, and one recorded cancelled (the closing
// overtook the authorization) reads cancelled; the cancellation effect
// round-trips through the queue.
func testExpectedReturnCancel(t *testing.T, s fulfillment.Store, er fulfillment.ExpectedReturn) {
	ctx := t.Context()
	other := er
	other.ID, other.WarehouseID, other.CancelTime = "RMA-1.WH-MUC", "WH-MUC", t0.Add(time.Second)
	var changed []bool
	for _, at := range []time.Time{t0.Add(time.Minute), t0.Add(2 * time.Minute)} {
		InTx(t, s, func(tx fulfillment.Tx) error {
			ok, err := tx.CancelExpectedReturn(ctx, er.ID, at)
			changed = append(changed, ok)
			return err
		})
	}
	if !cmp.Equal(changed, []bool{true, false}) {
		t.Fatalf("cancel changed = %v, want [true false]", changed)
	}
	want := er
	want.CancelTime = t0.Add(time.Minute)
	InTx(t, s, func(tx fulfillment.Tx) error {
		if _, err := tx.InsertExpectedReturn(ctx, other); err != nil {
			return err
		}
		got, err := tx.ExpectedReturnsOf(ctx, "RMA-1")
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]fulfillment.ExpectedReturn{want, other}, got); diff != "" {
			t.Errorf("expected returns of RMA-1 (-want +got):\n%s", diff)
		}
		if none, err := tx.ExpectedReturnsOf(ctx, "RMA-404"); err != nil || len(none) != 0 {
			t.Errorf("unknown RMA: %v, %v", none, err)
		}
		_, err = tx.EnqueueEffect(ctx, fulfillment.CancelReturnEffect(want, t0))
		return err
	})
	effs, err := s.PendingEffects(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var cancel *fulfillment.Effect
	for i := range effs {
		if effs[i].Kind == fulfillment.EffectCancelExpectedReturn {
			cancel = &effs[i]
		}
	}
	if cancel == nil || cancel.Return == nil || cancel.Unreadable != nil || cancel.Key != er.ID {
		t.Fatalf("effects = %+v, want the cancellation", effs)
	}
	if diff := cmp.Diff(want, *cancel.Return); diff != "" {
		t.Errorf("cancellation's expected return (-want +got):\n%s", diff)
	}
}

// testReturnReceipts: receipts are stored once per id and per (source, WMS
// event id), read back with their lines and the hand-over state of their
// order report, listed by receive time with filters and keyset pages; the
// restock sequences count up per (SKU, warehouse).
func testReturnReceipts(t *testing.T, s fulfillment.Store) {
	ctx := t.Context()
	receipt := func(id, event, order, wh string, at time.Time) *fulfillment.ReturnReceipt {
		return &fulfillment.ReturnReceipt{
			ID: id, ReturnAuthorizationID: "RMA-" + order, ExpectedReturnID: "RMA-" + order, OrderID: order, CustomerID: "C-" + order,
			WarehouseID: wh, Source: "wms.returns", WMSEventID: event, WMSReference: "IB-" + event, ReceiveTime: at, CreateTime: at,
			Lines: []fulfillment.ReceiptLine{
				{ReturnLineID: "RL-1", OrderLineID: "1", SKU: "SKU-00001", Quantity: 1, Disposition: fulfillment.DispositionRestock, Condition: "NEW"},
				{ReturnLineID: "RL-1", OrderLineID: "1", SKU: "SKU-00001", Quantity: 1, Disposition: fulfillment.DispositionScrap, Note: "crushed"},
			},
		}
	}
	all := []*fulfillment.ReturnReceipt{
		receipt("RR-1", "RE-1", "O-1", "WH-HAM", t0),
		receipt("RR-2", "RE-2", "O-2", "WH-MUC", t0.Add(time.Minute)),
		receipt("RR-3", "RE-3", "O-1", "WH-HAM", t0.Add(2*time.Minute)),
	}
	InTx(t, s, func(tx fulfillment.Tx) error {
		for _, rr := range all {
			if err := tx.InsertReturnReceipt(ctx, rr); err != nil {
				return err
			}
		}
		return nil
	})
	for _, dup := range []*fulfillment.ReturnReceipt{receipt("RR-1", "RE-9", "O-1", "WH-HAM", t0), receipt("RR-9", "RE-1", "O-1", "WH-HAM", t0)} {
		err := s.InTx(ctx, func(tx fulfillment.Tx) error { return tx.InsertReturnReceipt(ctx, dup) })
		if err == nil {
			t.Errorf("receipt %s / event %s stored twice", dup.ID, dup.WMSEventID)
		}
	}
	got, err := s.GetReturnReceipt(ctx, "RR-2")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(all[1], got); diff != "" {
		t.Errorf("GetReturnReceipt (-want +got):\n%s", diff)
	}
	if _, err := s.GetReturnReceipt(ctx, "RR-404"); !errors.Is(err, fulfillment.ErrReturnReceiptNotFound) {
		t.Errorf("unknown receipt: %v", err)
	}

	// The order report's state shows on the receipt.
	InTx(t, s, func(tx fulfillment.Tx) error {
		_, err := tx.EnqueueEffect(ctx, fulfillment.ReceiptEffect(all[0].Report(), t0))
		return err
	})
	effs, err := s.PendingEffects(ctx, 10)
	if err != nil || len(effs) != 1 || effs[0].Receipt == nil || effs[0].Receipt.ReturnAuthorizationID != "RMA-O-1" || len(effs[0].Receipt.Lines) != 2 {
		t.Fatalf("receipt effect = %+v, %v", effs, err)
	}
	if err := s.RetryEffect(ctx, effs[0].ID, "order unavailable", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetReturnReceipt(ctx, "RR-1"); got.LastError != "order unavailable" || !got.OrderRecordTime.IsZero() {
		t.Errorf("receipt while its report waits: %+v", got)
	}
	if err := s.FinishEffects(ctx, []fulfillment.EffectResult{{ID: effs[0].ID}}, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetReturnReceipt(ctx, "RR-1"); got.LastError != "" || !got.OrderRecordTime.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("receipt after its report: %+v", got)
	}

	list := func(q fulfillment.ReturnReceiptQuery) []string {
		t.Helper()
		if q.Limit == 0 {
			q.Limit = 10
		}
		rs, err := s.ListReturnReceipts(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return ids(rs, func(r *fulfillment.ReturnReceipt) string { return r.ID })
	}
	for _, tc := range []struct {
		name string
		q    fulfillment.ReturnReceiptQuery
		want []string
	}{
		{"all", fulfillment.ReturnReceiptQuery{}, []string{"RR-1", "RR-2", "RR-3"}},
		{"order", fulfillment.ReturnReceiptQuery{OrderID: "O-1"}, []string{"RR-1", "RR-3"}},
		{"rma", fulfillment.ReturnReceiptQuery{ReturnAuthorizationID: "RMA-O-2"}, []string{"RR-2"}},
		{"warehouse", fulfillment.ReturnReceiptQuery{WarehouseID: "WH-HAM"}, []string{"RR-1", "RR-3"}},
		{"customer", fulfillment.ReturnReceiptQuery{CustomerID: "C-O-2"}, []string{"RR-2"}},
		{"time", fulfillment.ReturnReceiptQuery{ReceivedFrom: t0.Add(time.Minute), ReceivedBefore: t0.Add(2 * time.Minute)}, []string{"RR-2"}},
		{"desc", fulfillment.ReturnReceiptQuery{Page: fulfillment.Page{Desc: true}}, []string{"RR-3", "RR-2", "RR-1"}},
		{"page", fulfillment.ReturnReceiptQuery{Page: fulfillment.Page{Limit: 1, AfterTime: t0, AfterID: "RR-1"}}, []string{"RR-2"}},
	} {
		if got := list(tc.q); !cmp.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}

	InTx(t, s, func(tx fulfillment.Tx) error {
		rs, err := tx.ReturnReceiptsOf(ctx, "O-1", "RMA-O-1")
		if got := ids(rs, func(r *fulfillment.ReturnReceipt) string { return r.ID }); !cmp.Equal(got, []string{"RR-1", "RR-3"}) {
			t.Errorf("receipts of RMA-O-1: %v, want [RR-1 RR-3]", got)
		}
		return err
	})

	var seqs []int64
	for _, k := range [][2]string{{"SKU-00001", "WH-HAM"}, {"SKU-00001", "WH-HAM"}, {"SKU-00001", "WH-MUC"}, {"SKU-00002", "WH-HAM"}, {"SKU-00001", "WH-HAM"}} {
		InTx(t, s, func(tx fulfillment.Tx) error {
			n, err := tx.NextRestockSequence(ctx, k[0], k[1])
			seqs = append(seqs, n)
			return err
		})
	}
	if !cmp.Equal(seqs, []int64{1, 2, 1, 1, 3}) {
		t.Errorf("restock sequences %v, want [1 2 1 1 3]", seqs)
	}
	// A rolled back transaction gives its sequence back.
	_ = s.InTx(ctx, func(tx fulfillment.Tx) error {
		if _, err := tx.NextRestockSequence(ctx, "SKU-00002", "WH-HAM"); err != nil {
			return err
		}
		return fulfillment.ErrConflict
	})
	InTx(t, s, func(tx fulfillment.Tx) error {
		n, err := tx.NextRestockSequence(ctx, "SKU-00002", "WH-HAM")
		if n != 2 {
			t.Errorf("after a rollback: sequence %d, want 2", n)
		}
		return err
	})
}
