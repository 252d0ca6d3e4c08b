package storetest

import (
	"testing"

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
}
