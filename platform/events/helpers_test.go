package events_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/transload/transload/platform/correlation"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/leakcheck"
	"github.com/transload/transload/platform/testharness/pgtest"
	"github.com/transload/transload/platform/testharness/wait"
)

// TestMain stops the shared PostgreSQL cluster after the tests and fails
// the package if a test left a goroutine running (leakcheck).
func TestMain(m *testing.M) { leakcheck.Main(m, pgtest.Stop) }

const (
	testStream  = "TEST"
	testSubject = "transload.test.v1.happened"
)

// migrate prepares a consumer database: the processed-event table plus
// an "applied" table the test handlers write their effects to. It has no
// unique key, so an event applied twice shows up twice.
func migrate(t testing.TB, db *sqldb.DB) {
	t.Helper()
	ctx := context.Background()
	if err := events.Migrate(ctx, db); err != nil {
		t.Fatalf("migrate events: %v", err)
	}
	if _, err := db.SQL().ExecContext(ctx, `CREATE TABLE applied (
		consumer TEXT NOT NULL, event_id TEXT NOT NULL, aggregate_id TEXT NOT NULL,
		seq BIGINT NOT NULL, value TEXT NOT NULL, correlation_id TEXT NOT NULL, trace_id TEXT NOT NULL,
		applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatalf("create applied table: %v", err)
	}
}

func forEachEngine(t *testing.T, fn func(t *testing.T, db *sqldb.DB)) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		migrate(t, db)
		fn(t, db)
	})
}

func openSQLite(t testing.TB) *sqldb.DB {
	t.Helper()
	db := sqldbtest.OpenSQLite(t)
	migrate(t, db)
	return db
}

func ensureStream(t testing.TB, js jetstream.JetStream) {
	t.Helper()
	if _, err := eventstreams.Ensure(context.Background(), js, testStreamDecl); err != nil {
		t.Fatalf("ensure stream: %v", err)
	}
}

// appliedRow is one effect written by a test handler.
type appliedRow struct {
	Consumer, EventID, AggregateID, Value, CorrelationID, TraceID string
	Seq                                                           int64
}

// recordingHandler writes each event to the applied table. It fails
// (returning fail's error) while fail returns non-nil for the event.
func recordingHandler(d sqldb.Dialect, consumer string, fail func(ev events.Event) error) events.Handler {
	return events.Typed(func(ctx context.Context, tx *sql.Tx, ev events.Event, msg *wrapperspb.StringValue) error {
		if fail != nil {
			if err := fail(ev); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO applied
			(consumer, event_id, aggregate_id, seq, value, correlation_id, trace_id, applied_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			consumer, ev.ID, ev.AggregateID, ev.Sequence, msg.GetValue(), correlationID(ctx), traceID(ctx),
			time.Now().UnixNano())
		return err
	})
}

func correlationID(ctx context.Context) string { return correlation.ID(ctx) }

func traceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

func readApplied(t testing.TB, db *sqldb.DB, consumer string) []appliedRow {
	t.Helper()
	rows, err := db.SQL().QueryContext(context.Background(), db.Rebind(`SELECT consumer, event_id, aggregate_id, seq,
		value, correlation_id, trace_id FROM applied WHERE consumer = ? ORDER BY applied_at`), consumer)
	if err != nil {
		t.Fatalf("read applied: %v", err)
	}
	defer rows.Close()
	var out []appliedRow
	for rows.Next() {
		var r appliedRow
		if err := rows.Scan(&r.Consumer, &r.EventID, &r.AggregateID, &r.Seq, &r.Value, &r.CorrelationID, &r.TraceID); err != nil {
			t.Fatalf("scan applied: %v", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// testEvent is an event the tests publish directly to JetStream, shaped
// exactly as the outbox relay publishes it.
type testEvent struct {
	ID, Aggregate, Value, Correlation, Traceparent string
	Seq                                            int64
	Subject                                        string
	Payload                                        proto.Message
}

func publish(t testing.TB, js jetstream.JetStream, ev testEvent, msgID string) {
	t.Helper()
	var payload proto.Message = wrapperspb.String(ev.Value)
	if ev.Payload != nil {
		payload = ev.Payload
	}
	data, err := proto.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	subject := ev.Subject
	if subject == "" {
		subject = testSubject
	}
	row := outbox.Row{
		EventID:       ev.ID,
		AggregateType: "thing",
		AggregateID:   ev.Aggregate,
		Sequence:      ev.Seq,
		Subject:       subject,
		PayloadType:   string(payload.ProtoReflect().Descriptor().FullName()),
		Payload:       data,
		CorrelationID: ev.Correlation,
		Traceparent:   ev.Traceparent,
		CreatedAt:     time.Now(),
	}
	m := row.Message()
	if msgID != "" {
		m.Header.Set(outbox.HeaderMsgID, msgID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.PublishMsg(ctx, m); err != nil {
		t.Fatalf("publish %s: %v", ev.ID, err)
	}
}

// runConsumer starts c and stops it when the test ends.
func runConsumer(t testing.TB, c *events.Consumer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer Run: %v", err)
		}
	})
}

func newConsumer(t testing.TB, db *sqldb.DB, js jetstream.JetStream, cfg events.ConsumerConfig, h events.Handler,
	reg *prometheus.Registry, extra ...events.ConsumerOption) *events.Consumer {
	t.Helper()
	if cfg.Stream == "" {
		cfg.Stream = testStream
	}
	if cfg.Backoff == nil {
		cfg.Backoff = []time.Duration{10 * time.Millisecond}
	}
	opts := []events.ConsumerOption{
		events.WithFetchWait(200 * time.Millisecond),
		events.WithRetryWait(20 * time.Millisecond),
		events.WithConsumerLogger(slog.New(slog.DiscardHandler)),
	}
	if reg != nil {
		opts = append(opts, events.WithConsumerRegisterer(reg))
	}
	c, err := events.NewConsumer(db, js, cfg, h, append(opts, extra...)...)
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	return c
}

// eventually is wait.Eventually for this package's boolean conditions.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	wait.Eventually(t, timeout, what, func() error { return wait.Check(cond(), "condition still false") })
}

// outcome returns transload_events_processed_total for consumer/outcome.
func outcome(t testing.TB, reg *prometheus.Registry, consumer, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "transload_events_processed_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["consumer"] == consumer && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func values(rows []appliedRow) string {
	var b strings.Builder
	for i, r := range rows {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%s#%d=%s", r.AggregateID, r.Seq, r.Value)
	}
	return b.String()
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func protoUnmarshal(b []byte, m proto.Message) error { return proto.Unmarshal(b, m) }

// publishWithType publishes ev with its payload type header overridden.
func publishWithType(t testing.TB, js jetstream.JetStream, ev testEvent, typ string) {
	t.Helper()
	data, err := proto.Marshal(wrapperspb.String(ev.Value))
	if err != nil {
		t.Fatal(err)
	}
	row := outbox.Row{EventID: ev.ID, AggregateType: "thing", AggregateID: ev.Aggregate, Sequence: ev.Seq,
		Subject: testSubject, PayloadType: typ, Payload: data, CreatedAt: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.PublishMsg(ctx, row.Message()); err != nil {
		t.Fatal(err)
	}
}
