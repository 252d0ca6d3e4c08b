package erpsync

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// FeedCursor is where the price feed follower resumes after a restart:
// the feed cursor after the last applied change, that change's position,
// and the ERP price list → catalog price lists map of the last full
// export (without it a resumed change could not be placed).
type FeedCursor struct {
	Cursor string
	Seq    int64
	Lists  map[string][]string
}

// CursorStore keeps the price feed cursor durably, per ERP (the service's
// database; sqlstore.FeedCursorStore).
type CursorStore interface {
	// LoadFeedCursor returns the saved cursor of erp and whether one is
	// saved.
	LoadFeedCursor(ctx context.Context, erp string) (FeedCursor, bool, error)
	// SaveFeedCursor replaces the saved cursor of erp.
	SaveFeedCursor(ctx context.Context, erp string, c FeedCursor) error
}

// ErrCursorGone: the ERP refused the feed cursor (INVALID_CURSOR: not
// issued by it or beyond its feed head, as after the ERP's data was
// replaced; CURSOR_EXPIRED: older than its retention). Only a full export
// is then known to be right.
var ErrCursorGone = errors.New("erp refused the price feed cursor")

// SetCursorStore makes the price feed follower save its cursor in cs under
// erp (e.g. the ERP's address) after every applied page and resume from
// it at start, so a restart costs no full export; without a store the
// cursor lives in memory and every start runs one. Call it before Run.
func (s *Syncer) SetCursorStore(cs CursorStore, erp string) {
	s.cursors, s.cursorKey = cs, erp
}

// cursorCallTimeout bounds one cursor read or write.
const cursorCallTimeout = 5 * time.Second

// resumeCursor loads the saved cursor into st and the list map; false when
// there is none (or it cannot be read), so the follower starts with a
// full export.
func (s *Syncer) resumeCursor(ctx context.Context, st *priceFollower) bool {
	if s.cursors == nil {
		return false
	}
	cctx, cancel := context.WithTimeout(ctx, cursorCallTimeout)
	defer cancel()
	c, ok, err := s.cursors.LoadFeedCursor(cctx, s.cursorKey)
	if err != nil {
		s.log.WarnContext(ctx, "price feed: saved cursor unreadable; starting with a full export", slog.Any("error", err))
		return false
	}
	if !ok || c.Cursor == "" {
		return false
	}
	s.mu.Lock()
	s.erpLists = c.Lists
	s.mu.Unlock()
	*st = priceFollower{cursor: c.Cursor, seq: c.Seq, saved: c.Cursor}
	s.log.InfoContext(ctx, "price feed: resuming from the saved cursor", slog.Int64("after", c.Seq))
	return true
}

// saveCursor saves st (and the current list map) when its cursor moved
// since the last save. A failed save is logged, not fatal: the next start
// then re-reads changes already applied, which set the same absolute
// prices again.
func (s *Syncer) saveCursor(ctx context.Context, st *priceFollower) {
	if s.cursors == nil || st.cursor == st.saved || st.cursor == "" {
		return
	}
	s.mu.Lock()
	lists := maps.Clone(s.erpLists)
	s.mu.Unlock()
	for k, v := range lists {
		lists[k] = slices.Clone(v)
	}
	cctx, cancel := context.WithTimeout(ctx, cursorCallTimeout)
	defer cancel()
	if err := s.cursors.SaveFeedCursor(cctx, s.cursorKey, FeedCursor{Cursor: st.cursor, Seq: st.seq, Lists: lists}); err != nil {
		if ctx.Err() == nil {
			s.log.WarnContext(ctx, "price feed: saving the cursor failed", slog.Any("error", err))
		}
		return
	}
	s.cursorSaves.Add(1)
	st.saved = st.cursor
}

// CursorSaves is how many times the price feed saved its cursor (tests).
func (s *Syncer) CursorSaves() int64 { return s.cursorSaves.Load() }
