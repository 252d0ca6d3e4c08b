package payload

import (
	"strings"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
)

// Return is the storefront Return of an order service RMA, as GetReturn
// shows it (gateway/internal/grpcapi/convert_returns.go: CREDITED and a
// CLOSED return that received goods are COMPLETED, CLOSED without receipt
// CANCELLED; one resolution per return, the disposition most of a line's
// received quantity got).
func Return(r *orderv1.ReturnAuthorization) *storefrontv1.Return {
	out := &storefrontv1.Return{
		Name:         "orders/" + r.GetOrderId() + "/returns/" + r.GetReturnAuthorizationId(),
		CustomerNote: r.GetCustomerComment(), CreditMemoNumber: r.GetCreditMemoReference(),
		CreateTime: r.GetCreateTime(), UpdateTime: r.GetUpdateTime(),
	}
	switch r.GetState() {
	case orderv1.ReturnAuthorization_STATE_REQUESTED:
		out.State, out.StateMessage = storefrontv1.Return_STATE_REQUESTED, "Requested; awaiting review"
	case orderv1.ReturnAuthorization_STATE_AUTHORIZED:
		out.State, out.StateMessage = storefrontv1.Return_STATE_AUTHORIZED, "Authorized; send the goods back with the RMA number"
	case orderv1.ReturnAuthorization_STATE_RECEIVED:
		out.State, out.StateMessage = storefrontv1.Return_STATE_RECEIVED, "Received by the warehouse"
	case orderv1.ReturnAuthorization_STATE_CREDITED:
		out.State, out.StateMessage = storefrontv1.Return_STATE_COMPLETED, "Refund posted"
	case orderv1.ReturnAuthorization_STATE_REJECTED:
		out.State, out.StateMessage = storefrontv1.Return_STATE_REJECTED, "Rejected"
		if m := r.GetRejectionMessage(); m != "" {
			out.StateMessage = "Rejected: " + m
		}
	case orderv1.ReturnAuthorization_STATE_CLOSED:
		out.State, out.StateMessage = storefrontv1.Return_STATE_CANCELLED, "Closed"
		if r.GetReceiveTime() != nil {
			out.State = storefrontv1.Return_STATE_COMPLETED
		}
	case orderv1.ReturnAuthorization_STATE_UNSPECIFIED:
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
	if out.Resolution == storefrontv1.Return_RESOLUTION_REFUND && r.GetReceiveTime() != nil && r.GetCreditTotal() != nil {
		out.RefundAmount = &commonv1.Money{AmountMinor: r.GetCreditTotal().GetAmountMinor(), CurrencyCode: r.GetCreditTotal().GetCurrencyCode()}
	}
	for _, l := range r.GetLines() {
		sl := &storefrontv1.ReturnLine{Sku: l.GetSku(), Quantity: l.GetQuantity(),
			Reason: returnReason(l.GetReason()), ReceivedQuantity: l.GetReceivedQuantity()}
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

// returnReason maps an order return reason to the storefront's by name
// (RETURN_REASON_DAMAGED → REASON_DAMAGED); reasons the storefront lacks
// are REASON_OTHER.
func returnReason(r orderv1.ReturnReason) storefrontv1.ReturnLine_Reason {
	if v, ok := storefrontv1.ReturnLine_Reason_value[strings.TrimPrefix(r.String(), "RETURN_")]; ok && v != 0 {
		return storefrontv1.ReturnLine_Reason(v)
	}
	return storefrontv1.ReturnLine_REASON_OTHER
}
