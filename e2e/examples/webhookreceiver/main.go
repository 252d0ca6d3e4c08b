// Command webhookreceiver is the README's runnable webhook example: it
// listens for deliveries, subscribes itself through the storefront REST
// API, and verifies every delivery's Standard Webhooks signature with the
// standard library only (HMAC-SHA256 keyed with the base64 after `whsec_`,
// over `webhook-id.webhook-timestamp.body`, timestamp within 5 minutes,
// constant-time compare), de-duplicating on `webhook-id`.
//
//	go run ./examples/webhookreceiver -rest http://127.0.0.1:8080 -key demo-web-key
//
// With -n N it deletes its subscription and exits after N verified
// deliveries (the e2e suite runs it so).
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Verify reports whether a delivery is authentic: any `v1,` signature of
// the webhook-signature header matches, and the timestamp is within
// tolerance of now.
func Verify(h http.Header, body []byte, secret string, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return errors.New("secret is not whsec_<base64>")
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	unix, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil {
		return errors.New("missing webhook-id or webhook-timestamp")
	}
	if d := now.Sub(time.Unix(unix, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("timestamp too far from now (replay?)")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return errors.New("no matching signature")
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "webhookreceiver:", err)
		os.Exit(1)
	}
}

func run() error {
	rest := flag.String("rest", "http://127.0.0.1:8080", "storefront REST base URL")
	key := flag.String("key", "demo-web-key", "storefront API key")
	addr := flag.String("addr", "127.0.0.1:0", "where to listen for deliveries")
	n := flag.Int("n", 0, "exit after this many verified deliveries (0: run until interrupted)")
	flag.Parse()

	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	var (
		mu     sync.Mutex
		secret string
		seen   = map[string]bool{}
		done   = make(chan struct{})
	)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		mu.Lock()
		defer mu.Unlock()
		if err != nil || Verify(r.Header, body, secret, time.Now()) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Println("REJECTED", r.Header.Get("webhook-id"))
			return
		}
		w.WriteHeader(http.StatusNoContent) // acknowledge fast; work asynchronously in a real receiver
		id := r.Header.Get("webhook-id")
		if seen[id] {
			return // a retry of a delivery already handled
		}
		seen[id] = true
		var d struct {
			EventType string `json:"eventType"`
			Order     *struct{ Name, State string }
			Shipment  *struct{ Name, State, TrackingNumber string }
		}
		_ = json.Unmarshal(body, &d)
		switch {
		case d.Order != nil:
			fmt.Println("verified", id, d.EventType, d.Order.Name, d.Order.State)
		case d.Shipment != nil:
			fmt.Println("verified", id, d.EventType, d.Shipment.Name, d.Shipment.State, d.Shipment.TrackingNumber)
		default:
			fmt.Println("verified", id, d.EventType)
		}
		if *n > 0 && len(seen) == *n {
			close(done)
		}
	})}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Close()

	// Subscribe; the secret is in this answer only. Lock until it is
	// stored so no delivery is checked without it.
	mu.Lock()
	sub, err := subscribe(*rest, *key, "http://"+lis.Addr().String()+"/hook")
	if err == nil {
		secret = sub.Secret
	}
	mu.Unlock()
	if err != nil {
		return err
	}
	fmt.Println("subscribed", sub.Name, "listening on", lis.Addr())
	if *n == 0 {
		select {}
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		return errors.New("timed out waiting for deliveries")
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodDelete, *rest+"/v1/"+sub.Name, nil)
	req.Header.Set("Authorization", "Bearer "+*key)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		_ = resp.Body.Close()
	}
	return nil
}

type subscription struct{ Name, Secret string }

func subscribe(rest, key, target string) (subscription, error) {
	body, _ := json.Marshal(map[string]any{"targetUri": target,
		"eventTypes": []string{"WEBHOOK_EVENT_TYPE_ORDER_STATUS_CHANGED", "WEBHOOK_EVENT_TYPE_SHIPMENT_STATUS_CHANGED"}})
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, rest+"/v1/webhookSubscriptions", bytes.NewReader(body))
	if err != nil {
		return subscription{}, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", fmt.Sprintf("webhookreceiver-%d", time.Now().UnixNano()))
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return subscription{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var s subscription
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &s) != nil || s.Secret == "" {
		return subscription{}, fmt.Errorf("subscribe: %d %s", resp.StatusCode, raw)
	}
	return s, nil
}
