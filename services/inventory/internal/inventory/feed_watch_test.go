package inventory

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// cursorStore is the part of Store the feed readers use: the saved cursor
// and the applied batches (the rest of Store is not called).
type cursorStore struct {
	Store
	mu      sync.Mutex
	cursor  string
	applied []string // request ids
}

func (s *cursorStore) FeedCursor(context.Context, string) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursor, s.cursor != "", nil
}

func (s *cursorStore) SaveFeedCursor(_ context.Context, _, cursor string, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cursor = cursor
	return nil
}

func (s *cursorStore) ApplyStockEvents(_ context.Context, p ApplyStockEventsParams, _ time.Time) ([]StockEventResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Cursor != nil {
		// Like the real store: compare-and-set, the cursor moves with
		// the batch.
		if s.cursor != p.Cursor.From {
			return nil, ErrFeedCursorMoved
		}
		s.cursor = p.Cursor.Next
	}
	s.applied = append(s.applied, p.RequestID)
	return nil, nil
}

func (s *cursorStore) state() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursor, len(s.applied)
}

func feedService(cursor string) (*Service, *cursorStore) {
	st := &cursorStore{cursor: cursor}
	svc := NewService(st, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	svc.MarkLoaded()
	return svc, st
}

var oneEvent = []StockEvent{{EventID: "e", SKU: "S", WarehouseCode: "W", Sequence: 1, Kind: KindReceipt, Quantity: 1}}

// racingFeed is a poll whose read lets the other reader move the saved
// cursor first (the watcher applying a pushed page meanwhile).
type racingFeed struct {
	st   *cursorStore
	page FeedPage
}

func (f *racingFeed) StockEvents(ctx context.Context, _ string, _ int) (FeedPage, error) {
	_ = f.st.SaveFeedCursor(ctx, "erp", "c9", time.Time{})
	return f.page, nil
}

func TestApplyAtComparesTheCursor(t *testing.T) {
	t.Parallel()
	svc, st := feedService("c1")
	p := NewFeedPoller(svc, nil, "erp", time.Hour)
	if ok, err := p.applyAt(t.Context(), "c0", FeedPage{Events: oneEvent, NextCursor: "c2"}); ok || err != nil {
		t.Fatalf("page from a stale cursor: applied %t, %v", ok, err)
	}
	if cur, n := st.state(); cur != "c1" || n != 0 {
		t.Fatalf("after a stale page: cursor %s, %d batches; want c1 and none", cur, n)
	}
	if ok, err := p.applyAt(t.Context(), "c1", FeedPage{Events: oneEvent, NextCursor: "c2"}); !ok || err != nil {
		t.Fatalf("page from the saved cursor: applied %t, %v", ok, err)
	}
	if cur, n := st.state(); cur != "c2" || n != 1 {
		t.Errorf("after the page: cursor %s, %d batches; want c2 and one", cur, n)
	}

	// A poll overtaken by the other reader drops its page, never saves its
	// older cursor, and asks to read again at once.
	svc2, st2 := feedService("c1")
	p2 := NewFeedPoller(svc2, &racingFeed{st: st2, page: FeedPage{Events: oneEvent, NextCursor: "c2"}}, "erp", time.Hour)
	more, err := p2.PollOnce(t.Context())
	if cur, n := st2.state(); err != nil || !more || cur != "c9" || n != 0 {
		t.Errorf("overtaken poll: more %t, %v, cursor %s, %d batches; want more, c9 kept, nothing applied", more, err, cur, n)
	}
}

// scriptedPush delivers its pages, then ends with err, or (hold) waits for
// the stream's deadline; it records the cursors it was opened at.
type scriptedPush struct {
	mu      sync.Mutex
	pages   []FeedPage
	err     error
	hold    bool
	cursors []string
}

func (s *scriptedPush) WatchStockEvents(ctx context.Context, cursor string, deliver func(FeedPage) error) error {
	s.mu.Lock()
	s.cursors = append(s.cursors, cursor)
	s.mu.Unlock()
	for _, p := range s.pages {
		if err := deliver(p); err != nil {
			return err
		}
	}
	if s.hold {
		<-ctx.Done()
		return errors.Join(ErrDependencyUnavailable, ctx.Err())
	}
	return s.err
}

func (s *scriptedPush) opened() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cursors)
}

func TestWatchOnce(t *testing.T) {
	t.Parallel()
	// Pages apply in order from the saved cursor; the lifetime ends the
	// stream as a rotation, and the poller counts the stream as live.
	svc, st := feedService("c0")
	p := NewFeedPoller(svc, nil, "erp", time.Second)
	push := &scriptedPush{pages: []FeedPage{{NextCursor: "c0"}, {Events: oneEvent, NextCursor: "c1"}}, hold: true}
	w := NewFeedWatcher(p, push, 50*time.Millisecond)
	delivered, err := w.WatchOnce(t.Context())
	if !delivered || !errors.Is(err, errStreamRotated) {
		t.Fatalf("WatchOnce = %t, %v; want delivered and rotated", delivered, err)
	}
	if cur, n := st.state(); cur != "c1" || n != 1 {
		t.Errorf("cursor %s, %d batches; want c1 and one", cur, n)
	}
	if !p.pushLive.Load() || p.idleInterval() != PushPollInterval {
		t.Errorf("live %t, poll interval %s; want live and %s", p.pushLive.Load(), p.idleInterval(), PushPollInterval)
	}

	// A page from a cursor the poller has moved on from ends the stream
	// without applying it, to reopen at the saved cursor.
	delivered, err = NewFeedWatcher(p, &movedPush{st: st}, time.Minute).WatchOnce(t.Context())
	if delivered || !errors.Is(err, errCursorMoved) {
		t.Errorf("WatchOnce after the cursor moved = %t, %v; want errCursorMoved", delivered, err)
	}
	if cur, n := st.state(); cur != "c7" || n != 1 {
		t.Errorf("cursor %s, %d batches; want the poller's c7 kept and nothing more applied", cur, n)
	}
}

// movedPush opens at the saved cursor, then the poller moves the cursor
// before the first page is applied.
type movedPush struct{ st *cursorStore }

func (m *movedPush) WatchStockEvents(ctx context.Context, cursor string, deliver func(FeedPage) error) error {
	_ = m.st.SaveFeedCursor(ctx, "erp", "c7", time.Time{})
	return deliver(FeedPage{Events: oneEvent, NextCursor: "c6"})
}

func TestWatcherRun(t *testing.T) {
	t.Parallel()
	// A source that cannot push is asked once, then left to the poller.
	svc, _ := feedService("c0")
	p := NewFeedPoller(svc, nil, "erp", time.Second)
	push := &scriptedPush{err: ErrPushUnsupported}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); NewFeedWatcher(p, push, time.Minute).Run(ctx) }()
	time.Sleep(300 * time.Millisecond)
	cancel()
	<-done
	if got := push.opened(); len(got) != 1 || p.pushLive.Load() {
		t.Errorf("unsupported push opened %d times (live %t); want once, not live", len(got), p.pushLive.Load())
	}

	// A failing stream is reopened with backoff from the saved cursor, and
	// its failure wakes the poller to catch up.
	svc2, st2 := feedService("c0")
	p2 := NewFeedPoller(svc2, nil, "erp", time.Second)
	p2.pushLive.Store(true)
	failing := &scriptedPush{pages: []FeedPage{{Events: oneEvent, NextCursor: "c1"}}, err: ErrDependencyUnavailable}
	w := NewFeedWatcher(p2, failing, time.Minute)
	w.retryMin, w.retryMax = 20*time.Millisecond, 40*time.Millisecond
	ctx2, cancel2 := context.WithCancel(t.Context())
	done2 := make(chan struct{})
	go func() { defer close(done2); w.Run(ctx2) }()
	select {
	case <-p2.wake:
	case <-time.After(5 * time.Second):
		t.Error("a failed stream did not wake the poller")
	}
	time.Sleep(200 * time.Millisecond)
	cancel2()
	<-done2
	opened := failing.opened()
	if len(opened) < 3 || opened[0] != "c0" || opened[1] != "c1" {
		t.Errorf("streams opened at %v; want several, the first at c0 and then at the saved c1", opened)
	}
	if cur, _ := st2.state(); cur != "c1" {
		t.Errorf("cursor %s, want c1", cur)
	}
}
