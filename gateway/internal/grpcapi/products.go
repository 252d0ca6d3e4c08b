package grpcapi

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"

	"github.com/transload/transload/gateway/internal/neighbours"
)

// Product browsing reads the current published catalog and shows each
// product as the caller's channel sees it: products outside the channel's
// assortment (and drafts) answer NOT_FOUND, discontinued ones stay readable
// with orderable = false. The list price is the channel's anonymous price
// in DEFAULT_CURRENCY for one sales pack, fetched best-effort (unset when
// pricing is unavailable or has no price).

const (
	// maxScanProducts bounds how much of the catalog ListProducts reads to
	// filter and rank one search.
	maxScanProducts = 20_000
	// listPriceTimeout bounds the best-effort list price lookup.
	listPriceTimeout = time.Second
)

func errProductNotFound(sku string) error {
	return apierr.Error(codes.NotFound, storefrontv1.ErrorReason_ERROR_REASON_UNKNOWN_SKU, "product not found",
		map[string]string{"sku": sku})
}

// GetProduct implements storefrontv1.StorefrontServiceServer.
func (s *Server) GetProduct(ctx context.Context, req *storefrontv1.GetProductRequest) (*storefrontv1.Product, error) {
	p, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	sku := strings.TrimPrefix(req.GetName(), "products/")
	if !skuPattern.MatchString(sku) {
		return nil, errProductNotFound(sku)
	}
	prod, err := s.n.Catalog.GetProduct(ctx, &catalogv1.GetProductRequest{Name: "products/" + sku})
	if status.Code(err) == codes.NotFound {
		return nil, errProductNotFound(sku)
	}
	if err != nil {
		return nil, s.dependencyError(ctx, neighbours.Catalog, err)
	}
	if !visibleIn(prod, p.Channel) {
		return nil, errProductNotFound(sku)
	}
	prices := s.listPrices(ctx, p.Channel, []*catalogv1.Product{prod})
	return productToProto(prod, p.Channel, prices[prod.GetSku()]), nil
}

// listPrices returns the channel's anonymous unit list price per SKU for the
// sellable products, in the default currency. Failures leave prices unset.
func (s *Server) listPrices(ctx context.Context, channel string, products []*catalogv1.Product) map[string]*commonv1.Money {
	// SUMMARY: only list prices are read.
	req := &catalogv1.QuotePricesRequest{Channel: channel, CurrencyCode: s.defaultCur, AllowPartial: true,
		View: catalogv1.QuoteView_QUOTE_VIEW_SUMMARY}
	for _, p := range products {
		if sellableIn(p, channel) && len(req.Lines) < int(aip.MaxPageSize) {
			req.Lines = append(req.Lines, &catalogv1.QuoteRequestLine{Sku: p.GetSku(), Quantity: max(p.GetPackSize(), 1)})
		}
	}
	out := map[string]*commonv1.Money{}
	if len(req.Lines) == 0 {
		return out
	}
	cctx, cancel := context.WithTimeout(ctx, listPriceTimeout)
	defer cancel()
	resp, err := s.n.Pricing.QuotePrices(cctx, req)
	if err != nil {
		s.logger.WarnContext(ctx, "list prices unavailable for product view", slog.String("grpc.code", status.Code(err).String()))
		return out
	}
	for _, l := range resp.GetLines() {
		if l.GetErrorReason() == catalogv1.ErrorReason_ERROR_REASON_UNSPECIFIED && l.GetListPrice() != nil {
			out[l.GetSku()] = l.GetListPrice()
		}
	}
	return out
}

// errInvalidPageToken is the answer to a page token that decoded but no
// longer positions a listing (its catalog version is gone), or that a
// neighbour refused.
func errInvalidPageToken() error {
	return (&aip.PageTokenError{Msg: "the page token is malformed or belongs to another query"}).GRPCStatus().Err()
}

// ListProducts implements storefrontv1.StorefrontServiceServer. It reads the
// channel's assortment from one catalog version (pinned by the page token,
// so pages stay consistent across a publication), filters by category and
// free-text query, and ranks query matches (exact SKU, SKU prefix, title,
// other fields) before SKU order. The page token holds the catalog version
// and the offset in the ranked list, bound to the channel, query and
// category.
func (s *Server) ListProducts(ctx context.Context, req *storefrontv1.ListProductsRequest) (*storefrontv1.ListProductsResponse, error) {
	p, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	q := aip.Query{
		Method: storefrontv1.StorefrontService_ListProducts_FullMethodName,
		Caller: p.Channel,
		Params: []string{req.GetQuery(), req.GetCategory()},
	}
	var (
		version int64
		offset  int
	)
	if err := aip.DecodePageToken(req.GetPageToken(), q, &version, &offset); err != nil {
		return nil, err
	}
	if req.GetPageToken() != "" && (version <= 0 || offset < 0) {
		return nil, errInvalidPageToken()
	}
	products, version, err := s.scanAssortment(ctx, p.Channel, req.GetCategory(), version)
	if err != nil {
		return nil, err
	}
	matches := filterProducts(products, p.Channel, req.GetQuery())
	size := int(aip.ClampPageSize(req.GetPageSize(), aip.DefaultPageSize, aip.MaxPageSize))
	page, next := aip.OffsetPage(matches, offset, size, q, aip.KeyOf(version))
	prices := s.listPrices(ctx, p.Channel, page)
	resp := &storefrontv1.ListProductsResponse{TotalSize: int32(min(len(matches), 1<<31-1))}
	for _, prod := range page {
		resp.Products = append(resp.Products, productToProto(prod, p.Channel, prices[prod.GetSku()]))
	}
	resp.NextPageToken = next // pins the catalog version the pages are read at
	return resp, nil
}

// scanAssortment reads every product of channel (optionally one category)
// from catalog version (0 = current). It returns the version read.
func (s *Server) scanAssortment(ctx context.Context, channel, category string, version int64) ([]*catalogv1.Product, int64, error) {
	filter := aip.Filter{Terms: []aip.Term{filterEq("channel", channel)}}
	if category != "" {
		filter.Terms = append(filter.Terms, filterEq("category", category))
	}
	req := &catalogv1.ListProductsRequest{PageSize: aip.MaxPageSize, Filter: filter.String()}
	if version > 0 {
		req.CatalogVersion = "catalogVersions/" + strconv.FormatInt(version, 10)
	}
	var out []*catalogv1.Product
	for {
		resp, err := s.n.Catalog.ListProducts(ctx, req)
		switch {
		case apierr.HasReason(err, catalogv1.ErrorReason_ERROR_REASON_CATALOG_VERSION_NOT_FOUND):
			if version > 0 {
				return nil, 0, errInvalidPageToken()
			}
			return nil, 0, nil // nothing published yet
		case status.Code(err) == codes.InvalidArgument && category != "":
			return nil, 0, invalidField(commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED, "category", "not a valid category code", nil)
		case err != nil:
			return nil, 0, s.dependencyError(ctx, neighbours.Catalog, err)
		}
		for _, prod := range resp.GetProducts() {
			if version == 0 {
				version = catalogVersionNumber(prod.GetCatalogVersion())
				if version > 0 {
					req.CatalogVersion = "catalogVersions/" + strconv.FormatInt(version, 10)
				}
			}
			out = append(out, prod)
		}
		if resp.GetNextPageToken() == "" || len(out) >= maxScanProducts {
			return out, version, nil
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// filterProducts keeps the products visible in channel that match query
// (case-insensitive substring of SKU, GTIN, title, brand or description),
// ranked by match quality, then SKU.
func filterProducts(products []*catalogv1.Product, channel, query string) []*catalogv1.Product {
	q := strings.ToLower(strings.TrimSpace(query))
	type ranked struct {
		p    *catalogv1.Product
		rank int
	}
	var rs []ranked
	for _, p := range products {
		if !visibleIn(p, channel) {
			continue
		}
		rank, ok := matchRank(p, q)
		if !ok {
			continue
		}
		rs = append(rs, ranked{p, rank})
	}
	slices.SortStableFunc(rs, func(a, b ranked) int {
		if c := cmp.Compare(a.rank, b.rank); c != 0 {
			return c
		}
		return cmp.Compare(a.p.GetSku(), b.p.GetSku())
	})
	out := make([]*catalogv1.Product, len(rs))
	for i, r := range rs {
		out[i] = r.p
	}
	return out
}

func matchRank(p *catalogv1.Product, q string) (int, bool) {
	if q == "" {
		return 0, true
	}
	sku := strings.ToLower(p.GetSku())
	switch {
	case sku == q || p.GetGtin() == q:
		return 0, true
	case strings.HasPrefix(sku, q):
		return 1, true
	case strings.Contains(strings.ToLower(p.GetTitle()), q):
		return 2, true
	case strings.Contains(sku, q), strings.Contains(strings.ToLower(p.GetBrand()), q),
		strings.Contains(strings.ToLower(p.GetDescription()), q):
		return 3, true
	}
	return 0, false
}

// QuotePrices implements storefrontv1.StorefrontServiceServer: always live
// from pricing (no snapshot fallback), lines that cannot be priced carry an
// issue. Entered promotion codes (normalised: upper case, sorted, unique)
// are priced in as the order would be; codes that do not apply come back in
// promotion_code_issues with pricing's reason.
func (s *Server) QuotePrices(ctx context.Context, req *storefrontv1.QuotePricesRequest) (*storefrontv1.QuotePricesResponse, error) {
	p, customer, err := s.callerFor(ctx, req.GetCustomerId())
	if err != nil {
		return nil, err
	}
	cur := req.GetCurrencyCode()
	if err := s.checkCurrency("currency_code", cur); err != nil {
		return nil, err
	}
	// FULL: the storefront quote returns each line's beaten candidates as
	// other_rules (storefront.v1 QuoteLine), so it needs every candidate.
	preq := &catalogv1.QuotePricesRequest{CustomerId: customer, Channel: p.Channel, CurrencyCode: cur, AllowPartial: true,
		PromotionCodes: promotionCodes(req.GetPromotionCodes()), View: catalogv1.QuoteView_QUOTE_VIEW_FULL}
	var idx []int
	for i, l := range req.GetLines() {
		if skuPattern.MatchString(l.GetSku()) {
			idx = append(idx, i)
			preq.Lines = append(preq.Lines, &catalogv1.QuoteRequestLine{Sku: l.GetSku(), Quantity: l.GetQuantity()})
		}
	}
	resp := &storefrontv1.QuotePricesResponse{}
	priced := map[int]*catalogv1.QuoteLine{}
	var list, total int64
	if len(idx) > 0 {
		presp, err := s.n.Pricing.QuotePrices(ctx, preq)
		switch {
		case status.Code(err) == codes.InvalidArgument:
			return nil, passInvalidArgument(err, "")
		case err != nil:
			return nil, s.dependencyError(ctx, neighbours.Pricing, err)
		case len(presp.GetLines()) != len(idx):
			s.logger.ErrorContext(ctx, "pricing answered a different number of lines")
			return nil, apierr.Internal()
		}
		for k, i := range idx {
			priced[i] = presp.GetLines()[k]
		}
		list, total = presp.GetListTotal().GetAmountMinor(), presp.GetTotal().GetAmountMinor()
		resp.ExpireTime = presp.GetExpireTime()
		resp.CatalogVersion = catalogVersionString(presp.GetCatalogVersion())
		resp.PromotionCodeIssues = codeIssuesToProto(presp.GetPromotionCodeIssues())
	}
	for i, l := range req.GetLines() {
		ql, ok := priced[i]
		if !ok {
			resp.Lines = append(resp.Lines, &storefrontv1.QuoteLine{Sku: l.GetSku(), Quantity: l.GetQuantity(), Issue: storefrontv1.LineIssue_LINE_ISSUE_UNKNOWN_SKU})
			continue
		}
		resp.Lines = append(resp.Lines, quoteLineToProto(l.GetSku(), l.GetQuantity(), ql))
	}
	resp.Subtotal = money(total, cur)
	resp.ListSubtotal = money(list, cur)
	resp.Savings = money(max(list-total, 0), cur)
	return resp, nil
}

// codeIssuesToProto maps pricing's promotion code issues to the storefront's
// (the reason enums share their numbers).
func codeIssuesToProto(issues []*catalogv1.PromotionCodeIssue) []*storefrontv1.PromotionCodeIssue {
	var out []*storefrontv1.PromotionCodeIssue
	for _, is := range issues {
		out = append(out, &storefrontv1.PromotionCodeIssue{Code: is.GetCode(), Reason: storefrontv1.PromotionCodeIssue_Reason(is.GetReason())})
	}
	return out
}
