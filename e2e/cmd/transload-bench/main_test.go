package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/deploy/local/launcher"
)

func TestPlatformRatios(t *testing.T) {
	t.Parallel()
	const header = "| benchmark | baseline ns/op (median) | subject ns/op (median) | subject / baseline |\n|---|---:|---:|---:|\n"
	tests := []struct {
		name, in, want string
	}{
		{
			name: "median of each side",
			in: `goos: linux
BenchmarkOutbox/baseline-2   100   1000 ns/op   10 B/op   1 allocs/op
BenchmarkOutbox/baseline-2   100   3000 ns/op   10 B/op   1 allocs/op
BenchmarkOutbox/baseline-2   100   2000 ns/op   10 B/op   1 allocs/op
BenchmarkOutbox/subject-2    100   4000 ns/op   10 B/op   1 allocs/op
PASS`,
			want: header + "| BenchmarkOutbox | 2000 | 4000 | 2.00× |\n",
		},
		{
			name: "a line whose ns/op is not a number is no result",
			in: `BenchmarkOutbox/baseline-2   100   1000 ns/op
BenchmarkOutbox/subject-2    100   n/a ns/op
BenchmarkOutbox/subject-2    100   1500 ns/op
BenchmarkOutbox/subject-2    100   1600 ns/op`,
			want: header + "| BenchmarkOutbox | 1000 | 1600 | 1.60× |\n",
		},
		{
			name: "a group without a baseline is left out",
			in:   "BenchmarkCache/subject-2   100   1500 ns/op",
			want: header,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, platformRatios(tt.in)); diff != "" {
				t.Errorf("platformRatios (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseProcStat(t *testing.T) {
	t.Parallel()
	// A real line's shape; the command name holds a space and a ')'.
	const line = "4242 (gate way) x) S 1 4242 4242 0 -1 4194560 2210 0 0 0 1234 567 0 0 20 0 9 0 1790 1290240000 5120 18446744073709551615 1 1 0 0 0 0 0 0 2143420159 0 0 0 17 1 0 0 0 0 0\n"
	got, err := parseProcStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if got != 1234+567 {
		t.Errorf("parseProcStat = %d ticks, want utime+stime = %d", got, 1234+567)
	}
	for _, bad := range []string{"", "4242 gateway S 1", "4242 (gw) S 1 2 3", "4242 (gw) S 1 4242 4242 0 -1 4194560 2210 0 0 0 x 567 0"} {
		if _, err := parseProcStat(bad); err == nil {
			t.Errorf("parseProcStat(%q) gave no error", bad)
		}
	}
}

func TestParseVmHWM(t *testing.T) {
	t.Parallel()
	status := "Name:\tgateway\nVmPeak:\t 1300000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40000 kB\n"
	got, err := parseVmHWM(status)
	if err != nil {
		t.Fatal(err)
	}
	if got != 51200*1024 {
		t.Errorf("parseVmHWM = %d, want %d", got, 51200*1024)
	}
	for _, bad := range []string{"Name:\tx\n", "VmHWM:\t 12 MB\n", "VmHWM:\t many kB\n"} {
		if _, err := parseVmHWM(bad); err == nil {
			t.Errorf("parseVmHWM(%q) gave no error", bad)
		}
	}
}

// TestProcCPUOfSelf reads the harness's own /proc entry: the parser fits
// the kernel's real format, and CPU spent shows up.
func TestProcCPUOfSelf(t *testing.T) {
	before, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var after time.Duration
	deadline := time.Now().Add(10 * time.Second)
	for x := 0; after-before < 20*time.Millisecond; x++ {
		if after, err = procCPU(os.Getpid()); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time read from /proc stayed at %s after 10s of spinning", after)
		}
		_ = fmt.Sprint(x) // burn CPU until the ticks move
	}
	if _, err := procPeakRSS(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}

func TestPerUnit(t *testing.T) {
	t.Parallel()
	w := cpuWatch{counted: map[string]bool{"order": true, "gateway": true, redisProc: true}}
	delta := cpuSnapshot{"order": 300 * time.Millisecond, "gateway": 100 * time.Millisecond, redisProc: 100 * time.Millisecond, harnessProc: time.Second}
	got := w.perUnit(delta, 100)
	want := cpuCost{
		PerProc: map[string]time.Duration{"order": 3 * time.Millisecond, "gateway": time.Millisecond, redisProc: time.Millisecond, harnessProc: 10 * time.Millisecond},
		Total:   5 * time.Millisecond, Harness: 10 * time.Millisecond, Window: 500 * time.Millisecond, Units: 100,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("perUnit (-want +got):\n%s", diff)
	}
	if c := w.perUnit(delta, 0); c.measured() {
		t.Errorf("perUnit with no units is measured: %+v", c)
	}
	d := cpuDelta(cpuSnapshot{"a": time.Second, "gone": time.Second}, cpuSnapshot{"a": 3 * time.Second, "new": time.Second})
	if diff := cmp.Diff(cpuSnapshot{"a": 2 * time.Second}, d); diff != "" {
		t.Errorf("cpuDelta keeps only processes read twice (-want +got):\n%s", diff)
	}
}

func TestIsBounded(t *testing.T) {
	t.Parallel()
	ok := probeResult{Rate: 100, Duration: 10 * time.Second, Sent: 1000, Errors: 0, P99: 50 * time.Millisecond, BacklogMid: 300, BacklogEnd: 320}
	tests := []struct {
		name string
		edit func(*probeResult)
		want bool
	}{
		{"flat backlog after the pipeline filled", func(*probeResult) {}, true},
		{"backlog grows by more than a tenth of the second half's arrivals", func(p *probeResult) { p.BacklogEnd = 300 + 53 }, false},
		{"growth at the tolerance", func(p *probeResult) { p.BacklogEnd = 300 + 52 }, true},
		{"harness fell behind its schedule", func(p *probeResult) { p.Sent = 900 }, false},
		{"more than 1% errors", func(p *probeResult) { p.Errors = 11 }, false},
		{"acceptance queueing at the door", func(p *probeResult) { p.P99 = 2 * time.Second }, false},
	}
	for _, tt := range tests {
		p := ok
		tt.edit(&p)
		if got := isBounded(p); got != tt.want {
			t.Errorf("%s: isBounded = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestBacklogAtAndSteadyRate(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	accepted := []time.Time{at(0), at(1), at(2), at(3)}
	terminal := []finished{{At: at(1.5), Delivered: true}, {At: at(2.5), Delivered: true}, {At: at(2.6)}}
	if got := backlogAt(accepted, terminalTimes(terminal), at(2)); got != 2 {
		t.Errorf("backlog at 2s = %d, want 2 (3 accepted, 1 done)", got)
	}
	if got := backlogAt(accepted, terminalTimes(terminal), at(3)); got != 1 {
		t.Errorf("backlog at 3s = %d, want 1", got)
	}
	// Rejected orders are terminal but not delivered.
	if got := steadyRate(terminal, at(1), at(3)); got != 1 {
		t.Errorf("steadyRate = %v/s, want 1 (2 deliveries in 2s)", got)
	}
	if got := steadyRate(terminal, at(3), at(3)); got != 0 {
		t.Errorf("steadyRate over an empty span = %v", got)
	}
}

func TestSearchRate(t *testing.T) {
	t.Parallel()
	fake := func(capacity float64, tried *[]float64) func(float64) (probeResult, error) {
		return func(r float64) (probeResult, error) {
			*tried = append(*tried, r)
			return probeResult{Rate: r, Bounded: r <= capacity}, nil
		}
	}
	tests := []struct {
		name                   string
		start, limit, capacity float64
		wantRate               float64
		wantTried              []float64
	}{
		{"doubles, then bisects twice", 20, 500, 100, 100, []float64{20, 40, 80, 160, 120, 100}},
		{"stops at the limit", 20, 100, 1000, 100, []float64{20, 40, 80, 100}},
		{"first probe missed: bisects below it", 20, 500, 5, 5, []float64{20, 10, 5}},
		{"nothing bounded", 20, 500, 0, 0, []float64{20, 10, 5}},
		{"bisection stops at whole rates", 1, 500, 1, 1, []float64{1, 2}},
	}
	for _, tt := range tests {
		var tried []float64
		got, probes, err := searchRate(tt.start, tt.limit, 2, fake(tt.capacity, &tried))
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.wantRate || !slices.Equal(tried, tt.wantTried) {
			t.Errorf("%s: searchRate = %v after %v, want %v after %v", tt.name, got, tried, tt.wantRate, tt.wantTried)
		}
		if len(probes) != len(tried) {
			t.Errorf("%s: %d probes reported for %d tried", tt.name, len(probes), len(tried))
		}
	}
	boom := errors.New("mesh gone")
	if _, _, err := searchRate(20, 500, 2, func(float64) (probeResult, error) { return probeResult{}, boom }); !errors.Is(err, boom) {
		t.Errorf("searchRate error = %v, want the probe's", err)
	}
}

func TestOpenLoopKeepsItsSchedule(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	as := openLoop(context.Background(), 200, 100*time.Millisecond, func(context.Context, int) (string, error) {
		calls.Add(1)
		time.Sleep(20 * time.Millisecond) // slower than the arrival interval: open loop does not wait
		return "orders/x", nil
	})
	if len(as) != 20 || calls.Load() != 20 {
		t.Fatalf("openLoop at 200/s for 100ms made %d arrivals and %d calls, want 20", len(as), calls.Load())
	}
	for i, a := range as {
		if a.Err != nil || a.Name != "orders/x" || a.Latency < 20*time.Millisecond {
			t.Errorf("arrival %d = %+v, want the call's answer and a latency of at least the call", i, a)
		}
	}
}

// figures is a report with every scenario measured, for budget tests.
func figures() report {
	cpu := func(total time.Duration) cpuCost {
		return cpuCost{PerProc: map[string]time.Duration{"gateway": total}, Total: total, Units: 100}
	}
	return report{
		Results: []result{
			{Name: "a2: anchor", Concurrency: 16, Requests: 1000, RPS: 1000, P99: 2 * time.Millisecond},
			{Name: "b: raw", Concurrency: 16, Requests: 1000, RPS: 400, P99: 10 * time.Millisecond},
			{Name: "c: availability", Concurrency: 16, Requests: 1000, RPS: 600, P99: 5 * time.Millisecond, CPU: cpu(300 * time.Microsecond)},
			{Name: "d: placement", Concurrency: 16, Requests: 1000, RPS: 100, P99: 40 * time.Millisecond, CPU: cpu(9 * time.Millisecond)},
		},
		Sustained: &sustainedResult{Rate: 200, Sent: 12000, DeliveredRate: 160, CPU: cpu(11 * time.Millisecond),
			PeakRSS: map[string]int64{"order": 100 << 20, "gateway": 60 << 20}},
		Freshness: &freshnessFigures{Samples: 20, P50: 80 * time.Millisecond, P99: 400 * time.Millisecond},
		Drain:     &drainFigures{Orders: 10000, Rate: 600},
	}
}

func verdicts(bs []budget) map[string]verdict {
	out := map[string]verdict{}
	for _, b := range bs {
		out[b.Name] = b.Verdict
	}
	return out
}

func TestBudgets(t *testing.T) {
	t.Parallel()
	all := verdicts(budgets(figures()))
	if len(all) != 10 {
		t.Fatalf("%d budgets, want the 10 of issue #12: %v", len(all), all)
	}
	for name, v := range all {
		if v != pass {
			t.Errorf("%s = %s on figures within every budget, want PASS", name, v)
		}
	}
	for name, v := range verdicts(budgets(report{})) {
		if v != notMeasured {
			t.Errorf("%s = %s when nothing ran, want not measured", name, v)
		}
	}

	r := figures()
	r.Results[3].RPS = 99                    // d/b 0.2475 < 0.25
	r.Results[3].P99 = 51 * time.Millisecond // > 5 × 10ms
	r.Results[2].CPU = cpuCost{PerProc: map[string]time.Duration{"gateway": time.Millisecond}, Total: 401 * time.Microsecond, Units: 1}
	r.Sustained.DeliveredRate = 149
	r.Sustained.PeakRSS["ops"] = 151 << 20
	r.Freshness.P99 = 501 * time.Millisecond
	r.Drain.Rate = 499
	got := verdicts(budgets(r))
	for _, name := range []string{
		"Order placement through REST, c=16: throughput", "Order placement through REST, c=16: p99",
		"Checkout availability (hot), c=16: CPU per call, all Transload processes", "Sustained end to end: delivered orders/s",
		"Memory: peak RSS of each process during the sustained run", "ERP stock change → storefront availability: p99",
		"Backlog drain after an ERP outage",
	} {
		if got[name] != miss {
			t.Errorf("%s = %s just past its target, want MISS", name, got[name])
		}
	}

	// A sustained run that delivered nothing misses the CPU budget rather
	// than leaving it unmeasured; freshness without samples is unmeasured.
	r = figures()
	r.Sustained.CPU = cpuCost{}
	r.Freshness.Samples = 0
	got = verdicts(budgets(r))
	if v := got["Sustained end to end: CPU per delivered order, all Transload processes"]; v != miss {
		t.Errorf("CPU budget with no delivered order = %s, want MISS", v)
	}
	if v := got["ERP stock change → storefront availability: p99"]; v != notMeasured {
		t.Errorf("freshness without samples = %s, want not measured", v)
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	r := figures()
	r.Procs = []string{"gateway", "order", harnessProc}
	r.Results[2].CPU.PerProc[launcher.WMSSim] = 50 * time.Microsecond
	r.Idle = cpuCost{PerProc: map[string]time.Duration{"order": 20 * time.Millisecond}, Total: 20 * time.Millisecond, Units: 5}
	r.Sustained.Probes = []probeResult{{Rate: 20, Duration: 10 * time.Second, Sent: 200, Bounded: true}}
	r.Oversold = &Oversold{Levels: 3, Orders: 10}
	out := render(r)
	for _, want := range []string{
		"| Order placement through REST, c=16: throughput | ≥ 0.25× b (raw single-transaction order tx) | 0.25× (100 vs 400 req/s) | **PASS** |",
		"| Backlog drain after an ERP outage | ≥ 500 orders/s | 600 orders/s (10000 orders) | **PASS** |",
		"| d: placement | 16 | 1000 | 0 | 100 | 0 µs | 40.00 ms | 9.00 ms | 0 µs |",
		"| 20/s | 10s | 200 | 0 | 0 µs | 0 | 0 | yes |",
		// The simulators' CPU is shown beside the counted total, not in it.
		"| ≤ 0.4 ms | 300 µs (350 µs with the simulators) | **PASS** |",
		"0 oversell violations (3 SKU×warehouse levels, 10 accepted orders checked)",
		"| mesh at rest, per second of wall time | — | 20.00 ms | 20.00 ms |",
		"## How to read this",
		"## Reproduce",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("render lacks %q; got:\n%s", want, out)
		}
	}
	empty := render(report{})
	if !strings.Contains(empty, "| — | **not measured** |") || !strings.Contains(empty, "Oversold check (stores): **not measured**") {
		t.Errorf("render of an empty run does not say not measured:\n%s", empty)
	}
}

// TestOrderTrackerFollowsThroughTheList serves GET /v1/orders from a fake:
// the tracker pages through, keeps only the orders the harness placed,
// keeps an order's first terminal state, and asks again from a second
// before the newest update_time it read (commits land after their
// update_time is taken).
func TestOrderTrackerFollowsThroughTheList(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	type row struct {
		Name       string    `json:"name"`
		UpdateTime time.Time `json:"updateTime"`
	}
	var mu sync.Mutex
	var filters []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+launcher.DemoAPIKey || r.URL.Query().Get("orderBy") != "update_time" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		filter := r.URL.Query().Get("filter")
		mu.Lock()
		filters = append(filters, filter)
		mu.Unlock()
		var page struct {
			Orders        []row  `json:"orders"`
			NextPageToken string `json:"nextPageToken"`
		}
		switch {
		case strings.HasPrefix(filter, "state = STATE_DELIVERED") && r.URL.Query().Get("pageToken") == "":
			page.Orders = []row{{"orders/a", t0.Add(time.Second)}, {"orders/not-ours", t0.Add(2 * time.Second)}}
			page.NextPageToken = "p2"
		case strings.HasPrefix(filter, "state = STATE_DELIVERED"):
			page.Orders = []row{{"orders/b", t0.Add(3 * time.Second)}}
		case strings.HasPrefix(filter, "state = STATE_REJECTED"):
			page.Orders = []row{{"orders/c", t0.Add(time.Second)}, {"orders/a", t0.Add(4 * time.Second)}}
		}
		_ = json.NewEncoder(w).Encode(page)
	}))
	defer srv.Close()

	tr := newOrderTracker(srv.URL, t0)
	for _, n := range []string{"orders/a", "orders/b", "orders/c", "orders/d"} {
		tr.accept(n, t0)
	}
	if err := tr.poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []finished{{At: t0.Add(time.Second), Delivered: true}, {At: t0.Add(3 * time.Second), Delivered: true}, {At: t0.Add(time.Second)}}
	if diff := cmp.Diff(want, tr.outcome([]string{"orders/a", "orders/b", "orders/c", "orders/d"})); diff != "" {
		t.Errorf("outcome (-want +got):\n%s", diff)
	}
	if n := tr.open(); n != 1 {
		t.Errorf("open = %d, want 1 (orders/d)", n)
	}
	if got := tr.deliveryTimes([]string{"orders/a", "orders/b", "orders/c"}); !slices.Equal(got, []time.Duration{time.Second, 3 * time.Second}) {
		t.Errorf("deliveryTimes = %v, want [1s 3s]", got)
	}
	if err := tr.poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// First poll from the start minus the overlap; the second from the
	// newest delivered update_time read (3s) minus the overlap.
	for _, want := range []string{
		`state = STATE_DELIVERED AND update_time >= "2026-01-01T11:59:59Z"`,
		`state = STATE_DELIVERED AND update_time >= "2026-01-01T12:00:02Z"`,
		`state = STATE_REJECTED AND update_time >= "2026-01-01T12:00:03Z"`,
	} {
		if !slices.Contains(filters, want) {
			t.Errorf("no list asked with filter %s; asked: %q", want, filters)
		}
	}
}
