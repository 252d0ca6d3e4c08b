package grpcapi_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/order/internal/erpclient"
	"github.com/transload/transload/services/order/internal/order"
)

// countingStore counts the store's write transactions by method, so a test
// can state what one order costs over its whole life.
type countingStore struct {
	order.Store
	mu sync.Mutex
	n  map[string]int
	// failLease makes AcquireLease fail (the database unreachable).
	failLease atomic.Bool
}

func (s *countingStore) count(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[string]int{}
	}
	s.n[method]++
}

func (s *countingStore) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.n {
		out[k] = v
	}
	return out
}

func (s *countingStore) ClaimRequest(ctx context.Context, c order.Claim) (order.ClaimResult, error) {
	s.count("ClaimRequest")
	return s.Store.ClaimRequest(ctx, c)
}

func (s *countingStore) ExtendClaim(ctx context.Context, ref order.ClaimRef, until time.Time) error {
	s.count("ExtendClaim")
	return s.Store.ExtendClaim(ctx, ref, until)
}

func (s *countingStore) CreateOrder(ctx context.Context, ref order.ClaimRef, o *order.Order, eff order.Effects) error {
	s.count("CreateOrder")
	return s.Store.CreateOrder(ctx, ref, o, eff)
}

func (s *countingStore) UpdateOrderFrom(ctx context.Context, o *order.Order, fn func(o *order.Order) (order.Effects, error)) (*order.Order, error) {
	s.count("UpdateOrderFrom")
	return s.Store.UpdateOrderFrom(ctx, o, fn)
}

func (s *countingStore) UpdateOrder(ctx context.Context, id string, key *order.IdempotencyKey, fn func(o *order.Order) (order.Effects, error)) (*order.Order, error) {
	s.count("UpdateOrder")
	return s.Store.UpdateOrder(ctx, id, key, fn)
}

func (s *countingStore) StartQueueAttempt(ctx context.Context, seq int64, at, leaseUntil time.Time) error {
	s.count("StartQueueAttempt")
	return s.Store.StartQueueAttempt(ctx, seq, at, leaseUntil)
}

func (s *countingStore) StartSubmission(ctx context.Context, seq int64, at, leaseUntil time.Time) (*order.Order, error) {
	s.count("StartSubmission")
	return s.Store.StartSubmission(ctx, seq, at, leaseUntil)
}

func (s *countingStore) GetOrder(ctx context.Context, id string) (*order.Order, error) {
	s.count("GetOrder (read)")
	return s.Store.GetOrder(ctx, id)
}

func (s *countingStore) DeleteQueueEntry(ctx context.Context, seq int64) error {
	s.count("DeleteQueueEntry")
	return s.Store.DeleteQueueEntry(ctx, seq)
}

func (s *countingStore) AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	s.count("AcquireLease")
	if s.failLease.Load() {
		return false, errors.New("database unreachable")
	}
	return s.Store.AcquireLease(ctx, name, holder, now, until)
}

func (s *countingStore) SaveCustomer(ctx context.Context, c order.Customer) error {
	s.count("SaveCustomer")
	return s.Store.SaveCustomer(ctx, c)
}

func (s *countingStore) NextQueueEntries(ctx context.Context, limit int) ([]order.QueueEntry, error) {
	s.count("NextQueueEntries (read)")
	return s.Store.NextQueueEntries(ctx, limit)
}

// countedTables are the tables whose row writes the cost test counts.
var countedTables = []string{"orders", "order_lines", "order_allocations", "order_shipments", "order_history",
	"customers", "worker_leases", "erp_queue", "idempotency_keys", "documents", "document_lines"}

// countRowWrites installs SQLite triggers that count every row inserted,
// updated or deleted in countedTables, and returns a reader of the counts.
func countRowWrites(t *testing.T, db *sqldb.DB) func() map[string]int {
	t.Helper()
	ctx := t.Context()
	stmts := []string{`CREATE TABLE row_writes (tbl TEXT PRIMARY KEY, n INTEGER NOT NULL)`}
	for _, tbl := range countedTables {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO row_writes VALUES ('%s', 0)`, tbl))
		for _, op := range []string{"INSERT", "UPDATE", "DELETE"} {
			stmts = append(stmts, fmt.Sprintf(`CREATE TRIGGER count_%s_%s AFTER %s ON %s
				BEGIN UPDATE row_writes SET n = n + 1 WHERE tbl = '%s'; END`, tbl, strings.ToLower(op), op, tbl, tbl))
		}
	}
	for _, s := range stmts {
		if _, err := db.SQL().ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return func() map[string]int {
		rows, err := db.SQL().QueryContext(ctx, `SELECT tbl, n FROM row_writes`)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		if err := sqldb.Each(rows, func(sc sqldb.Scanner) error {
			var tbl string
			var n int
			err := sc.Scan(&tbl, &n)
			out[tbl] = n
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// diff returns after - before per key.
func diff(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func format(m map[string]int, n int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%.2f", k, float64(m[k])/float64(n))
	}
	return b.String()
}

// TestCostPerOrder follows orders through their whole life in the order
// service (placed, confirmed by the ERP queue worker, two shipments shipped
// and delivered) and counts, per order, the store's write transactions and
// the rows written. It pins the savings of issue #12: the worker does not
// renew its lease per queue entry, a shipment report does not rewrite the
// order's unchanged lines, allocations and shipments, and a customer whose
// ERP record did not change is not written again.
func TestCostPerOrder(t *testing.T) {
	t.Parallel()
	var cs *countingStore
	e := newEnv(t, func(o *envOptions) {
		o.wrapStore = func(s order.Store) order.Store { cs = &countingStore{Store: s}; return cs }
	})
	rows := countRowWrites(t, e.db)
	ctx := t.Context()
	// One order first, so the customer's snapshot exists and the worker
	// holds its lease: the counts below are the steady state.
	e.createConfirmed(t, createReq("warm-up", "C0007", line{"SKU-00001", 1}))

	const n = 10
	calls0, rows0 := cs.counts(), rows()
	start := time.Now()
	commits0, _ := e.db.CommitStats()
	statements0, events0 := statements(e.db), outboxRows(t, e.db)
	for i := range n {
		// Line 1: 104 of a SKU of its own → WH-HAM 100, WH-MUC 4. Line 2:
		// SKU-00001 x1 → WH-HAM.
		sku := fmt.Sprintf("SKU-%05d", 100+i)
		id := e.createConfirmed(t, createReq(fmt.Sprint("cost-", i), "C0007", line{sku, 104}, line{"SKU-00001", 1}))
		for j, r := range []*orderv1.RecordShipmentProgressRequest{
			progress(id, "s1"+id, "S1", "WH-HAM", orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_SHIPPED, map[string]int64{"1": 100, "2": 1}),
			progress(id, "s2"+id, "S2", "WH-MUC", orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_SHIPPED, map[string]int64{"1": 4}),
			progress(id, "d1"+id, "S1", "WH-HAM", orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_DELIVERED, map[string]int64{"1": 100, "2": 1}),
			progress(id, "d2"+id, "S2", "WH-MUC", orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_DELIVERED, map[string]int64{"1": 4}),
		} {
			if _, err := e.client.RecordShipmentProgress(ctx, r); err != nil {
				t.Fatalf("order %d report %d: %v", i, j, err)
			}
		}
		e.waitState(t, id, orderv1.Order_STATE_DELIVERED)
	}
	calls, written := diff(calls0, cs.counts()), diff(rows0, rows())
	// The worker renews its lease every third of its TTL (15s), whatever
	// the orders: 2 writes within 5s, one more per 5s a slow run (-race
	// under load) takes.
	leases := 2 + int(time.Since(start)/(5*time.Second))
	t.Logf("store calls per order:%s", format(calls, n))
	t.Logf("rows written per order:%s", format(written, n))
	commits, _ := e.db.CommitStats()
	t.Logf("database commits per order: %.2f", float64(commits-commits0)/float64(n))
	stmts, events := statements(e.db)-statements0, outboxRows(t, e.db)-events0
	t.Logf("SQL statements per order: %.1f, outbox events per order: %.1f", float64(stmts)/float64(n), float64(events)/float64(n))
	// Statements: 79-80 per order's life (claim, placement, submission,
	// answer, four reports), plus what the test's polls and the worker's
	// passes cost, which come with timing: one per GetOrder (the order row;
	// its lines, allocations, shipments and history come from the store's
	// parts cache, which a shipment report, the submission and the reads
	// take too: without it an order costs 20 statements more, and each
	// poll 4) and 3 per pass (with one of slack each). The placement writes
	// the order's lines, allocations and history with one statement each
	// (a statement per row cost 3 more here).
	if most := uint64(80*n + calls["GetOrder (read)"] + 4*calls["NextQueueEntries (read)"]); stmts > most { //nolint:gosec // small non-negative counts
		t.Errorf("%d SQL statements for %d orders, want at most %d", stmts, n, most)
	}
	// Events: accepted and confirmed, partially shipped, shipped and
	// delivered, and an audit record of each of the six changes.
	if events != 11*n {
		t.Errorf("%d outbox events for %d orders, want %d", events, n, 11*n)
	}
	// Claim, order, attempt, confirmation and four reports: 8 (16 before
	// issue #12 with this test's 20 ms worker poll), plus the worker's
	// lease renewals, which come with time, not with orders (bounded by the
	// AcquireLease check below): a slow run renews once more.
	most := uint64(8*n + calls["AcquireLease"]) //nolint:gosec // small non-negative counts
	if got := commits - commits0; got > most {
		t.Errorf("%d commits for %d orders, want at most %d", got, n, most)
	}

	// Per order: one claim, one order transaction, one attempt and one
	// confirmation in the worker (on the order the attempt read), four
	// shipment reports. The lease is
	// renewed every third of its TTL (15s), not per entry or pass.
	for method, most := range map[string]int{
		"ClaimRequest": n, "CreateOrder": n, "StartSubmission": n, "UpdateOrder": 4 * n, "UpdateOrderFrom": n,
		"AcquireLease": leases, "SaveCustomer": 0,
	} {
		if got := calls[method]; got > most {
			t.Errorf("%s: %d calls for %d orders, want at most %d", method, got, n, most)
		}
	}
	// Rows: the order is inserted with 2 lines, 3 allocations and its first
	// history entry; its ERP attempt and each of its 5 updates write the
	// order row; the 4 reports write only the allocations, lines and
	// shipments whose quantities they change (S1 ships 2 lines from WH-HAM,
	// S2 one line from WH-MUC; each is delivered as shipped). The first
	// report of each shipment stores its invoice in the same transaction:
	// 2 documents with 3 lines (2 in S1, 1 in S2); the delivery reports
	// write no invoice row.
	for tbl, most := range map[string]int{
		"orders": 7 * n, "order_lines": 8 * n, "order_allocations": 9 * n, "order_shipments": 4 * n,
		"customers": 0, "worker_leases": leases, "documents": 2 * n, "document_lines": 3 * n,
	} {
		if got := written[tbl]; got > most {
			t.Errorf("%s: %d rows written for %d orders, want at most %d", tbl, got, n, most)
		}
	}
}

// statements returns how many SQL statements db ran (SQLite: compiled or
// served by a cached prepared statement).
func statements(db *sqldb.DB) uint64 {
	prepared, reused := db.StatementStats()
	return prepared + reused
}

// outboxRows returns how many events db's outbox holds (published or not).
func outboxRows(t *testing.T, db *sqldb.DB) int {
	t.Helper()
	n, err := sqldb.ScanValue[int](db.SQL().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM outbox_events`))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// testClock is a clock tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *testClock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// newClockedEnv returns an env without a running worker whose service runs
// on a clock the test moves, over a counting store.
func newClockedEnv(t *testing.T, opts ...func(*envOptions)) (*env, *countingStore, *testClock) {
	t.Helper()
	var cs *countingStore
	clock := &testClock{t: time.Now()}
	e := newEnv(t, append([]func(*envOptions){withoutWorker, func(o *envOptions) {
		o.now = clock.now
		o.wrapStore = func(s order.Store) order.Store { cs = &countingStore{Store: s}; return cs }
	}}, opts...)...)
	return e, cs, clock
}

// TestWorkerLeaseRenewal: the ERP queue worker writes its lease when it
// takes it and then every third of its TTL, however many entries and
// passes it runs; a worker whose renewals fail keeps working on the lease
// it holds only until two thirds of the TTL after its last good write, so
// it stops before another replica may take the lease over.
func TestWorkerLeaseRenewal(t *testing.T) {
	t.Parallel()
	e, cs, clock := newClockedEnv(t)
	advance := clock.advance
	ctx := t.Context()
	const ttl = 15 * time.Second // the worker's default LeaseTTL
	place := func(n int, prefix string) []string {
		var ids []string
		for i := range n {
			ids = append(ids, e.create(t, createReq(fmt.Sprint(prefix, i), "C0001", line{"SKU-00001", 1})).GetOrderId())
		}
		return ids
	}
	confirmed := func(ids []string) int {
		n := 0
		for _, id := range ids {
			if e.get(t, id).GetState() == orderv1.Order_STATE_CONFIRMED {
				n++
			}
		}
		return n
	}

	// 20 entries over 4 passes within a third of the TTL: one write, the
	// acquisition.
	ids := place(20, "lease-a-")
	for range 4 {
		e.worker.Pass(ctx)
		advance(ttl / 20)
	}
	if got := confirmed(ids); got != 20 {
		t.Fatalf("%d of 20 orders confirmed", got)
	}
	if got := cs.counts()["AcquireLease"]; got != 1 {
		t.Errorf("%d lease writes for 20 entries in 4 passes within TTL/3, want 1", got)
	}
	// A third of the TTL after the acquisition: renewed once.
	advance(ttl / 3)
	e.worker.Pass(ctx)
	e.worker.Pass(ctx)
	if got := cs.counts()["AcquireLease"]; got != 2 {
		t.Errorf("%d lease writes after TTL/3, want 2", got)
	}

	// The renewals fail from now on (last good write at t0). The worker
	// keeps the lease it holds until t0 + 2/3 TTL, then stops.
	cs.failLease.Store(true)
	advance(ttl / 3)
	ids = place(1, "lease-b-")
	e.worker.Pass(ctx)
	if got := confirmed(ids); got != 1 {
		t.Errorf("an entry before 2/3 TTL after the last renewal was not sent")
	}
	advance(ttl / 3)
	ids = place(1, "lease-c-")
	e.worker.Pass(ctx)
	if got := confirmed(ids); got != 0 {
		t.Errorf("a worker that could not renew its lease for 2/3 TTL still sent an entry")
	}
	// The database is back: it takes the lease again and drains.
	cs.failLease.Store(false)
	e.worker.Pass(ctx)
	if got := confirmed(ids); got != 1 {
		t.Errorf("the worker did not resume after its lease came back")
	}
}

// TestCustomerSnapshotWrittenOnChange: CreateOrder writes the customer
// snapshot when the ERP's record differs from the stored one or the stored
// fetch time is an hour old (1/24 of the default 24h staleness), and not
// otherwise.
func TestCustomerSnapshotWrittenOnChange(t *testing.T) {
	t.Parallel()
	e, cs, clock := newClockedEnv(t)
	now, advance := clock.now, clock.advance
	ctx := t.Context()
	step := 0
	place := func() error {
		step++
		_, err := e.client.CreateOrder(ctx, createReq(fmt.Sprint("snap-", step), "C0003", line{"SKU-00001", 1}))
		return err
	}
	saves := func(want int, what string) {
		t.Helper()
		if got := cs.counts()["SaveCustomer"]; got != want {
			t.Errorf("%s: %d snapshot writes in all, want %d", what, got, want)
		}
	}
	stored := func() order.Customer {
		t.Helper()
		c, err := e.store.GetCustomer(ctx, "C0003")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if err := place(); err != nil {
		t.Fatal(err)
	}
	saves(1, "first order")
	for range 3 {
		advance(10 * time.Minute)
		if err := place(); err != nil {
			t.Fatal(err)
		}
	}
	saves(1, "three more orders, same record, within the hour")

	e.erp.AddCustomer("C0003", erpv1.Customer_ACCOUNT_STATE_CREDIT_HOLD)
	if err := place(); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("order of a customer on credit hold: %v", err)
	}
	saves(2, "the ERP put the customer on credit hold")
	if c := stored(); c.Account != order.AccountCreditHold {
		t.Errorf("stored snapshot account %v, want credit hold", c.Account)
	}
	e.erp.AddCustomer("C0003", erpv1.Customer_ACCOUNT_STATE_ACTIVE)
	if err := place(); err != nil {
		t.Fatal(err)
	}
	saves(3, "the hold lifted")

	// Same record an hour later: the fetch time is refreshed.
	advance(time.Hour)
	if err := place(); err != nil {
		t.Fatal(err)
	}
	saves(4, "same record an hour after the last write")
	if c := stored(); !c.FetchedAt.Equal(now().UTC().Truncate(time.Microsecond)) {
		t.Errorf("stored fetch time %v, want %v", c.FetchedAt, now().UTC())
	}
}

// TestWorkerReadsEachOrderInItsAttempt: the worker reads the order it
// submits in the transaction that counts the attempt (StartSubmission),
// not in a read transaction of its own before it.
func TestWorkerReadsEachOrderInItsAttempt(t *testing.T) {
	t.Parallel()
	e, cs, _ := newClockedEnv(t)
	var ids []string
	for i := range 5 {
		ids = append(ids, e.create(t, createReq(fmt.Sprint("read-", i), "C0001", line{"SKU-00001", 1})).GetOrderId())
	}
	before := cs.counts()
	e.worker.Pass(t.Context())
	calls := diff(before, cs.counts())
	if calls["GetOrder (read)"] != 0 || calls["StartSubmission"] != len(ids) {
		t.Errorf("worker pass over %d entries: %v; want one StartSubmission each and no GetOrder", len(ids), calls)
	}
	for _, id := range ids {
		if st := e.get(t, id).GetState(); st != orderv1.Order_STATE_CONFIRMED {
			t.Errorf("%s is %s after the pass", id, st)
		}
	}
}

// TestWorkerDrainsFullBatchesBackToBack: after a full batch that made
// progress the worker's next pass is due at once (a backlog drains at the
// ERP's pace, not one batch per poll interval); after a partial batch, or
// a full one that halted because the ERP is down, it waits.
func TestWorkerDrainsFullBatchesBackToBack(t *testing.T) {
	t.Parallel()
	e, _, _ := newClockedEnv(t)
	ctx := t.Context()
	w := order.NewWorker(order.WorkerConfig{BatchSize: 3, PollInterval: time.Second, BackoffBase: 500 * time.Millisecond},
		e.svc, erpclient.New(e.erpConn))
	for i := range 7 {
		e.create(t, createReq(fmt.Sprint("drain-", i), "C0001", line{"SKU-00001", 1}))
	}
	for i, want := range []time.Duration{time.Millisecond, time.Millisecond, time.Second} {
		if got := w.Pass(ctx); got != want {
			t.Errorf("pass %d over 3, 3, 1 entries: next in %v, want %v", i+1, got, want)
		}
	}
	for i := range 3 {
		e.create(t, createReq(fmt.Sprint("drain-down-", i), "C0001", line{"SKU-00001", 1}))
	}
	e.erp.SetDown(true)
	if got := w.Pass(ctx); got < 100*time.Millisecond {
		t.Errorf("full batch halted by the ERP outage: next in %v, want the backoff", got)
	}
}

// TestCustomerReadLocallyAfterSync: with CustomerLocalMaxAge set, a
// placement within that age of the last complete customer sync reads a
// known customer from its snapshot, without the ERP hop; a customer
// without a snapshot, or a placement after the sync aged out, asks the ERP.
// The snapshot follows the ERP through the sync (a credit hold refuses).
func TestCustomerReadLocallyAfterSync(t *testing.T) {
	t.Parallel()
	e, cs, clock := newClockedEnv(t, func(o *envOptions) { o.cfg.CustomerLocalMaxAge = time.Minute })
	ctx := t.Context()
	step := 0
	place := func(customer string) error {
		step++
		_, err := e.client.CreateOrder(ctx, createReq(fmt.Sprint("local-", step), customer, line{"SKU-00001", 1}))
		return err
	}
	reads := func(want int, what string) {
		t.Helper()
		if got := e.erp.CustomerReads(); got != want {
			t.Errorf("%s: %d ERP customer reads in all, want %d", what, got, want)
		}
	}
	if err := place("C0004"); err != nil {
		t.Fatal(err)
	}
	reads(1, "before any sync")
	if _, err := e.svc.SyncCustomers(ctx); err != nil {
		t.Fatal(err)
	}
	saves := cs.counts()["SaveCustomer"]
	for range 3 {
		clock.advance(10 * time.Second)
		if err := place("C0004"); err != nil {
			t.Fatal(err)
		}
	}
	reads(1, "three orders within a minute of the sync")
	if got := cs.counts()["SaveCustomer"]; got != saves {
		t.Errorf("local reads wrote %d snapshots", got-saves)
	}

	e.erp.AddCustomer("C0004", erpv1.Customer_ACCOUNT_STATE_CREDIT_HOLD)
	if _, err := e.svc.SyncCustomers(ctx); err != nil {
		t.Fatal(err)
	}
	if err := place("C0004"); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("customer on credit hold since the last sync: %v, want FAILED_PRECONDITION", err)
	}
	reads(1, "credit hold seen through the sync")

	e.erp.AddCustomer("C0030", erpv1.Customer_ACCOUNT_STATE_ACTIVE)
	if err := place("C0030"); err != nil {
		t.Fatal(err)
	}
	reads(2, "a customer without a snapshot")

	clock.advance(2 * time.Minute)
	if err := place("C0005"); err != nil {
		t.Fatal(err)
	}
	reads(3, "a placement two minutes after the last sync")
}
