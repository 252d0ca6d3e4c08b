package main

import (
	"cmp"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/testharness/wait"
)

// feedHarness starts the app over erp on a fresh database with env and
// waits until it is ready.
func feedHarness(t testing.TB, erp *fakeERP, env map[string]string) *harness {
	t.Helper()
	h := startHarness(t, testEnv(filepath.Join(t.TempDir(), "inventory.db"), env), erp)
	h.waitReady()
	return h
}

// stockLevel reads SKU-00001's stock level in warehouse wh.
func (h *harness) stockLevel(wh string) (*inventoryv1.StockLevel, error) {
	return h.client.GetStockLevel(ctxT(h.t), &inventoryv1.GetStockLevelRequest{Name: "warehouses/" + wh + "/stockLevels/SKU-00001"})
}

// waitStock waits until SKU-00001 in wh has onHand at source sequence seq.
func (h *harness) waitStock(what, wh string, onHand, seq int64) *inventoryv1.StockLevel {
	h.t.Helper()
	var l *inventoryv1.StockLevel
	wait.Eventually(h.t, 10*time.Second, what, func() error {
		var err error
		if l, err = h.stockLevel(wh); err != nil {
			return err
		}
		return wait.Check(l.GetOnHand() == onHand && l.GetSequence() == seq, "%s has %d on hand at sequence %d, want %d at %d",
			wh, l.GetOnHand(), l.GetSequence(), onHand, seq)
	})
	return l
}

// receipt is an ERP goods receipt of qty units of SKU-00001 in WH-HAM,
// whose snapshot row is at source sequence 2.
func receipt(seq, qty int64) *erpv1.StockEvent {
	return &erpv1.StockEvent{EventId: "4900-ham-" + strconv.FormatInt(seq, 10), Sku: "SKU-00001", WarehouseCode: "WH-HAM",
		Kind: erpv1.StockEvent_KIND_RECEIPT, Quantity: qty, SourceSequence: seq, OccurTime: timestamppb.Now()}
}

// TestERPStockPush: with the poll interval at an hour, ERP stock events
// reach the stock levels through the WatchStockEvents stream (no
// ListStockEvents call at all); after the ERP restarts the stream is
// reopened from the saved cursor, so events recorded while it was away
// are applied, each exactly once; streams are reopened when their
// lifetime ends.
func TestERPStockPush(t *testing.T) {
	erp := &fakeERP{push: true}
	h := feedHarness(t, erp, map[string]string{
		"INVENTORY_ERP_FEED_INTERVAL":        "1h",
		"INVENTORY_ERP_FEED_STREAM_LIFETIME": "300ms",
	})

	erp.appendEvents(receipt(3, 5))
	h.waitStock("pushed event applied", "WH-HAM", 205, 3)
	erp.appendEvents(receipt(4, 1), receipt(5, 2))
	h.waitStock("second push applied", "WH-HAM", 208, 5)

	if list, _ := erp.feedCalls(); list != 0 {
		t.Errorf("%d ListStockEvents calls; with an hour's poll interval every event must come through the stream", list)
	}

	// ERP restart: events recorded while it is away arrive once it is back
	// (through the reopened stream, or the poll woken when the stream
	// failed: both apply from the saved cursor).
	h.stopERP()
	erp.appendEvents(receipt(6, 10))
	time.Sleep(100 * time.Millisecond)
	h.startERP()
	h.waitStock("event recorded during the restart applied", "WH-HAM", 218, 6)
	erp.appendEvents(receipt(7, 1))
	l := h.waitStock("push after the restart", "WH-HAM", 219, 7)
	// Five events applied, each once: revision 1 (load) + 5.
	if l.GetRevision() != 6 || l.GetSourceSystem() != "erp" {
		t.Errorf("SKU-00001@WH-HAM = %v; want revision 6 from erp (each event applied once)", l)
	}

	// Let a few stream lifetimes pass: each reopening resumes from the
	// saved cursor, c5 after all five events (never from the start of the
	// feed), and nothing is applied again.
	_, before := erp.feedCalls()
	wait.Eventually(t, 10*time.Second, "streams reopened at c5 after their lifetime", func() error {
		_, watches := erp.feedCalls()
		return wait.Check(len(watches) >= len(before)+2 && watches[len(watches)-1] == "c5", "stream cursors so far %v", watches)
	})
	_, watches := erp.feedCalls()
	cursorsForward(t, watches)
	if l, err := h.stockLevel("WH-HAM"); err != nil || l.GetRevision() != 6 || l.GetOnHand() != 219 {
		t.Errorf("after the reopened streams: %v, %v; want 219 on hand at revision 6", l, err)
	}
}

// TestERPStockPushOnlyResyncs: with the poller off, a cursor the ERP no
// longer knows (its feed was reset) makes the watcher restart the feed from
// the oldest event and start a reconciliation, which the poller would do
// otherwise.
func TestERPStockPushOnlyResyncs(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "inventory.db")
	env := testEnv(dbPath, map[string]string{"INVENTORY_ERP_FEED_INTERVAL": "0"})
	erp := &fakeERP{push: true}
	h := startHarness(t, env, erp)
	h.waitReady()
	erp.appendEvents(receipt(3, 5), receipt(4, 1))
	h.waitStock("pushed events applied", "WH-HAM", 206, 4)
	h.stop()

	// The ERP's feed starts again from nothing: the saved c2 is unknown.
	reset := &fakeERP{push: true}
	h2 := startHarness(t, env, reset)
	wait.Eventually(t, 10*time.Second, "stream reopened from the oldest event after a reconciliation", func() error {
		_, watches := reset.feedCalls()
		_, snapshots := reset.calls()
		return wait.Check(len(watches) >= 2 && watches[0] == "c2" && slices.Contains(watches[1:], "") && snapshots > 0,
			"streams opened at %v, %d snapshot reads", watches, snapshots)
	})
	list, err := h2.client.ListReconciliations(ctxT(t), &inventoryv1.ListReconciliationsRequest{})
	if err != nil || len(list.GetReconciliations()) != 1 {
		t.Errorf("reconciliations = %v, %v; want the one started by the resync", list, err)
	}
}

// cursorsForward fails the test unless the streams were opened at
// cursors that never move back: each at the saved cursor, which only
// moves forward.
func cursorsForward(t *testing.T, watches []string) {
	t.Helper()
	last := -1
	for _, c := range watches {
		n, err := strconv.Atoi(strings.TrimPrefix(cmp.Or(c, "c0"), "c"))
		if err != nil || n < last {
			t.Fatalf("stream cursors %v: want each stream opened at the saved cursor, never behind an earlier one", watches)
		}
		last = n
	}
}

// TestERPStockPushUnsupported: an ERP adapter without WatchStockEvents
// (UNIMPLEMENTED) is polled only: the events arrive through the poll, and
// the watcher does not keep asking.
func TestERPStockPushUnsupported(t *testing.T) {
	erp := &fakeERP{}
	h := feedHarness(t, erp, map[string]string{
		"INVENTORY_ERP_FEED_INTERVAL": "20ms",
	})
	erp.appendEvents(receipt(3, 5))
	h.waitStock("polled event applied", "WH-HAM", 205, 3)
	time.Sleep(300 * time.Millisecond)
	list, watches := erp.feedCalls()
	if len(watches) != 1 || list < 2 {
		t.Errorf("%d WatchStockEvents and %d ListStockEvents calls; want one watch (UNIMPLEMENTED, then polling only) and polls", len(watches), list)
	}
}

// TestERPStockPushDisabled: INVENTORY_ERP_FEED_PUSH=false never opens a
// stream; the poll applies the events.
func TestERPStockPushDisabled(t *testing.T) {
	erp := &fakeERP{push: true}
	h := feedHarness(t, erp, map[string]string{
		"INVENTORY_ERP_FEED_INTERVAL": "20ms",
		"INVENTORY_ERP_FEED_PUSH":     "false",
	})
	erp.appendEvents(receipt(3, 5))
	h.waitStock("polled event applied", "WH-HAM", 205, 3)
	if _, watches := erp.feedCalls(); len(watches) != 0 {
		t.Errorf("push disabled, yet %d WatchStockEvents calls", len(watches))
	}
}

// BenchmarkERPStockEventToApplied measures ERP stock event recorded →
// applied to inventory's stock level (seen by GetStockLevel, read every
// 0.5 ms), through the stream ("push", poll interval 1 h) and, as the
// baseline in the same run, through the poll alone at a 250 ms interval
// ("poll-250ms"; the default is 5 s, and a poll's latency is about
// half its interval on average, the interval at worst). Reports p50/p99
// in ms; nothing asserts on time.
func BenchmarkERPStockEventToApplied(b *testing.B) {
	for _, c := range []struct {
		name string
		env  map[string]string
		push bool
	}{
		{"push", map[string]string{"INVENTORY_ERP_FEED_INTERVAL": "1h"}, true},
		{"poll-250ms", map[string]string{"INVENTORY_ERP_FEED_INTERVAL": "250ms", "INVENTORY_ERP_FEED_PUSH": "false"}, false},
	} {
		b.Run(c.name, func(b *testing.B) { benchFreshness(b, c.env, c.push) })
	}
}

func benchFreshness(b *testing.B, env map[string]string, push bool) {
	erp := &fakeERP{push: push}
	h := feedHarness(b, erp, env)
	var (
		lat []time.Duration
		seq int64 = 2
	)
	for b.Loop() {
		seq++
		start := time.Now()
		erp.appendEvents(receipt(seq, 1))
		for {
			l, err := h.stockLevel("WH-HAM")
			if err != nil {
				b.Fatal(err)
			}
			if l.GetSequence() == seq {
				break
			}
			time.Sleep(500 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(ms(0.5), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1])/float64(time.Millisecond), "max-ms")
	b.Logf("%d events: p50 %.2f ms, p99 %.2f ms", len(lat), ms(0.5), ms(0.99))
}

// TestERPStockPushAndPoll: with the stream (reopened every 20 ms) and a
// 5 ms poll reading the same feed at once, every event is applied exactly
// once and the saved cursor never moves back: a page read from a cursor
// the other reader has moved on from is dropped, not applied.
func TestERPStockPushAndPoll(t *testing.T) {
	erp := &fakeERP{push: true}
	h := feedHarness(t, erp, map[string]string{
		"INVENTORY_ERP_FEED_INTERVAL":        "5ms",
		"INVENTORY_ERP_FEED_STREAM_LIFETIME": "20ms",
	})
	const n = 30
	for i := range int64(n) {
		erp.appendEvents(receipt(3+i, 1))
		time.Sleep(time.Duration(10+i%3*10) * time.Millisecond)
	}
	l := h.waitStock("all events applied", "WH-HAM", 200+n, 2+n)
	if l.GetRevision() != 1+n {
		t.Errorf("revision %d after %d events; want %d (each applied once)", l.GetRevision(), n, 1+n)
	}
	list, watches := erp.feedCalls()
	if list == 0 || len(watches) < 2 {
		t.Errorf("%d polls and %d streams; want both readers active", list, len(watches))
	}
	cursorsForward(t, watches)
}
