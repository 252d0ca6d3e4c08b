package launcher

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
// cluster: three NATS nodes in one JetStream cluster, two replicas of
// catalog-pricing, inventory, order, fulfillment and the gateway. It
// proves that the streams are replicated on all three nodes, that orders
// placed through both gateways are accepted and reach the ERP exactly
// once, and that concurrent orders on a SKU with 10 units, spread over
// both gateways while both inventory replicas serve, accept exactly 10
// and never oversell, read back from the inventory database. Then it runs
// issue #13's fault scenario 3 (orderInventoryFaults, toxiproxy).
func TestScaleTopology(t *testing.T) {
	harness.LookBinary(t, "initdb", "apt-get install -y postgresql", "/usr/lib/postgresql/*/bin/initdb")
	harness.LookBinary(t, "postgres", "apt-get install -y postgresql", "/usr/lib/postgresql/*/bin/postgres")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
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
	pg := startTestPostgres(ctx, t, filepath.Join(base, "postgres"))
	t.Cleanup(func() { _ = pg.Stop() })
	if err := CreateDatabases(ctx, pg.Addr, nil); err != nil {
		t.Fatal(err)
	}
	m, err := Start(ctx, Config{BinDir: bins(t), DataDir: filepath.Join(base, "data"), FreePorts: true, Scale: true,
		ExtraEnv: PostgresEnv(pg.Addr)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)

	gateways := m.RESTURLs()
	if len(gateways) != 2 {
		t.Fatalf("gateways %v, want 2", gateways)
	}

	// Orders through both gateways, then the ERP holds each once.
	var names []string
	for i := range 6 {
		r := postOrder(ctx, t, gateways[i%2], fmt.Sprintf("scale-flow-%d", i), "C0001", "SKU-00001")
		if r.status != http.StatusOK {
			t.Fatalf("order %d through %s: %d %s", i, gateways[i%2], r.status, r.body)
		}
		names = append(names, r.name)
	}

	// Concurrent single-unit orders on SKU-00500 (10 units, erpsim's
	// seed), spread over both gateways.
	const sku = "SKU-00500"
	n := scaleOrders(t)
	results := make([]orderResult, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = postOrder(ctx, t, gateways[i%2], fmt.Sprintf("scale-oversell-%d", i), "C0003", sku)
		}()
	}
	wg.Wait()
	var accepted []string
	for i, r := range results {
		switch {
		case r.status == http.StatusOK:
			accepted = append(accepted, r.name)
		case !strings.Contains(r.body, "OUT_OF_STOCK"):
			t.Errorf("order %d: %d %s; want accepted or OUT_OF_STOCK", i, r.status, r.body)
		}
	}
	if len(accepted) != 10 {
		t.Errorf("%d of %d orders accepted for 10 units", len(accepted), n)
	}
	for _, name := range m.Replicas(Inventory) {
		if calls := reserveCalls(ctx, t, m.Proc(name).AdminAddr); calls == 0 {
			t.Errorf("%s served no ReserveStock call: the replicas are not both serving", name)
		}
	}

	// The inventory database after the run: nothing reserved beyond what
	// is on hand, and one open reservation per accepted order.
	conn, err := pgx.Connect(ctx, PostgresDSN(pg.Addr, DatabaseName(Inventory)))
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

	t.Run("order-inventory latency then partition", func(t *testing.T) { orderInventoryFaults(ctx, t, m, pg.Addr) })
}

type orderResult struct {
	status int
	body   string
	name   string
}

// postOrder places a one-unit order of sku through the gateway at base.
func postOrder(ctx context.Context, t *testing.T, base, idem, customer, sku string) orderResult {
	body, _ := json.Marshal(map[string]any{
		"customerId": customer, "currencyCode": "EUR",
		"lines": []map[string]any{{"sku": sku, "quantity": 1}},
		"shipTo": map[string]any{"recipient": "Demo GmbH", "lines": []string{"Hafenstr. 1"},
			"locality": "Hamburg", "postalCode": "20457", "regionCode": "DE"},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/orders", bytes.NewReader(body))
	if err != nil {
		t.Error(err)
		return orderResult{}
	}
	req.Header.Set("Authorization", "Bearer "+DemoAPIKey)
	req.Header.Set("Idempotency-Key", idem)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("order %s: %v", idem, err)
		return orderResult{}
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	var out struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(buf.Bytes(), &out)
	return orderResult{status: resp.StatusCode, body: buf.String(), name: out.Name}
}

// reserveCalls sums the ReserveStock calls an inventory replica handled,
// from its metrics.
func reserveCalls(ctx context.Context, t *testing.T, adminAddr string) int64 {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+adminAddr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("metrics of %s: %v", adminAddr, err)
		return 0
	}
	defer resp.Body.Close()
	var total int64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "grpc_server_handled_total{") || !strings.Contains(line, `grpc_method="ReserveStock"`) {
			continue
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		total += int64(v)
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
	nc, err := nats.Connect(m.natsURL())
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
