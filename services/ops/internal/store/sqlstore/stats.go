package sqlstore

import (
	"context"
	"fmt"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/ops/internal/desk"
)

// OpenExceptions returns how many exceptions are OPEN or ACKNOWLEDGED,
// by owning domain (the KPI engineer's DeskStats). Domains without any
// are absent.
func (s *Store) OpenExceptions(ctx context.Context) (map[opsv1.Exception_Domain]int64, error) {
	out := map[opsv1.Exception_Domain]int64{}
	rows, err := s.q.QueryContext(ctx, s.d.Rebind(`SELECT domain, COUNT(*) FROM exceptions WHERE state <> ? GROUP BY domain`),
		int64(desk.StateResolved))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: count open exceptions: %w", err)
	}
	err = sqldb.Each(rows, func(sc sqldb.Scanner) error {
		var d int32
		var n int64
		if err := sc.Scan(&d, &n); err != nil {
			return err
		}
		out[opsv1.Exception_Domain(d)] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: count open exceptions: %w", err)
	}
	return out, nil
}

// PendingDeadLetters returns how many dead letters are PENDING, by
// consumer (the KPI engineer's DeskStats). Consumers without any are
// absent.
func (s *Store) PendingDeadLetters(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	rows, err := s.q.QueryContext(ctx, s.d.Rebind(`SELECT consumer, COUNT(*) FROM dead_letters WHERE state = ? GROUP BY consumer`),
		int64(desk.DeadLetterPending))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: count pending dead letters: %w", err)
	}
	err = sqldb.Each(rows, func(sc sqldb.Scanner) error {
		var c string
		var n int64
		if err := sc.Scan(&c, &n); err != nil {
			return err
		}
		out[c] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: count pending dead letters: %w", err)
	}
	return out, nil
}
