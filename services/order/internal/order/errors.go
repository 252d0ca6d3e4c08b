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
	// ErrQueueEntryNotFound: the order has no ERP queue entry (never
	// queued, or the ERP already answered).
	ErrQueueEntryNotFound = errors.New("ERP queue entry not found")
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
// shape rules but wrong in meaning (e.g. a shipment line reported twice).
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
	// Answered is set when the dependency answered with an unexpected
	// error (INTERNAL, UNKNOWN, DATA_LOSS) rather than not answering
	// (UNAVAILABLE, a timeout, the breaker): it may be up and failing on
	// this one request, which the ERP queue checks before it halts (a
	// poison entry must not halt every customer's orders).
	Answered bool
	Err      error
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

// answeredWithError reports whether err is a DependencyError whose
// dependency answered (DependencyError.Answered).
func answeredWithError(err error) bool {
	var d *DependencyError
	return errors.As(err, &d) && d.Answered && !d.CircuitOpen
}

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
	// Reason is the field violation's reason: "" for
	// ReasonQuantityNotPackMultiple, or ReasonAmountOverflow.
	Reason string
}

// Field violation reasons of InvalidQuantityError.
const (
	ReasonQuantityNotPackMultiple = "QUANTITY_NOT_PACK_MULTIPLE"
	// ReasonAmountOverflow: the line's amount or the order's total does not
	// fit in int64 minor units; refused before any wrapped total is used.
	ReasonAmountOverflow = "AMOUNT_OVERFLOW"
)

// ViolationReason is e's field violation reason.
func (e *InvalidQuantityError) ViolationReason() string {
	if e.Reason == "" {
		return ReasonQuantityNotPackMultiple
	}
	return e.Reason
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

// failureCodec stores one kind of business failure: encode reports whether
// err is that failure and returns its metadata; decode rebuilds the error.
type failureCodec struct {
	kind   string
	encode func(err error) (map[string]string, bool)
	decode func(m failureMeta) error
}

// codec is the failureCodec of the typed error E; enc may decline an E
// (e.g. a CustomerError of the other kind).
func codec[E error](kind string, enc func(e E) (map[string]string, bool), dec func(m failureMeta) E) failureCodec {
	return failureCodec{
		kind: kind,
		encode: func(err error) (map[string]string, bool) {
			var e E
			if !errors.As(err, &e) {
				return nil, false
			}
			return enc(e)
		},
		decode: func(m failureMeta) error { return dec(m) },
	}
}

// failureMeta is a stored failure's metadata.
type failureMeta map[string]string

func (m failureMeta) int(k string) int64 { v, _ := strconv.ParseInt(m[k], 10, 64); return v }

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// failureCodecs is the one table of CreateOrder's storable failures, both
// ways: the error stored with the request id, and the error a replay
// rebuilds from it. Kinds and metadata keys are stored in idempotency
// records: never rename them.
var failureCodecs = []failureCodec{
	codec("customer_not_found", func(e *CustomerError) (map[string]string, bool) {
		return map[string]string{"customer_id": e.CustomerID}, errors.Is(e.Err, ErrCustomerNotFound)
	}, func(m failureMeta) *CustomerError {
		return &CustomerError{CustomerID: m["customer_id"], Err: ErrCustomerNotFound}
	}),
	codec("customer_on_credit_hold", func(e *CustomerError) (map[string]string, bool) {
		return map[string]string{"customer_id": e.CustomerID}, errors.Is(e.Err, ErrCustomerOnCreditHold)
	}, func(m failureMeta) *CustomerError {
		return &CustomerError{CustomerID: m["customer_id"], Err: ErrCustomerOnCreditHold}
	}),
	codec("channel_not_allowed", func(e *ChannelNotAllowedError) (map[string]string, bool) {
		return map[string]string{"customer_id": e.CustomerID, "channel": e.Channel}, true
	}, func(m failureMeta) *ChannelNotAllowedError {
		return &ChannelNotAllowedError{CustomerID: m["customer_id"], Channel: m["channel"]}
	}),
	codec("currency_not_allowed", func(e *CurrencyNotAllowedError) (map[string]string, bool) {
		return map[string]string{"customer_id": e.CustomerID, "currency": e.Currency}, true
	}, func(m failureMeta) *CurrencyNotAllowedError {
		return &CurrencyNotAllowedError{CustomerID: m["customer_id"], Currency: m["currency"]}
	}),
	codec("credit_limit_exceeded", func(e *CreditLimitExceededError) (map[string]string, bool) {
		return map[string]string{"customer_id": e.CustomerID, "limit": itoa(e.LimitMinor), "exposure": itoa(e.ExposureMinor),
			"total": itoa(e.TotalMin), "currency": e.Currency}, true
	}, func(m failureMeta) *CreditLimitExceededError {
		return &CreditLimitExceededError{CustomerID: m["customer_id"], LimitMinor: m.int("limit"),
			ExposureMinor: m.int("exposure"), TotalMin: m.int("total"), Currency: m["currency"]}
	}),
	codec("duplicate_sku", func(e *DuplicateSKUError) (map[string]string, bool) {
		return map[string]string{"sku": e.SKU}, true
	}, func(m failureMeta) *DuplicateSKUError { return &DuplicateSKUError{SKU: m["sku"]} }),
	codec("unknown_sku", func(e *UnknownSKUError) (map[string]string, bool) {
		return map[string]string{"sku": e.SKU, "line_index": strconv.Itoa(e.LineIndex)}, true
	}, func(m failureMeta) *UnknownSKUError {
		return &UnknownSKUError{SKU: m["sku"], LineIndex: int(m.int("line_index"))}
	}),
	codec("price_unavailable", func(e *PriceUnavailableError) (map[string]string, bool) {
		return map[string]string{"sku": e.SKU, "currency": e.Currency}, true
	}, func(m failureMeta) *PriceUnavailableError {
		return &PriceUnavailableError{SKU: m["sku"], Currency: m["currency"]}
	}),
	codec("invalid_quantity", func(e *InvalidQuantityError) (map[string]string, bool) {
		m := map[string]string{"sku": e.SKU, "line_index": strconv.Itoa(e.LineIndex), "message": e.Message}
		if e.Reason != "" {
			m["reason"] = e.Reason
		}
		return m, true
	}, func(m failureMeta) *InvalidQuantityError {
		return &InvalidQuantityError{SKU: m["sku"], LineIndex: int(m.int("line_index")), Message: m["message"], Reason: m["reason"]}
	}),
	codec("price_changed", func(e *PriceChangedError) (map[string]string, bool) {
		return map[string]string{"expected": itoa(e.ExpectedMinor), "actual": itoa(e.ActualMinor), "currency": e.Currency}, true
	}, func(m failureMeta) *PriceChangedError {
		return &PriceChangedError{ExpectedMinor: m.int("expected"), ActualMinor: m.int("actual"), Currency: m["currency"]}
	}),
	codec("out_of_stock", func(e *OutOfStockError) (map[string]string, bool) {
		return map[string]string{"sku": e.SKU, "requested": itoa(e.Requested), "available": itoa(e.Available)}, true
	}, func(m failureMeta) *OutOfStockError {
		return &OutOfStockError{SKU: m["sku"], Requested: m.int("requested"), Available: m.int("available")}
	}),
}

// FailureFromError returns the storable failure for a business error of
// CreateOrder, and false for errors that must not be stored (dependency
// outages, internal errors): those leave the request id free to retry.
func FailureFromError(err error) (Failure, bool) {
	for _, c := range failureCodecs {
		if meta, ok := c.encode(err); ok {
			return Failure{Kind: c.kind, Meta: meta}, true
		}
	}
	return Failure{}, false
}

// Err rebuilds the domain error of a stored failure.
func (f Failure) Err() error {
	for _, c := range failureCodecs {
		if c.kind == f.Kind {
			return c.decode(f.Meta)
		}
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
