package erpclient_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/erpclient"
	"github.com/transload/transload/services/catalog-pricing/internal/erpsync"
	"github.com/transload/transload/services/catalog-pricing/internal/erptest"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// scriptedERP sends exactly the messages it is given, then ends the stream
// with err; with hang set it sends nothing and waits for the call to end.
type scriptedERP struct {
	erpv1.UnimplementedErpAdapterServiceServer
	catalog []*erpv1.StreamCatalogExportResponse
	prices  []*erpv1.StreamPriceExportResponse
	err     error
	hang    bool
}

func (s *scriptedERP) StreamCatalogExport(_ *erpv1.StreamCatalogExportRequest, st grpc.ServerStreamingServer[erpv1.StreamCatalogExportResponse]) error {
	return s.send(st.Context(), len(s.catalog), func(i int) error { return st.Send(s.catalog[i]) })
}

func (s *scriptedERP) StreamPriceExport(_ *erpv1.StreamPriceExportRequest, st grpc.ServerStreamingServer[erpv1.StreamPriceExportResponse]) error {
	return s.send(st.Context(), len(s.prices), func(i int) error { return st.Send(s.prices[i]) })
}

func (s *scriptedERP) send(ctx context.Context, n int, send func(i int) error) error {
	if s.hang {
		<-ctx.Done()
		return ctx.Err()
	}
	for i := range n {
		if err := send(i); err != nil {
			return err
		}
	}
	return s.err
}

// exportTimeout is the stream budget of the test connections.
const exportTimeout = 5 * time.Second

// client serves erp over bufconn and returns a client on a connection
// dialed as the service dials it, with the given export budget.
func client(t *testing.T, erp erpv1.ErpAdapterServiceServer, budget ...time.Duration) *erpclient.Client {
	t.Helper()
	d := exportTimeout
	if len(budget) > 0 {
		d = budget[0]
	}
	opts := append(erpclient.Options(d), grpcclient.WithDialOptions(erptest.Serve(t, erp)))
	conn, err := grpcclient.Dial("passthrough:///erp", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return erpclient.New(conn, []string{"web", "b2b"})
}

func catHeader(n int64) *erpv1.StreamCatalogExportResponse {
	return &erpv1.StreamCatalogExportResponse{Part: &erpv1.StreamCatalogExportResponse_Header{Header: &erpv1.ExportHeader{ExportId: "x", ItemCount: n}}}
}

func catChunk(ps ...*erpv1.Product) *erpv1.StreamCatalogExportResponse {
	return &erpv1.StreamCatalogExportResponse{Part: &erpv1.StreamCatalogExportResponse_Chunk{Chunk: &erpv1.CatalogExportChunk{Products: ps}}}
}

func catTrailer(n int64) *erpv1.StreamCatalogExportResponse {
	return &erpv1.StreamCatalogExportResponse{Part: &erpv1.StreamCatalogExportResponse_Trailer{Trailer: &erpv1.ExportTrailer{ItemCount: n}}}
}

func TestFetchCatalogMapsProducts(t *testing.T) {
	erp := &scriptedERP{catalog: []*erpv1.StreamCatalogExportResponse{
		catHeader(2),
		catChunk(&erpv1.Product{
			Sku: "SKU-1", Title: "Drill", Description: "d", BaseUnit: "ea", SalesState: erpv1.Product_SALES_STATE_ACTIVE,
			Category: "Tools > Power tools > Drills", Gtin: "4006381333931",
			Attributes: []*erpv1.ProductAttribute{{Key: "brand", Value: "Bosch"}, {Key: "weight", Value: "1.8", Unit: "kg"}, {Key: "Colour", Value: "blue"}},
		}),
		catChunk(&erpv1.Product{Sku: "SKU-2", Title: "Saw", BaseUnit: "EA", SalesState: erpv1.Product_SALES_STATE_INACTIVE,
			Channels: []string{"b2b"}}),
		catTrailer(2),
	}}
	got, err := client(t, erp).FetchCatalog(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []catalog.Product{
		{SKU: "SKU-1", Title: "Drill", Description: "d", BaseUnit: "EA", PackSize: 1, Status: catalog.StatusActive,
			Category: "tools/power-tools/drills", GTIN: "4006381333931", Brand: "Bosch", WeightGrams: 1800,
			Channels:   []string{"web", "b2b"},
			Attributes: []catalog.Attribute{{Key: "brand", Value: "Bosch"}, {Key: "weight_kg", Value: "1.8"}, {Key: "colour", Value: "blue"}}},
		{SKU: "SKU-2", Title: "Saw", BaseUnit: "EA", PackSize: 1, Status: catalog.StatusOnHold, Channels: []string{"b2b"}},
	}
	if diff := cmp.Diff(want, got.Products); diff != "" {
		t.Fatalf("products (-want +got):\n%s", diff)
	}
	for _, p := range got.Products {
		if err := p.Validate(); err != nil {
			t.Errorf("mapped product %s is invalid: %v", p.SKU, err)
		}
	}
}

func TestFetchRejectsIncompleteExports(t *testing.T) {
	p := &erpv1.Product{Sku: "SKU-1", Title: "x", BaseUnit: "EA"}
	cases := map[string][]*erpv1.StreamCatalogExportResponse{
		"no trailer":           {catHeader(1), catChunk(p)},
		"fewer than announced": {catHeader(2), catChunk(p), catTrailer(2)},
		"trailer mismatch":     {catHeader(1), catChunk(p), catTrailer(3)},
		"no header":            {catChunk(p), catTrailer(1)},
	}
	for name, msgs := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := client(t, &scriptedERP{catalog: msgs}).FetchCatalog(t.Context())
			if !errors.Is(err, erpsync.ErrIncomplete) {
				t.Fatalf("err = %v, want ErrIncomplete", err)
			}
		})
	}
}

func TestFetchMapsTransportErrors(t *testing.T) {
	cases := []struct {
		code codes.Code
		want error
	}{
		{codes.Unavailable, erpsync.ErrUnavailable},
		{codes.DeadlineExceeded, erpsync.ErrUnavailable},
		{codes.ResourceExhausted, erpsync.ErrUnavailable},
		{codes.Internal, erpsync.ErrUnavailable},
		{codes.DataLoss, erpsync.ErrUnavailable},
		{codes.Aborted, erpsync.ErrUnavailable},
		{codes.NotFound, erpsync.ErrRejected},
		{codes.InvalidArgument, erpsync.ErrRejected},
		{codes.FailedPrecondition, erpsync.ErrRejected},
		{codes.Unimplemented, erpsync.ErrRejected},
	}
	for _, c := range cases {
		t.Run(c.code.String(), func(t *testing.T) {
			c2 := client(t, &scriptedERP{err: status.Error(c.code, "boom")})
			if _, err := c2.FetchCatalog(t.Context()); !errors.Is(err, c.want) {
				t.Errorf("catalog: %v, want %v", err, c.want)
			}
			if _, err := c2.FetchPrices(t.Context()); !errors.Is(err, c.want) {
				t.Errorf("prices: %v, want %v", err, c.want)
			}
		})
	}
}

// TestExportDeadlineFromTheConnection: an ERP that never answers is cut
// off by the connection's export budget and reported as unavailable,
// while a caller that gives up gets its own cancellation back, not an ERP
// verdict.
func TestExportDeadlineFromTheConnection(t *testing.T) {
	c := client(t, &scriptedERP{hang: true}, 100*time.Millisecond)
	// No deadline of the caller's own (it would replace the connection's):
	// a guard cancels the call if the budget never applies.
	ctx, cancel := context.WithCancel(t.Context())
	defer time.AfterFunc(10*time.Second, cancel).Stop()
	_, err := c.FetchCatalog(ctx)
	if !errors.Is(err, erpsync.ErrUnavailable) || status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("hanging ERP: %v, want ErrUnavailable after DEADLINE_EXCEEDED", err)
	}

	gone, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = client(t, &scriptedERP{hang: true}).FetchPrices(gone)
	if errors.Is(err, erpsync.ErrUnavailable) || errors.Is(err, erpsync.ErrRejected) || status.Code(err) != codes.Canceled {
		t.Fatalf("cancelled caller: %v, want its own cancellation, not an ERP verdict", err)
	}
}
func eur(m int64) *commonv1.Money { return &commonv1.Money{AmountMinor: m, CurrencyCode: "EUR"} }

func TestFetchPricesSplitsChannelsAndSkipsUnsupported(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lists := []*erpv1.PriceList{
		{PriceListId: "PL-EUR", DisplayName: "Standard", CurrencyCode: "EUR"},
		{PriceListId: "PL-MP", CurrencyCode: "EUR", Channels: []string{"amazon", "ebay"}},
	}
	lps := []*erpv1.ListPrice{
		{PriceListId: "PL-EUR", Sku: "A", UnitPrice: eur(1000), QuantityBreaks: []*erpv1.QuantityBreak{{MinQuantity: 10, UnitPrice: eur(900)}}},
		{PriceListId: "PL-MP", Sku: "A", UnitPrice: eur(1100)},
		{PriceListId: "PL-EUR", Sku: "B", UnitPrice: eur(500), Channel: "web"},
		{PriceListId: "PL-EUR", Sku: "C", UnitPrice: eur(500), EffectiveStartTime: timestamp(start)},
	}
	n := int64(len(lists) + len(lps))
	erp := &scriptedERP{prices: []*erpv1.StreamPriceExportResponse{
		{Part: &erpv1.StreamPriceExportResponse_Header{Header: &erpv1.ExportHeader{ExportId: "p", ItemCount: n}}},
		{Part: &erpv1.StreamPriceExportResponse_Chunk{Chunk: &erpv1.PriceExportChunk{PriceLists: lists, ListPrices: lps}}},
		{Part: &erpv1.StreamPriceExportResponse_Trailer{Trailer: &erpv1.ExportTrailer{ItemCount: n}}},
	}}
	got, err := client(t, erp).FetchPrices(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wantLists := []pricing.PriceList{
		{ID: "PL-EUR", DisplayName: "Standard", Currency: "EUR"},
		{ID: "PL-MP", DisplayName: "PL-MP", Currency: "EUR", Channel: "amazon"},
		{ID: "PL-MP.ebay", DisplayName: "PL-MP", Currency: "EUR", Channel: "ebay"},
	}
	if diff := cmp.Diff(wantLists, got.Lists); diff != "" {
		t.Errorf("lists (-want +got):\n%s", diff)
	}
	wantRows := map[string][]pricing.PriceRow{
		"PL-EUR":     {{RowNumber: 1, SKU: "A", UnitMinor: 1000, Currency: "EUR", Breaks: []pricing.Break{{MinQuantity: 10, UnitMinor: 900}}, BreakCurrencies: []string{"EUR"}}},
		"PL-MP":      {{RowNumber: 1, SKU: "A", UnitMinor: 1100, Currency: "EUR"}},
		"PL-MP.ebay": {{RowNumber: 1, SKU: "A", UnitMinor: 1100, Currency: "EUR"}},
	}
	if diff := cmp.Diff(wantRows, got.Rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if got.Skipped != 2 {
		t.Errorf("skipped = %d, want 2 (own channel, own window)", got.Skipped)
	}
}

func TestCategory(t *testing.T) {
	for in, want := range map[string]string{
		"Tools > Power tools > Drills":         "tools/power-tools/drills",
		"Safety > Eyewear":                     "safety/eyewear",
		"  Électrique & Co > LED ":             "electrique-co/led",
		"Werkzeug > Schraubendreher für Möbel": "werkzeug/schraubendreher-fuer-moebel",
		"":                                     "",
	} {
		if got := erpclient.Category(in); got != want {
			t.Errorf("Category(%q) = %q, want %q", in, got, want)
		}
	}
}

func timestamp(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }
