package grpcapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/services/erpsim/internal/erp"
	"github.com/transload/transload/services/erpsim/internal/faults"
	"github.com/transload/transload/services/erpsim/internal/grpcapi"
	"github.com/transload/transload/services/erpsim/internal/store/sqlstore"
)

// env is erpsim's gRPC server, with the platform's standard chain, over
// bufconn on a fresh seeded SQLite database.
type env struct {
	client erpv1.ErpAdapterServiceClient
	conn   *grpc.ClientConn
	faults *faults.Faults
	svc    *erp.Service
	reg    *prometheus.Registry
	// stopWatches ends the WatchStockEvents streams (grpcapi.WithStopping).
	stopWatches func()
}

// counter returns the value of the counter name with the one label value
// given, 0 when absent.
func (e *env) counter(t *testing.T, name, labelValue string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == labelValue {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := t.Context()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	db := sqldbtest.OpenSQLite(t, sqldb.WithLogger(logger))
	if err := sqlstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	f := faults.New()
	svc := erp.NewService(sqlstore.New(db), erp.WithRejector(f), erp.WithJournalRejector(f))
	if _, err := svc.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	lis := bufconn.Listen(1 << 20)
	srv, err := grpcserver.New(
		grpcserver.WithListener(lis),
		grpcserver.WithAdminAddr(""),
		grpcserver.WithLogger(logger),
		grpcserver.WithUnaryInterceptors(grpcapi.UnaryFaults(f)),
		grpcserver.WithStreamInterceptors(grpcapi.StreamFaults(f)),
	)
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := grpcapi.NewMetrics(srv.Registry())
	if err != nil {
		t.Fatal(err)
	}
	stopping := make(chan struct{})
	erpv1.RegisterErpAdapterServiceServer(srv, grpcapi.NewServer(svc, logger, metrics, grpcapi.WithStopping(stopping)))
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	conn, err := grpc.NewClient("passthrough:///erpsim",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	stopWatches := sync.OnceFunc(func() { close(stopping) })
	t.Cleanup(func() {
		stopWatches()
		_ = conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server Run: %v", err)
		}
	})
	return &env{client: erpv1.NewErpAdapterServiceClient(conn), conn: conn, faults: f, svc: svc, reg: srv.Registry(),
		stopWatches: stopWatches}
}

// callCtx bounds one test call.
func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func eur(minor int64) *commonv1.Money {
	return &commonv1.Money{AmountMinor: minor, CurrencyCode: "EUR"}
}

type line struct {
	sku   string
	qty   int64
	price int64
}

// salesOrder builds a valid submission; the grand total is the sum of the
// lines.
func salesOrder(customer, channel string, lines ...line) *erpv1.SalesOrder {
	so := &erpv1.SalesOrder{
		CustomerId:   customer,
		Channel:      channel,
		CurrencyCode: "EUR",
		ShipTo:       &commonv1.Address{Recipient: "Test", Lines: []string{"Teststraße 1"}, Locality: "Hamburg", PostalCode: "20095", RegionCode: "DE"},
		PlaceTime:    timestamppb.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
	}
	var total int64
	for i, l := range lines {
		net := l.qty * l.price
		total += net
		so.Lines = append(so.Lines, &erpv1.SalesOrderLine{
			LineId:      string(rune('1' + i)),
			Sku:         l.sku,
			Quantity:    &commonv1.Quantity{Value: l.qty, Unit: "EA"},
			UnitPrice:   eur(l.price),
			NetAmount:   eur(net),
			Allocations: []*erpv1.WarehouseAllocation{{WarehouseCode: "WH-HAM", Quantity: l.qty}},
		})
	}
	so.Subtotal, so.GrandTotal = eur(total), eur(total)
	return so
}

func submit(t *testing.T, e *env, id string, so *erpv1.SalesOrder) *erpv1.SubmitSalesOrderResponse {
	t.Helper()
	res, err := e.client.SubmitSalesOrder(callCtx(t), &erpv1.SubmitSalesOrderRequest{SalesOrderId: id, SalesOrder: so})
	if err != nil {
		t.Fatalf("SubmitSalesOrder(%s): %v", id, err)
	}
	return res
}

// wantStatus checks err's code and ErrorInfo reason (reason nil: any).
func wantStatus(t *testing.T, err error, code codes.Code, reason apierr.Reason) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Fatalf("code = %v (%v), want %v", got, err, code)
	}
	if reason != nil && !apierr.HasReason(err, reason) {
		t.Fatalf("reason = %q, want %s (err %v)", apierr.ReasonOf(err), reason, err)
	}
}

func lineHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func postingDate() *date.Date { return &date.Date{Year: 2026, Month: 3, Day: 5} }

// recvAll reads a server stream to its end.
func recvAll[T any](t *testing.T, recv func() (*T, error)) []*T {
	t.Helper()
	var out []*T
	for {
		m, err := recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		out = append(out, m)
	}
}

// timestampAfterSeed is a sync watermark after the seeded update times.
func timestampAfterSeed() *timestamppb.Timestamp {
	return timestamppb.New(erp.SeedTime.Add(time.Second))
}
