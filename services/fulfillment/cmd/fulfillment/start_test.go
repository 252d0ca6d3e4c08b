package main

import (
	"net"
	"net/http"
	"os"
	"testing"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/platform/tracing/tracingtest"
)

// TestOrderEventContinuesTheTrace: the order event's trace context (the
// traceparent the order service's outbox stored) is continued by the
// fulfillment consumer, so one trace runs from the order into fulfillment.
func TestOrderEventContinuesTheTrace(t *testing.T) {
	rcv := tracingtest.Start(t)
	// The span exporter reads its batch delay from the process environment.
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		spanID  = "00f067aa0ba902b7"
	)
	m := startMesh(t, func(m *mesh) {
		m.env = map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.Endpoint()}
		m.traceparent = "00-" + traceID + "-" + spanID + "-01"
	})
	m.waitConsumed(t, m.publish(t, confirmedOrder("O-TR"), "ev-tr", ""))
	span := rcv.WaitFor(t, patience, "fulfillment's span of the order event", func(s tracingtest.Span) bool {
		return s.Service == "fulfillment" && s.TraceID == traceID
	})
	if span.ParentSpanID != spanID || span.Kind.String() != "SPAN_KIND_CONSUMER" {
		t.Fatalf("span %v (kind %s) has parent %q, want a consumer span under %s", span, span.Kind, span.ParentSpanID, spanID)
	}
}

// TestStartsAlone: with its neighbours and NATS absent and nothing else
// configured, the service starts, keeps its database (the default DSN) in
// the working folder, answers /healthz and /readyz and serves its API. The
// addresses point at a closed port rather than the defaults so that the
// test neither collides with nor talks to a mesh running on this machine.
func TestStartsAlone(t *testing.T) {
	t.Chdir(t.TempDir())
	closed := closedAddr(t)
	env := map[string]string{
		"GRPC_ADDR": "127.0.0.1:0", "ADMIN_ADDR": "127.0.0.1:0", "NATS_URL": "nats://" + closed,
		"WMS_ADDR": closed, "INVENTORY_ADDR": closed, "ORDER_ADDR": closed,
	}
	a, api, _ := startService(t, env)
	for _, path := range []string{"/healthz", "/readyz"} {
		wait.Eventually(t, patience, path+" answers 200", func() error {
			res, err := http.Get("http://" + a.Admin + path)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			return wait.Check(res.StatusCode == http.StatusOK, "status %d", res.StatusCode)
		})
	}
	res, err := api.ListFulfillmentRequests(t.Context(), &fulfillmentv1.ListFulfillmentRequestsRequest{Parent: "orders/-"})
	if err != nil || len(res.GetFulfillmentRequests()) != 0 {
		t.Fatalf("ListFulfillmentRequests = %v, %v", res, err)
	}
	if _, err := os.Stat("fulfillment.db"); err != nil {
		t.Fatalf("database not in the working folder: %v", err)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
