// Package grpcapi implements transload.erp.v1.ErpAdapterService on top of
// the simulated ERP (package erp), plus the interceptors that inject the
// simulator's faults (down, slow) into every call of that service.
package grpcapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/services/erpsim/internal/erp"
)

// Stock feed page sizes and chunk limits from the erp.v1 contract.
const (
	defaultEventPage  = 100
	maxEventPage      = 1000
	snapshotChunkRows = 500
	catalogChunkSize  = 200
	priceChunkRecords = 500
)

// Server implements erpv1.ErpAdapterServiceServer.
type Server struct {
	erpv1.UnimplementedErpAdapterServiceServer

	svc     *erp.Service
	logger  *slog.Logger
	metrics *Metrics
	// stopping ends the WatchStockEvents streams (nil: only their callers
	// end them).
	stopping <-chan struct{}
}

var _ erpv1.ErpAdapterServiceServer = (*Server)(nil)

// ServerOption configures a Server.
type ServerOption func(*Server)

// WithStopping ends every WatchStockEvents stream with UNAVAILABLE once
// stopping is closed (pass the run context's Done), so a graceful shutdown
// is not held up by streams that never end on their own; the consumers
// reconnect and resume from their cursors.
func WithStopping(stopping <-chan struct{}) ServerOption {
	return func(s *Server) { s.stopping = stopping }
}

// NewServer returns the gRPC server of the simulated ERP; metrics may be
// nil.
func NewServer(svc *erp.Service, logger *slog.Logger, metrics *Metrics, opts ...ServerOption) *Server {
	s := &Server{svc: svc, logger: logger, metrics: metrics}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Server) fail(ctx context.Context, err error) error { return toStatus(ctx, s.logger, err) }

// GetCustomer returns one customer with its credit position.
func (s *Server) GetCustomer(ctx context.Context, req *erpv1.GetCustomerRequest) (*erpv1.Customer, error) {
	c, err := s.svc.Customer(ctx, idFromName(req.GetName(), "customers"))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return customerToProto(c), nil
}

// ListCustomers lists customers by update time, then name. Its page
// tokens are bound to min_update_time: a token replayed with another
// watermark is INVALID_PAGE_TOKEN, not a silently shifted listing.
func (s *Server) ListCustomers(ctx context.Context, req *erpv1.ListCustomersRequest) (*erpv1.ListCustomersResponse, error) {
	var (
		since time.Time
		param string
	)
	if req.GetMinUpdateTime() != nil {
		since = req.GetMinUpdateTime().AsTime()
		param = since.Format(time.RFC3339Nano)
	}
	q := aip.Query{Method: erpv1.ErpAdapterService_ListCustomers_FullMethodName, Params: []string{param}}
	var after erp.CustomerCursor
	if err := aip.DecodePageToken(req.GetPageToken(), q, &after.UpdateTime, &after.ID); err != nil {
		return nil, s.fail(ctx, err)
	}
	size := int(aip.ClampPageSize(req.GetPageSize(), aip.DefaultPageSize, aip.MaxPageSize))
	cs, err := s.svc.Customers(ctx, since, after, size+1)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	cs, next := aip.KeysetPage(cs, size, q, func(c erp.Customer) []aip.Key {
		return []aip.Key{aip.KeyOf(c.UpdateTime), aip.KeyOf(c.ID)}
	})
	out := &erpv1.ListCustomersResponse{NextPageToken: next}
	for _, c := range cs {
		out.Customers = append(out.Customers, customerToProto(c))
	}
	return out, nil
}

// CheckCredit decides whether a customer's credit covers an amount.
func (s *Server) CheckCredit(ctx context.Context, req *erpv1.CheckCreditRequest) (*erpv1.CheckCreditResponse, error) {
	amt := req.GetOrderAmount()
	d, err := s.svc.CheckCredit(ctx, idFromName(req.GetName(), "customers"), erp.Money{Minor: amt.GetAmountMinor(), Currency: amt.GetCurrencyCode()})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return creditToProto(d), nil
}

// SubmitSalesOrder creates the sales order of a Transload order,
// idempotently on the order id.
func (s *Server) SubmitSalesOrder(ctx context.Context, req *erpv1.SubmitSalesOrderRequest) (*erpv1.SubmitSalesOrderResponse, error) {
	order, err := salesOrderFromProto(req.GetSalesOrderId(), req.GetSalesOrder())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	got, dup, err := s.svc.SubmitSalesOrder(ctx, order)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	s.metrics.submitted(got, dup)
	out, err := submitToProto(got, dup)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return out, nil
}

// GetSalesOrder returns the sales order of an order id.
func (s *Server) GetSalesOrder(ctx context.Context, req *erpv1.GetSalesOrderRequest) (*erpv1.SalesOrder, error) {
	o, err := s.svc.SalesOrder(ctx, idFromName(req.GetName(), "salesOrders"))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out, err := salesOrderToProto(o)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return out, nil
}

// CancelSalesOrder cancels the sales order of an order id.
func (s *Server) CancelSalesOrder(ctx context.Context, req *erpv1.CancelSalesOrderRequest) (*erpv1.SalesOrder, error) {
	o, err := s.svc.CancelSalesOrder(ctx, idFromName(req.GetName(), "salesOrders"), req.GetReason())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out, err := salesOrderToProto(o)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return out, nil
}

// GetWarehouse returns one warehouse.
func (s *Server) GetWarehouse(ctx context.Context, req *erpv1.GetWarehouseRequest) (*erpv1.Warehouse, error) {
	w, err := s.svc.Warehouse(ctx, idFromName(req.GetName(), "warehouses"))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return warehouseToProto(w), nil
}

// ListWarehouses lists warehouses by priority, then code. The handful of
// warehouses is paged in memory.
func (s *Server) ListWarehouses(ctx context.Context, req *erpv1.ListWarehousesRequest) (*erpv1.ListWarehousesResponse, error) {
	q := aip.Query{Method: erpv1.ErpAdapterService_ListWarehouses_FullMethodName}
	offset := 0
	if err := aip.DecodePageToken(req.GetPageToken(), q, &offset); err != nil {
		return nil, s.fail(ctx, err)
	}
	whs, err := s.svc.Warehouses(ctx)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	whs, next := aip.OffsetPage(whs, offset, int(aip.ClampPageSize(req.GetPageSize(), aip.DefaultPageSize, aip.MaxPageSize)), q)
	out := &erpv1.ListWarehousesResponse{NextPageToken: next}
	for _, w := range whs {
		out.Warehouses = append(out.Warehouses, warehouseToProto(w))
	}
	return out, nil
}

// --- stock feed ---

const cursorPrefix = "se1|"

func encodeCursor(seq int64) string { return encodeFeedCursor(cursorPrefix, seq) }

func decodeCursor(c string) (int64, error) { return decodeFeedCursor(cursorPrefix, c) }

// encodeFeedCursor is the opaque cursor of position seq in the feed whose
// cursors start with prefix.
func encodeFeedCursor(prefix string, seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(prefix + strconv.FormatInt(seq, 10)))
}

// decodeFeedCursor reads a cursor of encodeFeedCursor(prefix, ...); ""
// is position 0; erp.ErrInvalidCursor for anything else.
func decodeFeedCursor(prefix, c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(raw), prefix) {
		return 0, erp.ErrInvalidCursor
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(string(raw), prefix), 10, 64)
	if err != nil || n < 0 {
		return 0, erp.ErrInvalidCursor
	}
	return n, nil
}

// ListStockEvents reads the stock feed from a cursor.
func (s *Server) ListStockEvents(ctx context.Context, req *erpv1.ListStockEventsRequest) (*erpv1.ListStockEventsResponse, error) {
	after, err := decodeCursor(req.GetCursor())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	size := int(aip.ClampPageSize(req.GetPageSize(), defaultEventPage, maxEventPage))
	evs, head, err := s.svc.StockEvents(ctx, after, size)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if after > head {
		// A position this feed never reached: the cursor belongs to
		// another ERP (or a database that was reset).
		return nil, s.fail(ctx, erp.ErrInvalidCursor)
	}
	last := after
	out := &erpv1.ListStockEventsResponse{}
	for _, ev := range evs {
		out.StockEvents = append(out.StockEvents, stockEventToProto(ev))
		last = ev.Seq
	}
	out.NextCursor = encodeCursor(last)
	out.HasMore = last < head
	return out, nil
}

// WatchStockEvents pushes the stock feed from a cursor: the backlog in
// messages of up to 1000 events, then each event as soon as it is
// committed. It waits on the service's commit signal (taken before each
// read, so no commit is missed), never on a timer; the stream ends only
// when the caller goes away (its deadline: consumers bound each stream's
// lifetime), on a read error, or with UNAVAILABLE when the simulator
// stops (WithStopping) or the "down" fault is on (StreamFaults).
func (s *Server) WatchStockEvents(req *erpv1.WatchStockEventsRequest, stream grpc.ServerStreamingServer[erpv1.WatchStockEventsResponse]) error {
	after, err := decodeCursor(req.GetCursor())
	if err != nil {
		return s.fail(stream.Context(), err)
	}
	return watchFeed(stream.Context(), s, after, s.svc.StockFeedChanged, s.svc.StockEvents,
		func(ev erp.StockEvent) int64 { return ev.Seq },
		func(evs []erp.StockEvent, next int64) error {
			out := &erpv1.WatchStockEventsResponse{StockEvents: make([]*erpv1.StockEvent, 0, len(evs)), NextCursor: encodeCursor(next)}
			for _, ev := range evs {
				out.StockEvents = append(out.StockEvents, stockEventToProto(ev))
			}
			return stream.Send(out)
		})
}

// watchFeed is the loop of a Watch* stream over a feed read with read
// from position after: it sends the backlog in pages of maxEventPage, an
// empty first message when there is none, then each new page as soon as
// changed (taken before each read, so no commit is missed) fires. It ends
// when ctx does, on a read or send error, or with UNAVAILABLE when the
// simulator stops.
func watchFeed[E any](ctx context.Context, s *Server, after int64, changed func() <-chan struct{},
	read func(context.Context, int64, int) ([]E, int64, error), seq func(E) int64, send func([]E, int64) error) error {
	first := true
	for {
		wake := changed()
		evs, head, err := read(ctx, after, maxEventPage)
		if err != nil {
			return s.fail(ctx, err)
		}
		if after > head {
			return s.fail(ctx, erp.ErrInvalidCursor)
		}
		if len(evs) > 0 || first {
			if len(evs) > 0 {
				after = seq(evs[len(evs)-1])
			}
			if err := send(evs, after); err != nil {
				return err
			}
			first = false
		}
		if after < head {
			continue // more backlog right now
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return s.fail(ctx, ctx.Err())
		case <-s.stopping:
			return errStopping()
		}
	}
}

// StreamStockSnapshot streams a consistent stock snapshot: header, chunks
// of at most 500 rows, trailer. A resumed stream repeats the header and
// continues after last_received_row with the same rows; SNAPSHOT_EXPIRED
// when the snapshot is no longer held.
func (s *Server) StreamStockSnapshot(req *erpv1.StreamStockSnapshotRequest, stream grpc.ServerStreamingServer[erpv1.StreamStockSnapshotResponse]) error {
	ctx := stream.Context()
	f := erp.StockFilter{Warehouses: req.GetWarehouseCodes(), SKUs: req.GetSkus()}
	var (
		snap erp.Snapshot
		err  error
		skip int64
	)
	if id := req.GetSnapshotId(); id != "" {
		snap, err = s.svc.ResumeStockSnapshot(ctx, id, f)
		skip = req.GetLastReceivedRow()
	} else {
		snap, err = s.svc.StockSnapshot(ctx, f)
	}
	if err != nil {
		return s.fail(ctx, err)
	}
	var total int64
	for _, r := range snap.Rows {
		total += r.OnHand
	}
	rowCount := int64(len(snap.Rows))
	if err := stream.Send(&erpv1.StreamStockSnapshotResponse{Part: &erpv1.StreamStockSnapshotResponse_Header{Header: &erpv1.StockSnapshotHeader{
		SnapshotId:   snap.ID,
		SnapshotTime: ts(snap.AsOf),
		EventCursor:  encodeCursor(snap.FeedSeq),
		RowCount:     rowCount,
	}}}); err != nil {
		return err
	}
	chunk := &erpv1.StockSnapshotChunk{}
	for i := skip; i < rowCount; i++ {
		chunk.Rows = append(chunk.Rows, stockRowToProto(i+1, snap.Rows[i]))
		if len(chunk.Rows) == snapshotChunkRows || i == rowCount-1 {
			if err := stream.Send(&erpv1.StreamStockSnapshotResponse{Part: &erpv1.StreamStockSnapshotResponse_Chunk{Chunk: chunk}}); err != nil {
				return err
			}
			chunk = &erpv1.StockSnapshotChunk{}
		}
	}
	return stream.Send(&erpv1.StreamStockSnapshotResponse{Part: &erpv1.StreamStockSnapshotResponse_Trailer{Trailer: &erpv1.StockSnapshotTrailer{
		RowCount: rowCount, TotalOnHand: total,
	}}})
}

func newExportID(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return prefix + "-" + hex.EncodeToString(b)
}

// StreamCatalogExport streams the product master: header, chunks of at
// most 200 products by SKU, trailer.
func (s *Server) StreamCatalogExport(req *erpv1.StreamCatalogExportRequest, stream grpc.ServerStreamingServer[erpv1.StreamCatalogExportResponse]) error {
	ctx := stream.Context()
	var since time.Time
	if req.GetMinUpdateTime() != nil {
		since = req.GetMinUpdateTime().AsTime()
	}
	asOf := time.Now().UTC()
	products, err := s.svc.Products(ctx, since, req.GetChannel())
	if err != nil {
		return s.fail(ctx, err)
	}
	n := int64(len(products))
	if err := stream.Send(&erpv1.StreamCatalogExportResponse{Part: &erpv1.StreamCatalogExportResponse_Header{Header: &erpv1.ExportHeader{
		ExportId: newExportID("catalog"), SnapshotTime: ts(asOf), ItemCount: n,
	}}}); err != nil {
		return err
	}
	for start := 0; start < len(products); start += catalogChunkSize {
		chunk := &erpv1.CatalogExportChunk{}
		for _, p := range products[start:min(start+catalogChunkSize, len(products))] {
			chunk.Products = append(chunk.Products, productToProto(p))
		}
		if err := stream.Send(&erpv1.StreamCatalogExportResponse{Part: &erpv1.StreamCatalogExportResponse_Chunk{Chunk: chunk}}); err != nil {
			return err
		}
	}
	return stream.Send(&erpv1.StreamCatalogExportResponse{Part: &erpv1.StreamCatalogExportResponse_Trailer{Trailer: &erpv1.ExportTrailer{ItemCount: n}}})
}

// StreamPriceExport streams price lists and their list prices (price lists
// first), at most 500 records per chunk, then, when asked, the ERP's
// contracts and the demo promotions and channel rules (pricerules.go) in a
// last chunk;
// its records are open-ended, so min_effective_end_time filters nothing.
func (s *Server) StreamPriceExport(req *erpv1.StreamPriceExportRequest, stream grpc.ServerStreamingServer[erpv1.StreamPriceExportResponse]) error {
	ctx := stream.Context()
	asOf := time.Now().UTC()
	exp, err := s.svc.Prices(ctx, req.GetPriceListIds())
	if err != nil {
		return s.fail(ctx, err)
	}
	currency := map[string]string{}
	for _, pl := range exp.PriceLists {
		currency[pl.ID] = pl.Currency
	}
	var contracts []erp.Contract
	if req.GetIncludeContracts() {
		if contracts, err = s.svc.Contracts(ctx); err != nil {
			return s.fail(ctx, err)
		}
	}
	rules := &erpv1.PriceExportChunk{}
	n := int64(len(exp.PriceLists)+len(exp.ListPrices)) + appendPriceRules(req, contracts, rules)
	if err := stream.Send(&erpv1.StreamPriceExportResponse{Part: &erpv1.StreamPriceExportResponse_Header{Header: &erpv1.ExportHeader{
		ExportId: newExportID("prices"), SnapshotTime: ts(asOf), ItemCount: n,
	}}}); err != nil {
		return err
	}
	chunk, records := &erpv1.PriceExportChunk{}, 0
	flush := func() error {
		if records == 0 {
			return nil
		}
		err := stream.Send(&erpv1.StreamPriceExportResponse{Part: &erpv1.StreamPriceExportResponse_Chunk{Chunk: chunk}})
		chunk, records = &erpv1.PriceExportChunk{}, 0
		return err
	}
	for _, pl := range exp.PriceLists {
		chunk.PriceLists = append(chunk.PriceLists, priceListToProto(pl))
		if records++; records == priceChunkRecords {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	for _, lp := range exp.ListPrices {
		chunk.ListPrices = append(chunk.ListPrices, listPriceToProto(lp, currency[lp.PriceListID]))
		if records++; records == priceChunkRecords {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if len(rules.GetContracts())+len(rules.GetPromotions())+len(rules.GetChannelRules()) > 0 {
		if err := stream.Send(&erpv1.StreamPriceExportResponse{Part: &erpv1.StreamPriceExportResponse_Chunk{Chunk: rules}}); err != nil {
			return err
		}
	}
	return stream.Send(&erpv1.StreamPriceExportResponse{Part: &erpv1.StreamPriceExportResponse_Trailer{Trailer: &erpv1.ExportTrailer{ItemCount: n}}})
}

// PostJournalBatch posts a journal batch idempotently on its id and line
// hashes.
func (s *Server) PostJournalBatch(ctx context.Context, req *erpv1.PostJournalBatchRequest) (*erpv1.PostJournalBatchResponse, error) {
	b, err := journalBatchFromProto(req.GetJournalBatchId(), req.GetJournalBatch())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := uniqueLineIDs(b); err != nil {
		return nil, err
	}
	got, dup, err := s.svc.PostJournalBatch(ctx, b)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	s.metrics.posted(got, dup)
	jb, err := journalBatchToProto(got)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	posted, rejected, duplicate := got.Counts()
	return &erpv1.PostJournalBatchResponse{
		JournalBatch:   jb,
		Duplicate:      dup,
		PostedCount:    int32(posted),
		RejectedCount:  int32(rejected),
		DuplicateCount: int32(duplicate),
	}, nil
}

// GetJournalBatch returns a posted journal batch with its results.
func (s *Server) GetJournalBatch(ctx context.Context, req *erpv1.GetJournalBatchRequest) (*erpv1.JournalBatch, error) {
	b, err := s.svc.JournalBatch(ctx, idFromName(req.GetName(), "journalBatches"))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out, err := journalBatchToProto(b)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return out, nil
}

var errDuplicateLineID = errors.New("duplicate line id")

func uniqueLineIDs(b erp.JournalBatch) error {
	seen := map[string]bool{}
	for i, l := range b.Lines {
		if seen[l.LineID] {
			return invalidField(fmt.Sprintf("journal_batch.lines[%d].line_id", i), fmt.Sprintf("%v %q: line ids must be unique within the batch", errDuplicateLineID, l.LineID))
		}
		seen[l.LineID] = true
	}
	return nil
}
