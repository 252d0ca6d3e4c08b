package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

const shipmentColumns = `id, order_id, customer_id, request_id, warehouse_id, wms_reference, carrier, service_level,
	tracking_number, tracking_url, lines, state, max_progress, history, exception_detail, reservation_id,
	ship_us, delivery_us, create_us, update_us, version`

func scanShipment(row interface{ Scan(...any) error }) (*fulfillment.Shipment, error) {
	var (
		s                                 fulfillment.Shipment
		lines, history                    string
		state, maxProgress                int64
		shipUS, delUS, createUS, updateUS int64
	)
	err := row.Scan(&s.ID, &s.OrderID, &s.CustomerID, &s.RequestID, &s.WarehouseID, &s.WMSReference, &s.Carrier,
		&s.ServiceLevel, &s.TrackingNumber, &s.TrackingURL, &lines, &state, &maxProgress, &history,
		&s.ExceptionDetail, &s.ReservationID, &shipUS, &delUS, &createUS, &updateUS, &s.Version)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(lines), &s.Lines); err != nil {
		return nil, fmt.Errorf("decode lines of shipment %s: %w", s.ID, err)
	}
	if err := json.Unmarshal([]byte(history), &s.History); err != nil {
		return nil, fmt.Errorf("decode history of shipment %s: %w", s.ID, err)
	}
	s.State, s.MaxProgress = fulfillment.ShipmentState(state), fulfillment.ShipmentState(maxProgress)
	s.ShipTime, s.DeliveryTime = fromUS(shipUS), fromUS(delUS)
	s.CreateTime, s.UpdateTime = fromUS(createUS), fromUS(updateUS)
	return &s, nil
}

// FindShipment returns the shipment of request requestID with the WMS
// reference ref ("" for the one not yet packed), locking it on PostgreSQL;
// fulfillment.ErrShipmentNotFound when there is none.
func (t *Tx) FindShipment(ctx context.Context, requestID, ref string) (*fulfillment.Shipment, error) {
	q := `SELECT ` + shipmentColumns + ` FROM shipments WHERE request_id = ? AND wms_reference = ?`
	if t.d == sqldb.Postgres {
		q += ` FOR UPDATE`
	}
	s, err := scanShipment(t.tx.QueryRowContext(ctx, t.d.Rebind(q), requestID, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: request %s reference %q", fulfillment.ErrShipmentNotFound, requestID, ref)
	}
	if err != nil {
		return nil, fmt.Errorf("find shipment of %s: %w", requestID, err)
	}
	return s, nil
}

// InsertShipment creates s with Version 1.
func (t *Tx) InsertShipment(ctx context.Context, s *fulfillment.Shipment) error {
	_, err := t.tx.ExecContext(ctx, t.d.Rebind(`
		INSERT INTO shipments (`+shipmentColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`),
		s.ID, s.OrderID, s.CustomerID, s.RequestID, s.WarehouseID, s.WMSReference, s.Carrier, s.ServiceLevel,
		s.TrackingNumber, s.TrackingURL, mustJSON(nonNil(s.Lines)), int64(s.State), int64(s.MaxProgress),
		mustJSON(nonNil(s.History)), s.ExceptionDetail, s.ReservationID,
		us(s.ShipTime), us(s.DeliveryTime), us(s.CreateTime), us(s.UpdateTime))
	if err != nil {
		return fmt.Errorf("insert shipment %s: %w", s.ID, err)
	}
	s.Version = 1
	return nil
}

// UpdateShipment writes s if its Version is still the stored one and
// increments Version; otherwise ErrConflict.
func (t *Tx) UpdateShipment(ctx context.Context, s *fulfillment.Shipment) error {
	res, err := t.tx.ExecContext(ctx, t.d.Rebind(`
		UPDATE shipments SET wms_reference = ?, carrier = ?, service_level = ?, tracking_number = ?, tracking_url = ?,
			lines = ?, state = ?, max_progress = ?, history = ?, exception_detail = ?, ship_us = ?, delivery_us = ?,
			update_us = ?, version = version + 1
		WHERE id = ? AND version = ?`),
		s.WMSReference, s.Carrier, s.ServiceLevel, s.TrackingNumber, s.TrackingURL,
		mustJSON(nonNil(s.Lines)), int64(s.State), int64(s.MaxProgress), mustJSON(nonNil(s.History)), s.ExceptionDetail,
		us(s.ShipTime), us(s.DeliveryTime), us(s.UpdateTime), s.ID, s.Version)
	if err != nil {
		return fmt.Errorf("update shipment %s: %w", s.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("%w: shipment %s version %d", ErrConflict, s.ID, s.Version)
	}
	s.Version++
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// GetShipment reads a shipment; fulfillment.ErrShipmentNotFound when absent.
func (s *Store) GetShipment(ctx context.Context, id string) (*fulfillment.Shipment, error) {
	sh, err := scanShipment(s.db.SQL().QueryRowContext(ctx, s.db.Rebind(
		`SELECT `+shipmentColumns+` FROM shipments WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", fulfillment.ErrShipmentNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("get shipment %s: %w", id, err)
	}
	return sh, nil
}

// ListShipments returns one page of shipments matching f and the token of
// the next page ("" on the last page).
func (s *Store) ListShipments(ctx context.Context, f fulfillment.ShipmentFilter) ([]*fulfillment.Shipment, string, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if f.OrderID != "" {
		add("order_id = ?", f.OrderID)
	}
	if f.State != 0 {
		add("state = ?", int64(f.State))
	}
	if f.WarehouseID != "" {
		add("warehouse_id = ?", f.WarehouseID)
	}
	if f.CustomerID != "" {
		add("customer_id = ?", f.CustomerID)
	}
	if f.RequestID != "" {
		add("request_id = ?", f.RequestID)
	}
	if f.TrackingNumber != "" {
		add("tracking_number = ?", f.TrackingNumber)
	}
	if !f.UpdatedFrom.IsZero() {
		add("update_us >= ?", us(f.UpdatedFrom))
	}
	if !f.UpdatedBefore.IsZero() {
		add("update_us < ?", us(f.UpdatedBefore))
	}
	column := "create_us"
	if f.ByUpdateTime {
		column = "update_us"
	}
	fp := fingerprint("shipments", f.OrderID, f.State, f.WarehouseID, f.CustomerID, f.RequestID, f.TrackingNumber,
		us(f.UpdatedFrom), us(f.UpdatedBefore), column, f.Desc)
	page, err := startPage(f.PageToken, fp, f.Desc, column, &where, &args)
	if err != nil {
		return nil, "", err
	}
	size := pageSize(f.PageSize)
	q := `SELECT ` + shipmentColumns + ` FROM shipments`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY ` + column + ` ` + page.dir + `, id ` + page.dir + ` LIMIT ?`
	args = append(args, size+1)
	rows, err := s.db.SQL().QueryContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list shipments: %w", err)
	}
	defer rows.Close()
	var out []*fulfillment.Shipment
	for rows.Next() {
		sh, err := scanShipment(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, sh)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > size {
		out = out[:size]
		last := out[size-1]
		key := us(last.CreateTime)
		if f.ByUpdateTime {
			key = us(last.UpdateTime)
		}
		next = encodeToken(fp, key, last.ID)
	}
	return out, next, nil
}

// LatestShipment returns the most recently created shipment of a request,
// locking it on PostgreSQL; fulfillment.ErrShipmentNotFound when there is
// none.
func (t *Tx) LatestShipment(ctx context.Context, requestID string) (*fulfillment.Shipment, error) {
	q := `SELECT ` + shipmentColumns + ` FROM shipments WHERE request_id = ? ORDER BY create_us DESC, id DESC LIMIT 1`
	if t.d == sqldb.Postgres {
		q += ` FOR UPDATE`
	}
	s, err := scanShipment(t.tx.QueryRowContext(ctx, t.d.Rebind(q), requestID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: request %s has no shipment", fulfillment.ErrShipmentNotFound, requestID)
	}
	if err != nil {
		return nil, fmt.Errorf("latest shipment of %s: %w", requestID, err)
	}
	return s, nil
}
