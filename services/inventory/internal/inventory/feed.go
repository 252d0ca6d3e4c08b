package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/transload/transload/platform/fingerprint"
)

// ErrCursorExpired means a feed cursor points before the oldest event the
// adapter retains.
var ErrCursorExpired = errors.New("feed cursor expired")

// ErrFeedCursorMoved means a feed page's batch was not applied because the
// saved cursor is no longer the one the page was read from.
var ErrFeedCursorMoved = errors.New("feed cursor moved")

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

// PushPollInterval is the poll interval while a FeedWatcher's stream of
// the same feed is live (at least the configured interval): the poll is
// then only the fallback that catches what a silently stuck stream would
// miss, so it runs rarely.
const PushPollInterval = time.Minute

// FeedPoller applies a source's stock event feed through ApplyStockEvents:
// it reads from the saved cursor and applies the page as one idempotent
// batch that saves the next cursor in its own transaction, so a page is
// applied and the cursor moved past it together or not at all (the batch
// stays idempotent on its request id, derived from the cursor pair, for a
// page read again by another replica).
//
// A FeedWatcher may push the same feed (NewFeedWatcher): both apply
// through applyAt, which applies a page only if the saved cursor is still
// the one it was read from, so the two never apply the same page twice
// and the saved cursor only moves forward. While the watcher's stream is
// live the poller waits PushPollInterval between reads instead of its
// interval, and it polls at once when the stream fails.
type FeedPoller struct {
	svc      *Service
	feed     StockFeed
	source   string
	interval time.Duration
	pageSize int

	// mu serialises compare, apply and save of the cursor (applyAt).
	mu sync.Mutex
	// pushLive is set while a FeedWatcher's stream delivers.
	pushLive atomic.Bool
	// wake makes a waiting Run poll now (buffered, one pending wake-up).
	wake chan struct{}
}

// NewFeedPoller returns a poller of feed for source (e.g. "erp") that waits
// interval between reads when caught up.
func NewFeedPoller(svc *Service, feed StockFeed, source string, interval time.Duration) *FeedPoller {
	return &FeedPoller{svc: svc, feed: feed, source: source, interval: interval, pageSize: 500, wake: make(chan struct{}, 1)}
}

// Run polls until ctx ends. It waits for the initial load, backs off on
// errors, and on an expired cursor restarts from the oldest retained event
// (duplicates and stale events are ignored) and starts a reconciliation
// with corrections for what may have been missed.
func (p *FeedPoller) Run(ctx context.Context) {
	pause := p.interval
	for {
		if !waitFor(ctx, pause, p.wake) {
			return
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
			pause = p.idleInterval()
		}
	}
}

// waitFor waits d, or until wake (nil: never) receives, and reports
// false when ctx ended first.
func waitFor(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}

// idleInterval is the wait between reads when caught up.
func (p *FeedPoller) idleInterval() time.Duration {
	if p.pushLive.Load() {
		return max(p.interval, PushPollInterval)
	}
	return p.interval
}

// setPushLive records whether a FeedWatcher's stream is live; when it
// stops being live, Run polls at once to catch up whatever the stream did
// not deliver.
func (p *FeedPoller) setPushLive(live bool) {
	if p.pushLive.Swap(live) && !live {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// PollOnce reads and applies one page and reports whether more events are
// waiting (also when the page was dropped because a FeedWatcher moved the
// cursor meanwhile: the next read starts from there).
func (p *FeedPoller) PollOnce(ctx context.Context) (bool, error) {
	cursor, _, err := p.svc.store.FeedCursor(ctx, p.source)
	if err != nil {
		return false, err
	}
	page, err := p.feed.StockEvents(ctx, cursor, p.pageSize)
	if err != nil {
		return false, err
	}
	applied, err := p.applyAt(ctx, cursor, page)
	if err != nil {
		return false, err
	}
	return page.HasMore || !applied, nil
}

// applyAt applies page, read from cursor, as one idempotent batch and
// saves its next cursor in the batch's transaction (a page without events
// saves only the cursor), unless the saved cursor is no longer cursor (the
// other reader of this feed got there first): then it changes nothing and
// reports false. The comparison is the batch's compare-and-set of the
// cursor (FeedCursorUpdate), in its transaction; p.mu only keeps this
// process's poller and watcher from racing for it.
func (p *FeedPoller) applyAt(ctx context.Context, cursor string, page FeedPage) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	next := page.NextCursor
	if next == "" {
		next = cursor
	}
	if len(page.Events) == 0 {
		saved, _, err := p.svc.store.FeedCursor(ctx, p.source)
		if err != nil || saved != cursor {
			return false, err
		}
		if next != cursor {
			if err := p.svc.store.SaveFeedCursor(ctx, p.source, next, p.svc.now().UTC()); err != nil {
				return false, err
			}
		}
		return true, nil
	}
	// The comparison and the cursor's move ride in the batch's
	// transaction, so they also hold against another replica.
	res, err := p.svc.ApplyStockEvents(ctx, ApplyStockEventsParams{
		RequestID:    feedRequestID(p.source, cursor, page.NextCursor),
		SourceSystem: p.source,
		Events:       page.Events,
		Cursor:       &FeedCursorUpdate{Feed: p.source, From: cursor, Next: next},
	})
	if errors.Is(err, ErrFeedCursorMoved) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("apply %d feed events: %w", len(page.Events), err)
	}
	for _, r := range res {
		if r.Outcome == OutcomeRejected || r.Outcome == OutcomeBuffered {
			p.svc.logger.WarnContext(ctx, "inventory: feed event not applied", slog.String("source", p.source),
				slog.String("event_id", r.EventID), slog.Int("outcome", int(r.Outcome)), slog.String("message", r.Message))
		}
	}
	return true, nil
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
	p.mu.Lock()
	err := p.svc.store.SaveFeedCursor(ctx, p.source, "", now)
	p.mu.Unlock()
	if err != nil {
		p.svc.logger.WarnContext(ctx, "inventory: reset feed cursor", slog.Any("error", err))
		return
	}
	if _, err := p.svc.StartReconciliation(ctx, StartReconciliationParams{
		RequestID: "feed-resync:" + p.source + ":" + now.Format(time.RFC3339Nano), SnapshotSource: p.source, ApplyCorrections: true,
	}); err != nil {
		p.svc.logger.WarnContext(ctx, "inventory: reconciliation after an expired cursor", slog.Any("error", err))
	}
}
