// Package deliver sends queued webhook deliveries.
//
// One goroutine per active subscription takes the subscription's due
// deliveries that head their order (sqlstore.Store.Due: ordered per
// order, a later change never overtaking an earlier one still being
// retried), attempts up to Config.Batch of them one after the other and
// records their outcomes in one transaction, so a subscription has at
// most one attempt in flight, pays one commit per batch rather than per
// delivery, and a slow receiver delays only its own subscription; a semaphore bounds the attempts in flight over all
// subscriptions (the worker pool). Each attempt is signed per Standard
// Webhooks, made with the SSRF-checking client of package target (address
// re-checked on the dialled connection, no redirects followed), bounded
// by the per-attempt timeout, and reads at most MaxResponseBody of the
// answer.
//
// Outcomes: 2xx delivers. Timeouts, connection errors, 408, 429 (honouring
// Retry-After) and 5xx are retried with exponential backoff and jitter
// until the horizon after the delivery was queued, then the delivery
// fails; 3xx and other 4xx, and a refused address, fail at once. A failed
// delivery stays in the log as FAILED and can be redelivered, and a
// KIND_WEBHOOK_DELIVERY_FAILED exception (resource: the delivery's
// storefront name) is raised in the transaction that fails it. After
// DisableAfter consecutive failed attempts the subscription is disabled
// and a KIND_WEBHOOK_DISABLED exception is raised in the same transaction
// (outbox); its deliveries wait until it is enabled again. A per-host
// breaker stops attempts to a host that failed BreakerThreshold times in
// a row for BreakerOpen, postponing its deliveries without counting them
// as attempts.
package deliver

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/services/notify/internal/signing"
	"github.com/transload/transload/services/notify/internal/store/sqlstore"
	"github.com/transload/transload/services/notify/internal/target"
)

// MaxResponseBody is how much of a receiver's answer is read.
const MaxResponseBody = 64 << 10

// Config tunes a Dispatcher; zero values take the defaults noted.
type Config struct {
	// Workers bounds the attempts in flight (default 16).
	Workers int
	// AttemptTimeout bounds one attempt (default 5s).
	AttemptTimeout time.Duration
	// Horizon is how long after queueing a delivery is retried (default 24h).
	Horizon time.Duration
	// BackoffBase and BackoffMax shape the retry delays: base·2^(n-1),
	// capped at max, ±20% jitter (defaults 1s and 10m).
	BackoffBase, BackoffMax time.Duration
	// DisableAfter is the consecutive failed attempts that disable a
	// subscription (default 20).
	DisableAfter int
	// BreakerThreshold and BreakerOpen configure the per-host breaker
	// (defaults 5 and 5s).
	BreakerThreshold int
	BreakerOpen      time.Duration
	// Poll is how often the set of active subscriptions and idle queues
	// are re-read when nothing wakes the dispatcher (default 1s).
	Poll time.Duration
	// Batch is how many due deliveries of one subscription (heads of
	// distinct orders) are attempted, one after the other, before their
	// outcomes are recorded in one transaction (default 16).
	Batch int
	// Policy is the SSRF policy.
	Policy target.Policy
	// Service names the producer of exceptions (default "notify").
	Service  string
	Now      func() time.Time
	Logger   *slog.Logger
	Registry prometheus.Registerer
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.AttemptTimeout, 5*time.Second)
	def(&c.Horizon, 24*time.Hour)
	def(&c.BackoffBase, time.Second)
	def(&c.BackoffMax, 10*time.Minute)
	def(&c.BreakerOpen, 5*time.Second)
	def(&c.Poll, time.Second)
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.Batch <= 0 {
		c.Batch = 16
	}
	if c.DisableAfter <= 0 {
		c.DisableAfter = 20
	}
	if c.BreakerThreshold <= 0 {
		c.BreakerThreshold = 5
	}
	if c.Service == "" {
		c.Service = "notify"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Dispatcher delivers the queues of every active subscription.
type Dispatcher struct {
	store  *sqlstore.Store
	cfg    Config
	client *http.Client
	sem    chan struct{}
	m      *metrics

	wake chan struct{}
	mu   sync.Mutex
	subs map[string]*worker

	bmu      sync.Mutex
	breakers map[string]*hostBreaker
}

type worker struct {
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{}
}

type hostBreaker struct {
	failures  int
	openUntil time.Time
}

// New returns a dispatcher over store.
func New(store *sqlstore.Store, cfg Config) (*Dispatcher, error) {
	cfg.defaults()
	m, err := newMetrics(cfg.Registry, store)
	if err != nil {
		return nil, err
	}
	return &Dispatcher{
		store: store, cfg: cfg, client: cfg.Policy.Client(cfg.AttemptTimeout), sem: make(chan struct{}, cfg.Workers), m: m,
		wake: make(chan struct{}, 1), subs: map[string]*worker{}, breakers: map[string]*hostBreaker{},
	}, nil
}

// Wake makes the dispatcher look for new deliveries and subscriptions now.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for the attempts in flight.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	defer d.stopAll()
	for {
		d.sync(ctx)
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-t.C:
		}
	}
}

// sync starts a worker per active subscription, stops the others, and
// wakes every worker.
func (d *Dispatcher) sync(ctx context.Context) {
	subs, err := d.store.ActiveSubscriptions(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.cfg.Logger.WarnContext(ctx, "notify: list subscriptions", slog.Any("error", err))
		}
		return
	}
	active := map[string]bool{}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range subs {
		active[s.ID] = true
		w, ok := d.subs[s.ID]
		select {
		case <-func() chan struct{} {
			if ok {
				return w.done
			}
			return nil
		}():
			ok = false // exited (disabled or deleted meanwhile): start again
		default:
		}
		if !ok {
			wctx, cancel := context.WithCancel(ctx)
			w = &worker{cancel: cancel, wake: make(chan struct{}, 1), done: make(chan struct{})}
			d.subs[s.ID] = w
			go func(id string) {
				defer close(w.done)
				d.work(wctx, id, w.wake)
			}(s.ID)
		}
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	for id, w := range d.subs {
		if !active[id] {
			w.cancel()
			delete(d.subs, id)
		}
	}
}

func (d *Dispatcher) stopAll() {
	d.mu.Lock()
	ws := make([]*worker, 0, len(d.subs))
	for id, w := range d.subs {
		w.cancel()
		ws = append(ws, w)
		delete(d.subs, id)
	}
	d.mu.Unlock()
	for _, w := range ws {
		<-w.done
	}
}

// work delivers subscription id's queue, one attempt at a time, until ctx
// ends or the subscription is no longer active.
func (d *Dispatcher) work(ctx context.Context, id string, wake <-chan struct{}) {
	for ctx.Err() == nil {
		wait, stop := d.step(ctx, id)
		if stop {
			return
		}
		if wait == 0 {
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// step makes at most one attempt; it returns how long to wait before the
// next step, and stop when the subscription is gone or disabled.
func (d *Dispatcher) step(ctx context.Context, id string) (wait time.Duration, stop bool) {
	now := d.cfg.Now()
	dl, due, err := d.store.Next(ctx, id, now)
	if err != nil {
		if ctx.Err() == nil {
			d.cfg.Logger.WarnContext(ctx, "notify: read queue", slog.String("subscription", id), slog.Any("error", err))
		}
		return time.Second, false
	}
	if dl == nil {
		return d.cfg.Poll * 5, false
	}
	if !due {
		return dl.NextAttempt.Sub(now), false
	}
	dls, err := d.store.Due(ctx, id, now, d.cfg.Batch)
	if err != nil || len(dls) == 0 {
		dls = []*sqlstore.Delivery{dl} // Next found it due a moment ago
	}
	dl = dls[0]
	sub, err := d.store.GetSubscription(ctx, id)
	if errors.Is(err, sqlstore.ErrNotFound) {
		return 0, true
	}
	if err != nil {
		return time.Second, false
	}
	if sub.State != sqlstore.SubActive {
		return 0, true
	}
	u, err := d.cfg.Policy.Parse(sub.TargetURI)
	if err != nil {
		return d.finish(ctx, sub, []*sqlstore.Delivery{dl},
			[]sqlstore.Outcome{{Attempt: sqlstore.Attempt{Time: now, Error: err.Error()}, GiveUp: true, CountsAsFailure: true}})
	}
	if until, open := d.breakerOpen(u.Host, now); open {
		if err := d.store.InTx(ctx, func(_ *sql.Tx, tx *sqlstore.Tx) error { return tx.Postpone(ctx, dl.ID, until) }); err != nil {
			return time.Second, false
		}
		d.m.attempts.WithLabelValues("breaker_open").Inc()
		return until.Sub(now), false
	}
	// Attempt the due heads one after the other (never two at once for a
	// subscription) and record their outcomes in one transaction: one
	// commit per batch instead of per delivery. The batch stops at the
	// first attempt that did not deliver (its failure may disable the
	// subscription) and when the breaker opens. A crash before the commit
	// sends the batch again, with the same webhook-ids.
	var done []*sqlstore.Delivery
	var outcomes []sqlstore.Outcome
	for _, dl := range dls {
		if _, open := d.breakerOpen(u.Host, d.cfg.Now()); open {
			break
		}
		select {
		case d.sem <- struct{}{}:
		case <-ctx.Done():
			return 0, true
		}
		o := d.attempt(ctx, sub, u, dl)
		<-d.sem
		if ctx.Err() != nil && !o.Delivered {
			break // shutting down: the attempt is not recorded and is made again after restart
		}
		d.recordBreaker(u.Host, o, d.cfg.Now())
		done, outcomes = append(done, dl), append(outcomes, o)
		if !o.Delivered {
			break
		}
	}
	if len(done) == 0 {
		return 0, ctx.Err() != nil
	}
	return d.finish(ctx, sub, done, outcomes)
}

// attempt makes one HTTP attempt and classifies its result.
func (d *Dispatcher) attempt(ctx context.Context, sub *sqlstore.Subscription, u *url.URL, dl *sqlstore.Delivery) sqlstore.Outcome {
	start := d.cfg.Now()
	o := sqlstore.Outcome{Attempt: sqlstore.Attempt{Time: start}, CountsAsFailure: true}
	actx, cancel := context.WithTimeout(ctx, d.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, u.String(), bytes.NewReader(dl.Body))
	if err != nil {
		o.Attempt.Error, o.GiveUp = err.Error(), true
		return o
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Transload-Webhooks/1")
	secrets := []signing.Secret{signing.Secret(sub.Secret)}
	if sub.OldSecret != "" && start.Before(sub.OldUntil) {
		secrets = append(secrets, signing.Secret(sub.OldSecret))
	}
	if err := signing.SetHeaders(req.Header, dl.ID, start, dl.Body, secrets...); err != nil {
		o.Attempt.Error, o.GiveUp = err.Error(), true
		return o
	}
	resp, err := d.client.Do(req)
	o.Attempt.Latency = d.cfg.Now().Sub(start)
	if err != nil {
		o.Attempt.Error = err.Error()
		if target.IsRefused(err) {
			o.GiveUp = true
			return o
		}
		o.RetryAt = d.retryAt(dl, start, 0)
		o.GiveUp = o.RetryAt.IsZero()
		return o
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBody))
	_ = resp.Body.Close()
	o.Attempt.StatusCode = resp.StatusCode
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		o.Delivered, o.CountsAsFailure = true, false
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		o.RetryAt = d.retryAt(dl, start, retryAfter(resp.Header.Get("Retry-After"), start))
		o.GiveUp = o.RetryAt.IsZero()
	default:
		o.GiveUp = true
		o.Attempt.Error = fmt.Sprintf("HTTP %d is not retried", c)
	}
	return o
}

// retryAt is when to try dl again after attempt number dl.Attempts+1
// started at now: the backoff (or Retry-After when later), zero when past
// the horizon.
func (d *Dispatcher) retryAt(dl *sqlstore.Delivery, now time.Time, after time.Duration) time.Time {
	wait := Backoff(d.cfg.BackoffBase, d.cfg.BackoffMax, dl.Attempts+1, rand.Float64())
	wait = max(wait, after)
	at := now.Add(wait)
	if at.After(dl.CreateTime.Add(d.cfg.Horizon)) {
		return time.Time{}
	}
	return at
}

// Backoff is the delay after the n-th failed attempt: base·2^(n-1) capped
// at maxWait, scaled by 0.8 + 0.4·jitter (jitter in [0,1)).
func Backoff(base, maxWait time.Duration, n int, jitter float64) time.Duration {
	w := base
	for i := 1; i < n && w < maxWait; i++ {
		w *= 2
	}
	w = min(w, maxWait)
	return time.Duration(float64(w) * (0.8 + 0.4*jitter))
}

// retryAfter parses a Retry-After header (seconds or an HTTP date),
// capped at a day; 0 when absent or malformed.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, 24*time.Hour)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}

func (d *Dispatcher) breakerOpen(host string, now time.Time) (time.Time, bool) {
	d.bmu.Lock()
	defer d.bmu.Unlock()
	b := d.breakers[host]
	if b != nil && now.Before(b.openUntil) {
		return b.openUntil, true
	}
	return time.Time{}, false
}

func (d *Dispatcher) recordBreaker(host string, o sqlstore.Outcome, now time.Time) {
	d.bmu.Lock()
	defer d.bmu.Unlock()
	b := d.breakers[host]
	if b == nil {
		b = &hostBreaker{}
		d.breakers[host] = b
	}
	retryable := !o.Delivered && !o.GiveUp
	switch {
	case o.Delivered:
		b.failures, b.openUntil = 0, time.Time{}
	case retryable:
		b.failures++
		if b.failures >= d.cfg.BreakerThreshold {
			b.openUntil = now.Add(d.cfg.BreakerOpen)
		}
	}
}

// finish records the outcomes of the attempts of dls (outcomes[i] of
// dls[i], in attempt order) in one transaction. For each it raises a
// KIND_WEBHOOK_DELIVERY_FAILED exception when the delivery is given up
// and disables the subscription past the failure threshold (raising
// KIND_WEBHOOK_DISABLED), both in that transaction, and updates the
// metrics after the commit.
func (d *Dispatcher) finish(ctx context.Context, sub *sqlstore.Subscription, dls []*sqlstore.Delivery, outcomes []sqlstore.Outcome) (time.Duration, bool) {
	disabled := false
	err := d.store.InTx(ctx, func(sqlTx *sql.Tx, tx *sqlstore.Tx) error {
		disabled = false
		for i, dl := range dls {
			off, err := d.record(ctx, sqlTx, tx, sub, dl, outcomes[i])
			if err != nil {
				return err
			}
			disabled = disabled || off
		}
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			d.cfg.Logger.WarnContext(ctx, "notify: record attempts", slog.String("delivery", dls[0].ID), slog.Int("batch", len(dls)),
				slog.Any("error", err))
		}
		return time.Second, false
	}
	for i, dl := range dls {
		o := outcomes[i]
		d.m.observe(sub.ID, dl, o)
		if o.GiveUp {
			d.cfg.Logger.WarnContext(ctx, "notify: delivery failed for good; it stays in the delivery log and can be redelivered",
				slog.String("subscription", sub.ID), slog.String("delivery", dl.ID), slog.String("last", describe(o.Attempt)))
		}
	}
	if disabled {
		d.cfg.Logger.WarnContext(ctx, "notify: subscription disabled after consecutive failures", slog.String("subscription", sub.ID))
		return 0, true
	}
	return 0, false
}

// record records outcome o of dl in tx, with its exceptions; disabled
// says whether it disabled the subscription.
func (d *Dispatcher) record(ctx context.Context, sqlTx *sql.Tx, tx *sqlstore.Tx, sub *sqlstore.Subscription, dl *sqlstore.Delivery,
	o sqlstore.Outcome) (disabled bool, err error) {
	res, err := tx.RecordAttempt(ctx, dl, o)
	if err != nil {
		return false, err
	}
	var evs []outbox.Event
	if o.GiveUp {
		ev, err := d.givenUp(sub, dl, o)
		if err != nil {
			return false, err
		}
		evs = append(evs, ev)
	}
	if !o.Delivered && res.Failures >= d.cfg.DisableAfter {
		msg := fmt.Sprintf("%d consecutive failed delivery attempts; last: %s", res.Failures, describe(o.Attempt))
		ok, err := tx.Disable(ctx, sub.ID, msg)
		if err != nil {
			return false, err
		}
		if ok {
			disabled = true
			ev, err := opsevents.Raise(d.cfg.Service, opsevents.Exception{
				Kind: opsv1.Exception_KIND_WEBHOOK_DISABLED, Severity: opsv1.Exception_SEVERITY_HIGH, Domain: opsv1.Exception_DOMAIN_COMMERCE,
				Resource: subscriptionName(sub.ID), AggregateType: "webhook_subscription", AggregateID: sub.ID,
				Message: "Webhook subscription to " + redactURI(sub.TargetURI) + " disabled: " + msg,
				Details: map[string]any{"webhookSubscription": subscriptionName(sub.ID), "lastError": describe(o.Attempt),
					"channel": sub.Channel, "customerId": sub.CustomerID},
			})
			if err != nil {
				return false, err
			}
			evs = append(evs, ev)
		}
	}
	if len(evs) == 0 {
		return disabled, nil
	}
	_, err = outbox.WriteBatch(ctx, sqlTx, d.store.DB().Dialect(), evs)
	return disabled, err
}

// givenUp is the KIND_WEBHOOK_DELIVERY_FAILED exception for dl, given up
// after outcome o: one per give-up, under the delivery's storefront name,
// so the desk counts a redelivery that fails again as another occurrence.
// A later successful redelivery does not resolve it (operators resolve).
func (d *Dispatcher) givenUp(sub *sqlstore.Subscription, dl *sqlstore.Delivery, o sqlstore.Outcome) (outbox.Event, error) {
	name := subscriptionName(sub.ID) + "/deliveries/" + dl.ID
	eventType := storefrontv1.WebhookEventType(dl.EventType).String()
	details := map[string]any{"webhookDelivery": name, "webhookSubscription": subscriptionName(sub.ID),
		"eventType": eventType, "eventId": dl.EventID, "resource": dl.Resource, "attempts": dl.Attempts + 1,
		"lastError": describe(o.Attempt), "channel": sub.Channel, "customerId": sub.CustomerID}
	if o.Attempt.StatusCode != 0 {
		details["lastStatusCode"] = o.Attempt.StatusCode
	}
	return opsevents.Raise(d.cfg.Service, opsevents.Exception{
		Kind: opsv1.Exception_KIND_WEBHOOK_DELIVERY_FAILED, Severity: opsv1.Exception_SEVERITY_MEDIUM, Domain: opsv1.Exception_DOMAIN_COMMERCE,
		Resource: name, AggregateType: "webhook_delivery", AggregateID: dl.ID,
		Message: fmt.Sprintf("Webhook delivery %s of %s (%s) to %s given up after %d attempts: %s",
			dl.ID, dl.Resource, eventType, redactURI(sub.TargetURI), dl.Attempts+1, describe(o.Attempt)),
		Details: details,
	})
}

// subscriptionName is a subscription's storefront.v1 resource name.
func subscriptionName(id string) string { return "webhookSubscriptions/" + id }

func describe(a sqlstore.Attempt) string {
	if a.Error != "" {
		return a.Error
	}
	return "HTTP " + strconv.Itoa(a.StatusCode)
}

// redactURI drops the query (it may carry a receiver's token) for
// messages.
func redactURI(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable target)"
	}
	u.RawQuery, u.User = "", nil
	return u.String()
}

// Test makes one attempt of a test delivery (id, body) to sub now, without
// retries or records, and returns how the target answered.
func (d *Dispatcher) Test(ctx context.Context, sub *sqlstore.Subscription, id string, body []byte) sqlstore.Outcome {
	u, err := d.cfg.Policy.Parse(sub.TargetURI)
	if err != nil {
		return sqlstore.Outcome{Attempt: sqlstore.Attempt{Time: d.cfg.Now(), Error: err.Error()}, GiveUp: true}
	}
	now := d.cfg.Now()
	return d.attempt(ctx, sub, u, &sqlstore.Delivery{ID: id, Body: body, CreateTime: now})
}
