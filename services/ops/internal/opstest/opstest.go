// Package opstest is the ops service's test rig over real NATS and SQLite:
// the ops projections running on a store, a producer that raises
// exceptions and records audit entries through its own outbox exactly as
// the other services do, and a "poison" consumer that fails every event
// until it is fixed, so dead letters are made by the platform itself.
package opstest

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/ops/internal/desk"
	"github.com/transload/transload/services/ops/internal/deskevents"
	"github.com/transload/transload/services/ops/internal/store/sqlstore"
)

// Timeout bounds every wait of the rig's users.
const Timeout = 15 * time.Second

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func open(t testing.TB, dsn string) *sqldb.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("opstest: open %s: %v", dsn, err)
	}
	return db
}

// Ops is a running ops projection: the store, the desk and the three
// consumers, on a database that outlives it (start it again on the same
// DSN to restart the service).
type Ops struct {
	DB         *sqldb.DB
	Store      *sqlstore.Store
	Desk       *desk.Desk
	DeadLetter *deskevents.DeadLetters
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	once       sync.Once
}

// StartOps opens the database at dsn (sqldbtest.SQLiteDSN), migrates it
// and runs the ops consumers against js until Stop or the end of the
// test. The desk replays through js's dead-letter stream.
func StartOps(t testing.TB, js jetstream.JetStream, dsn string, opts ...desk.Option) *Ops {
	t.Helper()
	db := open(t, dsn)
	if err := sqlstore.Migrate(context.Background(), db); err != nil {
		t.Fatalf("opstest: migrate: %v", err)
	}
	store := sqlstore.New(db)
	d := desk.New(store, deskevents.NewReplayer(js, ""), opts...)
	copts := []events.ConsumerOption{
		events.WithFetchWait(200 * time.Millisecond), events.WithRetryWait(50 * time.Millisecond),
		events.WithConsumerLogger(quiet()), events.WithStreams(eventstreams.Ops),
		events.WithBatch(deskevents.ConsumerBatch), events.WithBatchLinger(deskevents.ConsumerLinger),
	}
	deskCons, err := events.NewConsumer(db, js, deskevents.DeskConfig(), deskevents.DeskHandler(d, store.Bind), copts...)
	if err != nil {
		t.Fatal(err)
	}
	auditCons, err := events.NewConsumer(db, js, deskevents.AuditConfig(), deskevents.AuditHandler(d, store.Bind),
		append(slices.Clone(copts), deskevents.AuditOptions()...)...)
	if err != nil {
		t.Fatal(err)
	}
	dl := deskevents.NewDeadLetters(js, store, d, "", deskevents.WithLogger(quiet()),
		deskevents.WithFetchWait(200*time.Millisecond), deskevents.WithRetryWait(50*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	o := &Ops{DB: db, Store: store, Desk: d, DeadLetter: dl, cancel: cancel}
	for _, run := range []func(context.Context) error{deskCons.Run, auditCons.Run, dl.Run} {
		o.wg.Go(func() {
			if err := run(ctx); err != nil {
				t.Errorf("opstest: consumer: %v", err)
			}
		})
	}
	t.Cleanup(o.Stop)
	return o
}

// Stop stops the consumers and closes the database; later calls do
// nothing.
func (o *Ops) Stop() {
	o.once.Do(func() {
		o.cancel()
		o.wg.Wait()
		_ = o.DB.Close()
	})
}

// Producer is a service that writes operations events through its own
// transactional outbox and relays them to NATS.
type Producer struct {
	Service string
	db      *sqldb.DB
	relay   *outbox.Relay
}

// NewProducer returns a producer named service with its own SQLite
// database, relaying to js.
func NewProducer(t testing.TB, js jetstream.JetStream, service string) *Producer {
	t.Helper()
	db := sqldbtest.OpenSQLite(t)
	if err := outbox.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if _, err := eventstreams.Ensure(ctx, js, eventstreams.Ops); err != nil {
		t.Fatal(err)
	}
	relay, err := outbox.NewRelay(db, js, outbox.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	return &Producer{Service: service, db: db, relay: relay}
}

// Raise writes the exception event for e, relays it and returns its
// event id.
func (p *Producer) Raise(t testing.TB, e opsevents.Exception) string {
	t.Helper()
	ev, err := opsevents.Raise(p.Service, e)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, ev)
}

// Record writes the audit event for a, relays it and returns its event
// id.
func (p *Producer) Record(t testing.TB, a opsevents.Audit) string {
	t.Helper()
	ev, err := opsevents.Record(p.Service, a)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, ev)
}

func (p *Producer) write(t testing.TB, ev outbox.Event) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	var id string
	err := p.db.InTx(ctx, func(tx *sql.Tx) error {
		w, err := outbox.Write(ctx, tx, p.db.Dialect(), ev)
		id = w.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.relay.RunOnce(ctx); err != nil {
		t.Fatalf("opstest: relay: %v", err)
	}
	return id
}

// Redeliver publishes the stored message of event id again to its
// subject under another JetStream message id, so the stream keeps the
// copy: what a consumer sees when a producer republishes past the
// duplicate window.
func Redeliver(t testing.TB, js jetstream.JetStream, stream, eventID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); ; seq++ {
		raw, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatalf("opstest: event %s is not in stream %s", eventID, stream)
		}
		if err != nil {
			t.Fatal(err)
		}
		if raw.Header.Get(outbox.HeaderEventID) != eventID {
			continue
		}
		m := nats.NewMsg(raw.Subject)
		m.Data, m.Header = raw.Data, raw.Header
		m.Header.Set(outbox.HeaderMsgID, "redelivery:"+eventID)
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
		return
	}
}

// Poison subjects: a stream of test events a poison consumer fails on.
const (
	PoisonSubject = "transload.poison.happened"
	// PoisonConsumer is named like a fulfillment consumer, so its dead
	// letters belong to the FULFILLMENT domain.
	PoisonConsumer = "fulfillment-poison"
)

// PoisonStream is the stream of the poison events.
var PoisonStream = eventstreams.Stream{
	Name: "TRANSLOAD_POISON", Subjects: []string{"transload.poison.>"}, Events: []string{PoisonSubject},
	Description: "ops tests: events a consumer fails on until fixed",
}

// Poison is a durable platform consumer with one delivery per event that
// fails every event until Fix: each event is dead-lettered by the
// platform on its first failure. Once fixed it applies events once (by
// event id, through the platform's processed-event table).
type Poison struct {
	db       *sqldb.DB
	producer *Producer
	fixed    atomic.Bool
}

// StartPoison runs the poison consumer against js until the end of the
// test.
func StartPoison(t testing.TB, js jetstream.JetStream) *Poison {
	t.Helper()
	db := sqldbtest.OpenSQLite(t)
	ctx := context.Background()
	if err := events.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().ExecContext(ctx, `CREATE TABLE applied (event_id TEXT NOT NULL, value TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	p := &Poison{db: db, producer: NewProducer(t, js, "poisoner")}
	ectx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	if _, err := eventstreams.Ensure(ectx, js, PoisonStream); err != nil {
		t.Fatal(err)
	}
	handler := events.Typed(func(ctx context.Context, tx *sql.Tx, ev events.Event, msg *wrapperspb.StringValue) error {
		if !p.fixed.Load() {
			return errors.New("poisoned: cannot apply " + msg.GetValue())
		}
		_, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO applied (event_id, value) VALUES (?, ?)`), ev.ID, msg.GetValue())
		return err
	})
	c, err := events.NewConsumer(db, js, events.ConsumerConfig{
		Name: PoisonConsumer, Stream: PoisonStream.Name, FilterSubjects: []string{PoisonSubject},
		MaxDeliver: 1, Backoff: []time.Duration{10 * time.Millisecond},
	}, handler, events.WithFetchWait(200*time.Millisecond), events.WithRetryWait(50*time.Millisecond),
		events.WithConsumerLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(rctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("opstest: poison consumer: %v", err)
		}
	})
	return p
}

// Publish publishes a poison event carrying value and returns its id.
func (p *Poison) Publish(t testing.TB, value string) string {
	t.Helper()
	return p.producer.write(t, outbox.Event{
		AggregateType: "poison", AggregateID: value, Subject: PoisonSubject, Payload: wrapperspb.String(value),
	})
}

// Fix makes the consumer apply events from now on.
func (p *Poison) Fix() { p.fixed.Store(true) }

// Applied returns the event ids the consumer applied, in order.
func (p *Poison) Applied(t testing.TB) []string {
	t.Helper()
	ids, err := sqldb.QueryAll(context.Background(), p.db.SQL(), `SELECT event_id FROM applied ORDER BY rowid`, nil,
		sqldb.ScanValue[string])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// Eventually is wait.Eventually with the rig's timeout.
func Eventually(t testing.TB, what string, cond func() error) {
	t.Helper()
	wait.Eventually(t, Timeout, what, cond)
}
