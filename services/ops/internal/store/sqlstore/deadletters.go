package sqlstore

import (
	"context"
	"fmt"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/ops/internal/desk"
)

// deadLetterColumns are read by scanDeadLetter; payload is appended
// where it is read.
const deadLetterColumns = `seq, consumer, subject, event_id, aggregate_type, aggregate_id, aggregate_seq,
	correlation_id, stream, stream_seq, error, delivery_count, publish_us, dead_letter_us, payload_type,
	payload_size, state, replay_count, last_replay_us`

// deadLetterFilter maps the ListDeadLetters filter fields to columns.
var deadLetterFilter = map[string]string{
	"consumer": "consumer", "subject": "subject", "event_id": "event_id", "aggregate_type": "aggregate_type",
	"aggregate_id": "aggregate_id", "correlation_id": "correlation_id", "state": "state",
	"dead_letter_time": "dead_letter_us",
}

func scanDeadLetter(withPayload bool) func(sqldb.Scanner) (*desk.DeadLetter, error) {
	return func(sc sqldb.Scanner) (*desk.DeadLetter, error) {
		var (
			d                         desk.DeadLetter
			publish, dead, lastReplay int64
			seq, streamSeq            int64
		)
		dst := []any{&seq, &d.Consumer, &d.Subject, &d.EventID, &d.AggregateType, &d.AggregateID,
			&d.AggregateSequence, &d.CorrelationID, &d.Stream, &streamSeq, &d.Error, &d.DeliveryCount, &publish,
			&dead, &d.PayloadType, &d.PayloadSize, &d.State, &d.ReplayCount, &lastReplay}
		if withPayload {
			dst = append(dst, &d.Payload)
		}
		if err := sc.Scan(dst...); err != nil {
			return nil, err
		}
		d.Seq, d.StreamSeq = uint64(seq), uint64(streamSeq)
		d.PublishTime, d.DeadLetterTime, d.LastReplayTime = fromUS(publish), fromUS(dead), fromUS(lastReplay)
		return &d, nil
	}
}

// GetDeadLetter implements desk.Store.
func (s *Store) GetDeadLetter(ctx context.Context, seq uint64) (*desk.DeadLetter, error) {
	d, err := scanDeadLetter(true)(s.queryRow(ctx, `SELECT `+deadLetterColumns+`, payload FROM dead_letters WHERE seq = ?`, int64(seq)))
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("get dead letter %d", seq))
	}
	return d, nil
}

// ListDeadLetters implements desk.Store.
func (s *Store) ListDeadLetters(ctx context.Context, q desk.DeadLetterQuery) ([]*desk.DeadLetter, error) {
	var w where
	if err := w.filter(deadLetterFilter, q.Conds); err != nil {
		return nil, err
	}
	cols := []string{"dead_letter_us", "seq"}
	desc := !q.OldestFirst
	if q.AfterSeq != 0 {
		w.keyset(desc, cols, []any{us(q.AfterTime), int64(q.AfterSeq)})
	}
	query := `SELECT ` + deadLetterColumns + ` FROM dead_letters` + w.clause()
	query += w.order(desc, cols, q.Limit)
	dls, err := sqldb.QueryAll(ctx, s.q, s.d.Rebind(query), w.args, scanDeadLetter(false))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list dead letters: %w", err)
	}
	return dls, nil
}

// InsertDeadLetter implements desk.Tx.
func (t *Tx) InsertDeadLetter(ctx context.Context, d *desk.DeadLetter) (bool, error) {
	payload := d.Payload
	if payload == nil {
		payload = []byte{}
	}
	res, err := t.exec(ctx, `INSERT INTO dead_letters (seq, consumer, subject, event_id, aggregate_type, aggregate_id,
			aggregate_seq, correlation_id, stream, stream_seq, error, delivery_count, publish_us, dead_letter_us,
			payload_type, payload_size, state, replay_count, last_replay_us, payload)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (seq) DO NOTHING`,
		int64(d.Seq), d.Consumer, d.Subject, d.EventID, d.AggregateType, d.AggregateID, d.AggregateSequence,
		d.CorrelationID, d.Stream, int64(d.StreamSeq), d.Error, int64(d.DeliveryCount), us(d.PublishTime),
		us(d.DeadLetterTime), d.PayloadType, int64(len(payload)), int64(d.State), int64(d.ReplayCount),
		us(d.LastReplayTime), payload)
	if err != nil {
		return false, fmt.Errorf("sqlstore: insert dead letter %d: %w", d.Seq, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlstore: insert dead letter %d: %w", d.Seq, err)
	}
	return n == 1, nil
}

// GetDeadLetter implements desk.Tx.
func (t *Tx) GetDeadLetter(ctx context.Context, seq uint64) (*desk.DeadLetter, error) {
	d, err := scanDeadLetter(false)(t.queryRow(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters WHERE seq = ?`+t.lock, int64(seq)))
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("get dead letter %d", seq))
	}
	return d, nil
}

// UpdateDeadLetter implements desk.Tx.
func (t *Tx) UpdateDeadLetter(ctx context.Context, d *desk.DeadLetter) error {
	res, err := t.exec(ctx, `UPDATE dead_letters SET state = ?, replay_count = ?, last_replay_us = ? WHERE seq = ?`,
		int64(d.State), int64(d.ReplayCount), us(d.LastReplayTime), int64(d.Seq))
	return affectedOne(res, err, fmt.Sprintf("update dead letter %d", d.Seq))
}
