package grpcapi

import (
	"strings"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/services/wmssim/internal/wms"
)

// Resource name prefixes.
const (
	shipmentRequestPrefix = "shipmentRequests/"
	expectedReturnPrefix  = "expectedReturns/"
)

// Domain enums are the contract's value names without their prefix, so
// conversion goes through the generated name maps.

func stateToProto(s wms.State) wmsv1.ShipmentRequest_State {
	return wmsv1.ShipmentRequest_State(wmsv1.ShipmentRequest_State_value["STATE_"+string(s)])
}

func returnStateToProto(s wms.ReturnState) wmsv1.ExpectedReturn_State {
	return wmsv1.ExpectedReturn_State(wmsv1.ExpectedReturn_State_value["STATE_"+string(s)])
}

func rejectionToProto(r wms.RejectionReason) wmsv1.ShipmentRequestRejectionReason {
	return wmsv1.ShipmentRequestRejectionReason(wmsv1.ShipmentRequestRejectionReason_value["SHIPMENT_REQUEST_REJECTION_REASON_"+string(r)])
}

func returnRejectionToProto(r wms.RejectionReason) wmsv1.ExpectedReturnRejectionReason {
	return wmsv1.ExpectedReturnRejectionReason(wmsv1.ExpectedReturnRejectionReason_value["EXPECTED_RETURN_REJECTION_REASON_"+string(r)])
}

func serviceLevelFromProto(l wmsv1.ServiceLevel) string {
	if l == wmsv1.ServiceLevel_SERVICE_LEVEL_UNSPECIFIED {
		return ""
	}
	return strings.TrimPrefix(l.String(), "SERVICE_LEVEL_")
}

func serviceLevelToProto(s string) wmsv1.ServiceLevel {
	return wmsv1.ServiceLevel(wmsv1.ServiceLevel_value["SERVICE_LEVEL_"+s])
}

func conditionToProto(c wms.Condition) wmsv1.ReturnCondition {
	return wmsv1.ReturnCondition(wmsv1.ReturnCondition_value["RETURN_CONDITION_"+string(c)])
}

func dispositionToProto(d wms.Disposition) wmsv1.ReturnDisposition {
	return wmsv1.ReturnDisposition(wmsv1.ReturnDisposition_value["RETURN_DISPOSITION_"+string(d)])
}

func dateFromProto(d *date.Date) wms.Date {
	if d == nil {
		return wms.Date{}
	}
	return wms.Date{Year: int(d.GetYear()), Month: int(d.GetMonth()), Day: int(d.GetDay())}
}

func dateToProto(d wms.Date) *date.Date {
	if d.IsZero() {
		return nil
	}
	return &date.Date{Year: int32(d.Year), Month: int32(d.Month), Day: int32(d.Day)}
}

func addressFromProto(a *commonv1.Address) wms.Address {
	return wms.Address{
		Recipient:          a.GetRecipient(),
		Lines:              append([]string(nil), a.GetLines()...),
		Locality:           a.GetLocality(),
		AdministrativeArea: a.GetAdministrativeArea(),
		PostalCode:         a.GetPostalCode(),
		RegionCode:         a.GetRegionCode(),
	}
}

func addressToProto(a wms.Address) *commonv1.Address {
	return &commonv1.Address{
		Recipient:          a.Recipient,
		Lines:              a.Lines,
		Locality:           a.Locality,
		AdministrativeArea: a.AdministrativeArea,
		PostalCode:         a.PostalCode,
		RegionCode:         a.RegionCode,
	}
}

// orderFromProto takes the caller's fields of a shipment request; output-only
// fields are ignored, as the contract says.
func orderFromProto(r *wmsv1.ShipmentRequest) wms.ShipmentOrder {
	o := wms.ShipmentOrder{
		OrderID:           r.GetOrderId(),
		Warehouse:         r.GetWarehouseCode(),
		ShipTo:            addressFromProto(r.GetShipTo()),
		RecipientPhone:    r.GetRecipientPhone(),
		RecipientEmail:    r.GetRecipientEmail(),
		CarrierPreference: r.GetCarrierPreference(),
		ServiceLevel:      serviceLevelFromProto(r.GetServiceLevel()),
		RequestedShipDate: dateFromProto(r.GetRequestedShipDate()),
		CustomerReference: r.GetCustomerReference(),
	}
	for _, l := range r.GetLines() {
		o.Lines = append(o.Lines, wms.OrderLine{LineID: l.GetLineId(), SKU: l.GetSku(), Quantity: l.GetQuantity()})
	}
	return o
}

func requestToProto(r wms.ShipmentRequest) *wmsv1.ShipmentRequest {
	o := r.Order
	p := &wmsv1.ShipmentRequest{
		Name:                shipmentRequestPrefix + r.ID,
		OrderId:             o.OrderID,
		WarehouseCode:       o.Warehouse,
		ShipTo:              addressToProto(o.ShipTo),
		RecipientPhone:      o.RecipientPhone,
		RecipientEmail:      o.RecipientEmail,
		CarrierPreference:   o.CarrierPreference,
		ServiceLevel:        serviceLevelToProto(o.ServiceLevel),
		RequestedShipDate:   dateToProto(o.RequestedShipDate),
		CustomerReference:   o.CustomerReference,
		State:               stateToProto(r.State),
		WmsReference:        r.WMSReference(),
		FulfillmentComplete: r.FulfillmentComplete(),
		CreateTime:          timestamppb.New(r.CreateTime),
		UpdateTime:          timestamppb.New(r.UpdateTime),
	}
	for _, l := range o.Lines {
		pl := &wmsv1.ShipmentRequestLine{LineId: l.LineID, Sku: l.SKU, Quantity: l.Quantity}
		if r.Shipped() {
			pl.ShippedQuantity = l.Quantity
		}
		p.Lines = append(p.Lines, pl)
	}
	return p
}

func eventToProto(e wms.ShipmentEvent) *wmsv1.ShipmentEvent {
	p := &wmsv1.ShipmentEvent{
		EventId:               e.EventID,
		ShipmentRequestId:     e.ShipmentRequestID,
		OrderId:               e.OrderID,
		WarehouseCode:         e.Warehouse,
		Sequence:              e.Sequence,
		State:                 stateToProto(e.State),
		ShipmentId:            e.ShipmentID,
		Carrier:               e.Carrier,
		CarrierService:        e.CarrierService,
		TrackingNumber:        e.TrackingNumber,
		TrackingUrl:           e.TrackingURL,
		EstimatedDeliveryDate: dateToProto(e.EstimatedDelivery),
		FulfillmentComplete:   e.FulfillmentComplete,
		OccurTime:             timestamppb.New(e.OccurTime),
	}
	for _, l := range e.Lines {
		p.Lines = append(p.Lines, &wmsv1.ShipmentEventLine{LineId: l.LineID, Sku: l.SKU, Quantity: l.Quantity})
	}
	return p
}

func noticeFromProto(r *wmsv1.ExpectedReturn) wms.ReturnNotice {
	n := wms.ReturnNotice{
		OrderID:        r.GetOrderId(),
		Warehouse:      r.GetWarehouseCode(),
		ExpectedBy:     dateFromProto(r.GetExpectedByDate()),
		TrackingNumber: r.GetTrackingNumber(),
	}
	for _, l := range r.GetLines() {
		n.Lines = append(n.Lines, wms.ReturnLine{LineID: l.GetLineId(), SKU: l.GetSku(), Quantity: l.GetQuantity(), ReturnReason: l.GetReturnReason()})
	}
	return n
}

func returnToProto(r wms.ExpectedReturn) *wmsv1.ExpectedReturn {
	n := r.Notice
	p := &wmsv1.ExpectedReturn{
		Name:           expectedReturnPrefix + r.ID,
		OrderId:        n.OrderID,
		WarehouseCode:  n.Warehouse,
		ExpectedByDate: dateToProto(n.ExpectedBy),
		TrackingNumber: n.TrackingNumber,
		State:          returnStateToProto(r.State),
		WmsReference:   r.WMSReference(),
		CreateTime:     timestamppb.New(r.CreateTime),
		UpdateTime:     timestamppb.New(r.UpdateTime),
	}
	for _, l := range n.Lines {
		p.Lines = append(p.Lines, &wmsv1.ExpectedReturnLine{
			LineId: l.LineID, Sku: l.SKU, Quantity: l.Quantity, ReturnReason: l.ReturnReason,
			ReceivedQuantity: r.Received[l.LineID],
		})
	}
	return p
}

func returnEventToProto(e wms.ReturnEvent) *wmsv1.ReturnEvent {
	p := &wmsv1.ReturnEvent{
		EventId:               e.EventID,
		ReturnAuthorizationId: e.ExpectedReturn,
		OrderId:               e.OrderID,
		WarehouseCode:         e.Warehouse,
		Sequence:              e.Sequence,
		WmsReference:          e.WMSReference,
		ReceiptComplete:       e.ReceiptComplete,
		OccurTime:             timestamppb.New(e.OccurTime),
	}
	for _, l := range e.Lines {
		p.Lines = append(p.Lines, &wmsv1.ReturnEventLine{
			LineId: l.LineID, Sku: l.SKU, ReceivedQuantity: l.Quantity,
			Condition: conditionToProto(l.Condition), Disposition: dispositionToProto(l.Disposition), Note: l.Note,
		})
	}
	return p
}
