package grpcapi_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/fakeclock"
	"github.com/transload/transload/platform/testharness/pgtest"
	"github.com/transload/transload/services/wmssim/internal/faults"
	"github.com/transload/transload/services/wmssim/internal/grpcapi"
	"github.com/transload/transload/services/wmssim/internal/store/sqlstore"
	"github.com/transload/transload/services/wmssim/internal/wms"
)

// step is the milestone interval of the simulated warehouse in these tests.
const step = time.Second

// env is one running simulator over bufconn.
type env struct {
	clock  *fakeclock.Clock
	faults *faults.Set
	svc    *wms.Service
	client wmsv1.WmsAdapterServiceClient
	conn   *grpc.ClientConn
	stop   func()
}

// start runs the simulator on the database at dsn (a new SQLite file when
// empty) with clock, and stops it when the test ends.
func start(t *testing.T, dsn string, clock *fakeclock.Clock) *env {
	t.Helper()
	if dsn == "" {
		dsn = sqldbtest.SQLiteDSN(t)
	}
	db, err := sqldb.Open(t.Context(), dsn, sqldb.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	e := startOn(t, db, clock)
	closeServer := e.stop
	e.stop = func() { closeServer(); db.Close() }
	t.Cleanup(e.stop)
	return e
}

// startOn runs the simulator on db (migrating it) with clock; the caller
// owns db.
func startOn(t *testing.T, db *sqldb.DB, clock *fakeclock.Clock) *env {
	t.Helper()
	if clock == nil {
		clock = fakeclock.New(fakeclock.Start)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	set := &faults.Set{}
	svc := wms.NewService(sqlstore.New(db), wms.WithClock(clock), wms.WithStep(step), wms.WithFaults(set), wms.WithLogger(logger))

	lis := bufconn.Listen(1 << 20)
	srv, err := grpcserver.New(
		grpcserver.WithListener(lis),
		grpcserver.WithAdminAddr(""),
		grpcserver.WithLogger(logger),
		grpcserver.WithUnaryInterceptors(grpcapi.FaultInterceptor(set)),
	)
	if err != nil {
		t.Fatal(err)
	}
	wmsv1.RegisterWmsAdapterServiceServer(srv, grpcapi.New(svc, logger))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			conn.Close()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &env{clock: clock, faults: set, svc: svc, client: wmsv1.NewWmsAdapterServiceClient(conn), conn: conn, stop: stop}
}

func TestMain(m *testing.M) { pgtest.Main(m) }

// callCtx returns a call context with a deadline, as every caller must set.
func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// advance moves the clock by n steps and processes what became due.
func (e *env) advance(t *testing.T, n int) int {
	t.Helper()
	e.clock.Advance(time.Duration(n) * step)
	got, err := e.svc.ProcessDue(callCtx(t))
	if err != nil {
		t.Fatalf("process due: %v", err)
	}
	return got
}

func shipmentRequest(orderID, warehouse string) *wmsv1.ShipmentRequest {
	return &wmsv1.ShipmentRequest{
		OrderId:       orderID,
		WarehouseCode: warehouse,
		ShipTo: &commonv1.Address{
			Recipient: "Erika Musterfrau", Lines: []string{"Hauptstr. 1"},
			Locality: "Hamburg", PostalCode: "20095", RegionCode: "DE",
		},
		Lines: []*wmsv1.ShipmentRequestLine{
			{LineId: "1", Sku: "SKU-00001", Quantity: 2},
			{LineId: "2", Sku: "SKU-00002", Quantity: 1},
		},
		ServiceLevel: wmsv1.ServiceLevel_SERVICE_LEVEL_STANDARD,
	}
}

func create(t *testing.T, e *env, id, warehouse string) *wmsv1.CreateShipmentRequestResponse {
	t.Helper()
	res, err := e.client.CreateShipmentRequest(callCtx(t), &wmsv1.CreateShipmentRequestRequest{
		ShipmentRequestId: id, ShipmentRequest: shipmentRequest("O-"+id, warehouse),
	})
	if err != nil {
		t.Fatalf("create %s: %v", id, err)
	}
	return res
}

// allEvents reads the shipment feed from cursor to its end in pages of
// size and returns the events and the final cursor.
func allEvents(t *testing.T, e *env, cursor string, size int32) ([]*wmsv1.ShipmentEvent, string) {
	t.Helper()
	var out []*wmsv1.ShipmentEvent
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("feed does not end")
		}
		res, err := e.client.ListShipmentEvents(callCtx(t), &wmsv1.ListShipmentEventsRequest{Cursor: cursor, PageSize: size})
		if err != nil {
			t.Fatalf("list shipment events: %v", err)
		}
		if res.GetNextCursor() == "" {
			t.Fatal("next_cursor is empty")
		}
		if size > 0 && len(res.GetShipmentEvents()) > int(size) {
			t.Fatalf("page of %d events, page size %d", len(res.GetShipmentEvents()), size)
		}
		out = append(out, res.GetShipmentEvents()...)
		cursor = res.GetNextCursor()
		if !res.GetHasMore() {
			return out, cursor
		}
	}
}
