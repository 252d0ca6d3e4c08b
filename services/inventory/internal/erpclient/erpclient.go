// Package erpclient is the inventory service's outbound adapter to the ERP
// system API (transload.erp.v1): warehouses and the stock snapshot for the
// initial load, and the stock event feed (polled with ListStockEvents and
// pushed with WatchStockEvents). Connection-level resilience
// (default deadline, breaker, retries of idempotent reads) comes from
// platform/grpcclient; ERP errors are mapped to domain errors here, so no
// business code inspects gRPC codes.
package erpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/inventorypb"
)

// IdempotentMethods are the ERP methods this client calls; all are reads,
// so grpcclient may retry them (a stream only until its first message).
var IdempotentMethods = []string{
	erpv1.ErpAdapterService_ListWarehouses_FullMethodName,
	erpv1.ErpAdapterService_ListStockEvents_FullMethodName,
	erpv1.ErpAdapterService_StreamStockSnapshot_FullMethodName,
	erpv1.ErpAdapterService_WatchStockEvents_FullMethodName,
}

// Dial connects to the ERP adapter at addr with the platform client rules
// (default deadline, breaker, retries for IdempotentMethods). Pass the
// unary call budget as grpcclient.WithDefaultTimeout: the adapter sets no
// deadline of its own on unary calls, so a slow ERP fails inside the
// connection's breaker and counts against it.
func Dial(addr string, opts ...grpcclient.Option) (*grpc.ClientConn, error) {
	opts = append([]grpcclient.Option{grpcclient.WithIdempotentMethods(IdempotentMethods...), grpcclient.WithDependency("erp")}, opts...)
	return grpcclient.Dial(addr, opts...)
}

// Client implements inventory.ERP.
type Client struct {
	erp erpv1.ErpAdapterServiceClient
}

var (
	_ inventory.ERP            = (*Client)(nil)
	_ inventory.SnapshotReader = (*Client)(nil)
	_ inventory.StockFeed      = (*Client)(nil)
	_ inventory.StockPush      = (*Client)(nil)
)

// New returns a client on conn (made by Dial). Every call takes its
// budget from the connection: unary calls from WithDefaultTimeout, the
// whole snapshot stream from WithStreamTimeout, so the ERP's breaker
// counts a slow answer.
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{erp: erpv1.NewErpAdapterServiceClient(conn)}
}

// ListWarehouses reads every page of ERP warehouses.
func (c *Client) ListWarehouses(ctx context.Context) ([]inventory.Warehouse, error) {
	var (
		out   []inventory.Warehouse
		token string
	)
	for page := 0; ; page++ {
		if page > 1000 {
			return nil, fmt.Errorf("erp: ListWarehouses does not end: %w", inventory.ErrDependencyUnavailable)
		}
		resp, err := c.erp.ListWarehouses(ctx, &erpv1.ListWarehousesRequest{PageSize: 500, PageToken: token})
		if err != nil {
			return nil, mapError("ListWarehouses", err)
		}
		for _, w := range resp.GetWarehouses() {
			dw, err := warehouseFromERP(w)
			if err != nil {
				return nil, err
			}
			out = append(out, dw)
		}
		token = resp.GetNextPageToken()
		if token == "" {
			return out, nil
		}
	}
}

func warehouseFromERP(w *erpv1.Warehouse) (inventory.Warehouse, error) {
	code, ok := strings.CutPrefix(w.GetName(), "warehouses/")
	if !ok || code == "" {
		return inventory.Warehouse{}, fmt.Errorf("erp: warehouse name %q is not warehouses/{code}: %w", w.GetName(), inventory.ErrDependencyUnavailable)
	}
	a := w.GetAddress()
	return inventory.Warehouse{
		Code:        code,
		DisplayName: w.GetDisplayName(),
		Region:      w.GetRegion(),
		Priority:    w.GetPriority(),
		Channels:    w.GetChannels(),
		Active:      w.GetActive(),
		Address: inventory.Address{
			Recipient: a.GetRecipient(), Lines: a.GetLines(), Locality: a.GetLocality(),
			AdministrativeArea: a.GetAdministrativeArea(), PostalCode: a.GetPostalCode(), RegionCode: a.GetRegionCode(),
		},
	}, nil
}

// StockSnapshot reads a complete snapshot: header, chunks, trailer. A
// stream without a trailer, or whose trailer does not match the rows
// received, is rejected (the initial load must not use partial data).
func (c *Client) StockSnapshot(ctx context.Context) (inventory.Snapshot, error) {
	return c.snapshot(ctx, nil, nil)
}

// ScopedSnapshot implements inventory.SnapshotReader for source "erp":
// a verified snapshot restricted to warehouses and SKUs (empty: all).
func (c *Client) ScopedSnapshot(ctx context.Context, source string, warehouses, skus []string) (inventory.Snapshot, error) {
	if source != "erp" {
		return inventory.Snapshot{}, fmt.Errorf("no snapshot adapter for source %q: %w", source, inventory.ErrSnapshotUnavailable)
	}
	return c.snapshot(ctx, warehouses, skus)
}

func (c *Client) snapshot(ctx context.Context, warehouses, skus []string) (inventory.Snapshot, error) {
	stream, err := c.erp.StreamStockSnapshot(ctx, &erpv1.StreamStockSnapshotRequest{WarehouseCodes: warehouses, Skus: skus})
	if err != nil {
		return inventory.Snapshot{}, mapError("StreamStockSnapshot", err)
	}
	var (
		snap     inventory.Snapshot
		header   bool
		total    int64
		trailer  *erpv1.StockSnapshotTrailer
		rowCount int64
	)
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return inventory.Snapshot{}, mapError("StreamStockSnapshot", err)
		}
		switch {
		case msg.GetHeader() != nil:
			h := msg.GetHeader()
			header = true
			snap.ID = h.GetSnapshotId()
			snap.EventCursor = h.GetEventCursor()
			snap.Time = h.GetSnapshotTime().AsTime()
			rowCount = h.GetRowCount()
		case msg.GetChunk() != nil:
			if !header || trailer != nil {
				return inventory.Snapshot{}, protocolError("chunk outside header and trailer")
			}
			for _, r := range msg.GetChunk().GetRows() {
				if err := checkRow(r); err != nil {
					return inventory.Snapshot{}, err
				}
				sum := total + r.GetOnHand() // on_hand is in [0, MaxStockQuantity] (checkRow): only the sum can wrap
				if r.GetOnHand() > 0 && sum < total {
					return inventory.Snapshot{}, protocolError(fmt.Sprintf("on-hand sum overflows int64 at row %d", r.GetRowNumber()))
				}
				total = sum
				snap.Rows = append(snap.Rows, rowFromERP(r))
			}
		case msg.GetTrailer() != nil:
			if !header {
				return inventory.Snapshot{}, protocolError("trailer before header")
			}
			trailer = msg.GetTrailer()
		}
	}
	switch {
	case trailer == nil:
		return inventory.Snapshot{}, protocolError("stream ended without trailer")
	case trailer.GetRowCount() != int64(len(snap.Rows)) || rowCount != int64(len(snap.Rows)):
		return inventory.Snapshot{}, protocolError(fmt.Sprintf("received %d rows, header says %d, trailer %d",
			len(snap.Rows), rowCount, trailer.GetRowCount()))
	case trailer.GetTotalOnHand() != total:
		return inventory.Snapshot{}, protocolError(fmt.Sprintf("on-hand sums to %d, trailer says %d", total, trailer.GetTotalOnHand()))
	}
	return snap, nil
}

// checkRow refuses a snapshot row the erp.v1 contract forbids: a negative
// on_hand (or one above inventory.MaxStockQuantity, which no warehouse
// holds and stock arithmetic could not add to) and inbound supply of
// quantity <= 0 (or above inventory.MaxStockQuantity). Such a snapshot is
// a protocol error: none of it is used to correct stock.
func checkRow(r *erpv1.StockSnapshotRow) error {
	if q := r.GetOnHand(); q < 0 || q > inventory.MaxStockQuantity {
		return protocolError(fmt.Sprintf("row %d (%s at %s) has on_hand %d, want 0..%d",
			r.GetRowNumber(), r.GetSku(), r.GetWarehouseCode(), q, inventory.MaxStockQuantity))
	}
	for _, in := range r.GetInbound() {
		if q := in.GetQuantity(); q <= 0 || q > inventory.MaxStockQuantity {
			return protocolError(fmt.Sprintf("row %d (%s at %s) has inbound %q of quantity %d, want 1..%d",
				r.GetRowNumber(), r.GetSku(), r.GetWarehouseCode(), in.GetReference(), q, inventory.MaxStockQuantity))
		}
	}
	return nil
}

func rowFromERP(r *erpv1.StockSnapshotRow) inventory.InitialStock {
	return inventory.InitialStock{
		SKU: r.GetSku(), WarehouseCode: r.GetWarehouseCode(), OnHand: r.GetOnHand(), SourceSequence: r.GetSourceSequence(),
		Inbound: inventorypb.InboundFromProto(r.GetInbound()),
	}
}

func protocolError(msg string) error {
	return fmt.Errorf("erp: stock snapshot: %s: %w", msg, inventory.ErrDependencyUnavailable)
}

// mapError turns an ERP status into a domain error. Whatever
// grpcclient.Classify calls worth retrying (the ERP or the path to it
// failing, an open circuit, a conflict, a cancelled call) is
// ErrDependencyUnavailable; a request the adapter rejected is reported as
// it is. The loader and the feed poller retry both. The status itself is
// not wrapped, so the ERP's status can never reach a caller of this
// service as its own.
func mapError(method string, err error) error {
	st := status.Convert(err)
	if grpcclient.Classify(err).Retryable() {
		return fmt.Errorf("erp %s: %s: %w", method, st.Message(), inventory.ErrDependencyUnavailable)
	}
	return fmt.Errorf("erp %s: %s %s", method, st.Code(), st.Message())
}

// StockEvents implements inventory.StockFeed on ListStockEvents. ERP kinds
// map to inventory kinds; TRANSFER_OUT and SHIPMENT carry a negative
// change in the ERP contract and a positive magnitude in inventory's.
func (c *Client) StockEvents(ctx context.Context, cursor string, limit int) (inventory.FeedPage, error) {
	resp, err := c.erp.ListStockEvents(ctx, &erpv1.ListStockEventsRequest{Cursor: cursor, PageSize: int32(min(limit, 1000))})
	if err != nil {
		return inventory.FeedPage{}, feedError("ListStockEvents", err)
	}
	page := inventory.FeedPage{NextCursor: resp.GetNextCursor(), HasMore: resp.GetHasMore()}
	for _, e := range resp.GetStockEvents() {
		page.Events = append(page.Events, stockEventFromERP(e))
	}
	return page, nil
}

// WatchStockEvents implements inventory.StockPush on WatchStockEvents:
// it opens the stream at cursor and hands every message, in order, to
// deliver until the stream ends, ctx ends or deliver fails (that error is
// returned as it is). The stream's deadline is ctx's (the caller bounds the
// lifetime); the connection's breaker guards opening it and its keepalive
// pings detect a dead peer. An adapter without the method is
// inventory.ErrPushUnsupported; cursor errors are as for StockEvents.
func (c *Client) WatchStockEvents(ctx context.Context, cursor string, deliver func(inventory.FeedPage) error) error {
	stream, err := c.erp.WatchStockEvents(ctx, &erpv1.WatchStockEventsRequest{Cursor: cursor})
	if err != nil {
		return watchError(err)
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("erp WatchStockEvents: stream ended: %w", inventory.ErrDependencyUnavailable)
		}
		if err != nil {
			return watchError(err)
		}
		page := inventory.FeedPage{NextCursor: msg.GetNextCursor()}
		if page.NextCursor == "" {
			return fmt.Errorf("erp WatchStockEvents: message without next_cursor: %w", inventory.ErrDependencyUnavailable)
		}
		for _, e := range msg.GetStockEvents() {
			page.Events = append(page.Events, stockEventFromERP(e))
		}
		if err := deliver(page); err != nil {
			return err
		}
	}
}

// watchError maps an error of WatchStockEvents: an adapter without the
// method is inventory.ErrPushUnsupported, the rest as for ListStockEvents.
func watchError(err error) error {
	if status.Code(err) == codes.Unimplemented {
		return fmt.Errorf("erp WatchStockEvents: %w", inventory.ErrPushUnsupported)
	}
	return feedError("WatchStockEvents", err)
}

// feedError maps an error of a stock feed method: cursor errors are
// inventory.ErrCursorExpired, the rest as mapError.
func feedError(method string, err error) error {
	if apierr.HasReason(err, erpv1.ErrorReason_ERROR_REASON_CURSOR_EXPIRED) || apierr.HasReason(err, erpv1.ErrorReason_ERROR_REASON_INVALID_CURSOR) {
		return fmt.Errorf("erp %s: %w", method, inventory.ErrCursorExpired)
	}
	return mapError(method, err)
}

func stockEventFromERP(e *erpv1.StockEvent) inventory.StockEvent {
	out := inventory.StockEvent{
		EventID: e.GetEventId(), SKU: e.GetSku(), WarehouseCode: e.GetWarehouseCode(), Sequence: e.GetSourceSequence(),
		Quantity: e.GetQuantity(), Reference: e.GetReference(), ReasonCode: e.GetReasonCode(),
	}
	if e.GetOccurTime().IsValid() { // out of range, the event could never be recorded (JSON) and would block the feed
		out.OccurTime = e.GetOccurTime().AsTime()
	}
	switch e.GetKind() {
	case erpv1.StockEvent_KIND_RECEIPT:
		out.Kind = inventory.KindReceipt
	case erpv1.StockEvent_KIND_ADJUSTMENT:
		out.Kind = inventory.KindAdjustment
	case erpv1.StockEvent_KIND_TRANSFER_IN:
		out.Kind = inventory.KindTransferIn
	case erpv1.StockEvent_KIND_TRANSFER_OUT:
		out.Kind, out.Quantity = inventory.KindTransferOut, abs(e.GetQuantity())
	case erpv1.StockEvent_KIND_SHIPMENT:
		out.Kind, out.Quantity = inventory.KindShipment, abs(e.GetQuantity())
	case erpv1.StockEvent_KIND_SET_ON_HAND:
		out.Kind = inventory.KindSetOnHand
	case erpv1.StockEvent_KIND_UNSPECIFIED:
		// Stays 0: ApplyStockEvents rejects the event as invalid.
	}
	return out
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
