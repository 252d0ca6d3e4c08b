package inventory

import (
	"context"
	"fmt"
	"math"
	"time"
)

// StockEventKind is the kind of a stock event; values equal
// transload.inventory.v1.StockEvent.Kind.
type StockEventKind int

// Stock event kinds.
const (
	KindReceipt       StockEventKind = 1
	KindAdjustment    StockEventKind = 2
	KindTransferIn    StockEventKind = 3
	KindTransferOut   StockEventKind = 4
	KindShipment      StockEventKind = 5
	KindReturnRestock StockEventKind = 6
	KindSetOnHand     StockEventKind = 7
	KindInboundSet    StockEventKind = 8
)

// StockEvent is one stock movement or statement from an ERP or WMS.
type StockEvent struct {
	EventID       string          `json:"id"`
	SKU           string          `json:"sku"`
	WarehouseCode string          `json:"wh"`
	Sequence      int64           `json:"seq"`
	Kind          StockEventKind  `json:"kind"`
	Quantity      int64           `json:"q"`
	Inbound       []InboundSupply `json:"in,omitempty"`
	OccurTime     time.Time       `json:"at"`
	Reference     string          `json:"ref,omitempty"`
	ReasonCode    string          `json:"reason,omitempty"`
	// ReservationID and ShipmentID turn a SHIPMENT into a commit of that
	// reservation (once per shipment id).
	ReservationID string `json:"res,omitempty"`
	ShipmentID    string `json:"ship,omitempty"`
}

// StockEventOutcome is what happened to one event; values equal
// transload.inventory.v1.StockEventResult.Outcome.
type StockEventOutcome int

// Stock event outcomes.
const (
	OutcomeApplied   StockEventOutcome = 1
	OutcomeDuplicate StockEventOutcome = 2
	OutcomeBuffered  StockEventOutcome = 3
	OutcomeRejected  StockEventOutcome = 4
)

// RejectReason says why a stock event was rejected.
type RejectReason int

// Rejection reasons (mapped to transload.inventory.v1.ErrorReason).
const (
	RejectNone RejectReason = iota
	RejectInvalid
	RejectStale
	RejectWarehouseNotFound
)

// StockEventResult is the outcome of one event of a batch.
type StockEventResult struct {
	EventID string            `json:"id"`
	Outcome StockEventOutcome `json:"o"`
	Reason  RejectReason      `json:"r,omitempty"`
	Message string            `json:"m,omitempty"`
	// AppliedSequence is the last applied source sequence of the event's
	// SKU×warehouse after the batch.
	AppliedSequence int64 `json:"s"`
}

// ApplyStockEventsParams is a batch of stock events from one source.
type ApplyStockEventsParams struct {
	RequestID    string       `json:"-"`
	SourceSystem string       `json:"src"`
	Events       []StockEvent `json:"events"`
	// Invalid holds, per event index, why the event failed its shape
	// rules (checked by the API layer against the proto constraints); such
	// events are REJECTED without touching anything.
	Invalid map[int]string `json:"invalid,omitempty"`
	// Actor is who reports the events (audit trail; ServiceActor when
	// unset, e.g. for the feed poller).
	Actor Actor `json:"-"`
	// Cursor, when set, moves a feed's saved position in the batch's
	// transaction (also for a replayed batch): the page's events and the
	// cursor after them are applied together or not at all. Not part of
	// the request fingerprint.
	Cursor *FeedCursorUpdate `json:"-"`
}

// FeedCursorUpdate moves the saved position of stock event feed Feed from
// From (the cursor the page was read from; "" for none saved) to Next,
// compare-and-set: when the saved cursor is no longer From (another
// reader of the feed moved it), the call fails with ErrFeedCursorMoved and
// applies nothing.
type FeedCursorUpdate struct {
	Feed, From, Next string
}

// MaxStockQuantity bounds every quantity inventory takes from a source
// system (stock event quantities, snapshot on-hand and inbound supply):
// 10^15 base units, far above any warehouse, and small enough that
// on-hand plus or minus such a quantity cannot wrap an int64 (on-hand is
// never negative).
const MaxStockQuantity int64 = 1_000_000_000_000_000

// ValidateStockEvent checks the kind-specific rules of e (the shape rules
// are the proto constraints) and returns a description of the first
// violation, or "". A quantity beyond ±MaxStockQuantity is refused for
// every kind, so [ImpliedOnHand] cannot overflow.
func ValidateStockEvent(e StockEvent) string {
	if e.Quantity > MaxStockQuantity || e.Quantity < -MaxStockQuantity {
		return fmt.Sprintf("quantity %d is beyond ±%d", e.Quantity, MaxStockQuantity)
	}
	switch e.Kind {
	case KindReceipt, KindTransferIn, KindTransferOut, KindShipment, KindReturnRestock:
		if e.Quantity <= 0 {
			return "quantity must be positive for this kind"
		}
	case KindAdjustment:
		if e.Quantity == 0 {
			return "quantity of an ADJUSTMENT must be non-zero"
		}
	case KindSetOnHand:
		if e.Quantity < 0 {
			return "quantity of SET_ON_HAND must be >= 0"
		}
	case KindInboundSet:
		if e.Quantity != 0 {
			return "quantity of INBOUND_SET must be 0"
		}
	default:
		return fmt.Sprintf("unknown kind %d", e.Kind)
	}
	if e.Kind != KindInboundSet && len(e.Inbound) > 0 {
		return "inbound is only allowed on INBOUND_SET"
	}
	if (e.ReservationID != "") != (e.ShipmentID != "") || (e.ReservationID != "" && e.Kind != KindShipment) {
		return "reservation and shipment_id go together, on SHIPMENT only"
	}
	return ""
}

// ImpliedOnHand is the on-hand after e (which may be negative for a
// decrement larger than onHand; callers clamp to 0 and report a variance).
// INBOUND_SET leaves on-hand unchanged. e passed [ValidateStockEvent]
// (|quantity| <= MaxStockQuantity) and onHand >= 0, so the difference
// cannot wrap; a sum beyond int64 (on-hand grown past 2^63 −
// MaxStockQuantity by receipts) saturates at math.MaxInt64 instead of
// wrapping negative.
func ImpliedOnHand(e StockEvent, onHand int64) int64 {
	switch e.Kind {
	case KindReceipt, KindTransferIn, KindReturnRestock:
		return addSaturating(onHand, e.Quantity)
	case KindTransferOut, KindShipment:
		return onHand - e.Quantity
	case KindAdjustment:
		return addSaturating(onHand, e.Quantity)
	case KindSetOnHand:
		return e.Quantity
	case KindInboundSet:
		return onHand
	}
	return onHand
}

// addSaturating is a+b, clamped to the int64 range instead of wrapping.
func addSaturating(a, b int64) int64 {
	s := a + b
	switch {
	case b > 0 && s < a:
		return math.MaxInt64
	case b < 0 && s > a:
		return math.MinInt64
	}
	return s
}

// CommitShipment is the outcome of committing shipped lines from warehouse
// wh against r (used by CommitReservation and by SHIPMENT stock events).
func CommitShipment(r *Reservation, wh, shipmentID string, lines []CommitLine) (Outcome, error) {
	if !r.State.Open() {
		return Outcome{}, &StateConflictError{Reservation: r.Name(), State: r.State, Operation: "commit"}
	}
	moves, committed, err := r.commit(wh, lines)
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{
		Changed: true, Movements: moves, Event: EventCommitted, Quantities: committed,
		ShipmentID: shipmentID, WarehouseCode: wh,
	}, nil
}

// ApplyStockEvents applies a batch of stock events (see the store's
// ApplyStockEvents for sequencing and idempotency).
func (s *Service) ApplyStockEvents(ctx context.Context, p ApplyStockEventsParams) ([]StockEventResult, error) {
	if err := s.checkLoaded(); err != nil {
		return nil, err
	}
	if p.Invalid == nil {
		p.Invalid = map[int]string{}
	}
	for i, e := range p.Events {
		if _, bad := p.Invalid[i]; bad {
			continue
		}
		if msg := ValidateStockEvent(e); msg != "" {
			p.Invalid[i] = msg
		}
	}
	res, err := s.store.ApplyStockEvents(ctx, p, s.now().UTC())
	if err != nil {
		return nil, fmt.Errorf("apply stock events from %s: %w", p.SourceSystem, err)
	}
	s.onChange()
	return res, nil
}
