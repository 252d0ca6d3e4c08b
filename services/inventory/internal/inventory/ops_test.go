package inventory

import "testing"

func TestVarianceOutOfTolerance(t *testing.T) {
	t.Parallel()
	v := func(kind VarianceKind, expected, transload int64) Variance {
		return Variance{Kind: kind, ExpectedOnHand: expected, TransloadOnHand: transload}
	}
	tests := []struct {
		name        string
		v           Variance
		threshold   int64
		out, severe bool
	}{
		{"below", v(KindQuantityMismatch, 10, 12), 3, false, false},
		{"at the threshold", v(KindQuantityMismatch, 10, 13), 3, true, false},
		{"units lost count like units found", v(KindQuantityMismatch, 13, 10), 3, true, false},
		{"just below ten times", v(KindMissingInSource, 0, 29), 3, true, false},
		{"ten times: severe", v(KindMissingInSource, 0, 30), 3, true, true},
		{"missing in Transload", v(KindMissingInTransload, 40, 0), 3, true, true},
		{"default threshold 1: any unit", v(KindQuantityMismatch, 1, 0), 1, true, false},
		{"snapshot behind: never", v(KindSkippedSnapshotBehind, 500, 0), 1, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, severe := tc.v.OutOfTolerance(tc.threshold)
			if out != tc.out || severe != tc.severe {
				t.Errorf("OutOfTolerance(%d) of %+v = %v, %v; want %v, %v", tc.threshold, tc.v, out, severe, tc.out, tc.severe)
			}
		})
	}
}

func TestActorOr(t *testing.T) {
	t.Parallel()
	op := Actor{Kind: "operator", ID: "key-1"}
	if got := (Actor{}).Or(ServiceActor); got != ServiceActor {
		t.Errorf("nobody.Or(service) = %+v", got)
	}
	if got := op.Or(ServiceActor); got != op {
		t.Errorf("operator.Or(service) = %+v", got)
	}
}

func TestOutOfToleranceLeavesSkippedPositionsOut(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		variances, skipped, want int64
	}{
		{0, 0, 0},
		{5, 0, 5},
		{5, 2, 3},
		{2, 2, 0},
		{1, 3, 0}, // inconsistent counts never go below zero
	} {
		c := ReconciliationCounts{Variances: tc.variances, Skipped: tc.skipped}
		if got := c.OutOfTolerance(); got != tc.want {
			t.Errorf("%d variances, %d skipped: OutOfTolerance = %d, want %d", tc.variances, tc.skipped, got, tc.want)
		}
	}
}
