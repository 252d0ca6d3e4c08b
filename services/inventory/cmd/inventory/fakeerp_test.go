package main

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/apierr"
)

// fakeERP serves the two ERP methods the initial load uses from fixed
// data; while down it answers UNAVAILABLE like an ERP outage.
type fakeERP struct {
	erpv1.UnimplementedErpAdapterServiceServer

	mu            sync.Mutex
	down          bool
	listCalls     int
	snapshotCalls int
	// events is the stock event feed; cursor "c<n>" is the position
	// after n events.
	events []*erpv1.StockEvent
	// push makes WatchStockEvents stream the feed; without it the method
	// is UNIMPLEMENTED, as for an adapter that cannot push.
	push bool
	// changed is closed (and replaced) by appendEvents, waking watchers.
	changed chan struct{}
	// listEventCalls counts ListStockEvents calls; watchCursors holds the
	// cursor of every WatchStockEvents call.
	listEventCalls int
	watchCursors   []string
}

func (f *fakeERP) appendEvents(evs ...*erpv1.StockEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, evs...)
	if f.changed != nil {
		close(f.changed)
		f.changed = nil
	}
}

// from parses a feed cursor (the caller holds mu).
func (f *fakeERP) from(cursor string) (int, error) {
	if cursor == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(cursor, "c"))
	if err != nil || n > len(f.events) {
		return 0, apierr.Error(codes.InvalidArgument, erpv1.ErrorReason_ERROR_REASON_INVALID_CURSOR, "bad cursor", nil)
	}
	return n, nil
}

func (f *fakeERP) ListStockEvents(_ context.Context, req *erpv1.ListStockEventsRequest) (*erpv1.ListStockEventsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listEventCalls++
	if f.down {
		return nil, status.Error(codes.Unavailable, "erp down")
	}
	from, err := f.from(req.GetCursor())
	if err != nil {
		return nil, err
	}
	return &erpv1.ListStockEventsResponse{StockEvents: f.events[from:], NextCursor: "c" + strconv.Itoa(len(f.events))}, nil
}

// WatchStockEvents pushes the feed from the cursor: the backlog (or an
// empty message) at once, then each append, until the caller goes away.
func (f *fakeERP) WatchStockEvents(req *erpv1.WatchStockEventsRequest, stream grpc.ServerStreamingServer[erpv1.WatchStockEventsResponse]) error {
	f.mu.Lock()
	f.watchCursors = append(f.watchCursors, req.GetCursor())
	push, down := f.push, f.down
	pos, err := f.from(req.GetCursor())
	f.mu.Unlock()
	switch {
	case !push:
		return status.Error(codes.Unimplemented, "method WatchStockEvents not implemented")
	case down:
		return status.Error(codes.Unavailable, "erp down")
	case err != nil:
		return err
	}
	first := true
	for {
		f.mu.Lock()
		if f.changed == nil {
			f.changed = make(chan struct{})
		}
		changed, evs := f.changed, f.events[pos:]
		f.mu.Unlock()
		if len(evs) > 0 || first {
			pos += len(evs)
			if err := stream.Send(&erpv1.WatchStockEventsResponse{StockEvents: evs, NextCursor: "c" + strconv.Itoa(pos)}); err != nil {
				return err
			}
			first = false
		}
		select {
		case <-changed:
		case <-stream.Context().Done():
			return status.FromContextError(stream.Context().Err()).Err()
		}
	}
}

// feedCalls reports the ListStockEvents calls and the cursors of the
// WatchStockEvents calls so far.
func (f *fakeERP) feedCalls() (list int, watches []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.listEventCalls, append([]string(nil), f.watchCursors...)
}

func (f *fakeERP) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakeERP) calls() (list, snapshot int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.listCalls, f.snapshotCalls
}

func (f *fakeERP) ListWarehouses(_ context.Context, req *erpv1.ListWarehousesRequest) (*erpv1.ListWarehousesResponse, error) {
	f.mu.Lock()
	f.listCalls++
	down := f.down
	f.mu.Unlock()
	if down {
		return nil, status.Error(codes.Unavailable, "erp down")
	}
	all := []*erpv1.Warehouse{
		{Name: "warehouses/WH-HAM", DisplayName: "Hamburg", Region: "de-north", Priority: 1, Channels: []string{"b2b", "web"}, Active: true},
		{Name: "warehouses/WH-MUC", DisplayName: "Munich", Region: "de-south", Priority: 2, Channels: []string{"b2b", "web"}, Active: true},
		{Name: "warehouses/WH-BER", DisplayName: "Berlin", Region: "de-east", Priority: 3, Channels: []string{"b2b", "web"}, Active: true},
	}
	// Two pages, to exercise paging.
	if req.GetPageToken() == "" {
		return &erpv1.ListWarehousesResponse{Warehouses: all[:2], NextPageToken: "p2"}, nil
	}
	return &erpv1.ListWarehousesResponse{Warehouses: all[2:]}, nil
}

func (f *fakeERP) StreamStockSnapshot(_ *erpv1.StreamStockSnapshotRequest, stream grpc.ServerStreamingServer[erpv1.StreamStockSnapshotResponse]) error {
	f.mu.Lock()
	f.snapshotCalls++
	down := f.down
	f.mu.Unlock()
	if down {
		return status.Error(codes.Unavailable, "erp down")
	}
	rows := []*erpv1.StockSnapshotRow{
		{Sku: "SKU-00001", WarehouseCode: "WH-BER", OnHand: 400, SourceSequence: 3},
		{Sku: "SKU-00001", WarehouseCode: "WH-HAM", OnHand: 200, SourceSequence: 2,
			Inbound: []*erpv1.InboundSupply{{Quantity: 50, ExpectedDate: &date.Date{Year: 2026, Month: 12, Day: 15}, Reference: "PO-9"}}},
		{Sku: "SKU-00001", WarehouseCode: "WH-MUC", OnHand: 300, SourceSequence: 1},
		{Sku: "SKU-00500", WarehouseCode: "WH-BER", OnHand: 3},
		{Sku: "SKU-00500", WarehouseCode: "WH-HAM", OnHand: 4},
		{Sku: "SKU-00500", WarehouseCode: "WH-MUC", OnHand: 3},
	}
	var total int64
	for i, r := range rows {
		r.RowNumber = int64(i + 1)
		r.BaseUnit = "EA"
		total += r.OnHand
	}
	msgs := []*erpv1.StreamStockSnapshotResponse{
		{Part: &erpv1.StreamStockSnapshotResponse_Header{Header: &erpv1.StockSnapshotHeader{
			SnapshotId: "snap-42", SnapshotTime: timestamppb.Now(), RowCount: int64(len(rows)), EventCursor: "c0",
		}}},
		{Part: &erpv1.StreamStockSnapshotResponse_Chunk{Chunk: &erpv1.StockSnapshotChunk{Rows: rows[:4]}}},
		{Part: &erpv1.StreamStockSnapshotResponse_Chunk{Chunk: &erpv1.StockSnapshotChunk{Rows: rows[4:]}}},
		{Part: &erpv1.StreamStockSnapshotResponse_Trailer{Trailer: &erpv1.StockSnapshotTrailer{
			RowCount: int64(len(rows)), TotalOnHand: total,
		}}},
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			return err
		}
	}
	return nil
}
