// Command transload-bench is the load harness behind `make bench`. In one
// run on one machine it measures baselines and Transload's own paths, and
// writes the figures with their ratios to a Markdown results file:
//
//	(a)  raw grpc-gateway REST→gRPC echo (an in-process health check behind a gateway mux)
//	(a2) the same echo plus one Redis GET (the REST→gRPC→Redis anchor)
//	(b)  raw durable SQLite transaction shaped like an order
//	     (order row, 3 lines, 3 reservation rows, 1 outbox row)
//	(c)  checkout availability through Transload's REST API, hot cache
//	(d)  order placement through Transload's REST API, durable commits
//
// Each runs at concurrency 1 and 16. The harness is written in Go and
// drives the load from its own process: a separate load tool would compete
// for the same two cores and under-report.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/transload/transload/deploy/local/launcher"
	"github.com/transload/transload/platform/sqldb"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	// Not deferred: os.Exit skips deferred calls.
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "transload-bench:", err)
		os.Exit(1)
	}
}

// result is one measured scenario at one concurrency.
type result struct {
	Name        string
	Concurrency int
	Requests    int
	Errors      int
	RPS         float64
	P50, P99    time.Duration
	// CPU is per successful request.
	CPU cpuCost
}

// flags are the harness's command-line settings.
type flags struct {
	bin, out, goBench, profile string
	dur, sustained, probe      time.Duration
	startRate, maxRate         float64
	// rate, when positive, is the sustained run's arrival rate without a
	// rate search (-rate): two runs at one rate compare memory and CPU.
	rate                      float64
	drainOrders, freshChanges int
	webhookEvents             int
	priceChanges              int
	// postgres runs only the PostgreSQL scenarios (runPostgres); scale
	// runs them on the scale topology (implies postgres).
	postgres, scale bool
}

func parseFlags(args []string) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("transload-bench", flag.ContinueOnError)
	fs.StringVar(&f.bin, "bin", "bin", "folder with the built binaries")
	fs.StringVar(&f.out, "out", "docs/benchmarks.md", "results file to write")
	fs.StringVar(&f.goBench, "gobench", "", "optional `go test -bench` output of the platform benchmarks to include")
	fs.StringVar(&f.profile, "profile", "", "save a CPU profile of every mesh process during the sustained run into this `dir` (starts the mesh with PPROF_ENABLED=true)")
	fs.DurationVar(&f.dur, "duration", 8*time.Second, "measuring time per request scenario and concurrency")
	fs.DurationVar(&f.sustained, "sustained", 60*time.Second, "length of the sustained end-to-end run (0 skips it and its rate search)")
	fs.DurationVar(&f.probe, "probe", 10*time.Second, "length of each rate-search probe")
	fs.Float64Var(&f.startRate, "start-rate", 20, "first arrival rate (orders/s) the rate search tries")
	fs.Float64Var(&f.rate, "rate", 0, "arrival rate (orders/s) of the sustained run; 0 searches the highest bounded rate first")
	fs.Float64Var(&f.maxRate, "max-rate", 500, "highest arrival rate (orders/s) the rate search tries")
	fs.IntVar(&f.drainOrders, "drain-orders", 10000, "orders queued while the ERP is down for the backlog-drain scenario (0 skips it)")
	fs.IntVar(&f.freshChanges, "freshness-changes", 20, "ERP stock changes timed to storefront availability (0 skips it)")
	fs.IntVar(&f.webhookEvents, "webhook-events", 1000, "shipment events timed from the shipment change to a local webhook receiver (0 skips it)")
	fs.IntVar(&f.priceChanges, "price-changes", 20, "ERP price changes (erpsim POST /control/prices) timed to the storefront quote and availability (0 skips it)")
	fs.BoolVar(&f.postgres, "postgres", false, "run the PostgreSQL scenarios instead (make bench-postgres): the mesh on a local PostgreSQL cluster as transload-run -postgres starts it, the raw order transaction on the same cluster, availability and order placement at c=16 and c=64")
	fs.BoolVar(&f.scale, "scale", false, "with -postgres (implied): the scale topology of transload-run -scale (three NATS nodes, two replicas of catalog-pricing, inventory, order, fulfillment and the gateway), the load spread over both gateways")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if f.dur <= 0 || f.probe <= 0 || f.sustained < 0 || f.startRate <= 0 || f.maxRate < f.startRate || f.rate < 0 || f.drainOrders < 0 || f.freshChanges < 0 || f.webhookEvents < 0 || f.priceChanges < 0 {
		return f, errors.New("-duration and -probe must be positive, -sustained, -drain-orders, -freshness-changes and -rate not negative, and 0 < -start-rate ≤ -max-rate")
	}
	return f, nil
}

// simulators are the mesh processes that stand in for external systems
// (the ERP and the WMS): their CPU is shown but not counted in Transload's
// totals, as a real ERP's would not be.
var simulators = map[string]bool{launcher.ERPSim: true, launcher.WMSSim: true}

// benchEnv is what the bench mesh's processes run with beyond the
// launcher's defaults (docs/benchmarks.md explains each).
var benchEnv = map[string][]string{
	// The harness measures capacity, not the rate-limit policies: 0 turns
	// off both the per-key limit and the per-customer order limit (50/s,
	// burst 100 by default), which the order load's ten customers
	// (orderCustomers) would otherwise hit at 500 orders/s in aggregate.
	launcher.Gateway: {"RATE_LIMIT_RPS=0", "ORDER_RATE_LIMIT_PER_CUSTOMER=0"},
	// A shipment passes its four milestones in 200ms, not 8s: the
	// simulator stands in for a warehouse, whose pace is not Transload's.
	launcher.WMSSim: {"WMSSIM_STEP=50ms"},
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	began := time.Now()
	f, err := parseFlags(args)
	if err != nil {
		return err
	}
	if f.postgres || f.scale {
		return runPostgres(ctx, f, stdout)
	}
	work, err := os.MkdirTemp("", "transload-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	redisAddr, redisPID, stopRedis, err := startRedis(work)
	if err != nil {
		return err
	}
	defer stopRedis()

	var rep report
	levels := []int{1, 16}
	self := os.Getpid()
	// The in-process baselines: the harness is the server there.
	inProc := cpuWatch{pids: map[string]int{harnessProc: self}, counted: map[string]bool{harnessProc: true}}
	if redisPID != 0 {
		inProc.pids[redisProc], inProc.counted[redisProc] = redisPID, true
	}

	// (a) and (a2): raw gateway echo, with and without a Redis GET.
	echoURL, stopEcho, err := startEcho(redisAddr)
	if err != nil {
		return err
	}
	for _, c := range levels {
		rep.Results = append(rep.Results, measureCPU(ctx, inProc, "a: raw REST→gRPC echo", c, f.dur, func(int, int) error {
			return get(echoURL + "/echo")
		}))
		if redisAddr != "" {
			rep.Results = append(rep.Results, measureCPU(ctx, inProc, "a2: REST→gRPC→Redis anchor", c, f.dur, func(int, int) error {
				return get(echoURL + "/echo?redis=1")
			}))
		}
	}
	stopEcho()

	// (b) and (b2): raw durable SQLite order-shaped transaction, one
	// transaction per call and then group-committed (the sqldb default).
	for _, raw := range []struct {
		name, file string
		opts       []sqldb.Option
	}{
		{"b: raw SQLite order tx, single transaction", "raw.db", []sqldb.Option{sqldb.WithGroupCommit(1)}},
		{"b2: raw SQLite order tx, group commit", "raw-group.db", nil},
	} {
		rs, err := measureRawTx(ctx, inProc, raw.name, "sqlite://"+filepath.Join(work, raw.file), raw.opts, levels, f.dur)
		if err != nil {
			return err
		}
		rep.Results = append(rep.Results, rs...)
	}

	// (c), (d) and the sustained run: Transload's REST API on the real mesh.
	dataDir := filepath.Join(work, "mesh")
	cfg := launcher.Config{BinDir: f.bin, DataDir: dataDir, FreePorts: true, RedisAddr: redisAddr, ExtraEnv: benchEnv}
	if f.profile != "" {
		cfg.Env = []string{"PPROF_ENABLED=true"}
	}
	mesh, err := launcher.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer mesh.Stop()
	base := mesh.RESTURL()
	meshWatch := cpuWatch{pids: mesh.PIDs(), counted: map[string]bool{}}
	for name := range meshWatch.pids {
		meshWatch.counted[name] = !simulators[name]
	}
	rep.Procs = slices.Clone(launcher.StartOrder)
	if redisPID != 0 {
		meshWatch.pids[redisProc], meshWatch.counted[redisProc] = redisPID, true
		rep.Procs = append(rep.Procs, redisProc)
	}
	meshWatch.pids[harnessProc] = self
	rep.Procs = append(rep.Procs, harnessProc)

	if err := topUpStock(ctx, base, "http://"+mesh.Proc(launcher.ERPSim).AdminAddr, orderSKUs, orderStock); err != nil {
		return fmt.Errorf("order load: %w", err)
	}
	// The mesh at rest: what its tickers and pollers cost per second, the
	// fixed part of every CPU-per-unit figure below.
	idle := meshWatch.snapshot()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(idleWindow):
	}
	rep.Idle = meshWatch.perUnit(cpuDelta(idle, meshWatch.snapshot()), int(idleWindow/time.Second))
	availBody := `{"customerId":"C0001","currencyCode":"EUR","shipTo":{"regionCode":"DE","postalCode":"20457"},"lines":[{"sku":"SKU-00041","quantity":1},{"sku":"SKU-00042","quantity":1},{"sku":"SKU-00043","quantity":1}]}`
	for _, c := range levels {
		_ = post(base+"/v1/availability:check", availBody, "") // warm the cache
		rep.Results = append(rep.Results, measureCPU(ctx, meshWatch, "c: REST availability (hot cache)", c, f.dur, func(int, int) error {
			return post(base+"/v1/availability:check", availBody, "")
		}))
	}
	tracker := newOrderTracker(base, time.Now())
	var orderSeq atomic.Int64
	place := func(ctx context.Context) (string, error) {
		name, err := placeOrder(ctx, base, int(orderSeq.Add(1)))
		if err == nil {
			tracker.accept(name, time.Now())
		}
		return name, err
	}
	for _, c := range levels {
		rep.Results = append(rep.Results, measureCPU(ctx, meshWatch, "d: REST order placement", c, f.dur, func(int, int) error {
			_, err := place(ctx)
			return err
		}))
	}

	if f.sustained > 0 {
		s, notes, err := runSustained(ctx, f, mesh, meshWatch, tracker, place)
		if err != nil {
			return err
		}
		rep.Sustained, rep.Notes = &s, append(rep.Notes, notes...)
	}
	if f.freshChanges > 0 {
		fr, err := measureFreshness(ctx, mesh, f.freshChanges)
		if err != nil {
			rep.Notes = append(rep.Notes, "Freshness not measured: "+err.Error())
		} else {
			rep.Freshness = &freshnessFigures{Samples: fr.N, P50: fr.P50, P99: fr.P99, Detail: fr.String()}
		}
	}
	if f.webhookEvents > 0 {
		wr, err := measureWebhooks(ctx, mesh, f.webhookEvents)
		if err != nil {
			rep.Notes = append(rep.Notes, "Webhooks not measured: "+err.Error())
		} else {
			rep.Notes = append(rep.Notes, wr.String())
		}
	}
	if f.drainOrders > 0 {
		dr, err := measureBacklogDrain(ctx, mesh, f.drainOrders)
		if err != nil {
			rep.Notes = append(rep.Notes, "Backlog drain not measured: "+err.Error())
		} else {
			rep.Drain = &drainFigures{Orders: dr.Orders, Rate: dr.Rate, Detail: dr.String()}
		}
	}
	if f.priceChanges > 0 {
		pr, err := measurePricePropagation(ctx, mesh, f.priceChanges)
		if err != nil {
			rep.Notes = append(rep.Notes, "Price propagation not measured: "+err.Error())
		} else {
			rep.Notes = append(rep.Notes, pr.String())
		}
	}
	// Issue #11's quote scenario publishes rules of every kind on SKUs of its
	// own, so it runs after the order scenarios whose prices it must not move.
	catalogDial, err := mesh.DialOptions(launcher.Catalog)
	if err != nil {
		return err
	}
	qr, qnotes, err := runQuoteScenario(ctx, mesh.Proc(launcher.Catalog).GRPCAddr, levels, f.dur, meshWatch, catalogDial...)
	if err != nil {
		rep.Notes = append(rep.Notes, "Quote scenario not measured: "+err.Error())
	} else {
		rep.Results, rep.Notes = append(rep.Results, qr...), append(rep.Notes, qnotes...)
	}
	// The stores are read once all load has stopped: the launcher keeps
	// each service's SQLite file as <DataDir>/<process>.db.
	dsn := func(name string) string { return "sqlite://" + filepath.Join(dataDir, name+".db") }
	if o, err := checkOversoldStores(ctx, dsn(launcher.Inventory), dsn(launcher.Order)); err != nil {
		rep.OversoldErr = err
	} else {
		rep.Oversold = &o
	}
	if f.goBench != "" {
		b, err := os.ReadFile(f.goBench)
		if err != nil {
			return err
		}
		rep.Platform = platformRatios(string(b))
	}
	rep.Elapsed = time.Since(began)
	text := render(rep)
	if err := os.WriteFile(f.out, []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Fprint(stdout, text)
	if rep.Oversold != nil && rep.Oversold.Count > 0 {
		return fmt.Errorf("the stores show oversell after the load: %s", rep.Oversold.String())
	}
	return nil
}

// measureCPU runs measure and adds the CPU every watched process used per
// successful request.
func measureCPU(ctx context.Context, w cpuWatch, name string, conc int, d time.Duration, fn func(worker, i int) error) result {
	before := w.snapshot()
	r := measure(ctx, name, conc, d, fn)
	r.CPU = w.perUnit(cpuDelta(before, w.snapshot()), r.Requests)
	return r
}

// idleWindow is how long the harness watches the mesh at rest.
const idleWindow = 5 * time.Second

// followEvery is how often the order follower lists the terminal orders.
const followEvery = 500 * time.Millisecond

// drainWait bounds each wait for placed orders to reach a terminal state.
const drainWait = 30 * time.Second

// runSustained waits for the orders of (d) to finish, searches the highest
// bounded arrival rate and runs the sustained scenario at it.
func runSustained(ctx context.Context, f flags, mesh *launcher.Mesh, w cpuWatch, tracker *orderTracker,
	place func(context.Context) (string, error)) (sustainedResult, []string, error) {
	var notes []string
	followCtx, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	go tracker.follow(followCtx, followEvery)
	if open := tracker.waitDone(ctx, 2*drainWait); open > 0 {
		notes = append(notes, fmt.Sprintf("%d orders of scenario d were not terminal %s after it; the rate search started with them in the mesh.", open, 2*drainWait))
	}
	fn := func(ctx context.Context, _ int) (string, error) { return place(ctx) }
	if f.rate > 0 {
		notes = append(notes, fmt.Sprintf("The sustained run used -rate %.0f/s, without a rate search.", f.rate))
		return sustainedRun(ctx, mesh, w, tracker, f.rate, f.sustained, f.profile, fn), notes, nil
	}
	rate, probes, err := searchRate(f.startRate, f.maxRate, 2, func(rate float64) (probeResult, error) {
		p := probeRun(ctx, tracker, rate, f.probe, fn)
		fmt.Fprintf(os.Stderr, "transload-bench: probe %.0f orders/s: sent %d, errors %d, p99 %s, backlog %d → %d, bounded %v\n",
			rate, p.Sent, p.Errors, p.P99, p.BacklogMid, p.BacklogEnd, p.Bounded)
		if open := tracker.waitDone(ctx, drainWait); open > 0 {
			fmt.Fprintf(os.Stderr, "transload-bench: %d orders still open %s after the probe\n", open, drainWait)
		}
		return p, ctx.Err()
	})
	if err != nil {
		return sustainedResult{}, notes, err
	}
	if rate == 0 {
		rate = math.Max(1, math.Round(f.startRate/4))
		notes = append(notes, fmt.Sprintf("No probe rate stayed bounded (the lowest tried was %.0f/s); the sustained run used %.0f/s.", f.startRate, rate))
	}
	s := sustainedRun(ctx, mesh, w, tracker, rate, f.sustained, f.profile, fn)
	s.Probes = probes
	if s.DeliveryP50 > f.probe/2 {
		notes = append(notes, fmt.Sprintf("An order took %s (p50) from acceptance to DELIVERED, more than half a probe (%s): the probes' second halves began before the pipeline had filled, so the rate search may have judged a sustainable rate unbounded; use a longer -probe.",
			fmtDur(s.DeliveryP50), f.probe))
	}
	return s, notes, nil
}

// probeRun places orders at rate for d and reports how the backlog behind
// acceptance moved.
func probeRun(ctx context.Context, tracker *orderTracker, rate float64, d time.Duration, fn func(context.Context, int) (string, error)) probeResult {
	start := time.Now()
	as := openLoop(ctx, rate, d, fn)
	names, at, lat, errs, first := summarize(as)
	if first != nil {
		fmt.Fprintf(os.Stderr, "transload-bench: probe %.0f/s: %d errors, first: %v\n", rate, errs, first)
	}
	settle(ctx, tracker)
	done := terminalTimes(tracker.outcome(names))
	p := probeResult{Rate: rate, Duration: d, Sent: len(as), Errors: errs, P99: percentile(lat, 99),
		BacklogMid: backlogAt(at, done, start.Add(d/2)), BacklogEnd: backlogAt(at, done, start.Add(d))}
	p.Bounded = isBounded(p)
	return p
}

// settle makes the tracker read every order that was terminal by now: it
// waits out the commit slack and polls once.
func settle(ctx context.Context, tracker *orderTracker) {
	select {
	case <-ctx.Done():
	case <-time.After(followOverlap):
	}
	if err := tracker.poll(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "transload-bench: follow orders:", err)
	}
}

// sustainedRun places orders at rate for d, follows them to a terminal
// state and accounts CPU and peak memory.
func sustainedRun(ctx context.Context, mesh *launcher.Mesh, w cpuWatch, tracker *orderTracker, rate float64, d time.Duration,
	profileDir string, fn func(context.Context, int) (string, error)) sustainedResult {
	s := sustainedResult{Rate: rate, Duration: d, Warmup: min(10*time.Second, d/4), PeakRSS: map[string]int64{}}
	meshPIDs := mesh.PIDs()
	for _, pid := range meshPIDs {
		if err := resetPeakRSS(pid); err != nil {
			s.RSSSinceStart = true
		}
	}
	before := w.snapshot()
	start := time.Now()
	var profiles sync.WaitGroup
	if profileDir != "" {
		profiles.Add(1)
		go func() {
			defer profiles.Done()
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.Warmup):
			}
			s.Profiles = saveProfiles(ctx, mesh, profileDir, max(1, int((d-s.Warmup).Seconds())))
		}()
	}
	as := openLoop(ctx, rate, d, fn)
	end := start.Add(d)
	names, at, lat, errs, first := summarize(as)
	if first != nil {
		fmt.Fprintf(os.Stderr, "transload-bench: sustained: %d errors, first: %v\n", errs, first)
	}
	s.Sent, s.Errors, s.P50, s.P99 = len(as), errs, percentile(lat, 50), percentile(lat, 99)
	settle(ctx, tracker)
	s.BacklogEnd = backlogAt(at, terminalTimes(tracker.outcome(names)), end)
	tracker.waitDone(ctx, drainWait)
	delta := cpuDelta(before, w.snapshot())
	for name, pid := range meshPIDs {
		if v, err := procPeakRSS(pid); err == nil {
			s.PeakRSS[name] = v
		}
	}
	fs := tracker.outcome(names)
	for _, x := range fs {
		if x.Delivered {
			s.Delivered++
		} else {
			s.Rejected++
		}
	}
	s.OpenAfterDrain = len(names) - len(fs)
	s.DeliveredRate = steadyRate(fs, start.Add(s.Warmup), end)
	dt := tracker.deliveryTimes(names)
	s.DeliveryP50, s.DeliveryP99 = percentile(dt, 50), percentile(dt, 99)
	s.CPU = w.perUnit(delta, s.Delivered)
	profiles.Wait()
	return s
}

// saveProfiles fetches a CPU profile of seconds from every mesh process's
// admin listener at once and writes each to dir/<process>.cpu.pprof; it
// returns the files written. A process without pprof is reported and
// skipped.
func saveProfiles(ctx context.Context, mesh *launcher.Mesh, dir string, seconds int) []string {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "transload-bench: profiles:", err)
		return nil
	}
	var mu sync.Mutex
	var files []string
	var wg sync.WaitGroup
	for _, name := range launcher.StartOrder {
		admin := mesh.Proc(name).AdminAddr
		if admin == "" {
			continue // NATS has no admin listener
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := filepath.Join(dir, name+".cpu.pprof")
			if err := fetchProfile(ctx, "http://"+admin, seconds, path); err != nil {
				fmt.Fprintf(os.Stderr, "transload-bench: profile of %s: %v\n", name, err)
				return
			}
			mu.Lock()
			files = append(files, path)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(files)
	return files
}

func fetchProfile(ctx context.Context, admin string, seconds int, path string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds)*time.Second+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", admin, seconds), nil)
	if err != nil {
		return err
	}
	// Not client: its timeout is shorter than a profile.
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// measure runs fn from `conc` workers for d and returns throughput and
// latency percentiles. Errors count but are not timed.
func measure(ctx context.Context, name string, conc int, d time.Duration, fn func(worker, i int) error) result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			for i := 0; ctx.Err() == nil; i++ {
				t0 := time.Now()
				if err := fn(w, i); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	r := result{Name: name, Concurrency: conc, Requests: len(lat), Errors: int(errs.Load()), RPS: float64(len(lat)) / elapsed.Seconds()}
	if len(lat) > 0 {
		r.P50 = lat[len(lat)*50/100]
		r.P99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	if e := firstErr.Load(); e != nil {
		fmt.Fprintf(os.Stderr, "transload-bench: %s c=%d: %d errors, first: %v\n", name, conc, r.Errors, e)
	}
	return r
}

var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func get(url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	return drain(resp)
}

func post(url, body, idem string) error {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+launcher.DemoAPIKey)
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	return drain(resp)
}

func drain(resp *http.Response) error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
	}
	return nil
}

// startEcho serves GET /echo through a grpc-gateway mux that calls a gRPC
// health Check over loopback (the raw REST→gRPC path); ?redis=1 adds one
// Redis GET inside the gRPC handler.
func startEcho(redisAddr string) (string, func(), error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := grpc.NewServer()
	var rdb *redis.Client
	if redisAddr != "" {
		rdb = redis.NewClient(&redis.Options{Addr: redisAddr})
		if err := rdb.Set(context.Background(), "bench:echo", "x", 0).Err(); err != nil {
			return "", nil, err
		}
	}
	healthpb.RegisterHealthServer(srv, &echoHealth{Server: health.NewServer(), rdb: rdb})
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return "", nil, err
	}
	hc := healthpb.NewHealthClient(conn)
	mux := gwruntime.NewServeMux()
	err = mux.HandlePath(http.MethodGet, "/echo", func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		svc := ""
		if r.URL.Query().Get("redis") == "1" {
			svc = "redis"
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			gwruntime.HTTPError(ctx, mux, &gwruntime.JSONPb{}, w, r, err)
			return
		}
		gwruntime.ForwardResponseMessage(ctx, mux, &gwruntime.JSONPb{}, w, r, resp)
	})
	if err != nil {
		return "", nil, err
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(hl) }()
	return "http://" + hl.Addr().String(), func() {
		_ = hs.Close()
		conn.Close()
		srv.Stop()
		if rdb != nil {
			rdb.Close()
		}
	}, nil
}

// echoHealth answers Check, reading one Redis key for service "redis".
type echoHealth struct {
	*health.Server
	rdb *redis.Client
}

func (e *echoHealth) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if req.GetService() == "redis" && e.rdb != nil {
		if err := e.rdb.Get(ctx, "bench:echo").Err(); err != nil {
			return nil, err
		}
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

// measureRawTx opens dsn, creates the raw schema and measures rawOrderTx
// at each concurrency of levels for d.
func measureRawTx(ctx context.Context, w cpuWatch, name, dsn string, opts []sqldb.Option, levels []int, d time.Duration) ([]result, error) {
	db, err := sqldb.Open(ctx, dsn, opts...)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := createRawSchema(ctx, db); err != nil {
		return nil, err
	}
	var seq atomic.Int64
	var rs []result
	for _, c := range levels {
		rs = append(rs, measureCPU(ctx, w, name, c, d, func(int, int) error {
			return rawOrderTx(ctx, db, seq.Add(1))
		}))
	}
	return rs, nil
}

// createRawSchema creates the raw order-shaped tables on SQLite or
// PostgreSQL (the -postgres run; its payload column is BYTEA).
func createRawSchema(ctx context.Context, db *sqldb.DB) error {
	schema := rawSchema
	if db.Dialect() == sqldb.Postgres {
		schema = strings.ReplaceAll(schema, "BLOB", "BYTEA")
	}
	_, err := db.SQL().ExecContext(ctx, schema)
	return err
}

const rawSchema = `
CREATE TABLE orders (id TEXT PRIMARY KEY, request_id TEXT UNIQUE, customer_id TEXT, state TEXT, total_minor INTEGER, currency TEXT, created_at TEXT);
CREATE TABLE order_lines (order_id TEXT, line INTEGER, sku TEXT, quantity INTEGER, unit_minor INTEGER, PRIMARY KEY (order_id, line));
CREATE TABLE reservations (id TEXT PRIMARY KEY, order_id TEXT, sku TEXT, warehouse TEXT, quantity INTEGER);
CREATE TABLE outbox (event_id TEXT PRIMARY KEY, aggregate_id TEXT, seq INTEGER, subject TEXT, payload BLOB, created_at TEXT);`

// rawOrderTx writes one order-shaped transaction with no service logic.
func rawOrderTx(ctx context.Context, db *sqldb.DB, n int64) error {
	id := fmt.Sprintf("o-%d", n)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	return db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO orders VALUES (?,?,?,?,?,?,?)`), id, "r-"+id, "C0001", "ACCEPTED", 3897, "EUR", now); err != nil {
			return err
		}
		for i := range 3 {
			sku := fmt.Sprintf("SKU-%05d", i+1)
			if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO order_lines VALUES (?,?,?,?,?)`), id, i, sku, 1, 1299); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO reservations VALUES (?,?,?,?,?)`), fmt.Sprintf("%s-%d", id, i), id, sku, "WH-HAM", 1); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO outbox VALUES (?,?,?,?,?,?)`), "e-"+id, id, 1, "transload.order.accepted", bytes.Repeat([]byte{1}, 256), now)
		return err
	})
}

// startRedis starts a Redis server for the run and returns its address
// and process id; without redis-server on the PATH it returns "" and 0.
func startRedis(dir string) (string, int, func(), error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		fmt.Fprintln(os.Stderr, "transload-bench: redis-server not found; (a2) skipped and services use in-process caches")
		return "", 0, func() {}, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", fmt.Sprint(port), "--save", "", "--appendonly", "no", "--dir", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return "", 0, nil, errors.New("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, cmd.Process.Pid, func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }, nil
}

func find(rs []result, prefix string, conc int) (result, bool) {
	for _, r := range rs {
		if strings.HasPrefix(r.Name, prefix) && r.Concurrency == conc {
			return r, true
		}
	}
	return result{}, false
}

// platformRatios reads `go test -bench` output with sub-benchmarks named
// baseline and subject and returns a Markdown table of subject/baseline.
func platformRatios(out string) string {
	type pair struct{ base, subj []float64 }
	groups := map[string]*pair{}
	var order []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || f[3] != "ns/op" {
			continue
		}
		name := f[0]
		if i := strings.LastIndex(name, "-"); i > 0 {
			name = name[:i] // drop the -GOMAXPROCS suffix
		}
		group, sub, ok := strings.Cut(name, "/")
		if !ok {
			continue
		}
		ns, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			continue // not a result line after all
		}
		p, ok := groups[group]
		if !ok {
			p = &pair{}
			groups[group] = p
			order = append(order, group)
		}
		switch sub {
		case "baseline":
			p.base = append(p.base, ns)
		case "subject":
			p.subj = append(p.subj, ns)
		}
	}
	var b strings.Builder
	b.WriteString("| benchmark | baseline ns/op (median) | subject ns/op (median) | subject / baseline |\n|---|---:|---:|---:|\n")
	for _, g := range order {
		p := groups[g]
		if len(p.base) == 0 || len(p.subj) == 0 {
			continue
		}
		mb, ms := median(p.base), median(p.subj)
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.2f× |\n", g, mb, ms, ms/mb)
	}
	return b.String()
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
