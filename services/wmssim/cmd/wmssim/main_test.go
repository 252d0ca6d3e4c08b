package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/platform/tracing/tracingtest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// started is a wmssim run on free ports.
type started struct {
	client wmsv1.WmsAdapterServiceClient
	admin  string // http://host:port
	// logs is the file run logs to: os.File writes are safe for the
	// server's goroutines, and the test reads it once run has returned.
	logs string
	stop func() error
}

// start runs wmssim with env over free addresses and a fresh SQLite
// database and waits until /readyz answers; stop cancels run and returns
// its error (the test's end stops it too).
func start(t *testing.T, env map[string]string) *started {
	t.Helper()
	grpcAddr, adminAddr := freeAddr(t), freeAddr(t)
	s := &started{admin: "http://" + adminAddr, logs: filepath.Join(t.TempDir(), "wmssim.log")}
	full := map[string]string{"GRPC_ADDR": grpcAddr, "ADMIN_ADDR": adminAddr, "DATABASE_URL": sqldbtest.SQLiteDSN(t)}
	maps.Copy(full, env)
	logs, err := os.Create(s.logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logs.Close() })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return full[k] }, logs) }()
	var (
		once   sync.Once
		runErr error
	)
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				runErr = errors.New("run did not stop within 30s")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = s.stop() })

	wait.Eventually(t, 10*time.Second, "wmssim ready", func() error {
		code, err := httpGet(t, s.admin+"/readyz", nil)
		if err != nil {
			return err
		}
		return wait.Check(code == http.StatusOK, "/readyz %d", code)
	})
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	s.client = wmsv1.NewWmsAdapterServiceClient(conn)
	return s
}

// httpGet GETs url and decodes a JSON body into out (when not nil).
func httpGet(t *testing.T, url string, out any) (int, error) {
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if out != nil {
		err = json.NewDecoder(res.Body).Decode(out)
	} else {
		_, err = io.Copy(io.Discard, res.Body)
	}
	return res.StatusCode, err
}

func TestRunServesAdapterAndControlAPI(t *testing.T) {
	s := start(t, map[string]string{"WMSSIM_STEP": "20ms", "LOG_LEVEL": "debug"})
	call, callCancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer callCancel()
	_, err := s.client.CreateShipmentRequest(call, &wmsv1.CreateShipmentRequestRequest{
		ShipmentRequestId: "FR-1",
		ShipmentRequest: &wmsv1.ShipmentRequest{
			OrderId: "O-1", WarehouseCode: "WH-HAM",
			ShipTo: &commonv1.Address{Recipient: "A", Lines: []string{"Street 1"}, RegionCode: "DE"},
			Lines:  []*wmsv1.ShipmentRequestLine{{LineId: "1", Sku: "SKU-00001", Quantity: 1}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	// The real ticker drives the request to DELIVERED.
	var states []wmsv1.ShipmentRequest_State
	wait.Eventually(t, 10*time.Second, "delivery", func() error {
		res, err := s.client.ListShipmentEvents(call, &wmsv1.ListShipmentEventsRequest{})
		if err != nil {
			return err
		}
		states = states[:0]
		for _, ev := range res.GetShipmentEvents() {
			states = append(states, ev.GetState())
		}
		return wait.Check(len(states) == 4, "states %v", states)
	})
	if states[3] != wmsv1.ShipmentRequest_STATE_DELIVERED {
		t.Fatalf("states = %v", states)
	}

	var list struct {
		Count    int `json:"count"`
		Requests []struct {
			RequestID   string `json:"requestId"`
			State       string `json:"state"`
			Submissions int    `json:"submissions"`
		} `json:"requests"`
	}
	if code, err := httpGet(t, s.admin+"/control/shipment-requests", &list); err != nil || code != 200 || list.Count != 1 || list.Requests[0].State != "DELIVERED" {
		t.Fatalf("control list: %d %v %+v", code, err, list)
	}

	metricsReq, _ := http.NewRequestWithContext(t.Context(), "GET", s.admin+"/metrics", nil)
	metricsRes, err := http.DefaultClient.Do(metricsReq)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(metricsRes.Body)
	metricsRes.Body.Close()
	for _, want := range []string{
		`wmssim_shipment_requests_created_total{state="ACCEPTED",warehouse="WH-HAM"} 1`,
		`wmssim_shipment_events_total{state="DELIVERED",warehouse="WH-HAM"} 1`,
		`grpc_server_handled_total`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	req, _ := http.NewRequestWithContext(t.Context(), "POST", s.admin+"/control/faults", strings.NewReader(`{"down":true}`))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("set faults: %v %v", res, err)
	}
	res.Body.Close()
	if _, err := s.client.GetShipmentRequest(call, &wmsv1.GetShipmentRequestRequest{Name: "shipmentRequests/FR-1"}); status.Code(err) != codes.Unavailable {
		t.Fatalf("get while down: %v", err)
	}

	if err := s.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	logs, err := os.ReadFile(s.logs)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logs), `"msg":"stopped"`) {
		t.Fatalf("no stop log:\n%s", logs)
	}
}

// wmssim exports its server spans when OTEL_EXPORTER_OTLP_ENDPOINT is set,
// under its service name, so fulfilment's traces show the WMS.
func TestRunExportsTraces(t *testing.T) {
	rcv := tracingtest.Start(t)
	s := start(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.Endpoint()})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := s.client.GetShipmentRequest(ctx, &wmsv1.GetShipmentRequestRequest{Name: "shipmentRequests/none"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("GetShipmentRequest: %v, want NotFound", err)
	}
	if err := s.stop(); err != nil { // flushes the batched spans
		t.Fatal(err)
	}
	rcv.WaitFor(t, 10*time.Second, "wmssim's GetShipmentRequest server span", func(sp tracingtest.Span) bool {
		return sp.Service == "wmssim" && sp.Name == wmsv1.WmsAdapterService_GetShipmentRequest_FullMethodName[1:]
	})
}

func TestRunRejectsBadConfig(t *testing.T) {
	env := map[string]string{"WMSSIM_STEP": "-1s", "DATABASE_URL": sqldbtest.SQLiteDSN(t)}
	err := run(context.Background(), func(k string) string { return env[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "WMSSIM_STEP") {
		t.Fatalf("err = %v", err)
	}
}
