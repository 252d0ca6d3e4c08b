// Package faults holds the simulator's injected faults, flipped at run
// time through the control API: the WMS being down, slow, rejecting the
// next shipment requests, delivering feed events twice, or holding its
// automatic return receipts.
package faults

import (
	"sync"
	"time"
)

// Faults is a snapshot of the injected faults; the JSON shape is the
// control API's.
type Faults struct {
	// Down makes every adapter call fail with UNAVAILABLE.
	Down bool `json:"down"`
	// SlowMs delays every adapter call by this many milliseconds.
	SlowMs int `json:"slowMs"`
	// RejectNext makes the next RejectNext new shipment requests REJECTED.
	RejectNext int `json:"rejectNext"`
	// DuplicateNext makes the next DuplicateNext non-empty feed pages
	// deliver their last event again on the following read (at-least-once
	// delivery, for consumer de-duplication tests).
	DuplicateNext int `json:"duplicateNext"`
	// HoldReturns keeps the warehouse from receiving expected returns on
	// its own (their due receipts wait until it is cleared), so a test can
	// drive receipts through the control API without racing the
	// automatic one.
	HoldReturns bool `json:"holdReturns"`
}

// Slow returns the injected delay.
func (f Faults) Slow() time.Duration { return time.Duration(f.SlowMs) * time.Millisecond }

// Set is the current faults, safe for concurrent use. The zero value has
// no faults.
type Set struct {
	mu sync.Mutex
	f  Faults
}

// Get returns the current faults.
func (s *Set) Get() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f
}

// Replace sets the faults to f (negative numbers count as 0).
func (s *Set) Replace(f Faults) {
	f.SlowMs = max(f.SlowMs, 0)
	f.RejectNext = max(f.RejectNext, 0)
	f.DuplicateNext = max(f.DuplicateNext, 0)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f = f
}

// RejectPending reports whether the next new shipment request must be
// rejected (wms.FaultSource).
func (s *Set) RejectPending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.RejectNext > 0
}

// ConsumeReject uses up one pending rejection (wms.FaultSource).
func (s *Set) ConsumeReject() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.RejectNext > 0 {
		s.f.RejectNext--
	}
}

// ReturnsHeld reports whether automatic return receipts are held
// (wms.FaultSource).
func (s *Set) ReturnsHeld() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.HoldReturns
}

// TakeDuplicate uses up one pending duplicate delivery and reports whether
// there was one (wms.FaultSource).
func (s *Set) TakeDuplicate() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.DuplicateNext == 0 {
		return false
	}
	s.f.DuplicateNext--
	return true
}
