package sqldb_test

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/transload/transload/platform/sqldb"
)

// A store keeps one migration folder per engine and embeds both.
//
//go:embed testdata/migrations
var exampleMigrations embed.FS

var errDuplicateRequest = errors.New("order already placed with this request id")

func Example() {
	ctx := context.Background()
	// In a service the DSN comes from configuration: sqlite://data/orders.db
	// locally, postgres://... in production. The code below is the same.
	db, err := sqldb.Open(ctx, "sqlite://:memory:", sqldb.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	// One folder per engine under testdata/migrations; MigrateEmbedded
	// picks the one for db.
	if err := sqldb.MigrateEmbedded(ctx, db, "orders", exampleMigrations, "testdata/migrations"); err != nil {
		fmt.Println(err)
		return
	}

	placeOrder := func(id, requestID string) error {
		return db.InTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, db.Rebind(
				`INSERT INTO orders (id, request_id, total_minor, currency, created_at) VALUES (?, ?, ?, ?, ?)`),
				id, requestID, 1999, "EUR", time.Now().UTC())
			if sqldb.IsUniqueViolation(err) {
				return errDuplicateRequest
			}
			return err
		})
	}
	fmt.Println(placeOrder("o-1", "req-1"))
	fmt.Println(placeOrder("o-2", "req-1"))

	ids, err := sqldb.QueryAll(ctx, db.SQL(), db.Rebind(`SELECT id FROM orders WHERE currency = ? ORDER BY id`),
		[]any{"EUR"}, sqldb.ScanValue[string])
	fmt.Println(ids, err)

	v, _ := sqldb.MigrationVersion(ctx, db, "orders")
	fmt.Println("orders schema version", v)
	// Output:
	// <nil>
	// order already placed with this request id
	// [o-1] <nil>
	// orders schema version 1
}
