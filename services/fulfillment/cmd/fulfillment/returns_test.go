package main

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/fulfillment/internal/orderevents"
)

// wmsReturns is the return side of the fake WMS: the expected returns
// registered and the return event feed the test appends to.
type wmsReturns struct {
	neighbour[*wmsv1.RegisterExpectedReturnRequest]
	feed []*wmsv1.ReturnEvent
}

func (f *fakeWMS) RegisterExpectedReturn(_ context.Context, req *wmsv1.RegisterExpectedReturnRequest) (*wmsv1.RegisterExpectedReturnResponse, error) {
	if err := f.returns.take(req); err != nil {
		return nil, err
	}
	return &wmsv1.RegisterExpectedReturnResponse{Accepted: true, WmsReference: "IB-" + req.GetExpectedReturnId()}, nil
}

func (f *fakeWMS) ListReturnEvents(_ context.Context, req *wmsv1.ListReturnEventsRequest) (*wmsv1.ListReturnEventsResponse, error) {
	r := &f.returns
	r.mu.Lock()
	defer r.mu.Unlock()
	pos := 0
	if req.GetCursor() != "" {
		var err error
		if pos, err = strconv.Atoi(req.GetCursor()); err != nil || pos > len(r.feed) {
			return nil, status.Error(codes.InvalidArgument, "bad cursor")
		}
	}
	end := min(pos+100, len(r.feed))
	return &wmsv1.ListReturnEventsResponse{ReturnEvents: r.feed[pos:end], NextCursor: strconv.Itoa(end), HasMore: end < len(r.feed)}, nil
}

// receive appends ev to the return feed.
func (f *fakeWMS) receive(ev *wmsv1.ReturnEvent) {
	f.returns.mu.Lock()
	defer f.returns.mu.Unlock()
	f.returns.feed = append(f.returns.feed, ev)
}

func (f *fakeInventory) ApplyStockEvents(_ context.Context, req *inventoryv1.ApplyStockEventsRequest) (*inventoryv1.ApplyStockEventsResponse, error) {
	if err := f.restocks.take(req); err != nil {
		return nil, err
	}
	res := &inventoryv1.ApplyStockEventsResponse{}
	for _, ev := range req.GetEvents() {
		res.Results = append(res.Results, &inventoryv1.StockEventResult{EventId: ev.GetEventId(), Outcome: inventoryv1.StockEventResult_OUTCOME_APPLIED})
	}
	return res, nil
}

func (f *fakeOrders) RecordReturnReceipt(_ context.Context, req *orderv1.RecordReturnReceiptRequest) (*orderv1.RecordReturnReceiptResponse, error) {
	if err := f.receipts.take(req); err != nil {
		return nil, err
	}
	return &orderv1.RecordReturnReceiptResponse{}, nil
}

// publishReturnAuthorized publishes an authorized return as the order
// service's relay would.
func (m *mesh) publishReturnAuthorized(t *testing.T, ev *orderv1.ReturnAuthorizedEvent, eventID string) uint64 {
	t.Helper()
	data, err := proto.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	msg := outbox.Row{
		EventID: eventID, AggregateType: "order", AggregateID: ev.GetReturnAuthorization().GetOrderId(), Sequence: 5,
		Subject: eventstreams.OrderReturnAuthorized, PayloadType: string(proto.MessageName(ev)), Payload: data,
		CreatedAt: time.Now().UTC(),
	}.Message()
	ack, err := m.js.PublishMsg(t.Context(), msg)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// authorizeReturn confirms order orderID (confirmedOrder) and publishes the
// authorization of return rma of one unit of its order line 2 (SKU-00002,
// allocated to WH-HAM), then waits until the WMS registered it.
func (m *mesh) authorizeReturn(t *testing.T, orderID, rma string) {
	t.Helper()
	m.waitConsumed(t, m.publish(t, confirmedOrder(orderID), "ev-"+orderID, ""))
	seq := m.publishReturnAuthorized(t, &orderv1.ReturnAuthorizedEvent{
		Metadata: &commonv1.EventMetadata{EventId: "ev-" + rma, AggregateType: "order", AggregateId: orderID, Sequence: 5},
		ReturnAuthorization: &orderv1.ReturnAuthorization{
			Name: "orders/" + orderID + "/returnAuthorizations/" + rma, ReturnAuthorizationId: rma, OrderId: orderID, CustomerId: "C0001",
			State: orderv1.ReturnAuthorization_STATE_AUTHORIZED,
			Lines: []*orderv1.ReturnLine{{LineId: "RL-1", OrderLineId: "2", Sku: "SKU-00002", Quantity: 1,
				Reason: orderv1.ReturnReason_RETURN_REASON_NO_LONGER_NEEDED, RequestedDisposition: orderv1.Disposition_DISPOSITION_RESTOCK,
				Resolution: orderv1.Resolution_RESOLUTION_REFUND}},
		},
		PreviousState: orderv1.ReturnAuthorization_STATE_REQUESTED,
	}, "ev-"+rma)
	wait.Eventually(t, patience, "return consumer acked", func() error {
		c, err := m.js.Consumer(t.Context(), eventstreams.Order.Name, orderevents.ReturnsConsumerName)
		if err != nil {
			return err
		}
		info, err := c.Info(t.Context())
		if err != nil {
			return err
		}
		return wait.Check(info.AckFloor.Stream >= seq, "ack floor %d", info.AckFloor.Stream)
	})
	wait.Eventually(t, patience, "expected return registered", func() error {
		return wait.Check(len(m.wms.returns.calls()) > 0, "not registered")
	})
}

// restockedReceipt is the WMS receipt of the unit authorizeReturn returns,
// restocked.
func restockedReceipt(eventID, rma, orderID string) *wmsv1.ReturnEvent {
	return &wmsv1.ReturnEvent{EventId: eventID, ReturnAuthorizationId: rma, OrderId: orderID, WarehouseCode: "WH-HAM", Sequence: 1,
		Lines: []*wmsv1.ReturnEventLine{{LineId: "RL-1", Sku: "SKU-00002", ReceivedQuantity: 1,
			Condition: wmsv1.ReturnCondition_RETURN_CONDITION_NEW, Disposition: wmsv1.ReturnDisposition_RETURN_DISPOSITION_RESTOCK}},
		ReceiptComplete: true, OccurTime: timestamppb.New(time.Now().UTC())}
}

// TestReturnFromAuthorizationToOrder drives the warehouse side of a return
// through the real process: the order's ReturnAuthorizedEvent registers
// the expected return with the WMS at the warehouse that has the line;
// the WMS's receipt (delivered twice) is recorded once, its RESTOCK unit
// goes to inventory once as a RETURN_RESTOCK stock event, and the receipt
// reaches the order service once it is back up, which the receipt shows.
func TestReturnFromAuthorizationToOrder(t *testing.T) {
	m := startMesh(t, func(m *mesh) { m.orders.receipts.down = true })
	m.authorizeReturn(t, "O-R1", "RMA-R1")
	reg := m.wms.returns.calls()[0]
	if reg.GetExpectedReturnId() != "RMA-R1" || reg.GetExpectedReturn().GetWarehouseCode() != "WH-HAM" ||
		len(reg.GetExpectedReturn().GetLines()) != 1 || reg.GetExpectedReturn().GetLines()[0].GetSku() != "SKU-00002" ||
		reg.GetExpectedReturn().GetLines()[0].GetLineId() != "RL-1" {
		t.Fatalf("registered %v", reg)
	}

	receipt := restockedReceipt("RE-1", "RMA-R1", "O-R1")
	m.wms.receive(receipt)
	m.wms.receive(receipt) // at least once

	var rr *fulfillmentv1.ReturnReceipt
	wait.Eventually(t, patience, "receipt recorded and restocked, order report failing", func() error {
		res, err := m.api.ListReturnReceipts(t.Context(), &fulfillmentv1.ListReturnReceiptsRequest{Parent: "orders/O-R1"})
		if err != nil {
			return err
		}
		if len(res.GetReturnReceipts()) != 1 {
			return fmt.Errorf("%d receipts", len(res.GetReturnReceipts()))
		}
		rr = res.GetReturnReceipts()[0]
		if len(m.inventory.restocks.calls()) != 1 {
			return fmt.Errorf("%d restocks", len(m.inventory.restocks.calls()))
		}
		return wait.Check(rr.GetLastError() != "" && m.orders.receipts.refusals() > 0, "order report not tried yet")
	})
	if rr.GetReturnAuthorizationId() != "RMA-R1" || rr.GetWarehouseId() != "WH-HAM" || rr.GetCustomerId() != "C0001" ||
		len(rr.GetLines()) != 1 || rr.GetLines()[0].GetDisposition() != fulfillmentv1.Disposition_DISPOSITION_RESTOCK || rr.GetOrderRecordTime() != nil {
		t.Fatalf("receipt %v", rr)
	}
	restock := m.inventory.restocks.calls()[0]
	if ev := restock.GetEvents(); restock.GetSourceSystem() != "fulfillment-returns" || len(ev) != 1 ||
		ev[0].GetKind() != inventoryv1.StockEvent_KIND_RETURN_RESTOCK || ev[0].GetSku() != "SKU-00002" ||
		ev[0].GetWarehouseCode() != "WH-HAM" || ev[0].GetSequence() != 1 || ev[0].GetQuantity() != 1 {
		t.Fatalf("restock %v", restock)
	}

	m.orders.receipts.setDown(false)
	wait.Eventually(t, patience, "receipt reported to the order service", func() error {
		got, err := m.api.GetReturnReceipt(t.Context(), &fulfillmentv1.GetReturnReceiptRequest{Name: rr.GetName()})
		if err != nil {
			return err
		}
		return wait.Check(got.GetOrderRecordTime() != nil && got.GetLastError() == "", "not recorded: %v", got)
	})
	calls := m.orders.receipts.calls()
	if len(calls) != 1 {
		t.Fatalf("%d RecordReturnReceipt calls, want 1", len(calls))
	}
	c := calls[0]
	if c.GetName() != "orders/O-R1/returnAuthorizations/RMA-R1" || c.GetEventId() != rr.GetReturnReceiptId() || c.GetWarehouseId() != "WH-HAM" ||
		len(c.GetLines()) != 1 || c.GetLines()[0].GetLineId() != "RL-1" || c.GetLines()[0].GetReceivedQuantity() != 1 ||
		c.GetLines()[0].GetDisposition() != orderv1.Disposition_DISPOSITION_RESTOCK {
		t.Fatalf("RecordReturnReceipt %v", c)
	}
	// The receipt was published once (ReturnReceivedEvent), next to the
	// order's two shipment-free requests, which publish nothing.
	m.waitPublished(t, 1)
	s, err := m.js.Stream(t.Context(), eventstreams.Fulfillment.Name)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := s.GetLastMsgForSubject(t.Context(), "transload.fulfillment.return_received")
	if err != nil {
		t.Fatal(err)
	}
	var published fulfillmentv1.ReturnReceivedEvent
	if err := proto.Unmarshal(msg.Data, &published); err != nil {
		t.Fatal(err)
	}
	if published.GetReturnReceipt().GetReturnReceiptId() != rr.GetReturnReceiptId() || published.GetMetadata().GetProducer() != "fulfillment" {
		t.Fatalf("published %v", &published)
	}
	if n := len(m.wms.returns.calls()); n != 1 {
		t.Errorf("%d registrations, want 1", n)
	}
	if n := len(m.inventory.restocks.calls()); n != 1 {
		t.Errorf("%d restocks, want 1", n)
	}
}

// TestReturnReceiptReportSurvivesRestart: a receipt recorded while the
// order service is down keeps its report across a restart of the
// fulfillment process (the effect was committed with the receipt), and the
// new process delivers it once the order service is back, without
// registering, restocking or recording anything a second time.
func TestReturnReceiptReportSurvivesRestart(t *testing.T) {
	m := startMesh(t, func(m *mesh) { m.orders.receipts.down = true })
	m.authorizeReturn(t, "O-R2", "RMA-R2")
	m.wms.receive(restockedReceipt("RE-2", "RMA-R2", "O-R2"))
	wait.Eventually(t, patience, "restocked, order report refused", func() error {
		return wait.Check(len(m.inventory.restocks.calls()) == 1 && m.orders.receipts.refusals() > 0,
			"%d restocks, %d refused reports", len(m.inventory.restocks.calls()), m.orders.receipts.refusals())
	})

	m.restart(t)
	m.orders.receipts.setDown(false)
	wait.Eventually(t, patience, "report delivered by the new process", func() error {
		return wait.Check(len(m.orders.receipts.calls()) == 1, "%d reports", len(m.orders.receipts.calls()))
	})
	time.Sleep(200 * time.Millisecond) // ten poll intervals: a repeat would show
	res, err := m.api.ListReturnReceipts(t.Context(), &fulfillmentv1.ListReturnReceiptsRequest{Parent: "orders/O-R2"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.GetReturnReceipts()); n != 1 || res.GetReturnReceipts()[0].GetOrderRecordTime() == nil {
		t.Fatalf("receipts after the restart: %v", res.GetReturnReceipts())
	}
	if r, s, o := len(m.wms.returns.calls()), len(m.inventory.restocks.calls()), len(m.orders.receipts.calls()); r != 1 || s != 1 || o != 1 {
		t.Fatalf("%d registrations, %d restocks, %d reports; want one each", r, s, o)
	}
}
