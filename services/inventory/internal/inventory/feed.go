package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/transload/transload/platform/fingerprint"
)

// ErrCursorExpired means a feed cursor points before the oldest event the
// adapter retains.
var ErrCursorExpired = errors.New("feed cursor expired")

// FeedPage is one read of a stock event feed.
type FeedPage struct {
	Events []StockEvent
	// NextCursor is where to read next (never empty).
	NextCursor string
	// HasMore says more events are available right now.
	HasMore bool
}

// StockFeed is a source system's stock event feed (the ERP adapter's
// ListStockEvents). Implementations bound each call with a deadline and
// return ErrCursorExpired for an expired cursor.
type StockFeed interface {
	StockEvents(ctx context.Context, cursor string, limit int) (FeedPage, error)
}

// FeedPoller applies a source's stock event feed through ApplyStockEvents:
// it reads from the saved cursor, applies the page as one idempotent batch
// and only then saves the next cursor, so a crash in between re-reads the
// page and the batch (same request id, same events) changes nothing twice.
type FeedPoller struct {
	svc      *Service
	feed     StockFeed
	source   string
	interval time.Duration
	pageSize int
}

// NewFeedPoller returns a poller of feed for source (e.g. "erp") that waits
// interval between reads when caught up.
func NewFeedPoller(svc *Service, feed StockFeed, source string, interval time.Duration) *FeedPoller {
	return &FeedPoller{svc: svc, feed: feed, source: source, interval: interval, pageSize: 500}
}

// Run polls until ctx ends. It waits for the initial load, backs off on
// errors, and on an expired cursor restarts from the oldest retained event
// (duplicates and stale events are ignored) and starts a reconciliation
// with corrections for what may have been missed.
func (p *FeedPoller) Run(ctx context.Context) {
	pause := p.interval
	for {
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if !p.svc.Loaded() {
			pause = p.interval
			continue
		}
		more, err := p.PollOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrCursorExpired):
			p.resync(ctx)
			pause = 0
		case err != nil:
			p.svc.logger.WarnContext(ctx, "inventory: stock event feed", slog.String("source", p.source), slog.Any("error", err))
			pause = min(max(2*pause, p.interval), 30*time.Second)
		case more:
			pause = 0
		default:
			pause = p.interval
		}
	}
}

// PollOnce reads and applies one page and reports whether more events are
// waiting.
func (p *FeedPoller) PollOnce(ctx context.Context) (bool, error) {
	cursor, _, err := p.svc.store.FeedCursor(ctx, p.source)
	if err != nil {
		return false, err
	}
	page, err := p.feed.StockEvents(ctx, cursor, p.pageSize)
	if err != nil {
		return false, err
	}
	if len(page.Events) > 0 {
		res, err := p.svc.ApplyStockEvents(ctx, ApplyStockEventsParams{
			RequestID:    feedRequestID(p.source, cursor, page.NextCursor),
			SourceSystem: p.source,
			Events:       page.Events,
		})
		if err != nil {
			return false, fmt.Errorf("apply %d feed events: %w", len(page.Events), err)
		}
		for _, r := range res {
			if r.Outcome == OutcomeRejected || r.Outcome == OutcomeBuffered {
				p.svc.logger.WarnContext(ctx, "inventory: feed event not applied", slog.String("source", p.source),
					slog.String("event_id", r.EventID), slog.Int("outcome", int(r.Outcome)), slog.String("message", r.Message))
			}
		}
	}
	if page.NextCursor != "" && page.NextCursor != cursor {
		if err := p.svc.store.SaveFeedCursor(ctx, p.source, page.NextCursor, p.svc.now().UTC()); err != nil {
			return false, err
		}
	}
	return page.HasMore, nil
}

// feedRequestID is the ApplyStockEvents request id of the page read from
// cursor to next: the same page read again (after a crash before the cursor
// was saved) replays the stored batch. It is stored, so its spelling stays.
func feedRequestID(source, cursor, next string) string {
	return "feed:" + source + ":" + fingerprint.Bytes([]byte(cursor + "\x00" + next))[:40]
}

func (p *FeedPoller) resync(ctx context.Context) {
	now := p.svc.now().UTC()
	p.svc.logger.WarnContext(ctx, "inventory: stock event feed cursor expired; restarting from the oldest retained event and reconciling",
		slog.String("source", p.source))
	if err := p.svc.store.SaveFeedCursor(ctx, p.source, "", now); err != nil {
		p.svc.logger.WarnContext(ctx, "inventory: reset feed cursor", slog.Any("error", err))
		return
	}
	if _, err := p.svc.StartReconciliation(ctx, StartReconciliationParams{
		RequestID: "feed-resync:" + p.source + ":" + now.Format(time.RFC3339Nano), SnapshotSource: p.source, ApplyCorrections: true,
	}); err != nil {
		p.svc.logger.WarnContext(ctx, "inventory: reconciliation after an expired cursor", slog.Any("error", err))
	}
}
