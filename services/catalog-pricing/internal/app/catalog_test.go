package app_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/catalog-pricing/internal/erptest"
	"github.com/transload/transload/services/catalog-pricing/internal/store/sqlstore"
)

func validProduct(sku string) *catalogv1.Product {
	return &catalogv1.Product{Name: "products/" + sku, Title: "Saw " + sku, BaseUnit: "EA",
		Status: catalogv1.ProductStatus_PRODUCT_STATUS_ACTIVE, Channels: []string{"web"}, Category: "tools/saws"}
}

// TestImportProductsPerRowOutcomes: each row is validated on its own
// (rows are exempt from request validation), so bad rows are REJECTED with
// reason and field while the others apply.
func TestImportProductsPerRowOutcomes(t *testing.T) {
	t.Parallel()
	in, _ := startReady(t)
	ctx := t.Context()
	noTitle := validProduct("NEW-2")
	noTitle.Title = ""
	badChannel := validProduct("NEW-3")
	badChannel.Channels = []string{"Web Shop"}
	noStatus := validProduct("NEW-4")
	noStatus.Status = catalogv1.ProductStatus_PRODUCT_STATUS_UNSPECIFIED
	existing := validProduct(sku(1))
	req := &catalogv1.ImportProductsRequest{
		RequestId: "feed-1", Source: "file:test.csv", Mode: catalogv1.ImportMode_IMPORT_MODE_CREATE_ONLY,
		Rows: []*catalogv1.ProductImportRow{
			{RowNumber: 10, Product: validProduct("NEW-1")},
			{RowNumber: 11, Product: noTitle},
			{RowNumber: 12, Product: badChannel},
			{RowNumber: 13, Product: noStatus},
			{RowNumber: 14, Product: existing},
			{RowNumber: 15, Product: validProduct("NEW-1")},
			{RowNumber: 16},
		},
	}
	res, err := in.catalog.ImportProducts(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	rejected := catalogv1.ImportRowOutcome_IMPORT_ROW_OUTCOME_REJECTED
	invalid := catalogv1.ErrorReason_ERROR_REASON_IMPORT_ROW_INVALID
	want := []*catalogv1.ImportRowResult{
		{RowNumber: 10, Sku: "NEW-1", Outcome: catalogv1.ImportRowOutcome_IMPORT_ROW_OUTCOME_CREATED},
		{RowNumber: 11, Sku: "NEW-2", Outcome: rejected, Reason: invalid, Field: "product.title"},
		{RowNumber: 12, Sku: "NEW-3", Outcome: rejected, Reason: invalid, Field: "product.channels[0]"},
		{RowNumber: 13, Sku: "NEW-4", Outcome: rejected, Reason: invalid, Field: "product.status"},
		{RowNumber: 14, Sku: sku(1), Outcome: rejected, Reason: catalogv1.ErrorReason_ERROR_REASON_PRODUCT_ALREADY_EXISTS, Field: "product.name"},
		{RowNumber: 15, Sku: "NEW-1", Outcome: rejected, Reason: invalid, Field: "product.name"},
		{RowNumber: 16, Outcome: rejected, Reason: invalid, Field: "product"},
	}
	got := res.GetResults()
	for _, r := range got {
		if r.GetOutcome() == rejected && r.GetMessage() == "" {
			t.Errorf("row %d rejected without a message", r.GetRowNumber())
		}
		r.Message = ""
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Fatalf("row results (-want +got):\n%s", diff)
	}
	if res.GetCreatedCount() != 1 || res.GetRejectedCount() != 6 {
		t.Fatalf("counts = %v", res)
	}
	// The same request again replays the answer without re-applying.
	again, err := in.catalog.ImportProducts(ctx, req)
	if err != nil || again.GetCreatedCount() != 1 {
		t.Fatalf("replay = %v, %v", again, err)
	}
	req.Rows = req.Rows[:1]
	_, err = in.catalog.ImportProducts(ctx, req)
	if status.Code(err) != codes.AlreadyExists || apierr.ReasonOf(err) != "ERROR_REASON_IDEMPOTENCY_KEY_REUSED" {
		t.Fatalf("request id reused with another payload: %v", err)
	}
	// Upsert of identical content is UNCHANGED.
	res, err = in.catalog.ImportProducts(ctx, &catalogv1.ImportProductsRequest{RequestId: "feed-2", Source: "t",
		Mode: catalogv1.ImportMode_IMPORT_MODE_UPSERT, Rows: []*catalogv1.ProductImportRow{{RowNumber: 1, Product: validProduct("NEW-1")}}})
	if err != nil || res.GetUnchangedCount() != 1 {
		t.Fatalf("identical upsert = %v, %v", res, err)
	}
	// Imported products are in the draft only.
	if _, err := in.catalog.GetProduct(ctx, &catalogv1.GetProductRequest{Name: "products/NEW-1"}); status.Code(err) != codes.NotFound ||
		apierr.Info(err).GetMetadata()["catalog_version"] != "catalogVersions/1" {
		t.Fatalf("draft product read from current: %v", err)
	}
	p, err := in.catalog.GetProduct(ctx, &catalogv1.GetProductRequest{Name: "products/NEW-1", CatalogVersion: "catalogVersions/draft"})
	if err != nil || p.GetCatalogVersion() != "catalogVersions/draft" {
		t.Fatalf("draft product = %v, %v", p, err)
	}
	d, err := in.catalog.GetCatalogVersion(ctx, &catalogv1.GetCatalogVersionRequest{Name: "catalogVersions/draft"})
	if err != nil || d.GetState() != catalogv1.CatalogVersion_STATE_DRAFT || d.GetProductCount() != nProducts+1 || d.GetPreviousVersion() != 1 {
		t.Fatalf("draft version = %v, %v", d, err)
	}
}

func TestListAndBatchGetProducts(t *testing.T) {
	t.Parallel()
	in, _ := startReady(t)
	ctx := t.Context()
	skus := pageAll(t, func(token string) ([]string, string, error) {
		res, err := in.catalog.ListProducts(ctx, &catalogv1.ListProductsRequest{
			PageSize: 2, PageToken: token, Filter: `channel = "web" AND status = ACTIVE AND category = "tools/power-tools"`})
		var skus []string
		for _, p := range res.GetProducts() {
			skus = append(skus, p.GetSku())
		}
		return skus, res.GetNextPageToken(), err
	})
	if diff := cmp.Diff([]string{sku(1), sku(2), sku(4), sku(5)}, skus); diff != "" {
		t.Fatalf("listed (-want +got):\n%s", diff)
	}
	_, err := in.catalog.ListProducts(ctx, &catalogv1.ListProductsRequest{Filter: `price > 3`})
	if status.Code(err) != codes.InvalidArgument || apierr.FieldViolations(err)[0].Field != "filter" {
		t.Fatalf("bad filter: %v", err)
	}
	_, err = in.catalog.ListProducts(ctx, &catalogv1.ListProductsRequest{PageToken: "garbage"})
	if status.Code(err) != codes.InvalidArgument || apierr.ReasonOf(err) != "ERROR_REASON_INVALID_PAGE_TOKEN" {
		t.Fatalf("bad token: %v", err)
	}
	res, err := in.catalog.BatchGetProducts(ctx, &catalogv1.BatchGetProductsRequest{Names: []string{"products/" + sku(4), "products/" + sku(1)}})
	if err != nil || len(res.GetProducts()) != 2 || res.GetProducts()[0].GetSku() != sku(4) || res.GetProducts()[1].GetSku() != sku(1) {
		t.Fatalf("batch get = %v, %v", res, err)
	}
	_, err = in.catalog.BatchGetProducts(ctx, &catalogv1.BatchGetProductsRequest{Names: []string{"products/" + sku(4), "products/NOPE"}})
	if status.Code(err) != codes.NotFound || apierr.Info(err).GetMetadata()["sku"] != "NOPE" {
		t.Fatalf("batch get with a missing product: %v", err)
	}
	vs, err := in.catalog.ListCatalogVersions(ctx, &catalogv1.ListCatalogVersionsRequest{})
	if err != nil || len(vs.GetCatalogVersions()) != 1 || vs.GetCatalogVersions()[0].GetVersion() != 1 {
		t.Fatalf("versions = %v, %v", vs, err)
	}
	if _, err := in.catalog.GetCatalogVersion(ctx, &catalogv1.GetCatalogVersionRequest{Name: "catalogVersions/7"}); status.Code(err) != codes.NotFound ||
		apierr.ReasonOf(err) != "ERROR_REASON_CATALOG_VERSION_NOT_FOUND" {
		t.Fatalf("missing version: %v", err)
	}
	pl, err := in.pricing.GetPriceList(ctx, &catalogv1.GetPriceListRequest{Name: "priceLists/PL-B2B-EUR"})
	if err != nil || pl.GetChannel() != "b2b" || pl.GetPriceCount() != nProducts || pl.GetCurrencyCode() != "EUR" {
		t.Fatalf("price list = %v, %v", pl, err)
	}
	pr, err := in.pricing.GetPrice(ctx, &catalogv1.GetPriceRequest{Name: "priceLists/PL-EUR/prices/" + sku(2)})
	if err != nil || pr.GetUnitPrice().GetAmountMinor() != standardPrice(2) {
		t.Fatalf("price = %v, %v", pr, err)
	}
	_, err = in.pricing.GetCustomerContract(ctx, &catalogv1.GetCustomerContractRequest{Name: "customerContracts/X"})
	if status.Code(err) != codes.NotFound || !hasReason(err, "ERROR_REASON_CUSTOMER_CONTRACT_NOT_FOUND") {
		t.Fatalf("missing contract: %v", err)
	}
}

// TestListPagesAndTokens: the price lists page to the end with their
// filters, and a page token continues only the query that made it (the
// same list, filter, parent and catalog version).
func TestListPagesAndTokens(t *testing.T) {
	t.Parallel()
	in, _ := startReady(t)
	ctx := t.Context()
	prices := pageAll(t, func(token string) ([]string, string, error) {
		res, err := in.pricing.ListPrices(ctx, &catalogv1.ListPricesRequest{Parent: "priceLists/PL-EUR", Filter: `sku:"SKU-*"`,
			PageSize: 2, PageToken: token})
		return names(res.GetPrices()), res.GetNextPageToken(), err
	})
	var want []string
	for n := 1; n <= nProducts; n++ {
		want = append(want, "priceLists/PL-EUR/prices/"+sku(n))
	}
	if diff := cmp.Diff(want, prices); diff != "" {
		t.Errorf("prices (-want +got):\n%s", diff)
	}
	lists := pageAll(t, func(token string) ([]string, string, error) {
		res, err := in.pricing.ListPriceLists(ctx, &catalogv1.ListPriceListsRequest{Filter: `currency_code = "EUR"`, PageSize: 1, PageToken: token})
		return names(res.GetPriceLists()), res.GetNextPageToken(), err
	})
	if diff := cmp.Diff([]string{"priceLists/PL-B2B-EUR", "priceLists/PL-EUR"}, lists); diff != "" {
		t.Errorf("price lists (-want +got):\n%s", diff)
	}

	products, err := in.catalog.ListProducts(ctx, &catalogv1.ListProductsRequest{Filter: `channel = "web"`, PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.catalog.ImportProducts(ctx, &catalogv1.ImportProductsRequest{RequestId: "v2", Source: "t",
		Mode: catalogv1.ImportMode_IMPORT_MODE_UPSERT, Rows: []*catalogv1.ProductImportRow{{RowNumber: 1, Product: validProduct("V2-1")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := in.catalog.PublishCatalog(ctx, &catalogv1.PublishCatalogRequest{RequestId: "v2"}); err != nil {
		t.Fatal(err)
	}
	// The first page read version 1, then current. After version 2 is
	// published the listing goes on on version 1 whether the next request
	// says current or, as the gateway does, names that version.
	for _, ref := range []string{"", "catalogVersions/current", "catalogVersions/1"} {
		res, err := in.catalog.ListProducts(ctx, &catalogv1.ListProductsRequest{Filter: `channel = "web"`, PageSize: 1,
			CatalogVersion: ref, PageToken: products.GetNextPageToken()})
		if err != nil || len(res.GetProducts()) != 1 || res.GetProducts()[0].GetCatalogVersion() != "catalogVersions/1" {
			t.Errorf("second page with catalog_version %q = %v, %v; want version 1", ref, res, err)
		}
	}
	versions := pageAll(t, func(token string) ([]string, string, error) {
		res, err := in.catalog.ListCatalogVersions(ctx, &catalogv1.ListCatalogVersionsRequest{PageSize: 1, PageToken: token})
		return names(res.GetCatalogVersions()), res.GetNextPageToken(), err
	})
	if diff := cmp.Diff([]string{"catalogVersions/2", "catalogVersions/1"}, versions); diff != "" {
		t.Errorf("versions, newest first (-want +got):\n%s", diff)
	}

	priceList, err := in.pricing.ListPrices(ctx, &catalogv1.ListPricesRequest{Parent: "priceLists/PL-EUR", PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	for name, replay := range map[string]func() error{
		"products with another filter": func() error {
			_, err := in.catalog.ListProducts(ctx, &catalogv1.ListProductsRequest{Filter: `channel = "b2b"`, PageToken: products.GetNextPageToken()})
			return err
		},
		"products of another version": func() error {
			_, err := in.catalog.ListProducts(ctx, &catalogv1.ListProductsRequest{Filter: `channel = "web"`,
				CatalogVersion: "catalogVersions/2", PageToken: products.GetNextPageToken()})
			return err
		},
		"products of the draft": func() error {
			_, err := in.catalog.ListProducts(ctx, &catalogv1.ListProductsRequest{Filter: `channel = "web"`,
				CatalogVersion: "catalogVersions/draft", PageToken: products.GetNextPageToken()})
			return err
		},
		"prices of another list": func() error {
			_, err := in.pricing.ListPrices(ctx, &catalogv1.ListPricesRequest{Parent: "priceLists/PL-B2B-EUR", PageToken: priceList.GetNextPageToken()})
			return err
		},
		"a prices token for price lists": func() error {
			_, err := in.pricing.ListPriceLists(ctx, &catalogv1.ListPriceListsRequest{PageToken: priceList.GetNextPageToken()})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			if err := replay(); status.Code(err) != codes.InvalidArgument || apierr.ReasonOf(err) != "ERROR_REASON_INVALID_PAGE_TOKEN" {
				t.Fatalf("replayed token: %v, want INVALID_ARGUMENT / ERROR_REASON_INVALID_PAGE_TOKEN", err)
			}
		})
	}
}

// names returns the resource names of ms.
func names[M interface{ GetName() string }](ms []M) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.GetName())
	}
	return out
}

// pageAll calls list with each next page token until the last page and
// returns everything listed.
func pageAll(t *testing.T, list func(token string) ([]string, string, error)) []string {
	t.Helper()
	var all []string
	token := ""
	for page := 0; ; page++ {
		names, next, err := list(token)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if page > 20 {
			t.Fatalf("more than 20 pages: %v", all)
		}
		all = append(all, names...)
		if token = next; token == "" {
			return all
		}
	}
}

// TestAuditRecordsTheCaller: the actor the gateway names in
// x-transload-actor is recorded with the publication; the ERP import is
// recorded as the system.
func TestAuditRecordsTheCaller(t *testing.T) {
	t.Parallel()
	erp := newFakeERP()
	env := testEnv(t, nil)
	in := start(t, env, erptest.Serve(t, erp))
	in.waitReady(t)
	ctx := metadata.AppendToOutgoingContext(t.Context(), "x-transload-actor", "api_key:ops-1", "x-correlation-id", "audit-test-1")
	p := validProduct("AUD-1")
	if _, err := in.catalog.ImportProducts(ctx, &catalogv1.ImportProductsRequest{RequestId: "a1", Source: "t",
		Mode: catalogv1.ImportMode_IMPORT_MODE_UPSERT, Rows: []*catalogv1.ProductImportRow{{RowNumber: 1, Product: p}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := in.catalog.PublishCatalog(ctx, &catalogv1.PublishCatalogRequest{RequestId: "a2"}); err != nil {
		t.Fatal(err)
	}
	db, err := sqldb.Open(t.Context(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	audits, err := sqlstore.New(db).Catalog().AuditRecords(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	last := audits[len(audits)-1]
	if last.Action != "catalog.publish" || last.Resource != "catalogVersions/2" || last.Actor.Kind != "api_key" ||
		last.Actor.ID != "ops-1" || last.CorrelationID != "audit-test-1" {
		t.Fatalf("last audit record = %+v", last)
	}
	if first := audits[0]; first.Actor.Kind != "system" || first.Actor.ID != "erp-sync" || !strings.HasPrefix(first.CorrelationID, "erp-sync-") {
		t.Fatalf("first audit record = %+v; want the ERP sync", first)
	}
}
