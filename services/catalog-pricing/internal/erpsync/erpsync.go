// Package erpsync imports the ERP's product master, list prices and
// pricing rules (contracts, channel rules, promotions) into the catalog
// and pricing domains and publishes a catalog version: once at
// start while no catalog is published (retrying with backoff while the ERP
// is down), periodically when configured, and on demand (Sync).
package erpsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/transload/transload/platform/correlation"

	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// Syncer runs ERP imports. Sync calls are serialised.
type Syncer struct {
	src      Source
	catalog  *catalog.Service
	pricing  *pricing.Service
	log      *slog.Logger
	min, max time.Duration
	mu       sync.Mutex

	// erpLists maps each ERP price list of the last full export to the
	// catalog price lists it became (pricefeed.go); guarded by mu.
	erpLists map[string][]string
	// pricePoll is the price feed's poll interval (0: DefaultPricePoll;
	// negative: do not follow the feed).
	pricePoll time.Duration
	// resyncs counts full price exports run by the price feed (tests).
	resyncs atomic.Int64
	// cursors keeps the price feed cursor under cursorKey (cursor.go);
	// nil: in memory only. cursorSaves counts saves (tests).
	cursors     CursorStore
	cursorKey   string
	cursorSaves atomic.Int64
}

// SetPricePoll sets how often Run polls the ERP's price change feed while
// caught up (default DefaultPricePoll); negative turns following off.
// Call it before Run.
func (s *Syncer) SetPricePoll(d time.Duration) { s.pricePoll = d }

// Resyncs is how many full syncs the price feed has run (at its start and
// after gaps).
func (s *Syncer) Resyncs() int64 { return s.resyncs.Load() }

// New returns a Syncer; retryMin and retryMax bound the backoff of Run.
func New(src Source, cat *catalog.Service, pr *pricing.Service, log *slog.Logger, retryMin, retryMax time.Duration) *Syncer {
	return &Syncer{src: src, catalog: cat, pricing: pr, log: log, min: retryMin, max: retryMax}
}

// Result summarises one sync.
type Result struct {
	Products      catalog.ImportResult
	PriceRows     int64
	PriceRejected int64
	PricesSkipped int
	// Retired counts draft products missing from the (authoritative) full
	// export that were set to DISCONTINUED.
	Retired         int64
	Version         catalog.Version
	VersionCreated  bool
	CatalogExportID string
	PriceExportID   string
	// Rules is the outcome of the contracts, channel rules and promotions.
	Rules RulesResult
}

// importChunk is the number of rows per import request, listPage the
// number of draft products read per page.
const (
	importChunk = 1000
	listPage    = 500
)

var erpActor = catalog.Actor{Kind: "system", ID: "erp-sync"}

// Sync imports every product and list price from the ERP into the working
// catalog and publishes it (no new version when nothing changed). Errors
// wrap ErrUnavailable / ErrIncomplete (retry), ErrRejected or the domain's.
func (s *Syncer) Sync(ctx context.Context) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run := uuid.NewString()
	// One correlation id per run ties the ERP calls, the logs and the
	// events of this sync together.
	if _, ok := correlation.FromContext(ctx); !ok {
		ctx = correlation.WithID(ctx, "erp-sync-"+run)
	}
	var res Result
	ce, err := s.src.FetchCatalog(ctx)
	if err != nil {
		return res, err
	}
	res.CatalogExportID = ce.ExportID
	for i := 0; i < len(ce.Products); i += importChunk {
		chunk := ce.Products[i:min(i+importChunk, len(ce.Products))]
		req := catalog.ImportRequest{
			RequestID: "erp-sync:" + run + ":products:" + strconv.Itoa(i/importChunk),
			Source:    "erp:" + ce.ExportID, Mode: catalog.ModeUpsert, Actor: erpActor,
		}
		for j, p := range chunk {
			req.Rows = append(req.Rows, catalog.ImportRow{RowNumber: int64(i + j + 1), Product: p})
		}
		r, err := s.catalog.ImportProducts(ctx, req)
		if err != nil {
			return res, err
		}
		for _, rr := range r.Results {
			if rr.Outcome == catalog.RowRejected {
				s.log.WarnContext(ctx, "erp product rejected", slog.String("sku", rr.SKU), slog.String("field", rr.Field),
					slog.String("message", rr.Message))
			}
		}
		res.Products.Created += r.Created
		res.Products.Updated += r.Updated
		res.Products.Unchanged += r.Unchanged
		res.Products.Rejected += r.Rejected
	}

	retired, err := s.retireMissing(ctx, run, ce)
	if err != nil {
		return res, err
	}
	res.Retired = retired

	pe, err := s.src.FetchPrices(ctx)
	if err != nil {
		return res, err
	}
	res.PriceExportID, res.PricesSkipped = pe.ExportID, pe.Skipped
	s.erpLists = erpListMap(pe)
	for _, l := range pe.Lists {
		if _, err := s.pricing.UpsertPriceList(ctx, pricing.UpsertPriceListRequest{
			RequestID: "erp-sync:" + run + ":list:" + l.ID, List: l, AllowMissing: true, Actor: erpActor,
		}); err != nil {
			return res, err
		}
		rows := pe.Rows[l.ID]
		if len(rows) == 0 {
			continue
		}
		n, rejected, err := s.importPrices(ctx, run, l.ID, pe.ExportID, rows)
		if err != nil {
			return res, err
		}
		res.PriceRows += n
		res.PriceRejected += rejected
	}

	if res.Rules, err = s.importRules(ctx, run, pe); err != nil {
		return res, err
	}

	pub, err := s.catalog.PublishCatalog(ctx, catalog.PublishRequest{
		RequestID: "erp-sync:" + run + ":publish", Note: "ERP sync (export " + ce.ExportID + ")", Publisher: erpActor,
	})
	if err != nil {
		return res, err
	}
	res.Version, res.VersionCreated = pub.Version, pub.Created
	s.log.InfoContext(ctx, "erp sync done", slog.Int64("catalog_version", pub.Version.Number),
		slog.Bool("version_created", pub.Created), slog.Int64("products_created", res.Products.Created),
		slog.Int64("products_updated", res.Products.Updated), slog.Int64("products_rejected", res.Products.Rejected),
		slog.Int64("price_rows", res.PriceRows), slog.Int64("price_rows_rejected", res.PriceRejected),
		slog.Int("prices_skipped", res.PricesSkipped), slog.Int64("products_retired", res.Retired),
		slog.Int64("contracts_created", res.Rules.Contracts.Created), slog.Int64("contracts_rejected", res.Rules.Contracts.Rejected),
		slog.Int("rules_staged", res.Rules.Staged), slog.Int("rules_rejected", res.Rules.Rejected),
		slog.Int("rules_skipped", res.Rules.Skipped), slog.Int64("rules_price_version", res.Rules.Published.PriceVersion))
	return res, nil
}

// retireMissing sets every draft product that the full export no longer
// lists to DISCONTINUED: full exports are authoritative, and products are
// retired rather than deleted so existing orders still resolve.
func (s *Syncer) retireMissing(ctx context.Context, run string, ce CatalogExport) (int64, error) {
	inExport := make(map[string]bool, len(ce.Products))
	for _, p := range ce.Products {
		inExport[p.SKU] = true
	}
	var retire []catalog.ImportRow
	req := catalog.ListRequest{Ref: catalog.VersionRef{Kind: catalog.RefDraft}, Limit: listPage}
	for {
		page, err := s.catalog.ListProducts(ctx, req)
		if err != nil {
			return 0, err
		}
		for _, p := range page.Products {
			if !inExport[p.SKU] && p.Status != catalog.StatusDiscontinued {
				p.Status = catalog.StatusDiscontinued
				retire = append(retire, catalog.ImportRow{RowNumber: int64(len(retire) + 1), Product: p})
			}
		}
		if len(page.Products) < listPage {
			break
		}
		req.Cursor = &catalog.Cursor{Version: catalog.DraftVersion, After: page.Products[len(page.Products)-1].SKU}
	}
	var n int64
	for i := 0; i < len(retire); i += importChunk {
		r, err := s.catalog.ImportProducts(ctx, catalog.ImportRequest{
			RequestID: "erp-sync:" + run + ":retire:" + strconv.Itoa(i/importChunk), Source: "erp:" + ce.ExportID,
			Mode: catalog.ModeUpsert, Rows: retire[i:min(i+importChunk, len(retire))], Actor: erpActor,
		})
		if err != nil {
			return n, err
		}
		n += r.Updated
	}
	return n, nil
}

// importPrices replaces the list's entries with rows (REPLACE_ALL, in one
// request when they fit); when a row is rejected REPLACE_ALL writes nothing,
// so the accepted rows are then upserted and the rejections logged.
func (s *Syncer) importPrices(ctx context.Context, run, listID, exportID string, rows []pricing.PriceRow) (int64, int64, error) {
	const maxRows = 10000
	mode := catalog.ModeReplaceAll
	if len(rows) > maxRows {
		mode = catalog.ModeUpsert
	}
	var total, rejected int64
	for i := 0; i < len(rows); i += maxRows {
		chunk := rows[i:min(i+maxRows, len(rows))]
		req := pricing.ImportPricesRequest{
			RequestID: "erp-sync:" + run + ":prices:" + listID + ":" + strconv.Itoa(i/maxRows),
			PriceList: listID, Source: "erp:" + exportID, Mode: mode, Rows: chunk, Actor: erpActor,
		}
		r, err := s.pricing.ImportPrices(ctx, req)
		if err != nil {
			return total, rejected, err
		}
		if r.Rejected > 0 && mode == catalog.ModeReplaceAll {
			req.RequestID += ":upsert"
			req.Mode = catalog.ModeUpsert
			if r, err = s.pricing.ImportPrices(ctx, req); err != nil {
				return total, rejected, err
			}
		}
		for _, rr := range r.Results {
			if rr.Outcome == catalog.RowRejected {
				s.log.WarnContext(ctx, "erp price rejected", slog.String("price_list", listID), slog.String("sku", rr.SKU),
					slog.String("field", rr.Field), slog.String("message", rr.Message))
			}
		}
		total += int64(len(chunk))
		rejected += r.Rejected
	}
	return total, rejected, nil
}

// Run imports at start when no catalog is published yet, retrying with
// jittered exponential backoff until it succeeds; then it re-imports every
// interval (when > 0) and whenever trigger fires (operators' on-demand sync,
// e.g. SIGHUP; nil disables it). When the source is also a PriceFeed it
// follows the ERP's price changes meanwhile (followPrices). It returns when
// ctx ends.
func (s *Syncer) Run(ctx context.Context, interval time.Duration, trigger <-chan struct{}) error {
	published, err := s.catalog.HasPublished(ctx)
	for err != nil {
		s.log.ErrorContext(ctx, "read catalog state", slog.Any("error", err))
		if !sleep(ctx, s.min) {
			return nil
		}
		published, err = s.catalog.HasPublished(ctx)
	}
	if !published {
		if !s.retryUntilDone(ctx) {
			return nil
		}
	}
	following := false
	if feed, ok := s.src.(PriceFeed); ok && s.pricePoll >= 0 {
		following = true
		poll := s.pricePoll
		if poll == 0 {
			poll = DefaultPricePoll
		}
		done := make(chan struct{})
		defer func() { <-done }()
		go func() { defer close(done); s.followPrices(ctx, feed, poll) }()
	}
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	if tick == nil && trigger == nil {
		if following {
			<-ctx.Done() // the price feed follower runs until ctx ends
		}
		return nil
	}
	for {
		why := "periodic"
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		case <-trigger:
			why = "on-demand"
		}
		if _, err := s.Sync(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, why+" erp sync failed", slog.Any("error", err))
		}
	}
}

func (s *Syncer) retryUntilDone(ctx context.Context) bool {
	delay := s.min
	for attempt := 1; ; attempt++ {
		_, err := s.Sync(ctx)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		level := slog.LevelWarn
		if !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrIncomplete) {
			level = slog.LevelError
		}
		s.log.Log(ctx, level, "initial erp import failed; retrying", slog.Int("attempt", attempt),
			slog.Duration("retry_in", delay), slog.Any("error", fmt.Errorf("sync: %w", err)))
		if !sleep(ctx, jitter(delay)) {
			return false
		}
		delay = min(delay*2, s.max)
	}
}

// jitter returns a duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
