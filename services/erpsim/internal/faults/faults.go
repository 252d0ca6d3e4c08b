// Package faults holds the simulator's switchable failure modes: the
// simulated ERP down, slow, rejecting the next new sales orders, or
// committing the next ones and losing the answer. The
// state lives in memory (a restart clears it) and is flipped at runtime
// through the control API.
package faults

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transload/transload/services/erpsim/internal/erp"
)

// State is the set of active faults.
type State struct {
	// Down makes every ERP call fail as unavailable.
	Down bool
	// Slow delays every ERP call by this much.
	Slow time.Duration
	// RejectNext is how many of the next new sales orders are rejected.
	RejectNext int
	// RejectCustomers are customers every new sales order of which is
	// rejected (with RejectReason) for as long as they are listed: unlike
	// RejectNext it cannot be taken by another customer's order that
	// happens to be submitted first.
	RejectCustomers []string
	// RejectReason is the reason those orders are rejected with.
	RejectReason erp.RejectionReason
	// LoseAnswers is how many of the next sales order submissions the ERP
	// commits but whose answer is lost: the caller gets DEADLINE_EXCEEDED
	// (ERP_TIMEOUT) as if the answer timed out on the way, while the
	// sales order exists. A resubmission is then answered as a duplicate.
	LoseAnswers int
	// Posting faults (journal.go): journal lines of these customers or
	// GL accounts are rejected, and so are the next PostRejectNext lines
	// that would otherwise be posted.
	PostRejectCustomers []string
	PostRejectAccounts  []string
	PostRejectNext      int
}

// DefaultRejectReason is used when RejectNext is set without a reason.
const DefaultRejectReason = erp.RejectOther

// Faults is the current State, safe for concurrent use.
type Faults struct {
	mu sync.Mutex
	st State
}

var _ erp.Rejector = (*Faults)(nil)

// New returns Faults with nothing switched on.
func New() *Faults { return &Faults{st: State{RejectReason: DefaultRejectReason}} }

// Get returns the current state.
func (f *Faults) Get() State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

// Set replaces the state. A zero RejectReason becomes DefaultRejectReason
// and negative values become zero.
func (f *Faults) Set(st State) {
	if st.RejectReason == erp.RejectNone {
		st.RejectReason = DefaultRejectReason
	}
	st.RejectNext = max(0, st.RejectNext)
	st.Slow = max(0, st.Slow)
	st.LoseAnswers = max(0, st.LoseAnswers)
	st.PostRejectNext = max(0, st.PostRejectNext)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st = st
}

// TakeRejection decides whether a new sales order of customer is
// rejected: always while the customer is in RejectCustomers, otherwise by
// consuming one pending RejectNext rejection.
func (f *Faults) TakeRejection(customer string) (erp.RejectionReason, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if slices.Contains(f.st.RejectCustomers, customer) {
		return f.st.RejectReason, true
	}
	if f.st.RejectNext <= 0 {
		return erp.RejectNone, false
	}
	f.st.RejectNext--
	return f.st.RejectReason, true
}

// TakeLostAnswer consumes one pending lost answer.
func (f *Faults) TakeLostAnswer() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.st.LoseAnswers <= 0 {
		return false
	}
	f.st.LoseAnswers--
	return true
}

// ReturnLostAnswer puts back a lost answer that was taken for a
// submission that failed anyway (nothing was committed to lose).
func (f *Faults) ReturnLostAnswer() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.LoseAnswers++
}

// ReturnRejection puts back a rejection that was taken for customer but
// not used; a RejectCustomers rejection was not consumed and is not put
// back.
func (f *Faults) ReturnRejection(customer string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if slices.Contains(f.st.RejectCustomers, customer) {
		return
	}
	f.st.RejectNext++
}

// RegisterMetrics exposes f on reg as erpsim_fault_down (0/1),
// erpsim_fault_slow_seconds and erpsim_fault_reject_next, so dashboards show
// when a test or demo has the simulated ERP misbehaving on purpose.
func RegisterMetrics(reg prometheus.Registerer, f *Faults) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "erpsim_fault_down", Help: "1 while the simulated ERP is down."}, func() float64 {
			if f.Get().Down {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "erpsim_fault_slow_seconds", Help: "Delay added to every simulated ERP call."}, func() float64 {
			return f.Get().Slow.Seconds()
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "erpsim_fault_reject_next", Help: "New sales orders still to be rejected by fault injection."}, func() float64 {
			return float64(f.Get().RejectNext)
		}),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("faults: register metrics: %w", err)
		}
	}
	return nil
}
