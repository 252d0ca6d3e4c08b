package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/testharness/natstest"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/fulfillment/internal/orderevents"
)

// mesh is a running fulfillment service with fake neighbours and a real
// embedded NATS JetStream.
type mesh struct {
	wms       *fakeWMS
	inventory *fakeInventory
	orders    *fakeOrders
	js        jetstream.JetStream
	api       fulfillmentv1.FulfillmentServiceClient
	admin     string
	// env overrides the service's environment (set by a setup function).
	env map[string]string
	// traceparent, when set, is the W3C trace context publish puts on the
	// events, as the order service's relay does.
	traceparent string
	// serviceEnv is the environment the service runs with; restart runs a
	// new process on it (the same database).
	serviceEnv map[string]string
	// stop stops the running service (waiting for it to end).
	stop func()
}

// restart stops the service and starts it again on the same database and
// neighbours.
func (m *mesh) restart(t *testing.T) {
	t.Helper()
	m.stop()
	var a Addrs
	a, m.api, m.stop = startService(t, m.serviceEnv)
	m.admin = a.Admin
}

func startMesh(t *testing.T, setup func(m *mesh)) *mesh {
	t.Helper()
	m := &mesh{wms: newFakeWMS(), inventory: &fakeInventory{}, orders: &fakeOrders{}}
	if setup != nil {
		setup(m)
	}
	wmsAddr := serve(t, func(s *grpc.Server) { wmsv1.RegisterWmsAdapterServiceServer(s, m.wms) })
	invAddr := serve(t, func(s *grpc.Server) { inventoryv1.RegisterInventoryServiceServer(s, m.inventory) })
	orderAddr := serve(t, func(s *grpc.Server) { orderv1.RegisterOrderServiceServer(s, m.orders) })
	ns := natstest.Start(t)
	_, m.js = natstest.Connect(t, ns)

	env := map[string]string{
		"GRPC_ADDR":                        "127.0.0.1:0",
		"ADMIN_ADDR":                       "127.0.0.1:0",
		"DATABASE_URL":                     "sqlite://" + filepath.Join(t.TempDir(), "fulfillment.db"),
		"NATS_URL":                         ns.ClientURL(),
		"WMS_ADDR":                         wmsAddr,
		"INVENTORY_ADDR":                   invAddr,
		"ORDER_ADDR":                       orderAddr,
		"LOG_LEVEL":                        "error",
		"FULFILLMENT_WMS_POLL_INTERVAL":    "20ms",
		"FULFILLMENT_DISPATCH_INTERVAL":    "20ms",
		"FULFILLMENT_RETRY_BACKOFF_BASE":   "10ms",
		"FULFILLMENT_RETRY_BACKOFF_MAX":    "50ms",
		"FULFILLMENT_BREAKER_OPEN_TIMEOUT": "50ms",
	}
	for k, v := range m.env {
		env[k] = v
	}
	m.serviceEnv = env
	var a Addrs
	a, m.api, m.stop = startService(t, env)
	m.admin = a.Admin
	return m
}

// startService runs the service with env until the test ends or stop is
// called and returns its addresses, a client of its API and stop, which
// waits for the service to end.
func startService(t *testing.T, env map[string]string) (Addrs, fulfillmentv1.FulfillmentServiceClient, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan Addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- runWithReady(ctx, func(k string) string { return env[k] }, io.Discard, func(a Addrs) { addrs <- a })
	}()
	var a Addrs
	select {
	case a = <-addrs:
	case err := <-done:
		cancel()
		t.Fatalf("service stopped before serving: %v", err)
	case <-time.After(patience):
		cancel()
		t.Fatalf("service did not start within %v", patience)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run: %v", err)
				}
			case <-time.After(patience):
				t.Errorf("service did not stop within %v", patience)
			}
		})
	}
	t.Cleanup(stop)
	conn, err := grpc.NewClient(a.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return a, fulfillmentv1.NewFulfillmentServiceClient(conn), stop
}

// patience bounds every wait for the service to get something done.
const patience = 20 * time.Second

func confirmedOrder(orderID string) *orderv1.OrderConfirmedEvent {
	return &orderv1.OrderConfirmedEvent{
		Metadata: &commonv1.EventMetadata{AggregateType: "order", AggregateId: orderID, Sequence: 2},
		Order: &orderv1.Order{
			Name: "orders/" + orderID, OrderId: orderID, CustomerId: "C0001", ReservationId: "R-" + orderID,
			State:  orderv1.Order_STATE_CONFIRMED,
			ShipTo: &commonv1.Address{Recipient: "Ada Lovelace", Lines: []string{"Hafenstr. 1"}, Locality: "Hamburg", PostalCode: "20095", RegionCode: "DE"},
			Lines: []*orderv1.OrderLine{
				{LineId: "1", Sku: "SKU-00001", Quantity: 5, Allocations: []*orderv1.LineAllocation{
					{WarehouseId: "WH-HAM", AllocatedQuantity: 3}, {WarehouseId: "WH-MUC", AllocatedQuantity: 2},
				}},
				{LineId: "2", Sku: "SKU-00002", Quantity: 1, Allocations: []*orderv1.LineAllocation{
					{WarehouseId: "WH-HAM", AllocatedQuantity: 1},
				}},
			},
		},
		PreviousState:     orderv1.Order_STATE_ACCEPTED_PENDING_ERP,
		ErpOrderReference: "ERP-" + orderID,
	}
}

// publish publishes ev as the order service's relay would, with event id
// eventID; msgID sets the JetStream de-duplication id (defaults to the
// event id) so a test can force a redelivery past the duplicate window.
func (m *mesh) publish(t *testing.T, ev *orderv1.OrderConfirmedEvent, eventID, msgID string) uint64 {
	t.Helper()
	ctx := t.Context()
	wait.Eventually(t, patience, "order stream exists", func() error {
		_, err := m.js.Stream(ctx, eventstreams.Order.Name)
		return err
	})
	ev = proto.Clone(ev).(*orderv1.OrderConfirmedEvent)
	ev.Metadata.EventId = eventID
	data, err := proto.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	msg := outbox.Row{
		EventID: eventID, AggregateType: "order", AggregateID: ev.GetOrder().GetOrderId(), Sequence: 2,
		Subject: eventstreams.OrderConfirmed, PayloadType: string(proto.MessageName(ev)), Payload: data,
		CreatedAt: time.Now().UTC(), Traceparent: m.traceparent,
	}.Message()
	if msgID != "" {
		msg.Header.Set(outbox.HeaderMsgID, msgID)
	}
	ack, err := m.js.PublishMsg(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// waitConsumed waits until the fulfillment consumer acknowledged stream
// sequence seq.
func (m *mesh) waitConsumed(t *testing.T, seq uint64) {
	t.Helper()
	wait.Eventually(t, patience, fmt.Sprintf("consumer acked stream sequence %d", seq), func() error {
		c, err := m.js.Consumer(t.Context(), eventstreams.Order.Name, orderevents.ConsumerName)
		if err != nil {
			return err
		}
		info, err := c.Info(t.Context())
		if err != nil {
			return err
		}
		if info.AckFloor.Stream < seq {
			return fmt.Errorf("ack floor %d", info.AckFloor.Stream)
		}
		return nil
	})
}

// waitAtWMS waits until the WMS took fulfilment request id.
func (m *mesh) waitAtWMS(t *testing.T, id string) {
	t.Helper()
	wait.Eventually(t, patience, id+" at the WMS", func() error {
		_, ok := m.wms.createdRequests()[id]
		return wait.Check(ok, "WMS has %d requests", len(m.wms.createdRequests()))
	})
}

// waitPublished waits until the service's stream holds n events.
func (m *mesh) waitPublished(t *testing.T, n uint64) {
	t.Helper()
	m.waitStream(t, eventstreams.Fulfillment, n)
}

// waitStream waits until stream holds n messages.
func (m *mesh) waitStream(t *testing.T, stream eventstreams.Stream, n uint64) {
	t.Helper()
	wait.Eventually(t, patience, fmt.Sprintf("%d events on %s", n, stream.Name), func() error {
		s, err := m.js.Stream(t.Context(), stream.Name)
		if err != nil {
			return err
		}
		info, err := s.Info(t.Context())
		if err != nil {
			return err
		}
		return wait.Check(info.State.Msgs == n, "%d messages on %s", info.State.Msgs, stream.Name)
	})
}

func (m *mesh) requests(t *testing.T, orderID string) []*fulfillmentv1.FulfillmentRequest {
	t.Helper()
	res, err := m.api.ListFulfillmentRequests(t.Context(), &fulfillmentv1.ListFulfillmentRequestsRequest{Parent: "orders/" + orderID})
	if err != nil {
		t.Fatal(err)
	}
	return res.GetFulfillmentRequests()
}

func (m *mesh) shipments(t *testing.T, parent string) []*fulfillmentv1.Shipment {
	t.Helper()
	res, err := m.api.ListShipments(t.Context(), &fulfillmentv1.ListShipmentsRequest{Parent: parent})
	if err != nil {
		t.Fatal(err)
	}
	return res.GetShipments()
}

func scrape(t *testing.T, admin string) string {
	t.Helper()
	res, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOrderToDelivery drives one order split over two warehouses from the
// OrderConfirmedEvent to delivery through the fake WMS feed.
func TestOrderToDelivery(t *testing.T) {
	m := startMesh(t, nil)
	const orderID = "O-T1"
	ev := confirmedOrder(orderID)
	seq := m.publish(t, ev, "ev-confirm-1", "")
	m.waitConsumed(t, seq)

	// Duplicate delivery: the same event again (past JetStream's
	// de-duplication) and a republished confirmation with a new event id.
	seq = m.publish(t, ev, "ev-confirm-1", "redelivery-1")
	m.waitConsumed(t, seq)
	seq = m.publish(t, ev, "ev-confirm-2", "")
	m.waitConsumed(t, seq)

	hamID, mucID := "FR-O-T1-WH-HAM", "FR-O-T1-WH-MUC"
	wait.Eventually(t, patience, "both requests acknowledged", func() error {
		rs := m.requests(t, orderID)
		if len(rs) != 2 {
			return fmt.Errorf("%d requests", len(rs))
		}
		for _, r := range rs {
			if r.GetState() != fulfillmentv1.FulfillmentRequest_STATE_ACKNOWLEDGED {
				return fmt.Errorf("%s is %s", r.GetFulfillmentRequestId(), r.GetState())
			}
		}
		return nil
	})
	created := m.wms.createdRequests()
	if len(created) != 2 || created[hamID] == nil || created[mucID] == nil {
		t.Fatalf("WMS shipment requests = %v, want %s and %s", created, hamID, mucID)
	}
	ham := created[hamID]
	if ham.GetWarehouseCode() != "WH-HAM" || len(ham.GetLines()) != 2 || ham.GetLines()[0].GetQuantity() != 3 ||
		ham.GetShipTo().GetLocality() != "Hamburg" || created[mucID].GetLines()[0].GetQuantity() != 2 {
		t.Fatalf("WH-HAM shipment request = %v", ham)
	}
	r, err := m.api.GetFulfillmentRequest(t.Context(), &fulfillmentv1.GetFulfillmentRequestRequest{Name: "orders/-/fulfillmentRequests/" + hamID})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetReservationId() != "R-O-T1" || r.GetSourceEventId() != "ev-confirm-1" || r.GetWmsReference() != "WMS-"+hamID {
		t.Fatalf("request = %v", r)
	}

	// The WMS reports the milestones; one SHIPPED event is delivered twice.
	for _, id := range []string{hamID, mucID} {
		parcel := "PCL-" + id
		m.wms.emit(id, wmsv1.ShipmentRequest_STATE_PICKED, "", true)
		m.wms.emit(id, wmsv1.ShipmentRequest_STATE_PACKED, parcel, true)
		shipped := m.wms.emit(id, wmsv1.ShipmentRequest_STATE_SHIPPED, parcel, true)
		m.wms.redeliver(shipped)
	}
	wait.Eventually(t, patience, "both shipments shipped", func() error {
		if n := len(m.orders.calls()); n != 2 {
			return fmt.Errorf("%d progress calls", n)
		}
		return nil
	})
	for _, id := range []string{hamID, mucID} {
		m.wms.emit(id, wmsv1.ShipmentRequest_STATE_DELIVERED, "PCL-"+id, false)
	}
	wait.Eventually(t, patience, "both shipments delivered", func() error {
		for _, sh := range m.shipments(t, "orders/"+orderID) {
			if sh.GetState() != fulfillmentv1.Shipment_STATE_DELIVERED {
				return fmt.Errorf("%s is %s", sh.GetShipmentId(), sh.GetState())
			}
		}
		if n := len(m.orders.calls()); n != 4 {
			return fmt.Errorf("%d progress calls", n)
		}
		return nil
	})

	shipments := m.shipments(t, "orders/"+orderID)
	if len(shipments) != 2 {
		t.Fatalf("%d shipments, want 2", len(shipments))
	}
	byID := map[string]*fulfillmentv1.Shipment{}
	for _, sh := range shipments {
		byID[sh.GetShipmentId()] = sh
		// The redelivered SHIPPED is de-duplicated on its event id.
		var states []fulfillmentv1.Shipment_State
		for _, h := range sh.GetStateHistory() {
			states = append(states, h.GetState())
		}
		want := []fulfillmentv1.Shipment_State{
			fulfillmentv1.Shipment_STATE_PICKED, fulfillmentv1.Shipment_STATE_PACKED,
			fulfillmentv1.Shipment_STATE_SHIPPED, fulfillmentv1.Shipment_STATE_DELIVERED,
		}
		if !slices.Equal(states, want) {
			t.Errorf("shipment %s history %v, want %v", sh.GetShipmentId(), states, want)
		}
		if sh.GetCarrier() != "DHL" || sh.GetTrackingNumber() != "TRK-"+sh.GetWmsShipmentReference() ||
			sh.GetShipTime() == nil || sh.GetDeliveryTime() == nil || sh.GetReservationId() != "R-O-T1" {
			t.Errorf("shipment = %v", sh)
		}
	}
	all := m.shipments(t, "orders/-")
	if len(all) != 2 {
		t.Errorf("orders/- lists %d shipments, want 2", len(all))
	}
	for _, r := range m.requests(t, orderID) {
		if r.GetState() != fulfillmentv1.FulfillmentRequest_STATE_COMPLETED {
			t.Errorf("request %s is %s, want COMPLETED", r.GetFulfillmentRequestId(), r.GetState())
		}
	}

	// Inventory: one commit per shipment with its SKU quantities.
	commits := m.inventory.calls()
	if len(commits) != 2 {
		t.Fatalf("%d commits, want 2: %v", len(commits), commits)
	}
	for _, c := range commits {
		sh := byID[c.GetShipmentId()]
		if sh == nil {
			t.Fatalf("commit for unknown shipment %s", c.GetShipmentId())
		}
		if c.GetName() != "reservations/R-O-T1" || c.GetWarehouseCode() != sh.GetWarehouseId() || c.GetRequestId() != "commit-"+sh.GetShipmentId() {
			t.Errorf("commit = %v", c)
		}
		var units int64
		for _, l := range c.GetLines() {
			units += l.GetQuantity()
		}
		if want := map[string]int64{"WH-HAM": 4, "WH-MUC": 2}[sh.GetWarehouseId()]; units != want {
			t.Errorf("commit of %s: %d units, want %d", sh.GetWarehouseId(), units, want)
		}
	}

	// Order: per shipment SHIPPED then DELIVERED, the last call a delivery,
	// every event id distinct.
	calls := m.orders.calls()
	perShipment := map[string][]orderv1.ShipmentMilestone{}
	ids := map[string]bool{}
	for _, c := range calls {
		perShipment[c.GetShipmentId()] = append(perShipment[c.GetShipmentId()], c.GetMilestone())
		if ids[c.GetEventId()] {
			t.Errorf("event id %s reported twice", c.GetEventId())
		}
		ids[c.GetEventId()] = true
		if c.GetName() != "orders/O-T1" || len(c.GetLines()) == 0 {
			t.Errorf("progress call = %v", c)
		}
	}
	for id, ms := range perShipment {
		want := []orderv1.ShipmentMilestone{orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_SHIPPED, orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_DELIVERED}
		if !slices.Equal(ms, want) {
			t.Errorf("shipment %s milestones %v, want %v", id, ms, want)
		}
	}
	if last := calls[len(calls)-1]; last.GetMilestone() != orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_DELIVERED {
		t.Errorf("last progress call is %v", last.GetMilestone())
	}

	// KPIs: 8 applied milestones, the 2 redelivered ones counted as
	// duplicates, a propagation time per applied milestone. The counters
	// move after the commit that the states above show, so wait for them.
	for _, want := range []string{
		`transload_fulfillment_wms_events_total{outcome="applied"} 8`,
		`transload_fulfillment_wms_events_total{outcome="duplicate"} 2`,
		`transload_fulfillment_shipment_status_propagation_seconds_count 8`,
		`transload_fulfillment_side_effects{state="PENDING"} 0`,
	} {
		wait.Eventually(t, patience, "/metrics has "+want, func() error {
			return wait.Check(strings.Contains(scrape(t, m.admin), want), "not yet")
		})
	}

	// ShipmentUpdatedEvent: one per applied milestone (4 per shipment).
	m.waitPublished(t, 8)
}
