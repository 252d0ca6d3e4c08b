package grpcapi

import (
	"testing"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/services/ops/internal/desk"
)

// TestEnumsMatchTheContract: the desk numbers its enumerations as the
// contract does, so the API converts them by value.
func TestEnumsMatchTheContract(t *testing.T) {
	for _, tc := range []struct {
		name       string
		desk, want int32
	}{
		{"KIND_ERP_REJECTION", int32(desk.KindERPRejection), int32(opsv1.Exception_KIND_ERP_REJECTION)},
		{"KIND_ERP_SUBMISSION_FAILED", int32(desk.KindERPSubmissionFailed), int32(opsv1.Exception_KIND_ERP_SUBMISSION_FAILED)},
		{"KIND_POSTING_LINE_REJECTED", int32(desk.KindPostingLineRejected), int32(opsv1.Exception_KIND_POSTING_LINE_REJECTED)},
		{"KIND_DEAD_LETTER", int32(desk.KindDeadLetter), int32(opsv1.Exception_KIND_DEAD_LETTER)},
		{"KIND_INVENTORY_VARIANCE", int32(desk.KindInventoryVariance), int32(opsv1.Exception_KIND_INVENTORY_VARIANCE)},
		{"KIND_WMS_REJECTION", int32(desk.KindWMSRejection), int32(opsv1.Exception_KIND_WMS_REJECTION)},
		{"KIND_SHIPMENT_MISMATCH", int32(desk.KindShipmentMismatch), int32(opsv1.Exception_KIND_SHIPMENT_MISMATCH)},
		{"KIND_WEBHOOK_DISABLED", int32(desk.KindWebhookDisabled), int32(opsv1.Exception_KIND_WEBHOOK_DISABLED)},
		{"KIND_STOCK_SEQUENCE_GAP", int32(desk.KindStockSequenceGap), int32(opsv1.Exception_KIND_STOCK_SEQUENCE_GAP)},
		{"KIND_ORDER_CLAIM_REAPED", int32(desk.KindOrderClaimReaped), int32(opsv1.Exception_KIND_ORDER_CLAIM_REAPED)},
		{"KIND_WEBHOOK_DELIVERY_FAILED", int32(desk.KindWebhookDeliveryFailed), int32(opsv1.Exception_KIND_WEBHOOK_DELIVERY_FAILED)},
		{"KIND_EVENT_STREAM_LOSS", int32(desk.KindEventStreamLoss), int32(opsv1.Exception_KIND_EVENT_STREAM_LOSS)},
		{"SEVERITY_LOW", int32(desk.SeverityLow), int32(opsv1.Exception_SEVERITY_LOW)},
		{"SEVERITY_MEDIUM", int32(desk.SeverityMedium), int32(opsv1.Exception_SEVERITY_MEDIUM)},
		{"SEVERITY_HIGH", int32(desk.SeverityHigh), int32(opsv1.Exception_SEVERITY_HIGH)},
		{"DOMAIN_COMMERCE", int32(desk.DomainCommerce), int32(opsv1.Exception_DOMAIN_COMMERCE)},
		{"DOMAIN_ERP", int32(desk.DomainERP), int32(opsv1.Exception_DOMAIN_ERP)},
		{"DOMAIN_FULFILLMENT", int32(desk.DomainFulfillment), int32(opsv1.Exception_DOMAIN_FULFILLMENT)},
		{"DOMAIN_FINANCE", int32(desk.DomainFinance), int32(opsv1.Exception_DOMAIN_FINANCE)},
		{"STATE_OPEN", int32(desk.StateOpen), int32(opsv1.Exception_STATE_OPEN)},
		{"STATE_ACKNOWLEDGED", int32(desk.StateAcknowledged), int32(opsv1.Exception_STATE_ACKNOWLEDGED)},
		{"STATE_RESOLVED", int32(desk.StateResolved), int32(opsv1.Exception_STATE_RESOLVED)},
		{"ACTION_ACKNOWLEDGE", int32(desk.ActionAcknowledge), int32(opsv1.Exception_ACTION_ACKNOWLEDGE)},
		{"ACTION_RESOLVE", int32(desk.ActionResolve), int32(opsv1.Exception_ACTION_RESOLVE)},
		{"ACTION_REPLAY_DEAD_LETTER", int32(desk.ActionReplayDeadLetter), int32(opsv1.Exception_ACTION_REPLAY_DEAD_LETTER)},
		{"ACTION_RETRY_ERP_SUBMISSION", int32(desk.ActionRetryERPSubmission), int32(opsv1.Exception_ACTION_RETRY_ERP_SUBMISSION)},
		{"ACTION_TRIGGER_RECONCILIATION", int32(desk.ActionTriggerReconciliation), int32(opsv1.Exception_ACTION_TRIGGER_RECONCILIATION)},
		{"DeadLetter STATE_PENDING", int32(desk.DeadLetterPending), int32(opsv1.DeadLetter_STATE_PENDING)},
		{"DeadLetter STATE_REPLAYED", int32(desk.DeadLetterReplayed), int32(opsv1.DeadLetter_STATE_REPLAYED)},
		{"OUTCOME_WOULD_REPLAY", int32(desk.OutcomeWouldReplay), int32(opsv1.ReplayResult_OUTCOME_WOULD_REPLAY)},
		{"OUTCOME_REPLAYED", int32(desk.OutcomeReplayed), int32(opsv1.ReplayResult_OUTCOME_REPLAYED)},
		{"OUTCOME_SKIPPED", int32(desk.OutcomeSkipped), int32(opsv1.ReplayResult_OUTCOME_SKIPPED)},
		{"OUTCOME_FAILED", int32(desk.OutcomeFailed), int32(opsv1.ReplayResult_OUTCOME_FAILED)},
	} {
		if tc.desk != tc.want {
			t.Errorf("%s: desk %d, contract %d", tc.name, tc.desk, tc.want)
		}
	}
	if desk.StateAcknowledged.String() != opsv1.Exception_STATE_ACKNOWLEDGED.String() ||
		desk.DeadLetterReplayed.String() != opsv1.DeadLetter_STATE_REPLAYED.String() {
		t.Error("the desk's state names differ from the contract's")
	}
	for n, name := range opsv1.Exception_Kind_name {
		if n != 0 && !desk.Kind(n).Valid() {
			t.Errorf("contract kind %s (%d) is not a valid desk kind: the desk would refuse its exceptions", name, n)
		}
	}
}

func TestSchemas(t *testing.T) {
	for name, s := range map[string]interface{ Validate() error }{
		"exceptions": exceptionSchema, "dead letters": deadLetterSchema, "audit": auditSchema,
	} {
		if err := s.Validate(); err != nil {
			t.Errorf("%s schema: %v", name, err)
		}
	}
}
