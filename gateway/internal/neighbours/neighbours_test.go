package neighbours

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/grpcclient"

	"github.com/transload/transload/gateway/internal/auth"
)

// deadlines records how much time the caller left each call, by method.
type deadlines struct {
	mu   sync.Mutex
	left map[string]time.Duration
}

// handler answers every method of every service with an empty message (all
// fields unset), recording the deadline the call arrived with.
func (d *deadlines) handler(_ any, stream grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(stream)
	d.mu.Lock()
	d.left[method] = -1
	if dl, ok := stream.Context().Deadline(); ok {
		d.left[method] = time.Until(dl)
	}
	d.mu.Unlock()
	if err := stream.RecvMsg(&emptypb.Empty{}); err != nil {
		return err
	}
	return stream.SendMsg(&emptypb.Empty{})
}

// TestDialGivesEachNeighbourItsOwnDeadline checks that a call without a
// deadline reaches each neighbour with that neighbour's configured timeout,
// and that a caller's shorter deadline wins.
func TestDialGivesEachNeighbourItsOwnDeadline(t *testing.T) {
	t.Parallel()
	d := &deadlines{left: map[string]time.Duration{}}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpc.UnknownServiceHandler(d.handler))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	target := func(timeout time.Duration) Target { return Target{Addr: "passthrough:///neighbour", Timeout: timeout} }
	c, err := Dial(Targets{Catalog: target(10 * time.Second), Inventory: target(20 * time.Second),
		Order: target(30 * time.Second), Fulfillment: target(40 * time.Second), Ops: target(50 * time.Second)},
		grpcclient.WithDialOptions(grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) })))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })

	ctx := context.Background()
	calls := []error{}
	_, err = c.Catalog.GetProduct(ctx, &catalogv1.GetProductRequest{})
	calls = append(calls, err)
	_, err = c.Inventory.CheckAvailability(ctx, &inventoryv1.CheckAvailabilityRequest{})
	calls = append(calls, err)
	_, err = c.Orders.GetOrder(ctx, &orderv1.GetOrderRequest{})
	calls = append(calls, err)
	_, err = c.Fulfillment.GetShipment(ctx, &fulfillmentv1.GetShipmentRequest{})
	calls = append(calls, err)
	_, err = c.Ops.GetKpis(ctx, &opsv1.GetKpisRequest{})
	calls = append(calls, err)
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = c.Pricing.QuotePrices(short, &catalogv1.QuotePricesRequest{})
	calls = append(calls, err)
	for i, err := range calls {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	timeouts := map[string]time.Duration{
		catalogv1.CatalogService_GetProduct_FullMethodName:            10 * time.Second,
		inventoryv1.InventoryService_CheckAvailability_FullMethodName: 20 * time.Second,
		orderv1.OrderService_GetOrder_FullMethodName:                  30 * time.Second,
		fulfillmentv1.FulfillmentService_GetShipment_FullMethodName:   40 * time.Second,
		opsv1.OpsService_GetKpis_FullMethodName:                       50 * time.Second,
		catalogv1.PricingService_QuotePrices_FullMethodName:           2 * time.Second, // the caller's deadline
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, want := range timeouts {
		// The deadline travels as grpc-timeout; allow for the time the call took.
		if got := d.left[name]; got > want || got < want-5*time.Second {
			t.Errorf("%s: the call had %v left, want about %v", name, got, want)
		}
	}
}

// TestOpsMethodsAreSafeToRetry holds the reason every ops.v1 method is in
// opsIdempotent: it only reads (auth.OpsRead) or its request carries a
// request_id the ops service de-duplicates on.
func TestOpsMethodsAreSafeToRetry(t *testing.T) {
	t.Parallel()
	svc := opsv1.File_transload_ops_v1_ops_service_proto.Services().ByName("OpsService")
	if svc == nil {
		t.Fatal("no OpsService in the ops.v1 descriptor")
	}
	methods := svc.Methods()
	if methods.Len() != len(opsIdempotent) {
		t.Errorf("OpsService has %d methods, opsIdempotent %d", methods.Len(), len(opsIdempotent))
	}
	for i := range methods.Len() {
		m := methods.Get(i)
		full := "/" + string(svc.FullName()) + "/" + string(m.Name())
		if !slices.Contains(opsIdempotent, full) {
			t.Errorf("%s is not retried", full)
		}
		if fd := m.Input().Fields().ByName("request_id"); !auth.OpsRead(full) && (fd == nil || fd.Kind() != protoreflect.StringKind) {
			t.Errorf("%s is a mutation without a request_id: retrying it could apply it twice", full)
		}
	}
}
