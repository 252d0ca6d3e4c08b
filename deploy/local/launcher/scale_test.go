package launcher

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/transload/transload/platform/testharness/harness"
	"github.com/transload/transload/platform/testharness/redistest"
)

func TestProcessesOfTheScaleTopology(t *testing.T) {
	t.Parallel()
	want := []string{NATS, NATS2, NATS3, ERPSim, WMSSim, Catalog, "catalog-pricing-2", Inventory, "inventory-2",
		Order, "order-2", Fulfillment, "fulfillment-2", Gateway, "gateway-2", Ops, Notify}
	if got := processes(Config{Scale: true}); !slices.Equal(got, want) {
		t.Errorf("scale processes = %v, want %v", got, want)
	}
	if got := processes(Config{}); !slices.Equal(got, StartOrder) {
		t.Errorf("processes = %v, want StartOrder", got)
	}
	for name, svc := range map[string]string{"catalog-pricing-2": Catalog, Catalog: Catalog, "nats-3": NATS, "inventory-1": "inventory-1", "erpsim-x": "erpsim-x"} {
		if got := Service(name); got != svc {
			t.Errorf("Service(%q) = %q, want %q", name, got, svc)
		}
	}
	// The fixed plan keeps make run's ports and puts replicas 200 above.
	for name, want := range map[string][3]string{
		Inventory:     {"127.0.0.1:9004", "127.0.0.1:9104", "127.0.0.1:8080"},
		"inventory-2": {"127.0.0.1:9204", "127.0.0.1:9304", "127.0.0.1:8081"},
		NATS3:         {"127.0.0.1:4224", "", ""},
	} {
		g, a, h := fixedPorts(name)
		if [3]string{g, a, h} != want {
			t.Errorf("fixedPorts(%s) = %s %s %s, want %v", name, g, a, h, want)
		}
	}
}

// TestProxyGivesEachCallerItsNeighbours: with Config.Proxy, a process's
// neighbour addresses and NATS_URL are what Proxy answered for it (later
// entries win over the shared ones), and a caller Proxy leaves alone gets
// the listening addresses.
func TestProxyGivesEachCallerItsNeighbours(t *testing.T) {
	t.Parallel()
	proxied := func(caller, target, addr string) string {
		if Service(caller) == Order && Service(target) == Inventory || Service(target) == NATS {
			return "proxy-of-" + target
		}
		return addr
	}
	m := &Mesh{cfg: Config{FreePorts: true, Scale: true, DataDir: t.TempDir(), Proxy: proxied}, procs: map[string]*Proc{}}
	if err := m.assignPorts(); err != nil {
		t.Fatal(err)
	}
	defer m.closeListeners()
	m.env = m.sharedEnv()
	last := func(env []string, key string) string {
		v := ""
		for _, kv := range env {
			if k, val, _ := strings.Cut(kv, "="); k == key {
				v = val
			}
		}
		return v
	}
	direct := "static:///" + m.Proc(Inventory).GRPCAddr + "," + m.Proc("inventory-2").GRPCAddr
	for name, want := range map[string]string{
		"order-2":   "static:///proxy-of-inventory,proxy-of-inventory-2",
		Order:       "static:///proxy-of-inventory,proxy-of-inventory-2",
		Gateway:     direct,
		Fulfillment: direct,
	} {
		env := m.processEnv(name)
		if got := last(env, "INVENTORY_ADDR"); got != want {
			t.Errorf("%s: INVENTORY_ADDR=%s, want %s", name, got, want)
		}
		if got, want := last(env, "NATS_URL"), "nats://proxy-of-nats,nats://proxy-of-nats-2,nats://proxy-of-nats-3"; got != want {
			t.Errorf("%s: NATS_URL=%s, want %s", name, got, want)
		}
	}
	if got := last(m.processEnv(NATS2), "NATS_URL"); strings.Contains(got, "proxy") {
		t.Errorf("a NATS node gets NATS_URL=%s; nodes are not callers", got)
	}
}

// scaleOrders is how many concurrent single-unit orders
// TestScaleTopology places on the 10 units of one SKU:
// TRANSLOAD_SCALE_ORDERS (make chaos sets 300), else 100.
func scaleOrders(t *testing.T) int {
	v := os.Getenv("TRANSLOAD_SCALE_ORDERS")
	if v == "" {
		return 100
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 10 {
		t.Fatalf("TRANSLOAD_SCALE_ORDERS=%q: want a number of at least 10", v)
	}
	return n
}

// TestScaleTopology starts the scale topology on a local PostgreSQL
// cluster, behind toxiproxy (toxics_test.go): three NATS nodes in one
// JetStream cluster, Redis, and two replicas of catalog-pricing,
// inventory, order, fulfillment and the gateway. Then it runs issue #13's
// scenarios as subtests, in a random order (TRANSLOAD_SCALE_SEED repeats
// one): each uses its own customer, SKU and idempotency keys, restores
// every fault it injects, and checks its invariants in the stores (the
// order, inventory and ERP databases, the streams) after its run, so it
// holds whatever ran before it.
func TestScaleTopology(t *testing.T) {
	harness.LookBinary(t, "initdb", "apt-get install -y postgresql", "/usr/lib/postgresql/*/bin/initdb")
	harness.LookBinary(t, "postgres", "apt-get install -y postgresql", "/usr/lib/postgresql/*/bin/postgres")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	s := startScaleSuite(ctx, t)

	scenarios := []struct {
		name string
		run  func(context.Context, *testing.T)
	}{
		{"oversell on one SKU", s.oversell},
		{"order replica and NATS node killed mid-burst", s.killMidBurst},
		{"order-inventory latency then partition", s.orderInventoryFaults},
		{"redis partitioned", s.redisPartition},
		{"postgres restarted", s.postgresRestart},
		{"rolling restart", s.rollingRestart},
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("TRANSLOAD_SCALE_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("TRANSLOAD_SCALE_SEED=%q: %v", v, err)
		}
	}
	rand.New(rand.NewPCG(seed, seed)).Shuffle(len(scenarios), func(i, j int) { scenarios[i], scenarios[j] = scenarios[j], scenarios[i] })
	var names []string
	for _, sc := range scenarios {
		names = append(names, sc.name)
	}
	t.Logf("scenarios in this order (TRANSLOAD_SCALE_SEED=%d): %s", seed, strings.Join(names, "; "))
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			started := time.Now()
			sc.run(ctx, t)
			t.Logf("%s took %s", sc.name, time.Since(started).Round(time.Millisecond))
		})
	}
}

// scaleSuite is the running scale topology the scenarios share.
type scaleSuite struct {
	m *Mesh
	// pg is the PostgreSQL cluster; the scenarios' checks reach it at
	// pg.Addr directly, the services through the "postgres" proxy.
	pg    *Postgres
	redis *redistest.Server
	tox   *toxics
}

// startScaleSuite starts PostgreSQL, Redis, the toxiproxy proxies and the
// scale topology, and registers their cleanup (the mesh stops first).
func startScaleSuite(ctx context.Context, t *testing.T) *scaleSuite {
	started := time.Now()
	base, err := os.MkdirTemp("", "transload-launcher-scale-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs kept in %s", filepath.Join(base, "data", "logs"))
			return
		}
		os.RemoveAll(base)
	})
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &scaleSuite{}
	s.pg = startTestPostgres(ctx, t, filepath.Join(base, "postgres"))
	t.Cleanup(func() { _ = s.pg.Stop() })
	if err := CreateDatabases(ctx, s.pg.Addr, nil); err != nil {
		t.Fatal(err)
	}
	s.redis = redistest.Start(t)
	s.tox = newToxics(t)
	env := PostgresEnv(s.tox.proxy("postgres", s.pg.Addr).Listen)
	// A claim whose owner was killed is reaped 5 s after its lease
	// instead of 2 min, so the reservations of orders nobody retries come
	// back within a scenario.
	env[Order] = append(env[Order], "ORDER_CLAIM_ABANDON_AFTER=5s")
	bin := bins(t)
	t.Logf("binaries built and servers started in %s", time.Since(started).Round(time.Millisecond))
	s.m, err = Start(ctx, Config{BinDir: bin, DataDir: filepath.Join(base, "data"), FreePorts: true, Scale: true,
		RedisAddr: s.tox.proxy("redis", s.redis.Addr()).Listen, ExtraEnv: env, Proxy: s.tox.route})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.m.Stop)
	if gateways := s.m.RESTURLs(); len(gateways) != 2 {
		t.Fatalf("gateways %v, want 2", gateways)
	}
	t.Logf("scale topology ready after %s", time.Since(started).Round(time.Millisecond))
	return s
}

// oversell is scenario 1, after a plain flow: orders placed through both
// gateways reach the ERP exactly once, and concurrent single-unit orders
// on SKU-00500's 10 units (erpsim's seed), spread over both gateways
// while both inventory replicas serve, accept exactly 10 and never
// oversell, read back from the inventory database; the order stream is
// kept on all three NATS nodes.
func (s *scaleSuite) oversell(ctx context.Context, t *testing.T) {
	m := s.m
	gateways := m.RESTURLs()
	// Placed as a storefront does (placeRetrying): a breaker another
	// scenario left open answers 503 until its next trial call.
	var names []string
	for i := range 6 {
		p := placeRetrying(ctx, gateways, i, fmt.Sprintf("scale-flow-%d", i), "C0001", "SKU-00001")
		if p.err != "" {
			t.Fatalf("order %d: %s", i, p.err)
		}
		names = append(names, p.final.name)
	}

	const sku = "SKU-00500"
	before := map[string]int64{}
	for _, name := range m.Replicas(Inventory) {
		before[name] = reserveCalls(ctx, t, m.Proc(name).AdminAddr)
	}
	n := scaleOrders(t)
	results := make([]placement, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = placeRetrying(ctx, gateways, i, fmt.Sprintf("scale-oversell-%d", i), "C0003", sku)
		}()
	}
	wg.Wait()
	var accepted []string
	for i, p := range results {
		switch {
		case p.err == "":
			accepted = append(accepted, p.final.name)
		case !strings.Contains(p.err, "OUT_OF_STOCK"):
			t.Errorf("order %d: %s; want accepted or OUT_OF_STOCK", i, p.err)
		}
	}
	if len(accepted) != 10 {
		t.Errorf("%d of %d orders accepted for 10 units", len(accepted), n)
	}
	for _, name := range m.Replicas(Inventory) {
		if calls := reserveCalls(ctx, t, m.Proc(name).AdminAddr) - before[name]; calls <= 0 {
			t.Errorf("%s served no ReserveStock call of the burst: the replicas are not both serving", name)
		}
	}

	// The inventory database after the run: nothing reserved beyond what
	// is on hand, and one open reservation per accepted order.
	conn, err := pgx.Connect(ctx, PostgresDSN(s.pg.Addr, DatabaseName(Inventory)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var onHand, reserved, open int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(sum(on_hand), 0), coalesce(sum(reserved), 0) FROM stock_levels WHERE sku = $1`, sku).
		Scan(&onHand, &reserved); err != nil {
		t.Fatal(err)
	}
	// Held, confirmed or committed to a shipment (1, 2, 4), naming the
	// SKU in their lines: fulfillment may already have committed some.
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM reservations WHERE state IN (1, 2, 4) AND lines LIKE '%' || $1 || '%'`, sku).
		Scan(&open); err != nil {
		t.Fatal(err)
	}
	if reserved > onHand || open != int64(len(accepted)) || reserved > int64(len(accepted)) {
		t.Errorf("%s in the inventory store: on hand %d, reserved %d, %d live reservations; want one live reservation per accepted order (%d), reserved within on hand",
			sku, onHand, reserved, open, len(accepted))
	}

	all := slices.Concat(names, accepted)
	assertInERPOnce(ctx, t, m, all)
	assertStreamsReplicated(ctx, t, m, len(all))
}

type orderResult struct {
	status int
	body   string
	name   string
}

// postOrder places a one-unit order of sku through the gateway at base;
// a broken connection fails the test.
func postOrder(ctx context.Context, t *testing.T, base, idem, customer, sku string) orderResult {
	r, err := tryOrder(ctx, base, idem, customer, sku)
	if err != nil {
		t.Errorf("order %s: %v", idem, err)
	}
	return r
}

// tryOrder places a one-unit order of sku through the gateway at base.
func tryOrder(ctx context.Context, base, idem, customer, sku string) (orderResult, error) {
	body, _ := json.Marshal(map[string]any{
		"customerId": customer, "currencyCode": "EUR",
		"lines": []map[string]any{{"sku": sku, "quantity": 1}},
		"shipTo": map[string]any{"recipient": "Demo GmbH", "lines": []string{"Hafenstr. 1"},
			"locality": "Hamburg", "postalCode": "20457", "regionCode": "DE"},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/orders", bytes.NewReader(body))
	if err != nil {
		return orderResult{}, err
	}
	req.Header.Set("Authorization", "Bearer "+DemoAPIKey)
	req.Header.Set("Idempotency-Key", idem)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return orderResult{}, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	var out struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(buf.Bytes(), &out)
	return orderResult{status: resp.StatusCode, body: buf.String(), name: out.Name}, nil
}

// reserveCalls sums the ReserveStock calls an inventory replica handled,
// from its metrics.
func reserveCalls(ctx context.Context, t *testing.T, adminAddr string) int64 {
	return int64(metricSum(ctx, t, adminAddr, "grpc_server_handled_total{", `grpc_method="ReserveStock"`))
}

// metricSum sums the samples of a process's /metrics whose line starts
// with prefix and contains every one of labels.
func metricSum(ctx context.Context, t *testing.T, adminAddr, prefix string, labels ...string) float64 {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+adminAddr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("metrics of %s: %v", adminAddr, err)
		return 0
	}
	defer resp.Body.Close()
	var total float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
lines:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue lines
			}
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		total += v
	}
	return total
}

// assertInERPOnce waits until every order is a sales order of erpsim,
// then checks that each is there exactly once.
func assertInERPOnce(ctx context.Context, t *testing.T, m *Mesh, names []string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		seen := map[string]int{}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.Proc(ERPSim).AdminAddr+"/control/sales-orders", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var so struct {
			Orders []struct {
				OrderID string `json:"orderId"`
			} `json:"orders"`
		}
		err = json.NewDecoder(resp.Body).Decode(&so)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range so.Orders {
			seen[o.OrderID]++
		}
		var missing, twice []string
		for _, n := range names {
			switch id := strings.TrimPrefix(n, "orders/"); {
			case seen[id] == 0:
				missing = append(missing, id)
			case seen[id] > 1:
				twice = append(twice, id)
			}
		}
		if len(twice) > 0 {
			t.Fatalf("orders in the ERP more than once: %v", twice)
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d orders never reached the ERP: %v", len(missing), len(names), missing)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// assertStreamsReplicated checks that the order stream, which the order
// replicas' relays created, is kept on all three NATS nodes and receives
// at least one event per order (the relays publish after their poll).
func assertStreamsReplicated(ctx context.Context, t *testing.T, m *Mesh, orders int) {
	t.Helper()
	nc, err := nats.Connect(m.natsURL(""))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, "TRANSLOAD_ORDER")
	if err != nil {
		t.Fatal(err)
	}
	var info *jetstream.StreamInfo
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		if info, err = s.Info(ctx); err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs >= uint64(orders) || time.Now().After(deadline) {
			break
		}
	}
	if info.Config.Replicas != 3 || info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 {
		t.Errorf("stream TRANSLOAD_ORDER: %d replicas, cluster %+v; want 3 (a leader and 2 peers)", info.Config.Replicas, info.Cluster)
	}
	if info.State.Msgs < uint64(orders) {
		t.Errorf("stream TRANSLOAD_ORDER holds %d messages after %d orders, want at least one each", info.State.Msgs, orders)
	}
}
