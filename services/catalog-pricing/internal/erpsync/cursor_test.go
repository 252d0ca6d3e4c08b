package erpsync_test

import (
	"context"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/erpsync"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
	"github.com/transload/transload/services/catalog-pricing/internal/store/sqlstore"
)

// startFollower runs a Syncer with a durable cursor on db (a service
// process on its database) until stop is called.
func startFollower(t *testing.T, db *sqldb.DB, src erpsync.Source) (syncer *erpsync.Syncer, pr *pricing.Service, stop func()) {
	t.Helper()
	syncer, _, pr = setupOn(t, db, src)
	syncer.SetCursorStore(sqlstore.New(db).FeedCursors(), "erp-test")
	syncer.SetPricePoll(time.Millisecond)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- syncer.Run(ctx, 0, nil) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	return syncer, pr, stop
}

func exports(src *feedSource) int {
	src.mu.Lock()
	defer src.mu.Unlock()
	return src.calls
}

// TestPriceFeedResumesAfterRestart: the feed cursor is saved with the
// service's data, so a restarted follower continues after the last
// applied change, changes made while it was down included, without a full
// export; the restarted process's price lists are those of the last full
// export (saved with the cursor).
func TestPriceFeedResumesAfterRestart(t *testing.T) {
	db := sqldbtest.OpenSQLite(t)
	src := &feedSource{fakeSource: fakeSource{products: []catalog.Product{product("A"), product("B")}, prices: map[string]int64{"A": 100, "B": 200}}}
	first, pr, stop := startFollower(t, db, src)
	wait.Eventually(t, 10*time.Second, "initial import", func() error {
		return wait.Check(first.Resyncs() == 1 && price(t, pr, "A") == 100, "%d resyncs, A %d", first.Resyncs(), price(t, pr, "A"))
	})
	src.add(1, "A", 150)
	wait.Eventually(t, 10*time.Second, "first change", func() error {
		return wait.Check(price(t, pr, "A") == 150 && first.CursorSaves() >= 2, "A %d, %d saves", price(t, pr, "A"), first.CursorSaves())
	})
	stop()

	src.add(2, "B", 260) // while the service is down
	before := exports(src)
	second, pr2, _ := startFollower(t, db, src)
	src.add(3, "A", 170)
	wait.Eventually(t, 10*time.Second, "changes after the restart", func() error {
		return wait.Check(price(t, pr2, "A") == 170 && price(t, pr2, "B") == 260, "A %d, B %d", price(t, pr2, "A"), price(t, pr2, "B"))
	})
	if n := exports(src) - before; n != 0 || second.Resyncs() != 0 {
		t.Errorf("restart ran %d full exports and %d resyncs; want none (resumed from the saved cursor)", n, second.Resyncs())
	}
}

// TestPriceFeedRefusedCursorResyncs: a saved cursor the ERP refuses (its
// feed was replaced and never reached that position) makes the restarted
// follower run the full export and continue from the new feed's head.
func TestPriceFeedRefusedCursorResyncs(t *testing.T) {
	db := sqldbtest.OpenSQLite(t)
	src := &feedSource{fakeSource: fakeSource{products: []catalog.Product{product("A")}, prices: map[string]int64{"A": 100}}}
	first, pr, stop := startFollower(t, db, src)
	wait.Eventually(t, 10*time.Second, "initial import", func() error {
		return wait.Check(first.Resyncs() == 1 && price(t, pr, "A") == 100, "%d resyncs, A %d", first.Resyncs(), price(t, pr, "A"))
	})
	src.add(1, "A", 110)
	src.add(2, "A", 120)
	wait.Eventually(t, 10*time.Second, "changes applied and saved", func() error {
		return wait.Check(price(t, pr, "A") == 120 && first.CursorSaves() >= 2, "A %d, %d saves", price(t, pr, "A"), first.CursorSaves())
	})
	stop()

	// The ERP's data is replaced: a new feed with one change, export 300.
	src.feedMu.Lock()
	src.changes = nil
	src.feedMu.Unlock()
	src.add(1, "A", 300)
	src.mu.Lock()
	src.prices["A"] = 300
	src.mu.Unlock()
	second, pr2, _ := startFollower(t, db, src)
	wait.Eventually(t, 10*time.Second, "resync after the refused cursor", func() error {
		return wait.Check(second.Resyncs() == 1 && price(t, pr2, "A") == 300, "%d resyncs, A %d", second.Resyncs(), price(t, pr2, "A"))
	})
	src.add(2, "A", 310)
	wait.Eventually(t, 10*time.Second, "the new feed followed", func() error {
		return wait.Check(price(t, pr2, "A") == 310, "A %d", price(t, pr2, "A"))
	})
}
