package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// PollerConfig configures a Poller.
type PollerConfig struct {
	Common
	// Source names the WMS feed; cursors and event ids are per source.
	Source string
	// Interval is the pause between polls once the feed is caught up.
	Interval time.Duration
	// PageSize is the number of events asked per poll (default 100).
	PageSize int
	// Returns makes the poller read the return receipt feed instead of
	// the shipment event feed (give it a Source of its own).
	Returns bool
}

// Poller applies a WMS feed: shipment events, or return receipts.
type Poller struct {
	store fulfillment.Store
	wms   fulfillment.WMS
	cfg   PollerConfig
}

// NewPoller returns a poller; run it with Run.
func NewPoller(store fulfillment.Store, wms fulfillment.WMS, cfg PollerConfig) *Poller {
	cfg.Common = cfg.withDefaults()
	if cfg.Source == "" {
		cfg.Source = "wms"
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 500 * time.Millisecond
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 100
	}
	return &Poller{store: store, wms: wms, cfg: cfg}
}

// Run polls until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	loop(ctx, p.cfg.Logger, "wms poller", p.cfg.Interval, nil, p.PollOnce)
}

var errCursorMoved = errors.New("wms cursor moved during the poll")

// PollOnce reads one page from the stored cursor and applies it in one
// transaction together with the new cursor. more reports that the WMS has
// more events right now.
func (p *Poller) PollOnce(ctx context.Context) (more bool, err error) {
	cur, err := p.store.Cursor(ctx, p.cfg.Source)
	if err != nil {
		return false, err
	}
	read := p.wms.ShipmentEvents
	if p.cfg.Returns {
		read = p.wms.ReturnEvents
	}
	page, err := read(ctx, cur, p.cfg.PageSize)
	if errors.Is(err, fulfillment.ErrCursorRefused) && cur != "" {
		// The stored cursor is no longer usable (retention passed, adapter
		// replaced): restart from the oldest retained event. Events already
		// applied are skipped by their ids.
		p.cfg.Logger.ErrorContext(ctx, "wms feed cursor refused; restarting the feed from the oldest retained event",
			slog.String("source", p.cfg.Source), slog.Any("error", err))
		return true, p.store.InTx(ctx, func(tx fulfillment.Tx) error {
			return tx.SetCursor(ctx, p.cfg.Source, "", p.cfg.Now())
		})
	}
	if err != nil {
		return false, fmt.Errorf("read wms feed %s: %w", p.cfg.Source, err)
	}
	if len(page.Events) == 0 && (page.NextCursor == cur || page.NextCursor == "") {
		return false, nil
	}
	var results []applyResult
	err = p.store.InTx(ctx, func(tx fulfillment.Tx) error {
		results = nil
		stored, err := tx.Cursor(ctx, p.cfg.Source)
		if err != nil {
			return err
		}
		if stored != cur {
			return errCursorMoved // another poller applied this page
		}
		if err := prefetchSeen(ctx, tx, p.cfg.Source, page.Events); err != nil {
			return err
		}
		b, buf := newBatch(), &eventBuffer{Tx: tx}
		for _, ev := range page.Events {
			r, err := applyEvent(ctx, buf, b, p.cfg.Logger, p.cfg.Source, ev, p.cfg.Now())
			if err != nil {
				return fmt.Errorf("apply wms event %s: %w", ev.ID, err)
			}
			results = append(results, r)
		}
		if err := buf.flush(ctx); err != nil {
			return err
		}
		if page.NextCursor == "" {
			return nil
		}
		return tx.SetCursor(ctx, p.cfg.Source, page.NextCursor, p.cfg.Now())
	})
	if errors.Is(err, errCursorMoved) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	p.cfg.afterCommit(ctx, p.cfg.Source, results)
	return page.HasMore, nil
}
