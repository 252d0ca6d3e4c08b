package grpcapi

import (
	"context"

	"buf.build/go/protovalidate"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/emptypb"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// PricingServer implements catalogv1.PricingServiceServer: quotes through
// the pricing pipeline, price lists and their entries, customer contracts,
// channel rules and promotions (rules.go), their publication and promotion
// reservations.
type PricingServer struct {
	catalogv1.UnimplementedPricingServiceServer
	svc       *pricing.Service
	log       *slog.Logger
	quotes    *prometheus.CounterVec
	quotesOK  prometheus.Counter
	validator protovalidate.Validator
}

var _ catalogv1.PricingServiceServer = (*PricingServer)(nil)

// NewPricingServer returns the PricingService implementation on svc. It
// counts quotes in transload_catalog_quotes_total{result} ("ok" or the
// error reason), the "failed pricing calls" KPI, registered with reg when
// reg is not nil.
func NewPricingServer(svc *pricing.Service, log *slog.Logger, reg prometheus.Registerer) (*PricingServer, error) {
	quotes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "transload_catalog_quotes_total",
		Help: "QuotePrices calls by result: ok, or the ErrorInfo reason of the failure.",
	}, []string{"result"})
	if reg != nil {
		if err := reg.Register(quotes); err != nil {
			return nil, err
		}
	}
	v, err := protovalidate.New()
	if err != nil {
		return nil, err
	}
	return &PricingServer{svc: svc, log: log, quotes: quotes, quotesOK: quotes.WithLabelValues("ok"), validator: v}, nil
}

func (s *PricingServer) fail(ctx context.Context, err error) error { return toStatus(ctx, s.log, err) }

// QuotePrices implements PricingService.QuotePrices.
//
// The response of a quote the service memoizes is built and marshalled
// once per view (pricing.Service.QuoteRendered) and shared by every caller
// of the same quote: Codec sends its recorded bytes, so a repeated basket
// costs the version read, the memo lookup and the write of those bytes.
func (s *PricingServer) QuotePrices(ctx context.Context, req *catalogv1.QuotePricesRequest) (*catalogv1.QuotePricesResponse, error) {
	view := req.GetView()
	if view == catalogv1.QuoteView_QUOTE_VIEW_UNSPECIFIED {
		view = catalogv1.QuoteView_QUOTE_VIEW_FULL
	}
	summary := view == catalogv1.QuoteView_QUOTE_VIEW_SUMMARY
	resp, err := s.svc.QuoteRendered(ctx, quoteRequestFromProto(req), view.String(), func(q pricing.Quote, kept bool) any {
		if kept {
			return preEncode(quoteToProto(q, summary))
		}
		return quoteToProto(q, summary)
	})
	if err != nil {
		st := s.fail(ctx, err)
		reason := apierr.ReasonOf(st)
		if reason == "" {
			reason = "UNKNOWN"
		}
		s.quotes.WithLabelValues(reason).Inc()
		return nil, st
	}
	s.quotesOK.Inc()
	return resp.(*catalogv1.QuotePricesResponse), nil
}

// ImportPrices implements PricingService.ImportPrices.
func (s *PricingServer) ImportPrices(ctx context.Context, req *catalogv1.ImportPricesRequest) (*catalogv1.ImportPricesResponse, error) {
	in := pricing.ImportPricesRequest{
		RequestID: req.GetRequestId(), PriceList: strings.TrimPrefix(req.GetPriceList(), "priceLists/"),
		Source: req.GetSource(), Mode: importModeFromProto(req.GetMode()), ValidateOnly: req.GetValidateOnly(),
		Actor: actor(ctx),
	}
	for _, r := range req.GetRows() {
		row := pricing.PriceRow{RowNumber: r.GetRowNumber(), SKU: r.GetSku(),
			UnitMinor: r.GetUnitPrice().GetAmountMinor(), Currency: r.GetUnitPrice().GetCurrencyCode()}
		for _, b := range r.GetQuantityBreaks() {
			row.Breaks = append(row.Breaks, pricing.Break{MinQuantity: b.GetMinQuantity(), UnitMinor: b.GetUnitPrice().GetAmountMinor()})
			row.BreakCurrencies = append(row.BreakCurrencies, b.GetUnitPrice().GetCurrencyCode())
		}
		if c := r.GetCostPrice(); c != nil {
			row.HasCost, row.CostMinor, row.CostCurrency = true, c.GetAmountMinor(), c.GetCurrencyCode()
		}
		in.Rows = append(in.Rows, row)
	}
	res, err := s.svc.ImportPrices(ctx, in)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &catalogv1.ImportPricesResponse{
		Results: rowResultsToProto(res.Results), CreatedCount: res.Created, UpdatedCount: res.Updated,
		UnchangedCount: res.Unchanged, RejectedCount: res.Rejected, DeletedCount: res.Deleted, PriceVersion: res.PriceVersion,
	}, nil
}

// GetPriceList implements PricingService.GetPriceList.
func (s *PricingServer) GetPriceList(ctx context.Context, req *catalogv1.GetPriceListRequest) (*catalogv1.PriceList, error) {
	l, err := s.svc.GetPriceList(ctx, strings.TrimPrefix(req.GetName(), "priceLists/"))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return priceListToProto(l), nil
}

// ListPriceLists implements PricingService.ListPriceLists: a keyset page
// by id.
func (s *PricingServer) ListPriceLists(ctx context.Context, req *catalogv1.ListPriceListsRequest) (*catalogv1.ListPriceListsResponse, error) {
	f, err := parsePriceListFilter(req.GetFilter())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	q := aip.Query{Method: catalogv1.PricingService_ListPriceLists_FullMethodName, Filter: req.GetFilter()}
	ls, next, err := keysetList(q, req.GetPageToken(), req.GetPageSize(), func(l pricing.PriceList) string { return l.ID },
		func(after string, limit int) ([]pricing.PriceList, error) {
			return s.svc.ListPriceLists(ctx, f, after, limit)
		})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &catalogv1.ListPriceListsResponse{NextPageToken: next}
	for _, l := range ls {
		out.PriceLists = append(out.PriceLists, priceListToProto(l))
	}
	return out, nil
}

// UpdatePriceList implements PricingService.UpdatePriceList as a full
// replacement (empty or "*" mask); partial masks are rejected.
func (s *PricingServer) UpdatePriceList(ctx context.Context, req *catalogv1.UpdatePriceListRequest) (*catalogv1.PriceList, error) {
	if paths := req.GetUpdateMask().GetPaths(); len(paths) > 0 && (len(paths) != 1 || paths[0] != "*") {
		return nil, apierr.InvalidArgument("only full replacement is supported", apierr.FieldViolation{
			Field: "update_mask", Reason: "UNSUPPORTED", Description: `send an empty mask or "*"`})
	}
	l, err := s.svc.UpsertPriceList(ctx, pricing.UpsertPriceListRequest{
		RequestID: req.GetRequestId(), List: priceListFromProto(req.GetPriceList()), AllowMissing: req.GetAllowMissing(),
		ValidateOnly: req.GetValidateOnly(), ExpectedEtag: req.GetPriceList().GetEtag(), Actor: actor(ctx),
	})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return priceListToProto(l), nil
}

// DeletePriceList implements PricingService.DeletePriceList.
func (s *PricingServer) DeletePriceList(ctx context.Context, req *catalogv1.DeletePriceListRequest) (*emptypb.Empty, error) {
	err := s.svc.DeletePriceList(ctx, pricing.DeletePriceListRequest{
		RequestID: req.GetRequestId(), ID: strings.TrimPrefix(req.GetName(), "priceLists/"), ExpectedEtag: req.GetEtag(),
		AllowMissing: req.GetAllowMissing(), Force: req.GetForce(), Actor: actor(ctx),
	})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &emptypb.Empty{}, nil
}

// GetPrice implements PricingService.GetPrice.
func (s *PricingServer) GetPrice(ctx context.Context, req *catalogv1.GetPriceRequest) (*catalogv1.Price, error) {
	rest := strings.TrimPrefix(req.GetName(), "priceLists/")
	list, sku, _ := strings.Cut(rest, "/prices/")
	p, err := s.svc.GetPrice(ctx, list, sku)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return priceToProto(p), nil
}

// ListPrices implements PricingService.ListPrices: a keyset page by SKU
// of one price list.
func (s *PricingServer) ListPrices(ctx context.Context, req *catalogv1.ListPricesRequest) (*catalogv1.ListPricesResponse, error) {
	f, err := parsePriceFilter(req.GetFilter())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	listID := strings.TrimPrefix(req.GetParent(), "priceLists/")
	q := aip.Query{Method: catalogv1.PricingService_ListPrices_FullMethodName, Filter: req.GetFilter(), Params: []string{listID}}
	ps, next, err := keysetList(q, req.GetPageToken(), req.GetPageSize(), func(p pricing.Price) string { return p.SKU },
		func(after string, limit int) ([]pricing.Price, error) {
			return s.svc.ListPrices(ctx, listID, f, after, limit)
		})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &catalogv1.ListPricesResponse{NextPageToken: next}
	for _, p := range ps {
		out.Prices = append(out.Prices, priceToProto(p))
	}
	return out, nil
}
