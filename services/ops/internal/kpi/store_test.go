package kpi

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// parseText reads a canned text exposition.
func parseText(t *testing.T, text string) []*dto.MetricFamily {
	t.Helper()
	fams, err := Parse(strings.NewReader(text), expfmt.NewFormat(expfmt.TypeTextPlain))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return fams
}

func counterText(name string, v float64) string {
	return "# TYPE " + name + " counter\n" + name + `{channel="web"} ` + ftoa(v) + "\n"
}

func ftoa(v float64) string { return strings.TrimSpace(formatBound(v)) }

func increaseOf(vs []Value) float64 {
	var sum float64
	for _, v := range vs {
		sum += v.Value
	}
	return sum
}

func TestIncrease(t *testing.T) {
	t.Parallel()
	const name = "orders_total"
	tests := []struct {
		name   string
		values []float64 // one scrape per minute from t0
		from   time.Duration
		to     time.Duration
		want   float64
	}{
		{"whole history", []float64{5, 7, 12}, 0, 2 * time.Minute, 7},
		{"window inside the history", []float64{5, 7, 12, 20}, 90 * time.Second, 3 * time.Minute, 13},
		{"window starting before the history starts at its first sample", []float64{5, 7}, -time.Hour, time.Minute, 2},
		{"reset counts the value after the restart", []float64{10, 15, 3, 4}, 0, 3 * time.Minute, 5 + 3 + 1},
		{"window ending between scrapes uses the sample before", []float64{1, 2, 9}, 0, 90 * time.Second, 1},
		{"window ending before the history has no value", []float64{1, 2}, -2 * time.Hour, -time.Hour, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := NewStore(Options{})
			for i, v := range tc.values {
				s.Ingest("order", t0.Add(time.Duration(i)*time.Minute), parseText(t, counterText(name, v)))
			}
			got := increaseOf(s.Increase(name, t0.Add(tc.from), t0.Add(tc.to)))
			if got != tc.want {
				t.Errorf("increase = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIncreaseNewSeriesStartsAtZero(t *testing.T) {
	t.Parallel()
	s := NewStore(Options{})
	other := "# TYPE up gauge\nup 1\n"
	s.Ingest("order", t0, parseText(t, other))
	// The labelled counter shows up with its first increments already in.
	s.Ingest("order", t0.Add(15*time.Second), parseText(t, other+counterText("orders_total", 3)))
	if got := increaseOf(s.Increase("orders_total", t0, t0.Add(time.Minute))); got != 3 {
		t.Errorf("increase of a series born after the first scrape = %v, want 3", got)
	}
	// On a target's first scrape the value predates ops: it is the base.
	s.Ingest("catalog", t0, parseText(t, counterText("orders_total", 40)))
	s.Ingest("catalog", t0.Add(15*time.Second), parseText(t, counterText("orders_total", 41)))
	got := s.Increase("orders_total", t0, t0.Add(time.Minute))
	want := []float64{1, 3} // catalog, order
	if len(got) != 2 || got[0].Value != want[0] || got[1].Value != want[1] {
		t.Errorf("increases = %+v, want %v", got, want)
	}
}

func TestBoundedHistory(t *testing.T) {
	t.Parallel()
	s := NewStore(Options{})
	const interval = 15 * time.Second
	end := t0.Add(8 * 24 * time.Hour)
	fams := parseText(t, counterText("c_total", 0))
	c := fams[0].GetMetric()[0].GetCounter()
	for at := t0; !at.After(end); at = at.Add(interval) {
		s.Ingest("order", at, fams)
		*c.Value++
	}
	sr := s.byName["c_total"][0]
	if max := int(DefaultFullResolution/interval) + 1; len(sr.recent) > max {
		t.Errorf("full-resolution samples = %d, want <= %d", len(sr.recent), max)
	}
	if max := int((DefaultRetention-DefaultFullResolution)/DefaultStep) + 2; len(sr.old) > max {
		t.Errorf("thinned samples = %d, want <= %d", len(sr.old), max)
	}
	// The counter grew by one per scrape: a window's increase is its
	// length over the interval, to within one Step of thinning.
	for _, w := range []time.Duration{15 * time.Minute, time.Hour, 6 * time.Hour, 7 * 24 * time.Hour} {
		got := increaseOf(s.Increase("c_total", end.Add(-w), end))
		want := float64(w / interval)
		if tol := float64(DefaultStep / interval); math.Abs(got-want) > tol {
			t.Errorf("increase over %v = %v, want %v ± %v", w, got, want, tol)
		}
	}
}

func TestLatest(t *testing.T) {
	t.Parallel()
	s := NewStore(Options{Lookback: time.Minute})
	gauge := func(v float64) []*dto.MetricFamily {
		return parseText(t, "# TYPE transload_breaker_state gauge\ntransload_breaker_state{target=\"erp\"} "+ftoa(v)+"\n")
	}
	s.Ingest("order", t0, gauge(0))
	s.Ingest("order", t0.Add(15*time.Second), gauge(0))
	got := s.Latest("transload_breaker_state", t0.Add(20*time.Second))
	if len(got) != 1 || got[0].Value != 0 || !got[0].ChangeTime.IsZero() {
		t.Fatalf("before a change: %+v", got)
	}
	s.Ingest("order", t0.Add(30*time.Second), gauge(2))
	got = s.Latest("transload_breaker_state", t0.Add(40*time.Second))
	want := []Value{{
		Series: Series{Target: "order", Labels: map[string]string{"target": "erp"}},
		Value:  2, Time: t0.Add(30 * time.Second), ChangeTime: t0.Add(30 * time.Second),
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Latest (-want +got):\n%s", diff)
	}
	if got := s.Latest("transload_breaker_state", t0.Add(30*time.Second+2*time.Minute)); len(got) != 0 {
		t.Errorf("stale gauge still current: %+v", got)
	}
	if got := s.Latest("nope", t0); got != nil {
		t.Errorf("unknown name: %+v", got)
	}
}

// TestHistogramFromRegistry feeds real client_golang histograms through the
// store and checks that a window sees only the observations made in it.
func TestHistogramFromRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "lat_seconds", Buckets: []float64{0.1, 0.2, 0.4, 0.8},
	}, []string{"channel"})
	reg.MustRegister(h)
	s := NewStore(Options{Keep: func(f string) bool { return f == "lat_seconds" }})
	gather := func(at time.Time) {
		t.Helper()
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		s.Ingest("order", at, fams)
	}
	for range 100 {
		h.WithLabelValues("web").Observe(0.7) // before the window
	}
	gather(t0)
	for i := range 100 {
		h.WithLabelValues("web").Observe(0.05)
		if i%2 == 0 {
			h.WithLabelValues("app").Observe(0.3)
		}
	}
	gather(t0.Add(time.Minute))

	d := s.Histogram("lat_seconds", t0, t0.Add(time.Minute), nil)
	if d.Count != 150 {
		t.Fatalf("count = %v, want 150", d.Count)
	}
	if got := d.Quantile(0.5); !sameFloat(got, 0.075) {
		// rank 75 of 100 in (0, 0.1] → 0.075
		t.Errorf("p50 = %v, want 0.075", got)
	}
	if got := d.Quantile(0.99); !sameFloat(got, 0.2+0.2*(148.5-100)/50) {
		t.Errorf("p99 = %v", got)
	}
	if !sameFloat(d.Sum, 100*0.05+50*0.3) {
		t.Errorf("sum = %v", d.Sum)
	}
	web := s.Histogram("lat_seconds", t0, t0.Add(time.Minute), func(s Series) bool { return s.Label("channel") == "web" })
	if web.Count != 100 {
		t.Errorf("web count = %v, want 100", web.Count)
	}
	// The "app" series appeared after the first scrape: all of it counts.
	app := s.Histogram("lat_seconds", t0.Add(-time.Hour), t0.Add(time.Minute), func(s Series) bool { return s.Label("channel") == "app" })
	if app.Count != 50 {
		t.Errorf("app count = %v, want 50", app.Count)
	}
	if s.Has("other") || !s.Has("lat_seconds_bucket") {
		t.Error("Keep did not select the families")
	}
}

func TestMaxSeriesAndPrune(t *testing.T) {
	t.Parallel()
	s := NewStore(Options{MaxSeries: 2, Retention: time.Hour})
	text := "# TYPE g gauge\ng{a=\"1\"} 1\ng{a=\"2\"} 2\ng{a=\"3\"} 3\n"
	if dropped := s.Ingest("x", t0, parseText(t, text)); dropped != 1 {
		t.Errorf("dropped = %d, want 1", dropped)
	}
	if got := len(s.Latest("g", t0)); got != 2 {
		t.Errorf("series = %d, want 2", got)
	}
	s.Prune(t0.Add(2 * time.Hour))
	if s.Has("g") {
		t.Error("Prune kept series older than Retention")
	}
}

func TestIngestSummaryAndUntyped(t *testing.T) {
	t.Parallel()
	s := NewStore(Options{})
	text := `# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5"} 0.2
rpc_seconds_sum 10
rpc_seconds_count 40
# TYPE raw untyped
raw 7
`
	s.Ingest("x", t0, parseText(t, text))
	s.Ingest("x", t0.Add(time.Minute), parseText(t, strings.Replace(text, "rpc_seconds_count 40", "rpc_seconds_count 46", 1)))
	if got := increaseOf(s.Increase("rpc_seconds_count", t0, t0.Add(time.Minute))); got != 6 {
		t.Errorf("summary count increase = %v, want 6", got)
	}
	if got := s.Latest("rpc_seconds", t0.Add(time.Minute)); len(got) != 1 || got[0].Label("quantile") != "0.5" {
		t.Errorf("summary quantile = %+v", got)
	}
	if got := s.Latest("raw", t0.Add(time.Minute)); len(got) != 1 || got[0].Value != 7 {
		t.Errorf("untyped = %+v", got)
	}
	if got := s.Increase("raw", t0, t0.Add(time.Minute)); got != nil {
		t.Errorf("Increase of a gauge = %+v, want nothing", got)
	}
}
