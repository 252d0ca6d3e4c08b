// Package storetest is the conformance suite every desk.Store
// implementation passes: exceptions with their history and deduplication
// key, dead letters, the append-only audit index and remembered requests,
// read and written the way the desk and the API use them.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/transload/transload/services/ops/internal/desk"
)

// Harness is one empty, migrated store for one test, with a way to run
// raw SQL on its database (to prove what the store's methods cannot do).
type Harness struct {
	Store desk.Store
	// Exec runs one statement on the store's database outside the store.
	Exec func(ctx context.Context, query string, args ...any) error
}

// Factory returns a new harness for one test.
type Factory func(t *testing.T) Harness

// Run runs the whole suite, each test on a store of its own.
func Run(t *testing.T, newHarness Factory) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, Harness)
	}{
		{"Exceptions", testExceptions},
		{"ListExceptions", testListExceptions},
		{"History", testHistory},
		{"DeadLetters", testDeadLetters},
		{"ListDeadLetters", testListDeadLetters},
		{"AuditRecords", testAuditRecords},
		{"AuditRecordsAreAppendOnly", testAppendOnly},
		{"Remembered", testRemembered},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newHarness(t)) })
	}
}

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// Exception returns a fixture exception id of kind for resource created
// at.
func Exception(id string, kind desk.Kind, resource string, at time.Time) *desk.Exception {
	return &desk.Exception{
		ID: id, Kind: kind, Severity: desk.SeverityMedium, Domain: desk.DomainERP, Resource: resource,
		SourceService: "order", AggregateType: "order", AggregateID: "O-1", Message: "ERP rejected order",
		State: desk.StateOpen, CorrelationID: "corr-1", Details: map[string]any{"order": resource, "erpCode": "E42"},
		OccurrenceCount: 1, CreateTime: at, UpdateTime: at, LastOccurTime: at,
	}
}

// DeadLetter returns a fixture pending dead letter seq of consumer at.
func DeadLetter(seq uint64, consumer string, at time.Time) *desk.DeadLetter {
	return &desk.DeadLetter{
		Seq: seq, Consumer: consumer, Subject: "transload.order.confirmed", EventID: fmt.Sprintf("ev-%d", seq),
		AggregateType: "order", AggregateID: "O-1", AggregateSequence: 2, CorrelationID: "corr-1",
		Stream: "TRANSLOAD_ORDER", StreamSeq: seq + 100, Error: "boom", DeliveryCount: 5,
		PublishTime: at.Add(-time.Minute), DeadLetterTime: at, PayloadType: "transload.order.v1.OrderConfirmedEvent",
		Payload: []byte{1, 2, 3}, PayloadSize: 3, State: desk.DeadLetterPending,
	}
}

// InTx runs fn in a transaction of s, failing t on an error.
func InTx(t *testing.T, s desk.Store, fn func(tx desk.Tx) error) {
	t.Helper()
	if err := s.InTx(t.Context(), fn); err != nil {
		t.Fatal(err)
	}
}

func testExceptions(t *testing.T, h Harness) {
	ctx, s := t.Context(), h.Store
	e := Exception("x1", desk.KindERPRejection, "orders/O-1", t0)
	InTx(t, s, func(tx desk.Tx) error { return tx.InsertException(ctx, e) })
	got, err := s.GetException(ctx, "x1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e, got, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("GetException (-want +got):\n%s", diff)
	}
	if _, err := s.GetException(ctx, "nope"); !errors.Is(err, desk.ErrNotFound) {
		t.Fatalf("GetException(unknown) = %v, want ErrNotFound", err)
	}

	// A second unresolved exception of the same kind and resource breaks
	// the deduplication key; another kind does not.
	err = s.InTx(ctx, func(tx desk.Tx) error {
		return tx.InsertException(ctx, Exception("x2", desk.KindERPRejection, "orders/O-1", t0))
	})
	if err == nil {
		t.Fatal("a second unresolved exception for the same kind and resource was stored")
	}
	InTx(t, s, func(tx desk.Tx) error {
		return tx.InsertException(ctx, Exception("x3", desk.KindERPSubmissionFailed, "orders/O-1", t0.Add(time.Second)))
	})

	InTx(t, s, func(tx desk.Tx) error {
		open, err := tx.OpenException(ctx, desk.KindERPRejection, "orders/O-1")
		if err != nil {
			return err
		}
		if open.ID != "x1" {
			return fmt.Errorf("OpenException = %s, want x1", open.ID)
		}
		open.State, open.Resolver, open.ResolutionNote, open.ResolveTime = desk.StateResolved, desk.Actor{Kind: "operator", ID: "k1"}, "done", t0.Add(time.Hour)
		open.UpdateTime = t0.Add(time.Hour)
		return tx.UpdateException(ctx, open)
	})
	InTx(t, s, func(tx desk.Tx) error {
		if _, err := tx.OpenException(ctx, desk.KindERPRejection, "orders/O-1"); !errors.Is(err, desk.ErrNotFound) {
			return fmt.Errorf("OpenException after resolve = %w, want ErrNotFound", err)
		}
		// Resolved, the key is free for a new occurrence.
		return tx.InsertException(ctx, Exception("x4", desk.KindERPRejection, "orders/O-1", t0.Add(2*time.Hour)))
	})
	InTx(t, s, func(tx desk.Tx) error {
		latest, err := tx.LatestException(ctx, desk.KindERPRejection, "orders/O-1")
		if err != nil || latest.ID != "x4" {
			return fmt.Errorf("LatestException = %v, %w; want x4", latest, err)
		}
		un, err := tx.UnresolvedExceptions(ctx, "orders/O-1")
		if err != nil {
			return err
		}
		if ids := exceptionIDs(un); !cmp.Equal(ids, []string{"x3", "x4"}) {
			return fmt.Errorf("UnresolvedExceptions = %v, want [x3 x4]", ids)
		}
		if _, err := tx.LatestException(ctx, desk.KindDeadLetter, "orders/O-1"); !errors.Is(err, desk.ErrNotFound) {
			return fmt.Errorf("LatestException(other kind) = %w, want ErrNotFound", err)
		}
		if err := tx.UpdateException(ctx, Exception("nope", desk.KindERPRejection, "r", t0)); !errors.Is(err, desk.ErrNotFound) {
			return fmt.Errorf("UpdateException(unknown) = %w, want ErrNotFound", err)
		}
		return nil
	})
	got, err = s.GetException(ctx, "x1")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != desk.StateResolved || got.Resolver.ID != "k1" || got.ResolutionNote != "done" || !got.ResolveTime.Equal(t0.Add(time.Hour)) {
		t.Fatalf("resolved exception = %+v", got)
	}

	// A DEAD_LETTER exception knows whether its dead letter still waits.
	InTx(t, s, func(tx desk.Tx) error {
		if _, err := tx.InsertDeadLetter(ctx, DeadLetter(7, "fulfillment-order-confirmed", t0)); err != nil {
			return err
		}
		return tx.InsertException(ctx, Exception("dl7", desk.KindDeadLetter, desk.DeadLetterName(7), t0))
	})
	if got, err := s.GetException(ctx, "dl7"); err != nil || !got.DeadLetterPending {
		t.Fatalf("DEAD_LETTER exception of a pending dead letter: %+v, %v", got, err)
	}
	InTx(t, s, func(tx desk.Tx) error {
		d, err := tx.GetDeadLetter(ctx, 7)
		if err != nil {
			return err
		}
		d.State = desk.DeadLetterReplayed
		return tx.UpdateDeadLetter(ctx, d)
	})
	if got, err := s.GetException(ctx, "dl7"); err != nil || got.DeadLetterPending {
		t.Fatalf("DEAD_LETTER exception of a replayed dead letter: %+v, %v", got, err)
	}
}

func exceptionIDs(es []*desk.Exception) []string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}

func testListExceptions(t *testing.T, h Harness) {
	ctx, s := t.Context(), h.Store
	// e0..e4 one minute apart; severity and state vary.
	InTx(t, s, func(tx desk.Tx) error {
		for i := range 5 {
			e := Exception(fmt.Sprintf("e%d", i), desk.KindERPRejection, fmt.Sprintf("orders/O-%d", i), t0.Add(time.Duration(i)*time.Minute))
			e.Severity = desk.Severity(i%3 + 1)
			e.UpdateTime = t0.Add(time.Duration(10-i) * time.Minute)
			if i == 4 {
				e.State, e.Domain = desk.StateResolved, desk.DomainFulfillment
			}
			if err := tx.InsertException(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	for _, tc := range []struct {
		name string
		q    desk.ExceptionQuery
		want []string
	}{
		{"newest first", desk.ExceptionQuery{}, []string{"e4", "e3", "e2", "e1", "e0"}},
		{"oldest first", desk.ExceptionQuery{Order: desk.ByCreateAsc}, []string{"e0", "e1", "e2", "e3", "e4"}},
		{"by update", desk.ExceptionQuery{Order: desk.ByUpdateDesc}, []string{"e0", "e1", "e2", "e3", "e4"}},
		{"by severity", desk.ExceptionQuery{Order: desk.BySeverityDesc}, []string{"e2", "e4", "e1", "e3", "e0"}},
		{"state", desk.ExceptionQuery{Conds: []desk.Cond{{Field: "state", Op: desk.OpEq, Value: int32(desk.StateResolved)}}}, []string{"e4"}},
		{"state not", desk.ExceptionQuery{Conds: []desk.Cond{{Field: "state", Op: desk.OpNe, Value: int32(desk.StateResolved)}}}, []string{"e3", "e2", "e1", "e0"}},
		{"domain and resource", desk.ExceptionQuery{Conds: []desk.Cond{
			{Field: "domain", Op: desk.OpEq, Value: int32(desk.DomainERP)}, {Field: "resource", Op: desk.OpEq, Value: "orders/O-1"},
		}}, []string{"e1"}},
		{"time range", desk.ExceptionQuery{Conds: []desk.Cond{
			{Field: "create_time", Op: desk.OpGe, Value: t0.Add(time.Minute)}, {Field: "create_time", Op: desk.OpLt, Value: t0.Add(3 * time.Minute)},
		}}, []string{"e2", "e1"}},
		{"last occurrence", desk.ExceptionQuery{Conds: []desk.Cond{{Field: "last_occur_time", Op: desk.OpGt, Value: t0.Add(3 * time.Minute)}}}, []string{"e4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := pageAllExceptions(t, s, tc.q)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("ids (-want +got):\n%s", diff)
			}
		})
	}
	_, err := s.ListExceptions(ctx, desk.ExceptionQuery{Conds: []desk.Cond{{Field: "colour", Op: desk.OpEq, Value: "red"}}, Limit: 1})
	if err == nil {
		t.Fatal("a condition on an undeclared field was accepted")
	}
}

// pageAllExceptions lists q two at a time, as the API pages.
func pageAllExceptions(t *testing.T, s desk.Store, q desk.ExceptionQuery) []string {
	t.Helper()
	var ids []string
	q.Limit = 2
	for range 10 {
		es, err := s.ListExceptions(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.History != nil {
				t.Fatalf("list returned history for %s", e.ID)
			}
		}
		ids = append(ids, exceptionIDs(es)...)
		if len(es) < q.Limit {
			return ids
		}
		last := es[len(es)-1]
		q.AfterID, q.AfterSeverity, q.AfterTime = last.ID, int32(last.Severity), last.CreateTime
		if q.Order == desk.ByUpdateDesc {
			q.AfterTime = last.UpdateTime
		}
	}
	t.Fatal("paging did not end")
	return nil
}

func testHistory(t *testing.T, h Harness) {
	ctx, s := t.Context(), h.Store
	op := desk.Actor{Kind: "operator", ID: "k1"}
	want := []desk.HistoryEntry{
		{Action: desk.HistoryRaised, Actor: desk.Actor{Kind: "service", ID: "order"}, Note: "ERP rejected order", CreateTime: t0, DedupeKey: "event:1"},
		{Action: desk.HistoryAcknowledged, Actor: op, CreateTime: t0.Add(time.Minute)},
		{Action: desk.HistoryDeadLetterReplay, Actor: op, Outcome: "replayed", CreateTime: t0.Add(2 * time.Minute), DedupeKey: "replay:r1"},
	}
	InTx(t, s, func(tx desk.Tx) error {
		if err := tx.InsertException(ctx, Exception("x1", desk.KindERPRejection, "orders/O-1", t0)); err != nil {
			return err
		}
		for _, h := range want {
			if err := tx.AppendHistory(ctx, "x1", h); err != nil {
				return err
			}
		}
		// The same dedupe key again is a no-op; entries without a key
		// always count.
		return tx.AppendHistory(ctx, "x1", desk.HistoryEntry{Action: "again", DedupeKey: "replay:r1", CreateTime: t0.Add(time.Hour)})
	})
	got, err := s.GetException(ctx, "x1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got.History); diff != "" {
		t.Fatalf("history (-want +got):\n%s", diff)
	}
}

func testDeadLetters(t *testing.T, h Harness) {
	ctx, s := t.Context(), h.Store
	d := DeadLetter(3, "fulfillment-order-confirmed", t0)
	var created []bool
	InTx(t, s, func(tx desk.Tx) error {
		created = nil
		for _, dl := range []*desk.DeadLetter{d, DeadLetter(3, "other", t0.Add(time.Hour))} {
			ok, err := tx.InsertDeadLetter(ctx, dl)
			if err != nil {
				return err
			}
			created = append(created, ok)
		}
		return nil
	})
	if !cmp.Equal(created, []bool{true, false}) {
		t.Fatalf("created = %v, want the first insert only", created)
	}
	got, err := s.GetDeadLetter(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, got); diff != "" {
		t.Fatalf("GetDeadLetter (-want +got):\n%s", diff)
	}
	if _, err := s.GetDeadLetter(ctx, 99); !errors.Is(err, desk.ErrNotFound) {
		t.Fatalf("GetDeadLetter(unknown) = %v, want ErrNotFound", err)
	}
	InTx(t, s, func(tx desk.Tx) error {
		cur, err := tx.GetDeadLetter(ctx, 3)
		if err != nil {
			return err
		}
		if cur.Payload != nil {
			return errors.New("Tx.GetDeadLetter read the payload")
		}
		cur.State, cur.ReplayCount, cur.LastReplayTime = desk.DeadLetterReplayed, 1, t0.Add(time.Minute)
		if err := tx.UpdateDeadLetter(ctx, cur); err != nil {
			return err
		}
		if err := tx.UpdateDeadLetter(ctx, DeadLetter(98, "c", t0)); !errors.Is(err, desk.ErrNotFound) {
			return fmt.Errorf("UpdateDeadLetter(unknown) = %w, want ErrNotFound", err)
		}
		return nil
	})
	got, err = s.GetDeadLetter(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != desk.DeadLetterReplayed || got.ReplayCount != 1 || !got.LastReplayTime.Equal(t0.Add(time.Minute)) {
		t.Fatalf("replayed dead letter = %+v", got)
	}
}

func testListDeadLetters(t *testing.T, h Harness) {
	ctx, s := t.Context(), h.Store
	InTx(t, s, func(tx desk.Tx) error {
		for i := uint64(1); i <= 5; i++ {
			consumer := "fulfillment-order-confirmed"
			if i%2 == 0 {
				consumer = "ops_desk"
			}
			d := DeadLetter(i, consumer, t0.Add(time.Duration(i)*time.Minute))
			if i == 5 {
				d.State = desk.DeadLetterReplayed
			}
			if _, err := tx.InsertDeadLetter(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
	for _, tc := range []struct {
		name string
		q    desk.DeadLetterQuery
		want []uint64
	}{
		{"newest first", desk.DeadLetterQuery{}, []uint64{5, 4, 3, 2, 1}},
		{"oldest first", desk.DeadLetterQuery{OldestFirst: true}, []uint64{1, 2, 3, 4, 5}},
		{"consumer", desk.DeadLetterQuery{Conds: []desk.Cond{{Field: "consumer", Op: desk.OpEq, Value: "ops_desk"}}}, []uint64{4, 2}},
		{"pending", desk.DeadLetterQuery{Conds: []desk.Cond{{Field: "state", Op: desk.OpEq, Value: int32(desk.DeadLetterPending)}}}, []uint64{4, 3, 2, 1}},
		{"time and event", desk.DeadLetterQuery{Conds: []desk.Cond{
			{Field: "dead_letter_time", Op: desk.OpGe, Value: t0.Add(2 * time.Minute)}, {Field: "event_id", Op: desk.OpNe, Value: "ev-3"},
		}}, []uint64{5, 4, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []uint64
			q := tc.q
			q.Limit = 2
			for range 10 {
				dls, err := s.ListDeadLetters(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range dls {
					if d.Payload != nil || d.PayloadSize != 3 {
						t.Fatalf("listed dead letter %d: payload %v, size %d; want no payload and its size", d.Seq, d.Payload, d.PayloadSize)
					}
					got = append(got, d.Seq)
				}
				if len(dls) < q.Limit {
					break
				}
				q.AfterSeq, q.AfterTime = dls[len(dls)-1].Seq, dls[len(dls)-1].DeadLetterTime
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("seqs (-want +got):\n%s", diff)
			}
		})
	}
}

// Audit returns a fixture audit record id created at.
func Audit(id, target string, at time.Time) *desk.AuditRecord {
	return &desk.AuditRecord{
		ID: id, Actor: desk.Actor{Kind: "operator", ID: "k1"}, Action: "order.cancel", Target: target,
		Service: "order", CorrelationID: "corr-" + id, Before: map[string]any{"state": "ACCEPTED"},
		After:      map[string]any{"state": "CANCELLED", "lines": []any{map[string]any{"sku": "S-1", "quantity": 2.0}}},
		CreateTime: at,
	}
}

func testAuditRecords(t *testing.T, h Harness) {
	ctx, s := t.Context(), h.Store
	var created []bool
	InTx(t, s, func(tx desk.Tx) error {
		created = nil
		for i := range 4 {
			r := Audit(fmt.Sprintf("a%d", i), fmt.Sprintf("orders/O-%d", i%2), t0.Add(time.Duration(i)*time.Minute))
			if i == 3 {
				r.Actor, r.Before = desk.Actor{Kind: "service", ID: "fulfillment"}, nil
			}
			ok, err := tx.InsertAuditRecord(ctx, r)
			if err != nil {
				return err
			}
			created = append(created, ok)
		}
		ok, err := tx.InsertAuditRecord(ctx, Audit("a0", "other", t0))
		created = append(created, ok)
		return err
	})
	if !cmp.Equal(created, []bool{true, true, true, true, false}) {
		t.Fatalf("created = %v, want the redelivered a0 skipped", created)
	}
	got, err := s.GetAuditRecord(ctx, "a0")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Audit("a0", "orders/O-0", t0), got); diff != "" {
		t.Fatalf("GetAuditRecord (-want +got):\n%s", diff)
	}
	if _, err := s.GetAuditRecord(ctx, "nope"); !errors.Is(err, desk.ErrNotFound) {
		t.Fatalf("GetAuditRecord(unknown) = %v, want ErrNotFound", err)
	}
	for _, tc := range []struct {
		name  string
		conds []desk.Cond
		want  []string
	}{
		{"all newest first", nil, []string{"a3", "a2", "a1", "a0"}},
		{"target", []desk.Cond{{Field: "target", Op: desk.OpEq, Value: "orders/O-1"}}, []string{"a3", "a1"}},
		{"actor", []desk.Cond{{Field: "actor.kind", Op: desk.OpEq, Value: "service"}, {Field: "actor.id", Op: desk.OpEq, Value: "fulfillment"}}, []string{"a3"}},
		{"time", []desk.Cond{{Field: "create_time", Op: desk.OpLe, Value: t0.Add(time.Minute)}}, []string{"a1", "a0"}},
		{"action", []desk.Cond{{Field: "action", Op: desk.OpNe, Value: "order.cancel"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ids []string
			q := desk.AuditQuery{Conds: tc.conds, Limit: 3}
			for range 10 {
				rs, err := s.ListAuditRecords(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rs {
					ids = append(ids, r.ID)
				}
				if len(rs) < q.Limit {
					break
				}
				q.AfterID, q.AfterTime = rs[len(rs)-1].ID, rs[len(rs)-1].CreateTime
			}
			if diff := cmp.Diff(tc.want, ids); diff != "" {
				t.Fatalf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

// testAppendOnly tries to change and remove an audit record with raw SQL,
// around the store: the database refuses both.
func testAppendOnly(t *testing.T, h Harness) {
	ctx, s := t.Context(), h.Store
	InTx(t, s, func(tx desk.Tx) error {
		_, err := tx.InsertAuditRecord(ctx, Audit("a1", "orders/O-1", t0))
		return err
	})
	for _, stmt := range []string{
		`UPDATE audit_records SET action = 'order.create' WHERE id = 'a1'`,
		`UPDATE audit_records SET actor_id = 'someone-else'`,
		`DELETE FROM audit_records WHERE id = 'a1'`,
		`DELETE FROM audit_records`,
	} {
		if err := h.Exec(ctx, stmt); err == nil {
			t.Errorf("%s: no error, want the append-only trigger to refuse it", stmt)
		}
	}
	got, err := s.GetAuditRecord(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Audit("a1", "orders/O-1", t0), got); diff != "" {
		t.Fatalf("audit record after the attempts (-want +got):\n%s", diff)
	}
}

func testRemembered(t *testing.T, h Harness) {
	ctx, s := t.Context(), h.Store
	if _, ok, err := s.Remembered(ctx, "operator:k1", "r1"); err != nil || ok {
		t.Fatalf("Remembered before = %v, %v", ok, err)
	}
	r := desk.Remembered{Fingerprint: "fp", Result: []byte(`{"a":1}`)}
	InTx(t, s, func(tx desk.Tx) error { return tx.Remember(ctx, "operator:k1", "r1", r) })
	got, ok, err := s.Remembered(ctx, "operator:k1", "r1")
	if err != nil || !ok {
		t.Fatalf("Remembered = %v, %v", ok, err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Fatalf("Remembered (-want +got):\n%s", diff)
	}
	// Scopes are separate; the same key twice in one scope is refused.
	if _, ok, _ := s.Remembered(ctx, "operator:k2", "r1"); ok {
		t.Fatal("another actor's request id is remembered")
	}
	InTx(t, s, func(tx desk.Tx) error { return tx.Remember(ctx, "operator:k2", "r1", r) })
	if err := s.InTx(ctx, func(tx desk.Tx) error { return tx.Remember(ctx, "operator:k1", "r1", r) }); err == nil {
		t.Fatal("a second result for the same request id was stored")
	}
	InTx(t, s, func(tx desk.Tx) error {
		if _, ok, err := tx.Remembered(ctx, "operator:k1", "r1"); err != nil || !ok {
			return fmt.Errorf("Tx.Remembered = %v, %w", ok, err)
		}
		return nil
	})
}
