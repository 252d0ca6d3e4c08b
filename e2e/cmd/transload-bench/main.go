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
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
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
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("transload-bench", flag.ContinueOnError)
	binDir := fs.String("bin", "bin", "folder with the built binaries")
	out := fs.String("out", "docs/benchmarks.md", "results file to write")
	goBench := fs.String("gobench", "", "optional `go test -bench` output of the platform benchmarks to include")
	dur := fs.Duration("duration", 8*time.Second, "measuring time per scenario and concurrency")
	if err := fs.Parse(args); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "transload-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	redisAddr, stopRedis, err := startRedis(work)
	if err != nil {
		return err
	}
	defer stopRedis()

	var results []result
	levels := []int{1, 16}

	// (a) and (a2): raw gateway echo, with and without a Redis GET.
	echoURL, stopEcho, err := startEcho(redisAddr)
	if err != nil {
		return err
	}
	for _, c := range levels {
		results = append(results, measure(ctx, "a: raw REST→gRPC echo", c, *dur, func(int, int) error {
			return get(echoURL + "/echo")
		}))
		if redisAddr != "" {
			results = append(results, measure(ctx, "a2: REST→gRPC→Redis anchor", c, *dur, func(int, int) error {
				return get(echoURL + "/echo?redis=1")
			}))
		}
	}
	stopEcho()

	// (b): raw durable SQLite order-shaped transaction.
	db, err := sqldb.Open(ctx, "sqlite://"+filepath.Join(work, "raw.db"))
	if err != nil {
		return err
	}
	if err := createRawSchema(ctx, db); err != nil {
		return err
	}
	var seq atomic.Int64
	for _, c := range levels {
		results = append(results, measure(ctx, "b: raw SQLite order tx", c, *dur, func(int, int) error {
			return rawOrderTx(ctx, db, seq.Add(1))
		}))
	}
	db.Close()

	// (c) and (d): Transload's REST API on the real mesh.
	mesh, err := launcher.Start(ctx, launcher.Config{
		BinDir: *binDir, DataDir: filepath.Join(work, "mesh"), FreePorts: true, RedisAddr: redisAddr,
		// The harness measures capacity, not the per-key rate-limit policy.
		ExtraEnv: map[string][]string{launcher.Gateway: {"RATE_LIMIT_RPS=0"}},
	})
	if err != nil {
		return err
	}
	defer mesh.Stop()
	base := mesh.RESTURL()
	availBody := `{"customerId":"C0001","currencyCode":"EUR","shipTo":{"regionCode":"DE","postalCode":"20457"},"lines":[{"sku":"SKU-00041","quantity":1},{"sku":"SKU-00042","quantity":1},{"sku":"SKU-00043","quantity":1}]}`
	for _, c := range levels {
		_ = post(base+"/v1/availability:check", availBody, "") // warm the cache
		results = append(results, measure(ctx, "c: REST availability (hot cache)", c, *dur, func(int, int) error {
			return post(base+"/v1/availability:check", availBody, "")
		}))
	}
	var orderSeq atomic.Int64
	for _, c := range levels {
		results = append(results, measure(ctx, "d: REST order placement", c, *dur, func(int, int) error {
			n := int(orderSeq.Add(1))
			body := fmt.Sprintf(`{"customerId":"C%04d","currencyCode":"EUR","shipTo":{"recipient":"Bench","lines":["1 Bench St"],"locality":"Hamburg","postalCode":"20457","regionCode":"DE"},"lines":[{"sku":"%s","quantity":1},{"sku":"%s","quantity":1},{"sku":"%s","quantity":1}]}`,
				1+n%10, orderSKUs[n%len(orderSKUs)], orderSKUs[(n+1)%len(orderSKUs)], orderSKUs[(n+2)%len(orderSKUs)])
			return post(base+"/v1/orders", body, fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), n))
		}))
	}
	oversold, err := checkOversold(base)
	if err != nil {
		return err
	}
	var platform string
	if *goBench != "" {
		b, err := os.ReadFile(*goBench)
		if err != nil {
			return err
		}
		platform = platformRatios(string(b))
	}
	report := render(results, oversold, platform)
	if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
		return err
	}
	fmt.Fprint(stdout, report)
	return nil
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

func createRawSchema(ctx context.Context, db *sqldb.DB) error {
	_, err := db.SQL().ExecContext(ctx, `
CREATE TABLE orders (id TEXT PRIMARY KEY, request_id TEXT UNIQUE, customer_id TEXT, state TEXT, total_minor INTEGER, currency TEXT, created_at TEXT);
CREATE TABLE order_lines (order_id TEXT, line INTEGER, sku TEXT, quantity INTEGER, unit_minor INTEGER, PRIMARY KEY (order_id, line));
CREATE TABLE reservations (id TEXT PRIMARY KEY, order_id TEXT, sku TEXT, warehouse TEXT, quantity INTEGER);
CREATE TABLE outbox (event_id TEXT PRIMARY KEY, aggregate_id TEXT, seq INTEGER, subject TEXT, payload BLOB, created_at TEXT);`)
	return err
}

// rawOrderTx writes one order-shaped transaction with no service logic.
func rawOrderTx(ctx context.Context, db *sqldb.DB, n int64) error {
	id := fmt.Sprintf("o-%d", n)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	return db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO orders VALUES (?,?,?,?,?,?,?)`, id, "r-"+id, "C0001", "ACCEPTED", 3897, "EUR", now); err != nil {
			return err
		}
		for i := range 3 {
			sku := fmt.Sprintf("SKU-%05d", i+1)
			if _, err := tx.ExecContext(ctx, `INSERT INTO order_lines VALUES (?,?,?,?,?)`, id, i, sku, 1, 1299); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO reservations VALUES (?,?,?,?,?)`, fmt.Sprintf("%s-%d", id, i), id, sku, "WH-HAM", 1); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO outbox VALUES (?,?,?,?,?,?)`, "e-"+id, id, 1, "transload.order.accepted", bytes.Repeat([]byte{1}, 256), now)
		return err
	})
}

// orderSKUs are the order load's SKUs: the cheapest in erpsim's seed (at
// most 21.99 EUR), so thousands of orders stay within the demo customers'
// credit limits and the load measures order placement, not credit refusals.
var orderSKUs = []string{"SKU-00037", "SKU-00074", "SKU-00111", "SKU-00148", "SKU-00179", "SKU-00216",
	"SKU-00253", "SKU-00290", "SKU-00358", "SKU-00395", "SKU-00432", "SKU-00469"}

// checkOversold asks availability for the SKUs the order load used and
// counts any negative figure.
func checkOversold(base string) (int, error) {
	var lines []string
	for _, sku := range orderSKUs {
		lines = append(lines, fmt.Sprintf(`{"sku":%q,"quantity":1}`, sku))
	}
	oversold := 0
	for start := 0; start < len(lines); start += 100 {
		body := `{"customerId":"C0001","currencyCode":"EUR","shipTo":{"regionCode":"DE","postalCode":"20457"},"lines":[` + strings.Join(lines[start:min(start+100, len(lines))], ",") + `]}`
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/availability:check", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+launcher.DemoAPIKey)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		var out struct {
			Lines []struct {
				AvailableQuantity json.Number `json:"availableQuantity"`
			} `json:"lines"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		for _, l := range out.Lines {
			if n, _ := l.AvailableQuantity.Int64(); n < 0 {
				oversold++
			}
		}
	}
	return oversold, nil
}

func startRedis(dir string) (string, func(), error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		fmt.Fprintln(os.Stderr, "transload-bench: redis-server not found; (a2) skipped and services use in-process caches")
		return "", func() {}, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", fmt.Sprint(port), "--save", "", "--appendonly", "no", "--dir", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return "", nil, errors.New("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }, nil
}

func find(rs []result, prefix string, conc int) (result, bool) {
	for _, r := range rs {
		if strings.HasPrefix(r.Name, prefix) && r.Concurrency == conc {
			return r, true
		}
	}
	return result{}, false
}

func render(rs []result, oversold int, platform string) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "# Benchmarks\n\nProduced by `make bench` on %s (%s, %d CPUs, %s) at %s.\n\n",
		host, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format(time.RFC3339))
	b.WriteString("These machines are shared and noisy: read the **ratios** against the baselines measured in the same run, not the absolute figures.\n\n")
	b.WriteString("## Storefront paths (load harness `e2e/cmd/transload-bench`)\n\n")
	b.WriteString("| scenario | concurrency | requests | errors | req/s | p50 | p99 |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %.0f | %s | %s |\n", r.Name, r.Concurrency, r.Requests, r.Errors, r.RPS, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond))
	}
	b.WriteString("\n### Ratios\n\n| ratio | concurrency | throughput | p99 | target (later issues) |\n|---|---:|---:|---:|---|\n")
	for _, c := range []int{1, 16} {
		ratio := func(name, num, den, target string) {
			n, ok1 := find(rs, num, c)
			d, ok2 := find(rs, den, c)
			if !ok1 || !ok2 || d.RPS == 0 || d.P99 == 0 {
				return
			}
			fmt.Fprintf(&b, "| %s | %d | %.2f× | %.2f× | %s |\n", name, c, n.RPS/d.RPS, float64(n.P99)/float64(d.P99), target)
		}
		ratio("c / a (availability vs raw echo)", "c:", "a:", "")
		ratio("c / a2 (availability vs REST→gRPC→Redis anchor)", "c:", "a2:", "≥ 0.7× throughput")
		ratio("d / b (order placement vs raw SQLite order tx)", "d:", "b:", "≥ 0.5× throughput, p99 ≤ 1.5×")
	}
	fmt.Fprintf(&b, "\nOversold SKUs after the order load: **%d**.\n", oversold)
	if platform != "" {
		b.WriteString("\n## Platform (`go test -bench`, subject vs baseline in the same run)\n\n")
		b.WriteString(platform)
	}
	return b.String()
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
