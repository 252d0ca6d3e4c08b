package app_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
)

// fakeERP serves StreamCatalogExport and StreamPriceExport from fixed
// data, and answers UNAVAILABLE while down.
type fakeERP struct {
	erpv1.UnimplementedErpAdapterServiceServer
	down         atomic.Bool
	catalogCalls atomic.Int32
	priceCalls   atomic.Int32

	mu       sync.Mutex
	products []*erpv1.Product
	lists    []*erpv1.PriceList
	prices   []*erpv1.ListPrice
}

// Demo-like data: nProducts SKUs "SKU-0000n", all ACTIVE on every channel
// except SKU-00003 (discontinued); PL-EUR for all channels at
// standardPrice(n), PL-B2B-EUR for b2b at 90 %.
const nProducts = 5

func standardPrice(n int) int64 { return 1000 + int64(n)*250 }

func sku(n int) string { return fmt.Sprintf("SKU-%05d", n) }

func newFakeERP() *fakeERP {
	f := &fakeERP{}
	for n := 1; n <= nProducts; n++ {
		p := &erpv1.Product{
			Sku: sku(n), Title: fmt.Sprintf("Drill %d", n), BaseUnit: "EA", SalesState: erpv1.Product_SALES_STATE_ACTIVE,
			Category:   "Tools > Power tools > Drills",
			Attributes: []*erpv1.ProductAttribute{{Key: "brand", Value: "Makita"}, {Key: "weight", Value: "1.25", Unit: "kg"}},
		}
		if n == 3 {
			p.SalesState = erpv1.Product_SALES_STATE_DISCONTINUED
		}
		f.products = append(f.products, p)
		f.prices = append(f.prices,
			&erpv1.ListPrice{PriceListId: "PL-EUR", Sku: sku(n), Unit: "EA", UnitPrice: eur(standardPrice(n))},
			&erpv1.ListPrice{PriceListId: "PL-B2B-EUR", Sku: sku(n), Unit: "EA", UnitPrice: eur(standardPrice(n) * 9 / 10)},
		)
	}
	f.lists = []*erpv1.PriceList{
		{PriceListId: "PL-EUR", DisplayName: "Standard list EUR", CurrencyCode: "EUR"},
		{PriceListId: "PL-B2B-EUR", DisplayName: "B2B list EUR", CurrencyCode: "EUR", Channels: []string{"b2b"}},
	}
	return f
}

func eur(minor int64) *commonv1.Money {
	return &commonv1.Money{AmountMinor: minor, CurrencyCode: "EUR"}
}

func (f *fakeERP) StreamCatalogExport(_ *erpv1.StreamCatalogExportRequest, stream grpc.ServerStreamingServer[erpv1.StreamCatalogExportResponse]) error {
	f.catalogCalls.Add(1)
	if f.down.Load() {
		return status.Error(codes.Unavailable, "erp down")
	}
	f.mu.Lock()
	ps := append([]*erpv1.Product(nil), f.products...)
	f.mu.Unlock()
	n := int64(len(ps))
	if err := stream.Send(&erpv1.StreamCatalogExportResponse{Part: &erpv1.StreamCatalogExportResponse_Header{
		Header: &erpv1.ExportHeader{ExportId: "cat-export", ItemCount: n}}}); err != nil {
		return err
	}
	for i := 0; i < len(ps); i += 2 {
		chunk := ps[i:min(i+2, len(ps))]
		if err := stream.Send(&erpv1.StreamCatalogExportResponse{Part: &erpv1.StreamCatalogExportResponse_Chunk{
			Chunk: &erpv1.CatalogExportChunk{Products: chunk}}}); err != nil {
			return err
		}
	}
	return stream.Send(&erpv1.StreamCatalogExportResponse{Part: &erpv1.StreamCatalogExportResponse_Trailer{
		Trailer: &erpv1.ExportTrailer{ItemCount: n}}})
}

func (f *fakeERP) StreamPriceExport(_ *erpv1.StreamPriceExportRequest, stream grpc.ServerStreamingServer[erpv1.StreamPriceExportResponse]) error {
	f.priceCalls.Add(1)
	if f.down.Load() {
		return status.Error(codes.Unavailable, "erp down")
	}
	f.mu.Lock()
	lists, prices := f.lists, f.prices
	f.mu.Unlock()
	n := int64(len(lists) + len(prices))
	if err := stream.Send(&erpv1.StreamPriceExportResponse{Part: &erpv1.StreamPriceExportResponse_Header{
		Header: &erpv1.ExportHeader{ExportId: "price-export", ItemCount: n}}}); err != nil {
		return err
	}
	if err := stream.Send(&erpv1.StreamPriceExportResponse{Part: &erpv1.StreamPriceExportResponse_Chunk{
		Chunk: &erpv1.PriceExportChunk{PriceLists: lists, ListPrices: prices}}}); err != nil {
		return err
	}
	return stream.Send(&erpv1.StreamPriceExportResponse{Part: &erpv1.StreamPriceExportResponse_Trailer{
		Trailer: &erpv1.ExportTrailer{ItemCount: n}}})
}

// dialBuf returns a client connection to a bufconn listener.
func dialBuf(t testing.TB, lis *bufconn.Listener) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///catalog-pricing",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
