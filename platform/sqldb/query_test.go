package sqldb_test

import (
	"database/sql"
	"errors"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
)

type parcel struct {
	ID     string
	Weight int64
}

// scanParcel is written the way the stores write their scanners, against
// the interface literal, which is the same type as sqldb.Scanner: it
// serves QueryRowContext(...) and QueryAll alike.
func scanParcel(sc interface{ Scan(...any) error }) (parcel, error) {
	var p parcel
	err := sc.Scan(&p.ID, &p.Weight)
	return p, err
}

// parcels creates a parcels table with n rows P-1..P-n weighing 10×i.
func parcels(t *testing.T, db *sqldb.DB, n int) {
	t.Helper()
	ctx := t.Context()
	if _, err := db.SQL().ExecContext(ctx, `CREATE TABLE parcels (id TEXT PRIMARY KEY, weight BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if _, err := db.SQL().ExecContext(ctx, db.Rebind(`INSERT INTO parcels (id, weight) VALUES (?, ?)`),
			"P-"+strconv.Itoa(i), 10*i); err != nil {
			t.Fatal(err)
		}
	}
}

// openConns is how many connections db's pool holds checked out: a rows
// value that was not closed keeps its connection.
func openConns(db *sqldb.DB) int { return db.SQL().Stats().InUse }

func TestQueryAll(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		parcels(t, db, 3)
		ctx := t.Context()

		got, err := sqldb.QueryAll(ctx, db.SQL(), db.Rebind(`SELECT id, weight FROM parcels WHERE weight >= ? ORDER BY id`),
			[]any{20}, scanParcel)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]parcel{{"P-2", 20}, {"P-3", 30}}, got); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}

		none, err := sqldb.QueryAll(ctx, db.SQL(), `SELECT id, weight FROM parcels WHERE weight < 0`, nil, scanParcel)
		if err != nil || none != nil {
			t.Errorf("no rows: %v, %v; want a nil slice and no error, like an append loop", none, err)
		}

		var one parcel
		one, err = scanParcel(db.SQL().QueryRowContext(ctx, db.Rebind(`SELECT id, weight FROM parcels WHERE id = ?`), "P-1"))
		if err != nil || one != (parcel{"P-1", 10}) {
			t.Errorf("the same scanner on one row: %+v, %v", one, err)
		}

		// Inside a read transaction, with a single-column scan.
		var ids []string
		err = db.InReadTx(ctx, func(tx *sql.Tx) error {
			var err error
			ids, err = sqldb.QueryAll(ctx, tx, `SELECT id FROM parcels ORDER BY weight DESC`, nil, sqldb.ScanValue[string])
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"P-3", "P-2", "P-1"}, ids); diff != "" {
			t.Errorf("ids in a transaction (-want +got):\n%s", diff)
		}
		if n := openConns(db); n != 0 {
			t.Errorf("%d connections still in use after the reads", n)
		}
	})
}

func TestQueryAllErrors(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		parcels(t, db, 3)
		ctx := t.Context()

		if _, err := sqldb.QueryAll(ctx, db.SQL(), `SELECT id FROM no_such_table`, nil, sqldb.ScanValue[string]); err == nil {
			t.Error("query of a missing table: no error")
		}

		// A scanner's own error comes back unchanged and stops the scan.
		errHeavy := errors.New("parcel too heavy")
		scanned := 0
		_, err := sqldb.QueryAll(ctx, db.SQL(), `SELECT id, weight FROM parcels ORDER BY id`, nil,
			func(sc sqldb.Scanner) (parcel, error) {
				scanned++
				p, err := scanParcel(sc)
				if err == nil && p.Weight >= 20 {
					err = errHeavy
				}
				return p, err
			})
		if !errors.Is(err, errHeavy) || err.Error() != errHeavy.Error() {
			t.Errorf("scanner error: %v, want errHeavy unwrapped", err)
		}
		if scanned != 2 {
			t.Errorf("scanner ran %d times, want 2 (stop at the first error)", scanned)
		}

		// A Scan that does not fit the row (two columns into one value).
		if _, err := sqldb.QueryAll(ctx, db.SQL(), `SELECT id, weight FROM parcels`, nil, sqldb.ScanValue[string]); err == nil {
			t.Error("scanning two columns into one value: no error")
		}
		if n := openConns(db); n != 0 {
			t.Errorf("%d connections still in use after failed reads: rows not closed", n)
		}
	})
}

func TestEachFillsAMap(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		parcels(t, db, 4)
		rows, err := db.SQL().QueryContext(t.Context(), `SELECT id, weight FROM parcels`)
		if err != nil {
			t.Fatal(err)
		}
		weights := map[string]int64{}
		err = sqldb.Each(rows, func(sc sqldb.Scanner) error {
			p, err := scanParcel(sc)
			weights[p.ID] = p.Weight
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]int64{"P-1": 10, "P-2": 20, "P-3": 30, "P-4": 40}, weights); diff != "" {
			t.Errorf("weights (-want +got):\n%s", diff)
		}
		if n := openConns(db); n != 0 {
			t.Errorf("%d connections still in use: rows not closed", n)
		}
	})
}

func TestCollectClosesRowsWhenScannerPanics(t *testing.T) {
	db := sqldbtest.OpenSQLite(t)
	parcels(t, db, 2)
	rows, err := db.SQL().QueryContext(t.Context(), `SELECT id, weight FROM parcels`)
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the scanner's panic was swallowed")
			}
		}()
		_, _ = sqldb.Collect(rows, func(sqldb.Scanner) (parcel, error) { panic("bad scanner") })
	}()
	if n := openConns(db); n != 0 {
		t.Errorf("%d connections still in use after a panicking scanner: rows not closed", n)
	}
}

func TestEachNilRows(t *testing.T) {
	if err := sqldb.Each(nil, func(sqldb.Scanner) error { return nil }); err == nil {
		t.Error("Each(nil rows): no error")
	}
}
