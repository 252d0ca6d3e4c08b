package order

import (
	"context"
	"log/slog"
	"time"
)

// SyncCustomers refreshes the customer snapshots from the ERP's
// ListCustomers, incrementally after the first run: the snapshots are what
// CreateOrder falls back to while the ERP is down, so every customer needs
// one before the first outage, not only those who ordered before it.
func (s *Service) SyncCustomers(ctx context.Context) (int, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	started := s.now()
	since := s.syncWatermark
	token := ""
	n := 0
	newest := since
	for {
		cs, next, err := s.d.Customers.ListCustomers(ctx, since, token)
		if err != nil {
			return n, err
		}
		now := s.now()
		for _, c := range cs {
			c.FetchedAt = now
			if err := s.d.Store.SaveCustomer(ctx, c); err != nil {
				return n, err
			}
			s.snapshots.put(c)
			n++
			if c.UpdatedAt.After(newest) {
				newest = c.UpdatedAt
			}
		}
		if next == "" {
			break
		}
		token = next
	}
	// Customers updated exactly at the watermark come again next time
	// (the ERP contract says so); saving them twice is harmless.
	s.syncWatermark = newest
	s.syncedAt.Store(started.UnixNano())
	return n, nil
}

// RunCustomerSync syncs customers at start (retrying with backoff until the
// ERP answers) and then every interval, until ctx ends. It returns nil.
func (s *Service) RunCustomerSync(ctx context.Context, interval time.Duration) error {
	retry := time.Second
	for {
		n, err := s.SyncCustomers(ctx)
		wait := interval
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.WarnContext(ctx, "customer sync failed; retrying", slog.Duration("retry_in", retry), slog.Any("error", err))
			wait = retry
			retry = min(retry*2, interval)
		} else {
			retry = time.Second
			s.log.DebugContext(ctx, "customer snapshots synced", slog.Int("customers", n))
			s.d.Metrics.ObserveCustomerSync(s.now())
		}
		if sleep(ctx, wait) != nil {
			return nil
		}
	}
}
