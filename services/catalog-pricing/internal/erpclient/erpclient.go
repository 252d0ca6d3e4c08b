// Package erpclient reads the product master and list prices from the ERP
// adapter (transload.erp.v1 StreamCatalogExport and StreamPriceExport) and
// converts them to the catalog and pricing domains: it implements
// erpsync.Source. Transport failures become erpsync's errors here
// (through grpcclient.Classify), so the importer never inspects gRPC
// codes.
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

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/erpsync"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// Methods the client calls, for grpcclient.WithIdempotentMethods (all are
// reads, safe to retry).
var Methods = []string{
	erpv1.ErpAdapterService_StreamCatalogExport_FullMethodName,
	erpv1.ErpAdapterService_StreamPriceExport_FullMethodName,
	erpv1.ErpAdapterService_ListPriceEvents_FullMethodName,
}

// Options are the grpcclient options of a connection to the ERP adapter:
// its idempotent methods, and exportTimeout as the deadline of every
// export stream opened without one. grpcclient.WithDefaultTimeout bounds
// unary calls only (streams may be meant to stay open), and both calls of
// this client are streams, so the connection carries their budget here
// instead of each call taking its own.
func Options(exportTimeout time.Duration) []grpcclient.Option {
	return []grpcclient.Option{
		grpcclient.WithIdempotentMethods(Methods...),
		grpcclient.WithStreamTimeout(exportTimeout),
	}
}

// Client reads exports from the ERP adapter.
type Client struct {
	erp             erpv1.ErpAdapterServiceClient
	defaultChannels []string
}

var _ erpsync.Source = (*Client)(nil)

// New returns a Client on conn, dialed through platform/grpcclient with
// Options (breaker, retries and the export deadline come from the
// connection). defaultChannels is the assortment of products the ERP lists
// for "all channels".
func New(conn grpc.ClientConnInterface, defaultChannels []string) *Client {
	return &Client{erp: erpv1.NewErpAdapterServiceClient(conn), defaultChannels: defaultChannels}
}

// mapErr turns an error of a call made with ctx into erpsync's terms:
// the caller's own end stays what it is, a verdict of the ERP is
// ErrRejected, anything else (down, slow, throttled, breaker open,
// broken) is ErrUnavailable.
func mapErr(ctx context.Context, op string, err error) error {
	switch grpcclient.ClassifyCtx(ctx, err) {
	case grpcclient.ClassNone:
		return nil
	case grpcclient.ClassCallerGone:
		return fmt.Errorf("%s: %w", op, err)
	case grpcclient.ClassRejected:
		return fmt.Errorf("%s: %w: %w", op, erpsync.ErrRejected, err)
	case grpcclient.ClassTransient, grpcclient.ClassCircuitOpen, grpcclient.ClassConflict:
	}
	return fmt.Errorf("%s: %w: %w", op, erpsync.ErrUnavailable, err)
}

// exportMessage is a message of an export stream: a header, a chunk or
// the trailer.
type exportMessage interface {
	GetHeader() *erpv1.ExportHeader
	GetTrailer() *erpv1.ExportTrailer
}

// exportStream is the receiving side of an export stream.
type exportStream[M exportMessage] interface {
	Recv() (M, error)
}

// readExport opens an export stream with open and receives it up to its
// trailer, handing every chunk to chunk (which returns how many items it
// carried), and returns the export id. An export is complete only when
// the header came first and the header, the trailer and the items
// received agree on the count; otherwise the error wraps
// erpsync.ErrIncomplete.
func readExport[M exportMessage](ctx context.Context, op string, open func(context.Context) (exportStream[M], error),
	chunk func(M) int64) (string, error) {
	// Returning early (an incomplete export) must end the stream.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := open(ctx)
	if err != nil {
		return "", mapErr(ctx, op, err)
	}
	var id string
	var announced, received int64
	headerSeen := false
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("%s %s: %w: stream ended without trailer", op, id, erpsync.ErrIncomplete)
		}
		if err != nil {
			return "", mapErr(ctx, op, err)
		}
		switch h, tr := msg.GetHeader(), msg.GetTrailer(); {
		case h != nil:
			headerSeen = true
			id, announced = h.GetExportId(), h.GetItemCount()
		case tr != nil:
			if !headerSeen || tr.GetItemCount() != received || announced != received {
				return "", fmt.Errorf("%s %s: %w: announced %d, trailer %d, received %d",
					op, id, erpsync.ErrIncomplete, announced, tr.GetItemCount(), received)
			}
			return id, nil
		default:
			received += chunk(msg)
		}
	}
}

// FetchCatalog implements erpsync.Source: the full product export.
func (c *Client) FetchCatalog(ctx context.Context) (erpsync.CatalogExport, error) {
	var out erpsync.CatalogExport
	id, err := readExport(ctx, "catalog export",
		func(ctx context.Context) (exportStream[*erpv1.StreamCatalogExportResponse], error) {
			return c.erp.StreamCatalogExport(ctx, &erpv1.StreamCatalogExportRequest{})
		},
		func(msg *erpv1.StreamCatalogExportResponse) int64 {
			ps := msg.GetChunk().GetProducts()
			for _, p := range ps {
				out.Products = append(out.Products, c.product(p))
			}
			return int64(len(ps))
		})
	if err != nil {
		return erpsync.CatalogExport{}, err
	}
	out.ExportID = id
	return out, nil
}

// FetchPrices implements erpsync.Source: the full list price export with
// the customer contracts, promotions and channel rules (rules.go maps them).
func (c *Client) FetchPrices(ctx context.Context) (erpsync.PriceExport, error) {
	out := erpsync.PriceExport{Rows: map[string][]pricing.PriceRow{}, ListsByERP: map[string][]string{}}
	erpLists := map[string]*erpv1.PriceList{}
	id, err := readExport(ctx, "price export",
		func(ctx context.Context) (exportStream[*erpv1.StreamPriceExportResponse], error) {
			return c.erp.StreamPriceExport(ctx, &erpv1.StreamPriceExportRequest{
				IncludeContracts: true, IncludePromotions: true, IncludeChannelRules: true})
		},
		func(msg *erpv1.StreamPriceExportResponse) int64 {
			ch := msg.GetChunk()
			for _, l := range ch.GetPriceLists() {
				erpLists[l.GetPriceListId()] = l
				pls := priceLists(l)
				out.Lists = append(out.Lists, pls...)
				for _, pl := range pls {
					out.ListsByERP[l.GetPriceListId()] = append(out.ListsByERP[l.GetPriceListId()], pl.ID)
				}
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
			mapRules(ch, &out)
			return int64(len(ch.GetPriceLists()) + len(ch.GetListPrices()) + len(ch.GetContracts()) +
				len(ch.GetPromotions()) + len(ch.GetChannelRules()))
		})
	if err != nil {
		return erpsync.PriceExport{}, err
	}
	out.ExportID = id
	return out, nil
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
