package outbox_test

import (
	"database/sql"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
)

// TestWriteBatchStatements counts the statements a WriteBatch runs on
// SQLite (each one goes through the connection's statement cache, which
// counts it): one counter upsert per 64 aggregates and one INSERT per 32
// events, instead of one statement per aggregate and one per event.
func TestWriteBatchStatements(t *testing.T) {
	tests := []struct {
		events, aggregates int
		want               uint64
	}{
		{1, 1, 2},
		{4, 2, 2},
		{32, 7, 2},
		{33, 7, 3},
		{100, 70, 6}, // 2 upserts (64+6 aggregates), 4 inserts (32+32+32+4 events)
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%dev%dagg", tc.events, tc.aggregates), func(t *testing.T) {
			db := openSQLite(t)
			ctx := t.Context()
			evs := make([]outbox.Event, tc.events)
			for i := range evs {
				evs[i] = outbox.Event{AggregateType: "thing", AggregateID: fmt.Sprintf("agg-%02d", i%tc.aggregates),
					Subject: testSubject, Payload: wrapperspb.String(fmt.Sprint(i))}
			}
			var got uint64
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				p0, r0 := db.StatementStats()
				if _, err := outbox.WriteBatch(ctx, tx, db.Dialect(), evs); err != nil {
					return err
				}
				p1, r1 := db.StatementStats()
				got = p1 + r1 - p0 - r0
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("WriteBatch of %d events over %d aggregates ran %d statements, want %d", tc.events, tc.aggregates, got, tc.want)
			}
		})
	}
}

// TestWriteBatchManyEventsAcrossAggregates writes batches larger than one
// statement's chunk, interleaving many aggregates (more than one counter
// upsert's chunk), on top of existing counters, and checks every row:
// ids follow the batch order, each aggregate's sequences continue from
// its counter and are consecutive in batch order, payloads land with
// their event.
func TestWriteBatchManyEventsAcrossAggregates(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		const aggregates = 150
		// A first event for every third aggregate, so some counters exist
		// and some are created by the batch's upsert.
		for a := 0; a < aggregates; a += 3 {
			if _, err := writeEvent(ctx, db, fmt.Sprintf("agg-%03d", a), "first"); err != nil {
				t.Fatal(err)
			}
		}
		const events = 1000
		evs := make([]outbox.Event, events)
		for i := range evs {
			// A stride coprime to the aggregate count spreads each
			// aggregate's events over several insert chunks.
			evs[i] = outbox.Event{AggregateType: "thing", AggregateID: fmt.Sprintf("agg-%03d", (i*7)%aggregates),
				Subject: testSubject, Payload: wrapperspb.String(fmt.Sprint("ev-", i))}
		}
		var written []outbox.Written
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			written, err = outbox.WriteBatch(ctx, tx, db.Dialect(), evs)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		next := map[string]int64{}
		for a := range aggregates {
			next[fmt.Sprintf("agg-%03d", a)] = 1
			if a%3 == 0 {
				next[fmt.Sprintf("agg-%03d", a)] = 2
			}
		}
		for i, w := range written {
			agg := evs[i].AggregateID
			if w.Sequence != next[agg] {
				t.Fatalf("event %d (%s) got sequence %d, want %d", i, agg, w.Sequence, next[agg])
			}
			next[agg]++
		}
		rows, err := db.SQL().QueryContext(ctx, `SELECT event_id, aggregate_id, aggregate_seq, payload
			FROM outbox_events ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var stored []struct {
			id, agg string
			seq     int64
			value   string
		}
		for rows.Next() {
			var (
				s = struct {
					id, agg string
					seq     int64
					value   string
				}{}
				payload []byte
			)
			if err := rows.Scan(&s.id, &s.agg, &s.seq, &payload); err != nil {
				t.Fatal(err)
			}
			var v wrapperspb.StringValue
			if err := proto.Unmarshal(payload, &v); err != nil {
				t.Fatal(err)
			}
			s.value = v.GetValue()
			stored = append(stored, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		first := len(stored) - events
		if first != (aggregates+2)/3 {
			t.Fatalf("%d rows before the batch, want %d", first, (aggregates+2)/3)
		}
		for i, w := range written {
			s := stored[first+i]
			if s.id != w.ID || s.agg != evs[i].AggregateID || s.seq != w.Sequence || s.value != fmt.Sprint("ev-", i) {
				t.Fatalf("row %d = %+v, want event %d: %s %s #%d ev-%d", first+i, s, i, w.ID, evs[i].AggregateID, w.Sequence, i)
			}
		}
		var counters int
		if err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox_aggregate_seq`).Scan(&counters); err != nil {
			t.Fatal(err)
		}
		if counters != aggregates {
			t.Errorf("%d counters, want %d", counters, aggregates)
		}
	})
}
