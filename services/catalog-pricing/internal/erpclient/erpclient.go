// Package erpclient reads the product master and list prices from the ERP
// adapter (transload.erp.v1 StreamCatalogExport and StreamPriceExport) and
// maps them to the catalog and pricing domains. Transport failures become
// domain errors here, so the importer never inspects gRPC codes.
package erpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// Errors the client returns (wrapped with detail).
var (
	// ErrUnavailable: the ERP could not be reached, timed out, was
	// throttled or its breaker is open; retry later.
	ErrUnavailable = errors.New("erp unavailable")
	// ErrIncomplete: an export stream ended without its trailer or with
	// another item count than announced; it must not be imported.
	ErrIncomplete = errors.New("erp export incomplete")
	// ErrRejected: the ERP refused the request (a permanent answer).
	ErrRejected = errors.New("erp rejected the request")
)

// Methods the client calls, for grpcclient.WithIdempotentMethods (both are
// reads, safe to retry).
var Methods = []string{
	erpv1.ErpAdapterService_StreamCatalogExport_FullMethodName,
	erpv1.ErpAdapterService_StreamPriceExport_FullMethodName,
}

// Client reads exports from the ERP adapter.
type Client struct {
	erp             erpv1.ErpAdapterServiceClient
	exportTimeout   time.Duration
	defaultChannels []string
}

// New returns a Client on conn (dialed through platform/grpcclient).
// exportTimeout bounds each whole export stream; defaultChannels is the
// assortment of products the ERP lists for "all channels".
func New(conn grpc.ClientConnInterface, exportTimeout time.Duration, defaultChannels []string) *Client {
	return &Client{erp: erpv1.NewErpAdapterServiceClient(conn), exportTimeout: exportTimeout, defaultChannels: defaultChannels}
}

// CatalogExport is a complete product export.
type CatalogExport struct {
	ExportID string
	Products []catalog.Product
}

// PriceExport is a complete list price export: the price lists (one per
// ERP list and channel) and the rows of each.
type PriceExport struct {
	ExportID string
	Lists    []pricing.PriceList
	Rows     map[string][]pricing.PriceRow
	// Skipped counts ERP list prices the importer cannot represent yet
	// (own channel or validity window differing from their list's).
	Skipped int
}

// mapErr turns a gRPC error into a domain error.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Internal, codes.Unknown:
		return fmt.Errorf("%s: %w: %v", op, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w: %v", op, ErrRejected, err)
}

// FetchCatalog streams the full product export.
func (c *Client) FetchCatalog(ctx context.Context) (CatalogExport, error) {
	ctx, cancel := context.WithTimeout(ctx, c.exportTimeout)
	defer cancel()
	stream, err := c.erp.StreamCatalogExport(ctx, &erpv1.StreamCatalogExportRequest{})
	if err != nil {
		return CatalogExport{}, mapErr("catalog export", err)
	}
	var out CatalogExport
	var announced, received int64
	headerSeen := false
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return CatalogExport{}, fmt.Errorf("catalog export %s: %w: stream ended without trailer", out.ExportID, ErrIncomplete)
		}
		if err != nil {
			return CatalogExport{}, mapErr("catalog export", err)
		}
		switch part := msg.GetPart().(type) {
		case *erpv1.StreamCatalogExportResponse_Header:
			headerSeen = true
			out.ExportID, announced = part.Header.GetExportId(), part.Header.GetItemCount()
		case *erpv1.StreamCatalogExportResponse_Chunk:
			for _, p := range part.Chunk.GetProducts() {
				out.Products = append(out.Products, c.product(p))
				received++
			}
		case *erpv1.StreamCatalogExportResponse_Trailer:
			if !headerSeen || part.Trailer.GetItemCount() != received || announced != received {
				return CatalogExport{}, fmt.Errorf("catalog export %s: %w: announced %d, trailer %d, received %d",
					out.ExportID, ErrIncomplete, announced, part.Trailer.GetItemCount(), received)
			}
			return out, nil
		}
	}
}

// FetchPrices streams the full list price export (no contracts,
// promotions or channel rules yet).
func (c *Client) FetchPrices(ctx context.Context) (PriceExport, error) {
	ctx, cancel := context.WithTimeout(ctx, c.exportTimeout)
	defer cancel()
	stream, err := c.erp.StreamPriceExport(ctx, &erpv1.StreamPriceExportRequest{})
	if err != nil {
		return PriceExport{}, mapErr("price export", err)
	}
	out := PriceExport{Rows: map[string][]pricing.PriceRow{}}
	erpLists := map[string]*erpv1.PriceList{}
	var announced, received int64
	headerSeen := false
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return PriceExport{}, fmt.Errorf("price export %s: %w: stream ended without trailer", out.ExportID, ErrIncomplete)
		}
		if err != nil {
			return PriceExport{}, mapErr("price export", err)
		}
		switch part := msg.GetPart().(type) {
		case *erpv1.StreamPriceExportResponse_Header:
			headerSeen = true
			out.ExportID, announced = part.Header.GetExportId(), part.Header.GetItemCount()
		case *erpv1.StreamPriceExportResponse_Chunk:
			ch := part.Chunk
			received += int64(len(ch.GetPriceLists()) + len(ch.GetListPrices()) + len(ch.GetContracts()) +
				len(ch.GetPromotions()) + len(ch.GetChannelRules()))
			for _, l := range ch.GetPriceLists() {
				erpLists[l.GetPriceListId()] = l
				out.Lists = append(out.Lists, priceLists(l)...)
			}
			for _, lp := range ch.GetListPrices() {
				l, ok := erpLists[lp.GetPriceListId()]
				if !ok || lp.GetChannel() != "" || lp.GetEffectiveStartTime() != nil || lp.GetEffectiveEndTime() != nil {
					out.Skipped++
					continue
				}
				for _, pl := range priceLists(l) {
					out.Rows[pl.ID] = append(out.Rows[pl.ID], priceRow(int64(len(out.Rows[pl.ID])+1), lp))
				}
			}
		case *erpv1.StreamPriceExportResponse_Trailer:
			if !headerSeen || part.Trailer.GetItemCount() != received || announced != received {
				return PriceExport{}, fmt.Errorf("price export %s: %w: announced %d, trailer %d, received %d",
					out.ExportID, ErrIncomplete, announced, part.Trailer.GetItemCount(), received)
			}
			return out, nil
		}
	}
}

// priceLists maps one ERP price list to catalog price lists: one for all
// channels when the ERP lists none, else one per channel (the first keeps
// the ERP id, further ones are "{id}.{channel}").
func priceLists(l *erpv1.PriceList) []pricing.PriceList {
	base := pricing.PriceList{
		ID: l.GetPriceListId(), DisplayName: l.GetDisplayName(), Currency: l.GetCurrencyCode(),
	}
	if base.DisplayName == "" {
		base.DisplayName = base.ID
	}
	if t := l.GetEffectiveStartTime(); t != nil {
		base.StartTime = t.AsTime().UTC()
	}
	if t := l.GetEffectiveEndTime(); t != nil {
		base.EndTime = t.AsTime().UTC()
	}
	chs := l.GetChannels()
	if len(chs) == 0 {
		return []pricing.PriceList{base}
	}
	out := make([]pricing.PriceList, 0, len(chs))
	for i, ch := range chs {
		pl := base
		pl.Channel = ch
		if i > 0 {
			pl.ID = base.ID + "." + ch
		}
		out = append(out, pl)
	}
	return out
}

func priceRow(n int64, lp *erpv1.ListPrice) pricing.PriceRow {
	r := pricing.PriceRow{RowNumber: n, SKU: lp.GetSku(), UnitMinor: lp.GetUnitPrice().GetAmountMinor(),
		Currency: lp.GetUnitPrice().GetCurrencyCode()}
	for _, b := range lp.GetQuantityBreaks() {
		r.Breaks = append(r.Breaks, pricing.Break{MinQuantity: b.GetMinQuantity(), UnitMinor: b.GetUnitPrice().GetAmountMinor()})
		r.BreakCurrencies = append(r.BreakCurrencies, b.GetUnitPrice().GetCurrencyCode())
	}
	return r
}

var notSlug = regexp.MustCompile(`[^a-z0-9._-]+`)

// fold spells common accented Latin letters in ASCII.
var fold = strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", "à", "a", "á", "a", "â", "a",
	"ç", "c", "è", "e", "é", "e", "ê", "e", "ë", "e", "î", "i", "ï", "i", "ñ", "n", "ó", "o", "ô", "o", "ù", "u", "ú", "u", "û", "u")

// slug lower-cases s, spells accented letters in ASCII and replaces runs
// of other characters with '-'.
func slug(s string) string {
	return strings.Trim(notSlug.ReplaceAllString(fold.Replace(strings.ToLower(strings.TrimSpace(s))), "-"), "-._")
}

// Category maps an ERP category path ("Tools > Power tools > Drills") to a
// catalog path ("tools/power-tools/drills").
func Category(erp string) string {
	var parts []string
	for _, p := range strings.Split(erp, ">") {
		if s := slug(p); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "/")
}

var notKey = regexp.MustCompile(`[^a-z0-9_]+`)

func attrKey(key, unit string) string {
	k := strings.Trim(notKey.ReplaceAllString(strings.ToLower(key), "_"), "_")
	if u := strings.Trim(notKey.ReplaceAllString(strings.ToLower(unit), "_"), "_"); u != "" {
		k += "_" + u
	}
	return k
}

// product maps an ERP product. The ERP's empty channel list means every
// channel, which becomes the configured default assortment; sales states
// map ACTIVE → ACTIVE, INACTIVE → ON_HOLD, DISCONTINUED → DISCONTINUED,
// anything else → DRAFT (not sellable). Attribute "brand" also fills the
// brand and "weight" in kg or g the shipping weight.
func (c *Client) product(p *erpv1.Product) catalog.Product {
	out := catalog.Product{
		SKU: p.GetSku(), Title: p.GetTitle(), Description: p.GetDescription(), BaseUnit: strings.ToUpper(p.GetBaseUnit()),
		PackSize: 1, Category: Category(p.GetCategory()), GTIN: p.GetGtin(), Channels: p.GetChannels(),
	}
	if len(out.Channels) == 0 {
		out.Channels = append([]string(nil), c.defaultChannels...)
	}
	switch p.GetSalesState() {
	case erpv1.Product_SALES_STATE_ACTIVE:
		out.Status = catalog.StatusActive
	case erpv1.Product_SALES_STATE_INACTIVE:
		out.Status = catalog.StatusOnHold
	case erpv1.Product_SALES_STATE_DISCONTINUED:
		out.Status = catalog.StatusDiscontinued
	case erpv1.Product_SALES_STATE_UNSPECIFIED:
		out.Status = catalog.StatusDraft
	}
	for _, a := range p.GetAttributes() {
		out.Attributes = append(out.Attributes, catalog.Attribute{Key: attrKey(a.GetKey(), a.GetUnit()), Value: a.GetValue()})
		switch strings.ToLower(a.GetKey()) {
		case "brand":
			out.Brand = a.GetValue()
		case "weight":
			if v, err := strconv.ParseFloat(a.GetValue(), 64); err == nil && v >= 0 {
				switch strings.ToLower(a.GetUnit()) {
				case "kg":
					out.WeightGrams = int64(math.Round(v * 1000))
				case "g":
					out.WeightGrams = int64(math.Round(v))
				}
			}
		}
	}
	return out
}
