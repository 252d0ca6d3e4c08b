package launcher

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Issue #13's fault scenarios 2, 4, 5 and 6 on the scale topology
// (TestScaleTopology). Each places its orders for a customer and a SKU no
// other scenario uses, with its own Idempotency-Keys, the way a storefront
// does: an answer that says "try again" (503 UNAVAILABLE, 429
// RATE_LIMITED, or 409 REQUEST_IN_PROGRESS while a killed replica's claim
// is still leased) is retried with the same key until the order is accepted. Afterwards each
// reads the stores: the customer's orders in the order database are
// exactly the accepted ones (none lost, none created twice), each reached
// the ERP exactly once, and the SKU's live reservations are exactly one
// per accepted order (none leaked).

// envSize is a size the suite reads from the environment (make chaos sets
// a larger one), def when unset.
func envSize(t *testing.T, name string, def, least int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		t.Fatalf("%s=%q: want a number of at least %d", name, v, least)
	}
	return n
}

// reasonRE finds the error reason in a gateway's error body.
var reasonRE = regexp.MustCompile(`"reason"\s*:\s*"([A-Z_]+)"`)

// answerOf names an answer for the tallies: "503 DEPENDENCY_UNAVAILABLE",
// "200", "transport error".
func answerOf(r orderResult, err error) string {
	if err != nil {
		return "transport error"
	}
	if m := reasonRE.FindStringSubmatch(r.body); m != nil {
		return strconv.Itoa(r.status) + " " + strings.TrimPrefix(m[1], "ERROR_REASON_")
	}
	return strconv.Itoa(r.status)
}

// retryable reports whether a storefront retries the answer with the same
// Idempotency-Key: UNAVAILABLE (503) and RATE_LIMITED (429, the gateway's
// per-customer order limit, which make chaos's 300 concurrent orders of
// one customer exceed) say so, and REQUEST_IN_PROGRESS (409) is the
// answer while another call, possibly one a killed replica was serving,
// holds the key's claim. A 500 INTERNAL is retried too (the key makes
// that safe), but the contract allows it in no scenario: the load's
// finish reports it (see strictUnavailable).
func retryable(r orderResult) bool {
	return r.status == http.StatusServiceUnavailable || r.status == http.StatusInternalServerError ||
		r.status == http.StatusTooManyRequests ||
		(r.status == http.StatusConflict && strings.Contains(r.body, "REQUEST_IN_PROGRESS"))
}

// retriedAsContracted are the retried answers the contract allows while a
// dependency or a replica is away, or under load.
func retriedAsContracted(answer string) bool {
	return strings.HasPrefix(answer, "503") || answer == "409 REQUEST_IN_PROGRESS" || answer == "429 RATE_LIMITED"
}

// placement is one order as a storefront places it, with its retries.
type placement struct {
	idem  string
	final orderResult
	// retried tallies the answers that were retried.
	retried map[string]int
	// err is why the order was never accepted, "" when it was.
	err string
}

// placeRetrying places a one-unit order, alternating the gateways from
// first, and retries a retryable answer with the same Idempotency-Key for
// up to 90 s. A broken connection is not retried: a gateway that stops
// drains its calls, so a client never sees one.
func placeRetrying(ctx context.Context, gateways []string, first int, idem, customer, sku string) placement {
	p := placement{idem: idem, retried: map[string]int{}}
	deadline := time.Now().Add(90 * time.Second)
	for i := first; ; i++ {
		r, err := tryOrder(ctx, gateways[i%len(gateways)], idem, customer, sku)
		switch {
		case err == nil && r.status == http.StatusOK:
			p.final = r
			return p
		case err != nil || !retryable(r):
			p.final = r
			p.err = answerOf(r, err) + ": " + strings.TrimSpace(r.body)
			if err != nil {
				p.err += err.Error()
			}
			return p
		case time.Now().After(deadline):
			p.err = "still " + answerOf(r, nil) + " after 90 s of retries"
			return p
		}
		p.retried[answerOf(r, nil)]++
		time.Sleep(200 * time.Millisecond)
	}
}

// load is a steady order (and optionally availability) load on the
// scale topology until stopped.
type load struct {
	stop chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	accepted []string // order names
	failed   []string // orders never accepted, with the last answer
	retried  map[string]int
	// availability tallies the availability answers; took are their
	// latencies, slowest the slowest of them.
	availability map[string]int
	took         []time.Duration
	slowest      time.Duration
	wrong        []string
	n            atomic.Int64 // accepted so far
}

// startLoad starts workers order placers for customer and sku (keys
// prefix-<worker>-<n>), and with availability one availability checker
// whose answers must all be 200 and price sku at unitPrice (when
// positive).
func (s *scaleSuite) startLoad(ctx context.Context, prefix, customer, sku string, workers int, availability bool, unitPrice int64) *load {
	l := &load{stop: make(chan struct{}), retried: map[string]int{}, availability: map[string]int{}}
	gateways := s.m.RESTURLs()
	for w := range workers {
		l.repeat(func(i int) {
			p := placeRetrying(ctx, gateways, w+i, fmt.Sprintf("%s-%d-%d", prefix, w, i), customer, sku)
			l.mu.Lock()
			defer l.mu.Unlock()
			for a, n := range p.retried {
				l.retried[a] += n
			}
			if p.err != "" {
				l.failed = append(l.failed, p.idem+": "+p.err)
				return
			}
			l.accepted = append(l.accepted, p.final.name)
			l.n.Add(1)
		})
	}
	if availability {
		l.repeat(func(i int) {
			// A new quantity each time: a quote the caches have not
			// seen, so every check reaches Redis.
			started := time.Now()
			a, err := checkAvailability(ctx, gateways[i%len(gateways)], customer, sku, int64(1+i%150))
			took := time.Since(started)
			l.mu.Lock()
			l.slowest = max(l.slowest, took)
			l.took = append(l.took, took)
			l.availability[answerOf(orderResult{status: a.status, body: a.body}, err)]++
			if err == nil && a.status == http.StatusOK && unitPrice > 0 && (a.unitPrice != unitPrice || a.stale) {
				l.wrong = append(l.wrong, fmt.Sprintf("unit price %d stale %v, want %d live", a.unitPrice, a.stale, unitPrice))
			}
			l.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		})
	}
	return l
}

// repeat runs fn(0), fn(1), ... in a goroutine of its own until the load
// stops.
func (l *load) repeat(fn func(i int)) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			default:
			}
			fn(i)
		}
	}()
}

// waitAccepted waits until at least n orders of the load were accepted.
func (l *load) waitAccepted(t *testing.T, n int64, what string) {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); l.n.Load() < n; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d orders accepted after 90 s, want %d", what, l.n.Load(), n)
		}
	}
}

// finish stops the load, waits for its workers and reports what it saw:
// every order must have been accepted, and every retried answer one the
// contract allows.
func (l *load) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	t.Logf("load: %d orders accepted; retried answers %v; availability answers %v (slowest %s)",
		len(l.accepted), l.retried, l.availability, l.slowest.Round(time.Millisecond))
	for _, f := range l.failed {
		t.Errorf("order never accepted: %s", f)
	}
	for a, n := range l.retried {
		if !retriedAsContracted(a) {
			t.Errorf("%d retried answers %q: want only 503 UNAVAILABLE (or 409 REQUEST_IN_PROGRESS, 429 RATE_LIMITED)", n, a)
		}
	}
	if len(l.wrong) > 0 {
		t.Errorf("%d wrong availability answers, e.g. %s", len(l.wrong), l.wrong[0])
	}
}

// assertAvailabilityServed checks the load's availability answers while
// a dependency was away: 200 (live, or the last snapshot marked stale), or
// a 503 the storefront retries; never a 500 or a broken connection.
func (l *load) assertAvailabilityServed(t *testing.T, during string) {
	t.Helper()
	for a, n := range l.availability {
		if a != "200" && !strings.HasPrefix(a, "503") {
			t.Errorf("availability answered %q %d times during %s; want 200 or 503", a, n, during)
		}
	}
}

// p99 is the 99th percentile of the availability answers' latencies.
func (l *load) p99() time.Duration {
	if len(l.took) == 0 {
		return 0
	}
	took := slices.Sorted(slices.Values(l.took))
	return took[(len(took)*99+99)/100-1] // nearest rank: ceil(0.99 n)
}

type availabilityResult struct {
	status    int
	body      string
	unitPrice int64
	stale     bool
}

// checkAvailability asks a gateway for qty of sku for customer.
func checkAvailability(ctx context.Context, base, customer, sku string, qty int64) (availabilityResult, error) {
	body, _ := json.Marshal(map[string]any{
		"customerId": customer, "currencyCode": "EUR",
		"lines":  []map[string]any{{"sku": sku, "quantity": qty}},
		"shipTo": map[string]any{"regionCode": "DE", "postalCode": "20457"},
	})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/availability:check", bytes.NewReader(body))
	if err != nil {
		return availabilityResult{}, err
	}
	req.Header.Set("Authorization", "Bearer "+DemoAPIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return availabilityResult{}, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	out := availabilityResult{status: resp.StatusCode, body: buf.String()}
	var parsed struct {
		Lines []struct {
			Stale     bool `json:"stale"`
			UnitPrice struct {
				AmountMinor json.Number `json:"amountMinor"`
			} `json:"unitPrice"`
		} `json:"lines"`
	}
	if resp.StatusCode == http.StatusOK && json.Unmarshal(buf.Bytes(), &parsed) == nil && len(parsed.Lines) == 1 {
		out.stale = parsed.Lines[0].Stale
		out.unitPrice, _ = parsed.Lines[0].UnitPrice.AmountMinor.Int64()
	}
	return out, nil
}

// assertOrdersExactly checks the order database: customer's orders are
// exactly the accepted ones (an order the client never heard of is one
// created twice; a missing one is lost).
func assertOrdersExactly(ctx context.Context, t *testing.T, pgAddr, customer string, accepted []string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, PostgresDSN(pgAddr, DatabaseName(Order)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT order_id FROM orders WHERE customer_id = $1`, customer)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, name := range accepted {
		want = append(want, strings.TrimPrefix(name, "orders/"))
	}
	slices.Sort(stored)
	slices.Sort(want)
	if !slices.Equal(stored, want) {
		extra := slices.DeleteFunc(slices.Clone(stored), func(id string) bool { return slices.Contains(want, id) })
		lost := slices.DeleteFunc(slices.Clone(want), func(id string) bool { return slices.Contains(stored, id) })
		t.Errorf("orders of %s in the order database: %d stored, %d accepted; never accepted: %v; lost: %v",
			customer, len(stored), len(want), extra, lost)
	}
}

// assertStoresAfter runs the checks every scenario ends with.
func (s *scaleSuite) assertStoresAfter(ctx context.Context, t *testing.T, customer, sku string, accepted []string) {
	t.Helper()
	if len(accepted) == 0 {
		t.Fatalf("no order of %s accepted", customer)
	}
	assertOrdersExactly(ctx, t, s.pg.Addr, customer, accepted)
	assertInERPOnce(ctx, t, s.m, accepted)
	assertNoReservationLeak(ctx, t, s.pg.Addr, sku, accepted, 60*time.Second)
}

// assertAllRunning checks that no process of the mesh exited: the
// services rode out the fault without a restart.
func (s *scaleSuite) assertAllRunning(t *testing.T) {
	t.Helper()
	for _, name := range s.m.order {
		p := s.m.Proc(name)
		_, done := p.current()
		select {
		case <-done:
			t.Errorf("%s exited (see %s)", name, p.LogPath)
		default:
		}
	}
}

// killMidBurst is scenario 2: a burst of orders (TRANSLOAD_SCALE_BURST,
// make chaos 300, else 30) through both gateways, during which one order
// replica and the NATS node leading the order stream are SIGKILLed and
// later restarted. No gateway's order breaker opens: the first order
// replica serves throughout, and breakers are per replica (a 503
// CIRCUIT_OPEN answer may still come from an order replica's own breaker
// of a neighbour, e.g. inventory's left open by an earlier scenario; the
// REST answer does not say whose, the gateways' breaker metrics do).
// Every order is accepted once a storefront retries it, exists once in
// the order database and reaches the ERP once, no reservation leaks,
// the order stream keeps all its messages on three current replicas
// and holds no event twice (the relays publish each event once beyond
// JetStream's dedupe window), and every durable consumer of it catches
// up.
func (s *scaleSuite) killMidBurst(ctx context.Context, t *testing.T) {
	const customer, sku = "C0005", "SKU-00102"
	m := s.m
	n := envSize(t, "TRANSLOAD_SCALE_BURST", 30, 10)
	js := s.jetStream(t)
	stream, err := js.Stream(ctx, "TRANSLOAD_ORDER")
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Cluster == nil || info.Cluster.Leader == "" {
		t.Fatalf("TRANSLOAD_ORDER has no leader: %+v", info.Cluster)
	}
	natsVictim, orderVictim := info.Cluster.Leader, ReplicaName(Order, 2)
	if !slices.Contains(m.Replicas(NATS), natsVictim) {
		t.Fatalf("stream leader %q is not a NATS node of the mesh", natsVictim)
	}
	msgsBefore := info.State.Msgs

	gateways := m.RESTURLs()
	orderBreakerOpened := func() float64 {
		var sum float64
		for _, gw := range m.Replicas(Gateway) {
			sum += metricSum(ctx, t, m.Proc(gw).AdminAddr, "transload_breaker_transitions_total{", `target="order"`, `to="open"`)
		}
		return sum
	}
	openedBefore := orderBreakerOpened()
	results := make([]placement, n)
	var answered atomic.Int64
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = placeRetrying(ctx, gateways, i, fmt.Sprintf("kill-burst-%d", i), customer, sku)
				answered.Add(1)
			}
		}()
	}
	go func() {
		defer close(next)
		for i := range n {
			next <- i
		}
	}()
	for answered.Load() < int64(n/4) {
		time.Sleep(20 * time.Millisecond)
	}
	m.Kill(orderVictim)
	m.Kill(natsVictim)
	t.Logf("SIGKILLed %s and %s (the order stream's leader) after %d of %d orders", orderVictim, natsVictim, answered.Load(), n)
	time.Sleep(2 * time.Second)
	if err := m.Restart(ctx, natsVictim); err != nil {
		t.Fatal(err)
	}
	if err := m.Restart(ctx, orderVictim); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted both after %d of %d orders", answered.Load(), n)
	wg.Wait()
	if opened := orderBreakerOpened() - openedBefore; opened > 0 {
		t.Errorf("the gateways' order breaker opened %v times while %s served", opened, ReplicaName(Order, 1))
	}

	var accepted []string
	retried := map[string]int{}
	for _, p := range results {
		for a, c := range p.retried {
			retried[a] += c
			if !retriedAsContracted(a) {
				t.Errorf("order %s: %d retried answers %q; want only 503 UNAVAILABLE (or 409 REQUEST_IN_PROGRESS, 429 RATE_LIMITED)", p.idem, c, a)
			}
		}
		if p.err != "" {
			t.Errorf("order %s never accepted: %s", p.idem, p.err)
			continue
		}
		accepted = append(accepted, p.final.name)
	}
	t.Logf("%d of %d orders accepted; retried answers %v", len(accepted), n, retried)
	s.assertStoresAfter(ctx, t, customer, sku, accepted)
	assertStreamIntact(ctx, t, js, "TRANSLOAD_ORDER", msgsBefore+uint64(len(accepted)))
}

// jetStream connects to the NATS cluster directly (not through the
// proxies) for the checks.
func (s *scaleSuite) jetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(s.m.natsURL(""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// assertStreamIntact checks a stream after a node was killed: it holds at
// least msgs messages on three replicas that are all current again, no
// event twice (Nats-Msg-Id is the event id; a reconciler's republish
// adds "/reconciled/..." to it), and every durable consumer of it catches
// up (nothing pending, nothing unacknowledged).
func assertStreamIntact(ctx context.Context, t *testing.T, js jetstream.JetStream, name string, msgs uint64) {
	t.Helper()
	stream, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	var info *jetstream.StreamInfo
	current := func() bool {
		if info, err = stream.Info(ctx); err != nil {
			t.Fatal(err)
		}
		if info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 {
			return false
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return false
			}
		}
		return info.State.Msgs >= msgs
	}
	for deadline := time.Now().Add(60 * time.Second); !current(); time.Sleep(250 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("%s after 60 s: %d messages (want at least %d), cluster %+v; want a leader and 2 current replicas",
				name, info.State.Msgs, msgs, info.Cluster)
			return
		}
	}

	// Every message's event id, read headers only.
	cons, err := js.OrderedConsumer(ctx, name, jetstream.OrderedConsumerConfig{HeadersOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	var twice []string
	for read := uint64(0); read < info.State.Msgs; {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			id, _, _ := strings.Cut(msg.Headers().Get(nats.MsgIdHdr), "/reconciled/")
			if seen[id]++; seen[id] == 2 {
				twice = append(twice, id)
			}
		}
		if batch.Error() != nil || got == 0 {
			t.Fatalf("reading %s: %d of %d messages read: %v", name, read, info.State.Msgs, batch.Error())
		}
		read += uint64(got)
	}
	if len(twice) > 0 {
		t.Errorf("%s holds %d events more than once: %v", name, len(twice), twice)
	}

	// Every durable consumer catches up.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		var behind []string
		list := stream.ListConsumers(ctx)
		for ci := range list.Info() {
			if ci.Config.Durable != "" && (ci.NumPending > 0 || ci.NumAckPending > 0) {
				behind = append(behind, fmt.Sprintf("%s (%d pending, %d unacknowledged)", ci.Name, ci.NumPending, ci.NumAckPending))
			}
		}
		if err := list.Err(); err != nil {
			t.Fatal(err)
		}
		if len(behind) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("consumers of %s still behind after 60 s: %v", name, behind)
			return
		}
	}
}

// redisPartition is scenario 4: Redis is cut away (its proxy stopped:
// connections refused, open ones closed) during availability and order
// load. The caches are best effort (platform/cache: a Redis outage costs
// recomputation), so the contract allows no 5xx at all while pricing and
// inventory answer: every availability check answers 200 with the live
// price (not stale), and every order is accepted. The partition is felt
// (the gateways' or catalog-pricing's cache errors or open Redis breaker),
// and after the proxy is back the caches recover: every Redis breaker
// closes and new quotes are written to Redis again.
func (s *scaleSuite) redisPartition(ctx context.Context, t *testing.T) {
	const customer, sku = "C0006", "SKU-00103"
	gateways := s.m.RESTURLs()
	// Live answers through both gateways first: a breaker an earlier
	// scenario opened serves stale answers until its next trial call.
	var healthy availabilityResult
	for i, live, deadline := 0, 0, time.Now().Add(30*time.Second); live < len(gateways); i++ {
		var err error
		healthy, err = checkAvailability(ctx, gateways[i%len(gateways)], customer, sku, 1)
		if err == nil && healthy.status == http.StatusOK && healthy.unitPrice > 0 && !healthy.stale {
			live++ // one more gateway in a row answered live
			continue
		}
		live = 0
		if time.Now().After(deadline) {
			t.Fatalf("no live availability answer before the partition: %d %s %v", healthy.status, healthy.body, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	cachers := slices.Concat(s.m.Replicas(Gateway), s.m.Replicas(Catalog))
	cacheTrouble := func() (errs, open float64) {
		for _, name := range cachers {
			addr := s.m.Proc(name).AdminAddr
			errs += metricSum(ctx, t, addr, "transload_cache_errors_total")
			if metricSum(ctx, t, addr, "transload_cache_breaker_state", `store="redis"`) == 2 {
				open++
			}
		}
		return errs, open
	}
	errsBefore, _ := cacheTrouble()
	// The same load on the healthy mesh first: the latency baseline.
	base := s.startLoad(ctx, "redis-base", customer, sku, 2, true, healthy.unitPrice)
	base.waitAccepted(t, 6, "before the Redis partition")
	time.Sleep(2 * time.Second)
	base.finish(t)

	proxy := s.tox.get(t, "redis")
	proxy.Stop()
	t.Cleanup(func() { _ = proxy.Start() }) // ErrProxyAlreadyStarted once healed
	l := s.startLoad(ctx, "redis-cut", customer, sku, 2, true, healthy.unitPrice)
	l.waitAccepted(t, 6, "during the Redis partition")
	time.Sleep(2 * time.Second)
	l.finish(t)
	if errs, open := cacheTrouble(); errs == errsBefore && open == 0 {
		t.Errorf("no cache error and no open Redis breaker in %v during the partition: Redis was not in use", cachers)
	}
	for a := range l.availability {
		if a != "200" {
			t.Errorf("availability answered %q during the Redis partition; want only 200", a)
		}
	}
	t.Logf("availability p99 %s during the Redis partition, %s on the healthy mesh just before (%d and %d answers)",
		l.p99().Round(time.Millisecond), base.p99().Round(time.Millisecond), len(l.took), len(base.took))
	if l.slowest > 5*time.Second {
		t.Errorf("slowest availability answer during the Redis partition took %s; want the cache's op timeout, not a hang", l.slowest)
	}

	// Heal; new quotes reach Redis again and every breaker closes.
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	keysAtHeal := redisKeys(t, s.redis.Addr())
	for i, deadline := 0, time.Now().Add(60*time.Second); ; i++ {
		a, err := checkAvailability(ctx, gateways[i%2], customer, sku, int64(200+i))
		if err != nil || a.status != http.StatusOK {
			t.Fatalf("availability after the partition: %d %s %v", a.status, a.body, err)
		}
		_, open := cacheTrouble()
		closed := true
		for _, name := range cachers {
			closed = closed && metricSum(ctx, t, s.m.Proc(name).AdminAddr, "transload_cache_breaker_state", `store="redis"`) == 0
		}
		if open == 0 && closed && redisKeys(t, s.redis.Addr()) > keysAtHeal {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("caches not recovered 60 s after Redis came back: %v open Redis breakers, %d keys (%d at heal)",
				open, redisKeys(t, s.redis.Addr()), keysAtHeal)
		}
		time.Sleep(250 * time.Millisecond)
	}
	s.assertStoresAfter(ctx, t, customer, sku, slices.Concat(base.accepted, l.accepted))
}

// redisKeys is DBSIZE of the Redis server at addr (asked directly, in
// RESP).
func redisKeys(t *testing.T, addr string) int64 {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("DBSIZE\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, ":") {
		t.Fatalf("DBSIZE: %q %v", line, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(line[1:]), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// postgresRestart is scenario 5: the PostgreSQL cluster is stopped (fast
// shutdown) and started again, as the postgres user, under order and
// availability load. No service restarts; a retry with the same
// Idempotency-Key succeeds once PostgreSQL is back; every acknowledged
// order survives (the stores check). Calls that hit the outage are
// answered 503 UNAVAILABLE (DEPENDENCY_UNAVAILABLE, target database:
// sqldb.FallbackStatus), never 500.
func (s *scaleSuite) postgresRestart(ctx context.Context, t *testing.T) {
	const customer, sku = "C0007", "SKU-00104"
	_, portText, err := net.SplitHostPort(s.pg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portText)
	l := s.startLoad(ctx, "pg-restart", customer, sku, 4, true, 0)
	l.waitAccepted(t, 4, "before the PostgreSQL restart")
	if err := s.pg.Stop(); err != nil {
		t.Fatal(err)
	}
	down := l.n.Load()
	time.Sleep(2 * time.Second)
	if s.pg, err = StartPostgres(ctx, s.pg.Dir, port, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL restarted after %d orders", down)
	l.waitAccepted(t, down+8, "after the PostgreSQL restart")
	l.finish(t)
	l.assertAvailabilityServed(t, "the PostgreSQL restart")
	s.assertAllRunning(t)
	s.assertStoresAfter(ctx, t, customer, sku, l.accepted)
}

// rollingRestart is scenario 6: every service process, one replica at a
// time, is stopped as an orchestrator does (SIGTERM, it drains) and
// started again, under steady order and availability load. No request
// fails beyond a 503 UNAVAILABLE that the same Idempotency-Key's retry
// fixes, and nothing is lost (the stores check). The simulators and the
// NATS nodes are not services of the deployment and keep running.
func (s *scaleSuite) rollingRestart(ctx context.Context, t *testing.T) {
	const customer, sku = "C0008", "SKU-00105"
	l := s.startLoad(ctx, "rolling", customer, sku, 4, true, 0)
	l.waitAccepted(t, 4, "before the rolling restart")
	var restarted []string
	for _, name := range s.m.order {
		if svc := Service(name); svc == NATS || svc == ERPSim || svc == WMSSim {
			continue
		}
		s.m.Terminate(name)
		if err := s.m.Restart(ctx, name); err != nil {
			l.finish(t)
			t.Fatal(err)
		}
		restarted = append(restarted, name)
	}
	t.Logf("restarted one at a time: %s", strings.Join(restarted, ", "))
	l.waitAccepted(t, l.n.Load()+4, "after the rolling restart")
	l.finish(t)
	l.assertAvailabilityServed(t, "the rolling restart")
	s.assertStoresAfter(ctx, t, customer, sku, l.accepted)
}
