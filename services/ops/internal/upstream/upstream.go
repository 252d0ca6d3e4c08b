// Package upstream serves the ops methods that are answered by the
// process services rather than by the ops database: reconciliation runs
// (inventory), the ERP submission queue (order), and the KPIs, computed
// from the services' own Prometheus metrics, which Run scrapes every
// Interval, and from the exception desk.
//
// Every call to a neighbour names the operator the gateway forwarded
// (opsevents.ActorHeader; "service:ops" when none) and carries the
// correlation id, so the neighbour's audit records say who did it.
// Errors are gRPC statuses: the neighbour's own for a bad request
// (INVALID_ARGUMENT, ALREADY_EXISTS on a reused request id), the ops
// contract's reasons where it has one (RECONCILIATION_ALREADY_RUNNING,
// ERP_SNAPSHOT_UNAVAILABLE), NOT_FOUND, UNAVAILABLE naming the neighbour,
// and INTERNAL for anything else (the cause is logged).
//
// KPI windows start at the ops process start at the earliest: the figures
// come from what this process scraped (see package kpi), so GetKpis with a
// 7-day window an hour after a restart covers that hour.
package upstream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/metadata"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/correlation"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/services/ops/internal/kpi"
)

// DefaultInterval is the scrape interval when Config.Interval is zero.
const DefaultInterval = 15 * time.Second

// serviceName is this service's actor when a call names no operator.
const serviceName = "ops"

// DeskStats is what the KPIs need from the exception desk.
type DeskStats interface {
	// OpenExceptions counts the exceptions in state OPEN or ACKNOWLEDGED
	// per owning domain. It returns the store's error when it cannot read.
	OpenExceptions(ctx context.Context) (map[opsv1.Exception_Domain]int64, error)
	// PendingDeadLetters counts the dead letters in state PENDING per
	// consumer. It returns the store's error when it cannot read.
	PendingDeadLetters(ctx context.Context) (map[string]int64, error)
}

// SeverityStats is optional for a DeskStats: when the desk also implements
// it, the ops metrics add transload_ops_open_exceptions_by_severity, which
// the "open HIGH exceptions" alert reads.
type SeverityStats interface {
	// OpenExceptionsBySeverity counts the exceptions in state OPEN or
	// ACKNOWLEDGED per severity. It returns the store's error when it
	// cannot read.
	OpenExceptionsBySeverity(ctx context.Context) (map[opsv1.Exception_Severity]int64, error)
}

// Config configures an Upstream.
type Config struct {
	// Inventory serves reconciliations.
	Inventory inventoryv1.InventoryServiceClient
	// Order serves the ERP queue.
	Order orderv1.OrderServiceClient
	// Desk counts open exceptions and pending dead letters.
	Desk DeskStats
	// Targets maps a service name to its metrics URL, e.g. "order" →
	// "http://127.0.0.1:9105/metrics". The name is the `service` of
	// outbox lags and breakers.
	Targets map[string]string
	// Interval is the scrape interval; 0 means DefaultInterval.
	Interval time.Duration
	// ScrapeToken, when set, is sent as "Authorization: Bearer" with
	// every scrape: the services' admin listeners require it from
	// callers off loopback once ADMIN_TOKEN is set (ops sends its own
	// ADMIN_TOKEN, so the mesh shares one).
	ScrapeToken string
	// Registry receives the ops metrics; nil registers none.
	Registry prometheus.Registerer
	// Logger logs scrape failures and unexpected neighbour errors; nil
	// discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Upstream implements the reconciliation, ERP queue and KPI methods of
// opsv1.OpsServiceServer. Create it with New.
type Upstream struct {
	inventory inventoryv1.InventoryServiceClient
	order     orderv1.OrderServiceClient
	desk      DeskStats
	targets   []target
	interval  time.Duration
	logger    *slog.Logger
	now       func() time.Time
	http      *http.Client
	store     *kpi.Store

	mu       sync.Mutex
	up       map[string]bool
	lastReco *inventoryv1.Reconciliation // latest SUCCEEDED run, nil if none
}

type target struct{ name, url string }

// bearer adds the admin token to every scrape request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// New checks cfg and returns an Upstream. It fails when a client or the
// desk is missing, a target URL is not an absolute http(s) URL, the
// interval is negative, or registering the ops metrics fails.
func New(cfg Config) (*Upstream, error) {
	var errs []error
	if cfg.Inventory == nil {
		errs = append(errs, errors.New("upstream: Inventory client is required"))
	}
	if cfg.Order == nil {
		errs = append(errs, errors.New("upstream: Order client is required"))
	}
	if cfg.Desk == nil {
		errs = append(errs, errors.New("upstream: Desk is required"))
	}
	if cfg.Interval < 0 {
		errs = append(errs, fmt.Errorf("upstream: Interval %v is negative", cfg.Interval))
	}
	u := &Upstream{
		inventory: cfg.Inventory, order: cfg.Order, desk: cfg.Desk,
		interval: cfg.Interval, logger: cfg.Logger, now: cfg.Now,
		up: map[string]bool{},
	}
	for name, raw := range cfg.Targets {
		p, err := url.Parse(raw)
		if name == "" || err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("upstream: target %q: %q is not an http(s) URL", name, raw))
			continue
		}
		u.targets = append(u.targets, target{name: name, url: raw})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(u.targets, func(a, b target) int { return cmp.Compare(a.name, b.name) })
	if u.interval == 0 {
		u.interval = DefaultInterval
	}
	if u.logger == nil {
		u.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if u.now == nil {
		u.now = time.Now
	}
	// A scrape never outlasts its round, so rounds never pile up.
	u.http = &http.Client{Timeout: u.interval}
	if cfg.ScrapeToken != "" {
		u.http.Transport = bearer{token: cfg.ScrapeToken, next: http.DefaultTransport}
	}
	u.store = kpi.NewStore(kpi.Options{Keep: keepFamily})
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(&collector{u: u}); err != nil {
			return nil, fmt.Errorf("upstream: register metrics: %w", err)
		}
	}
	return u, nil
}

// Run scrapes every target at once per Interval, and refreshes the latest
// successful reconciliation, until ctx ends; it then returns nil. A failed
// scrape is logged and marks the target down until its next success.
func (u *Upstream) Run(ctx context.Context) error {
	tick := time.NewTicker(u.interval)
	defer tick.Stop()
	for {
		u.round(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// round is one scrape of every target plus the reconciliation refresh.
func (u *Upstream) round(ctx context.Context) {
	var wg sync.WaitGroup
	for _, t := range u.targets {
		wg.Go(func() { u.scrape(ctx, t) })
	}
	wg.Go(func() { u.refreshReconciliation(ctx) })
	wg.Wait()
	u.store.Prune(u.now())
}

func (u *Upstream) scrape(ctx context.Context, t target) {
	fams, err := kpi.Scrape(ctx, u.http, t.url)
	if ctx.Err() != nil {
		return
	}
	u.mu.Lock()
	wasUp, seen := u.up[t.name]
	u.up[t.name] = err == nil
	u.mu.Unlock()
	if err != nil {
		if wasUp || !seen {
			u.logger.WarnContext(ctx, "ops: scrape failed", slog.String("service", t.name), slog.Any("error", err))
		}
		return
	}
	if dropped := u.store.Ingest(t.name, u.now(), fams); dropped > 0 {
		u.logger.WarnContext(ctx, "ops: too many series, samples dropped", slog.String("service", t.name), slog.Int("dropped", dropped))
	}
}

// refreshReconciliation reads inventory's latest successful run, the
// source of the inventory variance KPI and its time.
func (u *Upstream) refreshReconciliation(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, u.interval)
	defer cancel()
	resp, err := u.inventory.ListReconciliations(u.outgoing(cctx), &inventoryv1.ListReconciliationsRequest{
		PageSize: 1, Filter: "state = SUCCEEDED",
	})
	if err != nil {
		if ctx.Err() == nil {
			u.logger.WarnContext(ctx, "ops: read latest reconciliation", slog.Any("error", err))
		}
		return
	}
	var last *inventoryv1.Reconciliation
	if runs := resp.GetReconciliations(); len(runs) > 0 {
		last = runs[0]
	}
	u.mu.Lock()
	u.lastReco = last
	u.mu.Unlock()
}

// outgoing returns ctx with the acting principal and the correlation id
// set on outgoing calls. The actor is the one the gateway forwarded, or
// this service; the correlation id is the context's (set by the server's
// interceptor) or, failing that, the incoming header when it is valid.
func (u *Upstream) outgoing(ctx context.Context) context.Context {
	ctx = opsevents.AppendActor(ctx, opsevents.ActorFromIncoming(ctx, opsevents.Service(serviceName)))
	if md, ok := metadata.FromOutgoingContext(ctx); ok && len(md.Get(correlation.MetadataKey)) > 0 {
		return ctx
	}
	id, ok := correlation.FromContext(ctx)
	if !ok {
		if md, found := metadata.FromIncomingContext(ctx); found {
			if vs := md.Get(correlation.MetadataKey); len(vs) > 0 && correlation.Valid(vs[0]) {
				id, ok = vs[0], true
			}
		}
	}
	if !ok {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, correlation.MetadataKey, id)
}
