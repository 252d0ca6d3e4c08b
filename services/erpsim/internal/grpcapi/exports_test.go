package grpcapi_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/services/erpsim/internal/erp"
)

// exports is everything a consumer imports from a fresh erpsim.
type exports struct {
	Products   []*erpv1.Product
	PriceLists []*erpv1.PriceList
	ListPrices []*erpv1.ListPrice
	Rows       []*erpv1.StockSnapshotRow
	Warehouses []*erpv1.Warehouse
	Customers  []*erpv1.Customer
}

func catalogExport(t *testing.T, e *env, req *erpv1.StreamCatalogExportRequest) []*erpv1.Product {
	t.Helper()
	stream, err := e.client.StreamCatalogExport(callCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	msgs := recvAll(t, stream.Recv)
	if len(msgs) < 2 || msgs[0].GetHeader() == nil || msgs[len(msgs)-1].GetTrailer() == nil {
		t.Fatalf("catalog stream is not header, chunks, trailer: %d messages", len(msgs))
	}
	var out []*erpv1.Product
	for _, m := range msgs[1 : len(msgs)-1] {
		if n := len(m.GetChunk().GetProducts()); n == 0 || n > 200 {
			t.Errorf("catalog chunk with %d products", n)
		}
		out = append(out, m.GetChunk().GetProducts()...)
	}
	if h, tr := msgs[0].GetHeader(), msgs[len(msgs)-1].GetTrailer(); h.GetItemCount() != int64(len(out)) || tr.GetItemCount() != int64(len(out)) ||
		h.GetExportId() == "" || h.GetSnapshotTime() == nil {
		t.Errorf("catalog header %v / trailer %v for %d products", h, tr, len(out))
	}
	return out
}

func priceExport(t *testing.T, e *env, req *erpv1.StreamPriceExportRequest) ([]*erpv1.PriceList, []*erpv1.ListPrice) {
	t.Helper()
	stream, err := e.client.StreamPriceExport(callCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	msgs := recvAll(t, stream.Recv)
	if len(msgs) < 2 || msgs[0].GetHeader() == nil || msgs[len(msgs)-1].GetTrailer() == nil {
		t.Fatalf("price stream is not header, chunks, trailer: %d messages", len(msgs))
	}
	var (
		pls   []*erpv1.PriceList
		lps   []*erpv1.ListPrice
		rules int
		seen  = map[string]bool{}
	)
	for _, m := range msgs[1 : len(msgs)-1] {
		c := m.GetChunk()
		if n := len(c.GetPriceLists()) + len(c.GetListPrices()) + len(c.GetContracts()) + len(c.GetPromotions()) + len(c.GetChannelRules()); n == 0 || n > 500 {
			t.Errorf("price chunk with %d records", n)
		}
		for _, pl := range c.GetPriceLists() {
			seen[pl.GetPriceListId()] = true
		}
		for _, lp := range c.GetListPrices() {
			if !seen[lp.GetPriceListId()] {
				t.Fatalf("list price for %s before its price list", lp.GetPriceListId())
			}
		}
		pls, lps = append(pls, c.GetPriceLists()...), append(lps, c.GetListPrices()...)
		rules += len(c.GetContracts()) + len(c.GetPromotions()) + len(c.GetChannelRules())
	}
	if n := int64(len(pls) + len(lps) + rules); msgs[0].GetHeader().GetItemCount() != n || msgs[len(msgs)-1].GetTrailer().GetItemCount() != n {
		t.Errorf("price header/trailer counts do not match %d records", n)
	}
	return pls, lps
}

func snapshot(t *testing.T, e *env, req *erpv1.StreamStockSnapshotRequest) (*erpv1.StockSnapshotHeader, []*erpv1.StockSnapshotRow, *erpv1.StockSnapshotTrailer) {
	t.Helper()
	stream, err := e.client.StreamStockSnapshot(callCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	msgs := recvAll(t, stream.Recv)
	if len(msgs) < 2 || msgs[0].GetHeader() == nil || msgs[len(msgs)-1].GetTrailer() == nil {
		t.Fatalf("snapshot stream is not header, chunks, trailer: %d messages", len(msgs))
	}
	var rows []*erpv1.StockSnapshotRow
	for _, m := range msgs[1 : len(msgs)-1] {
		if n := len(m.GetChunk().GetRows()); n == 0 || n > 500 {
			t.Errorf("snapshot chunk with %d rows", n)
		}
		rows = append(rows, m.GetChunk().GetRows()...)
	}
	return msgs[0].GetHeader(), rows, msgs[len(msgs)-1].GetTrailer()
}

func readExports(t *testing.T, e *env) exports {
	var x exports
	x.Products = catalogExport(t, e, &erpv1.StreamCatalogExportRequest{})
	x.PriceLists, x.ListPrices = priceExport(t, e, &erpv1.StreamPriceExportRequest{IncludeContracts: true, IncludePromotions: true, IncludeChannelRules: true})
	_, x.Rows, _ = snapshot(t, e, &erpv1.StreamStockSnapshotRequest{})
	whs, err := e.client.ListWarehouses(callCtx(t), &erpv1.ListWarehousesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	x.Warehouses = whs.GetWarehouses()
	cs, err := e.client.ListCustomers(callCtx(t), &erpv1.ListCustomersRequest{PageSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	x.Customers = cs.GetCustomers()
	return x
}

func TestSeedDeterminism(t *testing.T) {
	t.Parallel()
	a, b := readExports(t, newEnv(t)), readExports(t, newEnv(t))
	if diff := cmp.Diff(a, b, protocmp.Transform()); diff != "" {
		t.Errorf("two fresh simulators export different data (-first +second):\n%s", diff)
	}
	if len(a.Products) != erp.DemoSKUs || len(a.Rows) != erp.DemoSKUs*3 || len(a.ListPrices) != 2*erp.DemoSKUs || len(a.Customers) != erp.DemoCustomers {
		t.Errorf("export sizes: %d products, %d rows, %d list prices, %d customers", len(a.Products), len(a.Rows), len(a.ListPrices), len(a.Customers))
	}
}

func TestCatalogExport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	products := catalogExport(t, e, &erpv1.StreamCatalogExportRequest{Channel: "web"})
	if len(products) != erp.DemoSKUs {
		t.Fatalf("%d products, want %d", len(products), erp.DemoSKUs)
	}
	for i, p := range products {
		if want := erp.SKU(i + 1); p.GetSku() != want {
			t.Fatalf("product %d is %s, want %s (ordered by sku)", i, p.GetSku(), want)
		}
		if p.GetTitle() == "" || p.GetBaseUnit() != "EA" || p.GetCategory() == "" || len(p.GetAttributes()) == 0 ||
			p.GetSalesState() != erpv1.Product_SALES_STATE_ACTIVE || len(p.GetGtin()) != 13 {
			t.Fatalf("incomplete product %v", p)
		}
	}
	if delta := catalogExport(t, e, &erpv1.StreamCatalogExportRequest{MinUpdateTime: timestampAfterSeed()}); len(delta) != 0 {
		t.Errorf("delta export after the seed has %d products, want 0", len(delta))
	}
}

func TestPriceExport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pls, lps := priceExport(t, e, &erpv1.StreamPriceExportRequest{})
	if len(pls) != 2 || len(lps) != 2*erp.DemoSKUs {
		t.Fatalf("%d price lists, %d list prices", len(pls), len(lps))
	}
	prices := map[string]int64{}
	for _, lp := range lps {
		if lp.GetUnitPrice().GetCurrencyCode() != "EUR" || lp.GetUnit() != "EA" {
			t.Fatalf("list price %v", lp)
		}
		prices[lp.GetPriceListId()+"/"+lp.GetSku()] = lp.GetUnitPrice().GetAmountMinor()
	}
	for _, n := range []int{1, 250, 500} {
		if got, want := prices[erp.PriceListStandard+"/"+erp.SKU(n)], erp.StandardPriceMinor(n); got != want {
			t.Errorf("%s standard price = %d, want %d", erp.SKU(n), got, want)
		}
		if got, want := prices[erp.PriceListB2B+"/"+erp.SKU(n)], erp.B2BPriceMinor(n); got != want {
			t.Errorf("%s b2b price = %d, want %d", erp.SKU(n), got, want)
		}
	}
	pls, lps = priceExport(t, e, &erpv1.StreamPriceExportRequest{PriceListIds: []string{erp.PriceListStandard}})
	if len(pls) != 1 || len(lps) != erp.DemoSKUs {
		t.Errorf("filtered export: %d price lists, %d list prices", len(pls), len(lps))
	}
	stream, err := e.client.StreamPriceExport(callCtx(t), &erpv1.StreamPriceExportRequest{PriceListIds: []string{"PL-NOPE"}})
	if err == nil {
		_, err = stream.Recv()
	}
	wantStatus(t, err, codes.NotFound, erpv1.ErrorReason_ERROR_REASON_PRICE_LIST_NOT_FOUND)
}

func TestWarehouses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res, err := e.client.ListWarehouses(callCtx(t), &erpv1.ListWarehousesRequest{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	next, err := e.client.ListWarehouses(callCtx(t), &erpv1.ListWarehousesRequest{PageSize: 2, PageToken: res.GetNextPageToken()})
	if err != nil || next.GetNextPageToken() != "" {
		t.Fatalf("second page = %v, %v", next, err)
	}
	var got []string
	for i, w := range append(res.GetWarehouses(), next.GetWarehouses()...) {
		got = append(got, w.GetName())
		if w.GetPriority() != int32(i+1) || !w.GetActive() || len(w.GetChannels()) != 2 {
			t.Errorf("warehouse %v", w)
		}
	}
	if diff := cmp.Diff([]string{"warehouses/WH-HAM", "warehouses/WH-MUC", "warehouses/WH-BER"}, got); diff != "" {
		t.Errorf("warehouses (-want +got):\n%s", diff)
	}
	w, err := e.client.GetWarehouse(callCtx(t), &erpv1.GetWarehouseRequest{Name: "warehouses/WH-MUC"})
	if err != nil || w.GetPriority() != 2 {
		t.Errorf("GetWarehouse = %v, %v", w, err)
	}
	_, err = e.client.GetWarehouse(callCtx(t), &erpv1.GetWarehouseRequest{Name: "warehouses/WH-XXX"})
	wantStatus(t, err, codes.NotFound, erpv1.ErrorReason_ERROR_REASON_WAREHOUSE_NOT_FOUND)
}
