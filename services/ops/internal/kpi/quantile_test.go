package kpi

import (
	"math"
	"testing"
)

func TestQuantile(t *testing.T) {
	t.Parallel()
	inf := math.Inf(1)
	even := []Bucket{{1, 10}, {2, 20}, {inf, 20}}
	tests := []struct {
		name    string
		q       float64
		buckets []Bucket
		want    float64
	}{
		{"median at the first bucket's top", 0.5, even, 1},
		{"interpolates inside the first bucket from 0", 0.25, even, 0.5},
		{"interpolates inside a middle bucket", 0.75, even, 1.5},
		{"q=1 is the top of the last finite bucket", 1, even, 2},
		{"q=0 is the lower bound", 0, even, 0},
		{"rank in +Inf answers the second-highest bound", 0.99, []Bucket{{1, 10}, {inf, 20}}, 1},
		{"order of input does not matter", 0.75, []Bucket{{inf, 20}, {2, 20}, {1, 10}}, 1.5},
		{"equal bounds are added up", 0.5, []Bucket{{1, 5}, {1, 5}, {2, 10}, {2, 10}, {inf, 20}}, 1},
		{"non-monotonic counts are raised", 0.5, []Bucket{{1, 10}, {2, 8}, {inf, 10}}, 0.5},
		{"non-positive first bound is answered as is", 0.1, []Bucket{{-1, 5}, {inf, 10}}, -1},
		{"empty lower buckets are passed over", 0.5, []Bucket{{1, 0}, {2, 0}, {3, 4}, {inf, 4}}, 2.5},
		{"q < 0 is -Inf", -0.1, even, math.Inf(-1)},
		{"q > 1 is +Inf", 1.1, even, inf},
		{"q NaN", math.NaN(), even, math.NaN()},
		{"no +Inf bucket", 0.5, []Bucket{{1, 10}, {2, 20}}, math.NaN()},
		{"single bucket", 0.5, []Bucket{{inf, 10}}, math.NaN()},
		{"no observations", 0.5, []Bucket{{1, 0}, {inf, 0}}, math.NaN()},
		{"nil", 0.5, nil, math.NaN()},
		{"NaN bucket is ignored", 0.5, []Bucket{{math.NaN(), 3}, {1, 10}, {2, 20}, {inf, 20}}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Quantile(tc.q, tc.buckets)
			if !sameFloat(got, tc.want) {
				t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestQuantileLeavesInputAlone(t *testing.T) {
	t.Parallel()
	in := []Bucket{{math.Inf(1), 20}, {1, 10}}
	_ = Quantile(0.5, in)
	if in[0].UpperBound != math.Inf(1) || in[1].UpperBound != 1 {
		t.Errorf("input reordered: %v", in)
	}
}

func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b || math.Abs(a-b) < 1e-9
}
