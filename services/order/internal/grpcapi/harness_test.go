package grpcapi_test

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/breaker"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/leakcheck"
	"github.com/transload/transload/platform/testharness/pgtest"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/order/internal/catalogclient"
	"github.com/transload/transload/services/order/internal/erpclient"
	"github.com/transload/transload/services/order/internal/fulfillmentclient"
	"github.com/transload/transload/services/order/internal/grpcapi"
	"github.com/transload/transload/services/order/internal/inventoryclient"
	"github.com/transload/transload/services/order/internal/neighbourfake"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
	"github.com/transload/transload/services/order/internal/store/sqlstore"
)

// TestMain stops the shared PostgreSQL cluster after the tests and fails
// the package if a test left a goroutine running (leakcheck).
func TestMain(m *testing.M) { leakcheck.Main(m, pgtest.Stop) }

// env is the order service over bufconn with fake neighbours.
type env struct {
	erp       *neighbourfake.ERP
	pricing   *neighbourfake.Pricing
	inventory *neighbourfake.Inventory
	fulfil    *neighbourfake.Fulfillment
	erpConn   *grpc.ClientConn
	// erpBreaker guards the ERP connection; the queue status reports it.
	erpBreaker *breaker.Breaker
	metrics    *recordingMetrics
	db         *sqldb.DB
	store      order.Store
	svc        *order.Service
	worker     *order.Worker
	client     orderv1.OrderServiceClient
}

type envOptions struct {
	postgres  bool
	noWorker  bool
	cfg       order.Config
	wrapStore func(order.Store) order.Store
	// failureExceptionAfter overrides the worker's default (5).
	failureExceptionAfter int
	// now is the service's clock (default time.Now).
	now func() time.Time
	// queueConcurrency overrides the worker's lanes (default 16).
	queueConcurrency int
	// worker adjusts the worker's configuration.
	worker func(*order.WorkerConfig)
	// erpOpenTimeout overrides how long the ERP breaker stays open
	// (fakeBreaker's 50ms).
	erpOpenTimeout time.Duration
}

var quiet = slog.New(slog.DiscardHandler)

// workerConfig makes the ERP queue workers of the tests quick to retry.
var workerConfig = order.WorkerConfig{
	PollInterval: 20 * time.Millisecond, BackoffBase: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
}

// serve serves register's service on a bufconn listener until t ends and
// returns a dialer for it.
func serve(t testing.TB, register func(*grpc.Server)) func(context.Context, string) (net.Conn, error) {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	s := grpc.NewServer()
	register(s)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }
}

// fakeBreaker trips after two failures and retries after 50ms, so tests
// see it open and close quickly.
func fakeBreaker(name string) *breaker.Breaker {
	bs := breaker.DefaultSettings()
	bs.ConsecutiveFailures = 2
	bs.OpenTimeout = 50 * time.Millisecond
	return breaker.New(name, bs, breaker.WithLogger(quiet))
}

func dialFake(t testing.TB, name string, dialer func(context.Context, string) (net.Conn, error), opts ...grpcclient.Option) *grpc.ClientConn {
	t.Helper()
	if len(opts) == 0 {
		opts = []grpcclient.Option{grpcclient.WithBreaker(fakeBreaker(name))}
	}
	conn, err := grpcclient.Dial("passthrough:///"+name, append([]grpcclient.Option{grpcclient.WithLogger(quiet),
		grpcclient.WithDefaultTimeout(2 * time.Second), grpcclient.WithDialOptions(grpc.WithContextDialer(dialer))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func newEnv(t testing.TB, opts ...func(*envOptions)) *env {
	t.Helper()
	var o envOptions
	for _, f := range opts {
		f(&o)
	}
	e := &env{erp: neighbourfake.NewERP(), pricing: &neighbourfake.Pricing{}, inventory: neighbourfake.NewInventory(),
		fulfil: &neighbourfake.Fulfillment{}, erpBreaker: fakeBreaker("erp"), metrics: &recordingMetrics{}}
	if o.erpOpenTimeout > 0 {
		bs := breaker.DefaultSettings()
		bs.ConsecutiveFailures, bs.OpenTimeout = 2, o.erpOpenTimeout
		e.erpBreaker = breaker.New("erp", bs, breaker.WithLogger(quiet))
	}
	e.erpConn = dialFake(t, "erp", serve(t, func(s *grpc.Server) { erpv1.RegisterErpAdapterServiceServer(s, e.erp) }),
		grpcclient.WithBreaker(e.erpBreaker))
	catConn := dialFake(t, "catalog", serve(t, func(s *grpc.Server) { catalogv1.RegisterPricingServiceServer(s, e.pricing) }))
	invConn := dialFake(t, "inventory", serve(t, func(s *grpc.Server) { inventoryv1.RegisterInventoryServiceServer(s, e.inventory) }))
	fulConn := dialFake(t, "fulfillment", serve(t, func(s *grpc.Server) { fulfillmentv1.RegisterFulfillmentServiceServer(s, e.fulfil) }))

	if o.postgres {
		e.db = sqldbtest.OpenPostgres(t, sqldb.WithLogger(quiet))
	} else {
		e.db = sqldbtest.OpenSQLite(t, sqldb.WithLogger(quiet))
	}
	if err := sqlstore.Migrate(t.Context(), e.db); err != nil {
		t.Fatal(err)
	}
	e.store = sqlstore.New(e.db, orderpb.Encoder{})
	if o.wrapStore != nil {
		e.store = o.wrapStore(e.store)
	}
	erp := erpclient.New(e.erpConn)
	cfg := o.cfg
	if cfg.ClaimWait == 0 {
		cfg.ClaimWait = 10 * time.Second
	}
	e.svc = order.NewService(cfg, order.Deps{
		Store: e.store, Customers: erp, Pricer: catalogclient.New(catConn), Inventory: inventoryclient.New(invConn),
		Fulfillment: fulfillmentclient.New(fulConn), Logger: quiet, Metrics: e.metrics, Now: o.now, OnCommit: func() {
			if e.worker != nil {
				e.worker.Notify()
			}
		},
		OnPublish: func() {}, // no relay here
	})
	wcfg := workerConfig
	wcfg.FailureExceptionAfter = o.failureExceptionAfter
	wcfg.Concurrency = o.queueConcurrency
	if o.worker != nil {
		o.worker(&wcfg)
	}
	wcfg.BreakerState = erpclient.BreakerState(e.erpBreaker)
	e.worker = order.NewWorker(wcfg, e.svc, erp)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	if !o.noWorker {
		wg.Go(func() { _ = e.worker.Run(ctx) })
	}

	lis := bufconn.Listen(1 << 20)
	srv, err := grpcserver.New(grpcserver.WithListener(lis), grpcserver.WithAdminAddr(""), grpcserver.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	orderv1.RegisterOrderServiceServer(srv, grpcapi.New(e.svc, e.worker, quiet))
	wg.Go(func() { _ = srv.Run(ctx) })
	conn, err := grpc.NewClient("passthrough:///order", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	e.client = orderv1.NewOrderServiceClient(conn)
	return e
}

func withoutWorker(o *envOptions) { o.noWorker = true }

// withQueueConcurrency sets the worker's lanes.
func withQueueConcurrency(n int) func(*envOptions) {
	return func(o *envOptions) { o.queueConcurrency = n }
}

func onPostgres(o *envOptions) { o.postgres = true }

// forEachEngine runs fn on an env with opts over a SQLite and over a
// PostgreSQL store.
func forEachEngine(t *testing.T, fn func(t *testing.T, e *env), opts ...func(*envOptions)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, newEnv(t, opts...)) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, newEnv(t, append(opts, onPostgres)...)) })
}

type line struct {
	sku string
	qty int64
}

func createReq(requestID, customer string, lines ...line) *orderv1.CreateOrderRequest {
	r := &orderv1.CreateOrderRequest{
		RequestId: requestID, CustomerId: customer, Channel: "web", CurrencyCode: "EUR",
		ShipTo: &commonv1.Address{Recipient: "ACME GmbH", Lines: []string{"Hafenstr. 1"}, Locality: "Hamburg", PostalCode: "20457", RegionCode: "DE"},
	}
	for _, l := range lines {
		r.Lines = append(r.Lines, &orderv1.CreateOrderRequest_Line{Sku: l.sku, Quantity: l.qty})
	}
	return r
}

// waitTimeout bounds every wait of the component tests.
const waitTimeout = 10 * time.Second

// waitEqual waits until get returns want.
func waitEqual[T any](t *testing.T, what string, get func() T, want T) {
	t.Helper()
	wait.Eventually(t, waitTimeout, what, func() error {
		got := get()
		return wait.Check(cmp.Equal(got, want), "got %v, want %v", got, want)
	})
}

// retryWhileUnavailable repeats call while it fails with UNAVAILABLE (a
// neighbour still down); any other error fails the test.
func retryWhileUnavailable(t *testing.T, what string, call func() error) {
	t.Helper()
	wait.Eventually(t, waitTimeout, what, func() error {
		err := call()
		if err != nil && status.Code(err) != codes.Unavailable {
			t.Fatalf("%s: %v", what, err)
		}
		return err
	})
}

// create places r and fails the test if that fails.
func (e *env) create(t testing.TB, r *orderv1.CreateOrderRequest) *orderv1.Order {
	t.Helper()
	res, err := e.client.CreateOrder(t.Context(), r)
	if err != nil {
		t.Fatalf("CreateOrder(%s): %v", r.GetRequestId(), err)
	}
	return res.GetOrder()
}

// createConfirmed places r, waits until the ERP confirmed it and returns
// its id.
func (e *env) createConfirmed(t testing.TB, r *orderv1.CreateOrderRequest) string {
	t.Helper()
	id := e.create(t, r).GetOrderId()
	e.waitState(t, id, orderv1.Order_STATE_CONFIRMED)
	return id
}

// counts returns how many orders the service lists (first page) and how
// many reservations inventory made.
func (e *env) counts(t *testing.T) (orders, reservations int) {
	t.Helper()
	list, err := e.client.ListOrders(t.Context(), &orderv1.ListOrdersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return len(list.GetOrders()), e.inventory.ReservationCount()
}

func (e *env) get(t testing.TB, id string) *orderv1.Order {
	t.Helper()
	o, err := e.client.GetOrder(t.Context(), &orderv1.GetOrderRequest{Name: "orders/" + id})
	if err != nil {
		t.Fatalf("GetOrder(%s): %v", id, err)
	}
	return o
}

func (e *env) waitState(t testing.TB, id string, want orderv1.Order_State) *orderv1.Order {
	t.Helper()
	var o *orderv1.Order
	wait.Eventually(t, waitTimeout, id+" in "+want.String(), func() error {
		o = e.get(t, id)
		return wait.Check(o.GetState() == want, "state %s", o.GetState())
	})
	return o
}

// waitSubjects waits until the outbox holds exactly the events with subjects
// want for order id.
func (e *env) waitSubjects(t *testing.T, id string, want ...string) {
	t.Helper()
	waitEqual(t, "events "+strings.Join(want, ", "), func() []string { return e.outboxSubjects(t, id) }, want)
}

// outboxSubjects returns the subjects of the outbox rows of an order.
func (e *env) outboxSubjects(t *testing.T, id string) []string {
	t.Helper()
	subjects, err := sqldb.QueryAll(t.Context(), e.db.SQL(),
		e.db.Rebind(`SELECT subject FROM outbox_events WHERE aggregate_id = ? ORDER BY aggregate_seq`), []any{id}, sqldb.ScanValue[string])
	if err != nil {
		t.Fatal(err)
	}
	return subjects
}

// recordingMetrics is an order.Metrics that remembers the decisions and
// propagation times it was told about.
type recordingMetrics struct {
	mu          sync.Mutex
	decisions   map[string]int // "channel/stage/accepted|rejected"
	propagation []time.Duration
}

func (m *recordingMetrics) ObserveAcceptance(time.Duration) {}
func (m *recordingMetrics) SetERPQueue(int, time.Duration)  {}
func (m *recordingMetrics) ObserveCustomerSync(time.Time)   {}
func (m *recordingMetrics) ObserveShipmentPropagation(d time.Duration) {
	m.with(func() { m.propagation = append(m.propagation, d) })
}

func (m *recordingMetrics) CountDecision(channel string, stage order.DecisionStage, accepted bool) {
	outcome := "rejected"
	if accepted {
		outcome = "accepted"
	}
	m.with(func() {
		if m.decisions == nil {
			m.decisions = map[string]int{}
		}
		m.decisions[channel+"/"+string(stage)+"/"+outcome]++
	})
}

func (m *recordingMetrics) with(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f()
}

// decisionCount returns how often CountDecision was told key
// ("channel/stage/accepted|rejected").
func (m *recordingMetrics) decisionCount(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.decisions[key]
}

// propagations returns the observed shipment propagation times.
func (m *recordingMetrics) propagations() []time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.propagation)
}
