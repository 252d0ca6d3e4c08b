package sqlstore

import (
	"context"
	"fmt"

	"github.com/transload/transload/services/erpsim/internal/erp"
)

var _ erp.JournalLister = (*Store)(nil)

// PostedJournalLines implements erp.JournalLister: every line whose
// outcome was POSTED (a DUPLICATE answer posts nothing), in batch creation
// order and line order within a batch.
func (s *Store) PostedJournalLines(ctx context.Context) ([]erp.PostedJournalLine, error) {
	rows, err := s.db.SQL().QueryContext(ctx, `SELECT batch_id, kind, lines, results FROM journal_batches ORDER BY create_time, batch_id`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list journal batches: %w", err)
	}
	defer rows.Close()
	var out []erp.PostedJournalLine
	for rows.Next() {
		var (
			id, lines, results string
			kind               int
		)
		if err := rows.Scan(&id, &kind, &lines, &results); err != nil {
			return nil, fmt.Errorf("sqlstore: read journal batch: %w", err)
		}
		var (
			ls []erp.JournalLine
			rs []erp.JournalLineResult
		)
		if err := fromJSON(lines, &ls); err != nil {
			return nil, fmt.Errorf("sqlstore: journal batch %s lines: %w", id, err)
		}
		if err := fromJSON(results, &rs); err != nil {
			return nil, fmt.Errorf("sqlstore: journal batch %s results: %w", id, err)
		}
		for i, r := range rs {
			if r.Outcome == erp.LinePosted && i < len(ls) {
				out = append(out, erp.PostedJournalLine{BatchID: id, Kind: erp.JournalKind(kind), Line: ls[i], ERPDocumentNumber: r.ERPDocumentNumber})
			}
		}
	}
	return out, rows.Err()
}
