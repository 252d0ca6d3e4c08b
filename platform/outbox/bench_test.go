package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/natstest"
)

// benchPayload is a typical small event body.
var benchPayload = wrapperspb.String(strings.Repeat("x", 200))

const benchAggregates = 16

// BenchmarkOutbox compares the cost of raising an event through the outbox
// end to end (write in a durable SQLite transaction, relay to JetStream,
// acknowledged and marked published) with the floor of any durable
// approach: inserting a row of the same size in its own durable SQLite
// transaction.
func BenchmarkOutbox(b *testing.B) {
	b.Run("baseline", func(b *testing.B) {
		ctx := context.Background()
		db := sqldbtest.OpenSQLite(b)
		if _, err := db.SQL().ExecContext(ctx, `CREATE TABLE plain_events (
			id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, aggregate_type TEXT NOT NULL,
			aggregate_id TEXT NOT NULL, subject TEXT NOT NULL, payload_type TEXT NOT NULL,
			payload BLOB NOT NULL, created_unix_us INTEGER NOT NULL)`); err != nil {
			b.Fatal(err)
		}
		payload, err := proto.Marshal(benchPayload)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO plain_events (event_id, aggregate_type, aggregate_id,
					subject, payload_type, payload, created_unix_us) VALUES (?, ?, ?, ?, ?, ?, ?)`,
					fmt.Sprintf("00000000-0000-7000-8000-%012d", i), "thing", fmt.Sprintf("agg-%d", i%benchAggregates),
					testSubject, "google.protobuf.StringValue", payload, time.Now().UnixMicro())
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("subject", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// A quiet logger: a migration log line would split the benchmark's
		// result line and break benchstat-style parsing.
		db := sqldbtest.OpenSQLite(b, sqldb.WithLogger(discardLogger()))
		if err := outbox.Migrate(ctx, db); err != nil {
			b.Fatal(err)
		}
		s := natstest.Start(b)
		_, js := natstest.Connect(b, s)
		ensureStream(b, js)
		relay, err := outbox.NewRelay(db, js, outbox.WithPollInterval(50*time.Millisecond), outbox.WithLogger(discardLogger()))
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- relay.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				b.Errorf("Run: %v", err)
			}
		}()

		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if err := writeBenchEvent(ctx, db, i); err != nil {
				b.Fatal(err)
			}
			relay.Notify()
		}
		waitPublished(b, db)
		b.StopTimer()
	})
}

func writeBenchEvent(ctx context.Context, db *sqldb.DB, i int) error {
	return db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := outbox.Write(ctx, tx, db.Dialect(), outbox.Event{
			AggregateType: "thing",
			AggregateID:   fmt.Sprintf("agg-%d", i%benchAggregates),
			Subject:       testSubject,
			Payload:       benchPayload,
		})
		return err
	})
}

// waitPublished polls until the outbox has no unpublished rows.
func waitPublished(b *testing.B, db *sqldb.DB) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		lag, err := outbox.ReadLag(context.Background(), db, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if lag.Unpublished == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d events still unpublished after 5 minutes", lag.Unpublished)
		}
		time.Sleep(time.Millisecond)
	}
}

// writeShapes are the batch shapes BenchmarkWriteBatch measures: events
// per WriteBatch call and the aggregates they spread over.
var writeShapes = []struct {
	name               string
	events, aggregates int
}{
	{"1ev", 1, 1},
	{"4ev2agg", 4, 2},
	{"16ev8agg", 16, 8},
}

// BenchmarkWriteBatch measures the CPU a WriteBatch call spends inside
// the writer's transaction (which holds SQLite's write lock): one call per
// transaction, as a service writes, on a database with synchronous=OFF so
// the commit's fsync does not drown it. The baseline inserts rows of the
// same size into a table with the same indexes, one plain INSERT per
// event, in the same kind of transaction; compare subject/baseline ratios
// across versions.
func BenchmarkWriteBatch(b *testing.B) {
	const perTx = 1
	for _, shape := range writeShapes {
		b.Run(shape.name+"/baseline", func(b *testing.B) {
			ctx := context.Background()
			db := openUnsyncedSQLite(b)
			if _, err := db.SQL().ExecContext(ctx, `CREATE TABLE plain_events (
				id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, aggregate_type TEXT NOT NULL,
				aggregate_id TEXT NOT NULL, aggregate_seq INTEGER NOT NULL, subject TEXT NOT NULL,
				payload_type TEXT NOT NULL, payload BLOB NOT NULL, created_unix_us INTEGER NOT NULL,
				UNIQUE (aggregate_type, aggregate_id, aggregate_seq))`); err != nil {
				b.Fatal(err)
			}
			payload, err := proto.Marshal(benchPayload)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			runBatched(b, db, perTx, func(tx *sql.Tx, i int) error {
				for e := range shape.events {
					n++
					if _, err := tx.ExecContext(ctx, `INSERT INTO plain_events (event_id, aggregate_type, aggregate_id,
						aggregate_seq, subject, payload_type, payload, created_unix_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
						fmt.Sprintf("00000000-0000-7000-8000-%012d", n), "thing",
						fmt.Sprintf("agg-%d-%d", i, e%shape.aggregates), n, testSubject,
						"google.protobuf.StringValue", payload, time.Now().UnixMicro()); err != nil {
						return err
					}
				}
				return nil
			})
		})
		b.Run(shape.name+"/subject", func(b *testing.B) {
			ctx := context.Background()
			db := openUnsyncedSQLite(b)
			if err := outbox.Migrate(ctx, db); err != nil {
				b.Fatal(err)
			}
			evs := make([]outbox.Event, shape.events)
			runBatched(b, db, perTx, func(tx *sql.Tx, i int) error {
				for e := range evs {
					evs[e] = outbox.Event{
						AggregateType: "thing",
						AggregateID:   fmt.Sprintf("agg-%d", (i*shape.aggregates+e%shape.aggregates)%1000),
						Subject:       testSubject,
						Payload:       benchPayload,
					}
				}
				_, err := outbox.WriteBatch(ctx, tx, db.Dialect(), evs)
				return err
			})
		})
	}
}

// openUnsyncedSQLite opens an SQLite file database whose commits do not
// fsync, to measure CPU rather than the disk.
func openUnsyncedSQLite(b *testing.B) *sqldb.DB {
	b.Helper()
	db, err := sqldb.Open(context.Background(), sqldbtest.SQLiteDSN(b)+"?_synchronous=OFF", sqldb.WithLogger(discardLogger()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db
}

// runBatched runs fn b.N times, perTx calls to a transaction of db.
func runBatched(b *testing.B, db *sqldb.DB, perTx int, fn func(tx *sql.Tx, i int) error) {
	b.Helper()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for start := 0; start < b.N; start += perTx {
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			for i := start; i < min(start+perTx, b.N); i++ {
				if err := fn(tx, i); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// relayShapes are the rounds BenchmarkRelay measures: 256 rows (one
// batch) spread over that many aggregates.
var relayShapes = []struct {
	name       string
	aggregates int
}{
	{"256agg", 256},
	{"64agg", 64},
	{"8agg", 8},
}

// BenchmarkRelay measures a relay round per row: publishing a batch of
// 256 rows to JetStream and marking them published, in wall time and in
// CPU time of the process (cpu-ns/op, which includes the embedded NATS
// server's work). The baseline publishes the same messages with one
// synchronous PublishMsg each, one after the other, without the
// database; compare subject/baseline ratios across versions.
func BenchmarkRelay(b *testing.B) {
	const batch = 256
	for _, shape := range relayShapes {
		b.Run(shape.name+"/baseline", func(b *testing.B) {
			ctx := context.Background()
			s := natstest.Start(b)
			_, js := natstest.Connect(b, s)
			ensureStream(b, js)
			payload, err := proto.Marshal(benchPayload)
			if err != nil {
				b.Fatal(err)
			}
			var cpu cpuMeter
			b.ReportAllocs()
			b.ResetTimer()
			cpu.start()
			for i := range b.N {
				row := outbox.Row{EventID: fmt.Sprintf("00000000-0000-7000-8000-%012d", i), AggregateType: "thing",
					AggregateID: fmt.Sprintf("agg-%d", i%shape.aggregates), Sequence: int64(i/shape.aggregates + 1),
					Subject: testSubject, PayloadType: "google.protobuf.StringValue", Payload: payload, CreatedAt: time.Now()}
				if _, err := js.PublishMsg(ctx, row.Message()); err != nil {
					b.Fatal(err)
				}
			}
			cpu.stop()
			b.StopTimer()
			cpu.report(b)
		})
		b.Run(shape.name+"/subject", func(b *testing.B) {
			ctx := context.Background()
			db := openUnsyncedSQLite(b)
			if err := outbox.Migrate(ctx, db); err != nil {
				b.Fatal(err)
			}
			s := natstest.Start(b)
			_, js := natstest.Connect(b, s)
			ensureStream(b, js)
			relay, err := outbox.NewRelay(db, js, outbox.WithLogger(discardLogger()), outbox.WithBatchSize(batch))
			if err != nil {
				b.Fatal(err)
			}
			evs := make([]outbox.Event, 0, batch)
			var cpu cpuMeter
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += batch {
				b.StopTimer()
				evs = evs[:0]
				for i := range min(batch, b.N-done) {
					evs = append(evs, outbox.Event{AggregateType: "thing", AggregateID: fmt.Sprintf("agg-%d", i%shape.aggregates),
						Subject: testSubject, Payload: benchPayload})
				}
				if err := db.InTx(ctx, func(tx *sql.Tx) error {
					_, err := outbox.WriteBatch(ctx, tx, db.Dialect(), evs)
					return err
				}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				cpu.start()
				n, err := relay.RunOnce(ctx)
				cpu.stop()
				if err != nil || n != len(evs) {
					b.Fatalf("RunOnce = %d, %v; want %d rows", n, err, len(evs))
				}
			}
			b.StopTimer()
			cpu.report(b)
		})
	}
}

// cpuMeter adds up the process's CPU time (user and system) over the
// measured sections of a benchmark.
type cpuMeter struct {
	total, since time.Duration
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (c *cpuMeter) start() { c.since = processCPU() }
func (c *cpuMeter) stop()  { c.total += processCPU() - c.since }

func (c *cpuMeter) report(b *testing.B) {
	b.ReportMetric(float64(c.total.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
