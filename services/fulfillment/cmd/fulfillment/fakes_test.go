package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/apierr"
)

// serve starts a gRPC server on a free loopback port, registered by reg,
// and stops it when the test ends.
func serve(t *testing.T, reg func(*grpc.Server)) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	reg(s)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

var errDown = status.Error(codes.Unavailable, "fake neighbour is down")

// neighbour is what every fake neighbour has: a switch that takes it down,
// and the requests it took.
type neighbour[T any] struct {
	mu      sync.Mutex
	down    bool
	refused int
	took    []T
}

func (n *neighbour[T]) setDown(down bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.down = down
}

// downErr, called with mu held, refuses a call while the neighbour is
// down, counting it.
func (n *neighbour[T]) downErr() error {
	if !n.down {
		return nil
	}
	n.refused++
	return errDown
}

// take records req unless the neighbour is down.
func (n *neighbour[T]) take(req T) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.downErr(); err != nil {
		return err
	}
	n.took = append(n.took, req)
	return nil
}

// calls returns the requests taken so far.
func (n *neighbour[T]) calls() []T {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.took)
}

// refusals returns how many calls were refused while down.
func (n *neighbour[T]) refusals() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.refused
}

// fakeWMS is an in-process WMS adapter: it records shipment requests (the
// ids of the CreateShipmentRequest calls it took) and serves a shipment
// event feed the test appends to.
type fakeWMS struct {
	wmsv1.UnimplementedWmsAdapterServiceServer
	neighbour[string]
	requests  map[string]*wmsv1.ShipmentRequest
	events    []*wmsv1.ShipmentEvent
	seq       map[string]int64
	cancelled []string
	// returns is the return side (returns_test.go).
	returns wmsReturns
}

func newFakeWMS() *fakeWMS {
	return &fakeWMS{requests: map[string]*wmsv1.ShipmentRequest{}, seq: map[string]int64{}}
}

func (f *fakeWMS) CreateShipmentRequest(_ context.Context, req *wmsv1.CreateShipmentRequestRequest) (*wmsv1.CreateShipmentRequestResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.downErr(); err != nil {
		return nil, err
	}
	f.took = append(f.took, req.GetShipmentRequestId())
	ref := "WMS-" + req.GetShipmentRequestId()
	if prev, ok := f.requests[req.GetShipmentRequestId()]; ok {
		if !proto.Equal(prev, req.GetShipmentRequest()) {
			return nil, status.Error(codes.AlreadyExists, "idempotency key reused")
		}
		return &wmsv1.CreateShipmentRequestResponse{Outcome: wmsv1.CreateShipmentRequestResponse_OUTCOME_ACCEPTED, WmsReference: ref, Duplicate: true}, nil
	}
	f.requests[req.GetShipmentRequestId()] = req.GetShipmentRequest()
	return &wmsv1.CreateShipmentRequestResponse{Outcome: wmsv1.CreateShipmentRequestResponse_OUTCOME_ACCEPTED, WmsReference: ref}, nil
}

func (f *fakeWMS) ListShipmentEvents(_ context.Context, req *wmsv1.ListShipmentEventsRequest) (*wmsv1.ListShipmentEventsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.downErr(); err != nil {
		return nil, err
	}
	pos := 0
	if req.GetCursor() != "" {
		var err error
		if pos, err = strconv.Atoi(req.GetCursor()); err != nil || pos > len(f.events) {
			return nil, status.Error(codes.InvalidArgument, "bad cursor")
		}
	}
	size := int(req.GetPageSize())
	if size <= 0 {
		size = 100
	}
	end := min(pos+size, len(f.events))
	return &wmsv1.ListShipmentEventsResponse{
		ShipmentEvents: f.events[pos:end],
		NextCursor:     strconv.Itoa(end),
		HasMore:        end < len(f.events),
	}, nil
}

// createdRequests returns the distinct shipment request ids created.
func (f *fakeWMS) createdRequests() map[string]*wmsv1.ShipmentRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]*wmsv1.ShipmentRequest{}
	for k, v := range f.requests {
		out[k] = v
	}
	return out
}

// emit appends a milestone of request id to the feed and returns the event.
func (f *fakeWMS) emit(id string, state wmsv1.ShipmentRequest_State, parcel string, withLines bool) *wmsv1.ShipmentEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.requests[id]
	f.seq[id]++
	ev := &wmsv1.ShipmentEvent{
		EventId:           fmt.Sprintf("SE-%s-%d", id, f.seq[id]),
		ShipmentRequestId: id,
		OrderId:           r.GetOrderId(),
		WarehouseCode:     r.GetWarehouseCode(),
		Sequence:          f.seq[id],
		State:             state,
		ShipmentId:        parcel,
		OccurTime:         timestamppb.New(time.Now().UTC()),
	}
	if parcel != "" {
		ev.Carrier, ev.CarrierService = "DHL", "DHL Paket"
	}
	if state >= wmsv1.ShipmentRequest_STATE_SHIPPED && state <= wmsv1.ShipmentRequest_STATE_DELIVERED {
		ev.TrackingNumber, ev.TrackingUrl = "TRK-"+parcel, "https://track.example/"+parcel
	}
	if withLines {
		for _, l := range r.GetLines() {
			ev.Lines = append(ev.Lines, &wmsv1.ShipmentEventLine{LineId: l.GetLineId(), Sku: l.GetSku(), Quantity: l.GetQuantity()})
		}
	}
	f.events = append(f.events, ev)
	return ev
}

// redeliver appends an event to the feed again (an at-least-once feed).
func (f *fakeWMS) redeliver(ev *wmsv1.ShipmentEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, ev)
}

// fakeInventory records CommitReservation calls.
type fakeInventory struct {
	inventoryv1.UnimplementedInventoryServiceServer
	neighbour[*inventoryv1.CommitReservationRequest]
	// restocks records ApplyStockEvents calls (returns_test.go).
	restocks neighbour[*inventoryv1.ApplyStockEventsRequest]
}

func (f *fakeInventory) CommitReservation(_ context.Context, req *inventoryv1.CommitReservationRequest) (*inventoryv1.Reservation, error) {
	if err := f.take(req); err != nil {
		return nil, err
	}
	return &inventoryv1.Reservation{Name: req.GetName()}, nil
}

// fakeOrders records RecordShipmentProgress calls.
type fakeOrders struct {
	orderv1.UnimplementedOrderServiceServer
	neighbour[*orderv1.RecordShipmentProgressRequest]
	// receipts records RecordReturnReceipt calls (returns_test.go).
	receipts neighbour[*orderv1.RecordReturnReceiptRequest]
}

func (f *fakeOrders) RecordShipmentProgress(_ context.Context, req *orderv1.RecordShipmentProgressRequest) (*orderv1.RecordShipmentProgressResponse, error) {
	if err := f.take(req); err != nil {
		return nil, err
	}
	return &orderv1.RecordShipmentProgressResponse{}, nil
}

func (f *fakeWMS) CancelShipmentRequest(_ context.Context, req *wmsv1.CancelShipmentRequestRequest) (*wmsv1.ShipmentRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.downErr(); err != nil {
		return nil, err
	}
	id := strings.TrimPrefix(req.GetName(), "shipmentRequests/")
	r, ok := f.requests[id]
	if !ok {
		return nil, apierr.Error(codes.NotFound, wmsv1.ErrorReason_ERROR_REASON_SHIPMENT_REQUEST_NOT_FOUND, "unknown", nil)
	}
	for _, ev := range f.events {
		if ev.GetShipmentRequestId() == id && ev.GetState() >= wmsv1.ShipmentRequest_STATE_SHIPPED {
			return nil, apierr.Error(codes.FailedPrecondition, wmsv1.ErrorReason_ERROR_REASON_ALREADY_SHIPPED, "shipped", nil)
		}
	}
	f.cancelled = append(f.cancelled, id)
	return r, nil
}

func (f *fakeWMS) cancelledRequests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cancelled...)
}
