package faults_test

import (
	"slices"
	"testing"

	"github.com/transload/transload/services/wmssim/internal/faults"
)

func TestSet(t *testing.T) {
	t.Parallel()
	var s faults.Set
	if s.RejectPending() || s.TakeDuplicate() || s.Get() != (faults.Faults{}) {
		t.Fatalf("zero Set has faults: %+v", s.Get())
	}
	s.Replace(faults.Faults{SlowMs: -5, RejectNext: 1, DuplicateNext: -1})
	if got := s.Get(); got.SlowMs != 0 || got.DuplicateNext != 0 || got.RejectNext != 1 {
		t.Fatalf("negative values not clamped: %+v", got)
	}
	if !s.RejectPending() {
		t.Fatal("rejection not pending")
	}
	s.ConsumeReject()
	s.ConsumeReject() // never below zero
	if s.RejectPending() || s.Get().RejectNext != 0 {
		t.Fatalf("after consuming: %+v", s.Get())
	}
	s.Replace(faults.Faults{DuplicateNext: 2, SlowMs: 1500})
	if s.Get().Slow().Milliseconds() != 1500 {
		t.Fatalf("slow = %v", s.Get().Slow())
	}
	if got := []bool{s.TakeDuplicate(), s.TakeDuplicate(), s.TakeDuplicate()}; !slices.Equal(got, []bool{true, true, false}) {
		t.Fatalf("duplicateNext 2 yielded %v, want exactly two duplicates", got)
	}
}
