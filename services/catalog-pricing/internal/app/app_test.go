package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/svcmain"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/catalog-pricing/internal/app"
	"github.com/transload/transload/services/catalog-pricing/internal/config"
	"github.com/transload/transload/services/catalog-pricing/internal/erptest"
)

// instance is one running service under test.
type instance struct {
	conn     *grpc.ClientConn
	catalog  catalogv1.CatalogServiceClient
	pricing  catalogv1.PricingServiceClient
	adminURL string
	stop     func()
}

// testEnv returns the environment of a service on a fresh SQLite file with
// short retry delays; extra overrides it.
func testEnv(t testing.TB, extra map[string]string) map[string]string {
	env := map[string]string{
		"DATABASE_URL":                     sqldbtest.SQLiteDSN(t),
		"ERP_ADDR":                         "passthrough:///erp",
		"NATS_URL":                         "",
		"CATALOG_SYNC_RETRY_MIN":           "5ms",
		"CATALOG_SYNC_RETRY_MAX":           "20ms",
		"CATALOG_ERP_BREAKER_OPEN_TIMEOUT": "20ms",
		"CATALOG_ERP_TIMEOUT":              "2s",
		"CATALOG_EXPORT_TIMEOUT":           "5s",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// start runs the service as main does (svcmain.Start, then app.Run) with
// in-memory gRPC, a loopback admin listener and the fake ERP; stop (also
// run at cleanup) shuts it down, waits and closes the runtime.
func start(t testing.TB, env map[string]string, erp grpc.DialOption, trigger ...chan struct{}) *instance {
	t.Helper()
	logs := io.Writer(io.Discard)
	if testing.Verbose() {
		logs = &testWriter{t}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var cfg config.Config
	rt, err := svcmain.Start(ctx, "catalog-pricing", func(k string) string { return env[k] }, logs, &cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	grpcLis := bufconn.Listen(1 << 20)
	adminLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	deps := app.Deps{Runtime: rt, GRPCListener: grpcLis, AdminListener: adminLis, ERPDialOptions: []grpc.DialOption{erp}}
	if len(trigger) > 0 {
		deps.SyncTrigger = trigger[0]
	}
	go func() { done <- app.Run(ctx, cfg, deps) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("app.Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("app.Run did not return after cancel")
		}
		if err := rt.Close(); err != nil {
			t.Errorf("runtime close: %v", err)
		}
	}
	t.Cleanup(stop)
	conn := dialBuf(t, grpcLis)
	return &instance{
		conn: conn, catalog: catalogv1.NewCatalogServiceClient(conn), pricing: catalogv1.NewPricingServiceClient(conn),
		adminURL: "http://" + adminLis.Addr().String(), stop: stop,
	}
}

type testWriter struct{ t testing.TB }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// readyStatus returns the HTTP status of /readyz.
func (in *instance) readyStatus(t testing.TB) int {
	t.Helper()
	resp, err := http.Get(in.adminURL + "/readyz")
	if err != nil {
		t.Fatalf("readyz: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// get returns the body of an admin endpoint.
func (in *instance) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get(in.adminURL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (in *instance) waitReady(t testing.TB) {
	t.Helper()
	wait.Eventually(t, 20*time.Second, "/readyz 200", func() error {
		code := in.readyStatus(t)
		return wait.Check(code == http.StatusOK, "/readyz is %d", code)
	})
}

// startReady starts a service with a healthy fake ERP and waits until it
// has imported and published.
func startReady(t *testing.T) (*instance, *fakeERP) {
	t.Helper()
	erp := newFakeERP()
	in := start(t, testEnv(t, nil), erptest.Serve(t, erp))
	in.waitReady(t)
	return in, erp
}

func TestImportAtStartRetriesWhileERPIsDown(t *testing.T) {
	t.Parallel()
	erp := newFakeERP()
	erp.down.Store(true)
	in := start(t, testEnv(t, nil), erptest.Serve(t, erp))

	// While the ERP is down the service serves but is not ready, and it
	// keeps retrying in the background.
	wait.Eventually(t, 20*time.Second, "three import attempts", func() error {
		n := erp.catalogCalls.Load()
		return wait.Check(n >= 3, "%d attempts", n)
	})
	if got := in.readyStatus(t); got != http.StatusServiceUnavailable {
		t.Fatalf("readyz while the ERP is down = %d, want 503", got)
	}
	_, err := in.catalog.GetCatalogVersion(t.Context(), &catalogv1.GetCatalogVersionRequest{Name: "catalogVersions/current"})
	if status.Code(err) != codes.NotFound || !hasReason(err, "ERROR_REASON_CATALOG_VERSION_NOT_FOUND") {
		t.Fatalf("current version before import: %v", err)
	}

	erp.down.Store(false)
	in.waitReady(t)
	v, err := in.catalog.GetCatalogVersion(t.Context(), &catalogv1.GetCatalogVersionRequest{Name: "catalogVersions/current"})
	if err != nil {
		t.Fatal(err)
	}
	if v.GetVersion() != 1 || v.GetProductCount() != nProducts || v.GetSellableProductCount() != nProducts-1 ||
		v.GetState() != catalogv1.CatalogVersion_STATE_PUBLISHED || v.GetName() != "catalogVersions/1" {
		t.Fatalf("published version = %v", v)
	}
	p, err := in.catalog.GetProduct(t.Context(), &catalogv1.GetProductRequest{Name: "products/SKU-00001"})
	if err != nil {
		t.Fatal(err)
	}
	if p.GetCategory() != "tools/power-tools/drills" || p.GetBrand() != "Makita" || p.GetWeightGrams() != 1250 ||
		strings.Join(p.GetChannels(), ",") != "web,b2b" || p.GetCatalogVersion() != "catalogVersions/1" ||
		p.GetStatus() != catalogv1.ProductStatus_PRODUCT_STATUS_ACTIVE || p.GetPackSize() != 1 || p.GetEtag() == "" {
		t.Fatalf("imported product = %v", p)
	}
}

func TestRestartWithPublishedCatalogIsReadyWithoutERP(t *testing.T) {
	t.Parallel()
	erp := newFakeERP()
	env := testEnv(t, nil)
	first := start(t, env, erptest.Serve(t, erp))
	first.waitReady(t)
	first.stop()

	down := newFakeERP()
	down.down.Store(true)
	second := start(t, env, erptest.Serve(t, down))
	if got := second.readyStatus(t); got != http.StatusOK {
		t.Fatalf("readyz after restart on a loaded database = %d, want 200 at once", got)
	}
	if _, err := second.catalog.GetProduct(t.Context(), &catalogv1.GetProductRequest{Name: "products/SKU-00002"}); err != nil {
		t.Fatal(err)
	}
	if n := down.catalogCalls.Load(); n != 0 {
		t.Fatalf("the restarted service called the ERP %d times; a published catalog needs no import", n)
	}
}

func hasReason(err error, reason string) bool {
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if info, ok := d.(interface{ GetReason() string }); ok && info.GetReason() == reason {
			return true
		}
	}
	return false
}

// TestOnDemandSync: the sync trigger (SIGHUP in main) re-imports from the
// ERP and publishes the changes as a new version.
func TestOnDemandSync(t *testing.T) {
	t.Parallel()
	erp := newFakeERP()
	trigger := make(chan struct{})
	in := start(t, testEnv(t, nil), erptest.Serve(t, erp), trigger)
	in.waitReady(t)

	erp.mu.Lock()
	erp.products = erp.products[:nProducts-1] // SKU-00005 leaves the ERP
	erp.prices[0] = &erpv1.ListPrice{PriceListId: "PL-EUR", Sku: sku(1), Unit: "EA", UnitPrice: eur(777)}
	erp.mu.Unlock()
	trigger <- struct{}{}

	wait.Eventually(t, 20*time.Second, "catalog version 2", func() error {
		v, err := in.catalog.GetCatalogVersion(t.Context(), &catalogv1.GetCatalogVersionRequest{Name: "catalogVersions/current"})
		if err != nil {
			return err
		}
		return wait.Check(v.GetVersion() == 2, "current version is %d", v.GetVersion())
	})
	p, err := in.catalog.GetProduct(t.Context(), &catalogv1.GetProductRequest{Name: "products/" + sku(5)})
	if err != nil || p.GetStatus() != catalogv1.ProductStatus_PRODUCT_STATUS_DISCONTINUED {
		t.Fatalf("product dropped by the ERP = %v, %v; want DISCONTINUED", p, err)
	}
	q, err := in.pricing.QuotePrices(t.Context(), &catalogv1.QuotePricesRequest{Channel: "web", CurrencyCode: "EUR",
		Lines: []*catalogv1.QuoteRequestLine{{Sku: sku(1), Quantity: 2}}})
	if err != nil || q.GetTotal().GetAmountMinor() != 1554 {
		t.Fatalf("quote after sync = %v, %v; want 2 × 777", q.GetTotal(), err)
	}
}
