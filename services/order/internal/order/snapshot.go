package order

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// snapshots remembers the customer snapshots this process stored or read
// back, so a placement compares the ERP's record with memory instead of
// writing the snapshot every time.
type snapshots struct {
	mu sync.Mutex
	m  map[string]Customer
}

func (s *snapshots) get(id string) (Customer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[id]
	return c, ok
}

func (s *snapshots) put(c Customer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]Customer{}
	}
	s.m[c.ID] = c
}

// snapshotRefresh is how old a stored snapshot's fetch time may grow while
// the ERP keeps answering with the same record before it is written again:
// a twenty-fourth of CustomerMaxStaleness (1h of 24h). The fetch time is
// what the fallback's staleness is measured from, so it errs on the old
// side by at most this much.
func (s *Service) snapshotRefresh() time.Duration { return s.cfg.CustomerMaxStaleness / 24 }

// saveSnapshot stores c (just read from the ERP) as the customer's snapshot
// unless the stored one holds the same record and was fetched less than
// snapshotRefresh ago. The stored snapshot is read from memory, or once
// from the local database; a failed write is logged (the placement goes
// on with the ERP's answer).
func (s *Service) saveSnapshot(ctx context.Context, c Customer) {
	prev, ok := s.snapshots.get(c.ID)
	if !ok {
		stored, err := s.d.Store.GetCustomer(ctx, c.ID)
		if err == nil {
			prev, ok = stored, true
			s.snapshots.put(stored)
		}
	}
	if ok && sameCustomer(prev, c) && c.FetchedAt.Sub(prev.FetchedAt) < s.snapshotRefresh() {
		return
	}
	if err := s.d.Store.SaveCustomer(ctx, c); err != nil {
		s.log.WarnContext(ctx, "save customer snapshot", slog.String("customer_id", c.ID), slog.Any("error", err))
		return
	}
	s.snapshots.put(c)
}

// sameCustomer reports whether a and b hold the same stored record (fetch
// and ERP update times aside).
func sameCustomer(a, b Customer) bool {
	return a.ID == b.ID && a.DisplayName == b.DisplayName && a.Account == b.Account && a.Currency == b.Currency &&
		slices.Equal(a.AllowedChannels, b.AllowedChannels) && a.HasCreditLimit == b.HasCreditLimit &&
		a.CreditCurrency == b.CreditCurrency && a.CreditLimitMinor == b.CreditLimitMinor &&
		a.AvailableCreditMinor == b.AvailableCreditMinor
}

// localCustomer returns the customer's snapshot when CustomerLocalMaxAge
// allows reading it instead of the ERP: the last complete sync started at
// most that long ago, so the snapshot is the ERP's record as of then. A
// customer without a snapshot is not found here (the ERP is asked).
func (s *Service) localCustomer(ctx context.Context, id string) (Customer, bool) {
	maxAge := s.cfg.CustomerLocalMaxAge
	synced := s.syncedAt.Load()
	if maxAge <= 0 || synced == 0 || s.now().Sub(time.Unix(0, synced)) > maxAge {
		return Customer{}, false
	}
	if c, ok := s.snapshots.get(id); ok {
		return c, true
	}
	c, err := s.d.Store.GetCustomer(ctx, id)
	if err != nil {
		if !errors.Is(err, ErrCustomerNotFound) {
			s.log.WarnContext(ctx, "read customer snapshot", slog.String("customer_id", id), slog.Any("error", err))
		}
		return Customer{}, false
	}
	s.snapshots.put(c)
	return c, true
}
