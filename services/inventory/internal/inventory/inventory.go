// Package inventory is the inventory domain: warehouses, stock levels per
// SKU×warehouse, reservations with their allocation across warehouses, and
// the use cases over them (availability, reserve, release, commit, expiry,
// the initial load from the ERP). It imports no gRPC, generated, SQL or
// cache packages; stores and adapters implement the interfaces it declares.
package inventory

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Warehouse is a stock location that serves sales channels.
type Warehouse struct {
	// Code is the warehouse code shared with the ERP and WMS, e.g. "WH-BER".
	Code        string
	DisplayName string
	// Region is used by the NEAREST_REGION strategy.
	Region  string
	Address Address
	// Priority orders allocation: lower first, ties by code.
	Priority int32
	// Channels lists the channel codes the warehouse ships for; empty means
	// every channel (the ERP contract's convention, kept for master data
	// loaded from it).
	Channels []string
	// Active warehouses take new allocations.
	Active     bool
	CreateTime time.Time
	UpdateTime time.Time
}

// Serves reports whether w takes new allocations for channel; an empty
// channel matches every active warehouse.
func (w Warehouse) Serves(channel string) bool {
	if !w.Active {
		return false
	}
	return channel == "" || len(w.Channels) == 0 || slices.Contains(w.Channels, channel)
}

// Address is a postal address.
type Address struct {
	Recipient          string   `json:"recipient,omitempty"`
	Lines              []string `json:"lines,omitempty"`
	Locality           string   `json:"locality,omitempty"`
	AdministrativeArea string   `json:"administrative_area,omitempty"`
	PostalCode         string   `json:"postal_code,omitempty"`
	RegionCode         string   `json:"region_code,omitempty"`
}

// SortWarehouses orders ws by priority, then code (allocation order).
func SortWarehouses(ws []Warehouse) {
	slices.SortFunc(ws, func(a, b Warehouse) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), strings.Compare(a.Code, b.Code))
	})
}

// Date is a calendar date without time zone (warehouse local).
type Date struct {
	Year  int `json:"y"`
	Month int `json:"m"`
	Day   int `json:"d"`
}

// IsZero reports whether d is unset.
func (d Date) IsZero() bool { return d == Date{} }

// Before reports whether d is earlier than o.
func (d Date) Before(o Date) bool {
	if d.Year != o.Year {
		return d.Year < o.Year
	}
	if d.Month != o.Month {
		return d.Month < o.Month
	}
	return d.Day < o.Day
}

// InboundSupply is a quantity expected to arrive in a warehouse.
type InboundSupply struct {
	Quantity     int64  `json:"q"`
	ExpectedDate Date   `json:"date"`
	Reference    string `json:"ref,omitempty"`
}

// Quantities are the counters of one stock level.
type Quantities struct {
	OnHand       int64
	Reserved     int64
	InboundTotal int64
}

// Available is max(0, on_hand − reserved).
func (q Quantities) Available() int64 { return max(0, q.OnHand-q.Reserved) }

// Oversold is max(0, reserved − on_hand).
func (q Quantities) Oversold() int64 { return max(0, q.Reserved-q.OnHand) }

// StockLevel is the stock of one SKU in one warehouse.
type StockLevel struct {
	SKU           string
	WarehouseCode string
	Quantities
	Inbound []InboundSupply
	// SourceSystem and Sequence are the last applied source sequence and
	// the system it came from.
	SourceSystem string
	Sequence     int64
	// Revision counts every change, starting at 1; it is the sequence of
	// the latest StockChangedEvent of the level (see package events).
	Revision   int64
	UpdateTime time.Time
}

// NextInboundDate returns the earliest expected inbound date, or the zero
// Date when nothing is inbound.
func (l StockLevel) NextInboundDate() Date {
	var d Date
	for _, in := range l.Inbound {
		if d.IsZero() || in.ExpectedDate.Before(d) {
			d = in.ExpectedDate
		}
	}
	return d
}

// InitialStock is one SKU×warehouse of the initial load.
type InitialStock struct {
	SKU            string
	WarehouseCode  string
	OnHand         int64
	Inbound        []InboundSupply
	SourceSequence int64
}

// Snapshot is a complete stock snapshot from the system of record.
type Snapshot struct {
	// ID identifies the snapshot in the source system.
	ID string
	// Time is its as-of time.
	Time time.Time
	// Rows is one entry per SKU×warehouse.
	Rows []InitialStock
	// EventCursor is the source's stock event feed position at Time (the
	// initial load resumes the feed from there).
	EventCursor string
}

// StockChangeCause says why a stock level changed; values equal
// transload.inventory.v1.StockChangeCause.
type StockChangeCause int

// Stock change causes.
const (
	CauseStockEvent               StockChangeCause = 1
	CauseReservation              StockChangeCause = 2
	CauseRelease                  StockChangeCause = 3
	CauseExpiry                   StockChangeCause = 4
	CauseCommit                   StockChangeCause = 5
	CauseReconciliationCorrection StockChangeCause = 6
)

// StockChange is one committed change of a stock level, as announced by a
// StockChangedEvent.
type StockChange struct {
	SKU            string
	WarehouseCode  string
	Previous       Quantities
	New            Quantities
	Cause          StockChangeCause
	SourceSystem   string
	SourceSequence int64
	// StockEventKind is the kind of the applied source event (cause
	// STOCK_EVENT).
	StockEventKind StockEventKind
	// Reference is what caused the change ("reservations/{id}", a snapshot
	// id, ...).
	Reference string
	Time      time.Time
}

// Movement is a change of one stock level a reservation operation asks the
// store to apply.
type Movement struct {
	SKU           string
	WarehouseCode string
	// Reserved and OnHand are signed deltas.
	Reserved int64
	OnHand   int64
	Cause    StockChangeCause
}
