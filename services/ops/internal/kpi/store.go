// Package kpi keeps a bounded, in-memory history of the Prometheus samples
// the ops service scrapes from Transload's services, and answers the
// windowed questions the KPIs ask of it: how much a counter grew over a
// window, the quantiles of a histogram over a window (estimated from bucket
// increases as PromQL's histogram_quantile does), and the current value of
// a gauge.
//
// Windows start at the ops process start at the earliest: the history holds
// what this process scraped, so a counter's increase over "the last 7 days"
// of a process started an hour ago is its increase over that hour. Counter
// series that appear on a target already scraped before are taken to have
// started from zero at that previous scrape (a labelled counter is created
// on its first increment), so the first order of a new channel counts.
//
// Memory is bounded per counter series: every sample of the last
// FullResolution (an hour by default), then one sample per Step (a minute)
// up to Retention (7 days), about 10,300 samples at a 15 s scrape interval.
// Counters are stored reset-adjusted (a drop in value is a restart, and the
// value before it is carried as an offset), so thinning the history never
// loses a reset. Gauges keep only their latest value and the time it last
// changed. MaxSeries caps the number of series so a label explosion in a
// scraped service cannot exhaust the ops process.
package kpi

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Defaults of Options.
const (
	DefaultFullResolution = time.Hour
	DefaultStep           = time.Minute
	DefaultRetention      = 7 * 24 * time.Hour
	DefaultLookback       = 5 * time.Minute
	DefaultMaxSeries      = 20000
)

// Options configure a Store. Zero fields take the defaults.
type Options struct {
	// Keep selects the metric families to store by name (the family name,
	// e.g. "transload_order_acceptance_seconds" for a histogram); nil keeps
	// every family.
	Keep func(family string) bool
	// FullResolution is how far back every sample is kept.
	FullResolution time.Duration
	// Step is the spacing of the samples kept beyond FullResolution.
	Step time.Duration
	// Retention is how far back samples are kept at all; the longest
	// window a query can cover.
	Retention time.Duration
	// Lookback is how old a gauge's latest sample may be to count as
	// current, as PromQL's lookback delta.
	Lookback time.Duration
	// MaxSeries caps the number of series; samples of new series beyond
	// it are dropped (Ingest reports how many).
	MaxSeries int
}

// Series identifies one time series: the scrape target it came from (the
// service name) and its labels, without __name__.
type Series struct {
	Target string
	Labels map[string]string
}

// Label returns the value of label name, "" when the series has none.
func (s Series) Label(name string) string { return s.Labels[name] }

// Value is a series with one number: a gauge's latest value, or a
// counter's increase over a window.
type Value struct {
	Series
	Value float64
	// Time is when the value was scraped (for a counter's increase, the
	// sample that ends the window).
	Time time.Time
	// ChangeTime is when a gauge's value last changed as seen by the
	// scrapes; zero until a change has been seen.
	ChangeTime time.Time
}

type point struct {
	t time.Time
	v float64
}

type series struct {
	Series
	name    string
	counter bool
	// Counters: reset-adjusted samples, full resolution in recent, thinned
	// to one per Step in old.
	recent, old []point
	lastRaw     float64
	offset      float64
	// Gauges: the latest sample only.
	last    point
	changed time.Time
}

type targetState struct {
	lastIngest time.Time
}

// Store is the sample history. It is safe for concurrent use.
type Store struct {
	o       Options
	mu      sync.Mutex
	series  map[string]*series // by key()
	byName  map[string][]*series
	targets map[string]*targetState
}

// NewStore returns an empty store.
func NewStore(o Options) *Store {
	if o.FullResolution <= 0 {
		o.FullResolution = DefaultFullResolution
	}
	if o.Step <= 0 {
		o.Step = DefaultStep
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.Lookback <= 0 {
		o.Lookback = DefaultLookback
	}
	if o.MaxSeries <= 0 {
		o.MaxSeries = DefaultMaxSeries
	}
	return &Store{o: o, series: map[string]*series{}, byName: map[string][]*series{}, targets: map[string]*targetState{}}
}

// Retention returns the longest window the store can answer for.
func (s *Store) Retention() time.Duration { return s.o.Retention }

// sample is one flattened exposition sample.
type sample struct {
	name    string
	labels  map[string]string
	v       float64
	counter bool
}

// flatten turns a family into samples named as in the text exposition:
// histograms become name_bucket{le}, name_count and name_sum, summaries
// name{quantile}, name_count and name_sum. Counters and the cumulative
// parts of histograms and summaries are marked as counters.
func flatten(f *dto.MetricFamily) []sample {
	name := f.GetName()
	var out []sample
	for _, m := range f.GetMetric() {
		labels := make(map[string]string, len(m.GetLabel())+1)
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		with := func(k, v string) map[string]string {
			c := make(map[string]string, len(labels)+1)
			for lk, lv := range labels {
				c[lk] = lv
			}
			c[k] = v
			return c
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			out = append(out, sample{name: name, labels: labels, v: m.GetCounter().GetValue(), counter: true})
		case dto.MetricType_GAUGE:
			out = append(out, sample{name: name, labels: labels, v: m.GetGauge().GetValue()})
		case dto.MetricType_UNTYPED:
			out = append(out, sample{name: name, labels: labels, v: m.GetUntyped().GetValue()})
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			h := m.GetHistogram()
			counter := f.GetType() == dto.MetricType_HISTOGRAM
			inf := false
			for _, b := range h.GetBucket() {
				inf = inf || math.IsInf(b.GetUpperBound(), 1)
				out = append(out, sample{name: name + "_bucket", labels: with("le", formatBound(b.GetUpperBound())),
					v: float64(b.GetCumulativeCount()), counter: counter})
			}
			if !inf {
				out = append(out, sample{name: name + "_bucket", labels: with("le", "+Inf"), v: float64(h.GetSampleCount()), counter: counter})
			}
			out = append(out,
				sample{name: name + "_count", labels: labels, v: float64(h.GetSampleCount()), counter: counter},
				sample{name: name + "_sum", labels: labels, v: h.GetSampleSum(), counter: counter})
		case dto.MetricType_SUMMARY:
			sm := m.GetSummary()
			for _, q := range sm.GetQuantile() {
				out = append(out, sample{name: name, labels: with("quantile", formatBound(q.GetQuantile())), v: q.GetValue()})
			}
			out = append(out,
				sample{name: name + "_count", labels: labels, v: float64(sm.GetSampleCount()), counter: true},
				sample{name: name + "_sum", labels: labels, v: sm.GetSampleSum(), counter: true})
		}
	}
	return out
}

// formatBound renders a bucket bound as the text exposition does.
func formatBound(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func key(target, name string, labels map[string]string) string {
	ks := make([]string, 0, len(labels))
	for k := range labels {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	var b strings.Builder
	b.WriteString(target)
	b.WriteByte(0)
	b.WriteString(name)
	for _, k := range ks {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(labels[k])
	}
	return b.String()
}

// Ingest stores one successful scrape of target made at time at. It returns
// how many samples it dropped because the store already held MaxSeries
// series. NaN samples are skipped.
func (s *Store) Ingest(target string, at time.Time, families []*dto.MetricFamily) (dropped int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := s.targets[target]
	if ts == nil {
		ts = &targetState{}
		s.targets[target] = ts
	}
	prev := ts.lastIngest
	for _, f := range families {
		if s.o.Keep != nil && !s.o.Keep(f.GetName()) {
			continue
		}
		for _, smp := range flatten(f) {
			if math.IsNaN(smp.v) {
				continue
			}
			k := key(target, smp.name, smp.labels)
			sr := s.series[k]
			if sr == nil {
				if len(s.series) >= s.o.MaxSeries {
					dropped++
					continue
				}
				sr = &series{Series: Series{Target: target, Labels: smp.labels}, name: smp.name, counter: smp.counter}
				s.series[k] = sr
				s.byName[smp.name] = append(s.byName[smp.name], sr)
				if sr.counter && !prev.IsZero() && prev.Before(at) {
					// Created since the previous scrape of a target already
					// known: it grew from zero in between.
					sr.recent = append(sr.recent, point{t: prev})
				}
			}
			s.add(sr, at, smp.v)
		}
	}
	if at.After(ts.lastIngest) {
		ts.lastIngest = at
	}
	return dropped
}

func (s *Store) add(sr *series, at time.Time, v float64) {
	if !sr.counter {
		if !sr.last.t.IsZero() && sr.last.v != v {
			sr.changed = at
		}
		sr.last = point{t: at, v: v}
		return
	}
	if n := len(sr.recent); n > 0 && !at.After(sr.recent[n-1].t) {
		return // out of order or repeated: the history only moves forward
	}
	if (len(sr.recent) > 0 || len(sr.old) > 0) && v < sr.lastRaw {
		sr.offset += sr.lastRaw
	}
	sr.lastRaw = v
	sr.recent = append(sr.recent, point{t: at, v: v + sr.offset})
	s.thin(sr, at)
}

// thin moves samples older than FullResolution to the one-per-Step
// history and drops what Retention no longer needs, keeping the newest
// sample at or before the retention cut-off as the base of the longest
// window.
func (s *Store) thin(sr *series, now time.Time) {
	cut := now.Add(-s.o.FullResolution)
	i := 0
	for ; i < len(sr.recent)-1 && sr.recent[i].t.Before(cut); i++ {
		p := sr.recent[i]
		if n := len(sr.old); n == 0 || p.t.Sub(sr.old[n-1].t) >= s.o.Step {
			sr.old = append(sr.old, p)
		}
	}
	if i > 0 {
		sr.recent = slices.Delete(sr.recent, 0, i)
	}
	keep := now.Add(-s.o.Retention)
	j := 0
	for j+1 < len(sr.old) && !sr.old[j+1].t.After(keep) {
		j++
	}
	if j > 0 {
		sr.old = slices.Delete(sr.old, 0, j)
	}
}

// Prune forgets series that have not been scraped for longer than
// Retention (a target removed, a label value gone for good).
func (s *Store) Prune(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cut := now.Add(-s.o.Retention)
	for k, sr := range s.series {
		if sr.latest().t.Before(cut) {
			delete(s.series, k)
			s.byName[sr.name] = slices.DeleteFunc(s.byName[sr.name], func(x *series) bool { return x == sr })
			if len(s.byName[sr.name]) == 0 {
				delete(s.byName, sr.name)
			}
		}
	}
}

func (sr *series) latest() point {
	if !sr.counter {
		return sr.last
	}
	if n := len(sr.recent); n > 0 {
		return sr.recent[n-1]
	}
	if n := len(sr.old); n > 0 {
		return sr.old[n-1]
	}
	return point{}
}

// at returns the newest sample at or before t, or the oldest sample when
// none is that old (the window starts before the history does), and false
// when the series has no sample at all.
func (sr *series) at(t time.Time) (point, bool) {
	for _, ps := range [][]point{sr.recent, sr.old} {
		i, _ := slices.BinarySearchFunc(ps, t, func(p point, t time.Time) int {
			if p.t.After(t) {
				return 1
			}
			return -1
		})
		if i > 0 {
			return ps[i-1], true
		}
	}
	if len(sr.old) > 0 {
		return sr.old[0], true
	}
	if len(sr.recent) > 0 {
		return sr.recent[0], true
	}
	return point{}, false
}

// Latest returns the current value of every gauge series named name (as
// flattened: a summary quantile is name{quantile}), skipping series whose
// latest sample is older than Lookback at now. Results are ordered by
// target, then labels.
func (s *Store) Latest(name string, now time.Time) []Value {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Value
	for _, sr := range s.byName[name] {
		if sr.counter {
			continue
		}
		p := sr.latest()
		if p.t.IsZero() || now.Sub(p.t) > s.o.Lookback || p.t.After(now) {
			continue
		}
		out = append(out, Value{Series: sr.Series, Value: p.v, Time: p.t, ChangeTime: sr.changed})
	}
	sortValues(out)
	return out
}

// Increase returns, for every counter series named name, how much it grew
// between from and to: the value of its newest sample at or before to
// minus that of its newest sample at or before from (or its oldest sample,
// when the history starts after from). Series without a sample at or
// before to are left out. Results are ordered by target, then labels.
func (s *Store) Increase(name string, from, to time.Time) []Value {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Value
	for _, sr := range s.byName[name] {
		if !sr.counter {
			continue
		}
		end, ok := sr.at(to)
		if !ok || end.t.After(to) {
			continue
		}
		start, _ := sr.at(from)
		out = append(out, Value{Series: sr.Series, Value: max(end.v-start.v, 0), Time: end.t})
	}
	sortValues(out)
	return out
}

// Distribution is a histogram's buckets over a window.
type Distribution struct {
	// Buckets are cumulative, by upper bound, summed over the series.
	Buckets []Bucket
	// Count is the number of observations (the +Inf bucket).
	Count float64
	// Sum is the sum of the observations.
	Sum float64
}

// Quantile estimates the q-quantile of d; see Quantile.
func (d Distribution) Quantile(q float64) float64 { return Quantile(q, d.Buckets) }

// Histogram returns the distribution of the histogram family name (the
// family name, without _bucket) observed between from and to, summed over
// its series for which match is true (nil matches all).
func (s *Store) Histogram(name string, from, to time.Time, match func(Series) bool) Distribution {
	var d Distribution
	byBound := map[float64]float64{}
	for _, v := range s.Increase(name+"_bucket", from, to) {
		if match != nil && !match(v.Series) {
			continue
		}
		le, err := strconv.ParseFloat(v.Label("le"), 64)
		if err != nil {
			continue
		}
		byBound[le] += v.Value
	}
	for le, c := range byBound {
		d.Buckets = append(d.Buckets, Bucket{UpperBound: le, Count: c})
	}
	slices.SortFunc(d.Buckets, func(a, b Bucket) int { return cmp.Compare(a.UpperBound, b.UpperBound) })
	d.Count = byBound[math.Inf(1)]
	for _, v := range s.Increase(name+"_sum", from, to) {
		if match == nil || match(v.Series) {
			d.Sum += v.Value
		}
	}
	return d
}

// Has reports whether the store holds any series named name.
func (s *Store) Has(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byName[name]) > 0
}

func sortValues(vs []Value) {
	slices.SortFunc(vs, func(a, b Value) int {
		if c := cmp.Compare(a.Target, b.Target); c != 0 {
			return c
		}
		return cmp.Compare(key("", "", a.Labels), key("", "", b.Labels))
	})
}
