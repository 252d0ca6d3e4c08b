package grpcapi

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
)

func sampleShipment(now time.Time) *fulfillmentv1.Shipment {
	return &fulfillmentv1.Shipment{ShipmentId: "TEST-SHIPMENT", OrderId: "TEST-ORDER", WarehouseId: "WH-TEST",
		Carrier: "TEST-CARRIER", TrackingNumber: "TEST-TRACKING", State: fulfillmentv1.Shipment_STATE_SHIPPED,
		ShipTime: timestamppb.New(now), CreateTime: timestamppb.New(now), UpdateTime: timestamppb.New(now)}
}
