package erpsync_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/erpsync"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// feedSource is a fakeSource with a price change feed: changes are
// appended with positions the test chooses (so it can leave a gap), and
// the cursor is the position read up to.
type feedSource struct {
	fakeSource
	feedMu  sync.Mutex
	changes []erpsync.PriceChange
}

func (f *feedSource) add(seq int64, sku string, minor int64) {
	f.feedMu.Lock()
	defer f.feedMu.Unlock()
	f.changes = append(f.changes, erpsync.PriceChange{Seq: seq, EventID: "ev-" + strconv.FormatInt(seq, 10), ERPList: "PL-EUR",
		Row: pricing.PriceRow{RowNumber: 1, SKU: sku, UnitMinor: minor, Currency: "EUR"}})
}

func (f *feedSource) PriceChanges(_ context.Context, cursor string, limit int) ([]erpsync.PriceChange, string, bool, error) {
	f.feedMu.Lock()
	defer f.feedMu.Unlock()
	from := 0
	if cursor != "" {
		from, _ = strconv.Atoi(cursor)
	}
	if from > len(f.changes) { // a position this feed never reached (as erpsim's INVALID_CURSOR)
		return nil, "", false, fmt.Errorf("list: %w", erpsync.ErrCursorGone)
	}
	to := min(from+limit, len(f.changes))
	return append([]erpsync.PriceChange(nil), f.changes[from:to]...), strconv.Itoa(to), to < len(f.changes), nil
}

func price(t *testing.T, pr *pricing.Service, sku string) int64 {
	t.Helper()
	q, err := pr.Quote(t.Context(), pricing.QuoteRequest{Channel: "web", Currency: "EUR", Lines: []pricing.QuoteRequestLine{{SKU: sku, Quantity: 1}}})
	if err != nil {
		return -1
	}
	return q.Total
}

// runFollower runs the syncer's Run (initial import, then the feed
// follower polling every millisecond) until the test ends.
func runFollower(t *testing.T, src *feedSource) (*erpsync.Syncer, *pricing.Service) {
	t.Helper()
	syncer, _, pr := setup(t, src)
	syncer.SetPricePoll(time.Millisecond)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- syncer.Run(ctx, 0, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return syncer, pr
}

// TestPriceFeedAppliesChanges: after the initial import, a price changed in
// the ERP's feed reaches the quote without another full export, in feed
// order (the later change of the same SKU wins).
func TestPriceFeedAppliesChanges(t *testing.T) {
	src := &feedSource{fakeSource: fakeSource{products: []catalog.Product{product("A"), product("B")}, prices: map[string]int64{"A": 100, "B": 200}}}
	syncer, pr := runFollower(t, src)
	wait.Eventually(t, 10*time.Second, "initial import", func() error {
		return wait.Check(price(t, pr, "A") == 100 && syncer.Resyncs() == 1, "A costs %d, %d resyncs", price(t, pr, "A"), syncer.Resyncs())
	})
	src.mu.Lock()
	calls := src.calls
	src.mu.Unlock()
	src.add(1, "A", 150)
	src.add(2, "B", 260)
	src.add(3, "A", 170)
	wait.Eventually(t, 10*time.Second, "price changes applied", func() error {
		return wait.Check(price(t, pr, "A") == 170 && price(t, pr, "B") == 260, "A %d, B %d", price(t, pr, "A"), price(t, pr, "B"))
	})
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.calls != calls || syncer.Resyncs() != 1 {
		t.Errorf("%d full exports and %d resyncs for feed changes; want none", src.calls-calls, syncer.Resyncs()-1)
	}
}

// TestPriceFeedGapTriggersExport: a change whose position skips one (a
// lost event) is not applied on its own: the follower re-reads the full
// price export, which carries every change, and resumes after the head.
func TestPriceFeedGapTriggersExport(t *testing.T) {
	src := &feedSource{fakeSource: fakeSource{products: []catalog.Product{product("A"), product("B")}, prices: map[string]int64{"A": 100, "B": 200}}}
	syncer, pr := runFollower(t, src)
	wait.Eventually(t, 10*time.Second, "initial import", func() error {
		return wait.Check(syncer.Resyncs() == 1 && price(t, pr, "A") == 100, "%d resyncs", syncer.Resyncs())
	})
	src.add(1, "A", 150)
	wait.Eventually(t, 10*time.Second, "first change", func() error {
		return wait.Check(price(t, pr, "A") == 150, "A %d", price(t, pr, "A"))
	})
	// Position 2 (B → 230) is lost on the way; the export has it.
	src.mu.Lock()
	src.prices["A"], src.prices["B"] = 180, 230
	src.mu.Unlock()
	src.add(3, "A", 180)
	wait.Eventually(t, 10*time.Second, "resync after the gap", func() error {
		return wait.Check(syncer.Resyncs() == 2 && price(t, pr, "B") == 230 && price(t, pr, "A") == 180,
			"%d resyncs, A %d, B %d", syncer.Resyncs(), price(t, pr, "A"), price(t, pr, "B"))
	})
	// After the resync the feed continues from its head.
	src.add(4, "B", 240)
	wait.Eventually(t, 10*time.Second, "change after the resync", func() error {
		return wait.Check(price(t, pr, "B") == 240, "B %d", price(t, pr, "B"))
	})
	if n := syncer.Resyncs(); n != 2 {
		t.Errorf("%d resyncs; want 2 (start, gap)", n)
	}
}

// pushSource is a feedSource that also pushes (PriceWatcher): each watch
// sends what is after its cursor, then waits for the next add.
type pushSource struct {
	feedSource
	added chan struct{}
}

func (p *pushSource) WatchPriceChanges(ctx context.Context, cursor string, fn func([]erpsync.PriceChange, string) error) error {
	for {
		changes, next, _, err := p.PriceChanges(ctx, cursor, 1000)
		if err != nil {
			return err
		}
		if err := fn(changes, next); err != nil {
			return err
		}
		cursor = next
		select {
		case <-p.added:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// TestPriceFeedPush: with a pushing feed, changes arrive through the
// stream: the poll interval is an hour, so only the push can deliver them.
func TestPriceFeedPush(t *testing.T) {
	src := &pushSource{feedSource: feedSource{fakeSource: fakeSource{products: []catalog.Product{product("A")}, prices: map[string]int64{"A": 100}}},
		added: make(chan struct{}, 16)}
	syncer, _, pr := setup(t, src)
	syncer.SetPricePoll(time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- syncer.Run(ctx, 0, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	wait.Eventually(t, 10*time.Second, "initial import", func() error {
		return wait.Check(syncer.Resyncs() == 1 && price(t, pr, "A") == 100, "%d resyncs", syncer.Resyncs())
	})
	src.add(1, "A", 175)
	src.added <- struct{}{}
	wait.Eventually(t, 10*time.Second, "pushed change", func() error {
		return wait.Check(price(t, pr, "A") == 175, "A %d", price(t, pr, "A"))
	})
}

func (f *feedSource) addContract(seq int64, c pricing.Contract) {
	f.feedMu.Lock()
	defer f.feedMu.Unlock()
	f.changes = append(f.changes, erpsync.PriceChange{Seq: seq, EventID: "ev-" + strconv.FormatInt(seq, 10), Contract: &c})
}

func customerPrice(t *testing.T, pr *pricing.Service, customer, sku string) int64 {
	t.Helper()
	q, err := pr.Quote(t.Context(), pricing.QuoteRequest{CustomerID: customer, Channel: "web", Currency: "EUR",
		Lines: []pricing.QuoteRequestLine{{SKU: sku, Quantity: 1}}})
	if err != nil {
		return -1
	}
	return q.Total
}

// TestPriceFeedAppliesContracts: a contract changed in the ERP's feed
// reaches the quote of its customer, and no other customer's, without a
// full export; a later change of the same contract replaces it whole (its
// dropped SKU goes back to list), interleaved list price changes apply in
// the same page.
func TestPriceFeedAppliesContracts(t *testing.T) {
	src := &feedSource{fakeSource: fakeSource{products: []catalog.Product{product("A"), product("B")}, prices: map[string]int64{"A": 1000, "B": 2000}}}
	syncer, pr := runFollower(t, src)
	wait.Eventually(t, 10*time.Second, "initial import", func() error {
		return wait.Check(price(t, pr, "A") == 1000 && syncer.Resyncs() == 1, "A costs %d, %d resyncs", price(t, pr, "A"), syncer.Resyncs())
	})
	src.mu.Lock()
	calls := src.calls
	src.mu.Unlock()
	src.addContract(1, pricing.Contract{ID: "CTR-X", CustomerID: "C0014", Currency: "EUR", Terms: []pricing.ContractTerm{
		{SKU: "A", Fixed: true, UnitMinor: 700}, {SKU: "B", DiscountBps: 1000}}})
	wait.Eventually(t, 10*time.Second, "contract applied", func() error {
		return wait.Check(customerPrice(t, pr, "C0014", "A") == 700 && customerPrice(t, pr, "C0014", "B") == 1800,
			"C0014 pays A %d, B %d", customerPrice(t, pr, "C0014", "A"), customerPrice(t, pr, "C0014", "B"))
	})
	if a, b := customerPrice(t, pr, "C0013", "A"), customerPrice(t, pr, "C0013", "B"); a != 1000 || b != 2000 {
		t.Errorf("another customer pays A %d, B %d; want list 1000, 2000", a, b)
	}
	src.add(2, "B", 3000)
	src.addContract(3, pricing.Contract{ID: "CTR-X", CustomerID: "C0014", Currency: "EUR", Terms: []pricing.ContractTerm{
		{SKU: "A", Fixed: true, UnitMinor: 650}}})
	wait.Eventually(t, 10*time.Second, "contract replaced", func() error {
		return wait.Check(customerPrice(t, pr, "C0014", "A") == 650 && customerPrice(t, pr, "C0014", "B") == 3000 && price(t, pr, "B") == 3000,
			"C0014 pays A %d, B %d; list B %d", customerPrice(t, pr, "C0014", "A"), customerPrice(t, pr, "C0014", "B"), price(t, pr, "B"))
	})
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.calls != calls || syncer.Resyncs() != 1 {
		t.Errorf("%d full exports and %d resyncs for feed changes; want none", src.calls-calls, syncer.Resyncs()-1)
	}
}
