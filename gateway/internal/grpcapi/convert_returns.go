package grpcapi

import (
	"strings"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
)

// returnReasonToOrder maps a storefront return reason to order.v1's; the
// storefront's finer "not as described" and "ordered by mistake" have no
// order.v1 value and travel as OTHER (the line note says more).
func returnReasonToOrder(r storefrontv1.ReturnLine_Reason) orderv1.ReturnReason {
	switch r {
	case storefrontv1.ReturnLine_REASON_DAMAGED:
		return orderv1.ReturnReason_RETURN_REASON_DAMAGED
	case storefrontv1.ReturnLine_REASON_DEFECTIVE:
		return orderv1.ReturnReason_RETURN_REASON_DEFECTIVE
	case storefrontv1.ReturnLine_REASON_WRONG_ITEM:
		return orderv1.ReturnReason_RETURN_REASON_WRONG_ITEM
	case storefrontv1.ReturnLine_REASON_NO_LONGER_NEEDED:
		return orderv1.ReturnReason_RETURN_REASON_NO_LONGER_NEEDED
	case storefrontv1.ReturnLine_REASON_UNSPECIFIED, storefrontv1.ReturnLine_REASON_NOT_AS_DESCRIBED,
		storefrontv1.ReturnLine_REASON_ORDERED_BY_MISTAKE, storefrontv1.ReturnLine_REASON_OTHER:
	}
	return orderv1.ReturnReason_RETURN_REASON_OTHER
}

// returnReasonToProto is the inverse of returnReasonToOrder where one
// exists (OTHER for the rest).
func returnReasonToProto(r orderv1.ReturnReason) storefrontv1.ReturnLine_Reason {
	switch r {
	case orderv1.ReturnReason_RETURN_REASON_DAMAGED:
		return storefrontv1.ReturnLine_REASON_DAMAGED
	case orderv1.ReturnReason_RETURN_REASON_DEFECTIVE:
		return storefrontv1.ReturnLine_REASON_DEFECTIVE
	case orderv1.ReturnReason_RETURN_REASON_WRONG_ITEM:
		return storefrontv1.ReturnLine_REASON_WRONG_ITEM
	case orderv1.ReturnReason_RETURN_REASON_NO_LONGER_NEEDED:
		return storefrontv1.ReturnLine_REASON_NO_LONGER_NEEDED
	case orderv1.ReturnReason_RETURN_REASON_UNSPECIFIED, orderv1.ReturnReason_RETURN_REASON_OVER_DELIVERY,
		orderv1.ReturnReason_RETURN_REASON_LATE_DELIVERY, orderv1.ReturnReason_RETURN_REASON_OTHER:
	}
	return storefrontv1.ReturnLine_REASON_OTHER
}

// returnStateToProto maps the order service's RMA states to the
// storefront's: CREDITED and a CLOSED return that received goods are
// COMPLETED; a return CLOSED without any receipt was CANCELLED.
func returnStateToProto(r *orderv1.ReturnAuthorization) storefrontv1.Return_State {
	switch r.GetState() {
	case orderv1.ReturnAuthorization_STATE_REQUESTED:
		return storefrontv1.Return_STATE_REQUESTED
	case orderv1.ReturnAuthorization_STATE_AUTHORIZED:
		return storefrontv1.Return_STATE_AUTHORIZED
	case orderv1.ReturnAuthorization_STATE_RECEIVED:
		return storefrontv1.Return_STATE_RECEIVED
	case orderv1.ReturnAuthorization_STATE_CREDITED:
		return storefrontv1.Return_STATE_COMPLETED
	case orderv1.ReturnAuthorization_STATE_REJECTED:
		return storefrontv1.Return_STATE_REJECTED
	case orderv1.ReturnAuthorization_STATE_CLOSED:
		if r.GetReceiveTime() != nil {
			return storefrontv1.Return_STATE_COMPLETED
		}
		return storefrontv1.Return_STATE_CANCELLED
	case orderv1.ReturnAuthorization_STATE_UNSPECIFIED:
	}
	return storefrontv1.Return_STATE_UNSPECIFIED
}

// returnStateMessage explains a return's state to the buyer.
func returnStateMessage(r *orderv1.ReturnAuthorization) string {
	switch r.GetState() {
	case orderv1.ReturnAuthorization_STATE_REQUESTED:
		return "Requested; awaiting review"
	case orderv1.ReturnAuthorization_STATE_AUTHORIZED:
		return "Authorized; send the goods back with the RMA number"
	case orderv1.ReturnAuthorization_STATE_RECEIVED:
		return "Received by the warehouse"
	case orderv1.ReturnAuthorization_STATE_CREDITED:
		return "Refund posted"
	case orderv1.ReturnAuthorization_STATE_REJECTED:
		if m := r.GetRejectionMessage(); m != "" {
			return "Rejected: " + m
		}
		return "Rejected"
	case orderv1.ReturnAuthorization_STATE_CLOSED:
		return "Closed"
	case orderv1.ReturnAuthorization_STATE_UNSPECIFIED:
	}
	return ""
}

// returnToProto converts an order service RMA to the storefront Return.
// The storefront has one resolution per return (the first line's; the
// gateway creates every line with it) and one disposition per line (the
// one most of the received quantity got).
func returnToProto(r *orderv1.ReturnAuthorization) *storefrontv1.Return {
	out := &storefrontv1.Return{
		Name:             "orders/" + r.GetOrderId() + "/returns/" + r.GetReturnAuthorizationId(),
		CustomerNote:     r.GetCustomerComment(),
		State:            returnStateToProto(r),
		StateMessage:     returnStateMessage(r),
		CreditMemoNumber: r.GetCreditMemoReference(),
		CreateTime:       r.GetCreateTime(),
		UpdateTime:       r.GetUpdateTime(),
	}
	if r.GetState() != orderv1.ReturnAuthorization_STATE_REQUESTED && r.GetState() != orderv1.ReturnAuthorization_STATE_REJECTED {
		out.RmaNumber = r.GetReturnAuthorizationId()
	}
	if id := r.GetReplacementOrderId(); id != "" {
		out.ReplacementOrder = "orders/" + id
	}
	if ls := r.GetLines(); len(ls) > 0 {
		out.Resolution = storefrontv1.Return_Resolution(ls[0].GetResolution())
	}
	if out.Resolution == storefrontv1.Return_RESOLUTION_REFUND && r.GetReceiveTime() != nil {
		out.RefundAmount = cloneMoney(r.GetCreditTotal())
	}
	for _, l := range r.GetLines() {
		sl := &storefrontv1.ReturnLine{
			Sku: l.GetSku(), Quantity: l.GetQuantity(), Reason: returnReasonToProto(l.GetReason()),
			ReceivedQuantity: l.GetReceivedQuantity(),
		}
		var most int64
		for _, d := range l.GetReceived() {
			if d.GetQuantity() > most {
				most, sl.Disposition = d.GetQuantity(), storefrontv1.ReturnLine_Disposition(d.GetDisposition())
			}
		}
		out.Lines = append(out.Lines, sl)
	}
	return out
}

// returnComment joins the buyer's note and line notes into the return's comment,
// which order.v1 keeps per return.
func returnComment(ret *storefrontv1.Return) string {
	parts := []string{}
	if n := strings.TrimSpace(ret.GetCustomerNote()); n != "" {
		parts = append(parts, n)
	}
	for _, l := range ret.GetLines() {
		if n := strings.TrimSpace(l.GetNote()); n != "" {
			parts = append(parts, l.GetSku()+": "+n)
		}
	}
	return strings.Join(parts, "\n")
}
