package main

import (
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// verdict is a budget's outcome in one run.
type verdict int

const (
	notMeasured verdict = iota
	pass
	miss
)

func (v verdict) String() string {
	switch v {
	case pass:
		return "PASS"
	case miss:
		return "MISS"
	case notMeasured:
		return "not measured"
	default:
		return fmt.Sprintf("verdict(%d)", int(v))
	}
}

// budget is one line of the budgets table: a target of issue #12 and what
// this run measured against it.
type budget struct {
	Name, Target, Measured string
	Verdict                verdict
}

// report is everything one run measured; a nil or zero part did not run.
type report struct {
	Results   []result
	Sustained *sustainedResult
	Freshness *freshnessFigures
	Drain     *drainFigures
	Oversold  *Oversold
	// OversoldErr says why the oversold check could not read the stores.
	OversoldErr error
	// Procs lists the processes of the per-process CPU table in order.
	Procs    []string
	Platform string
	// Notes are lines the run adds to its results (what was skipped, what
	// did not settle).
	Notes []string
	// Idle is the mesh's CPU per second of wall time at rest, before the
	// load (Units counts the seconds).
	Idle cpuCost
	// Elapsed is the harness's whole run (not the platform benchmarks).
	Elapsed time.Duration
}

// freshnessFigures is what the budgets read from the freshness scenario.
type freshnessFigures struct {
	Samples  int
	P50, P99 time.Duration
	Detail   string
}

// drainFigures is what the budgets read from the backlog-drain scenario.
type drainFigures struct {
	Orders int
	Rate   float64 // orders per second
	Detail string
}

// Budget targets from issue #12.
const (
	placementMinRatio    = 0.25
	placementMaxP99Ratio = 5.0
	sustainedMinRate     = 150.0
	sustainedMaxCPU      = 12 * time.Millisecond
	availMinRatio        = 0.5
	availMaxP99Ratio     = 3.0
	availMaxCPU          = 400 * time.Microsecond
	freshnessMaxP99      = 500 * time.Millisecond
	drainMinRate         = 500.0
	maxRSS               = 150 << 20
)

// budgets decides every budget of issue #12 from the run's figures. A
// budget whose scenario did not run (or produced no figure) is "not
// measured", never PASS.
func budgets(r report) []budget {
	var out []budget
	ratio := func(name, target, num, den string, c int, limit float64, p99 bool) budget {
		b := budget{Name: name, Target: target}
		n, ok1 := find(r.Results, num, c)
		d, ok2 := find(r.Results, den, c)
		if !ok1 || !ok2 || n.Requests == 0 || d.Requests == 0 || d.RPS == 0 || d.P99 == 0 {
			return b
		}
		if p99 {
			x := float64(n.P99) / float64(d.P99)
			b.Measured = fmt.Sprintf("%.2f× (%s vs %s)", x, fmtDur(n.P99), fmtDur(d.P99))
			b.Verdict = decide(x <= limit)
		} else {
			x := n.RPS / d.RPS
			b.Measured = fmt.Sprintf("%.2f× (%.0f vs %.0f req/s)", x, n.RPS, d.RPS)
			b.Verdict = decide(x >= limit)
		}
		return b
	}
	out = append(out,
		ratio("Order placement through REST, c=16: throughput", "≥ 0.25× b (raw single-transaction order tx)", "d:", "b:", 16, placementMinRatio, false),
		ratio("Order placement through REST, c=16: p99", "≤ 5× b's p99", "d:", "b:", 16, placementMaxP99Ratio, true))

	s := r.Sustained
	rate := budget{Name: "Sustained end to end: delivered orders/s", Target: "≥ 150/s"}
	cpu := budget{Name: "Sustained end to end: CPU per delivered order, all Transload processes", Target: "≤ 12 ms"}
	rss := budget{Name: "Memory: peak RSS of each process during the sustained run", Target: "≤ 150 MB"}
	if s != nil && s.Sent > 0 {
		rate.Measured = fmt.Sprintf("%.1f/s at an arrival rate of %.0f/s", s.DeliveredRate, s.Rate)
		rate.Verdict = decide(s.DeliveredRate >= sustainedMinRate)
		if s.CPU.measured() {
			cpu.Measured = withSims(s.CPU)
			cpu.Verdict = decide(s.CPU.Total <= sustainedMaxCPU)
		} else {
			cpu.Measured = "no order delivered"
			cpu.Verdict = miss
		}
		if len(s.PeakRSS) > 0 {
			name, peak := largest(s.PeakRSS)
			rss.Measured = fmt.Sprintf("largest %s (%s)", fmtMB(peak), name)
			if s.RSSSinceStart {
				rss.Measured += ", peak since process start"
			}
			rss.Verdict = decide(peak <= maxRSS)
		}
	}
	out = append(out, rate, cpu)

	out = append(out,
		ratio("Checkout availability (hot), c=16: throughput", "≥ 0.5× a2 (REST→gRPC→Redis anchor)", "c:", "a2:", 16, availMinRatio, false),
		ratio("Checkout availability (hot), c=16: p99", "≤ 3× a2's p99", "c:", "a2:", 16, availMaxP99Ratio, true))
	availCPU := budget{Name: "Checkout availability (hot), c=16: CPU per call, all Transload processes", Target: "≤ 0.4 ms"}
	if c, ok := find(r.Results, "c:", 16); ok && c.CPU.measured() {
		availCPU.Measured = withSims(c.CPU)
		availCPU.Verdict = decide(c.CPU.Total <= availMaxCPU)
	}
	out = append(out, availCPU)

	fresh := budget{Name: "ERP stock change → storefront availability: p99", Target: "≤ 500 ms"}
	if f := r.Freshness; f != nil && f.Samples > 0 {
		fresh.Measured = fmt.Sprintf("%s (p50 %s, %d changes)", fmtDur(f.P99), fmtDur(f.P50), f.Samples)
		fresh.Verdict = decide(f.P99 <= freshnessMaxP99)
	}
	drain := budget{Name: "Backlog drain after an ERP outage", Target: "≥ 500 orders/s"}
	if d := r.Drain; d != nil && d.Orders > 0 {
		drain.Measured = fmt.Sprintf("%.0f orders/s (%d orders)", d.Rate, d.Orders)
		drain.Verdict = decide(d.Rate >= drainMinRate)
	}
	return append(out, fresh, drain, rss)
}

// withSims prints a counted total and, beside it, the total with the
// simulators' CPU added.
func withSims(c cpuCost) string {
	return fmt.Sprintf("%s (%s with the simulators)", fmtDur(c.Total), fmtDur(c.Total+c.sum(slices.Sorted(maps.Keys(simulators))...)))
}

func decide(ok bool) verdict {
	if ok {
		return pass
	}
	return miss
}

// largest returns the map's largest value and its key (the first name in
// order on ties).
func largest(m map[string]int64) (string, int64) {
	best, name := int64(-1), ""
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] > best {
			best, name = m[k], k
		}
	}
	return name, best
}

// fmtDur prints a duration with three significant figures in a unit that
// suits it (µs below a millisecond, ms below a second).
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

func fmtMB(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

// render writes the results file: the figures, the budgets and the static
// explanation of what each scenario measures.
func render(r report) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "# Benchmarks\n\nProduced by `make bench` on %s (%s, %d CPUs, %s) at %s.\n\n",
		host, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format(time.RFC3339))
	if r.Elapsed > 0 {
		fmt.Fprintf(&b, "The load harness ran for %s.\n\n", r.Elapsed.Round(time.Second))
	}
	b.WriteString("These machines are shared and noisy: read the **ratios** against the baselines measured in the same run and the **CPU per unit**, not the absolute rates. How each figure is taken is explained [below](#how-to-read-this).\n\n")

	b.WriteString("## Budgets (issue #12)\n\n| budget | target | this run | |\n|---|---|---|---|\n")
	for _, x := range budgets(r) {
		m := x.Measured
		if m == "" {
			m = "—"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | **%s** |\n", x.Name, x.Target, m, x.Verdict)
	}
	switch {
	case r.OversoldErr != nil:
		fmt.Fprintf(&b, "\nOversold check (stores): **not measured** (%v).\n", r.OversoldErr)
	case r.Oversold != nil:
		fmt.Fprintf(&b, "\nOversold check (stores, after all load): **%s**\n", r.Oversold.String())
	default:
		b.WriteString("\nOversold check (stores): **not measured**.\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n> %s\n", n)
	}

	b.WriteString("\n## Request scenarios\n\n")
	b.WriteString("| scenario | concurrency | requests | errors | req/s | p50 | p99 | CPU/req, counted processes | harness CPU/req |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range r.Results {
		total, harness := "—", "—"
		if x.CPU.measured() {
			total, harness = fmtDur(x.CPU.Total), fmtDur(x.CPU.Harness)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %.0f | %s | %s | %s | %s |\n", x.Name, x.Concurrency, x.Requests, x.Errors, x.RPS,
			fmtDur(x.P50), fmtDur(x.P99), total, harness)
	}
	b.WriteString("\n### Ratios\n\n| ratio | concurrency | throughput | p99 |\n|---|---:|---:|---:|\n")
	for _, c := range []int{1, 16} {
		ratio := func(name, num, den string) {
			n, ok1 := find(r.Results, num, c)
			d, ok2 := find(r.Results, den, c)
			if !ok1 || !ok2 || d.RPS == 0 || d.P99 == 0 {
				return
			}
			fmt.Fprintf(&b, "| %s | %d | %.2f× | %.2f× |\n", name, c, n.RPS/d.RPS, float64(n.P99)/float64(d.P99))
		}
		ratio("b2 / b (group commit vs single transaction)", "b2:", "b:")
		ratio("c / a (availability vs raw echo)", "c:", "a:")
		ratio("c / a2 (availability vs REST→gRPC→Redis anchor)", "c:", "a2:")
		ratio("d / b (order placement vs raw SQLite order tx)", "d:", "b:")
		ratio("d / b2 (order placement vs group-committed order tx)", "d:", "b2:")
	}

	b.WriteString("\n### CPU per request by process\n\n")
	b.WriteString(cpuTable(r.Procs, func(yield func(string, cpuCost) bool) {
		if r.Idle.measured() && !yield("mesh at rest, per second of wall time", r.Idle) {
			return
		}
		for _, x := range r.Results {
			if x.CPU.measured() && !yield(fmt.Sprintf("%s, c=%d", x.Name, x.Concurrency), x.CPU) {
				return
			}
		}
	}))

	if s := r.Sustained; s != nil {
		b.WriteString("\n## Sustained end to end (open loop, every order followed to DELIVERED)\n\n")
		b.WriteString("Rate search (each probe a short open-loop run; bounded = the backlog did not grow over its second half, ≤ 1% errors, acceptance p99 ≤ 1 s):\n\n")
		b.WriteString("| arrival rate | probe | sent | errors | acceptance p99 | backlog mid | backlog end | bounded |\n|---:|---:|---:|---:|---:|---:|---:|---|\n")
		for _, p := range s.Probes {
			fmt.Fprintf(&b, "| %.0f/s | %s | %d | %d | %s | %d | %d | %s |\n", p.Rate, p.Duration, p.Sent, p.Errors, fmtDur(p.P99), p.BacklogMid, p.BacklogEnd, yesNo(p.Bounded))
		}
		fmt.Fprintf(&b, "\n| figure | value |\n|---|---:|\n")
		fmt.Fprintf(&b, "| arrival rate | %.0f orders/s for %s |\n", s.Rate, s.Duration)
		fmt.Fprintf(&b, "| placed (errors) | %d (%d) |\n", s.Sent, s.Errors)
		fmt.Fprintf(&b, "| acceptance p50 / p99 | %s / %s |\n", fmtDur(s.P50), fmtDur(s.P99))
		fmt.Fprintf(&b, "| delivered orders/s at steady state (after %s warm-up) | %.1f |\n", s.Warmup, s.DeliveredRate)
		fmt.Fprintf(&b, "| acceptance → DELIVERED p50 / p99 | %s / %s |\n", fmtDur(s.DeliveryP50), fmtDur(s.DeliveryP99))
		fmt.Fprintf(&b, "| backlog when the arrivals stopped | %d |\n", s.BacklogEnd)
		fmt.Fprintf(&b, "| delivered / rejected / still open after the drain wait | %d / %d / %d |\n", s.Delivered, s.Rejected, s.OpenAfterDrain)
		if s.CPU.measured() {
			fmt.Fprintf(&b, "| CPU per delivered order, all Transload processes and Redis | %s |\n", withSims(s.CPU))
			fmt.Fprintf(&b, "| harness CPU per delivered order (not counted) | %s |\n", fmtDur(s.CPU.Harness))
		}
		if len(s.PeakRSS) > 0 {
			var parts []string
			for _, name := range r.Procs {
				if v, ok := s.PeakRSS[name]; ok {
					parts = append(parts, fmt.Sprintf("%s %s", name, fmtMB(v)))
				}
			}
			fmt.Fprintf(&b, "| peak RSS | %s |\n", strings.Join(parts, ", "))
		}
		if s.CPU.measured() {
			b.WriteString("\nCPU per delivered order by process:\n\n")
			b.WriteString(cpuTable(r.Procs, func(yield func(string, cpuCost) bool) { yield("sustained", s.CPU) }))
		}
		if len(s.Profiles) > 0 {
			fmt.Fprintf(&b, "\nCPU profiles saved: %s.\n", strings.Join(s.Profiles, ", "))
		}
	}
	if f := r.Freshness; f != nil && f.Detail != "" {
		fmt.Fprintf(&b, "\n## Freshness (ERP stock change → storefront availability)\n\n%s\n", f.Detail)
	}
	if d := r.Drain; d != nil && d.Detail != "" {
		fmt.Fprintf(&b, "\n## Backlog drain after an ERP outage\n\n%s\n", d.Detail)
	}
	if r.Platform != "" {
		b.WriteString("\n## Platform (`go test -bench`, subject vs baseline in the same run)\n\n")
		b.WriteString(r.Platform)
	}
	b.WriteString("\n")
	b.WriteString(aboutScenarios)
	return b.String()
}

// cpuTable renders CPU per unit with one column per process that has a
// figure in some row, in procs order, and the counted total.
func cpuTable(procs []string, rows func(yield func(string, cpuCost) bool)) string {
	var cols []string
	for _, p := range procs {
		for _, c := range rows {
			if _, ok := c.PerProc[p]; ok {
				cols = append(cols, p)
				break
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| per unit | %s | total (counted) |\n|---|%s---:|\n", strings.Join(cols, " | "), strings.Repeat("---:|", len(cols)))
	for name, c := range rows {
		fmt.Fprintf(&b, "| %s |", name)
		for _, p := range cols {
			if v, ok := c.PerProc[p]; ok {
				fmt.Fprintf(&b, " %s |", fmtDur(v))
			} else {
				b.WriteString(" — |")
			}
		}
		fmt.Fprintf(&b, " %s |\n", fmtDur(c.Total))
	}
	return b.String()
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

// aboutScenarios is the static part of docs/benchmarks.md: what each
// scenario and baseline measures, how to read the figures and how to
// reproduce them. The harness writes it after the figures on every run.
const aboutScenarios = `## How to read this

**Scenarios.** Each request scenario runs closed-loop at concurrency 1 and 16 for ` + "`-duration`" + ` (8 s by default); errors are counted, not timed.

- **a — raw REST→gRPC echo.** A grpc-gateway mux in the harness calls a gRPC health check over loopback: the cheapest REST→gRPC round trip on this machine, no Transload code.
- **a2 — REST→gRPC→Redis anchor.** The same echo plus one Redis GET in the gRPC handler: what a cache-served read through REST and gRPC costs at least. Checkout availability (c) is measured against it.
- **b — raw SQLite order transaction, single.** One durable transaction shaped like an order (order row, 3 lines, 3 reservation rows, 1 outbox row) through ` + "`sqldb.InTx`" + ` on a file with ` + "`synchronous=FULL`" + `, opened with ` + "`sqldb.WithGroupCommit(1)`" + ` so every call is its own transaction and its own fsync. Order placement (d) is measured against it.
- **b2 — raw SQLite order transaction, group commit.** The same transaction with the ` + "`sqldb`" + ` default, where concurrent ` + "`InTx`" + ` calls may share one transaction and one fsync, each acknowledged only after it. b2 / b is what batching is worth on this disk.
- **c — checkout availability (hot).** ` + "`POST /v1/availability:check`" + ` for three SKUs through the real mesh, cache warmed first.
- **d — order placement.** ` + "`POST /v1/orders`" + ` with three lines and a fresh idempotency key per request, through the real mesh with durable commits.
- **Sustained end to end.** Orders arrive open-loop at a constant rate through REST (an arrival is never held back by a slow answer; acceptance latency is taken from when each request was due, so a harness falling behind does not hide the wait). Every accepted order is followed to a terminal state through ` + "`GET /v1/orders`" + ` filtered by state and ` + "`update_time`" + ` (one list per terminal state every 500 ms, pages of 500; each delivered order is read about twice, and that cost is in the mesh's figures). The rate is found by the harness: short probes at doubling rates until one is not bounded, then two bisections; the highest bounded rate then runs for ` + "`-sustained`" + ` (60 s by default). Delivered orders/s counts deliveries (by the order's ` + "`update_time`" + `) after a warm-up of a quarter of the run (at most 10 s) until the arrivals stop; the backlog is the accepted orders not yet terminal when they stop; CPU per delivered order is all CPU of the counted processes from the first arrival until the run's orders were terminal (or a drain wait of 30 s passed), over the orders delivered.
- **Freshness** and **backlog drain** are described in their sections when they ran.
- **Oversold check.** After all load the harness reads the inventory and order stores (read-only): for every SKU×warehouse, committed plus open reservations stay within the on-hand received, and every accepted order's lines are allocated exactly once.

**The bench mesh.** ` + "`launcher.Start`" + ` with free ports and a Redis the harness starts. Settings that differ from the defaults: the gateway's ` + "`RATE_LIMIT_RPS=0`" + ` and ` + "`ORDER_RATE_LIMIT_PER_CUSTOMER=0`" + ` (the harness measures capacity, not the per-key and per-customer order limit policies) and the WMS simulator's ` + "`WMSSIM_STEP=50ms`" + ` (a shipment passes picked, packed, shipped and delivered in 200 ms instead of 8 s; the simulator stands in for a warehouse, so its pace is not Transload's). Transload's own services keep their defaults, so their intervals are part of what is measured: the order service's ERP queue worker submits up to ` + "`ORDER_QUEUE_CONCURRENCY`" + ` (16) customers' entries at once (each customer's in order), passes again at once after a full batch of 100 entries, and otherwise waits ` + "`ORDER_QUEUE_POLL_INTERVAL`" + ` (1 s) unless a new order wakes it; after an ERP outage it resumes when the ERP breaker half-opens (` + "`ORDER_ERP_BREAKER_OPEN_TIMEOUT`" + `, 1 s); fulfillment polls the WMS feed every ` + "`FULFILLMENT_WMS_POLL_INTERVAL`" + ` (500 ms) when caught up and dispatches every ` + "`FULFILLMENT_DISPATCH_INTERVAL`" + ` (500 ms) when nothing wakes it; the order relay polls every ` + "`ORDER_OUTBOX_POLL_INTERVAL`" + ` (200 ms). The order load uses customers C0001–C0010 (the demo customers allowed in channel web) and the twelve cheapest SKUs (9.99–20.99 EUR), topped up to 60,000 units each before the load, so a full run stays within the customers' credit limits and the stock.

**CPU.** Before and after each measurement the harness reads utime + stime of every process from ` + "`/proc/<pid>/stat`" + ` in clock ticks of 1/100 s (USER_HZ, which Linux fixes at 100; ` + "`sysconf(_SC_CLK_TCK)`" + `), so a process's figure is exact to ±10 ms over the measurement. For the mesh scenarios the **counted** processes are Transload's seven (NATS, catalog-pricing, inventory, order, fulfillment, gateway, ops) and Redis (its cache); the ERP and WMS simulators stand in for external systems, so their CPU is shown per process and beside each CPU budget ("with the simulators") but not counted, and the harness's own CPU (load generation, JSON, following orders) is shown apart and not counted. For the in-process baselines a, a2, b and b2 the server runs inside the harness, so the counted processes are the harness (server and load generator together, an upper bound) and Redis. The first row of the per-process table is the mesh at rest (five seconds before any load, per second of wall time): tickers, pollers and lease renewals, which every per-unit figure includes, so at low rates they weigh more. **Memory**: each mesh process's peak RSS (VmHWM from ` + "`/proc/<pid>/status`" + `), reset by writing 5 to ` + "`/proc/<pid>/clear_refs`" + ` when the sustained run starts, so it is the peak during that run. The NATS node runs with its default soft Go memory limit (` + "`NATS_MEMORY_LIMIT_MB`" + `, 100 MiB; without it, it peaked at 180–216 MB); its live heap grows with the message ids JetStream remembers for the 10-minute duplicate window (about 150 bytes each), so at much higher rates than this run's that window, not the GC, decides its memory.

**Ratios.** Throughput ratios are subject / baseline in the same run (higher is better); p99 ratios are subject / baseline (lower is better). Absolute figures move with whatever else the machine runs; ratios and CPU per unit move much less.

**Budgets.** Each line is a target of issue #12 with this run's figure. **PASS** or **MISS** only when the scenario ran and produced the figure; otherwise **not measured**.

**On PostgreSQL.** Everything above runs on SQLite, one file per service. ` + "`make bench-postgres`" + ` (` + "`transload-bench -postgres`" + `) writes a separate file, [benchmarks-postgres.md](benchmarks-postgres.md): the same mesh and settings started as ` + "`transload-run -postgres`" + ` does (one local durable PostgreSQL cluster, one database per service), the raw order-shaped transaction of b written to that cluster at c=1, 16 and 64 as its same-run baseline, and availability and order placement through REST at c=16 and c=64, with order placement's ratios against the raw transaction and issue #13's no-collapse check (c=64 keeps at least 0.8× of the best concurrency). Its figures are not comparable with this file's: another run, another engine, and the PostgreSQL server shares the two cores with the mesh; read its ratios.

## Reproduce

` + "```" + `
make bench                      # build, platform benchmarks, then the harness; rewrites docs/benchmarks.md
make bench BENCH_FLAGS="-profile build/profiles"                                         # the same, saving CPU profiles
bin/transload-bench -bin bin -out /tmp/bench.md -duration 2s -sustained 20s -probe 5s   # a shorter run
bin/transload-bench -bin bin -out /tmp/bench.md -profile /tmp/prof                     # and save CPU profiles
` + "```" + `

Flags: ` + "`-duration`" + ` (each request scenario and concurrency, 8 s), ` + "`-sustained`" + ` (the sustained run, 60 s; 0 skips the rate search and the run), ` + "`-probe`" + ` (each rate-search probe, 10 s), ` + "`-start-rate`" + ` (first probe, 20 orders/s), ` + "`-max-rate`" + ` (500 orders/s), ` + "`-rate`" + ` (the sustained run's arrival rate without a rate search, to compare two runs at one rate), ` + "`-postgres`" + ` (only the PostgreSQL run of ` + "`make bench-postgres`" + `), ` + "`-scale`" + ` (that run on the scale topology: three NATS nodes, two replicas of each replicated service), ` + "`-freshness-changes`" + ` (ERP stock changes timed to availability, 20; 0 skips), ` + "`-drain-orders`" + ` (orders queued while the ERP is down, 10,000; 0 skips), ` + "`-profile DIR`" + `: start the mesh with ` + "`PPROF_ENABLED=true`" + ` (net/http/pprof on each process's admin listener) and save a CPU profile of every process during the sustained run as ` + "`DIR/<process>.cpu.pprof`" + ` (read with ` + "`go tool pprof -top bin/<binary> DIR/<process>.cpu.pprof`" + `). The whole run takes about ten minutes.
`
