package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrPushUnsupported means a source cannot push its stock event feed (the
// ERP adapter answers WatchStockEvents with UNIMPLEMENTED): its feed is
// polled only.
var ErrPushUnsupported = errors.New("the source does not push stock events")

// StockPush is the push form of a source's stock event feed (the ERP
// adapter's WatchStockEvents): the same events and cursors as StockFeed.
type StockPush interface {
	// WatchStockEvents streams the feed from cursor and calls deliver with
	// each message in feed order until ctx ends (its deadline bounds the
	// stream), the stream fails, or deliver returns an error, which it
	// returns as it is. ErrPushUnsupported when the source cannot push,
	// ErrCursorExpired for an expired or foreign cursor.
	WatchStockEvents(ctx context.Context, cursor string, deliver func(FeedPage) error) error
}

// Stream bounds and retry pauses of a FeedWatcher.
const (
	// DefaultStreamLifetime is the deadline of one stream: the watcher
	// then reopens it from its cursor (no call is open without a deadline;
	// HTTP/2 keepalive pings of the connection detect a dead peer sooner).
	DefaultStreamLifetime = 5 * time.Minute
	// watchRetryMin and watchRetryMax bound the backoff between failed
	// streams; a stream that delivered resets it.
	watchRetryMin = 250 * time.Millisecond
	watchRetryMax = 30 * time.Second
	// unsupportedRetry is how long the watcher leaves a source that cannot
	// push alone before asking again (an adapter may be upgraded).
	unsupportedRetry = 10 * time.Minute
)

var (
	// errStreamRotated ends a stream whose lifetime is over.
	errStreamRotated = errors.New("stock event stream lifetime over")
	// errCursorMoved ends a stream whose position is no longer the saved
	// cursor (the poller applied from there first).
	errCursorMoved = errors.New("feed cursor moved by the poller")
)

// FeedWatcher applies a source's pushed stock events as they arrive,
// through its FeedPoller's apply path (same idempotent batches, same
// cursor, compare-and-apply so poller and watcher never apply a page
// twice). It opens the stream at the saved cursor, applies each message's
// events and saves its next cursor in one transaction, and reopens it from the saved
// cursor after the stream's lifetime, a failure (with backoff; the
// connection's circuit breaker fails opens fast while the source is down)
// or a restart of the source, so nothing is skipped or applied twice.
// While its stream delivers, the poller slows to PushPollInterval; when
// the stream fails the poller polls at once. A source that cannot push
// (ErrPushUnsupported) is logged once and left to the poller.
type FeedWatcher struct {
	poller   *FeedPoller
	push     StockPush
	lifetime time.Duration
	retryMin time.Duration
	retryMax time.Duration
}

// NewFeedWatcher returns a watcher of push applying through poller (the
// poller of the same feed, which stays the fallback); lifetime bounds
// each stream (<= 0: DefaultStreamLifetime).
func NewFeedWatcher(poller *FeedPoller, push StockPush, lifetime time.Duration) *FeedWatcher {
	if lifetime <= 0 {
		lifetime = DefaultStreamLifetime
	}
	return &FeedWatcher{poller: poller, push: push, lifetime: lifetime, retryMin: watchRetryMin, retryMax: watchRetryMax}
}

// Run watches until ctx ends, starting once the initial load is done.
func (w *FeedWatcher) Run(ctx context.Context) {
	p := w.poller
	log := p.svc.logger.With(slog.String("source", p.source))
	var (
		pause       time.Duration
		unsupported bool
	)
	defer p.setPushLive(false)
	for {
		if pause > 0 && !waitFor(ctx, pause, nil) {
			return
		}
		if !p.svc.Loaded() {
			pause = w.retryMin
			continue
		}
		delivered, err := w.WatchOnce(ctx)
		if delivered {
			pause = 0
			if unsupported {
				unsupported = false
				log.InfoContext(ctx, "inventory: the source now pushes stock events")
			}
		}
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errStreamRotated), errors.Is(err, errCursorMoved):
			pause = 0
		case errors.Is(err, ErrPushUnsupported):
			p.setPushLive(false)
			if !unsupported {
				unsupported = true
				log.InfoContext(ctx, "inventory: the source does not push stock events; polling its feed only",
					slog.Duration("poll_interval", p.interval))
			}
			pause = unsupportedRetry
		case errors.Is(err, ErrCursorExpired) && p.interval <= 0:
			// No poller runs to restart the feed and reconcile: do it here.
			p.setPushLive(false)
			p.resync(ctx)
			pause = w.retryMin
		default:
			// ErrCursorExpired included: the poller, woken now, resyncs.
			p.setPushLive(false)
			log.WarnContext(ctx, "inventory: stock event stream", slog.Any("error", err))
			pause = min(max(2*pause, w.retryMin), w.retryMax)
		}
	}
}

// WatchOnce runs one stream from the saved cursor until it ends and
// reports whether it delivered anything. It ends with errStreamRotated
// when its lifetime is over.
func (w *FeedWatcher) WatchOnce(ctx context.Context) (delivered bool, err error) {
	p := w.poller
	cursor, _, err := p.svc.store.FeedCursor(ctx, p.source)
	if err != nil {
		return false, err
	}
	sctx, cancel := context.WithTimeout(ctx, w.lifetime)
	defer cancel()
	err = w.push.WatchStockEvents(sctx, cursor, func(page FeedPage) error {
		// Applied with ctx, not the stream's: the lifetime ending must
		// not cut a batch short.
		applied, err := p.applyAt(ctx, cursor, page)
		if err != nil {
			return err
		}
		if !applied {
			return errCursorMoved
		}
		cursor = page.NextCursor
		if !delivered {
			delivered = true
			p.setPushLive(true)
		}
		return nil
	})
	if ctx.Err() == nil && errors.Is(sctx.Err(), context.DeadlineExceeded) {
		return delivered, fmt.Errorf("%w after %s", errStreamRotated, w.lifetime)
	}
	if err == nil {
		err = errors.New("stock event stream ended without an error")
	}
	return delivered, err
}
