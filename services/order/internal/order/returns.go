package order

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/transload/transload/platform/fingerprint"
)

// ReturnState is a return authorization's lifecycle state; the values match
// transload.order.v1.ReturnAuthorization.State.
type ReturnState int

// Return states.
const (
	ReturnStateUnspecified ReturnState = 0
	ReturnRequested        ReturnState = 1
	ReturnAuthorized       ReturnState = 2
	ReturnReceived         ReturnState = 3
	ReturnCredited         ReturnState = 4
	ReturnRejected         ReturnState = 5
	ReturnClosed           ReturnState = 6
)

var returnStateNames = map[ReturnState]string{
	ReturnStateUnspecified: "STATE_UNSPECIFIED",
	ReturnRequested:        "STATE_REQUESTED",
	ReturnAuthorized:       "STATE_AUTHORIZED",
	ReturnReceived:         "STATE_RECEIVED",
	ReturnCredited:         "STATE_CREDITED",
	ReturnRejected:         "STATE_REJECTED",
	ReturnClosed:           "STATE_CLOSED",
}

// String returns the contract's enum value name, e.g. "STATE_AUTHORIZED".
func (s ReturnState) String() string {
	if n, ok := returnStateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("ReturnState(%d)", int(s))
}

// returnTransitions is the state machine of order.v1 ReturnAuthorization.State.
var returnTransitions = map[ReturnState][]ReturnState{
	ReturnRequested:  {ReturnAuthorized, ReturnRejected},
	ReturnAuthorized: {ReturnReceived, ReturnClosed},
	ReturnReceived:   {ReturnCredited, ReturnClosed},
	ReturnCredited:   {ReturnClosed},
}

// Resolution is what the customer gets for a returned line (order.v1
// Resolution values).
type Resolution int

// Resolutions.
const (
	ResolutionRefund      Resolution = 1
	ResolutionReplacement Resolution = 2
	ResolutionNoRefund    Resolution = 3
)

// Disposition is what happens to returned goods (order.v1 Disposition
// values).
type Disposition int

// Dispositions.
const (
	DispositionRestock    Disposition = 1
	DispositionQuarantine Disposition = 2
	DispositionScrap      Disposition = 3
)

// ReturnReason is why a line is returned (order.v1 ReturnReason values).
type ReturnReason int

// Return is a return merchandise authorization (RMA) for goods shipped on
// one order. Amounts are minor units of Currency (the order's).
type Return struct {
	ID         string
	OrderID    string
	CustomerID string
	Channel    string
	Currency   string
	Lines      []ReturnLine
	State      ReturnState
	Comment    string
	// RejectionMessage is set in ReturnRejected.
	RejectionMessage string
	// RefundMinor is the refund the REFUND lines are worth at their
	// requested quantities (RefundMinor of each, pro-rata of what was paid):
	// what the customer may expect before anything is received.
	RefundMinor int64
	// CreditTotalMinor is the credit issued so far for received REFUND
	// quantities (the sum of the lines' CreditMinor).
	CreditTotalMinor int64
	// CreditMemoRef is the ERP credit memo number once posted.
	CreditMemoRef string
	// ReplacementOrderID is the order placed for REPLACEMENT lines.
	ReplacementOrderID string
	CreateRequestID    string
	CreatedAt          time.Time
	UpdatedAt          time.Time
	ReceivedAt         time.Time
	CreditedAt         time.Time
	// Version increases with every stored change; the etag is derived
	// from it.
	Version int64
	History []ReturnStateChange
}

// Etag is the return's opaque version tag.
func (r *Return) Etag() string { return strconv.FormatInt(r.Version, 10) }

// ReturnLine is one order line (or part of it) being returned.
type ReturnLine struct {
	ID                   string       `json:"id"`
	OrderLineID          string       `json:"order_line_id"`
	SKU                  string       `json:"sku"`
	Quantity             int64        `json:"quantity"`
	Reason               ReturnReason `json:"reason"`
	RequestedDisposition Disposition  `json:"requested_disposition"`
	Resolution           Resolution   `json:"resolution"`
	// Received are the received quantities by actual disposition.
	Received []DispositionQuantity `json:"received,omitempty"`
	// CreditMinor is the credit issued for the line's received quantity
	// (REFUND lines only).
	CreditMinor int64 `json:"credit_minor,omitempty"`
}

// ReceivedQuantity is the quantity received over all receipts.
func (l ReturnLine) ReceivedQuantity() int64 {
	var n int64
	for _, d := range l.Received {
		n += d.Quantity
	}
	return n
}

// DispositionQuantity is a received quantity with its actual disposition.
type DispositionQuantity struct {
	Disposition Disposition `json:"disposition"`
	Quantity    int64       `json:"quantity"`
}

// ReturnStateChange is one entry of a return's state history.
type ReturnStateChange struct {
	From          ReturnState `json:"from"`
	To            ReturnState `json:"to"`
	At            time.Time   `json:"at"`
	Actor         Actor       `json:"actor"`
	Reason        string      `json:"reason,omitempty"`
	CorrelationID string      `json:"correlation_id,omitempty"`
}

// Clone returns a deep copy of r.
func (r *Return) Clone() *Return {
	c := *r
	c.Lines = make([]ReturnLine, len(r.Lines))
	for i, l := range r.Lines {
		l.Received = slices.Clone(l.Received)
		c.Lines[i] = l
	}
	c.History = slices.Clone(r.History)
	return &c
}

// transition moves r to state to, appending to its history.
func (r *Return) transition(to ReturnState, at time.Time, actor Actor, reason, correlationID string) error {
	if !slices.Contains(returnTransitions[r.State], to) {
		return &ReturnTransitionError{ReturnID: r.ID, From: r.State, To: to}
	}
	r.History = append(r.History, ReturnStateChange{From: r.State, To: to, At: at, Actor: actor, Reason: reason, CorrelationID: correlationID})
	r.State = to
	r.UpdatedAt = at
	return nil
}

// open reports whether r still holds its lines' quantities against the
// order (everything but rejected returns and returns closed without any
// receipt).
func (r *Return) open() bool {
	if r.State == ReturnRejected {
		return false
	}
	if r.State == ReturnClosed && r.ReceivedAt.IsZero() {
		return false
	}
	return true
}

// ReturnName is the resource name of a return.
func ReturnName(orderID, id string) string { return OrderName(orderID) + "/returnAuthorizations/" + id }

// ReturnEventType names a return event (order.v1 events.proto).
type ReturnEventType int

// Return event types.
const (
	EventReturnRequested ReturnEventType = iota + 1
	EventReturnAuthorized
	EventReturnRejected
	EventReturnReceived
	EventReturnCredited
	EventReturnClosed
)

// ReturnEvent is a return event; Return is the return after the change.
type ReturnEvent struct {
	Type          ReturnEventType
	Return        *Return
	PreviousState ReturnState
	// Received events: the warehouse and what the receipt added.
	WarehouseID string
	Received    []ReceivedLine
}

// ReturnEffects are what a return change writes in its transaction.
type ReturnEffects struct {
	Events []ReturnEvent
	Audits []Audit
	// Order, when set, is the changed order (returned quantities), stored
	// with the return.
	Order *Order
	// Documents (credit memos) are stored in the same transaction, for
	// the poster to collect.
	Documents []Document
}

// ReturnQuery selects a page of returns, newest first unless Ascending.
type ReturnQuery struct {
	// OrderID keeps the returns of one order ("" for all orders).
	OrderID    string
	CustomerID string
	State      ReturnState
	Created    TimeBounds
	Ascending  bool
	Limit      int
	AfterTime  time.Time
	AfterID    string
}

// ReturnStore is the persistence of returns; sqlstore implements it next
// to Store. Every method is atomic.
type ReturnStore interface {
	// CreateReturn locks the order, reads its returns and calls build with
	// both; it stores the return build returns with its effects and
	// records key (Key is the request id) in one transaction. A key applied
	// before returns the return it created with replayed=true (same hash)
	// or ErrIdempotencyKeyReused (other hash) without calling build.
	// ErrNotFound for an unknown order; build's error is returned
	// unchanged and nothing is stored.
	CreateReturn(ctx context.Context, orderID string, key IdempotencyKey,
		build func(o *Order, existing []*Return) (*Return, ReturnEffects, error)) (r *Return, replayed bool, err error)
	// GetReturn returns ErrReturnNotFound for an unknown id.
	GetReturn(ctx context.Context, id string) (*Return, error)
	// ListReturns returns up to q.Limit returns.
	ListReturns(ctx context.Context, q ReturnQuery) ([]*Return, error)
	// UpdateReturn locks the return's order, loads the return (with its
	// posted credit memo numbers, as GetReturn), the order and the order's
	// other returns, calls fn and stores the changed
	// return (and the order when fn's effects carry it) with the effects,
	// in one transaction. With key set, a key applied before returns
	// ErrDuplicateEvent (same hash) or *EventIDReusedError (other hash)
	// without calling fn. ErrReturnNotFound for an unknown id.
	UpdateReturn(ctx context.Context, id string, key *IdempotencyKey,
		fn func(r *Return, o *Order, others []*Return) (ReturnEffects, error)) (*Return, error)
	// ReturnsToCredit returns the positions of up to limit RECEIVED
	// returns with a credit whose credit memos are all posted (every line
	// POSTED or DUPLICATE), oldest change first, starting after after (the
	// zero cursor starts at the beginning).
	ReturnsToCredit(ctx context.Context, after ReturnCursor, limit int) ([]ReturnCursor, error)
	// AuthorizedBefore returns the ids of up to limit AUTHORIZED returns
	// last changed (authorized) before before, oldest first.
	AuthorizedBefore(ctx context.Context, before time.Time, limit int) ([]string, error)
}

// ReturnCursor is a return's position in the credit completion scan:
// its last change, then its id.
type ReturnCursor struct {
	UpdatedAt time.Time
	ID        string
}

// ErrReturnNotFound: the return does not exist.
var ErrReturnNotFound = errors.New("return authorization not found")

// ReturnTransitionError: the return state machine does not allow from -> to.
type ReturnTransitionError struct {
	ReturnID string
	From, To ReturnState
}

// Error describes the failure.
func (e *ReturnTransitionError) Error() string {
	return fmt.Sprintf("return %s cannot move from %s to %s", e.ReturnID, e.From, e.To)
}

// ReturnRule names a return rule a request broke, in the order the rules
// are checked.
type ReturnRule int

// Return rules.
const (
	// RuleNotReturnable: nothing of the order was delivered (or shipped,
	// when shipped goods may be returned).
	RuleNotReturnable ReturnRule = iota + 1
	// RuleQuantity: a line asks for more than delivered (shipped) minus
	// what other returns already hold.
	RuleQuantity
	// RuleWindow: the line's return window has ended.
	RuleWindow
)

// ReturnRuleError is a return request that breaks a return rule; nothing
// was created. Line fields are set for line rules.
type ReturnRuleError struct {
	Rule        ReturnRule
	OrderID     string
	OrderState  State
	OrderLineID string
	// Requested and Returnable are set for RuleQuantity.
	Requested, Returnable int64
	// Until and WindowDays are set for RuleWindow.
	Until      time.Time
	WindowDays int
}

// Error describes the failure.
func (e *ReturnRuleError) Error() string {
	switch e.Rule {
	case RuleNotReturnable:
		return fmt.Sprintf("order %s has nothing returnable in %s", e.OrderID, e.OrderState)
	case RuleQuantity:
		return fmt.Sprintf("order line %s: %d requested, %d returnable", e.OrderLineID, e.Requested, e.Returnable)
	case RuleWindow:
		return fmt.Sprintf("order line %s: the %d-day return window ended at %s", e.OrderLineID, e.WindowDays,
			e.Until.UTC().Format(time.RFC3339))
	}
	return "return rule violated"
}

// ReceiptQuantityError: a receipt reports more than a return line holds.
type ReceiptQuantityError struct {
	LineID             string
	Requested, Allowed int64
}

// Error describes the failure.
func (e *ReceiptQuantityError) Error() string {
	return fmt.Sprintf("return line %s: receipt of %d exceeds the %d still expected", e.LineID, e.Requested, e.Allowed)
}

// ReturnConfig is the return policy.
type ReturnConfig struct {
	// Window is the return window after delivery (default 30 days).
	Window time.Duration
	// ChannelWindows overrides Window per sales channel.
	ChannelWindows map[string]time.Duration
	// AllowShipped lets shipped, not yet delivered goods be returned (the
	// window then runs from shipment).
	AllowShipped bool
	// AutoApproveMaxMinor authorizes a return at once when it passes the
	// rules and its goods are worth at most this (order currency minor
	// units); a negative value sends every return to an operator.
	AutoApproveMaxMinor int64
	// AuthorizationTTL closes an AUTHORIZED return whose goods have not
	// arrived this long after its authorization (ExpireAuthorized); 0
	// never closes one.
	AuthorizationTTL time.Duration
}

// Returns implements the return (RMA) use cases on top of the order
// service: it reads orders through the same store and places replacement
// orders through Service.CreateOrder.
type Returns struct {
	svc   *Service
	store ReturnStore
	cfg   ReturnConfig
}

// NewReturns returns the return use cases of svc stored in store.
func NewReturns(svc *Service, store ReturnStore, cfg ReturnConfig) *Returns {
	if cfg.Window <= 0 {
		cfg.Window = 30 * 24 * time.Hour
	}
	return &Returns{svc: svc, store: store, cfg: cfg}
}

// window is the return window of channel.
func (rs *Returns) window(channel string) time.Duration {
	if w, ok := rs.cfg.ChannelWindows[channel]; ok && w > 0 {
		return w
	}
	return rs.cfg.Window
}

// ReturnLineRequest is one line of a CreateReturn request.
type ReturnLineRequest struct {
	OrderLineID          string
	Quantity             int64
	Reason               ReturnReason
	RequestedDisposition Disposition
	Resolution           Resolution
}

// CreateReturnParams is a CreateReturnAuthorization request.
type CreateReturnParams struct {
	OrderID   string
	RequestID string
	Lines     []ReturnLineRequest
	Comment   string
	// CustomerID, when set, is the caller's bound customer: another
	// customer's order answers ErrNotFound, as a missing one does.
	CustomerID    string
	Actor         Actor
	CorrelationID string
}

// hash is the idempotency fingerprint of the request (stored: never
// change it).
func (p CreateReturnParams) hash() string {
	return fingerprint.Of(struct {
		OrderID, Comment string
		Lines            []ReturnLineRequest
	}{p.OrderID, p.Comment, p.Lines})
}

// KindCreateReturn scopes CreateReturnAuthorization request ids.
const KindCreateReturn = "create_return"

// CreateReturn requests a return for delivered (or shipped) lines of an
// order, idempotently on p.RequestID; see the order.v1
// CreateReturnAuthorization contract. The rules are checked in order:
// something returnable at all, quantity, window; a customer on credit hold
// may still return. A return that passes and is worth at most
// AutoApproveMaxMinor is authorized at once.
func (rs *Returns) CreateReturn(ctx context.Context, p CreateReturnParams) (*Return, bool, error) {
	if err := checkReturnRequest(p.Lines); err != nil {
		return nil, false, err
	}
	// The key is scoped to the order: the order names its one customer, so
	// callers of different customers never share a request id.
	key := IdempotencyKey{Kind: KindCreateReturn, Key: p.OrderID + "/" + p.RequestID, PayloadHash: p.hash()}
	r, replayed, err := rs.store.CreateReturn(ctx, p.OrderID, key, func(o *Order, existing []*Return) (*Return, ReturnEffects, error) {
		if p.CustomerID != "" && o.CustomerID != p.CustomerID {
			return nil, ReturnEffects{}, ErrNotFound
		}
		now := rs.svc.now()
		r, err := rs.buildReturn(o, existing, p, now)
		if err != nil {
			return nil, ReturnEffects{}, err
		}
		eff := ReturnEffects{Events: []ReturnEvent{{Type: EventReturnRequested, Return: r.Clone()}}}
		if rs.cfg.AutoApproveMaxMinor >= 0 && returnValue(o, r) <= rs.cfg.AutoApproveMaxMinor {
			if err := r.transition(ReturnAuthorized, now, SystemReturnPolicy, "return policy", p.CorrelationID); err != nil {
				return nil, ReturnEffects{}, err
			}
			eff.Events = append(eff.Events, ReturnEvent{Type: EventReturnAuthorized, Return: r.Clone(), PreviousState: ReturnRequested})
		}
		eff.Audits = []Audit{returnAudit(AuditReturnCreate, p.Actor, nil, r, now)}
		return r, eff, nil
	})
	if err != nil {
		return nil, false, err
	}
	if replayed && p.CustomerID != "" && r.CustomerID != p.CustomerID {
		return nil, false, ErrNotFound
	}
	if !replayed {
		rs.svc.published()
	}
	return r, replayed, nil
}

// SystemReturnPolicy is the actor of automatic return authorizations.
var SystemReturnPolicy = Actor{Kind: "system", ID: "return-policy"}

// checkReturnRequest rejects a malformed request before any read.
func checkReturnRequest(lines []ReturnLineRequest) error {
	if len(lines) == 0 {
		return &InvalidArgumentError{Field: "return_authorization.lines", Message: "at least one line is required"}
	}
	seen := map[string]bool{}
	for i, l := range lines {
		field := fmt.Sprintf("return_authorization.lines[%d]", i)
		switch {
		case seen[l.OrderLineID]:
			return &InvalidArgumentError{Field: field + ".order_line_id", Message: "order line " + l.OrderLineID + " appears more than once"}
		case l.Quantity <= 0:
			return &InvalidArgumentError{Field: field + ".quantity", Message: "quantity must be positive"}
		case l.Resolution < ResolutionRefund || l.Resolution > ResolutionNoRefund:
			return &InvalidArgumentError{Field: field + ".resolution", Message: "resolution must be REFUND, REPLACEMENT or NO_REFUND"}
		case l.RequestedDisposition < DispositionRestock || l.RequestedDisposition > DispositionScrap:
			return &InvalidArgumentError{Field: field + ".requested_disposition", Message: "requested_disposition must be set"}
		case l.Reason <= 0:
			return &InvalidArgumentError{Field: field + ".reason", Message: "reason must be set"}
		}
		seen[l.OrderLineID] = true
	}
	return nil
}

// buildReturn checks the return rules in order and builds the return.
func (rs *Returns) buildReturn(o *Order, existing []*Return, p CreateReturnParams, now time.Time) (*Return, error) {
	for _, l := range p.Lines {
		if o.line(l.OrderLineID) == nil {
			return nil, &UnknownLineError{LineID: l.OrderLineID}
		}
	}
	// Rule 1: something of the order can be returned at all.
	anyReturnable := false
	for _, l := range o.Lines {
		anyReturnable = anyReturnable || rs.returnableBase(l) > 0
	}
	if !anyReturnable {
		return nil, &ReturnRuleError{Rule: RuleNotReturnable, OrderID: o.ID, OrderState: o.State}
	}
	held := heldQuantities(existing)
	// Rule 2: quantity, every line.
	for _, l := range p.Lines {
		ol := o.line(l.OrderLineID)
		returnable := max(rs.returnableBase(*ol)-held[ol.ID], 0)
		if l.Quantity > returnable {
			return nil, &ReturnRuleError{Rule: RuleQuantity, OrderID: o.ID, OrderState: o.State, OrderLineID: ol.ID,
				Requested: l.Quantity, Returnable: returnable}
		}
	}
	// Rule 3: the window, every line.
	w := rs.window(o.Channel)
	for _, l := range p.Lines {
		from := rs.windowStart(o, l.OrderLineID)
		if until := from.Add(w); now.After(until) {
			return nil, &ReturnRuleError{Rule: RuleWindow, OrderID: o.ID, OrderState: o.State, OrderLineID: l.OrderLineID,
				Until: until, WindowDays: int(w / (24 * time.Hour))}
		}
	}
	r := &Return{
		ID: newReturnID(), OrderID: o.ID, CustomerID: o.CustomerID, Channel: o.Channel, Currency: o.Currency,
		State: ReturnRequested, Comment: p.Comment, CreateRequestID: p.RequestID, CreatedAt: now, UpdatedAt: now,
		History: []ReturnStateChange{{From: ReturnStateUnspecified, To: ReturnRequested, At: now, Actor: p.Actor, CorrelationID: p.CorrelationID}},
	}
	refunded := refundedQuantities(existing)
	for i, l := range p.Lines {
		ol := o.line(l.OrderLineID)
		r.Lines = append(r.Lines, ReturnLine{
			ID: strconv.Itoa(i + 1), OrderLineID: ol.ID, SKU: ol.SKU, Quantity: l.Quantity, Reason: l.Reason,
			RequestedDisposition: l.RequestedDisposition, Resolution: l.Resolution,
		})
		if l.Resolution == ResolutionRefund {
			refund, err := Refund(ol.ExtendedMinor, ol.Quantity, refunded[ol.ID], l.Quantity)
			if err != nil {
				return nil, err
			}
			r.RefundMinor += refund
		}
	}
	return r, nil
}

// returnableBase is what of line l may be returned at all: its delivered
// quantity, or its shipped quantity when shipped goods may be returned.
func (rs *Returns) returnableBase(l Line) int64 {
	if rs.cfg.AllowShipped {
		return l.Shipped
	}
	return l.Delivered
}

// windowStart is when the window of order line lineID starts: the last
// delivery (or, when shipped goods may be returned, shipment) report of a
// shipment carrying the line.
func (rs *Returns) windowStart(o *Order, lineID string) time.Time {
	var start time.Time
	for _, sh := range o.Shipments {
		if !sh.Delivered && !rs.cfg.AllowShipped {
			continue
		}
		if slices.ContainsFunc(sh.Lines, func(l ShipmentLine) bool { return l.LineID == lineID && l.Quantity > 0 }) &&
			sh.UpdatedAt.After(start) {
			start = sh.UpdatedAt
		}
	}
	return start
}

// heldQuantities is, per order line, what open returns hold: requested
// quantities of returns not yet received, received quantities of the rest
// (a closed return that received less frees the difference).
func heldQuantities(rs []*Return) map[string]int64 {
	held := map[string]int64{}
	for _, r := range rs {
		if !r.open() {
			continue
		}
		for _, l := range r.Lines {
			q := l.Quantity
			if r.State == ReturnClosed {
				q = l.ReceivedQuantity()
			}
			held[l.OrderLineID] += q
		}
	}
	return held
}

// refundedQuantities is, per order line, the REFUND quantities of open
// returns: the base of the next return's pro-rata refund.
func refundedQuantities(rs []*Return) map[string]int64 {
	out := map[string]int64{}
	for _, r := range rs {
		if !r.open() {
			continue
		}
		for _, l := range r.Lines {
			if l.Resolution == ResolutionRefund {
				out[l.OrderLineID] += l.Quantity
			}
		}
	}
	return out
}

// returnValue is what the goods of r are worth at the order's prices (all
// resolutions), the measure of the auto-approval threshold.
func returnValue(o *Order, r *Return) int64 {
	var v int64
	for _, l := range r.Lines {
		ol := o.line(l.OrderLineID)
		if amt, err := Refund(ol.ExtendedMinor, ol.Quantity, 0, l.Quantity); err == nil {
			v += amt
		}
	}
	return v
}

// newReturnID returns "R-" and 16 Crockford base32 characters.
func newReturnID() string {
	id := newOrderID()
	return "R-" + id[2:]
}

// GetReturn returns one return; with customerID set, another customer's
// return answers ErrReturnNotFound as a missing one does.
func (rs *Returns) GetReturn(ctx context.Context, id, customerID string) (*Return, error) {
	r, err := rs.store.GetReturn(ctx, id)
	if err != nil {
		return nil, err
	}
	if customerID != "" && r.CustomerID != customerID {
		return nil, ErrReturnNotFound
	}
	return r, nil
}

// ListReturns returns one page of returns.
func (rs *Returns) ListReturns(ctx context.Context, q ReturnQuery) ([]*Return, error) {
	return rs.store.ListReturns(ctx, q)
}

// DecideParams is an operator's ApproveReturnAuthorization or
// RejectReturnAuthorization.
type DecideParams struct {
	ReturnID, RequestID string
	// Message is the operator's note (approve) or the rejection message
	// (reject).
	Message       string
	Actor         Actor
	CorrelationID string
}

// Approve authorizes a requested return (idempotent on p.RequestID).
func (rs *Returns) Approve(ctx context.Context, p DecideParams) (*Return, error) {
	return rs.decide(ctx, p, ReturnAuthorized)
}

// Reject rejects a requested return (idempotent on p.RequestID).
func (rs *Returns) Reject(ctx context.Context, p DecideParams) (*Return, error) {
	return rs.decide(ctx, p, ReturnRejected)
}

func (rs *Returns) decide(ctx context.Context, p DecideParams, to ReturnState) (*Return, error) {
	kind, evType, action := "approve_return", EventReturnAuthorized, AuditReturnApprove
	if to == ReturnRejected {
		kind, evType, action = "reject_return", EventReturnRejected, AuditReturnReject
	}
	key := &IdempotencyKey{Kind: kind, Key: p.RequestID, PayloadHash: fingerprint.Of([]string{p.ReturnID, p.Message})}
	r, err := rs.store.UpdateReturn(ctx, p.ReturnID, key, func(r *Return, _ *Order, _ []*Return) (ReturnEffects, error) {
		before, now := r.Clone(), rs.svc.now()
		if err := r.transition(to, now, p.Actor, p.Message, p.CorrelationID); err != nil {
			return ReturnEffects{}, err
		}
		if to == ReturnRejected {
			r.RejectionMessage = p.Message
		}
		return ReturnEffects{
			Events: []ReturnEvent{{Type: evType, Return: r.Clone(), PreviousState: before.State}},
			Audits: []Audit{returnAudit(action, p.Actor, before, r, now)},
		}, nil
	})
	if errors.Is(err, ErrDuplicateEvent) {
		return rs.store.GetReturn(ctx, p.ReturnID)
	}
	if reused := (*EventIDReusedError)(nil); errors.As(err, &reused) {
		return nil, ErrIdempotencyKeyReused
	}
	if err != nil {
		return nil, err
	}
	rs.svc.published()
	return r, nil
}

// Audit actions of returns: every change of a return is audited in its
// transaction.
const (
	AuditReturnCreate  = "return_authorization.create"
	AuditReturnApprove = "return_authorization.approve"
	AuditReturnReject  = "return_authorization.reject"
	AuditReturnReceive = "return_authorization.receive"
	AuditReturnCredit  = "return_authorization.credit"
	AuditReturnReplace = "return_authorization.replace"
)

// returnAudit is the audit record of a change of a return from before
// (nil: a creation) to after (copied).
func returnAudit(action string, actor Actor, before, after *Return, at time.Time) Audit {
	a := Audit{Actor: actor, Action: action, Target: ReturnName(after.OrderID, after.ID), After: after.Clone(), OccurredAt: at}
	if before != nil {
		a.Before = before
	}
	return a
}
