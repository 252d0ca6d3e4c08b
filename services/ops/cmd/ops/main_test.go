package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/natstest"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/ops/internal/opstest"
	"github.com/transload/transload/services/ops/internal/store/sqlstore"
	"github.com/transload/transload/services/ops/internal/upstream"
)

var _ upstream.SeverityStats = (*sqlstore.Store)(nil)

// readyStatus returns the admin readiness status code.
func readyStatus(ctx context.Context, admin string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/readyz", nil)
	if err != nil {
		return 0, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_ = res.Body.Close()
	return res.StatusCode, nil
}

// TestServes starts the binary's wiring on free ports with a real NATS:
// it becomes ready once its consumers run, projects an exception a
// service raises, answers upstream calls with the neighbour's absence as
// UNAVAILABLE, and stops cleanly.
func TestServes(t *testing.T) {
	srv := natstest.Start(t)
	_, js := natstest.Connect(t, srv)
	env := map[string]string{
		"GRPC_ADDR": "127.0.0.1:0", "ADMIN_ADDR": "127.0.0.1:0", "DATABASE_URL": sqldbtest.SQLiteDSN(t),
		"NATS_URL": srv.ClientURL(), "ORDER_ADDR": "127.0.0.1:1", "INVENTORY_ADDR": "127.0.0.1:1",
		"ORDER_TIMEOUT": "1s", "METRICS_TARGETS": "", "LOG_LEVEL": "error",
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	addrs := make(chan Addrs, 1)
	go func() {
		done <- runWithReady(ctx, func(k string) string { return env[k] }, io.Discard, func(a Addrs) { addrs <- a })
	}()
	var a Addrs
	select {
	case a = <-addrs:
	case err := <-done:
		t.Fatalf("ops stopped before serving: %v", err)
	case <-time.After(opstest.Timeout):
		t.Fatal("ops did not start")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ops: %v", err)
		}
	})

	opstest.Eventually(t, "ready", func() error {
		code, err := readyStatus(t.Context(), a.Admin)
		if err != nil {
			return err
		}
		return wait.Check(code == http.StatusOK, "readyz %d", code)
	})

	conn, err := grpc.NewClient(a.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	api := opsv1.NewOpsServiceClient(conn)

	opstest.NewProducer(t, js, "fulfillment").Raise(t, opsevents.Exception{
		Kind: opsv1.Exception_KIND_WMS_REJECTION, Severity: opsv1.Exception_SEVERITY_HIGH, Domain: opsv1.Exception_DOMAIN_FULFILLMENT,
		Resource: "fulfillmentRequests/FR-1", Message: "WMS refused the request",
	})
	opstest.Eventually(t, "the exception on the desk", func() error {
		res, err := api.ListExceptions(t.Context(), &opsv1.ListExceptionsRequest{Filter: `kind = KIND_WMS_REJECTION`})
		if err != nil {
			return err
		}
		if len(res.GetExceptions()) != 1 || res.GetExceptions()[0].GetResource() != "fulfillmentRequests/FR-1" {
			return fmt.Errorf("exceptions %v", res.GetExceptions())
		}
		return nil
	})
	_, err = api.GetErpQueueStatus(t.Context(), &opsv1.GetErpQueueStatusRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("GetErpQueueStatus without the order service = %v, want Unavailable", err)
	}
}
