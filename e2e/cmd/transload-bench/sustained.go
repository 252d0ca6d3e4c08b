package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
)

// Terminal order states as the storefront API names them. The follower
// reads these; every other state is backlog.
const (
	stateDelivered = "STATE_DELIVERED"
	stateRejected  = "STATE_REJECTED"
	stateCancelled = "STATE_CANCELLED"
)

// followOverlap is how far before the newest update_time it has seen the
// follower reads again: an order's update_time is taken inside its
// transaction, before the commit makes it visible, so a later poll must not
// start exactly after it.
const followOverlap = time.Second

// orderTracker remembers the orders the harness placed and follows them to
// a terminal state through the storefront list (one page of up to 500
// orders per terminal state per poll, filtered by state and update_time,
// rather than one GET per order).
type orderTracker struct {
	base string

	mu       sync.Mutex
	accepted map[string]time.Time // order name → accepted at (harness clock)
	done     map[string]finished  // order name → terminal state
	cursor   map[string]time.Time // state → newest update_time read
}

// finished is an order's terminal state and when it was reached (the
// order's update_time, from the order service's clock on this machine).
type finished struct {
	At        time.Time
	Delivered bool
}

func newOrderTracker(base string, since time.Time) *orderTracker {
	t := &orderTracker{base: base, accepted: map[string]time.Time{}, done: map[string]finished{}, cursor: map[string]time.Time{}}
	for _, s := range []string{stateDelivered, stateRejected, stateCancelled} {
		t.cursor[s] = since
	}
	return t
}

func (t *orderTracker) accept(name string, at time.Time) {
	t.mu.Lock()
	t.accepted[name] = at
	t.mu.Unlock()
}

// open counts the accepted orders not yet seen in a terminal state.
func (t *orderTracker) open() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.accepted) - len(t.done)
}

// outcome returns the terminal states of names (missing: not terminal).
func (t *orderTracker) outcome(names []string) []finished {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []finished
	for _, n := range names {
		if f, ok := t.done[n]; ok {
			out = append(out, f)
		}
	}
	return out
}

// deliveryTimes returns, sorted, how long each of names that was delivered
// took from its acceptance to DELIVERED.
func (t *orderTracker) deliveryTimes(names []string) []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []time.Duration
	for _, n := range names {
		if f, ok := t.done[n]; ok && f.Delivered {
			out = append(out, f.At.Sub(t.accepted[n]))
		}
	}
	slices.Sort(out)
	return out
}

// follow polls every interval until ctx ends.
func (t *orderTracker) follow(ctx context.Context, every time.Duration) {
	for {
		if err := t.poll(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "transload-bench: follow orders:", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// poll reads the orders that reached a terminal state since the last poll.
func (t *orderTracker) poll(ctx context.Context) error {
	for _, state := range []string{stateDelivered, stateRejected, stateCancelled} {
		t.mu.Lock()
		since := t.cursor[state].Add(-followOverlap)
		t.mu.Unlock()
		filter := fmt.Sprintf(`state = %s AND update_time >= %q`, state, since.UTC().Format(time.RFC3339Nano))
		token := ""
		for {
			page, err := listOrders(ctx, t.base, filter, token)
			if err != nil {
				return err
			}
			t.mu.Lock()
			for _, o := range page.Orders {
				if o.UpdateTime.After(t.cursor[state]) {
					t.cursor[state] = o.UpdateTime
				}
				if _, ours := t.accepted[o.Name]; !ours {
					continue
				}
				if _, seen := t.done[o.Name]; !seen {
					t.done[o.Name] = finished{At: o.UpdateTime, Delivered: state == stateDelivered}
				}
			}
			t.mu.Unlock()
			if token = page.NextPageToken; token == "" {
				break
			}
		}
	}
	return nil
}

// waitDone polls until every accepted order is terminal or the timeout
// passes, and returns how many are still open.
func (t *orderTracker) waitDone(ctx context.Context, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		if err := t.poll(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "transload-bench: follow orders:", err)
		}
		if n := t.open(); n == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return n
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

type orderPage struct {
	Orders []struct {
		Name       string    `json:"name"`
		UpdateTime time.Time `json:"updateTime"`
	} `json:"orders"`
	NextPageToken string `json:"nextPageToken"`
}

func listOrders(ctx context.Context, base, filter, token string) (orderPage, error) {
	q := url.Values{"filter": {filter}, "orderBy": {"update_time"}, "pageSize": {"500"}}
	if token != "" {
		q.Set("pageToken", token)
	}
	var page orderPage
	err := callJSON(ctx, http.MethodGet, base+"/v1/orders?"+q.Encode(), launcher.DemoAPIKey, "", nil, &page)
	return page, err
}

// arrival is one request of an open-loop run.
type arrival struct {
	// Latency runs from when the request was due, not from when it was
	// sent: a harness that falls behind its schedule must not hide the
	// wait (coordinated omission).
	Latency time.Duration
	Name    string
	Err     error
	At      time.Time // when the answer came
}

// maxInFlight caps an open-loop run's concurrent requests, so an
// overloaded mesh slows the harness's schedule (which the latencies, taken
// from when each request was due, then show) instead of exhausting it.
const maxInFlight = 512

// openLoop calls fn at a constant rate for d regardless of how fast the
// answers come, and returns every arrival once all have been answered.
func openLoop(ctx context.Context, rate float64, d time.Duration, fn func(ctx context.Context, i int) (string, error)) []arrival {
	interval := time.Duration(float64(time.Second) / rate)
	n := int(d / interval)
	out := make([]arrival, n)
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
			out = out[:i]
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			name, err := fn(ctx, i)
			out[i] = arrival{Latency: time.Since(due), Name: name, Err: err, At: time.Now()}
		}()
	}
	wg.Wait()
	return out
}

// probeResult is one short open-loop run of the rate search.
type probeResult struct {
	Rate     float64
	Duration time.Duration
	Sent     int
	Errors   int
	P99      time.Duration
	// BacklogMid and BacklogEnd are the accepted orders not yet terminal
	// at the middle and at the end of the run.
	BacklogMid, BacklogEnd int
	Bounded                bool
}

// maxAcceptP99 is the acceptance p99 above which a rate counts as beyond
// capacity even when the backlog behind acceptance stays flat: requests are
// then queueing at the front door.
const maxAcceptP99 = time.Second

// isBounded decides whether a probe's backlog stayed bounded: the harness
// kept its schedule, at most 1% of the placements failed, acceptance p99
// stayed under maxAcceptP99, and over the second half of the run the
// backlog grew by at most a tenth of that half's arrivals (plus two orders
// of slack). The first half is the pipeline filling: an order takes
// seconds from acceptance to delivered, so the backlog rises to rate ×
// latency and, at a sustainable rate, stays there.
func isBounded(p probeResult) bool {
	expected := p.Rate * p.Duration.Seconds()
	if float64(p.Sent) < 0.95*expected || p.Errors*100 > p.Sent || p.P99 > maxAcceptP99 {
		return false
	}
	growth := float64(p.BacklogEnd - p.BacklogMid)
	return growth <= 0.1*expected/2+2
}

// backlogAt counts the orders accepted by t and not terminal by t.
func backlogAt(accepted []time.Time, terminal []time.Time, t time.Time) int {
	n := 0
	for _, a := range accepted {
		if !a.After(t) {
			n++
		}
	}
	for _, f := range terminal {
		if !f.After(t) {
			n--
		}
	}
	return n
}

// searchRate finds the highest arrival rate whose probe stays bounded:
// from start it doubles while probes pass (never beyond limit), then
// bisects between the last pass and the first miss refine times. Rates are
// whole orders per second. It returns 0 when not even the lowest rate
// tried passed.
func searchRate(start, limit float64, refine int, probe func(rate float64) (probeResult, error)) (float64, []probeResult, error) {
	var probes []probeResult
	try := func(r float64) (bool, error) {
		p, err := probe(r)
		if err != nil {
			return false, err
		}
		probes = append(probes, p)
		return p.Bounded, nil
	}
	lo, hi := 0.0, 0.0
	for r := math.Max(1, math.Round(start)); ; r *= 2 {
		r = math.Min(r, limit)
		ok, err := try(r)
		if err != nil {
			return 0, probes, err
		}
		if !ok {
			hi = r
			break
		}
		lo = r
		if r >= limit {
			break
		}
	}
	for range refine {
		if hi == 0 {
			break
		}
		mid := math.Round((lo + hi) / 2)
		if mid <= lo || mid >= hi {
			break
		}
		ok, err := try(mid)
		if err != nil {
			return 0, probes, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, probes, nil
}

// sustainedResult is the sustained end-to-end scenario's outcome.
type sustainedResult struct {
	Rate     float64
	Duration time.Duration
	Probes   []probeResult
	Sent     int
	Errors   int
	P50, P99 time.Duration
	// DeliveredRate is orders delivered per second at steady state: those
	// whose delivery fell after the warm-up and before the end of the
	// arrivals, over that span.
	DeliveredRate float64
	Warmup        time.Duration
	// BacklogEnd is the accepted orders not terminal when the arrivals
	// stopped; OpenAfterDrain those still open after the drain wait.
	BacklogEnd     int
	OpenAfterDrain int
	Delivered      int
	Rejected       int
	// DeliveryP50 and DeliveryP99 are the times from acceptance to
	// DELIVERED of the delivered orders.
	DeliveryP50, DeliveryP99 time.Duration
	// CPU is per delivered order, from the start of the arrivals until the
	// run's orders were all terminal (or the drain wait ended).
	CPU cpuCost
	// PeakRSS is each mesh process's peak resident set during the run.
	PeakRSS map[string]int64
	// RSSSinceStart says the peak could not be reset at the start, so it
	// is the peak since the process started.
	RSSSinceStart bool
	Profiles      []string
}

// steadyRate is deliveries per second between from and to.
func steadyRate(terminal []finished, from, to time.Time) float64 {
	if !to.After(from) {
		return 0
	}
	n := 0
	for _, f := range terminal {
		if f.Delivered && !f.At.Before(from) && !f.At.After(to) {
			n++
		}
	}
	return float64(n) / to.Sub(from).Seconds()
}

// percentile returns the p-th percentile of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

// summarize splits arrivals into the accepted orders (name and time) and
// the sorted latencies of the successful ones, and counts the errors.
func summarize(as []arrival) (names []string, at []time.Time, lat []time.Duration, errs int, first error) {
	for _, a := range as {
		if a.Err != nil {
			errs++
			if first == nil {
				first = a.Err
			}
			continue
		}
		names = append(names, a.Name)
		at = append(at, a.At)
		lat = append(lat, a.Latency)
	}
	slices.Sort(lat)
	return names, at, lat, errs, first
}

// terminalTimes returns when each finished order became terminal.
func terminalTimes(fs []finished) []time.Time {
	out := make([]time.Time, len(fs))
	for i, f := range fs {
		out[i] = f.At
	}
	return out
}
