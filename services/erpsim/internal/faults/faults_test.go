package faults

import (
	"sync"
	"testing"
	"time"

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
