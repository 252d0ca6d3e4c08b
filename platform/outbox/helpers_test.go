package outbox_test

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/leakcheck"
	"github.com/transload/transload/platform/testharness/pgtest"
	"github.com/transload/transload/platform/testharness/wait"
)

const (
	testStream  = "TEST"
	testSubject = "transload.test.v1.happened"
)

// TestMain stops the shared PostgreSQL cluster after the tests and fails
// the package if a test left a goroutine running (leakcheck).
func TestMain(m *testing.M) { leakcheck.Main(m, pgtest.Stop) }

// forEachEngine runs fn against a migrated SQLite database and a migrated
// PostgreSQL database.
func forEachEngine(t *testing.T, fn func(t *testing.T, db *sqldb.DB)) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		if err := outbox.Migrate(t.Context(), db); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		fn(t, db)
	})
}

func openSQLite(t testing.TB) *sqldb.DB {
	t.Helper()
	db := sqldbtest.OpenSQLite(t)
	if err := outbox.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

func ensureStream(t testing.TB, js jetstream.JetStream) jetstream.Stream {
	t.Helper()
	s, err := eventstreams.Ensure(context.Background(), js, testStreamDecl)
	if err != nil {
		t.Fatalf("ensure stream: %v", err)
	}
	return s
}

// writeEvent writes one event in its own transaction.
func writeEvent(ctx context.Context, db *sqldb.DB, aggregate, value string) (outbox.Written, error) {
	var w outbox.Written
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		w, err = outbox.Write(ctx, tx, db.Dialect(), outbox.Event{
			AggregateType: "thing",
			AggregateID:   aggregate,
			Subject:       testSubject,
			Payload:       wrapperspb.String(value),
		})
		return err
	})
	return w, err
}

// eventually is wait.Eventually for this package's conditions, which
// report false with or without a reason.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	wait.Eventually(t, timeout, what, func() error {
		ok, err := cond()
		if ok {
			return nil
		}
		return cmp.Or(err, errors.New("condition still false"))
	})
}

// streamMsg is a message read back from the stream.
type streamMsg struct {
	EventID   string
	Aggregate string
	Sequence  int64
	Value     string
	Headers   map[string]string
}

// readStream returns every message in the stream in stream order.
func readStream(t testing.TB, js jetstream.JetStream) []streamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, testStream)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	var out []streamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("get msg %d: %v", seq, err)
		}
		var v wrapperspb.StringValue
		if err := proto.Unmarshal(m.Data, &v); err != nil {
			t.Fatalf("decode msg %d: %v", seq, err)
		}
		sq, err := strconv.ParseInt(m.Header.Get(outbox.HeaderSequence), 10, 64)
		if err != nil {
			t.Fatalf("msg %d sequence header: %v", seq, err)
		}
		h := map[string]string{}
		for k := range m.Header {
			h[k] = m.Header.Get(k)
		}
		out = append(out, streamMsg{
			EventID:   m.Header.Get(outbox.HeaderEventID),
			Aggregate: m.Header.Get(outbox.HeaderAggregateID),
			Sequence:  sq,
			Value:     v.GetValue(),
			Headers:   h,
		})
	}
	return out
}

func unpublishedCount(t testing.TB, db *sqldb.DB) int64 {
	t.Helper()
	lag, err := outbox.ReadLag(context.Background(), db, time.Now())
	if err != nil {
		t.Fatalf("read lag: %v", err)
	}
	return lag.Unpublished
}

// metricValue returns the value of the unlabelled gauge or counter name.
func metricValue(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) != 1 {
			continue
		}
		m := mf.GetMetric()[0]
		if m.GetGauge() != nil {
			return m.GetGauge().GetValue()
		}
		return m.GetCounter().GetValue()
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
