package inventorypb_test

import (
	"testing"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/services/inventory/internal/inventory"
)

// TestEnumParity: the domain enums whose values equal the proto's numbers
// (converted both ways by a plain cast in inventorypb, grpcapi and events)
// have a constant for every proto value but UNSPECIFIED, with the number
// the proto gives that name, and no constant the proto lacks. A value
// added to the proto fails here until the domain maps it.
func TestEnumParity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// proto is the generated <Enum>_name map.
		proto map[int32]string
		// domain maps each domain constant to the proto name it stands for.
		domain map[int32]string
	}{
		{"Reservation.State", inventoryv1.Reservation_State_name, map[int32]string{
			int32(inventory.StateHeld): "STATE_HELD", int32(inventory.StateConfirmed): "STATE_CONFIRMED",
			int32(inventory.StateReleased): "STATE_RELEASED", int32(inventory.StateCommitted): "STATE_COMMITTED",
			int32(inventory.StateExpired): "STATE_EXPIRED",
		}},
		{"AllocationStrategy", inventoryv1.AllocationStrategy_name, map[int32]string{
			int32(inventory.StrategyPriority):                 "ALLOCATION_STRATEGY_PRIORITY",
			int32(inventory.StrategySingleWarehousePreferred): "ALLOCATION_STRATEGY_SINGLE_WAREHOUSE_PREFERRED",
			int32(inventory.StrategyNearestRegion):            "ALLOCATION_STRATEGY_NEAREST_REGION",
		}},
		{"BackorderPolicy", inventoryv1.BackorderPolicy_name, map[int32]string{
			int32(inventory.BackorderReject):    "BACKORDER_POLICY_REJECT",
			int32(inventory.BackorderRemainder): "BACKORDER_POLICY_BACKORDER_REMAINDER",
			int32(inventory.BackorderPartial):   "BACKORDER_POLICY_PARTIAL",
		}},
		{"StockEvent.Kind", inventoryv1.StockEvent_Kind_name, map[int32]string{
			int32(inventory.KindReceipt): "KIND_RECEIPT", int32(inventory.KindAdjustment): "KIND_ADJUSTMENT",
			int32(inventory.KindTransferIn): "KIND_TRANSFER_IN", int32(inventory.KindTransferOut): "KIND_TRANSFER_OUT",
			int32(inventory.KindShipment): "KIND_SHIPMENT", int32(inventory.KindReturnRestock): "KIND_RETURN_RESTOCK",
			int32(inventory.KindSetOnHand): "KIND_SET_ON_HAND", int32(inventory.KindInboundSet): "KIND_INBOUND_SET",
		}},
		{"StockEventResult.Outcome", inventoryv1.StockEventResult_Outcome_name, map[int32]string{
			int32(inventory.OutcomeApplied): "OUTCOME_APPLIED", int32(inventory.OutcomeDuplicate): "OUTCOME_DUPLICATE",
			int32(inventory.OutcomeBuffered): "OUTCOME_OUT_OF_ORDER_BUFFERED", int32(inventory.OutcomeRejected): "OUTCOME_REJECTED",
		}},
		{"StockChangeCause", inventoryv1.StockChangeCause_name, map[int32]string{
			int32(inventory.CauseStockEvent): "STOCK_CHANGE_CAUSE_STOCK_EVENT", int32(inventory.CauseReservation): "STOCK_CHANGE_CAUSE_RESERVATION",
			int32(inventory.CauseRelease): "STOCK_CHANGE_CAUSE_RELEASE", int32(inventory.CauseExpiry): "STOCK_CHANGE_CAUSE_EXPIRY",
			int32(inventory.CauseCommit):                   "STOCK_CHANGE_CAUSE_COMMIT",
			int32(inventory.CauseReconciliationCorrection): "STOCK_CHANGE_CAUSE_RECONCILIATION_CORRECTION",
		}},
		{"Reconciliation.State", inventoryv1.Reconciliation_State_name, map[int32]string{
			int32(inventory.ReconRunning): "STATE_RUNNING", int32(inventory.ReconSucceeded): "STATE_SUCCEEDED",
			int32(inventory.ReconFailed): "STATE_FAILED",
		}},
		{"ReconciliationVariance.Kind", inventoryv1.ReconciliationVariance_Kind_name, map[int32]string{
			int32(inventory.KindQuantityMismatch): "KIND_QUANTITY_MISMATCH", int32(inventory.KindMissingInTransload): "KIND_MISSING_IN_TRANSLOAD",
			int32(inventory.KindMissingInSource): "KIND_MISSING_IN_SOURCE", int32(inventory.KindSkippedSnapshotBehind): "KIND_SKIPPED_SNAPSHOT_BEHIND",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for n, name := range tc.proto {
				if n == 0 {
					continue // UNSPECIFIED: never a domain value
				}
				if got, ok := tc.domain[n]; !ok {
					t.Errorf("proto %s (%d) has no domain constant", name, n)
				} else if got != name {
					t.Errorf("domain constant %d stands for %s, but the proto number %d is %s", n, got, n, name)
				}
			}
			for n, name := range tc.domain {
				if _, ok := tc.proto[n]; !ok {
					t.Errorf("domain constant %d (%s) is not a proto value", n, name)
				}
			}
		})
	}
}
