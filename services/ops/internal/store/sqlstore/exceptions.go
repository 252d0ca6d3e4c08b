package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/ops/internal/desk"
)

// exceptionColumns are read by scanException; the last says whether a
// DEAD_LETTER exception's dead letter is still pending.
const exceptionColumns = `x.id, x.kind, x.severity, x.domain, x.resource, x.source_service, x.aggregate_type,
	x.aggregate_id, x.message, x.state, x.correlation_id, x.details, x.occurrence_count, x.acknowledger_kind,
	x.acknowledger_id, x.resolver_kind, x.resolver_id, x.resolution_note, x.create_us, x.update_us, x.resolve_us,
	x.last_occur_us,
	EXISTS (SELECT 1 FROM dead_letters d WHERE d.seq = x.dead_letter_seq AND d.state = 1)`

// exceptionFilter maps the ListExceptions filter fields to columns.
var exceptionFilter = map[string]string{
	"state": "x.state", "kind": "x.kind", "severity": "x.severity", "domain": "x.domain",
	"source_service": "x.source_service", "resource": "x.resource", "aggregate_type": "x.aggregate_type",
	"aggregate_id": "x.aggregate_id", "correlation_id": "x.correlation_id",
	"create_time": "x.create_us", "update_time": "x.update_us", "last_occur_time": "x.last_occur_us",
}

func scanException(sc sqldb.Scanner) (*desk.Exception, error) {
	var (
		e                                  desk.Exception
		details                            string
		create, update, resolve, lastOccur int64
	)
	err := sc.Scan(&e.ID, &e.Kind, &e.Severity, &e.Domain, &e.Resource, &e.SourceService, &e.AggregateType,
		&e.AggregateID, &e.Message, &e.State, &e.CorrelationID, &details, &e.OccurrenceCount, &e.Acknowledger.Kind,
		&e.Acknowledger.ID, &e.Resolver.Kind, &e.Resolver.ID, &e.ResolutionNote, &create, &update, &resolve,
		&lastOccur, &e.DeadLetterPending)
	if err != nil {
		return nil, err
	}
	if e.Details, err = decodeObject(details); err != nil {
		return nil, fmt.Errorf("exception %s details: %w", e.ID, err)
	}
	e.CreateTime, e.UpdateTime, e.ResolveTime, e.LastOccurTime = fromUS(create), fromUS(update), fromUS(resolve), fromUS(lastOccur)
	return &e, nil
}

// lockClause locks the exception rows a transaction reads (PostgreSQL);
// only x, not the dead letters the pending flag looks at.
func (c conn) lockClause() string {
	if c.lock == "" {
		return ""
	}
	return " FOR UPDATE OF x"
}

func (c conn) getException(ctx context.Context, id string) (*desk.Exception, error) {
	e, err := scanException(c.queryRow(ctx, `SELECT `+exceptionColumns+` FROM exceptions x WHERE x.id = ?`+c.lockClause(), id))
	if err != nil {
		return nil, notFound(err, "get exception "+id)
	}
	return e, nil
}

// GetException implements desk.Store.
func (s *Store) GetException(ctx context.Context, id string) (*desk.Exception, error) {
	e, err := s.getException(ctx, id)
	if err != nil {
		return nil, err
	}
	e.History, err = sqldb.QueryAll(ctx, s.q, s.d.Rebind(`SELECT action, actor_kind, actor_id, note, outcome, create_us, dedupe_key
		FROM exception_history WHERE exception_id = ? ORDER BY id`), []any{id}, scanHistory)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: history of exception %s: %w", id, err)
	}
	return e, nil
}

func scanHistory(sc sqldb.Scanner) (desk.HistoryEntry, error) {
	var h desk.HistoryEntry
	var at int64
	err := sc.Scan(&h.Action, &h.Actor.Kind, &h.Actor.ID, &h.Note, &h.Outcome, &at, &h.DedupeKey)
	h.CreateTime = fromUS(at)
	return h, err
}

// ListExceptions implements desk.Store.
func (s *Store) ListExceptions(ctx context.Context, q desk.ExceptionQuery) ([]*desk.Exception, error) {
	var w where
	if err := w.filter(exceptionFilter, q.Conds); err != nil {
		return nil, err
	}
	desc, cols, vals := true, []string{"x.create_us", "x.id"}, []any{us(q.AfterTime), q.AfterID}
	switch q.Order {
	case desk.ByCreateDesc:
	case desk.ByCreateAsc:
		desc = false
	case desk.ByUpdateDesc:
		cols[0] = "x.update_us"
	case desk.BySeverityDesc:
		cols = []string{"x.severity", "x.create_us", "x.id"}
		vals = []any{int64(q.AfterSeverity), us(q.AfterTime), q.AfterID}
	}
	if q.AfterID != "" {
		w.keyset(desc, cols, vals)
	}
	query := `SELECT ` + exceptionColumns + ` FROM exceptions x` + w.clause()
	query += w.order(desc, cols, q.Limit)
	es, err := sqldb.QueryAll(ctx, s.q, s.d.Rebind(query), w.args, scanException)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list exceptions: %w", err)
	}
	return es, nil
}

// GetException implements desk.Tx.
func (t *Tx) GetException(ctx context.Context, id string) (*desk.Exception, error) {
	return t.getException(ctx, id)
}

// OpenException implements desk.Tx.
func (t *Tx) OpenException(ctx context.Context, kind desk.Kind, resource string) (*desk.Exception, error) {
	e, err := scanException(t.queryRow(ctx, `SELECT `+exceptionColumns+` FROM exceptions x
		WHERE x.kind = ? AND x.resource = ? AND x.state <> ?`+t.lockClause(), int64(kind), resource, int64(desk.StateResolved)))
	if err != nil {
		return nil, notFound(err, "open exception")
	}
	return e, nil
}

// LatestException implements desk.Tx.
func (t *Tx) LatestException(ctx context.Context, kind desk.Kind, resource string) (*desk.Exception, error) {
	e, err := scanException(t.queryRow(ctx, `SELECT `+exceptionColumns+` FROM exceptions x
		WHERE x.kind = ? AND x.resource = ? ORDER BY x.create_us DESC, x.id DESC LIMIT 1`+t.lockClause(), int64(kind), resource))
	if err != nil {
		return nil, notFound(err, "latest exception")
	}
	return e, nil
}

// UnresolvedExceptions implements desk.Tx.
func (t *Tx) UnresolvedExceptions(ctx context.Context, resource string) ([]*desk.Exception, error) {
	es, err := sqldb.QueryAll(ctx, t.q, t.d.Rebind(`SELECT `+exceptionColumns+` FROM exceptions x
		WHERE x.resource = ? AND x.state <> ? ORDER BY x.create_us, x.id`+t.lockClause()),
		[]any{resource, int64(desk.StateResolved)}, scanException)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: unresolved exceptions of %s: %w", resource, err)
	}
	return es, nil
}

// InsertException implements desk.Tx.
func (t *Tx) InsertException(ctx context.Context, e *desk.Exception) error {
	details, err := encodeObject(e.Details)
	if err != nil {
		return err
	}
	var dlSeq uint64
	if e.Kind == desk.KindDeadLetter {
		dlSeq, _ = desk.ParseDeadLetterName(e.Resource)
	}
	_, err = t.exec(ctx, `INSERT INTO exceptions (id, kind, severity, domain, resource, source_service, aggregate_type,
			aggregate_id, message, state, correlation_id, details, occurrence_count, acknowledger_kind, acknowledger_id,
			resolver_kind, resolver_id, resolution_note, dead_letter_seq, create_us, update_us, resolve_us, last_occur_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, int64(e.Kind), int64(e.Severity), int64(e.Domain), e.Resource, e.SourceService, e.AggregateType,
		e.AggregateID, e.Message, int64(e.State), e.CorrelationID, details, e.OccurrenceCount, e.Acknowledger.Kind,
		e.Acknowledger.ID, e.Resolver.Kind, e.Resolver.ID, e.ResolutionNote, int64(dlSeq), us(e.CreateTime),
		us(e.UpdateTime), us(e.ResolveTime), us(e.LastOccurTime))
	if err != nil {
		return fmt.Errorf("sqlstore: insert exception %s: %w", e.ID, err)
	}
	return nil
}

// UpdateException implements desk.Tx.
func (t *Tx) UpdateException(ctx context.Context, e *desk.Exception) error {
	details, err := encodeObject(e.Details)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, `UPDATE exceptions SET severity = ?, message = ?, state = ?, details = ?,
			occurrence_count = ?, acknowledger_kind = ?, acknowledger_id = ?, resolver_kind = ?, resolver_id = ?,
			resolution_note = ?, update_us = ?, resolve_us = ?, last_occur_us = ?
		WHERE id = ?`,
		int64(e.Severity), e.Message, int64(e.State), details, e.OccurrenceCount, e.Acknowledger.Kind,
		e.Acknowledger.ID, e.Resolver.Kind, e.Resolver.ID, e.ResolutionNote, us(e.UpdateTime), us(e.ResolveTime),
		us(e.LastOccurTime), e.ID)
	return affectedOne(res, err, "update exception "+e.ID)
}

// AppendHistory implements desk.Tx.
func (t *Tx) AppendHistory(ctx context.Context, id string, h desk.HistoryEntry) error {
	_, err := t.exec(ctx, `INSERT INTO exception_history (exception_id, action, actor_kind, actor_id, note, outcome,
			dedupe_key, create_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (exception_id, dedupe_key) WHERE dedupe_key <> '' DO NOTHING`,
		id, h.Action, h.Actor.Kind, h.Actor.ID, h.Note, h.Outcome, h.DedupeKey, us(h.CreateTime))
	if err != nil {
		return fmt.Errorf("sqlstore: append history of exception %s: %w", id, err)
	}
	return nil
}

// affectedOne checks that an update found its row.
func affectedOne(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	if n == 0 {
		return desk.ErrNotFound
	}
	return nil
}
