package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

type retryPolicy struct {
	attempts int
	base     time.Duration
}

// backoff returns the pause before attempt+1: base doubling per attempt,
// capped at 32×base, with jitter in [d/2, d] so retrying writers spread out.
func (p retryPolicy) backoff(attempt int) time.Duration {
	if p.base <= 0 {
		return 0
	}
	d := p.base << min(attempt-1, 5)
	half := int64(d / 2)
	return time.Duration(half + rand.Int64N(half+1))
}

// InTx runs fn inside a read-write transaction and commits it when fn
// returns nil. When fn returns an error the transaction is rolled back and
// that error is returned unchanged; when fn panics (or calls
// runtime.Goexit, as t.FailNow does) the transaction is rolled back and the
// panic continues.
//
// When fn or the commit fails with a retryable error (see [IsRetryable]:
// SQLite busy/locked, PostgreSQL serialization failure or deadlock), the
// whole transaction is run again, up to the attempts set by [WithTxRetry],
// with a short jittered backoff. fn may therefore run more than once and
// must not have side effects outside tx (no network calls, no channel
// sends that cannot be repeated); collect results in variables that fn
// overwrites on every run.
//
// On SQLite, read-write transactions of one DB are serialised in process
// (BEGIN IMMEDIATE allows one writer anyway), and on an SQLite file
// concurrent calls share one transaction and one commit (group commit, see
// the package documentation and [WithGroupCommit]); fn runs in the
// caller's goroutine either way. Do not call InTx on the same DB from
// inside fn (it waits for the turn fn holds until its ctx ends), and do
// not use db.SQL() from inside fn on an in-memory database; use tx. ctx
// bounds the wait for the write lock, fn's statements and the backoff; a
// shared transaction is bounded on its own (30s), not by any one caller's
// ctx.
func (db *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.inTx(ctx, &sql.TxOptions{}, fn)
}

// InReadTx runs fn inside a read-only transaction in which every statement
// sees the same snapshot (SQLite: a deferred transaction; PostgreSQL:
// REPEATABLE READ, READ ONLY). It does not take the SQLite writer lock, so
// it runs concurrently with writers under WAL. Errors, retries and panics
// behave as in [DB.InTx].
func (db *DB) InReadTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.dialect == Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	return db.inTx(ctx, opts, fn)
}

func (db *DB) inTx(ctx context.Context, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := db.runTx(ctx, opts, fn)
		if err == nil {
			return nil
		}
		if attempt >= db.retry.attempts || !IsRetryable(err) || ctx.Err() != nil {
			return err
		}
		pause := db.retry.backoff(attempt)
		db.logger.DebugContext(ctx, "sqldb: retrying transaction",
			slog.Int("attempt", attempt), slog.Any("err", err), slog.Duration("pause", pause))
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (retry abandoned: %w)", err, ctx.Err())
		case <-t.C:
		}
	}
}

func (db *DB) runTx(ctx context.Context, opts *sql.TxOptions, fn func(tx *sql.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqldb: begin %s transaction: %w", db.dialect, err)
	}
	if !opts.ReadOnly && db.group != nil {
		return db.group.run(ctx, fn)
	}
	if !opts.ReadOnly && db.writeSem != nil {
		select {
		case db.writeSem <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("sqldb: wait for the write lock: %w", ctx.Err())
		}
		defer func() { <-db.writeSem }()
	}

	tx, err := db.sql.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("sqldb: begin %s transaction: %w", db.dialect, err)
	}
	finished := false
	defer func() {
		// Reached without finished only on panic or runtime.Goexit; the
		// panic is not recovered, so it keeps its original stack.
		if !finished {
			_ = tx.Rollback()
		}
	}()

	if err := fn(tx); err != nil {
		finished = true
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			db.logger.WarnContext(ctx, "sqldb: rollback failed", slog.Any("err", rbErr))
		}
		return err
	}
	finished = true
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqldb: commit %s transaction: %w", db.dialect, err)
	}
	if !opts.ReadOnly {
		db.stats.commits.Add(1)
		db.stats.txs.Add(1)
	}
	return nil
}
