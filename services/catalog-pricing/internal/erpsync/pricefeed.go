package erpsync

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/transload/transload/platform/fingerprint"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// PriceChange is one entry of the ERP's price change feed (erp.v1
// ListPriceEvents) in the pricing domain's terms: the list price Row of
// ERP price list ERPList as it is now, or (Contract set) a customer
// contract as it is now, replacing the contract with its id as a whole.
type PriceChange struct {
	// Seq is the feed position, 1, 2, 3, ... without gaps.
	Seq     int64
	EventID string
	ERPList string
	Row     pricing.PriceRow
	// Contract is the changed contract; nil for a list price change.
	Contract *pricing.Contract
	// Skipped: the ERP price has its own channel or validity window, or
	// the contract has no price the engine can represent, which the
	// importer cannot represent (as in PriceExport.Skipped).
	Skipped bool
}

// PriceFeed is the ERP's price change feed; a Source that also implements
// it makes Run follow the feed. Errors are those of Source; ErrNoFeed
// when the adapter does not offer one.
type PriceFeed interface {
	// PriceChanges reads up to limit changes after cursor ("" for the
	// oldest retained) and returns the cursor after them and whether more
	// are available right now.
	PriceChanges(ctx context.Context, cursor string, limit int) (changes []PriceChange, next string, more bool, err error)
}

// PriceWatcher is the push form of PriceFeed (erp.v1 WatchPriceEvents);
// a Source that implements it too gets changes pushed, with PriceChanges
// polled only while the stream is down.
type PriceWatcher interface {
	// WatchPriceChanges streams changes after cursor to fn (each call
	// continuing where the previous next cursor points; the first may be
	// empty) until ctx ends or the stream breaks; ErrNoFeed when the
	// adapter has no push. An error fn returns ends the stream with it.
	WatchPriceChanges(ctx context.Context, cursor string, fn func(changes []PriceChange, next string) error) error
}

// watchLifetime bounds one WatchPriceEvents stream; the follower then
// opens the next from its cursor.
const watchLifetime = 5 * time.Minute

// watchPrices applies pushed changes until the stream ends, keeping st
// at the last applied change; its error says why it ended.
func (s *Syncer) watchPrices(parent context.Context, w PriceWatcher, st *priceFollower) error {
	ctx, cancel := context.WithTimeout(parent, watchLifetime)
	defer cancel()
	err := w.WatchPriceChanges(ctx, st.cursor, func(changes []PriceChange, next string) error {
		if len(changes) > 0 {
			if err := s.applyPriceChanges(ctx, st.seq, changes); err != nil {
				return err
			}
			st.seq = changes[len(changes)-1].Seq
		}
		st.cursor = next
		s.saveCursor(ctx, st)
		return nil
	})
	if ctx.Err() != nil && parent.Err() == nil {
		return nil // the stream's lifetime passed: open the next one
	}
	return err
}

// ErrNoFeed: the ERP adapter has no price change feed (UNIMPLEMENTED);
// prices then change only with full syncs.
var ErrNoFeed = errors.New("erp has no price change feed")

// errFeedGap: the feed skipped a position (or named a price list the last
// full export did not have); only a full export is then known to be right.
var errFeedGap = errors.New("price feed gap")

// feedPage is the number of price changes read per call.
const feedPage = 500

// DefaultPricePoll is how often the price feed is polled when caught up.
const DefaultPricePoll = 200 * time.Millisecond

// feedHead pages through the feed from cursor to its head and returns the
// head cursor and position, without applying anything.
func feedHead(ctx context.Context, feed PriceFeed, cursor string) (string, int64, error) {
	var last int64
	for {
		ch, next, more, err := feed.PriceChanges(ctx, cursor, feedPage)
		if err != nil {
			return "", 0, err
		}
		if len(ch) > 0 {
			last = ch[len(ch)-1].Seq
		}
		cursor = next
		if !more {
			return cursor, last, nil
		}
	}
}

// priceFollower is the state of the feed consumer: the cursor after the
// last applied change, that change's position, and the cursor last saved
// in the CursorStore.
type priceFollower struct {
	cursor string
	seq    int64
	saved  string
}

// resync re-reads the whole price export (a full Sync) after taking the
// feed head first, so every change up to the head is in the export and the
// feed resumes right after it. Changes after the head that the export also
// shows are applied again, which is harmless: each sets an absolute price.
func (s *Syncer) resync(ctx context.Context, feed PriceFeed, why string) (priceFollower, error) {
	cursor, seq, err := feedHead(ctx, feed, "")
	if err != nil {
		return priceFollower{}, err
	}
	s.log.InfoContext(ctx, "price feed: full price export as safety net", slog.String("why", why), slog.Int64("feed_head", seq))
	if _, err := s.Sync(ctx); err != nil {
		return priceFollower{}, err
	}
	s.resyncs.Add(1)
	return priceFollower{cursor: cursor, seq: seq}, nil
}

// applyPriceChanges upserts changes, which must continue pos without a
// gap, into the price lists the last full export mapped their ERP lists
// to: one ImportPrices per list (a new price version each, as any import,
// so quote memos and caches keyed by the version are invalidated), and
// the changed contracts through one ImportContracts (one more price
// version, the engine applies a contract to its customer only). Request
// ids are derived from the changes' positions and content, so a retried
// page is not applied twice. errFeedGap when a position is skipped or a
// list unknown.
func (s *Syncer) applyPriceChanges(ctx context.Context, pos int64, changes []PriceChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows := map[string][]pricing.PriceRow{}
	at := map[[2]string]int{} // list, SKU → index in rows[list]
	var order []string
	var contracts []pricing.Contract
	contractAt := map[string]int{} // contract id → index in contracts
	for _, c := range changes {
		if c.Seq != pos+1 {
			return errFeedGap
		}
		pos = c.Seq
		if c.Skipped {
			continue
		}
		if c.Contract != nil {
			// A later change of the same contract replaces it whole.
			if i, dup := contractAt[c.Contract.ID]; dup {
				contracts[i] = *c.Contract
			} else {
				contractAt[c.Contract.ID] = len(contracts)
				contracts = append(contracts, *c.Contract)
			}
			continue
		}
		lists, ok := s.erpLists[c.ERPList]
		if !ok {
			return errFeedGap
		}
		for _, l := range lists {
			if _, seen := rows[l]; !seen {
				order = append(order, l)
			}
			r := c.Row
			if i, dup := at[[2]string{l, r.SKU}]; dup {
				// A later change of the same price wins; an import takes
				// each SKU once.
				r.RowNumber = rows[l][i].RowNumber
				rows[l][i] = r
				continue
			}
			r.RowNumber = int64(len(rows[l]) + 1)
			at[[2]string{l, r.SKU}] = len(rows[l])
			rows[l] = append(rows[l], r)
		}
	}
	// The content's fingerprint in the request ids: an ERP whose feed
	// restarted numbering (a fresh simulator) reuses positions for other
	// changes, which must not replay the old import.
	span := strconv.FormatInt(changes[0].Seq, 10) + "-" + strconv.FormatInt(pos, 10) + ":"
	for _, l := range order {
		r, err := s.pricing.ImportPrices(ctx, pricing.ImportPricesRequest{
			RequestID: "erp-price-feed:" + l + ":" + span + fingerprint.Of(rows[l])[:16], PriceList: l, Source: "erp:price-feed",
			Mode: catalog.ModeUpsert, Rows: rows[l], Actor: erpActor,
		})
		if err != nil {
			return err
		}
		for _, rr := range r.Results {
			if rr.Outcome == catalog.RowRejected {
				s.log.WarnContext(ctx, "erp price change rejected", slog.String("price_list", l), slog.String("sku", rr.SKU),
					slog.String("field", rr.Field), slog.String("message", rr.Message))
			}
		}
	}
	if len(contracts) == 0 {
		return nil
	}
	req := pricing.ImportContractsRequest{RequestID: "erp-price-feed:contracts:" + span + fingerprint.Of(contracts)[:16],
		Source: "erp:price-feed", Actor: erpActor}
	for i, c := range contracts {
		req.Rows = append(req.Rows, pricing.ContractRow{RowNumber: int64(i + 1), Contract: c})
	}
	r, err := s.pricing.ImportContracts(ctx, req)
	if err != nil {
		return err
	}
	for _, rr := range r.Results {
		if rr.Outcome == catalog.RowRejected {
			s.log.WarnContext(ctx, "erp contract change rejected", slog.String("contract", rr.SKU),
				slog.String("field", rr.Field), slog.String("message", rr.Message))
		}
	}
	return nil
}

// followPrices applies the ERP's price changes in feed order as they come:
// pushed over WatchPriceEvents when the feed is also a PriceWatcher, else
// (and while the stream is down) polled every poll while caught up
// (immediately while more are waiting). It resumes from the saved cursor
// (SetCursorStore) when there is one; it starts without one, and falls
// back after any gap or a cursor the ERP refuses (ErrCursorGone), with a
// full price export (resync), so no change is lost. It returns when ctx
// ends or the adapter has no feed.
func (s *Syncer) followPrices(ctx context.Context, feed PriceFeed, poll time.Duration) {
	var (
		st         priceFollower
		delay      = s.min
		watcher, _ = feed.(PriceWatcher)
	)
	synced := s.resumeCursor(ctx, &st)
	for ctx.Err() == nil {
		if !synced {
			var err error
			if st, err = s.resync(ctx, feed, "start"); err != nil {
				if errors.Is(err, ErrNoFeed) {
					s.log.InfoContext(ctx, "price feed: the ERP has none; prices change with full syncs only")
					return
				}
				s.log.WarnContext(ctx, "price feed: resync failed; retrying", slog.Duration("retry_in", delay), slog.Any("error", err))
				if !sleep(ctx, jitter(delay)) {
					return
				}
				delay = min(delay*2, s.max)
				continue
			}
			synced, delay = true, s.min
			s.saveCursor(ctx, &st)
		}
		if watcher != nil {
			err := s.watchPrices(ctx, watcher, &st)
			switch {
			case ctx.Err() != nil:
				return
			case errors.Is(err, ErrNoFeed):
				watcher = nil // poll only from now on
			case errors.Is(err, errFeedGap), errors.Is(err, ErrCursorGone):
				s.log.WarnContext(ctx, "price feed gap; re-reading the full price export", slog.Int64("after", st.seq), slog.Any("error", err))
				synced = false
				continue
			case err != nil:
				// Poll once below, then open a new stream after the delay.
				s.log.WarnContext(ctx, "price feed stream ended; polling meanwhile", slog.Any("error", err))
				if !sleep(ctx, jitter(delay)) {
					return
				}
				delay = min(delay*2, s.max)
			}
		}
		changes, next, more, err := s.readFeed(ctx, feed, st.cursor)
		if err == nil && len(changes) > 0 {
			err = s.applyPriceChanges(ctx, st.seq, changes)
			if err == nil {
				st.cursor, st.seq = next, changes[len(changes)-1].Seq
			}
		} else if err == nil {
			st.cursor = next
		}
		if err == nil {
			s.saveCursor(ctx, &st)
		}
		switch {
		case errors.Is(err, errFeedGap), errors.Is(err, ErrCursorGone):
			s.log.WarnContext(ctx, "price feed gap; re-reading the full price export", slog.Int64("after", st.seq), slog.Any("error", err))
			synced = false
			continue
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			s.log.WarnContext(ctx, "price feed read failed; retrying", slog.Duration("retry_in", delay), slog.Any("error", err))
			if !sleep(ctx, jitter(delay)) {
				return
			}
			delay = min(delay*2, s.max)
			continue
		}
		delay = s.min
		if !more && !sleep(ctx, poll) {
			return
		}
	}
}

// readFeed reads one page with its own deadline.
func (s *Syncer) readFeed(ctx context.Context, feed PriceFeed, cursor string) ([]PriceChange, string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, feedCallTimeout)
	defer cancel()
	return feed.PriceChanges(ctx, cursor, feedPage)
}

// feedCallTimeout bounds one ListPriceEvents call.
const feedCallTimeout = 10 * time.Second
