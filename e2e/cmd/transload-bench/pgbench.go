package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
)

// pgLevels are the concurrencies of the PostgreSQL run (issue #13: c=16
// and c=64; c=1 for the raw baseline's single-writer figure).
var pgLevels = []int{1, 16, 64}

// pgReport is what the -postgres run measured.
type pgReport struct {
	Results []result
	Notes   []string
	Elapsed time.Duration
	// LoadBefore and LoadAfter are the 1-minute load averages when the
	// run began and ended (/proc/loadavg; empty if unreadable): on a
	// shared machine they say how much else ran.
	LoadBefore, LoadAfter string
	// Scale is true for the -scale run: transload-run -scale's topology.
	Scale bool
}

// loadAverage returns the 1-minute load average of /proc/loadavg, or "".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return ""
	}
	return fields[0]
}

// runPostgres is the -postgres run (`make bench-postgres`): the mesh of
// `transload-run -postgres` (launcher.StartPostgres, CreateDatabases,
// PostgresEnv: one durable local cluster, one database per service), and
// in the same run the raw order-shaped transaction against the same
// cluster, so order placement through REST is read as a ratio of it.
func runPostgres(ctx context.Context, f flags, stdout io.Writer) error {
	began := time.Now()
	work, err := os.MkdirTemp("", "transload-bench-pg-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	// Run as root, the cluster runs as the postgres OS user, which must
	// reach its folder inside work.
	if err := os.Chmod(work, 0o755); err != nil {
		return err
	}
	redisAddr, _, stopRedis, err := startRedis(work)
	if err != nil {
		return err
	}
	defer stopRedis()
	port, err := freePort()
	if err != nil {
		return err
	}
	pg, err := launcher.StartPostgres(ctx, filepath.Join(work, "postgres"), port, os.Stderr)
	if err != nil {
		return err
	}
	defer func() {
		if err := pg.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "transload-bench: postgres:", err)
		}
	}()
	if err := launcher.CreateDatabases(ctx, pg.Addr, os.Stderr); err != nil {
		return err
	}
	rep := pgReport{LoadBefore: loadAverage()}
	self := os.Getpid()
	harness := cpuWatch{pids: map[string]int{harnessProc: self}, counted: map[string]bool{harnessProc: true}}

	// (p) the raw order-shaped transaction on the cluster's own
	// "postgres" database: no service logic, no network hop but the
	// loopback to the server, every commit durable.
	rs, err := measureRawTx(ctx, harness, pgRawName, launcher.PostgresDSN(pg.Addr, "postgres"), nil, pgLevels, f.dur)
	if err != nil {
		return err
	}
	rep.Results = append(rep.Results, rs...)

	env := launcher.PostgresEnv(pg.Addr)
	for name, vars := range benchEnv {
		env[name] = append(env[name], vars...)
	}
	rep.Scale = f.scale
	mesh, err := launcher.Start(ctx, launcher.Config{BinDir: f.bin, DataDir: filepath.Join(work, "mesh"), FreePorts: true, RedisAddr: redisAddr, ExtraEnv: env, Scale: f.scale})
	if err != nil {
		return err
	}
	defer mesh.Stop()
	base := mesh.RESTURL()
	// Workers spread over every gateway (two in the scale topology), as a
	// load balancer in front of them would.
	gateways := mesh.RESTURLs()
	if len(gateways) == 0 {
		gateways = []string{base}
	}
	meshWatch := cpuWatch{pids: mesh.PIDs(), counted: map[string]bool{}}
	for name := range meshWatch.pids {
		meshWatch.counted[name] = !simulators[name]
	}
	if err := topUpStock(ctx, base, "http://"+mesh.Proc(launcher.ERPSim).AdminAddr, orderSKUs, orderStock); err != nil {
		return fmt.Errorf("order load: %w", err)
	}
	availBody := `{"customerId":"C0001","currencyCode":"EUR","shipTo":{"regionCode":"DE","postalCode":"20457"},"lines":[{"sku":"SKU-00041","quantity":1},{"sku":"SKU-00042","quantity":1},{"sku":"SKU-00043","quantity":1}]}`
	for _, g := range gateways {
		_ = post(g+"/v1/availability:check", availBody, "") // warm the caches
	}
	var orderSeq atomic.Int64
	for _, c := range pgLevels[1:] {
		rep.Results = append(rep.Results, measureCPU(ctx, meshWatch, pgAvailName, c, f.dur, func(w, _ int) error {
			return post(gateways[w%len(gateways)]+"/v1/availability:check", availBody, "")
		}))
		rep.Results = append(rep.Results, measureCPU(ctx, meshWatch, pgOrderName, c, f.dur, func(w, _ int) error {
			_, err := placeOrder(ctx, gateways[w%len(gateways)], int(orderSeq.Add(1)))
			return err
		}))
	}
	rep.Notes = append(rep.Notes, "The PostgreSQL server's own CPU is not in the CPU-per-request column: its backends are children of the postmaster, which the harness does not watch. Compare throughput and p99 ratios.")
	rep.Elapsed, rep.LoadAfter = time.Since(began), loadAverage()
	text := renderPostgres(rep, runtime.NumCPU())
	if err := os.WriteFile(f.out, []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Fprint(stdout, text)
	return nil
}

// Scenario names of the -postgres run.
const (
	pgRawName   = "p: raw PostgreSQL order tx"
	pgAvailName = "pc: REST availability (hot cache), PostgreSQL mesh"
	pgOrderName = "pd: REST order placement, PostgreSQL mesh"
)

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// collapseFloor is issue #13's "no collapse" bar: c=64 keeps at least this
// share of the best concurrency's throughput.
const collapseFloor = 0.8

// renderPostgres writes docs/benchmarks-postgres.md: the figures, the
// ratios against the raw transaction at the same concurrency, and whether
// c=64 holds against the best concurrency.
func renderPostgres(r pgReport, cpus int) string {
	var b strings.Builder
	host, _ := os.Hostname()
	title, target := "PostgreSQL", "bench-postgres"
	if r.Scale {
		title, target = "PostgreSQL, scale topology", "bench-postgres-scale"
	}
	fmt.Fprintf(&b, "# Benchmarks on %s\n\nProduced by `make %s` on %s (%s, %d CPUs, %s) at %s",
		title, target, host, runtime.GOARCH, cpus, runtime.Version(), time.Now().UTC().Format(time.RFC3339))
	if r.Elapsed > 0 {
		fmt.Fprintf(&b, "; the harness ran for %s", r.Elapsed.Round(time.Second))
	}
	if r.LoadBefore != "" && r.LoadAfter != "" {
		fmt.Fprintf(&b, "; 1-minute load average %s when it began and %s when it ended", r.LoadBefore, r.LoadAfter)
	}
	b.WriteString(".\n\n")
	b.WriteString("These machines are shared and noisy (other builds and tests run at the same time), and the PostgreSQL cluster, the mesh and the load generator share the same cores: read the **ratios** against the raw transaction measured in the same run, not the absolute rates. " +
		"The mesh is `transload-run -postgres`'s: one local PostgreSQL cluster (durable: fsync, synchronous_commit and full-page writes on), one database per service, ")
	if r.Scale {
		b.WriteString("in issue #13's scale topology (`transload-run -scale`, `-scale` here): a three-node NATS JetStream cluster with three replicas of every stream and two replicas of catalog-pricing, inventory, order, fulfillment and the gateway; the load spreads over both gateways")
	} else {
		b.WriteString("a single NATS node and one replica of each service (issue #13's two-replica topology is `make bench-postgres-scale`)")
	}
	b.WriteString(", with the same settings as `make bench` (docs/benchmarks.md explains them).\n\n")
	b.WriteString("| scenario | c | requests | errors | req/s | p50 | p99 | CPU/req (mesh) | × raw tx req/s | × raw tx p99 |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range r.Results {
		rawX, rawP99 := "", ""
		// Only order placement has the raw transaction as its floor;
		// availability writes nothing durable, so it has no ratio here.
		if x.Name == pgOrderName {
			if base, ok := find(r.Results, pgRawName, x.Concurrency); ok && base.RPS > 0 && base.P99 > 0 {
				rawX = fmt.Sprintf("%.2f×", x.RPS/base.RPS)
				rawP99 = fmt.Sprintf("%.1f×", float64(x.P99)/float64(base.P99))
			}
		}
		cpu := ""
		if x.Name != pgRawName && x.CPU.Units > 0 {
			cpu = fmtDur(x.CPU.Total)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %.0f | %s | %s | %s | %s | %s |\n",
			x.Name, x.Concurrency, x.Requests, x.Errors, x.RPS, fmtDur(x.P50), fmtDur(x.P99), cpu, rawX, rawP99)
	}
	b.WriteString("\n## No collapse at c=64\n\n")
	names := map[string]bool{}
	for _, x := range r.Results {
		names[x.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		if line, ok := collapseLine(r.Results, name); ok {
			b.WriteString("- " + line + "\n")
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range r.Notes {
			b.WriteString("- " + n + "\n")
		}
	}
	b.WriteString(pgExplanation)
	return b.String()
}

// collapseLine says whether name's c=64 throughput is at least
// collapseFloor of its best concurrency's.
func collapseLine(rs []result, name string) (string, bool) {
	at64, ok := find(rs, name, 64)
	if !ok {
		return "", false
	}
	best := at64
	for _, x := range rs {
		if x.Name == name && x.RPS > best.RPS {
			best = x
		}
	}
	if best.RPS <= 0 {
		return fmt.Sprintf("%s: no successful request", name), true
	}
	share := at64.RPS / best.RPS
	verdict := "PASS"
	if share < collapseFloor {
		verdict = "MISS"
	}
	return fmt.Sprintf("%s: c=64 holds %.2f× of the best concurrency (c=%d, %.0f req/s): %s (bar %.1f×)", name, share, best.Concurrency, best.RPS, verdict, collapseFloor), true
}

const pgExplanation = `
## How to read it

- **p — raw PostgreSQL order tx.** The harness writes the order-shaped transaction of docs/benchmarks.md's scenario b (one order, three lines, three reservations, one outbox row) in one transaction through platform/sqldb (pgx) to the same cluster the services use: the floor of one durable order write on this PostgreSQL, with no service logic. PostgreSQL commits concurrent transactions with one WAL flush when they arrive together, so its c=16 and c=64 figures include that group commit.
- **pc — REST availability.** The checkout availability call of scenario c, on the PostgreSQL mesh. It writes nothing durable, so it has no ratio against p; compare it with docs/benchmarks.md's c on SQLite (the same call, another run).
- **pd — REST order placement.** Scenario d's order (three lines, a fresh idempotency key, customers C0001–C0010) through REST on the PostgreSQL mesh; "× raw tx" is its throughput and p99 against p at the same concurrency. Each order placement makes several durable commits in two services (order and inventory) and five gRPC hops, so it cannot reach 1×.
- **No collapse** is issue #13's bar: c=64 keeps at least 0.8× the throughput of the best concurrency measured.
`
