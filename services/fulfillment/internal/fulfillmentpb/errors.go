package fulfillmentpb

import (
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// DependencyError maps the error of a call to the neighbour dependency to
// the domain's: nil stays nil, anything else becomes a
// *fulfillment.DependencyError classified by grpcclient.Classify (the
// platform's one table): a verdict of the neighbour is Rejected, everything
// else (no answer, a conflict, the caller gone) is retried later.
func DependencyError(dependency string, err error) error {
	if err == nil {
		return nil
	}
	c := grpcclient.Classify(err)
	return &fulfillment.DependencyError{
		Dependency: dependency, Rejected: c == grpcclient.ClassRejected, CircuitOpen: c == grpcclient.ClassCircuitOpen,
		Reason: apierr.ReasonOf(err), Err: err,
	}
}

// rejectReasons is the one table from the domain's reject reasons to the
// contract's ErrorReason values. The domain spells them as the value names
// without the ERROR_REASON_ prefix because they are stored that way in
// wms_events.reason; the test holds the two together.
var rejectReasons = map[fulfillment.RejectReason]fulfillmentv1.ErrorReason{
	fulfillment.RejectUnknownRequest:           fulfillmentv1.ErrorReason_ERROR_REASON_FULFILLMENT_REQUEST_NOT_FOUND,
	fulfillment.RejectWarehouseMismatch:        fulfillmentv1.ErrorReason_ERROR_REASON_WAREHOUSE_MISMATCH,
	fulfillment.RejectUnknownOrderLine:         fulfillmentv1.ErrorReason_ERROR_REASON_UNKNOWN_ORDER_LINE,
	fulfillment.RejectQuantityExceedsRequested: fulfillmentv1.ErrorReason_ERROR_REASON_QUANTITY_EXCEEDS_REQUESTED,
	fulfillment.RejectInvalidStateTransition:   fulfillmentv1.ErrorReason_ERROR_REASON_INVALID_STATE_TRANSITION,
	fulfillment.RejectEventIDReused:            fulfillmentv1.ErrorReason_ERROR_REASON_EVENT_ID_REUSED,
	fulfillment.RejectAlreadyShipped:           fulfillmentv1.ErrorReason_ERROR_REASON_ALREADY_SHIPPED,
	fulfillment.RejectWMSRejected:              fulfillmentv1.ErrorReason_ERROR_REASON_WMS_REJECTED,
	fulfillment.RejectUnknownReturn:            fulfillmentv1.ErrorReason_ERROR_REASON_UNKNOWN_RETURN_AUTHORIZATION,
}

// RejectReasonToProto returns the ErrorReason of a domain refusal;
// RejectNotSupported (and any reason the table lacks) is UNSPECIFIED.
func RejectReasonToProto(r fulfillment.RejectReason) fulfillmentv1.ErrorReason {
	return rejectReasons[r]
}
