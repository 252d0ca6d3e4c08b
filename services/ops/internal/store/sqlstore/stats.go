package sqlstore

import (
	"context"
	"fmt"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/ops/internal/desk"
)

// OpenExceptions returns how many exceptions are OPEN or ACKNOWLEDGED, by
// owning domain (upstream.DeskStats, for the KPIs). Domains without any
// are absent.
func (s *Store) OpenExceptions(ctx context.Context) (map[opsv1.Exception_Domain]int64, error) {
	return countBy[opsv1.Exception_Domain](ctx, s, "open exceptions",
		`SELECT domain, COUNT(*) FROM exceptions WHERE state <> ? GROUP BY domain`, int64(desk.StateResolved))
}

// OpenExceptionsBySeverity returns how many exceptions are OPEN or
// ACKNOWLEDGED, by severity (upstream.SeverityStats). Severities without
// any are absent.
func (s *Store) OpenExceptionsBySeverity(ctx context.Context) (map[opsv1.Exception_Severity]int64, error) {
	return countBy[opsv1.Exception_Severity](ctx, s, "open exceptions by severity",
		`SELECT severity, COUNT(*) FROM exceptions WHERE state <> ? GROUP BY severity`, int64(desk.StateResolved))
}

// PendingDeadLetters returns how many dead letters are PENDING, by
// consumer (upstream.DeskStats). Consumers without any are absent.
func (s *Store) PendingDeadLetters(ctx context.Context) (map[string]int64, error) {
	return countBy[string](ctx, s, "pending dead letters",
		`SELECT consumer, COUNT(*) FROM dead_letters WHERE state = ? GROUP BY consumer`, int64(desk.DeadLetterPending))
}

// countBy runs a "SELECT key, COUNT(*) ... GROUP BY key" query.
func countBy[K ~int32 | ~string](ctx context.Context, s *Store, what, query string, args ...any) (map[K]int64, error) {
	rows, err := s.q.QueryContext(ctx, s.d.Rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: count %s: %w", what, err)
	}
	out := map[K]int64{}
	err = sqldb.Each(rows, func(sc sqldb.Scanner) error {
		var k K
		var n int64
		if err := sc.Scan(&k, &n); err != nil {
			return err
		}
		out[k] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: count %s: %w", what, err)
	}
	return out, nil
}
