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
			if r, ok := f.TakeRejection(); ok {
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
	if _, ok := f.TakeRejection(); ok {
		t.Error("took a rejection from an empty budget")
	}
	f.ReturnRejection(erp.RejectUnknownSKU)
	if r, ok := f.TakeRejection(); !ok || r != erp.RejectUnknownSKU {
		t.Errorf("returned rejection not available again: %v %v", r, ok)
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
