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

// shipmentRow is a shipments row as stored: the columns of
// shipmentColumns, in order.
type shipmentRow struct {
	id, orderID, customerID, requestID, warehouseID, wmsReference string
	carrier, serviceLevel, trackingNumber, trackingURL, lines     string
	state, maxProgress                                            int64
	history, exceptionDetail, reservationID                       string
	shipUS, delUS, createUS, updateUS, version                    int64
}

func scanShipmentRow(row sqldb.Scanner) (shipmentRow, error) {
	var w shipmentRow
	err := row.Scan(&w.id, &w.orderID, &w.customerID, &w.requestID, &w.warehouseID, &w.wmsReference, &w.carrier,
		&w.serviceLevel, &w.trackingNumber, &w.trackingURL, &w.lines, &w.state, &w.maxProgress, &w.history,
		&w.exceptionDetail, &w.reservationID, &w.shipUS, &w.delUS, &w.createUS, &w.updateUS, &w.version)
	return w, err
}

// shipment decodes the row into a fresh Shipment.
func (w shipmentRow) shipment() (*fulfillment.Shipment, error) {
	s := fulfillment.Shipment{
		ID: w.id, OrderID: w.orderID, CustomerID: w.customerID, RequestID: w.requestID, WarehouseID: w.warehouseID,
		WMSReference: w.wmsReference, Carrier: w.carrier, ServiceLevel: w.serviceLevel,
		TrackingNumber: w.trackingNumber, TrackingURL: w.trackingURL,
		State: fulfillment.ShipmentState(w.state), MaxProgress: fulfillment.ShipmentState(w.maxProgress),
		ExceptionDetail: w.exceptionDetail, ReservationID: w.reservationID,
		ShipTime: fromUS(w.shipUS), DeliveryTime: fromUS(w.delUS), CreateTime: fromUS(w.createUS), UpdateTime: fromUS(w.updateUS),
		Version: w.version,
	}
	if err := decodeJSON("shipment "+s.ID, jsonColumn{"lines", w.lines, &s.Lines}, jsonColumn{"history", w.history, &s.History}); err != nil {
		return nil, err
	}
	return &s, nil
}

func scanShipment(row sqldb.Scanner) (*fulfillment.Shipment, error) {
	w, err := scanShipmentRow(row)
	if err != nil {
		return nil, err
	}
	return w.shipment()
}

// getShipmentRow reads the one shipment row of a query with "?"
// placeholders; fulfillment.ErrShipmentNotFound (with what) when there is
// none.
func (c conn) getShipmentRow(ctx context.Context, what, query string, args ...any) (shipmentRow, error) {
	w, err := scanShipmentRow(c.queryRow(ctx, `SELECT `+shipmentColumns+` FROM shipments WHERE `+query+c.lock, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return w, fmt.Errorf("%w: %s", fulfillment.ErrShipmentNotFound, what)
	}
	if err != nil {
		return w, fmt.Errorf("get shipment %s: %w", what, err)
	}
	return w, nil
}

// getShipment is getShipmentRow decoded.
func (c conn) getShipment(ctx context.Context, what, query string, args ...any) (*fulfillment.Shipment, error) {
	w, err := c.getShipmentRow(ctx, what, query, args...)
	if err != nil {
		return nil, err
	}
	return w.shipment()
}

// GetShipment implements fulfillment.Store.
func (s *Store) GetShipment(ctx context.Context, id string) (*fulfillment.Shipment, error) {
	return s.getShipment(ctx, id, `id = ?`, id)
}

// FindShipment implements fulfillment.Tx. Like GetRequest, a transaction
// reads a shipment row once: it keeps the rows it read or wrote, as its
// own InsertShipment and UpdateShipment left them (the only writes to
// shipments inside a transaction), and finds a shipment it holds by its
// request and reference (unique in the table) without a statement. A
// shipment it does not hold, or none, is looked for in the database.
func (t *Tx) FindShipment(ctx context.Context, requestID, ref string) (*fulfillment.Shipment, error) {
	for _, w := range t.shipments {
		if w.requestID == requestID && w.wmsReference == ref {
			return w.shipment()
		}
	}
	w, err := t.getShipmentRow(ctx, fmt.Sprintf("request %s reference %q", requestID, ref),
		`request_id = ? AND wms_reference = ?`, requestID, ref)
	if err != nil {
		return nil, err
	}
	return t.holdShipment(w)
}

// LatestShipment implements fulfillment.Tx (always a statement: which one
// is latest is the database's to say).
func (t *Tx) LatestShipment(ctx context.Context, requestID string) (*fulfillment.Shipment, error) {
	w, err := t.getShipmentRow(ctx, "of request "+requestID,
		`request_id = ? ORDER BY create_us DESC, id DESC LIMIT 1`, requestID)
	if err != nil {
		return nil, err
	}
	return t.holdShipment(w)
}

// holdShipment keeps the row w as read and returns it decoded.
func (t *Tx) holdShipment(w shipmentRow) (*fulfillment.Shipment, error) {
	s, err := w.shipment()
	if err != nil {
		return nil, err
	}
	if t.shipments == nil {
		t.shipments = map[string]shipmentRow{}
	}
	t.shipments[w.id] = w
	return s, nil
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
		delete(t.shipments, s.ID)
		return fmt.Errorf("insert shipment %s: %w", s.ID, err)
	}
	s.Version = 1
	if t.shipments == nil {
		t.shipments = map[string]shipmentRow{}
	}
	t.shipments[s.ID] = shipmentRow{
		id: s.ID, orderID: s.OrderID, customerID: s.CustomerID, requestID: s.RequestID, warehouseID: s.WarehouseID,
		wmsReference: s.WMSReference, carrier: s.Carrier, serviceLevel: s.ServiceLevel, trackingNumber: s.TrackingNumber,
		trackingURL: s.TrackingURL, lines: lines, state: int64(s.State), maxProgress: int64(s.MaxProgress), history: history,
		exceptionDetail: s.ExceptionDetail, reservationID: s.ReservationID,
		shipUS: us(s.ShipTime), delUS: us(s.DeliveryTime), createUS: us(s.CreateTime), updateUS: us(s.UpdateTime), version: 1,
	}
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
		delete(t.shipments, s.ID)
		return fmt.Errorf("update shipment %s: %w", s.ID, err)
	}
	if err := versioned(res, &s.Version, "shipment", s.ID); err != nil {
		delete(t.shipments, s.ID)
		return err
	}
	if w, ok := t.shipments[s.ID]; ok {
		// The row as the UPDATE above left it; the columns it does not
		// set keep what was read.
		w.wmsReference, w.carrier, w.serviceLevel, w.trackingNumber, w.trackingURL = s.WMSReference, s.Carrier, s.ServiceLevel, s.TrackingNumber, s.TrackingURL
		w.lines, w.state, w.maxProgress, w.history, w.exceptionDetail = lines, int64(s.State), int64(s.MaxProgress), history, s.ExceptionDetail
		w.shipUS, w.delUS, w.updateUS, w.version = us(s.ShipTime), us(s.DeliveryTime), us(s.UpdateTime), s.Version
		t.shipments[s.ID] = w
	}
	return nil
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
