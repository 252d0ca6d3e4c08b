package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/cache"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/platform/testharness/fakeclock"
	"github.com/transload/transload/platform/testharness/wait"

	"github.com/transload/transload/gateway/internal/app"
	"github.com/transload/transload/gateway/internal/config"
)

// API keys of the test gateway.
const (
	keyWeb      = "test-web-key-0001"      // channel web, any customer
	keyC0001    = "test-c0001-key-0001"    // channel web, bound to C0001
	keyB2B      = "test-b2b-key-0001"      // channel b2b
	keyAdmin    = "test-admin-key-0001"    // operator, through the admin alias
	keyOperator = "test-operator-key-0001" // operator
	keyViewer   = "test-viewer-key-0001"   // operator with the viewer role
	testAPIKey  = keyWeb + ":web," + keyC0001 + ":web:C0001," + keyB2B + ":b2b," + keyAdmin + ":ops:admin," +
		keyOperator + ":ops:operator," + keyViewer + ":ops:viewer"
)

// opsDownAddr is an OPS_ADDR the test dialer refuses, as if the ops
// service were not running.
const opsDownAddr = "passthrough:///ops-down"

// env is a running gateway (gRPC over bufconn, REST over loopback TCP) with
// fake neighbours over bufconn.
type env struct {
	t           testing.TB
	baseURL     string
	adminURL    string
	conn        *grpc.ClientConn
	client      storefrontv1.StorefrontServiceClient
	clock       *fakeclock.Clock
	catalog     *fakeCatalog
	pricing     *fakePricing
	inventory   *fakeInventory
	orders      *fakeOrders
	fulfillment *fakeFulfillment
	ops         *fakeOps
	// stop shuts the gateway down and flushes its traces; the test's
	// cleanup calls it too.
	stop func()
}

// newEnv starts the gateway; extraEnv are KEY=value settings. With
// REDIS_ADDR among them the gateway builds its Redis cache store from the
// configuration, otherwise it uses an in-process store.
func newEnv(t testing.TB, extraEnv ...string) *env {
	t.Helper()
	e := &env{
		t: t, clock: fakeclock.New(fakeclock.Start),
		catalog: newFakeCatalog(), pricing: newFakePricing(), inventory: newFakeInventory(),
		orders: newFakeOrders(), fulfillment: &fakeFulfillment{}, ops: &fakeOps{},
	}

	nlis := bufconn.Listen(1 << 20)
	ns := grpc.NewServer()
	catalogv1.RegisterCatalogServiceServer(ns, e.catalog)
	catalogv1.RegisterPricingServiceServer(ns, e.pricing)
	inventoryv1.RegisterInventoryServiceServer(ns, e.inventory)
	orderv1.RegisterOrderServiceServer(ns, e.orders)
	fulfillmentv1.RegisterFulfillmentServiceServer(ns, e.fulfillment)
	e.ops.register(ns)
	go func() { _ = ns.Serve(nlis) }()
	t.Cleanup(ns.Stop)

	vars := map[string]string{
		"API_KEYS":         testAPIKey,
		"CATALOG_ADDR":     "passthrough:///catalog",
		"INVENTORY_ADDR":   "passthrough:///inventory",
		"ORDER_ADDR":       "passthrough:///order",
		"FULFILLMENT_ADDR": "passthrough:///fulfillment",
		"OPS_ADDR":         "passthrough:///ops",
		"LOG_LEVEL":        "error",
		"NATS_URL":         "",
	}
	for _, kv := range extraEnv {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	var cfg config.Config
	rt, err := svcmain.Start(context.Background(), "gateway", func(k string) string { return vars[k] }, io.Discard, &cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}

	glis := bufconn.Listen(1 << 20)
	httpLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var store cache.Store
	if vars["REDIS_ADDR"] == "" {
		store = cache.NewMemoryStore(10_000, 16<<20)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g, err := app.New(ctx, cfg, rt, app.Deps{
		GRPCListener:    glis,
		AdminListener:   adminLis,
		HTTPListener:    httpLis,
		SelfDialOptions: []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return glis.DialContext(ctx) })},
		NeighbourOptions: []grpcclient.Option{grpcclient.WithDialOptions(grpc.WithContextDialer(
			func(ctx context.Context, addr string) (net.Conn, error) {
				if "passthrough:///"+addr == opsDownAddr {
					return nil, errors.New("connection refused")
				}
				return nlis.DialContext(ctx)
			}))},
		CacheStore: store,
		Now:        e.clock.Now,
	})
	if err != nil {
		cancel()
		_ = rt.Close()
		t.Fatalf("app.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("gateway Run: %v", err)
			}
			_ = rt.Close()
		})
	}
	t.Cleanup(e.stop)
	e.baseURL = "http://" + g.HTTPAddr().String()
	e.adminURL = "http://" + g.AdminAddr().String()

	e.conn, err = grpc.NewClient("passthrough:///gateway",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return glis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.conn.Close() })
	e.client = storefrontv1.NewStorefrontServiceClient(e.conn)

	// Wait until the admin readiness endpoint says the gateway serves.
	wait.Eventually(t, 10*time.Second, "gateway ready", func() error {
		resp, err := http.Get(e.adminURL + "/readyz")
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		return wait.Check(resp.StatusCode == http.StatusOK, "/readyz answers %d", resp.StatusCode)
	})
	return e
}

// response is a REST answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, r.body)
	}
	return m
}

// errorBody decodes the one REST error shape.
type errorBody struct {
	Code          int               `json:"code"`
	Status        string            `json:"status"`
	Message       string            `json:"message"`
	Details       []json.RawMessage `json:"details"`
	CorrelationID string            `json:"correlationId"`
}

type detail struct {
	Type            string            `json:"@type"`
	Reason          string            `json:"reason"`
	Domain          string            `json:"domain"`
	Metadata        map[string]string `json:"metadata"`
	FieldViolations []struct {
		Field       string `json:"field"`
		Description string `json:"description"`
	} `json:"fieldViolations"`
	Violations []struct {
		Type        string `json:"type"`
		Subject     string `json:"subject"`
		Description string `json:"description"`
	} `json:"violations"`
}

func (r response) errorBody(t *testing.T) (errorBody, []detail) {
	t.Helper()
	var eb errorBody
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil {
		t.Fatalf("error body does not have the error shape: %v: %s", err, r.body)
	}
	var ds []detail
	for _, raw := range eb.Details {
		var d detail
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("detail: %v", err)
		}
		ds = append(ds, d)
	}
	if eb.CorrelationID == "" || eb.CorrelationID != r.header.Get("X-Correlation-Id") {
		t.Errorf("correlationId %q, X-Correlation-Id header %q: want equal and set", eb.CorrelationID, r.header.Get("X-Correlation-Id"))
	}
	if len(ds) == 0 || ds[0].Type != "type.googleapis.com/google.rpc.ErrorInfo" || ds[0].Domain != "transload.dev" {
		t.Errorf("first detail is not a transload.dev ErrorInfo: %s", r.body)
	}
	return eb, ds
}

func (r response) reason(t *testing.T) string {
	t.Helper()
	_, ds := r.errorBody(t)
	if len(ds) == 0 {
		return ""
	}
	return ds[0].Reason
}

func (r response) fieldViolations(t *testing.T) map[string]string {
	t.Helper()
	_, ds := r.errorBody(t)
	out := map[string]string{}
	for _, d := range ds {
		for _, fv := range d.FieldViolations {
			out[fv.Field] = fv.Description
		}
	}
	return out
}

// do sends a REST request; key "" sends no credentials; headers are
// name/value pairs.
func (e *env) do(method, path, key, body string, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.baseURL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

const orderBody = `{"customerId":"C0002","shipTo":{"recipient":"Acme GmbH","lines":["Hafenstr. 1"],"locality":"Hamburg","postalCode":"20457","regionCode":"DE"},"currencyCode":"EUR","lines":[{"sku":"SKU-00001","quantity":2}]}`

// createOrder places orderBody (customer replaced) with key and returns the order name.
func (e *env) createOrder(key, customer, idemKey string) string {
	e.t.Helper()
	body := strings.Replace(orderBody, `"C0002"`, `"`+customer+`"`, 1)
	r := e.do("POST", "/v1/orders", key, body, "Idempotency-Key", idemKey)
	if r.status != http.StatusOK {
		e.t.Fatalf("create order: %d %s", r.status, r.body)
	}
	name, _ := r.json(e.t)["name"].(string)
	if name == "" {
		e.t.Fatalf("create order: no name in %s", r.body)
	}
	return name
}
