package grpcapi_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/grpcapi"
	"github.com/transload/transload/services/fulfillment/internal/store/sqlstore"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func start(t *testing.T, retrier grpcapi.Retrier, opts ...grpcapi.Option) (fulfillmentv1.FulfillmentServiceClient, *sqlstore.Store) {
	t.Helper()
	db := sqldbtest.OpenSQLite(t)
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	store := sqlstore.New(db)
	lis := bufconn.Listen(1 << 20)
	srv, err := grpcserver.New(grpcserver.WithListener(lis), grpcserver.WithAdminAddr(""))
	if err != nil {
		t.Fatal(err)
	}
	fulfillmentv1.RegisterFulfillmentServiceServer(srv, grpcapi.NewServer(store, retrier, nil, opts...))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return fulfillmentv1.NewFulfillmentServiceClient(conn), store
}

func seed(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	err := s.InTx(t.Context(), func(tx fulfillment.Tx) error {
		for i, wh := range []string{"WH-HAM", "WH-MUC", "WH-BER"} {
			at := t0.Add(time.Duration(i) * time.Minute)
			r := &fulfillment.Request{
				ID: fulfillment.RequestID("O-1", wh), OrderID: "O-1", CustomerID: "C0001", WarehouseID: wh,
				State: fulfillment.RequestPending, CreateTime: at, UpdateTime: at,
				Lines: []fulfillment.Line{{OrderLineID: "1", SKU: "SKU-00001", Quantity: 1}},
			}
			if _, err := tx.InsertRequest(t.Context(), r); err != nil {
				return err
			}
			sh := &fulfillment.Shipment{
				ID: fmt.Sprintf("S-%d", i), OrderID: "O-1", CustomerID: "C0001", RequestID: r.ID, WarehouseID: wh,
				WMSReference: "P" + wh, State: fulfillment.ShipmentShipped, MaxProgress: fulfillment.ShipmentShipped,
				TrackingNumber: "T-" + wh, CreateTime: at, UpdateTime: at,
				Lines: []fulfillment.ShipmentLine{{OrderLineID: "1", SKU: "SKU-00001", Quantity: 1}},
			}
			if err := tx.InsertShipment(t.Context(), sh); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func wantStatus(t *testing.T, err error, code codes.Code, reason string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
	if reason != "" && apierr.ReasonOf(err) != reason {
		t.Fatalf("reason = %q, want %q (%v)", apierr.ReasonOf(err), reason, err)
	}
}

func TestGetAndNotFound(t *testing.T) {
	api, store := start(t, nil)
	seed(t, store)
	ctx := t.Context()
	for _, name := range []string{"orders/O-1/fulfillmentRequests/FR-O-1-WH-HAM", "orders/-/fulfillmentRequests/FR-O-1-WH-HAM"} {
		r, err := api.GetFulfillmentRequest(ctx, &fulfillmentv1.GetFulfillmentRequestRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if r.GetName() != "orders/O-1/fulfillmentRequests/FR-O-1-WH-HAM" || r.GetState() != fulfillmentv1.FulfillmentRequest_STATE_PENDING || r.GetEtag() == "" {
			t.Fatalf("request = %v", r)
		}
	}
	for _, name := range []string{"orders/O-2/fulfillmentRequests/FR-O-1-WH-HAM", "orders/-/fulfillmentRequests/FR-nope"} {
		_, err := api.GetFulfillmentRequest(ctx, &fulfillmentv1.GetFulfillmentRequestRequest{Name: name})
		wantStatus(t, err, codes.NotFound, fulfillmentv1.ErrorReason_ERROR_REASON_FULFILLMENT_REQUEST_NOT_FOUND.String())
	}
	sh, err := api.GetShipment(ctx, &fulfillmentv1.GetShipmentRequest{Name: "orders/-/shipments/S-1"})
	if err != nil {
		t.Fatal(err)
	}
	if sh.GetName() != "orders/O-1/shipments/S-1" || sh.GetWarehouseId() != "WH-MUC" {
		t.Fatalf("shipment = %v", sh)
	}
	_, err = api.GetShipment(ctx, &fulfillmentv1.GetShipmentRequest{Name: "orders/O-9/shipments/S-1"})
	wantStatus(t, err, codes.NotFound, fulfillmentv1.ErrorReason_ERROR_REASON_SHIPMENT_NOT_FOUND.String())
	_, err = api.GetShipment(ctx, &fulfillmentv1.GetShipmentRequest{Name: "shipments/S-1"})
	wantStatus(t, err, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED.String())
}

func TestListPagingAndFilters(t *testing.T) {
	api, store := start(t, nil)
	seed(t, store)
	ctx := t.Context()
	var ids []string
	token := ""
	for range 5 {
		res, err := api.ListShipments(ctx, &fulfillmentv1.ListShipmentsRequest{Parent: "orders/O-1", PageSize: 1, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range res.GetShipments() {
			ids = append(ids, s.GetShipmentId())
		}
		if token = res.GetNextPageToken(); token == "" {
			break
		}
	}
	if fmt.Sprint(ids) != "[S-0 S-1 S-2]" {
		t.Fatalf("paged shipments = %v", ids)
	}
	// Newest first by update time, one per page; a token resumes only the
	// listing that issued it.
	ids = nil
	first := &fulfillmentv1.ListShipmentsRequest{Parent: "orders/-", PageSize: 1, OrderBy: "update_time desc"}
	for req := first; ; {
		res, err := api.ListShipments(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range res.GetShipments() {
			ids = append(ids, s.GetShipmentId())
		}
		if res.GetNextPageToken() == "" {
			break
		}
		for _, other := range []*fulfillmentv1.ListShipmentsRequest{
			{Parent: "orders/O-1", PageSize: 1, OrderBy: "update_time desc", PageToken: res.GetNextPageToken()},
			{Parent: "orders/-", PageSize: 1, OrderBy: "update_time", PageToken: res.GetNextPageToken()},
			{Parent: "orders/-", PageSize: 1, OrderBy: "update_time desc", Filter: "state = SHIPPED", PageToken: res.GetNextPageToken()},
		} {
			_, err := api.ListShipments(ctx, other)
			wantStatus(t, err, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN.String())
		}
		_, err = api.ListFulfillmentRequests(ctx, &fulfillmentv1.ListFulfillmentRequestsRequest{Parent: "orders/-", PageToken: res.GetNextPageToken()})
		wantStatus(t, err, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN.String())
		req = &fulfillmentv1.ListShipmentsRequest{Parent: "orders/-", PageSize: 1, OrderBy: "update_time desc", PageToken: res.GetNextPageToken()}
	}
	if fmt.Sprint(ids) != "[S-2 S-1 S-0]" {
		t.Fatalf("shipments by update time desc = %v", ids)
	}
	res, err := api.ListShipments(ctx, &fulfillmentv1.ListShipmentsRequest{Parent: "orders/-", OrderBy: "update_time desc",
		Filter: `state = SHIPPED AND warehouse_id = "WH-BER" AND update_time >= "2026-11-26T11:00:00Z"`})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.GetShipments()) != 1 || res.GetShipments()[0].GetShipmentId() != "S-2" {
		t.Fatalf("filtered shipments = %v", res.GetShipments())
	}
	rs, err := api.ListFulfillmentRequests(ctx, &fulfillmentv1.ListFulfillmentRequestsRequest{Parent: "orders/-", Filter: "state = PENDING", OrderBy: "create_time desc"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.GetFulfillmentRequests()) != 3 || rs.GetFulfillmentRequests()[0].GetWarehouseId() != "WH-BER" {
		t.Fatalf("requests = %v", rs.GetFulfillmentRequests())
	}
	rs, err = api.ListFulfillmentRequests(ctx, &fulfillmentv1.ListFulfillmentRequestsRequest{Parent: "orders/O-2"})
	if err != nil || len(rs.GetFulfillmentRequests()) != 0 {
		t.Fatalf("other order: %v, %v", rs, err)
	}

	for _, f := range []string{"state = NOPE", "colour = red", "create_time >= yesterday", "state", "warehouse_id != WH-HAM",
		"state = PENDING AND state = FAILED", `customer_id = "C0001" OR customer_id = "C2"`} {
		_, err := api.ListFulfillmentRequests(ctx, &fulfillmentv1.ListFulfillmentRequestsRequest{Parent: "orders/-", Filter: f})
		wantStatus(t, err, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED.String())
		if v := apierr.FieldViolations(err); len(v) != 1 || v[0].Field != "filter" || v[0].Reason != aip.ViolationInvalidFilter {
			t.Errorf("filter %q: violations %+v", f, v)
		}
	}
	_, err = api.ListShipments(ctx, &fulfillmentv1.ListShipmentsRequest{Parent: "orders/-", PageToken: "bm9wZQ"})
	wantStatus(t, err, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN.String())
	_, err = api.ListShipments(ctx, &fulfillmentv1.ListShipmentsRequest{Parent: "orders/-", PageSize: 501})
	wantStatus(t, err, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED.String())
}

func TestNotYetImplemented(t *testing.T) {
	api, _ := start(t, nil)
	_, err := api.CancelFulfillment(t.Context(), &fulfillmentv1.CancelFulfillmentRequest{Parent: "orders/O-1", RequestId: "r1", Reason: "x"})
	wantStatus(t, err, codes.Unimplemented, "")
}
