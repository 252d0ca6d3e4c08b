package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
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

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// eventually polls cond every 10ms until it holds or the deadline passes.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunServesAdapterAndControlAPI(t *testing.T) {
	grpcAddr, adminAddr := freeAddr(t), freeAddr(t)
	env := map[string]string{
		"GRPC_ADDR":    grpcAddr,
		"ADMIN_ADDR":   adminAddr,
		"DATABASE_URL": sqldbtest.SQLiteDSN(t),
		"WMSSIM_STEP":  "20ms",
		"LOG_LEVEL":    "debug",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, logs) }()

	admin := "http://" + adminAddr
	get := func(path string, out any) int {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", admin+path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		defer res.Body.Close()
		if out != nil {
			_ = json.NewDecoder(res.Body).Decode(out)
		} else {
			_, _ = io.Copy(io.Discard, res.Body)
		}
		return res.StatusCode
	}
	eventually(t, "readyz", 10*time.Second, func() bool { return get("/readyz", nil) == 200 })

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := wmsv1.NewWmsAdapterServiceClient(conn)
	call, callCancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer callCancel()
	_, err = client.CreateShipmentRequest(call, &wmsv1.CreateShipmentRequestRequest{
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
	eventually(t, "delivery", 10*time.Second, func() bool {
		res, err := client.ListShipmentEvents(call, &wmsv1.ListShipmentEventsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		states = states[:0]
		for _, ev := range res.GetShipmentEvents() {
			states = append(states, ev.GetState())
		}
		return len(states) == 4
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
	if code := get("/control/shipment-requests", &list); code != 200 || list.Count != 1 || list.Requests[0].State != "DELIVERED" {
		t.Fatalf("control list: %d %+v", code, list)
	}

	metricsReq, _ := http.NewRequestWithContext(t.Context(), "GET", admin+"/metrics", nil)
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

	req, _ := http.NewRequestWithContext(t.Context(), "POST", admin+"/control/faults", strings.NewReader(`{"down":true}`))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("set faults: %v %v", res, err)
	}
	res.Body.Close()
	if _, err := client.GetShipmentRequest(call, &wmsv1.GetShipmentRequestRequest{Name: "shipmentRequests/FR-1"}); status.Code(err) != codes.Unavailable {
		t.Fatalf("get while down: %v", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop")
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Fatalf("no stop log:\n%s", logs)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	env := map[string]string{"WMSSIM_STEP": "-1s", "DATABASE_URL": sqldbtest.SQLiteDSN(t)}
	err := run(context.Background(), func(k string) string { return env[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "WMSSIM_STEP") {
		t.Fatalf("err = %v", err)
	}
}
