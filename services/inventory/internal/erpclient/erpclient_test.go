package erpclient_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/inventory/internal/erpclient"
	"github.com/transload/transload/services/inventory/internal/inventory"
)

// scriptedERP streams a fixed message sequence, then ends with err.
type scriptedERP struct {
	erpv1.UnimplementedErpAdapterServiceServer
	msgs []*erpv1.StreamStockSnapshotResponse
	err  error
}

func (s *scriptedERP) StreamStockSnapshot(_ *erpv1.StreamStockSnapshotRequest, stream grpc.ServerStreamingServer[erpv1.StreamStockSnapshotResponse]) error {
	for _, m := range s.msgs {
		if err := stream.Send(m); err != nil {
			return err
		}
	}
	return s.err
}

func (s *scriptedERP) ListWarehouses(context.Context, *erpv1.ListWarehousesRequest) (*erpv1.ListWarehousesResponse, error) {
	if s.err != nil {
		return nil, s.err
	}
	return &erpv1.ListWarehousesResponse{Warehouses: []*erpv1.Warehouse{{Name: "bad-name"}}}, nil
}

func client(t *testing.T, srv erpv1.ErpAdapterServiceServer) *erpclient.Client {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	erpv1.RegisterErpAdapterServiceServer(gs, srv)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient("passthrough:///erp", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return erpclient.New(conn)
}

func header(rows int64) *erpv1.StreamStockSnapshotResponse {
	return &erpv1.StreamStockSnapshotResponse{Part: &erpv1.StreamStockSnapshotResponse_Header{
		Header: &erpv1.StockSnapshotHeader{SnapshotId: "s1", RowCount: rows},
	}}
}

func chunk(rows ...*erpv1.StockSnapshotRow) *erpv1.StreamStockSnapshotResponse {
	return &erpv1.StreamStockSnapshotResponse{Part: &erpv1.StreamStockSnapshotResponse_Chunk{Chunk: &erpv1.StockSnapshotChunk{Rows: rows}}}
}

func trailer(rows, total int64) *erpv1.StreamStockSnapshotResponse {
	return &erpv1.StreamStockSnapshotResponse{Part: &erpv1.StreamStockSnapshotResponse_Trailer{
		Trailer: &erpv1.StockSnapshotTrailer{RowCount: rows, TotalOnHand: total},
	}}
}

// bigRows are 9300 rows of MaxStockQuantity on-hand each: their sum is
// beyond int64, and wrappedTotal is what it wraps to.
var bigRows, wrappedTotal = func() ([]*erpv1.StockSnapshotRow, int64) {
	var rows []*erpv1.StockSnapshotRow
	var total int64
	for i := range 9300 {
		rows = append(rows, &erpv1.StockSnapshotRow{RowNumber: int64(i + 1), Sku: "S", WarehouseCode: "W", OnHand: inventory.MaxStockQuantity})
		total += inventory.MaxStockQuantity
	}
	return rows, total
}()

func TestStockSnapshot(t *testing.T) {
	t.Parallel()
	r1 := &erpv1.StockSnapshotRow{RowNumber: 1, Sku: "A", WarehouseCode: "W", OnHand: 5, SourceSequence: 9}
	r2 := &erpv1.StockSnapshotRow{RowNumber: 2, Sku: "B", WarehouseCode: "W", OnHand: 7}
	tests := []struct {
		name    string
		erp     *scriptedERP
		wantErr bool
	}{
		{"complete", &scriptedERP{msgs: []*erpv1.StreamStockSnapshotResponse{header(2), chunk(r1), chunk(r2), trailer(2, 12)}}, false},
		{"no trailer", &scriptedERP{msgs: []*erpv1.StreamStockSnapshotResponse{header(2), chunk(r1, r2)}}, true},
		{"broken mid-stream", &scriptedERP{msgs: []*erpv1.StreamStockSnapshotResponse{header(2), chunk(r1)}, err: status.Error(codes.Unavailable, "gone")}, true},
		{"row count mismatch", &scriptedERP{msgs: []*erpv1.StreamStockSnapshotResponse{header(2), chunk(r1), trailer(2, 5)}}, true},
		{"total mismatch", &scriptedERP{msgs: []*erpv1.StreamStockSnapshotResponse{header(2), chunk(r1, r2), trailer(2, 13)}}, true},
		{"chunk before header", &scriptedERP{msgs: []*erpv1.StreamStockSnapshotResponse{chunk(r1), header(1), trailer(1, 5)}}, true},
		// Rows the erp.v1 contract forbids, with a trailer that agrees:
		// negative on-hand, inbound of quantity <= 0, and on-hand whose sum
		// wraps int64 to exactly the trailer's total.
		{"negative on-hand", &scriptedERP{msgs: []*erpv1.StreamStockSnapshotResponse{header(2), chunk(r1,
			&erpv1.StockSnapshotRow{RowNumber: 2, Sku: "B", WarehouseCode: "W", OnHand: -5}), trailer(2, 0)}}, true},
		{"zero inbound", &scriptedERP{msgs: []*erpv1.StreamStockSnapshotResponse{header(1), chunk(&erpv1.StockSnapshotRow{
			RowNumber: 1, Sku: "A", WarehouseCode: "W", OnHand: 5, Inbound: []*erpv1.InboundSupply{{Quantity: 0, Reference: "PO-1"}}}), trailer(1, 5)}}, true},
		{"negative inbound", &scriptedERP{msgs: []*erpv1.StreamStockSnapshotResponse{header(1), chunk(&erpv1.StockSnapshotRow{
			RowNumber: 1, Sku: "A", WarehouseCode: "W", OnHand: 5, Inbound: []*erpv1.InboundSupply{{Quantity: 3}, {Quantity: -3}}}), trailer(1, 5)}}, true},
		{"on-hand beyond the bound", &scriptedERP{msgs: []*erpv1.StreamStockSnapshotResponse{header(1), chunk(&erpv1.StockSnapshotRow{
			RowNumber: 1, Sku: "A", WarehouseCode: "W", OnHand: inventory.MaxStockQuantity + 1}), trailer(1, inventory.MaxStockQuantity+1)}}, true},
		{"on-hand sum wraps", &scriptedERP{msgs: []*erpv1.StreamStockSnapshotResponse{header(int64(len(bigRows))), chunk(bigRows...),
			trailer(int64(len(bigRows)), wrappedTotal)}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			snap, err := client(t, tc.erp).StockSnapshot(t.Context())
			if tc.wantErr {
				if !errors.Is(err, inventory.ErrDependencyUnavailable) {
					t.Fatalf("error = %v, want ErrDependencyUnavailable", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []inventory.InitialStock{
				{SKU: "A", WarehouseCode: "W", OnHand: 5, SourceSequence: 9},
				{SKU: "B", WarehouseCode: "W", OnHand: 7},
			}
			if diff := cmp.Diff(want, snap.Rows); diff != "" || snap.ID != "s1" {
				t.Errorf("snapshot %s rows (-want +got):\n%s", snap.ID, diff)
			}
		})
	}
}

func TestListWarehousesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"ERP down", status.Error(codes.Unavailable, "down"), true},
		{"ERP too slow", status.Error(codes.DeadlineExceeded, "slow"), true},
		{"ERP failing", status.Error(codes.Internal, "boom"), true},
		{"ERP overloaded", status.Error(codes.ResourceExhausted, "busy"), true},
		{"conflict", status.Error(codes.Aborted, "retry"), true},
		{"rejected request", status.Error(codes.InvalidArgument, "bad page size"), false},
		{"not allowed", status.Error(codes.PermissionDenied, "no"), false},
		{"malformed warehouse name", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := client(t, &scriptedERP{err: tc.err}).ListWarehouses(t.Context())
			if err == nil {
				t.Fatal("ListWarehouses succeeded")
			}
			if got := errors.Is(err, inventory.ErrDependencyUnavailable); got != tc.unavailable {
				t.Errorf("error %v: ErrDependencyUnavailable = %t, want %t", err, got, tc.unavailable)
			}
		})
	}
}

// watchERP pushes fixed messages on WatchStockEvents, then ends with err,
// or with hold waits for the caller to go away.
type watchERP struct {
	erpv1.UnimplementedErpAdapterServiceServer
	msgs []*erpv1.WatchStockEventsResponse
	err  error
	hold bool
}

func (w *watchERP) WatchStockEvents(_ *erpv1.WatchStockEventsRequest, stream grpc.ServerStreamingServer[erpv1.WatchStockEventsResponse]) error {
	for _, m := range w.msgs {
		if err := stream.Send(m); err != nil {
			return err
		}
	}
	if w.hold {
		<-stream.Context().Done()
		return stream.Context().Err()
	}
	return w.err
}

func TestWatchStockEvents(t *testing.T) {
	t.Parallel()
	shipped := &erpv1.StockEvent{EventId: "e2", Sku: "A", WarehouseCode: "W", Kind: erpv1.StockEvent_KIND_SHIPMENT, Quantity: -3, SourceSequence: 2}
	msgs := []*erpv1.WatchStockEventsResponse{
		{NextCursor: "c0"},
		{StockEvents: []*erpv1.StockEvent{{EventId: "e1", Sku: "A", WarehouseCode: "W", Kind: erpv1.StockEvent_KIND_RECEIPT, Quantity: 5, SourceSequence: 1}, shipped}, NextCursor: "c2"},
	}
	expired := apierr.Error(codes.FailedPrecondition, erpv1.ErrorReason_ERROR_REASON_CURSOR_EXPIRED, "expired", nil)
	tests := []struct {
		name    string
		erp     *watchERP
		pages   int
		wantErr error
	}{
		{"delivered until the stream breaks", &watchERP{msgs: msgs, err: status.Error(codes.Unavailable, "restart")}, 2, inventory.ErrDependencyUnavailable},
		{"open until the caller's deadline", &watchERP{msgs: msgs, hold: true}, 2, inventory.ErrDependencyUnavailable},
		{"an end without error is a failure", &watchERP{msgs: msgs}, 2, inventory.ErrDependencyUnavailable},
		{"cannot push", &watchERP{err: status.Error(codes.Unimplemented, "no")}, 0, inventory.ErrPushUnsupported},
		{"cursor expired", &watchERP{err: expired}, 0, inventory.ErrCursorExpired},
		{"message without cursor", &watchERP{msgs: []*erpv1.WatchStockEventsResponse{{}}}, 0, inventory.ErrDependencyUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			var pages []inventory.FeedPage
			err := client(t, tc.erp).WatchStockEvents(ctx, "c0", func(p inventory.FeedPage) error {
				pages = append(pages, p)
				return nil
			})
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("error = %v, want %v", err, tc.wantErr)
			}
			if len(pages) != tc.pages {
				t.Fatalf("%d pages delivered, want %d", len(pages), tc.pages)
			}
			if tc.pages == 2 {
				got := pages[1]
				if got.NextCursor != "c2" || len(got.Events) != 2 || got.Events[1].Kind != inventory.KindShipment || got.Events[1].Quantity != 3 {
					t.Errorf("second page = %+v; want cursor c2 and the shipment as a positive magnitude", got)
				}
			}
		})
	}

	// deliver's error ends the stream and is returned as it is.
	stop := errors.New("stop")
	err := client(t, &watchERP{msgs: msgs, hold: true}).WatchStockEvents(t.Context(), "c0", func(inventory.FeedPage) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("error = %v, want deliver's", err)
	}
}
