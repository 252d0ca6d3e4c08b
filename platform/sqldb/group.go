package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// defaultGroupMaxBatch is the group-commit batch bound for SQLite files
// when [WithGroupCommit] is not given.
const defaultGroupMaxBatch = 64

// groupBatchTimeout bounds one shared transaction. It is not tied to any
// member's context (database/sql rolls a transaction back when the
// context given to BeginTx ends), so it needs a bound of its own; a batch
// that outlives it is rolled back and its members run again.
const groupBatchTimeout = 30 * time.Second

// groupMaxReruns bounds how often one InTx call runs fn again because its
// batch was broken by another member or its commit failed, so a database
// that keeps failing surfaces an error instead of looping.
const groupMaxReruns = 5

// memberSavepoint isolates one member inside the shared transaction. One
// name serves every member: members run one after another and each
// releases or rolls back its savepoint before the next starts.
const memberSavepoint = "sqldb_group_member"

// WithGroupCommit sets how many concurrent [DB.InTx] calls on an SQLite
// file may share one transaction and one commit (one fsync). The default
// is 64; maxBatch <= 1 runs every InTx in its own transaction, as before
// group commit. Ignored for PostgreSQL and for in-memory SQLite, which
// always run one transaction per InTx.
//
// What a batch guarantees, per InTx call: durability is unchanged — InTx
// returns nil only after the COMMIT holding its writes returned, with
// synchronous=FULL; isolation is serial — members run one at a time on
// the shared transaction, each inside its own savepoint (the first needs
// none: undoing it is rolling back the transaction), and each sees the
// writes of the members before it exactly as if the calls had run one
// after another; a member whose fn fails (error, panic, runtime.Goexit) is
// rolled back to its savepoint, leaving no trace, and gets its error (or
// panic) back while the others commit. When the shared transaction breaks
// (a statement rolled the whole transaction back, a savepoint or the
// COMMIT failed), every member of the batch that had succeeded runs fn
// again in a new transaction, so nothing is acknowledged that was not
// committed and nothing is applied twice.
func WithGroupCommit(maxBatch int) Option {
	return func(c *config) {
		if maxBatch < 1 {
			maxBatch = 1
		}
		c.groupMaxBatch = maxBatch
	}
}

// commitStats counts committed read-write transactions.
type commitStats struct {
	commits atomic.Uint64 // successful COMMITs of read-write transactions
	txs     atomic.Uint64 // InTx calls acknowledged with nil
}

// CommitStats reports how many read-write transactions this DB committed
// (commits) and how many [DB.InTx] calls it acknowledged (txs) since Open.
// Without group commit the two are equal; with it, txs/commits is the mean
// batch size. Read-only transactions are not counted.
func (db *DB) CommitStats() (commits, txs uint64) {
	return db.stats.commits.Load(), db.stats.txs.Load()
}

// errBatchBroken marks a member whose own work was fine but whose batch
// was rolled back by someone else: it runs fn again.
var errBatchBroken = errors.New("sqldb: shared transaction broken")

// groupCommit batches the read-write transactions of one SQLite file.
//
// The right to use the shared transaction is a turn: exactly one InTx
// call holds it at a time, in its own goroutine, and hands it to the next
// waiter when its fn is done. The first holder with no open batch begins
// one; the holder that finds nobody waiting (or the batch full) closes it
// with a COMMIT, then hands the turn to the first waiter, who begins the
// next batch. Writers that arrive during a COMMIT queue up and form that
// next batch: that is where the batching comes from.
type groupCommit struct {
	db       *DB
	maxBatch int

	mu    sync.Mutex
	busy  bool            // someone holds the turn
	queue []chan struct{} // waiters, first come first served; each buffered 1
	cur   *batch          // open batch, nil between batches
}

// batch is one shared transaction. Its fields are only touched by the
// holder of the turn, except done and err, which members waiting for the
// commit read after done is closed.
type batch struct {
	tx      *sql.Tx
	ctx     context.Context
	cancel  context.CancelFunc
	turns   int   // members that ran in it
	members int   // members whose work was released into it
	broken  error // why the transaction can no longer commit
	done    chan struct{}
	err     error // nil: committed; else why the members' work was lost
}

// acquire waits for the turn, or returns ctx's error leaving the queue.
func (g *groupCommit) acquire(ctx context.Context) error {
	g.mu.Lock()
	if !g.busy {
		g.busy = true
		g.mu.Unlock()
		return nil
	}
	turn := make(chan struct{}, 1)
	g.queue = append(g.queue, turn)
	g.mu.Unlock()
	select {
	case <-turn:
		return nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	if i := slices.Index(g.queue, turn); i >= 0 {
		g.queue = slices.Delete(g.queue, i, i+1)
		g.mu.Unlock()
		return ctx.Err()
	}
	g.mu.Unlock()
	// The turn was handed over while ctx ended: pass it on unused.
	<-turn
	g.endTurn()
	return ctx.Err()
}

// endTurn hands the turn to the next waiter of the open batch, or closes
// the batch (COMMIT, or ROLLBACK when broken or empty) and then hands the
// turn to the first waiter, who will begin a new batch.
func (g *groupCommit) endTurn() {
	g.mu.Lock()
	if b := g.cur; b != nil && (b.broken != nil || b.turns >= g.maxBatch || len(g.queue) == 0) {
		g.cur = nil
		g.mu.Unlock()
		g.finish(b)
		g.mu.Lock()
	}
	if len(g.queue) == 0 {
		g.busy = false
		g.mu.Unlock()
		return
	}
	next := g.queue[0]
	g.queue = g.queue[1:]
	g.mu.Unlock()
	next <- struct{}{}
}

// finish commits b, or rolls it back when it is broken or nobody's work
// is in it, and releases its waiting members.
func (g *groupCommit) finish(b *batch) {
	defer b.cancel()
	defer close(b.done)
	if b.broken != nil || b.members == 0 {
		if err := b.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) && b.broken == nil {
			g.db.logger.Warn("sqldb: rollback failed", slog.Any("err", err))
		}
		b.err = b.broken
		return
	}
	if err := b.tx.Commit(); err != nil {
		b.err = fmt.Errorf("sqldb: commit %s transaction: %w", g.db.dialect, err)
		return
	}
	g.db.stats.commits.Add(1)
	g.db.stats.txs.Add(uint64(b.members))
}

// begin opens a batch; the caller holds the turn.
func (g *groupCommit) begin(ctx context.Context) (*batch, error) {
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), groupBatchTimeout)
	tx, err := g.db.sql.BeginTx(bctx, &sql.TxOptions{})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("sqldb: begin %s transaction: %w", g.db.dialect, err)
	}
	b := &batch{tx: tx, ctx: bctx, cancel: cancel, done: make(chan struct{})}
	g.mu.Lock()
	g.cur = b
	g.mu.Unlock()
	return b, nil
}

// run runs fn as a member of a batch until its work is committed, fn
// fails, or its batch broke more often than groupMaxReruns.
func (g *groupCommit) run(ctx context.Context, fn func(tx *sql.Tx) error) error {
	for rerun := 0; ; rerun++ {
		err := g.runOnce(ctx, fn)
		if !errors.Is(err, errBatchBroken) {
			return err
		}
		if rerun >= groupMaxReruns || ctx.Err() != nil {
			return err
		}
		g.db.logger.DebugContext(ctx, "sqldb: running fn again after its batch broke", slog.Any("err", err))
	}
}

// runOnce runs fn once inside the shared transaction. It returns nil only
// after the batch holding fn's work committed, and an error wrapping
// errBatchBroken when that work was lost with the batch through no fault
// of fn.
func (g *groupCommit) runOnce(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := g.acquire(ctx); err != nil {
		return fmt.Errorf("sqldb: wait for the write lock: %w", err)
	}
	if err := ctx.Err(); err != nil {
		g.endTurn()
		return fmt.Errorf("sqldb: wait for the write lock: %w", err)
	}
	g.mu.Lock()
	b := g.cur
	g.mu.Unlock()
	if b == nil {
		var err error
		if b, err = g.begin(ctx); err != nil {
			g.endTurn()
			return err
		}
	}
	b.turns++
	// A member with no earlier member's work in the transaction (the
	// usual case unless writers queue up) runs without a savepoint: if it
	// fails, the whole transaction is rolled back instead. A savepoint
	// makes SQLite copy every page the member changes into a statement
	// journal first, which was 5-10% of a service's CPU in the sustained
	// bench profiles, for protection only members after the first need.
	alone := b.members == 0
	if !alone {
		if _, err := b.tx.ExecContext(b.ctx, "SAVEPOINT "+memberSavepoint); err != nil {
			// The transaction was fine when the previous member released
			// its savepoint; nothing ran since but the batch deadline.
			b.broken = fmt.Errorf("%w: savepoint: %w", errBatchBroken, err)
			g.endTurn()
			return b.broken
		}
	}
	undo := func() {
		if alone {
			// Nobody else's work is in the transaction: end it.
			b.broken = errAloneUndone
			return
		}
		g.rollbackMember(b)
	}

	finished := false
	defer func() {
		// Reached without finished only on panic or runtime.Goexit in
		// fn: undo this member, let the batch go on, and let the panic
		// continue with its own stack.
		if !finished {
			undo()
			g.endTurn()
		}
	}()
	ferr := fn(b.tx)
	finished = true
	if ferr != nil {
		// fn saw the work of the members released before it, which is not
		// committed yet. Its failure may rest on that work (a reservation
		// refused for stock an earlier member took), so it is answered only
		// once that work is durable: otherwise its caller could read the
		// state before it right after the failure, and if the batch then
		// broke, the failure would rest on writes that never happened. A
		// broken batch runs fn again, as for a member whose work was lost;
		// a member that broke the batch itself (its undo failed: fn's
		// statements ended the transaction) keeps its own error, as before.
		saw := !alone
		undo()
		broke := b.broken != nil
		g.endTurn()
		if saw && !broke {
			<-b.done
			if b.err != nil {
				return fmt.Errorf("%w: %w", errBatchBroken, b.err)
			}
		}
		return ferr
	}
	if err := g.checkOpen(b, alone); err != nil {
		// fn reported success but the transaction is gone: something fn
		// ran (an interrupted statement, INSERT OR ROLLBACK, a
		// swallowed error) rolled it back. Statements fn ran after that
		// were outside any transaction, so running fn again could apply
		// them twice: fail this member, rerun the others.
		b.broken = fmt.Errorf("%w: %w", errBatchBroken, err)
		g.endTurn()
		return fmt.Errorf("sqldb: transaction rolled back while fn ran: %w", err)
	}
	b.members++
	g.endTurn()
	<-b.done
	if b.err != nil {
		return fmt.Errorf("%w: %w", errBatchBroken, b.err)
	}
	return nil
}

// errAloneUndone ends a batch whose only member failed: its transaction
// is rolled back as a whole, which undoes that member (see runOnce).
var errAloneUndone = errors.New("sqldb: the batch's only member failed")

// checkOpen confirms, after a member's fn succeeded, that the shared
// transaction is still open, and ends the member's savepoint. A member
// with a savepoint releases it, which fails once the transaction is gone.
// A member without one (alone) probes with BEGIN: inside the transaction
// SQLite refuses it ("cannot start a transaction within a transaction")
// and nothing changes; when the transaction is gone BEGIN succeeds and
// opens a new one, which the broken batch's rollback ends. Any other
// answer is treated as a gone transaction too.
func (g *groupCommit) checkOpen(b *batch, alone bool) error {
	if !alone {
		if _, err := b.tx.ExecContext(b.ctx, "RELEASE "+memberSavepoint); err != nil {
			return fmt.Errorf("release savepoint: %w", err)
		}
		return nil
	}
	_, err := b.tx.ExecContext(b.ctx, "BEGIN")
	switch {
	case err == nil:
		return errors.New("the transaction was no longer active (BEGIN succeeded)")
	case strings.Contains(err.Error(), "within a transaction"):
		return nil
	default:
		return fmt.Errorf("probe transaction: %w", err)
	}
}

// rollbackMember undoes the current member's work; when that fails, the
// shared transaction is unusable and the batch is marked broken.
func (g *groupCommit) rollbackMember(b *batch) {
	if _, err := b.tx.ExecContext(b.ctx, "ROLLBACK TO "+memberSavepoint); err != nil {
		b.broken = fmt.Errorf("%w: rollback to savepoint: %w", errBatchBroken, err)
		return
	}
	if _, err := b.tx.ExecContext(b.ctx, "RELEASE "+memberSavepoint); err != nil {
		b.broken = fmt.Errorf("%w: release savepoint: %w", errBatchBroken, err)
	}
}
