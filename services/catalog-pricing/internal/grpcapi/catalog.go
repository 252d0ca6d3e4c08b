// Package grpcapi implements transload.catalog.v1 CatalogService and
// PricingService on the catalog and pricing domains: each handler converts
// the request, calls the domain and converts the result; every error goes
// through toStatus (errors.go).
package grpcapi

import (
	"context"
	"errors"
	"log/slog"

	"buf.build/go/protovalidate"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
)

// CatalogServer implements catalogv1.CatalogServiceServer.
type CatalogServer struct {
	catalogv1.UnimplementedCatalogServiceServer
	svc       *catalog.Service
	log       *slog.Logger
	validator protovalidate.Validator
}

var _ catalogv1.CatalogServiceServer = (*CatalogServer)(nil)

// NewCatalogServer returns the CatalogService implementation on svc.
func NewCatalogServer(svc *catalog.Service, log *slog.Logger) (*CatalogServer, error) {
	v, err := protovalidate.New()
	if err != nil {
		return nil, err
	}
	return &CatalogServer{svc: svc, log: log, validator: v}, nil
}

func (s *CatalogServer) fail(ctx context.Context, err error) error { return toStatus(ctx, s.log, err) }

// GetProduct implements CatalogService.GetProduct.
func (s *CatalogServer) GetProduct(ctx context.Context, req *catalogv1.GetProductRequest) (*catalogv1.Product, error) {
	ref, err := catalog.ParseVersionRef(req.GetCatalogVersion())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	p, v, err := s.svc.GetProduct(ctx, ref, skuFromName(req.GetName()))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return productToProto(p, v.Number), nil
}

// BatchGetProducts implements CatalogService.BatchGetProducts.
func (s *CatalogServer) BatchGetProducts(ctx context.Context, req *catalogv1.BatchGetProductsRequest) (*catalogv1.BatchGetProductsResponse, error) {
	ref, err := catalog.ParseVersionRef(req.GetCatalogVersion())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	skus := make([]string, 0, len(req.GetNames()))
	for _, n := range req.GetNames() {
		skus = append(skus, skuFromName(n))
	}
	ps, v, err := s.svc.BatchGetProducts(ctx, ref, skus)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &catalogv1.BatchGetProductsResponse{}
	for _, p := range ps {
		out.Products = append(out.Products, productToProto(p, v.Number))
	}
	return out, nil
}

// ListProducts implements CatalogService.ListProducts: a keyset page by
// SKU whose token also pins the version the first page resolved to.
func (s *CatalogServer) ListProducts(ctx context.Context, req *catalogv1.ListProductsRequest) (*catalogv1.ListProductsResponse, error) {
	ref, err := catalog.ParseVersionRef(req.GetCatalogVersion())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	f, err := parseProductFilter(req.GetFilter())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	// The token carries the version it pins rather than being bound to
	// catalog_version as sent: a client may continue a listing of current
	// by naming the version the first page came from (the gateway does);
	// Admits checks that the reference can continue on it.
	q := aip.Query{Method: catalogv1.CatalogService_ListProducts_FullMethodName, Filter: req.GetFilter()}
	in := catalog.ListRequest{Ref: ref, Filter: f}
	if tok := req.GetPageToken(); tok != "" {
		var c catalog.Cursor
		if err := aip.DecodePageToken(tok, q, &c.Version, &c.After); err != nil {
			return nil, s.fail(ctx, err)
		}
		if !ref.Admits(c.Version) {
			return nil, s.fail(ctx, errOtherVersion)
		}
		in.Cursor = &c
	}
	size := pageSize(req.GetPageSize())
	in.Limit = size + 1
	res, err := s.svc.ListProducts(ctx, in)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	page, next := aip.KeysetPage(res.Products, size, q, func(p catalog.Product) []aip.Key {
		return []aip.Key{aip.KeyOf(res.Version.Number), aip.KeyOf(p.SKU)}
	})
	out := &catalogv1.ListProductsResponse{NextPageToken: next}
	for _, p := range page {
		out.Products = append(out.Products, productToProto(p, res.Version.Number))
	}
	return out, nil
}

// ImportProducts implements CatalogService.ImportProducts. Rows are exempt
// from request validation (IGNORE_ALWAYS), so each row's product is checked
// here against the constraints declared on Product and, when it fails,
// handed to the domain pre-rejected with the violation's field path.
func (s *CatalogServer) ImportProducts(ctx context.Context, req *catalogv1.ImportProductsRequest) (*catalogv1.ImportProductsResponse, error) {
	in := catalog.ImportRequest{
		RequestID: req.GetRequestId(), Source: req.GetSource(), Mode: importModeFromProto(req.GetMode()),
		ValidateOnly: req.GetValidateOnly(), Actor: actor(ctx),
	}
	for _, r := range req.GetRows() {
		row := catalog.ImportRow{RowNumber: r.GetRowNumber()}
		switch {
		case r.GetProduct() == nil:
			row.Invalid = &catalog.FieldError{Field: "product", Message: "product is required"}
		default:
			row.Product = productFromProto(r.GetProduct())
			if err := s.validator.Validate(r.GetProduct()); err != nil {
				row.Invalid = rowViolation(err)
			}
		}
		in.Rows = append(in.Rows, row)
	}
	res, err := s.svc.ImportProducts(ctx, in)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &catalogv1.ImportProductsResponse{
		Results: rowResultsToProto(res.Results), CreatedCount: res.Created, UpdatedCount: res.Updated,
		UnchangedCount: res.Unchanged, RejectedCount: res.Rejected, CatalogVersion: catalog.VersionName(catalog.DraftVersion),
	}, nil
}

// rowViolation turns a protovalidate error on a row's product into the
// first violation as a field error ("product.<path>").
func rowViolation(err error) *catalog.FieldError {
	var verr *protovalidate.ValidationError
	if errors.As(err, &verr) && len(verr.Violations) > 0 {
		p := verr.Violations[0].Proto
		return &catalog.FieldError{Field: "product." + protovalidate.FieldPathString(p.GetField()), Message: p.GetMessage()}
	}
	return &catalog.FieldError{Field: "product", Message: "invalid product"}
}

// PublishCatalog implements CatalogService.PublishCatalog.
func (s *CatalogServer) PublishCatalog(ctx context.Context, req *catalogv1.PublishCatalogRequest) (*catalogv1.PublishCatalogResponse, error) {
	res, err := s.svc.PublishCatalog(ctx, catalog.PublishRequest{
		RequestID: req.GetRequestId(), Note: req.GetNote(), ExpectedCurrent: req.GetExpectedCurrentVersion(),
		Publisher: actor(ctx),
	})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &catalogv1.PublishCatalogResponse{CatalogVersion: versionToProto(res.Version), Created: res.Created}, nil
}

// GetCatalogVersion implements CatalogService.GetCatalogVersion.
func (s *CatalogServer) GetCatalogVersion(ctx context.Context, req *catalogv1.GetCatalogVersionRequest) (*catalogv1.CatalogVersion, error) {
	ref, err := catalog.ParseVersionRef(req.GetName())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	v, err := s.svc.ResolveVersion(ctx, ref)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return versionToProto(v), nil
}

// ListCatalogVersions implements CatalogService.ListCatalogVersions,
// newest first.
func (s *CatalogServer) ListCatalogVersions(ctx context.Context, req *catalogv1.ListCatalogVersionsRequest) (*catalogv1.ListCatalogVersionsResponse, error) {
	q := aip.Query{Method: catalogv1.CatalogService_ListCatalogVersions_FullMethodName}
	vs, next, err := keysetList(q, req.GetPageToken(), req.GetPageSize(), func(v catalog.Version) int64 { return v.Number },
		func(before int64, limit int) ([]catalog.Version, error) {
			return s.svc.ListVersions(ctx, before, limit)
		})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &catalogv1.ListCatalogVersionsResponse{NextPageToken: next}
	for _, v := range vs {
		out.CatalogVersions = append(out.CatalogVersions, versionToProto(v))
	}
	return out, nil
}
