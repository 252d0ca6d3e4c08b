package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

const shipmentColumns = `id, order_id, customer_id, request_id, warehouse_id, wms_reference, carrier, service_level,
	tracking_number, tracking_url, lines, state, max_progress, history, exception_detail, reservation_id,
	ship_us, delivery_us, create_us, update_us, version`

func scanShipment(row sqldb.Scanner) (*fulfillment.Shipment, error) {
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
	if err := decodeJSON("shipment "+s.ID, jsonColumn{"lines", lines, &s.Lines}, jsonColumn{"history", history, &s.History}); err != nil {
		return nil, err
	}
	s.State, s.MaxProgress = fulfillment.ShipmentState(state), fulfillment.ShipmentState(maxProgress)
	s.ShipTime, s.DeliveryTime = fromUS(shipUS), fromUS(delUS)
	s.CreateTime, s.UpdateTime = fromUS(createUS), fromUS(updateUS)
	return &s, nil
}

// getShipment reads the one shipment of a query with "?" placeholders;
// fulfillment.ErrShipmentNotFound (with what) when there is none.
func (c conn) getShipment(ctx context.Context, what, query string, args ...any) (*fulfillment.Shipment, error) {
	s, err := scanShipment(c.queryRow(ctx, `SELECT `+shipmentColumns+` FROM shipments WHERE `+query+c.lock, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", fulfillment.ErrShipmentNotFound, what)
	}
	if err != nil {
		return nil, fmt.Errorf("get shipment %s: %w", what, err)
	}
	return s, nil
}

// GetShipment implements fulfillment.Store.
func (s *Store) GetShipment(ctx context.Context, id string) (*fulfillment.Shipment, error) {
	return s.getShipment(ctx, id, `id = ?`, id)
}

// FindShipment implements fulfillment.Tx.
func (t *Tx) FindShipment(ctx context.Context, requestID, ref string) (*fulfillment.Shipment, error) {
	return t.getShipment(ctx, fmt.Sprintf("request %s reference %q", requestID, ref),
		`request_id = ? AND wms_reference = ?`, requestID, ref)
}

// LatestShipment implements fulfillment.Tx.
func (t *Tx) LatestShipment(ctx context.Context, requestID string) (*fulfillment.Shipment, error) {
	return t.getShipment(ctx, "of request "+requestID,
		`request_id = ? ORDER BY create_us DESC, id DESC LIMIT 1`, requestID)
}

// RequestHasShipments implements fulfillment.Tx.
func (t *Tx) RequestHasShipments(ctx context.Context, requestID string) (bool, error) {
	var n int
	if err := t.queryRow(ctx, `SELECT COUNT(*) FROM shipments WHERE request_id = ?`, requestID).Scan(&n); err != nil {
		return false, fmt.Errorf("shipments of %s: %w", requestID, err)
	}
	return n > 0, nil
}

// shipmentJSON returns the JSON columns of s (empty lists as []).
func shipmentJSON(s *fulfillment.Shipment) (lines, history string, err error) {
	if lines, err = encodeJSON(nonNil(s.Lines)); err != nil {
		return "", "", err
	}
	history, err = encodeJSON(nonNil(s.History))
	return lines, history, err
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// InsertShipment implements fulfillment.Tx.
func (t *Tx) InsertShipment(ctx context.Context, s *fulfillment.Shipment) error {
	lines, history, err := shipmentJSON(s)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `
		INSERT INTO shipments (`+shipmentColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
		s.ID, s.OrderID, s.CustomerID, s.RequestID, s.WarehouseID, s.WMSReference, s.Carrier, s.ServiceLevel,
		s.TrackingNumber, s.TrackingURL, lines, int64(s.State), int64(s.MaxProgress), history, s.ExceptionDetail,
		s.ReservationID, us(s.ShipTime), us(s.DeliveryTime), us(s.CreateTime), us(s.UpdateTime))
	if err != nil {
		return fmt.Errorf("insert shipment %s: %w", s.ID, err)
	}
	s.Version = 1
	return nil
}

// UpdateShipment implements fulfillment.Tx.
func (t *Tx) UpdateShipment(ctx context.Context, s *fulfillment.Shipment) error {
	lines, history, err := shipmentJSON(s)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, `
		UPDATE shipments SET wms_reference = ?, carrier = ?, service_level = ?, tracking_number = ?, tracking_url = ?,
			lines = ?, state = ?, max_progress = ?, history = ?, exception_detail = ?, ship_us = ?, delivery_us = ?,
			update_us = ?, version = version + 1
		WHERE id = ? AND version = ?`,
		s.WMSReference, s.Carrier, s.ServiceLevel, s.TrackingNumber, s.TrackingURL,
		lines, int64(s.State), int64(s.MaxProgress), history, s.ExceptionDetail,
		us(s.ShipTime), us(s.DeliveryTime), us(s.UpdateTime), s.ID, s.Version)
	if err != nil {
		return fmt.Errorf("update shipment %s: %w", s.ID, err)
	}
	return versioned(res, &s.Version, "shipment", s.ID)
}

// ListShipments implements fulfillment.Store.
func (s *Store) ListShipments(ctx context.Context, q fulfillment.ShipmentQuery) ([]*fulfillment.Shipment, error) {
	var w where
	w.add(q.OrderID != "", "order_id = ?", q.OrderID)
	w.add(q.State != 0, "state = ?", int64(q.State))
	w.add(q.WarehouseID != "", "warehouse_id = ?", q.WarehouseID)
	w.add(q.CustomerID != "", "customer_id = ?", q.CustomerID)
	w.add(q.RequestID != "", "request_id = ?", q.RequestID)
	w.add(q.TrackingNumber != "", "tracking_number = ?", q.TrackingNumber)
	w.add(!q.UpdatedFrom.IsZero(), "update_us >= ?", us(q.UpdatedFrom))
	w.add(!q.UpdatedBefore.IsZero(), "update_us < ?", us(q.UpdatedBefore))
	column := "create_us"
	if q.ByUpdateTime {
		column = "update_us"
	}
	out, err := sqldb.QueryAll(ctx, s.q, s.d.Rebind(`SELECT `+shipmentColumns+` FROM shipments`+w.page(q.Page, column)), w.args, scanShipment)
	if err != nil {
		return nil, fmt.Errorf("list shipments: %w", err)
	}
	return out, nil
}
