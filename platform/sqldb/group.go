package sqldb

import "sync/atomic"

// defaultGroupMaxBatch is the group-commit batch bound for SQLite files
// when [WithGroupCommit] is not given. 1 (off) until the batching
// implementation lands.
const defaultGroupMaxBatch = 1

// WithGroupCommit sets how many concurrent [DB.InTx] calls on an SQLite
// file may share one transaction and one commit (one fsync). maxBatch <= 1
// runs every InTx in its own transaction. Ignored for PostgreSQL and for
// in-memory SQLite.
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

// groupCommit batches the read-write transactions of one SQLite file.
type groupCommit struct {
	maxBatch int
}
