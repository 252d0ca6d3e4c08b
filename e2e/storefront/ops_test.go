package storefront

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/testharness/wait"

	"github.com/transload/transload/deploy/local/launcher"
)

// The operator's side, through the real processes: an ERP rejection, a
// poison event and a reconciliation variance each reach the exception desk
// within deskLatency; a dry run names exactly the poison event; the replay
// after the fix applies once and is audited with the operator as actor; a
// restart of the gateway and of NATS loses nothing, and an exception raised
// while NATS is down arrives once it is back.

// deskLatency is the bound from a cause to its exception on the desk.
const deskLatency = 2 * time.Second

// newWarehouse is allocated by the poison event; fulfillment starts without
// a WMS route for it (FULFILLMENT_WMS_WAREHOUSES in main_test.go), so the event cannot
// be fulfilled until an operator adds the route and replays it.
const newWarehouse = "WH-NEW"

// fulfillmentConsumer is fulfillment's durable consumer of OrderConfirmed.
const fulfillmentConsumer = "fulfillment-order-confirmed"

// opsGet reads an ops REST resource with the operator key.
func opsGet(t testing.TB, path string, query ...string) response {
	t.Helper()
	if len(query) > 0 {
		v := url.Values{}
		for i := 0; i+1 < len(query); i += 2 {
			v.Set(query[i], query[i+1])
		}
		path += "?" + v.Encode()
	}
	r := call(t, http.MethodGet, path, launcher.DemoOperatorAPIKey, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.Status, r.Raw)
	}
	return r
}

// exceptionsWhere lists the desk's exceptions matching an AIP-160 filter.
func exceptionsWhere(t testing.TB, filter string) []map[string]any {
	t.Helper()
	return items(opsGet(t, "/v1/ops/exceptions", "filter", filter), "exceptions")
}

func items(r response, field string) []map[string]any {
	raw, _ := r.Body[field].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, it := range raw {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// onDesk waits at most deskLatency for exactly one exception of kind on
// resource and returns it.
func onDesk(t testing.TB, kind, resource string) map[string]any {
	t.Helper()
	filter := fmt.Sprintf(`kind = %s AND resource = %q`, kind, resource)
	var got []map[string]any
	wait.Eventually(t, deskLatency, kind+" on the desk for "+resource, func() error {
		got = exceptionsWhere(t, filter)
		return wait.Check(len(got) == 1, "%d exceptions match %s", len(got), filter)
	})
	return got[0]
}

// operatorKeyID is how the gateway names the demo operator key in audit
// records: "key-" and 12 hex digits of its SHA-256.
func operatorKeyID() string {
	d := sha256.Sum256([]byte(launcher.DemoOperatorAPIKey))
	return "key-" + hex.EncodeToString(d[:6])
}

func TestOperationsDesk(t *testing.T) {
	// 1. The ERP rejects an order: the order is REJECTED and the desk shows
	// an ERP_REJECTION for it.
	rejected := placeRejectedOrder(t, "e2e-ops-reject-1")
	rej := onDesk(t, "KIND_ERP_REJECTION", rejected)
	if rej["domain"] != "DOMAIN_ERP" || rej["state"] != "STATE_OPEN" || rej["sourceService"] != "order" {
		t.Errorf("ERP rejection exception: %v", rej)
	}

	// 2. A poison event: an OrderConfirmed allocating to a warehouse no WMS
	// route serves is dead-lettered by fulfillment at once; the desk shows it.
	poisonOrder := fmt.Sprintf("O-POISON-%d", time.Now().UnixNano())
	eventID := injectPoisonEvent(t, poisonOrder)
	var deadLetter string
	wait.Eventually(t, deskLatency, "the poison event dead-lettered and on the desk", func() error {
		got := exceptionsWhere(t, `kind = KIND_DEAD_LETTER AND aggregate_id = "`+poisonOrder+`"`)
		if len(got) != 1 {
			return fmt.Errorf("%d DEAD_LETTER exceptions for %s", len(got), poisonOrder)
		}
		deadLetter = got[0]["resource"].(string)
		return nil
	})
	dl := opsGet(t, "/v1/ops/"+deadLetter)
	if dl.str("eventId") != eventID || dl.str("consumer") != fulfillmentConsumer || dl.str("state") != "STATE_PENDING" {
		t.Fatalf("dead letter: %s", dl.Raw)
	}

	// The dry run names exactly the poison event and replays nothing.
	selection := map[string]any{"filter": `consumer = "` + fulfillmentConsumer + `" AND state = STATE_PENDING`}
	dry := replay(t, "e2e-ops-dry-1", selection, true)
	if results := items(dry, "results"); len(results) != 1 || results[0]["deadLetter"] != deadLetter ||
		results[0]["eventId"] != eventID || results[0]["outcome"] != "OUTCOME_WOULD_REPLAY" {
		t.Fatalf("dry run: %s", dry.Raw)
	}
	if n := countRequests(t, poisonOrder); n != 0 {
		t.Fatalf("the dry run created %d fulfilment requests", n)
	}

	// The fix: fulfillment gets a WMS route for the new warehouse. Then the
	// replay applies the event once, and a second replay skips it.
	// Every replica: a replica without the route would dead-letter the
	// replayed event again.
	if err := restartAll(t.Context(), launcher.Fulfillment, "FULFILLMENT_WMS_WAREHOUSES=WH-HAM,WH-MUC,WH-BER,"+newWarehouse); err != nil {
		t.Fatal(err)
	}
	real := replay(t, "e2e-ops-replay-1", map[string]any{"names": []string{deadLetter}}, false)
	if results := items(real, "results"); len(results) != 1 || results[0]["outcome"] != "OUTCOME_REPLAYED" {
		t.Fatalf("replay: %s", real.Raw)
	}
	wait.Eventually(t, 10*time.Second, "the replayed event applied", func() error {
		n := countRequests(t, poisonOrder)
		return wait.Check(n == 1, "%d fulfilment requests for %s", n, poisonOrder)
	})
	again := replay(t, "e2e-ops-replay-2", map[string]any{"names": []string{deadLetter}}, false)
	if results := items(again, "results"); len(results) != 1 || results[0]["outcome"] != "OUTCOME_SKIPPED" {
		t.Fatalf("second replay: %s", again.Raw)
	}
	if n := countRequests(t, poisonOrder); n != 1 {
		t.Fatalf("after two replays: %d fulfilment requests, want 1", n)
	}
	audit := items(opsGet(t, "/v1/ops/auditRecords", "filter",
		`action = "dead_letter.replay" AND target = "`+deadLetter+`"`), "auditRecords")
	if len(audit) != 1 {
		t.Fatalf("%d audit records of the replay, want 1: %v", len(audit), audit)
	}
	if actor, _ := audit[0]["actor"].(map[string]any); actor["kind"] != "operator" || actor["id"] != operatorKeyID() {
		t.Errorf("replay audited with actor %v, want operator %s", audit[0]["actor"], operatorKeyID())
	}

	// 3. Transload's stock drifts from the ERP (a WMS count nobody told the
	// ERP about); an operator triggers reconciliation and the variance
	// reaches the desk.
	const sku, warehouse = "SKU-00031", "WH-HAM"
	driftStock(t, sku, warehouse, 7)
	recon := call(t, http.MethodPost, "/v1/ops/reconciliations:trigger", launcher.DemoOperatorAPIKey,
		map[string]any{"warehouses": []string{warehouse}, "skus": []string{sku}}, "Idempotency-Key: e2e-ops-recon-1")
	if recon.Status != http.StatusOK {
		t.Fatalf("trigger reconciliation: %d %s", recon.Status, recon.Raw)
	}
	wait.Eventually(t, 30*time.Second, "reconciliation finished", func() error {
		r := opsGet(t, "/v1/ops/"+recon.str("name"))
		return wait.Check(r.str("state") == "STATE_SUCCEEDED", "state %s %s", r.str("state"), r.str("errorMessage"))
	})
	variance := onDesk(t, "KIND_INVENTORY_VARIANCE", "stockLevels/"+sku+"@"+warehouse)
	if d, _ := variance["details"].(map[string]any); d == nil || fmt.Sprint(d["sku"]) != sku {
		t.Errorf("variance details: %v", variance["details"])
	}

	// 4. Restarting the gateway and NATS loses none of it; an ERP rejection
	// while NATS is down reaches the desk once NATS is back.
	before := exceptionsWhere(t, `create_time >= "2000-01-01T00:00:00Z"`)
	mesh.Kill(launcher.Gateway)
	if err := mesh.Restart(t.Context(), launcher.Gateway); err != nil {
		t.Fatal(err)
	}
	mesh.Kill(launcher.NATS)
	whileDown := placeRejectedOrder(t, "e2e-ops-reject-2")
	if err := mesh.Restart(t.Context(), launcher.NATS); err != nil {
		t.Fatal(err)
	}
	wait.Eventually(t, 30*time.Second, "the rejection raised while NATS was down on the desk", func() error {
		got := exceptionsWhere(t, `kind = KIND_ERP_REJECTION AND resource = "`+whileDown+`"`)
		return wait.Check(len(got) == 1, "%d exceptions", len(got))
	})
	after := map[string]map[string]any{}
	for _, e := range exceptionsWhere(t, `create_time >= "2000-01-01T00:00:00Z"`) {
		after[e["name"].(string)] = e
	}
	for _, e := range before {
		a, ok := after[e["name"].(string)]
		if !ok {
			t.Errorf("exception %s (%s) lost across the restarts", e["name"], e["kind"])
			continue
		}
		if a["occurrenceCount"] != e["occurrenceCount"] {
			t.Errorf("exception %s: occurrences %v → %v across the restarts", e["name"], e["occurrenceCount"], a["occurrenceCount"])
		}
	}
	if len(items(opsGet(t, "/v1/ops/auditRecords", "filter", `target = "`+deadLetter+`"`), "auditRecords")) != 1 {
		t.Errorf("the replay's audit record is gone after the restarts")
	}
}

// TestDashboardMetricsExist checks deploy/observability's Grafana dashboard
// against the running mesh: every metric a panel queries is in a scrape of
// some process. The check is the dashboard module's own (Prometheus's PromQL
// parser), run as a command because that module stays outside go.work.
// Labelled counters appear at their first increment, so the test first makes
// the traffic they count: a quote, an accepted and a rejected order.
func TestDashboardMetricsExist(t *testing.T) {
	if q := call(t, http.MethodPost, "/v1/prices:quote", launcher.DemoAPIKey, map[string]any{
		"customerId": "C0001", "currencyCode": "EUR", "lines": linesJSON([]line{{"SKU-00051", 1}}),
	}); q.Status != http.StatusOK {
		t.Fatalf("quote: %d %s", q.Status, q.Raw)
	}
	// The rejection first: the ERP simulator rejects the next submission,
	// whichever order that is.
	placeRejectedOrder(t, "e2e-dashboard-2")
	if r := placeOrder(t, launcher.DemoAPIKey, "e2e-dashboard-1", orderBody("C0001", line{"SKU-00052", 1})); r.Status != http.StatusOK {
		t.Fatalf("create order: %d %s", r.Status, r.Raw)
	}

	root, err := launcher.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "./cmd/metricscheck"}
	for _, name := range mesh.Names() {
		// NATS nodes (nats, nats-2, nats-3 on the scale topology) have
		// no admin port to scrape.
		if launcher.Service(name) != launcher.NATS {
			args = append(args, "http://"+mesh.Proc(name).AdminAddr+"/metrics")
		}
	}
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Dir = filepath.Join(root, "deploy", "observability")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dashboard metrics missing from the mesh's scrapes (go %s): %v\n%s", strings.Join(args, " "), err, out)
	}
}

// rejectedCustomer is the customer whose orders placeRejectedOrder makes
// the ERP reject. No other test orders for it, so the rejection (a
// per-customer fault, unlike rejectNext) cannot be taken by another
// test's order still in the ERP queue, whatever order the tests run in.
const rejectedCustomer = "C0007"

// placeRejectedOrder places an order the ERP rejects and waits until it is
// REJECTED.
func placeRejectedOrder(t *testing.T, idem string) string {
	t.Helper()
	control(t, launcher.ERPSim, "/control/faults", map[string]any{
		"rejectCustomers": []string{rejectedCustomer}, "rejectReason": "SALES_ORDER_REJECTION_REASON_CREDIT_HOLD",
	})
	defer control(t, launcher.ERPSim, "/control/faults", map[string]any{"rejectCustomers": []string{}})
	r := placeOrder(t, launcher.DemoAPIKey, idem, orderBody(rejectedCustomer, line{"SKU-00021", 1}))
	if r.Status != http.StatusOK {
		t.Fatalf("create order: %d %s", r.Status, r.Raw)
	}
	name := r.str("name")
	wait.Eventually(t, 30*time.Second, "order rejected by the ERP", func() error {
		g := call(t, http.MethodGet, "/v1/"+name, launcher.DemoAPIKey, nil)
		return wait.Check(g.str("state") == "STATE_REJECTED", "state %s", g.str("state"))
	})
	return name
}

// replay calls ReplayDeadLetters over REST.
func replay(t testing.TB, idem string, selection map[string]any, dryRun bool) response {
	t.Helper()
	body := map[string]any{"dryRun": dryRun}
	for k, v := range selection {
		body[k] = v
	}
	r := call(t, http.MethodPost, "/v1/ops/deadLetters:replay", launcher.DemoOperatorAPIKey, body, "Idempotency-Key: "+idem)
	if r.Status != http.StatusOK {
		t.Fatalf("replay (dry run %v): %d %s", dryRun, r.Status, r.Raw)
	}
	return r
}

// injectPoisonEvent publishes, as the order service's relay would, an
// OrderConfirmedEvent for a made-up order allocated to newWarehouse, and
// returns its event id.
func injectPoisonEvent(t testing.TB, orderID string) string {
	t.Helper()
	nc, err := nats.Connect("nats://"+mesh.Proc(launcher.NATS).GRPCAddr, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	eventID := fmt.Sprintf("e2e-poison-%d", time.Now().UnixNano())
	now := time.Now().UTC()
	ev := &orderv1.OrderConfirmedEvent{
		Metadata: &commonv1.EventMetadata{
			EventId: eventID, AggregateType: "order", AggregateId: orderID, Sequence: 2,
			OccurTime: timestamppb.New(now), CorrelationId: "e2e-poison", Producer: "order",
		},
		Order: &orderv1.Order{
			OrderId: orderID, Name: "orders/" + orderID, CustomerId: "C0004", CurrencyCode: "EUR",
			State: orderv1.Order_STATE_CONFIRMED,
			Lines: []*orderv1.OrderLine{{
				LineId: "1", Sku: "SKU-00041", Quantity: 1,
				Allocations: []*orderv1.LineAllocation{{WarehouseId: newWarehouse, AllocatedQuantity: 1}},
			}},
		},
		PreviousState: orderv1.Order_STATE_ACCEPTED_PENDING_ERP,
	}
	data, err := proto.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	msg := nats.NewMsg(eventstreams.OrderConfirmed)
	msg.Data = data
	msg.Header.Set(outbox.HeaderMsgID, eventID)
	msg.Header.Set(outbox.HeaderEventID, eventID)
	msg.Header.Set(outbox.HeaderEventType, string(ev.ProtoReflect().Descriptor().FullName()))
	msg.Header.Set(outbox.HeaderAggregateType, "order")
	msg.Header.Set(outbox.HeaderAggregateID, orderID)
	msg.Header.Set(outbox.HeaderSequence, "2")
	msg.Header.Set(outbox.HeaderOccurredAt, now.Format(time.RFC3339Nano))
	if _, err := js.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	return eventID
}

// countRequests counts the fulfilment requests of an order, as the
// fulfillment service lists them.
func countRequests(t testing.TB, orderID string) int {
	t.Helper()
	conn, err := mesh.Dial(launcher.Fulfillment)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := fulfillmentv1.NewFulfillmentServiceClient(conn).ListFulfillmentRequests(t.Context(),
		&fulfillmentv1.ListFulfillmentRequestsRequest{Parent: "orders/" + orderID})
	if err != nil {
		t.Fatalf("list fulfilment requests of %s: %v", orderID, err)
	}
	return len(resp.GetFulfillmentRequests())
}

// driftStock makes Transload's on-hand of sku@warehouse differ from the
// ERP's by delta, through a WMS stock event the ERP never hears about.
func driftStock(t testing.TB, sku, warehouse string, delta int64) {
	t.Helper()
	conn, err := mesh.Dial(launcher.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	id := fmt.Sprintf("e2e-drift-%d", time.Now().UnixNano())
	resp, err := inventoryv1.NewInventoryServiceClient(conn).ApplyStockEvents(t.Context(), &inventoryv1.ApplyStockEventsRequest{
		RequestId: id, SourceSystem: "wms-count",
		Events: []*inventoryv1.StockEvent{{
			EventId: id, Sku: sku, WarehouseCode: warehouse, Kind: inventoryv1.StockEvent_KIND_ADJUSTMENT,
			Quantity: delta, Sequence: 1, OccurTime: timestamppb.Now(), ReasonCode: "CYCLE_COUNT",
		}},
	})
	if err != nil {
		t.Fatalf("apply stock event: %v", err)
	}
	for _, r := range resp.GetResults() {
		if !strings.Contains(r.GetOutcome().String(), "APPLIED") {
			t.Fatalf("stock event not applied: %v", r)
		}
	}
}
