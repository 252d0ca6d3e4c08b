package kpi

import (
	"math"
	"slices"
	"sort"
)

// Bucket is one cumulative histogram bucket: Count observations were at
// most UpperBound.
type Bucket struct {
	UpperBound float64
	Count      float64
}

// Quantile estimates the q-quantile (0 <= q <= 1) of the observations
// counted by buckets the way PromQL's histogram_quantile does: it finds the
// bucket holding the rank q×total and interpolates linearly inside it,
// taking 0 as the lower bound of the first bucket (when its upper bound is
// positive) and answering the upper bound of the second-highest bucket when
// the rank falls into the +Inf bucket.
//
// It returns NaN when there is nothing to estimate from: no +Inf bucket,
// fewer than two buckets, no observations, or q is NaN. q < 0 gives -Inf
// and q > 1 +Inf, as in PromQL. buckets may come in any order and may hold
// the same bound twice (summed over series beforehand or not: equal bounds
// are added up); counts that are not monotonic in the bound (counter
// resets seen half-way) are raised to the running maximum.
func Quantile(q float64, buckets []Bucket) float64 {
	switch {
	case math.IsNaN(q):
		return math.NaN()
	case q < 0:
		return math.Inf(-1)
	case q > 1:
		return math.Inf(1)
	}
	bs := coalesce(buckets)
	if len(bs) < 2 || !math.IsInf(bs[len(bs)-1].UpperBound, 1) {
		return math.NaN()
	}
	last := len(bs) - 1
	total := bs[last].Count
	if total == 0 {
		return math.NaN()
	}
	rank := q * total
	b := sort.Search(last, func(i int) bool { return bs[i].Count >= rank })
	if b == last {
		return bs[last-1].UpperBound
	}
	if b == 0 && bs[0].UpperBound <= 0 {
		return bs[0].UpperBound
	}
	start, end, count := 0.0, bs[b].UpperBound, bs[b].Count
	if b > 0 {
		start = bs[b-1].UpperBound
		count -= bs[b-1].Count
		rank -= bs[b-1].Count
	}
	if count == 0 {
		return end
	}
	return start + (end-start)*(rank/count)
}

// coalesce sorts a copy of buckets by bound, adds up equal bounds and makes
// the counts monotonic.
func coalesce(buckets []Bucket) []Bucket {
	bs := slices.Clone(buckets)
	slices.SortFunc(bs, func(a, b Bucket) int {
		switch {
		case a.UpperBound < b.UpperBound:
			return -1
		case a.UpperBound > b.UpperBound:
			return 1
		}
		return 0
	})
	out := bs[:0]
	for _, b := range bs {
		if math.IsNaN(b.UpperBound) || math.IsNaN(b.Count) {
			continue
		}
		if n := len(out); n > 0 && out[n-1].UpperBound == b.UpperBound {
			out[n-1].Count += b.Count
			continue
		}
		out = append(out, b)
	}
	for i := 1; i < len(out); i++ {
		out[i].Count = max(out[i].Count, out[i-1].Count)
	}
	return out
}
