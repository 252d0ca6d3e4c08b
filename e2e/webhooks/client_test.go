package webhooks

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type response struct {
	Status int
	Body   map[string]any
	Raw    string
}

func (r response) str(k string) string {
	if v, ok := r.Body[k]; ok && v != nil {
		return fmt.Sprint(v)
	}
	return ""
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

func call(t testing.TB, method, path, key string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, mesh.RESTURL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %q", method, path, resp.StatusCode, raw)
		}
	}
	return r
}

var idem atomic.Int64

// placeOrder places a one-line order for customer with key and returns its name.
func placeOrder(t testing.TB, key, customer, sku string) string {
	t.Helper()
	r := call(t, http.MethodPost, "/v1/orders", key, map[string]any{
		"customerId": customer, "currencyCode": "EUR",
		"shipTo": map[string]any{"recipient": "Demo GmbH", "lines": []string{"Hafenstr. 1"}, "locality": "Hamburg",
			"postalCode": "20457", "regionCode": "DE"},
		"lines": []map[string]any{{"sku": sku, "quantity": 1}},
	}, fmt.Sprintf("Idempotency-Key: wh-%d-%d", time.Now().UnixNano(), idem.Add(1)))
	if r.Status != http.StatusOK {
		t.Fatalf("place order: %d %s", r.Status, r.Raw)
	}
	return r.str("name")
}

// subscribe creates a subscription of key to target and returns its name
// and secret.
func subscribe(t testing.TB, key, target string, types ...string) (string, string) {
	t.Helper()
	r := call(t, http.MethodPost, "/v1/webhookSubscriptions", key, map[string]any{"targetUri": target, "eventTypes": types},
		fmt.Sprintf("Idempotency-Key: sub-%d-%d", time.Now().UnixNano(), idem.Add(1)))
	if r.Status != http.StatusOK || !strings.HasPrefix(r.str("secret"), "whsec_") {
		t.Fatalf("subscribe %s: %d %s", target, r.Status, r.Raw)
	}
	return r.str("name"), r.str("secret")
}

const (
	orderType    = "WEBHOOK_EVENT_TYPE_ORDER_STATUS_CHANGED"
	shipmentType = "WEBHOOK_EVENT_TYPE_SHIPMENT_STATUS_CHANGED"
)

// delivery is one verified delivery the receiver acknowledged.
type delivery struct {
	ID, Type, Order, State, Customer, Tracking string
}

// receiver is a webhook endpoint that verifies every signature (an
// invalid one fails the test) and answers with status(); it records the
// deliveries it acknowledged with 2xx, in arrival order.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	status func() (int, http.Header)
	got    []delivery
	hits   atomic.Int64
}

func newReceiver(t testing.TB, status func() (int, http.Header)) *receiver {
	r := &receiver{t: t, status: status}
	r.srv = httptest.NewServer(r)
	t.Cleanup(r.srv.Close)
	return r
}

func ok() (int, http.Header) { return http.StatusOK, nil }

func (r *receiver) URL() string { return r.srv.URL + "/hook" }

func (r *receiver) setSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = s
}

func (r *receiver) setStatus(f func() (int, http.Header)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = f
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.hits.Add(1)
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	secret, status := r.secret, r.status
	r.mu.Unlock()
	if secret == "" { // a delivery before the creation answered: cannot happen
		r.t.Errorf("delivery %s before the subscription's secret was known", req.Header.Get("webhook-id"))
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if err := verify(req.Header, body, secret, time.Now()); err != nil {
		r.t.Errorf("invalid signature on %s: %v", req.Header.Get("webhook-id"), err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var m struct {
		DeliveryID string `json:"deliveryId"`
		EventType  string `json:"eventType"`
		Order      *struct {
			Name, State, CustomerID string
		} `json:"order"`
		Shipment *struct {
			Name, State, TrackingNumber string
		} `json:"shipment"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.DeliveryID != req.Header.Get("webhook-id") {
		r.t.Errorf("body %s: %v (deliveryId must equal webhook-id)", body, err)
	}
	code, h := status()
	for k, v := range h {
		w.Header()[k] = v
	}
	w.WriteHeader(code)
	if code/100 != 2 {
		return
	}
	d := delivery{ID: m.DeliveryID, Type: m.EventType}
	if m.Order != nil {
		d.Order, d.State, d.Customer = m.Order.Name, m.Order.State, m.Order.CustomerID
	}
	if m.Shipment != nil {
		d.Order, _, _ = strings.Cut(m.Shipment.Name, "/shipments/")
		d.State, d.Tracking = m.Shipment.State, m.Shipment.TrackingNumber
	}
	r.mu.Lock()
	r.got = append(r.got, d)
	r.mu.Unlock()
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// orderStates returns the order states delivered for order, in arrival
// order, and whether a webhook-id arrived twice with 2xx.
func (r *receiver) orderStates(order string) (states []string, dupIDs []string) {
	seen := map[string]bool{}
	for _, d := range r.deliveries() {
		if d.Order != order || d.Type != orderType {
			continue
		}
		if seen[d.ID] {
			dupIDs = append(dupIDs, d.ID)
			continue
		}
		seen[d.ID] = true
		states = append(states, d.State)
	}
	return states, dupIDs
}

// rank orders the order states an order moves through.
var rank = map[string]int{"STATE_ACCEPTED_PENDING_ERP": 1, "STATE_CONFIRMED": 2, "STATE_PARTIALLY_SHIPPED": 3, "STATE_SHIPPED": 4, "STATE_DELIVERED": 5}

// checkSequence fails unless states go accepted → confirmed → … →
// delivered without going back.
func checkSequence(t testing.TB, order string, states []string) {
	t.Helper()
	if len(states) < 4 || states[0] != "STATE_ACCEPTED_PENDING_ERP" || states[1] != "STATE_CONFIRMED" || states[len(states)-1] != "STATE_DELIVERED" {
		t.Errorf("%s: states %v, want accepted, confirmed, …, delivered", order, states)
		return
	}
	for i := 1; i < len(states); i++ {
		if rank[states[i]] < rank[states[i-1]] {
			t.Errorf("%s: states out of order: %v", order, states)
		}
	}
	if !slices.Contains(states, "STATE_SHIPPED") {
		t.Errorf("%s: no SHIPPED: %v", order, states)
	}
}

// verify checks a Standard Webhooks signature the way a receiver does,
// independently of the service's own code: HMAC-SHA256 keyed with the
// base64 after "whsec_", over "id.timestamp.body", any of the
// space-separated "v1,<base64>" signatures matching, timestamp within 5
// minutes.
func verify(h http.Header, body []byte, secret string, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || id == "" || ts == "" || sigs == "" {
		return errors.New("missing headers or bad secret")
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(unix, 0)).Abs() > 5*time.Minute {
		return errors.New("timestamp outside tolerance")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, s := range strings.Fields(sigs) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("no signature matches")
}

func urlQuery(s string) string { return url.QueryEscape(s) }
