package app_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/catalog-pricing/internal/erptest"
)

// feedERP is the fake ERP with a price change feed that has no changes:
// ListPriceEvents answers an empty page at a fixed head cursor.
type feedERP struct {
	*fakeERP
	feedCalls atomic.Int32
}

func (f *feedERP) ListPriceEvents(context.Context, *erpv1.ListPriceEventsRequest) (*erpv1.ListPriceEventsResponse, error) {
	f.feedCalls.Add(1)
	return &erpv1.ListPriceEventsResponse{NextCursor: "head-1"}, nil
}

// TestRestartResumesThePriceFeedCursor: the binary saves the price feed's
// cursor in its database (migration 0004), so a restart resumes the feed
// where it was instead of re-reading the ERP's full price export.
func TestRestartResumesThePriceFeedCursor(t *testing.T) {
	t.Parallel()
	erp := &feedERP{fakeERP: newFakeERP()}
	env := testEnv(t, nil)
	first := start(t, env, erptest.Serve(t, erp))
	first.waitReady(t)
	// The follower reads the feed head, runs the full export, saves the
	// cursor, then polls: a second feed read means the save is behind it.
	wait.Eventually(t, 20*time.Second, "the first start follows the feed", func() error {
		return wait.Check(erp.feedCalls.Load() >= 2 && erp.priceCalls.Load() >= 1,
			"feed reads %d, price exports %d", erp.feedCalls.Load(), erp.priceCalls.Load())
	})
	first.stop()

	exports, reads := erp.priceCalls.Load(), erp.feedCalls.Load()
	second := start(t, env, erptest.Serve(t, erp))
	second.waitReady(t)
	// Two reads: without the cursor the first is the feed head before the
	// export, the second the poll after it.
	wait.Eventually(t, 20*time.Second, "the restart follows the feed", func() error {
		return wait.Check(erp.feedCalls.Load() >= reads+2, "%d feed reads since the restart", erp.feedCalls.Load()-reads)
	})
	if n := erp.priceCalls.Load(); n != exports {
		t.Fatalf("the restart ran %d full price exports; with the saved cursor it needs none", n-exports)
	}
}
