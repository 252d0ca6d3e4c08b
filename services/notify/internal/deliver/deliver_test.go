package deliver_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/notify/internal/deliver"
	"github.com/transload/transload/services/notify/internal/signing"
	"github.com/transload/transload/services/notify/internal/store/sqlstore"
	"github.com/transload/transload/services/notify/internal/target"
)

// receiver records verified deliveries; status decides each answer.
type receiver struct {
	t       *testing.T
	secret  signing.Secret
	mu      sync.Mutex
	got     []string // webhook ids acknowledged, in arrival order
	tries   int
	status  func(n int) int
	headers http.Header
}

func (r *receiver) hits() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tries
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	secret := r.secret
	r.mu.Unlock()
	if err := signing.Verify(req.Header, body, secret, time.Now(), 5*time.Minute); err != nil {
		r.t.Errorf("bad signature: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	r.tries++
	code := r.status(r.tries)
	for k, v := range r.headers {
		w.Header()[k] = v
	}
	if code/100 == 2 {
		r.got = append(r.got, req.Header.Get(signing.HeaderID))
	}
	r.mu.Unlock()
	w.WriteHeader(code)
}

func (r *receiver) acked() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func setup(t *testing.T, status func(int) int, cfg deliver.Config) (*sqlstore.Store, *receiver, *deliver.Dispatcher) {
	t.Helper()
	db := sqldbtest.OpenSQLite(t)
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	s := sqlstore.New(db)
	secret, _ := signing.NewSecret()
	rcv := &receiver{t: t, secret: secret, status: status}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	if _, _, err := s.CreateSubscription(t.Context(), &sqlstore.Subscription{ID: "s1", Channel: "web", TargetURI: srv.URL + "/hook",
		EventTypes: 2, Secret: secret.Reveal(), State: sqlstore.SubActive, CreateTime: time.Now()}); err != nil {
		t.Fatal(err)
	}
	cfg.Policy = target.Policy{AllowHTTP: true, AllowPrivate: true}
	cfg.Poll = 20 * time.Millisecond
	cfg.BackoffBase, cfg.BackoffMax = 10*time.Millisecond, 40*time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := deliver.New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, rcv, d
}

func enqueue(t *testing.T, s *sqlstore.Store, ids ...string) {
	t.Helper()
	now := time.Now()
	if err := s.InTx(t.Context(), func(_ *sql.Tx, tx *sqlstore.Tx) error {
		for _, id := range ids {
			if _, err := tx.Enqueue(t.Context(), &sqlstore.Delivery{ID: id, SubscriptionID: "s1", EventID: id, EventType: 1,
				Resource: "orders/1", OrderingKey: "orders/1", Body: []byte(`{"id":"` + id + `"}`), EventTime: now, CreateTime: now, NextAttempt: now}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// exceptions are the ops exceptions in notify's outbox, oldest first.
func exceptions(t *testing.T, s *sqlstore.Store) []*opsv1.ExceptionRaisedEvent {
	t.Helper()
	rows, err := s.DB().SQL().QueryContext(t.Context(),
		`SELECT payload FROM outbox_events WHERE subject = 'transload.ops.exception_raised' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []*opsv1.ExceptionRaisedEvent
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		ev := &opsv1.ExceptionRaisedEvent{}
		if err := proto.Unmarshal(b, ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// 503 for the first attempts, then 200: all delivered, in order, each once.
func TestRetriesInOrderThenDelivers(t *testing.T) {
	s, rcv, d := setup(t, func(n int) int {
		if n <= 3 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}, deliver.Config{BreakerThreshold: 100})
	enqueue(t, s, "m1", "m2", "m3")
	d.Wake()
	wait.Eventually(t, 10*time.Second, "all delivered", func() error {
		return wait.Check(len(rcv.acked()) == 3, "acked %v", rcv.acked())
	})
	if got := rcv.acked(); got[0] != "m1" || got[1] != "m2" || got[2] != "m3" {
		t.Fatalf("order = %v", got)
	}
	dl, err := s.GetDelivery(t.Context(), "m1")
	if err != nil || dl.State != sqlstore.DeliveryDelivered || len(dl.AttemptLog) != 4 || dl.AttemptLog[0].StatusCode != 503 {
		t.Fatalf("m1 = %+v %v, want delivered after 3 logged 503s", dl, err)
	}
	if sub, _ := s.GetSubscription(t.Context(), "s1"); sub.ConsecutiveFailures != 0 || sub.LastSuccess.IsZero() {
		t.Fatalf("subscription after success = %+v", sub)
	}
	if exs := exceptions(t, s); len(exs) != 0 {
		t.Fatalf("retried deliveries that succeeded raised %d exceptions, want none: %v", len(exs), exs)
	}
}

// A 4xx other than 408/429 fails the delivery at once, raising one
// KIND_WEBHOOK_DELIVERY_FAILED exception named after the delivery in the
// same transaction; the next one goes and raises nothing.
func TestClientErrorFailsAtOnce(t *testing.T) {
	s, rcv, d := setup(t, func(n int) int {
		if n == 1 {
			return http.StatusBadRequest
		}
		return http.StatusNoContent
	}, deliver.Config{})
	enqueue(t, s, "m1", "m2")
	d.Wake()
	wait.Eventually(t, 10*time.Second, "m2 delivered", func() error {
		return wait.Check(len(rcv.acked()) == 1, "acked %v", rcv.acked())
	})
	dl, _ := s.GetDelivery(t.Context(), "m1")
	if dl.State != sqlstore.DeliveryFailed || dl.Attempts != 1 {
		t.Fatalf("m1 = state %d after %d attempts, want failed after 1", dl.State, dl.Attempts)
	}
	exs := exceptions(t, s)
	if len(exs) != 1 {
		t.Fatalf("%d exceptions in the outbox, want 1 for the given-up m1: %v", len(exs), exs)
	}
	ex := exs[0]
	det := ex.GetDetails().AsMap()
	if ex.GetKind() != opsv1.Exception_KIND_WEBHOOK_DELIVERY_FAILED || ex.GetResource() != "webhookSubscriptions/s1/deliveries/m1" ||
		ex.GetDomain() != opsv1.Exception_DOMAIN_COMMERCE || ex.GetSeverity() == opsv1.Exception_SEVERITY_UNSPECIFIED ||
		det["webhookDelivery"] != "webhookSubscriptions/s1/deliveries/m1" || det["webhookSubscription"] != "webhookSubscriptions/s1" ||
		det["eventType"] != "WEBHOOK_EVENT_TYPE_ORDER_STATUS_CHANGED" || det["lastStatusCode"] != float64(http.StatusBadRequest) ||
		det["lastError"] != "HTTP 400 is not retried" {
		t.Fatalf("exception = %v, want KIND_WEBHOOK_DELIVERY_FAILED on webhookSubscriptions/s1/deliveries/m1 with its details", ex)
	}
}

// A delivery retried past the horizon is given up: FAILED, one exception,
// and the subscription (below its disable threshold) stays active.
func TestHorizonGivesUpWithException(t *testing.T) {
	s, _, d := setup(t, func(int) int { return http.StatusServiceUnavailable }, deliver.Config{Horizon: 100 * time.Millisecond, BreakerThreshold: 100})
	enqueue(t, s, "m1")
	d.Wake()
	wait.Eventually(t, 10*time.Second, "m1 given up", func() error {
		dl, err := s.GetDelivery(t.Context(), "m1")
		if err != nil {
			return err
		}
		return wait.Check(dl.State == sqlstore.DeliveryFailed, "state %d after %d attempts", dl.State, dl.Attempts)
	})
	exs := exceptions(t, s)
	if len(exs) != 1 || exs[0].GetKind() != opsv1.Exception_KIND_WEBHOOK_DELIVERY_FAILED ||
		exs[0].GetResource() != "webhookSubscriptions/s1/deliveries/m1" || exs[0].GetDetails().AsMap()["lastStatusCode"] != float64(503) {
		t.Fatalf("exceptions = %v, want one KIND_WEBHOOK_DELIVERY_FAILED for m1 after a 503", exs)
	}
	if sub, _ := s.GetSubscription(t.Context(), "s1"); sub.State != sqlstore.SubActive {
		t.Fatalf("subscription state %d, want still active", sub.State)
	}
}

// Past the threshold the subscription is disabled and an exception is
// written to the outbox in the same transaction; nothing is dropped.
func TestDisablesAfterConsecutiveFailures(t *testing.T) {
	s, rcv, d := setup(t, func(int) int { return http.StatusInternalServerError }, deliver.Config{DisableAfter: 3, BreakerThreshold: 100})
	enqueue(t, s, "m1")
	d.Wake()
	wait.Eventually(t, 10*time.Second, "disabled", func() error {
		sub, err := s.GetSubscription(t.Context(), "s1")
		if err != nil {
			return err
		}
		return wait.Check(sub.State == sqlstore.SubDisabled, "state %d failures %d", sub.State, sub.ConsecutiveFailures)
	})
	if exs := exceptions(t, s); len(exs) != 1 || exs[0].GetKind() != opsv1.Exception_KIND_WEBHOOK_DISABLED ||
		exs[0].GetResource() != "webhookSubscriptions/s1" {
		t.Fatalf("exceptions = %v, want one KIND_WEBHOOK_DISABLED for webhookSubscriptions/s1", exs)
	}
	dl, _ := s.GetDelivery(t.Context(), "m1")
	if dl.State != sqlstore.DeliveryPending || dl.Attempts != 3 {
		t.Fatalf("m1 = state %d after %d attempts, want still pending after 3", dl.State, dl.Attempts)
	}
	rcv.mu.Lock()
	rcv.status = func(int) int { return http.StatusOK }
	rcv.mu.Unlock()
	if err := s.Enable(t.Context(), "s1", time.Now()); err != nil {
		t.Fatal(err)
	}
	d.Wake()
	wait.Eventually(t, 10*time.Second, "delivered after enable", func() error {
		return wait.Check(len(rcv.acked()) == 1, "acked %v", rcv.acked())
	})
}

func TestBackoff(t *testing.T) {
	for _, c := range []struct {
		n      int
		jitter float64
		want   time.Duration
	}{
		{1, 0.5, time.Second}, {2, 0.5, 2 * time.Second}, {4, 0.5, 8 * time.Second},
		{30, 0.5, time.Minute}, {1, 0, 800 * time.Millisecond}, {1, 0.75, 1100 * time.Millisecond},
	} {
		if got := deliver.Backoff(time.Second, time.Minute, c.n, c.jitter); got.Round(time.Microsecond) != c.want {
			t.Errorf("Backoff(n=%d, jitter=%v) = %v, want %v", c.n, c.jitter, got, c.want)
		}
	}
}

// During a rotation's grace period a receiver still holding the old secret
// verifies deliveries (both signatures are sent).
func TestRotationSignsWithBothSecrets(t *testing.T) {
	s, rcv, d := setup(t, func(int) int { return http.StatusOK }, deliver.Config{})
	newSecret, _ := signing.NewSecret()
	if err := s.RotateSecret(t.Context(), "s1", newSecret.Reveal(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, "m1") // rcv verifies with the old secret
	d.Wake()
	wait.Eventually(t, 10*time.Second, "delivered", func() error {
		return wait.Check(len(rcv.acked()) == 1, "acked %v", rcv.acked())
	})
	// After the grace period only the new secret signs: the old one fails.
	if err := s.RotateSecret(t.Context(), "s1", newSecret.Reveal(), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	rcv.secret = newSecret
	rcv.mu.Unlock()
	enqueue(t, s, "m2")
	d.Wake()
	wait.Eventually(t, 10*time.Second, "delivered with the new secret", func() error {
		return wait.Check(len(rcv.acked()) == 2, "acked %v", rcv.acked())
	})
}

// A 429 with Retry-After waits at least that long (the backoff alone would
// retry within 40ms here).
func TestRetryAfterHonoured(t *testing.T) {
	var first time.Time
	var second time.Time
	var mu sync.Mutex
	s, rcv, d := setup(t, func(n int) int {
		mu.Lock()
		defer mu.Unlock()
		if n == 1 {
			first = time.Now()
			return http.StatusTooManyRequests
		}
		second = time.Now()
		return http.StatusOK
	}, deliver.Config{})
	rcv.headers = http.Header{"Retry-After": {"1"}}
	enqueue(t, s, "m1")
	d.Wake()
	wait.Eventually(t, 10*time.Second, "delivered", func() error {
		return wait.Check(len(rcv.acked()) == 1, "acked %v", rcv.acked())
	})
	mu.Lock()
	defer mu.Unlock()
	if gap := second.Sub(first); gap < 700*time.Millisecond { // 1 s, scaled by jitter no lower than 0.8·backoff
		t.Fatalf("retried %v after a 429 with Retry-After: 1", gap)
	}
}

// The strict policy refuses the loopback receiver at delivery time (the
// dialled address), and the delivery fails at once without reaching it.
func TestDeliveryTimeAddressCheck(t *testing.T) {
	s, rcv, d := setup(t, func(int) int { return http.StatusOK }, deliver.Config{})
	_ = d
	strict, err := deliver.New(s, deliver.Config{Policy: target.Policy{AllowHTTP: true}, Poll: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := s.GetSubscription(t.Context(), "s1")
	o := strict.Test(t.Context(), sub, "msg_x", []byte(`{}`))
	if !o.GiveUp || o.Attempt.StatusCode != 0 || rcv.hits() != 0 {
		t.Fatalf("outcome %+v, receiver hits %d: want refused before connecting", o, rcv.hits())
	}
}

func TestBreakerPostponesWithoutCounting(t *testing.T) {
	s, rcv, d := setup(t, func(int) int { return http.StatusServiceUnavailable }, deliver.Config{BreakerThreshold: 2, BreakerOpen: time.Hour})
	enqueue(t, s, "m1")
	d.Wake()
	wait.Eventually(t, 10*time.Second, "breaker open", func() error {
		dl, err := s.GetDelivery(t.Context(), "m1")
		if err != nil {
			return err
		}
		return wait.Check(dl.NextAttempt.After(time.Now().Add(30*time.Minute)), "next attempt %v after %d attempts", dl.NextAttempt, dl.Attempts)
	})
	time.Sleep(200 * time.Millisecond)
	dl, _ := s.GetDelivery(t.Context(), "m1")
	if dl.Attempts != 2 || rcv.hits() != 2 {
		t.Fatalf("%d attempts logged, %d requests: want 2 and the rest postponed by the open breaker", dl.Attempts, rcv.hits())
	}
}
