package faults

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/transload/transload/services/erpsim/internal/erp"
)

func TestSetNormalises(t *testing.T) {
	t.Parallel()
	f := New()
	f.Set(State{Down: true, Slow: -time.Second, RejectNext: -3})
	if st := f.Get(); !st.Down || st.Slow != 0 || st.RejectNext != 0 || st.RejectReason != DefaultRejectReason {
		t.Errorf("state = %+v", st)
	}
}

func TestTakeAndReturnRejections(t *testing.T) {
	t.Parallel()
	f := New()
	f.Set(State{RejectNext: 50, RejectReason: erp.RejectUnknownSKU})
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		taken int
	)
	for range 100 {
		wg.Go(func() {
			if r, ok := f.TakeRejection("C0001"); ok {
				if r != erp.RejectUnknownSKU {
					t.Errorf("reason = %v", r)
				}
				mu.Lock()
				taken++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if taken != 50 || f.Get().RejectNext != 0 {
		t.Fatalf("taken %d, left %d; want 50, 0", taken, f.Get().RejectNext)
	}
	if _, ok := f.TakeRejection("C0001"); ok {
		t.Error("took a rejection from an empty budget")
	}
	f.ReturnRejection("C0001")
	if r, ok := f.TakeRejection("C0001"); !ok || r != erp.RejectUnknownSKU {
		t.Errorf("returned rejection not available again: %v %v", r, ok)
	}
}

// A listed customer's orders are all rejected without using up
// RejectNext, and another customer's order is not rejected by the list.
func TestRejectCustomers(t *testing.T) {
	t.Parallel()
	f := New()
	f.Set(State{RejectCustomers: []string{"C0007"}, RejectNext: 1, RejectReason: erp.RejectCreditHold})
	for range 3 {
		if r, ok := f.TakeRejection("C0007"); !ok || r != erp.RejectCreditHold {
			t.Fatalf("C0007: %v %v, want CREDIT_HOLD", r, ok)
		}
		f.ReturnRejection("C0007")
	}
	if got := f.Get().RejectNext; got != 1 {
		t.Fatalf("RejectNext = %d after listed rejections, want 1", got)
	}
	if _, ok := f.TakeRejection("C0001"); !ok {
		t.Fatal("C0001 did not take the one-off rejection")
	}
	if _, ok := f.TakeRejection("C0001"); ok {
		t.Fatal("C0001 rejected twice with one RejectNext")
	}
}

func TestRegisterMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	f := New()
	if err := RegisterMetrics(reg, f); err != nil {
		t.Fatal(err)
	}
	f.Set(State{Down: true, Slow: 1500 * time.Millisecond, RejectNext: 4})
	want := `
# HELP erpsim_fault_down 1 while the simulated ERP is down.
# TYPE erpsim_fault_down gauge
erpsim_fault_down 1
# HELP erpsim_fault_reject_next New sales orders still to be rejected by fault injection.
# TYPE erpsim_fault_reject_next gauge
erpsim_fault_reject_next 4
# HELP erpsim_fault_slow_seconds Delay added to every simulated ERP call.
# TYPE erpsim_fault_slow_seconds gauge
erpsim_fault_slow_seconds 1.5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if err := RegisterMetrics(reg, f); err == nil {
		t.Error("registering twice did not fail")
	}
}
