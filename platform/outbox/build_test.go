package outbox_test

import (
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/correlation"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
)

const testProducer = "outbox-test"

// builtEvent is an event whose payload embeds the metadata the outbox
// assigns, as a service's event encoder builds it.
func builtEvent(aggregate string) outbox.Event {
	return outbox.Event{
		AggregateType: "order",
		AggregateID:   aggregate,
		Subject:       testSubject,
		Producer:      testProducer,
		Build: func(md *commonv1.EventMetadata) (proto.Message, error) {
			return &orderv1.OrderAcceptedEvent{Metadata: md, Order: &orderv1.Order{OrderId: md.GetAggregateId()}}, nil
		},
	}
}

// storedEvent is an outbox row with its payload decoded.
type storedEvent struct {
	EventID   string
	Aggregate string
	Sequence  int64
	CreatedAt time.Time
	Metadata  *commonv1.EventMetadata
}

// readStored returns the outbox rows in id order.
func readStored(t *testing.T, db *sqldb.DB) []storedEvent {
	t.Helper()
	rows, err := db.SQL().QueryContext(t.Context(), `SELECT event_id, aggregate_id, aggregate_seq, payload, created_unix_us
		FROM outbox_events ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []storedEvent
	for rows.Next() {
		var (
			ev      storedEvent
			payload []byte
			created int64
		)
		if err := rows.Scan(&ev.EventID, &ev.Aggregate, &ev.Sequence, &payload, &created); err != nil {
			t.Fatal(err)
		}
		var msg orderv1.OrderAcceptedEvent
		if err := proto.Unmarshal(payload, &msg); err != nil {
			t.Fatalf("decode payload of %s: %v", ev.EventID, err)
		}
		ev.Metadata, ev.CreatedAt = msg.GetMetadata(), time.UnixMicro(created).UTC()
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkStoredMetadata fails unless every row's payload metadata carries
// the row's own event id, aggregate and sequence, and each aggregate's
// sequences run 1, 2, ... in id order.
func checkStoredMetadata(t *testing.T, stored []storedEvent) {
	t.Helper()
	next := map[string]int64{}
	for _, ev := range stored {
		md := ev.Metadata
		if md.GetSequence() != ev.Sequence || md.GetEventId() != ev.EventID || md.GetAggregateId() != ev.Aggregate {
			t.Errorf("row %s (%s #%d) has payload metadata %v", ev.EventID, ev.Aggregate, ev.Sequence, md)
		}
		next[ev.Aggregate]++
		if ev.Sequence != next[ev.Aggregate] {
			t.Errorf("aggregate %s: row %s has sequence %d, want %d", ev.Aggregate, ev.EventID, ev.Sequence, next[ev.Aggregate])
		}
	}
}

func TestWriteBuildStampsAssignedMetadata(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := correlation.WithID(t.Context(), "corr-build")
		var written []outbox.Written
		for _, agg := range []string{"a", "b", "a", "a", "b"} {
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				w, err := outbox.Write(ctx, tx, db.Dialect(), builtEvent(agg))
				written = append(written, w)
				return err
			})
			if err != nil {
				t.Fatalf("write: %v", err)
			}
		}
		stored := readStored(t, db)
		if len(stored) != len(written) {
			t.Fatalf("stored %d rows, wrote %d", len(stored), len(written))
		}
		checkStoredMetadata(t, stored)
		for i, ev := range stored {
			want := &commonv1.EventMetadata{
				EventId: written[i].ID, AggregateType: "order", AggregateId: ev.Aggregate, Sequence: written[i].Sequence,
				OccurTime: timestamppb.New(written[i].CreatedAt), CorrelationId: "corr-build", Producer: testProducer,
			}
			if diff := cmp.Diff(want, ev.Metadata, protocmp.Transform()); diff != "" {
				t.Errorf("event %d metadata (-want +got):\n%s", i, diff)
			}
			if !ev.CreatedAt.Equal(written[i].CreatedAt) {
				t.Errorf("event %d stored at %v, Written says %v", i, ev.CreatedAt, written[i].CreatedAt)
			}
		}
	})
}

func TestWriteBuildOccurredAtAndID(t *testing.T) {
	db := openSQLite(t)
	at := time.Date(2026, 3, 4, 5, 6, 7, 8000, time.FixedZone("X", 3600))
	ev := builtEvent("a")
	ev.ID, ev.OccurredAt, ev.CorrelationID = "evt-1", at, "corr-explicit"
	err := db.InTx(t.Context(), func(tx *sql.Tx) error {
		_, err := outbox.Write(t.Context(), tx, db.Dialect(), ev)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	md := readStored(t, db)[0].Metadata
	if md.GetEventId() != "evt-1" || !md.GetOccurTime().AsTime().Equal(at) || md.GetCorrelationId() != "corr-explicit" {
		t.Errorf("metadata = %v, want event id evt-1, occur time %v, correlation corr-explicit", md, at.UTC())
	}
}

// TestWriteBuildConcurrentWritersAgree writes from concurrent
// transactions over interleaved aggregates: every payload's sequence is
// the sequence the outbox stored, without gaps.
func TestWriteBuildConcurrentWritersAgree(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		const writers, perWriter = 4, 10
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				for i := range perWriter {
					agg := []string{"a", "b", "c"}[(w+i)%3]
					err := db.InTx(t.Context(), func(tx *sql.Tx) error {
						_, err := outbox.Write(t.Context(), tx, db.Dialect(), builtEvent(agg))
						return err
					})
					if err != nil {
						errs <- fmt.Errorf("writer %d event %d: %w", w, i, err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		stored := readStored(t, db)
		if len(stored) != writers*perWriter {
			t.Fatalf("stored %d rows, want %d", len(stored), writers*perWriter)
		}
		checkStoredMetadata(t, stored)
	})
}

func TestWriteBuildRollbackLeavesNoGap(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		write := func(tx *sql.Tx) (outbox.Written, error) {
			return outbox.Write(ctx, tx, db.Dialect(), builtEvent("a"))
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error { _, err := write(tx); return err }); err != nil {
			t.Fatal(err)
		}
		errRollback := errors.New("roll back")
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			w, err := write(tx)
			if err != nil {
				return err
			}
			if w.Sequence != 2 {
				t.Errorf("sequence inside the rolled-back transaction = %d, want 2", w.Sequence)
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("InTx = %v, want the rollback", err)
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error { _, err := write(tx); return err }); err != nil {
			t.Fatal(err)
		}
		stored := readStored(t, db)
		checkStoredMetadata(t, stored)
		if len(stored) != 2 || stored[1].Sequence != 2 {
			t.Errorf("stored %+v, want sequences 1 and 2", stored)
		}
	})
}

// TestWriteBuildFailureLeavesTransactionAsItWas carries on after failed
// writes in the same transaction and commits: the failed events leave
// neither a row nor a gap in the sequence.
func TestWriteBuildFailureLeavesTransactionAsItWas(t *testing.T) {
	errBuild := errors.New("cannot encode")
	failures := map[string]struct {
		build   outbox.Builder
		wantErr error
	}{
		"builder error": {
			build:   func(*commonv1.EventMetadata) (proto.Message, error) { return nil, errBuild },
			wantErr: errBuild,
		},
		"sequence not embedded": {
			build: func(md *commonv1.EventMetadata) (proto.Message, error) {
				md.Sequence = 99
				return &orderv1.OrderAcceptedEvent{Metadata: md}, nil
			},
			wantErr: outbox.ErrInvalidEvent,
		},
		"metadata left out": {
			build: func(*commonv1.EventMetadata) (proto.Message, error) {
				return &orderv1.OrderAcceptedEvent{}, nil
			},
			wantErr: outbox.ErrInvalidEvent,
		},
		"no metadata field": {
			build: func(*commonv1.EventMetadata) (proto.Message, error) {
				return wrapperspb.String("x"), nil
			},
			wantErr: outbox.ErrInvalidEvent,
		},
		"no message": {
			build:   func(*commonv1.EventMetadata) (proto.Message, error) { return nil, nil },
			wantErr: outbox.ErrInvalidEvent,
		},
	}
	for name, f := range failures {
		t.Run(name, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
				ctx := t.Context()
				err := db.InTx(ctx, func(tx *sql.Tx) error {
					if _, err := outbox.Write(ctx, tx, db.Dialect(), builtEvent("a")); err != nil {
						return err
					}
					bad := builtEvent("a")
					bad.Build = f.build
					if _, err := outbox.WriteBatch(ctx, tx, db.Dialect(), []outbox.Event{builtEvent("b"), bad}); !errors.Is(err, f.wantErr) {
						t.Errorf("WriteBatch = %v, want %v", err, f.wantErr)
					}
					if _, err := outbox.Write(ctx, tx, db.Dialect(), bad); !errors.Is(err, f.wantErr) {
						t.Errorf("Write = %v, want %v", err, f.wantErr)
					}
					_, err := outbox.WriteBatch(ctx, tx, db.Dialect(), []outbox.Event{builtEvent("a"), builtEvent("b")})
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				stored := readStored(t, db)
				checkStoredMetadata(t, stored)
				if len(stored) != 3 {
					t.Errorf("stored %d rows, want 3 (a#1, a#2, b#1)", len(stored))
				}
			})
		})
	}
}

func TestWriteBatchSequencesAreConsecutive(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		var got []outbox.Written
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := outbox.Write(ctx, tx, db.Dialect(), builtEvent("a")); err != nil {
				return err
			}
			var err error
			got, err = outbox.WriteBatch(ctx, tx, db.Dialect(), []outbox.Event{
				builtEvent("a"), builtEvent("b"), builtEvent("a"), builtEvent("a"),
			})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		for _, w := range got {
			seqs = append(seqs, w.Sequence)
		}
		if diff := cmp.Diff([]int64{2, 1, 3, 4}, seqs); diff != "" {
			t.Errorf("batch sequences (-want +got):\n%s", diff)
		}
		stored := readStored(t, db)
		checkStoredMetadata(t, stored)
		for i, w := range got {
			if stored[i+1].EventID != w.ID {
				t.Errorf("row %d is %s, want batch event %d (%s): rows follow the batch order", i+1, stored[i+1].EventID, i, w.ID)
			}
		}
		if got, err := outbox.WriteBatch(ctx, nil, db.Dialect(), nil); err != nil || got != nil {
			t.Errorf("empty batch = %v, %v; want nothing", got, err)
		}
	})
}

func TestWriteValidatesBuiltEvents(t *testing.T) {
	db := openSQLite(t)
	tests := map[string]func(*outbox.Event){
		"no producer":             func(e *outbox.Event) { e.Producer = "" },
		"payload and builder":     func(e *outbox.Event) { e.Payload = wrapperspb.String("x") },
		"no payload, no builder":  func(e *outbox.Event) { e.Build = nil },
		"no aggregate id (built)": func(e *outbox.Event) { e.AggregateID = "" },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			ev := builtEvent("a")
			mutate(&ev)
			err := db.InTx(t.Context(), func(tx *sql.Tx) error {
				_, err := outbox.WriteBatch(t.Context(), tx, db.Dialect(), []outbox.Event{builtEvent("a"), ev})
				return err
			})
			if !errors.Is(err, outbox.ErrInvalidEvent) {
				t.Fatalf("WriteBatch error = %v, want ErrInvalidEvent", err)
			}
		})
	}
	if n := len(readStored(t, db)); n != 0 {
		t.Errorf("invalid batches stored %d rows", n)
	}
}
