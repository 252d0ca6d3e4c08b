package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/transload/transload/services/catalog-pricing/internal/erpsync"
)

// FeedCursorStore implements erpsync.CursorStore: the price feed cursor
// per ERP (migration 0004).
type FeedCursorStore struct{ *Store }

var _ erpsync.CursorStore = (*FeedCursorStore)(nil)

// FeedCursors returns the erpsync.CursorStore view.
func (s *Store) FeedCursors() *FeedCursorStore { return &FeedCursorStore{s} }

// LoadFeedCursor returns the saved cursor of erp and whether there is one.
func (f *FeedCursorStore) LoadFeedCursor(ctx context.Context, erp string) (erpsync.FeedCursor, bool, error) {
	var (
		c     erpsync.FeedCursor
		lists string
	)
	err := f.pool(ctx).row(`SELECT feed_cursor, seq, lists_json FROM erp_feed_cursors WHERE erp = ?`, erp).Scan(&c.Cursor, &c.Seq, &lists)
	if errors.Is(err, sql.ErrNoRows) {
		return erpsync.FeedCursor{}, false, nil
	}
	if err != nil {
		return erpsync.FeedCursor{}, false, fmt.Errorf("read feed cursor: %w", err)
	}
	if err := json.Unmarshal([]byte(lists), &c.Lists); err != nil {
		return erpsync.FeedCursor{}, false, fmt.Errorf("decode feed cursor lists: %w", err)
	}
	return c, true, nil
}

// SaveFeedCursor replaces the saved cursor of erp (in one statement, so a
// reader sees the old or the new cursor, never a mix).
func (f *FeedCursorStore) SaveFeedCursor(ctx context.Context, erp string, c erpsync.FeedCursor) error {
	lists, err := json.Marshal(c.Lists)
	if err != nil {
		return fmt.Errorf("encode feed cursor lists: %w", err)
	}
	if err := f.pool(ctx).exec(`INSERT INTO erp_feed_cursors (erp, feed_cursor, seq, lists_json, update_time) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (erp) DO UPDATE SET feed_cursor = excluded.feed_cursor, seq = excluded.seq, lists_json = excluded.lists_json,
		update_time = excluded.update_time`, erp, c.Cursor, c.Seq, string(lists), time.Now().UnixMicro()); err != nil {
		return fmt.Errorf("save feed cursor: %w", err)
	}
	return nil
}
