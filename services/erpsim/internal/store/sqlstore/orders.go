package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/erpsim/internal/erp"
)

var orderCols = []string{"order_id", "seq", "customer_id", "channel", "currency", "grand_total_minor", "lines",
	"payload", "fingerprint", "state", "erp_order_number", "rejection_reason", "rejection_message",
	"cancel_reason", "submissions", "create_time", "update_time"}

var orderSelect = "SELECT " + strings.Join(orderCols, ", ") + " FROM sales_orders"

func scanOrder(sc sqldb.Scanner) (erp.SalesOrder, error) {
	var (
		o                          erp.SalesOrder
		seq, created, updated      int64
		state, reason, submissions int
		lines, cancelReason        string
	)
	if err := sc.Scan(&o.OrderID, &seq, &o.CustomerID, &o.Channel, &o.Currency, &o.GrandTotalMinor, &lines,
		&o.Payload, &o.Fingerprint, &state, &o.ERPOrderNumber, &reason, &o.RejectionMessage,
		&cancelReason, &submissions, &created, &updated); err != nil {
		return erp.SalesOrder{}, err
	}
	o.State, o.RejectionReason, o.Submissions = erp.OrderState(state), erp.RejectionReason(reason), submissions
	o.CreateTime, o.UpdateTime = fromMicros(created), fromMicros(updated)
	if err := fromJSON(lines, &o.Lines); err != nil {
		return erp.SalesOrder{}, err
	}
	return o, nil
}

func (s *Store) salesOrder(ctx context.Context, q querier, orderID string, lock bool) (erp.SalesOrder, bool, error) {
	query := orderSelect + " WHERE order_id = ?"
	if lock {
		query += s.forUpdate()
	}
	o, err := scanOrder(q.QueryRowContext(ctx, s.q(query), orderID))
	if errors.Is(err, sql.ErrNoRows) {
		return erp.SalesOrder{}, false, nil
	}
	if err != nil {
		return erp.SalesOrder{}, false, fmt.Errorf("sqlstore: read sales order %s: %w", orderID, err)
	}
	return o, true, nil
}

// SubmitSalesOrder records a new sales order or counts a duplicate
// submission; see erp.Store.
func (s *Store) SubmitSalesOrder(ctx context.Context, order erp.SalesOrder, now time.Time, decide func(erp.DecisionInput) erp.Decision) (erp.SalesOrder, bool, error) {
	var (
		out erp.SalesOrder
		dup bool
	)
	// A concurrent first submission of the same id (unknown customer, so
	// no row lock) may win the insert; the rerun returns its row.
	err := s.inTxRetryingUnique(ctx, func(tx *sql.Tx) error {
		out, dup = erp.SalesOrder{}, false
		// Lock the customer first (PostgreSQL): submissions, duplicates
		// and cancellations of one customer queue here, so credit is
		// consumed one order at a time and a duplicate sees the original.
		var cust *erp.Customer
		c, err := s.customer(ctx, tx, order.CustomerID, true)
		switch {
		case err == nil:
			cust = &c
		case !errors.Is(err, erp.ErrCustomerNotFound):
			return err
		}
		existing, found, err := s.salesOrder(ctx, tx, order.OrderID, true)
		if err != nil {
			return err
		}
		if found {
			if existing.Fingerprint != order.Fingerprint {
				return fmt.Errorf("sales order %s: %w", order.OrderID, erp.ErrIdempotencyKeyReused)
			}
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE sales_orders SET submissions = submissions + 1 WHERE order_id = ?`), order.OrderID); err != nil {
				return fmt.Errorf("sqlstore: count submission %s: %w", order.OrderID, err)
			}
			existing.Submissions++
			out, dup = existing, true
			return nil
		}
		skus := make([]string, len(order.Lines))
		for i, l := range order.Lines {
			skus[i] = l.SKU
		}
		products, err := s.productsBySKU(ctx, tx, skus)
		if err != nil {
			return err
		}
		d := decide(erp.DecisionInput{Customer: cust, Products: products})
		rec := order
		rec.Submissions, rec.CreateTime, rec.UpdateTime = 1, now.UTC(), now.UTC()
		rec.ERPOrderNumber, rec.RejectionReason, rec.RejectionMessage = "", erp.RejectNone, ""
		if d.Accepted {
			num, err := s.nextCounter(ctx, tx, "erp_order_number")
			if err != nil {
				return err
			}
			rec.State, rec.ERPOrderNumber = erp.OrderAccepted, fmt.Sprintf("SO%08d", 40000000+num)
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE customers SET open_balance_minor = open_balance_minor + ?, update_time = ? WHERE id = ?`),
				rec.GrandTotalMinor, micros(now), rec.CustomerID); err != nil {
				return fmt.Errorf("sqlstore: book credit for %s: %w", rec.OrderID, err)
			}
		} else {
			rec.State, rec.RejectionReason, rec.RejectionMessage = erp.OrderRejected, d.Reason, d.Message
		}
		seq, err := s.nextCounter(ctx, tx, "sales_order")
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q("INSERT INTO sales_orders ("+strings.Join(orderCols, ", ")+") VALUES ("+placeholders(len(orderCols))+")"),
			rec.OrderID, seq, rec.CustomerID, rec.Channel, rec.Currency, rec.GrandTotalMinor, toJSON(rec.Lines),
			rec.Payload, rec.Fingerprint, int(rec.State), rec.ERPOrderNumber, int(rec.RejectionReason), rec.RejectionMessage,
			"", rec.Submissions, micros(rec.CreateTime), micros(rec.UpdateTime)); err != nil {
			return fmt.Errorf("sqlstore: insert sales order %s: %w", rec.OrderID, err)
		}
		out = rec
		return nil
	})
	if err != nil {
		return erp.SalesOrder{}, false, err
	}
	return out, dup, nil
}

// SalesOrder returns a sales order.
func (s *Store) SalesOrder(ctx context.Context, orderID string) (erp.SalesOrder, error) {
	o, found, err := s.salesOrder(ctx, s.db.SQL(), orderID, false)
	if err != nil {
		return erp.SalesOrder{}, err
	}
	if !found {
		return erp.SalesOrder{}, &erp.NotFoundError{Kind: erp.ErrSalesOrderNotFound, ID: orderID}
	}
	return o, nil
}

// CancelSalesOrder cancels an accepted order and releases its credit.
func (s *Store) CancelSalesOrder(ctx context.Context, orderID, reason string, now time.Time) (erp.SalesOrder, error) {
	var out erp.SalesOrder
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		o, found, err := s.salesOrder(ctx, tx, orderID, false)
		if err != nil {
			return err
		}
		if !found {
			return &erp.NotFoundError{Kind: erp.ErrSalesOrderNotFound, ID: orderID}
		}
		// Same lock order as SubmitSalesOrder: customer, then order.
		if _, err := s.customer(ctx, tx, o.CustomerID, true); err != nil && !errors.Is(err, erp.ErrCustomerNotFound) {
			return err
		}
		if o, _, err = s.salesOrder(ctx, tx, orderID, true); err != nil {
			return err
		}
		switch o.State {
		case erp.OrderCancelled, erp.OrderRejected:
			out = o
			return nil
		case erp.OrderCompleted:
			return &erp.NotCancellableError{OrderID: o.OrderID, ERPOrderNumber: o.ERPOrderNumber, State: o.State}
		case erp.OrderAccepted:
			// Cancelled below.
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE sales_orders SET state = ?, cancel_reason = ?, update_time = ? WHERE order_id = ?`),
			int(erp.OrderCancelled), reason, micros(now), orderID); err != nil {
			return fmt.Errorf("sqlstore: cancel %s: %w", orderID, err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE customers SET open_balance_minor = CASE WHEN open_balance_minor > ? THEN open_balance_minor - ? ELSE 0 END, update_time = ? WHERE id = ?`),
			o.GrandTotalMinor, o.GrandTotalMinor, micros(now), o.CustomerID); err != nil {
			return fmt.Errorf("sqlstore: release credit of %s: %w", orderID, err)
		}
		o.State, o.UpdateTime = erp.OrderCancelled, now.UTC()
		out = o
		return nil
	})
	return out, err
}

// SalesOrders lists every sales order in submission order.
func (s *Store) SalesOrders(ctx context.Context) ([]erp.SalesOrder, error) {
	out, err := sqldb.QueryAll(ctx, s.db.SQL(), orderSelect+" ORDER BY seq", nil, scanOrder)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list sales orders: %w", err)
	}
	return out, nil
}
