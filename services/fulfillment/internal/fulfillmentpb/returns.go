package fulfillmentpb

import (
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// ReturnLinesFromAuthorization returns the lines of an order.v1 return
// authorization in the domain's terms (the reason as its enum name).
func ReturnLinesFromAuthorization(rma *orderv1.ReturnAuthorization) []fulfillment.ReturnLine {
	lines := make([]fulfillment.ReturnLine, 0, len(rma.GetLines()))
	for _, l := range rma.GetLines() {
		lines = append(lines, fulfillment.ReturnLine{
			LineID: l.GetLineId(), OrderLineID: l.GetOrderLineId(), SKU: l.GetSku(), Quantity: l.GetQuantity(),
			Reason: l.GetReason().String(),
		})
	}
	return lines
}

// ExpectedReturnToWMS builds the WMS RegisterExpectedReturn call of er.
// The ids of the order lines a line returns are not part of the wms.v1
// contract; they are kept in fulfilment's own record of er.
func ExpectedReturnToWMS(er fulfillment.ExpectedReturn) *wmsv1.RegisterExpectedReturnRequest {
	lines := make([]*wmsv1.ExpectedReturnLine, 0, len(er.Lines))
	for _, l := range er.Lines {
		lines = append(lines, &wmsv1.ExpectedReturnLine{LineId: l.LineID, Sku: l.SKU, Quantity: l.Quantity, ReturnReason: l.Reason})
	}
	return &wmsv1.RegisterExpectedReturnRequest{
		ExpectedReturnId: er.ID,
		ExpectedReturn: &wmsv1.ExpectedReturn{
			OrderId:       er.OrderID,
			WarehouseCode: er.WarehouseID,
			Lines:         lines,
		},
	}
}

// RegisterAnswerFromProto converts the WMS's answer to
// RegisterExpectedReturn.
func RegisterAnswerFromProto(res *wmsv1.RegisterExpectedReturnResponse) fulfillment.WMSAnswer {
	a := fulfillment.WMSAnswer{Accepted: res.GetAccepted(), Reference: res.GetWmsReference(), Duplicate: res.GetDuplicate()}
	if !a.Accepted {
		a.RejectionReason, a.RejectionMessage = res.GetRejectionReason().String(), res.GetRejectionMessage()
	}
	return a
}
