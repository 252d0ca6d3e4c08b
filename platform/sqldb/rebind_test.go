package sqldb_test

import (
	"testing"

	"github.com/transload/transload/platform/sqldb"
)

func TestRebind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, postgres string
	}{
		{"none", `SELECT 1`, `SELECT 1`},
		{"in order", `SELECT a FROM t WHERE b = ? AND c IN (?, ?)`, `SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)`},
		{"string literal", `SELECT '?', a FROM t WHERE b = ?`, `SELECT '?', a FROM t WHERE b = $1`},
		{"escaped quote in literal", `SELECT 'it''s ?' WHERE x = ?`, `SELECT 'it''s ?' WHERE x = $1`},
		{"quoted identifier", `SELECT "we?ird" FROM t WHERE x = ?`, `SELECT "we?ird" FROM t WHERE x = $1`},
		{"line comment", "SELECT 1 -- why?\nWHERE x = ?", "SELECT 1 -- why?\nWHERE x = $1"},
		{"block comment", `SELECT /* a? b? */ ? `, `SELECT /* a? b? */ $1 `},
		{"dollar quoted", `DO $body$ BEGIN PERFORM '?'; END $body$; SELECT ?`, `DO $body$ BEGIN PERFORM '?'; END $body$; SELECT $1`},
		{"anonymous dollar quote", `SELECT $$a?b$$, ?`, `SELECT $$a?b$$, $1`},
		{"existing numbered placeholder", `SELECT $1, ?`, `SELECT $1, $1`},
		{"escaped question mark", `SELECT data ??| ARRAY['a'] FROM t WHERE id = ?`, `SELECT data ?| ARRAY['a'] FROM t WHERE id = $1`},
		{"many", `VALUES (?,?,?,?,?,?,?,?,?,?,?)`, `VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`},
		{"unterminated literal", `SELECT ? , 'abc?`, `SELECT $1 , 'abc?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := sqldb.Postgres.Rebind(tt.in); got != tt.postgres {
				t.Errorf("Postgres.Rebind(%q)\n got %q\nwant %q", tt.in, got, tt.postgres)
			}
			if got := sqldb.SQLite.Rebind(tt.in); got != tt.in {
				t.Errorf("SQLite.Rebind(%q) = %q, want it unchanged", tt.in, got)
			}
		})
	}
}

func BenchmarkRebindPostgres(b *testing.B) {
	q := `INSERT INTO outbox (id, aggregate, seq, subject, payload, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`
	for b.Loop() {
		_ = sqldb.Postgres.Rebind(q)
	}
}
