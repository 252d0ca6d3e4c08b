package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/transload/transload/deploy/local/launcher"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
)

// The webhook scenario (issue #10): a local receiver subscribed to
// shipment changes, orders placed until webhookEvents shipment events have
// been received, and per event the propagation from the shipment's update
// time (the WMS event as fulfillment recorded it) to the receiver, next to
// the baseline of the same events' path without notify: fulfillment's
// outbox → NATS → a plain subscriber in the harness. Every webhook's
// signature is verified; a bad one fails the scenario.
const (
	// webhookGoalP99 is issue #10's goal for a healthy receiver.
	webhookGoalP99 = 250 * time.Millisecond
	// webhookDeadline bounds the whole scenario.
	webhookDeadline = 5 * time.Minute
	// shipmentUpdatedSubject is fulfillment's ShipmentUpdatedEvent subject
	// (platform/eventstreams).
	shipmentUpdatedSubject = "transload.fulfillment.shipment_updated"
)

// WebhookResult is what measureWebhooks saw.
type WebhookResult struct {
	Events, Orders int
	Elapsed        time.Duration
	// Webhook is WMS-recorded shipment change → webhook received; Baseline
	// the same change → NATS subscriber in the harness.
	Webhook, Baseline latencyFigures
}

type latencyFigures struct {
	N             int
	P50, P99, Max time.Duration
}

func latencyOf(s []time.Duration) latencyFigures {
	if len(s) == 0 {
		return latencyFigures{}
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return latencyFigures{N: len(s), P50: percentile(s, 50), P99: percentile(s, 99), Max: s[len(s)-1]}
}

// String summarises the result in one line.
func (w WebhookResult) String() string {
	verdict := "meets"
	if w.Webhook.P99 > webhookGoalP99 {
		verdict = "misses"
	}
	return fmt.Sprintf("Webhooks (shipment change → signed webhook received, %d events of %d orders in %s, %.0f events/s): p50 %s, p99 %s, max %s (%s the p99 ≤ %s goal); baseline outbox → NATS consumer for the same events: p50 %s, p99 %s (n=%d)",
		w.Events, w.Orders, w.Elapsed.Round(time.Millisecond), float64(w.Events)/w.Elapsed.Seconds(),
		w.Webhook.P50.Round(time.Millisecond), w.Webhook.P99.Round(time.Millisecond), w.Webhook.Max.Round(time.Millisecond),
		verdict, webhookGoalP99, w.Baseline.P50.Round(time.Millisecond), w.Baseline.P99.Round(time.Millisecond), w.Baseline.N)
}

// webhookReceiver verifies and times shipment webhooks.
type webhookReceiver struct {
	mu      sync.Mutex
	secret  []byte
	ids     map[string]bool
	lat     []time.Duration
	badSigs int
	enough  chan struct{}
	want    int
}

func (r *webhookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	at := time.Now()
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	var d struct {
		Shipment struct {
			UpdateTime time.Time `json:"updateTime"`
		} `json:"shipment"`
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !verifySignature(req.Header, body, r.secret) {
		r.badSigs++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.WriteHeader(http.StatusNoContent)
	id := req.Header.Get("webhook-id")
	if r.ids[id] || json.Unmarshal(body, &d) != nil || d.Shipment.UpdateTime.IsZero() {
		return
	}
	r.ids[id] = true
	r.lat = append(r.lat, at.Sub(d.Shipment.UpdateTime))
	if len(r.lat) == r.want {
		close(r.enough)
	}
}

// verifySignature checks a Standard Webhooks signature.
func verifySignature(h http.Header, body, key []byte) bool {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for s := range strings.FieldsSeq(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

// measureWebhooks runs the webhook scenario with n shipment events.
func measureWebhooks(ctx context.Context, m *launcher.Mesh, n int) (WebhookResult, error) {
	ctx, cancel := context.WithTimeout(ctx, webhookDeadline)
	defer cancel()
	base := m.RESTURL()
	rcv := &webhookReceiver{ids: map[string]bool{}, enough: make(chan struct{}), want: n}
	srv := httptest.NewServer(rcv)
	defer srv.Close()

	// Baseline: the same shipment events as a plain NATS subscriber sees them.
	nc, err := nats.Connect("nats://" + m.Proc(launcher.NATS).GRPCAddr)
	if err != nil {
		return WebhookResult{}, fmt.Errorf("nats: %w", err)
	}
	defer nc.Close()
	var bmu sync.Mutex
	var baseline []time.Duration
	sub, err := nc.Subscribe(shipmentUpdatedSubject, func(msg *nats.Msg) {
		at := time.Now()
		var ev fulfillmentv1.ShipmentUpdatedEvent
		if proto.Unmarshal(msg.Data, &ev) != nil || ev.GetShipment().GetUpdateTime() == nil {
			return
		}
		bmu.Lock()
		baseline = append(baseline, at.Sub(ev.GetShipment().GetUpdateTime().AsTime()))
		bmu.Unlock()
	})
	if err != nil {
		return WebhookResult{}, err
	}
	defer func() { _ = sub.Unsubscribe() }()

	var created struct {
		Name   string `json:"name"`
		Secret string `json:"secret"`
	}
	if err := callJSON(ctx, http.MethodPost, base+"/v1/webhookSubscriptions", launcher.DemoAPIKey,
		fmt.Sprintf("bench-webhook-%d", time.Now().UnixNano()),
		map[string]any{"targetUri": srv.URL + "/hook", "eventTypes": []string{"WEBHOOK_EVENT_TYPE_SHIPMENT_STATUS_CHANGED"}}, &created); err != nil {
		return WebhookResult{}, fmt.Errorf("subscribe: %w", err)
	}
	defer func() {
		_ = callJSON(context.Background(), http.MethodDelete, base+"/v1/"+created.Name, launcher.DemoAPIKey, "", nil, nil)
	}()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(created.Secret, "whsec_"))
	if err != nil {
		return WebhookResult{}, fmt.Errorf("secret %q: %w", strings.Repeat("*", len(created.Secret)), err)
	}
	rcv.mu.Lock()
	rcv.secret = key
	rcv.mu.Unlock()

	// Each order makes a shipment per warehouse with about four updates;
	// place orders, a few at a time, until enough events arrived.
	start := time.Now()
	orders := 0
	for placed := false; !placed; {
		select {
		case <-rcv.enough:
			placed = true
			continue
		case <-ctx.Done():
			return WebhookResult{}, fmt.Errorf("%d of %d webhooks after %d orders: %w", len(rcv.snapshot()), n, orders, ctx.Err())
		default:
		}
		if orders < n { // at most one order per wanted event
			if _, err := placeOrder(ctx, base, 1_000_000+orders); err != nil {
				return WebhookResult{}, fmt.Errorf("order: %w", err)
			}
			orders++
			time.Sleep(20 * time.Millisecond) // a steady stream, not a burst
			continue
		}
		time.Sleep(50 * time.Millisecond)
	}
	elapsed := time.Since(start)
	rcv.mu.Lock()
	bad := rcv.badSigs
	rcv.mu.Unlock()
	if bad > 0 {
		return WebhookResult{}, errors.New(strconv.Itoa(bad) + " webhooks with an invalid signature")
	}
	bmu.Lock()
	b := slices.Clone(baseline)
	bmu.Unlock()
	return WebhookResult{Events: n, Orders: orders, Elapsed: elapsed, Webhook: latencyOf(rcv.snapshot()), Baseline: latencyOf(b)}, nil
}

// snapshot returns the latencies of the first r.want webhooks: the ones
// the scenario timed (deliveries of the run's later shipment changes keep
// arriving after "enough" and are not part of it).
func (r *webhookReceiver) snapshot() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lat[:min(len(r.lat), r.want)])
}
