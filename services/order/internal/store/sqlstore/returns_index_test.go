package sqlstore

import (
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/services/order/internal/order"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
)

// TestReturnsToCreditUsesIndex: the once-a-second credit completion scan
// (ReturnsToCredit) reads order_returns through order_returns_to_credit
// (migration 0009) on both engines, in index order (no sort), instead of
// scanning every return ever made.
func TestReturnsToCreditUsesIndex(t *testing.T) {
	wantPlanUses(t, "credit completion", "order_returns_to_credit", returnsToCreditQuery,
		returnsToCreditArgs(order.ReturnCursor{UpdatedAt: time.UnixMicro(1), ID: "r"}, 100))
}

// TestAuthorizedBeforeUsesIndex: the expiry task's scan (AuthorizedBefore)
// reads order_returns through order_returns_authorized (migration 0010)
// in index order on both engines.
func TestAuthorizedBeforeUsesIndex(t *testing.T) {
	wantPlanUses(t, "authorization expiry", "order_returns_authorized", authorizedBeforeQuery, []any{int64(1), 100})
}

// wantPlanUses checks, on both engines, that the plan of query (args)
// uses index and reads it in order (no sort).
func wantPlanUses(t *testing.T, scan, index, query string, args []any) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		ctx := t.Context()
		if err := Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		conn, err := db.SQL().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		explain := "EXPLAIN QUERY PLAN "
		if db.Dialect() == sqldb.Postgres {
			// The tables are empty: make the planner show the index it
			// would use on a large table instead of a sequential scan.
			if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
				t.Fatal(err)
			}
			explain = "EXPLAIN "
		}
		rows, err := conn.QueryContext(ctx, db.Rebind(explain+query), args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			// SQLite: id, parent, notused, detail; PostgreSQL: one text column.
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, strings.TrimSpace(asText(vals[len(vals)-1])))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		text := strings.Join(plan, "\n")
		if !strings.Contains(text, index) {
			t.Errorf("the %s scan does not use %s:\n%s", scan, index, text)
		}
		if db.Dialect() == sqldb.SQLite && strings.Contains(text, "TEMP B-TREE FOR ORDER BY") {
			t.Errorf("the %s scan sorts instead of reading in index order:\n%s", scan, text)
		}
		if db.Dialect() == sqldb.Postgres && strings.Contains(text, "Sort") {
			t.Errorf("the %s scan sorts instead of reading in index order:\n%s", scan, text)
		}
	})
}

func asText(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}
