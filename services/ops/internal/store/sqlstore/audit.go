package sqlstore

import (
	"context"
	"fmt"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/ops/internal/desk"
)

const auditColumns = `id, actor_kind, actor_id, action, target, service, correlation_id, before_json, after_json, create_us`

// auditFilter maps the ListAuditRecords filter fields to columns.
var auditFilter = map[string]string{
	"target": "target", "action": "action", "service": "service", "correlation_id": "correlation_id",
	"actor.kind": "actor_kind", "actor.id": "actor_id", "create_time": "create_us",
}

func scanAudit(sc sqldb.Scanner) (*desk.AuditRecord, error) {
	var (
		r             desk.AuditRecord
		before, after string
		at            int64
	)
	if err := sc.Scan(&r.ID, &r.Actor.Kind, &r.Actor.ID, &r.Action, &r.Target, &r.Service, &r.CorrelationID,
		&before, &after, &at); err != nil {
		return nil, err
	}
	var err error
	if r.Before, err = decodeObject(before); err != nil {
		return nil, fmt.Errorf("audit record %s before: %w", r.ID, err)
	}
	if r.After, err = decodeObject(after); err != nil {
		return nil, fmt.Errorf("audit record %s after: %w", r.ID, err)
	}
	r.CreateTime = fromUS(at)
	return &r, nil
}

// GetAuditRecord implements desk.Store.
func (s *Store) GetAuditRecord(ctx context.Context, id string) (*desk.AuditRecord, error) {
	r, err := scanAudit(s.queryRow(ctx, `SELECT `+auditColumns+` FROM audit_records WHERE id = ?`, id))
	if err != nil {
		return nil, notFound(err, "get audit record "+id)
	}
	return r, nil
}

// ListAuditRecords implements desk.Store.
func (s *Store) ListAuditRecords(ctx context.Context, q desk.AuditQuery) ([]*desk.AuditRecord, error) {
	var w where
	if err := w.filter(auditFilter, q.Conds); err != nil {
		return nil, err
	}
	cols := []string{"create_us", "id"}
	if q.AfterID != "" {
		w.keyset(true, cols, []any{us(q.AfterTime), q.AfterID})
	}
	query := `SELECT ` + auditColumns + ` FROM audit_records` + w.clause()
	query += w.order(true, cols, q.Limit)
	rs, err := sqldb.QueryAll(ctx, s.q, s.d.Rebind(query), w.args, scanAudit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list audit records: %w", err)
	}
	return rs, nil
}

// InsertAuditRecord implements desk.Tx. It is the only statement this
// package runs on audit_records besides reads.
func (t *Tx) InsertAuditRecord(ctx context.Context, r *desk.AuditRecord) (bool, error) {
	before, after := r.BeforeJSON, r.AfterJSON
	var err error
	if before == "" {
		if before, err = encodeObject(r.Before); err != nil {
			return false, err
		}
	}
	if after == "" {
		if after, err = encodeObject(r.After); err != nil {
			return false, err
		}
	}
	res, err := t.exec(ctx, `INSERT INTO audit_records (id, actor_kind, actor_id, action, target, service,
			correlation_id, before_json, after_json, create_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`,
		r.ID, r.Actor.Kind, r.Actor.ID, r.Action, r.Target, r.Service, r.CorrelationID, before, after, us(r.CreateTime))
	if err != nil {
		return false, fmt.Errorf("sqlstore: insert audit record %s: %w", r.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlstore: insert audit record %s: %w", r.ID, err)
	}
	return n == 1, nil
}
