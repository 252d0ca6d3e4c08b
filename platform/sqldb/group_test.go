package sqldb_test

import (
	"database/sql"
	"testing"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
)

func TestCommitStatsSingleTransaction(t *testing.T) {
	db := sqldbtest.OpenSQLite(t, sqldb.WithGroupCommit(1))
	migrateAccounts(t, db)
	ctx := t.Context()
	c0, t0 := db.CommitStats()
	for i := range 3 {
		id := string(rune('a' + i))
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return insertAccount(ctx, db, tx, id, id+"@example.com") }); err != nil {
			t.Fatal(err)
		}
	}
	_ = db.InTx(ctx, func(*sql.Tx) error { return errBusiness })
	_ = db.InReadTx(ctx, func(*sql.Tx) error { return nil })
	c1, t1 := db.CommitStats()
	if c1-c0 != 3 || t1-t0 != 3 {
		t.Errorf("CommitStats moved by (%d commits, %d txs), want (3, 3)", c1-c0, t1-t0)
	}
}
