package order

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. grpcapi/errors.go maps each to one gRPC status.
var (
	// ErrNotFound: the order does not exist.
	ErrNotFound = errors.New("order not found")
	// ErrIdempotencyKeyReused: a request id was used before with a
	// different payload.
	ErrIdempotencyKeyReused = errors.New("request id reused with a different payload")
	// ErrRequestInProgress: a call with the same request id is still
	// running and did not finish within the wait bound.
	ErrRequestInProgress = errors.New("a request with this id is still being processed")
	// ErrClaimLost: the caller's idempotency claim was taken over (its lease
	// expired) or completed by someone else. Internal to the create path.
	ErrClaimLost = errors.New("idempotency claim no longer owned")
	// ErrConcurrentModification: an etag did not match.
	ErrConcurrentModification = errors.New("order was modified concurrently")
	// ErrInvalidPageToken: the page token is malformed or belongs to
	// another query.
	ErrInvalidPageToken = errors.New("invalid page token")
	// ErrCustomerNotFound: the customer is unknown to the ERP and to the
	// snapshot.
	ErrCustomerNotFound = errors.New("customer not found")
	// ErrCustomerOnCreditHold: the customer's account is on credit hold,
	// blocked or closed.
	ErrCustomerOnCreditHold = errors.New("customer is on credit hold")
	// ErrDuplicateEvent is returned by Store.UpdateOrder when the
	// idempotency key was already applied with the same payload.
	ErrDuplicateEvent = errors.New("event already applied")
)

// InvalidArgumentError is a request that is well formed per the contract's
// shape rules but wrong in meaning (e.g. a bad filter expression).
type InvalidArgumentError struct {
	Field   string
	Message string
}

// Error describes the failure.
func (e *InvalidArgumentError) Error() string { return e.Field + ": " + e.Message }

// DependencyError means a neighbour (ERP, catalog-pricing, inventory) could
// not answer: down, slow or its breaker is open.
type DependencyError struct {
	Target      string
	CircuitOpen bool
	Err         error
}

// Error describes the failure.
func (e *DependencyError) Error() string {
	if e.CircuitOpen {
		return e.Target + ": circuit open"
	}
	return fmt.Sprintf("%s unavailable: %v", e.Target, e.Err)
}

// Unwrap returns the cause.
func (e *DependencyError) Unwrap() error { return e.Err }

// IsDependencyError reports whether err is (or wraps) a DependencyError.
func IsDependencyError(err error) bool {
	var d *DependencyError
	return errors.As(err, &d)
}

// CustomerError carries the customer id of ErrCustomerNotFound and
// ErrCustomerOnCreditHold.
type CustomerError struct {
	CustomerID string
	Err        error
}

// Error describes the failure.
func (e *CustomerError) Error() string { return e.Err.Error() + ": " + e.CustomerID }

// Unwrap returns the cause.
func (e *CustomerError) Unwrap() error { return e.Err }

// ChannelNotAllowedError: the customer may not order through the channel.
type ChannelNotAllowedError struct{ CustomerID, Channel string }

// Error describes the failure.
func (e *ChannelNotAllowedError) Error() string {
	return fmt.Sprintf("customer %s may not order through channel %s", e.CustomerID, e.Channel)
}

// CurrencyNotAllowedError: the customer may not order in the currency.
type CurrencyNotAllowedError struct{ CustomerID, Currency string }

// Error describes the failure.
func (e *CurrencyNotAllowedError) Error() string {
	return fmt.Sprintf("customer %s may not order in %s", e.CustomerID, e.Currency)
}

// CreditLimitExceededError: the order total exceeds the available credit.
type CreditLimitExceededError struct {
	CustomerID                          string
	LimitMinor, ExposureMinor, TotalMin int64
	Currency                            string
}

// Error describes the failure.
func (e *CreditLimitExceededError) Error() string {
	return fmt.Sprintf("order total %d %s exceeds the available credit of customer %s", e.TotalMin, e.Currency, e.CustomerID)
}

// DuplicateSKUError: a SKU appears on more than one request line.
type DuplicateSKUError struct{ SKU string }

// Error describes the failure.
func (e *DuplicateSKUError) Error() string { return "SKU " + e.SKU + " appears on more than one line" }

// UnknownSKUError: a SKU is not in the catalog or not sold on the channel.
type UnknownSKUError struct {
	SKU       string
	LineIndex int
}

// Error describes the failure.
func (e *UnknownSKUError) Error() string { return "unknown SKU " + e.SKU }

// PriceUnavailableError: no price for a SKU in the currency.
type PriceUnavailableError struct{ SKU, Currency string }

// Error describes the failure.
func (e *PriceUnavailableError) Error() string {
	return fmt.Sprintf("no price for SKU %s in %s", e.SKU, e.Currency)
}

// InvalidQuantityError: the quantity is not orderable (e.g. not a pack
// multiple).
type InvalidQuantityError struct {
	SKU       string
	LineIndex int
	Message   string
}

// Error describes the failure.
func (e *InvalidQuantityError) Error() string { return e.Message }

// PriceChangedError: the client's expected total differs.
type PriceChangedError struct {
	ExpectedMinor, ActualMinor int64
	Currency                   string
}

// Error describes the failure.
func (e *PriceChangedError) Error() string {
	return fmt.Sprintf("expected total %d differs from the current total %d %s", e.ExpectedMinor, e.ActualMinor, e.Currency)
}

// OutOfStockError: not enough stock for a line.
type OutOfStockError struct {
	SKU                  string
	Requested, Available int64
}

// Error describes the failure.
func (e *OutOfStockError) Error() string {
	return fmt.Sprintf("not enough stock for %s: requested %d, available %d", e.SKU, e.Requested, e.Available)
}

// InvalidTransitionError: the state machine does not allow from -> to.
type InvalidTransitionError struct{ From, To State }

// Error describes the failure.
func (e *InvalidTransitionError) Error() string {
	return fmt.Sprintf("order cannot move from %s to %s", e.From, e.To)
}

// NotCancellableError: the order has shipped or is terminal.
type NotCancellableError struct {
	OrderID string
	State   State
}

// Error describes the failure.
func (e *NotCancellableError) Error() string {
	return fmt.Sprintf("order %s cannot be cancelled in %s", e.OrderID, e.State)
}

// UnknownLineError: a line id is not a line of the order.
type UnknownLineError struct{ LineID string }

// Error describes the failure.
func (e *UnknownLineError) Error() string { return "unknown order line " + e.LineID }

// WarehouseNotAllocatedError: the warehouse holds no allocation of the order.
type WarehouseNotAllocatedError struct{ WarehouseID string }

// Error describes the failure.
func (e *WarehouseNotAllocatedError) Error() string {
	return "warehouse " + e.WarehouseID + " holds no allocation of the order"
}

// QuantityExceedsAllocatedError: a report would ship more than allocated.
type QuantityExceedsAllocatedError struct {
	LineID, WarehouseID string
	Requested, Allowed  int64
}

// Error describes the failure.
func (e *QuantityExceedsAllocatedError) Error() string {
	return fmt.Sprintf("line %s in %s: %d exceeds the allowed %d", e.LineID, e.WarehouseID, e.Requested, e.Allowed)
}

// EventIDReusedError: an event id was applied before with other content.
type EventIDReusedError struct{ EventID string }

// Error describes the failure.
func (e *EventIDReusedError) Error() string {
	return "event id " + e.EventID + " reused with different content"
}

// Failure is a business failure of CreateOrder stored with the request id,
// so a replay returns the same error. Only failures that do not depend on
// transient conditions of neighbours are stored.
type Failure struct {
	Kind string            `json:"kind"`
	Meta map[string]string `json:"meta,omitempty"`
}

// Failure kinds.
const (
	failCustomerNotFound   = "customer_not_found"
	failCustomerOnHold     = "customer_on_credit_hold"
	failChannelNotAllowed  = "channel_not_allowed"
	failCurrencyNotAllowed = "currency_not_allowed"
	failCreditLimit        = "credit_limit_exceeded"
	failDuplicateSKU       = "duplicate_sku"
	failUnknownSKU         = "unknown_sku"
	failPriceUnavailable   = "price_unavailable"
	failInvalidQuantity    = "invalid_quantity"
	failPriceChanged       = "price_changed"
	failOutOfStock         = "out_of_stock"
)

// FailureFromError returns the storable failure for a business error of
// CreateOrder, and false for errors that must not be stored (dependency
// outages, internal errors): those leave the request id free to retry.
func FailureFromError(err error) (Failure, bool) {
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	var (
		ce  *CustomerError
		cha *ChannelNotAllowedError
		cur *CurrencyNotAllowedError
		cl  *CreditLimitExceededError
		ds  *DuplicateSKUError
		us  *UnknownSKUError
		pu  *PriceUnavailableError
		iq  *InvalidQuantityError
		pc  *PriceChangedError
		oos *OutOfStockError
	)
	switch {
	case errors.As(err, &ce) && errors.Is(err, ErrCustomerNotFound):
		return Failure{Kind: failCustomerNotFound, Meta: map[string]string{"customer_id": ce.CustomerID}}, true
	case errors.As(err, &ce) && errors.Is(err, ErrCustomerOnCreditHold):
		return Failure{Kind: failCustomerOnHold, Meta: map[string]string{"customer_id": ce.CustomerID}}, true
	case errors.As(err, &cha):
		return Failure{Kind: failChannelNotAllowed, Meta: map[string]string{"customer_id": cha.CustomerID, "channel": cha.Channel}}, true
	case errors.As(err, &cur):
		return Failure{Kind: failCurrencyNotAllowed, Meta: map[string]string{"customer_id": cur.CustomerID, "currency": cur.Currency}}, true
	case errors.As(err, &cl):
		return Failure{Kind: failCreditLimit, Meta: map[string]string{
			"customer_id": cl.CustomerID, "limit": i(cl.LimitMinor), "exposure": i(cl.ExposureMinor),
			"total": i(cl.TotalMin), "currency": cl.Currency}}, true
	case errors.As(err, &ds):
		return Failure{Kind: failDuplicateSKU, Meta: map[string]string{"sku": ds.SKU}}, true
	case errors.As(err, &us):
		return Failure{Kind: failUnknownSKU, Meta: map[string]string{"sku": us.SKU, "line_index": strconv.Itoa(us.LineIndex)}}, true
	case errors.As(err, &pu):
		return Failure{Kind: failPriceUnavailable, Meta: map[string]string{"sku": pu.SKU, "currency": pu.Currency}}, true
	case errors.As(err, &iq):
		return Failure{Kind: failInvalidQuantity, Meta: map[string]string{"sku": iq.SKU, "line_index": strconv.Itoa(iq.LineIndex), "message": iq.Message}}, true
	case errors.As(err, &pc):
		return Failure{Kind: failPriceChanged, Meta: map[string]string{"expected": i(pc.ExpectedMinor), "actual": i(pc.ActualMinor), "currency": pc.Currency}}, true
	case errors.As(err, &oos):
		return Failure{Kind: failOutOfStock, Meta: map[string]string{"sku": oos.SKU, "requested": i(oos.Requested), "available": i(oos.Available)}}, true
	}
	return Failure{}, false
}

// Err rebuilds the domain error of a stored failure.
func (f Failure) Err() error {
	m := f.Meta
	n := func(k string) int64 { v, _ := strconv.ParseInt(m[k], 10, 64); return v }
	switch f.Kind {
	case failCustomerNotFound:
		return &CustomerError{CustomerID: m["customer_id"], Err: ErrCustomerNotFound}
	case failCustomerOnHold:
		return &CustomerError{CustomerID: m["customer_id"], Err: ErrCustomerOnCreditHold}
	case failChannelNotAllowed:
		return &ChannelNotAllowedError{CustomerID: m["customer_id"], Channel: m["channel"]}
	case failCurrencyNotAllowed:
		return &CurrencyNotAllowedError{CustomerID: m["customer_id"], Currency: m["currency"]}
	case failCreditLimit:
		return &CreditLimitExceededError{CustomerID: m["customer_id"], LimitMinor: n("limit"),
			ExposureMinor: n("exposure"), TotalMin: n("total"), Currency: m["currency"]}
	case failDuplicateSKU:
		return &DuplicateSKUError{SKU: m["sku"]}
	case failUnknownSKU:
		return &UnknownSKUError{SKU: m["sku"], LineIndex: int(n("line_index"))}
	case failPriceUnavailable:
		return &PriceUnavailableError{SKU: m["sku"], Currency: m["currency"]}
	case failInvalidQuantity:
		return &InvalidQuantityError{SKU: m["sku"], LineIndex: int(n("line_index")), Message: m["message"]}
	case failPriceChanged:
		return &PriceChangedError{ExpectedMinor: n("expected"), ActualMinor: n("actual"), Currency: m["currency"]}
	case failOutOfStock:
		return &OutOfStockError{SKU: m["sku"], Requested: n("requested"), Available: n("available")}
	}
	return fmt.Errorf("stored failure of unknown kind %q", f.Kind)
}

// MarshalFailure encodes f for storage.
func MarshalFailure(f Failure) (string, error) {
	b, err := json.Marshal(f)
	return string(b), err
}

// UnmarshalFailure decodes a stored failure.
func UnmarshalFailure(s string) (Failure, error) {
	var f Failure
	err := json.Unmarshal([]byte(s), &f)
	return f, err
}
