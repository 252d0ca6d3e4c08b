package order

import (
	"context"
	"errors"
	"time"
)

// ClaimStatus is the state of an idempotency record.
type ClaimStatus string

// Claim statuses.
const (
	// ClaimPending: a call owns the request id and is working on it.
	ClaimPending ClaimStatus = "pending"
	// ClaimCompleted: the call finished; OrderID is the result.
	ClaimCompleted ClaimStatus = "completed"
	// ClaimFailed: the call ended with a stored business failure.
	ClaimFailed ClaimStatus = "failed"
)

// Claim asks the store to claim a request id for one call.
type Claim struct {
	// Kind scopes request ids per operation, e.g. "create_order".
	Kind        string
	RequestID   string
	PayloadHash string
	// Owner is a random token of the claiming call.
	Owner string
	// LeaseUntil is when the claim may be taken over if its owner has
	// not finished (crashed or stuck).
	LeaseUntil time.Time
	// OrderID is the id a new claim reserves for the order; a takeover
	// keeps the id of the original claim so reservations converge.
	OrderID string
	// LegacyRequestID, when set, is the id the same request was stored
	// under before request ids were scoped by their caller: when RequestID
	// has no record, a finished record under LegacyRequestID with the same
	// payload hash is the claim's result (a retry across the upgrade
	// replays instead of placing the order again). Its payload hash names
	// the caller's channel and customer, so it never answers another
	// caller.
	LegacyRequestID string
}

// ClaimResult is what ClaimRequest found or did.
type ClaimResult struct {
	// Acquired is true when the caller now owns the claim (new, or taken
	// over after the previous owner's lease expired).
	Acquired bool
	// TakenOver is true when an expired claim was taken over.
	TakenOver bool
	Status    ClaimStatus
	OrderID   string
	Failure   *Failure
	// LeaseUntil of the current owner (for a pending claim).
	LeaseUntil time.Time
}

// ClaimRef identifies a claim owned by a call.
type ClaimRef struct {
	Kind, RequestID, Owner string
}

// IdempotencyKey makes Store.UpdateOrder apply a change at most once.
type IdempotencyKey struct {
	Kind, Key, PayloadHash string
}

// Effects are the side effects of an order change that the store applies in
// the same transaction as the change.
type Effects struct {
	// Events are published through the outbox, in order.
	Events []Event
	// ERPQueue changes the order's ERP queue entry.
	ERPQueue QueueOp
	// ReleaseReservation queues a durable release of the order's
	// reservation with this reason ("" = none).
	ReleaseReservation string
	// Exceptions are raised for the operators' desk, in order.
	Exceptions []Exception
	// Audits are recorded in the audit trail, in order. An *Order in
	// After is stored with the order's new version.
	Audits []Audit
	// Documents (invoices, credit memos) are stored in the same
	// transaction as the change; a document id stored before is left as it
	// was (see sqlstore's writeDocuments).
	Documents []Document
}

// ErrNoChange may be returned by an UpdateOrder callback to leave the order
// unchanged; UpdateOrder then returns it (callers treat it as success).
var ErrNoChange = errors.New("no change")

// QueueOp is a change to the ERP queue.
type QueueOp int

// Queue operations.
const (
	QueueNone QueueOp = iota
	// QueueRemove deletes the order's queue entries (ERP answered).
	QueueRemove
	// QueueCancel makes sure the ERP order gets cancelled: a pending
	// submission that was never attempted is dropped; otherwise a cancel
	// entry replaces it (or is appended when the order was confirmed).
	QueueCancel
)

// QueueAction is what a queue entry asks of the ERP.
type QueueAction string

// Queue actions.
const (
	ActionSubmit QueueAction = "submit"
	ActionCancel QueueAction = "cancel"
)

// QueueEntry is one row of the durable ERP queue.
type QueueEntry struct {
	Seq           int64
	OrderID       string
	CustomerID    string
	Action        QueueAction
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
	// Traceparent is the W3C trace context of the request that queued the
	// entry ("" when it was not traced); the worker resumes it.
	Traceparent string
	// LeaseUntil is set while a worker is sending the entry to the ERP:
	// until then the entry is in flight (a worker that died while sending
	// leaves a lease that simply runs out).
	LeaseUntil time.Time
	// Strikes counts the entry's failures that were its own (the ERP
	// answered it with an error, or it could not be sent), not an ERP
	// outage's, since it was queued or an operator last retried it.
	Strikes int
	// ParkedAt is set while the entry is parked: its strikes reached the
	// queue's limit, so it is not sent and holds back none of its
	// customer's later entries until an operator retries it.
	ParkedAt time.Time
}

// QueueEntryState is where a queue entry is in its cycle; the values
// match order.v1 ErpQueueEntry.State.
type QueueEntryState int

// Queue entry states.
const (
	QueueEntryPending    QueueEntryState = 1
	QueueEntryInFlight   QueueEntryState = 2
	QueueEntryBackingOff QueueEntryState = 3
	QueueEntryParked     QueueEntryState = 4
)

// State returns the entry's state at now: parked while parked, in flight
// while leased, backing off while a failed entry waits for its next
// attempt, pending otherwise.
func (e QueueEntry) State(now time.Time) QueueEntryState {
	switch {
	case !e.ParkedAt.IsZero():
		return QueueEntryParked
	case e.LeaseUntil.After(now):
		return QueueEntryInFlight
	case e.Attempts > 0 && e.NextAttemptAt.After(now):
		return QueueEntryBackingOff
	}
	return QueueEntryPending
}

// QueueStats summarises the ERP queue for metrics and the queue status.
type QueueStats struct {
	Depth          int
	InFlight       int
	OldestCreateAt time.Time
	// Parked counts parked entries (included in Depth).
	Parked int
}

// QueueBlocker is a customer's head-of-line queue entry that has failed at
// least once, holding back the customer's later entries.
type QueueBlocker struct {
	Entry QueueEntry
	// Waiting is how many entries of the customer wait behind it.
	Waiting int
}

// QueueQuery selects a page of ERP queue entries in queue order. Zero
// fields do not filter.
type QueueQuery struct {
	CustomerID string
	// State filters on the state at Now.
	State          QueueEntryState
	Now            time.Time
	EnqueuedFrom   time.Time // inclusive
	EnqueuedBefore time.Time // exclusive
	// AfterSeq continues after this entry (0: from the start).
	AfterSeq int64
	Limit    int
}

// ReleaseTask is a durable "release this reservation" job.
type ReleaseTask struct {
	OrderID       string
	ReservationID string
	Reason        string
	Attempts      int
	NextAttemptAt time.Time
}

// ListQuery selects a page of orders. Cursor fields are zero for the first
// page.
type ListQuery struct {
	CustomerID string
	Channel    string
	// State keeps orders in this state; NotState drops orders in that one.
	// StateUnspecified leaves either unused.
	State    State
	NotState State
	// PurchaseOrderNumber keeps orders with this customer PO number; ""
	// leaves it unused.
	PurchaseOrderNumber string
	Created             TimeBounds
	Updated             TimeBounds
	// ByUpdateTime sorts by last update instead of creation, then by id.
	ByUpdateTime bool
	Ascending    bool
	Limit        int
	// AfterTime/AfterID continue after this row in the sort order;
	// AfterTime is the row's sort time (created or updated).
	AfterTime time.Time
	AfterID   string
}

// TimeBounds restricts a timestamp; each zero field leaves its bound
// unused, and set ones all apply.
type TimeBounds struct {
	From    time.Time // >= (inclusive)
	After   time.Time // > (exclusive)
	Before  time.Time // < (exclusive)
	Through time.Time // <= (inclusive)
}

// Customer is the order service's snapshot of an ERP customer.
type Customer struct {
	ID              string
	DisplayName     string
	Account         AccountState
	Currency        string
	AllowedChannels []string
	// CreditCurrency and the credit amounts are set when the ERP enforces
	// a credit limit (HasCreditLimit).
	HasCreditLimit       bool
	CreditCurrency       string
	CreditLimitMinor     int64
	AvailableCreditMinor int64
	FetchedAt            time.Time
	// UpdatedAt is the ERP's last change of the record (sync watermark);
	// not stored.
	UpdatedAt time.Time
}

// AccountState mirrors erp.v1 Customer.AccountState.
type AccountState int

// Account states.
const (
	AccountUnspecified AccountState = 0
	AccountActive      AccountState = 1
	AccountCreditHold  AccountState = 2
	AccountBlocked     AccountState = 3
	AccountClosed      AccountState = 4
)

// Store is the order service's persistence. Implementations must apply
// every method atomically.
type Store interface {
	// ClaimRequest claims c.RequestID for the caller. It never returns
	// ErrIdempotencyKeyReused for a matching payload; for a different
	// payload hash it returns ErrIdempotencyKeyReused.
	ClaimRequest(ctx context.Context, c Claim) (ClaimResult, error)
	// ExtendClaim keeps the claim and its order id but moves its lease to
	// until (the past frees it for an immediate takeover). ErrClaimLost if
	// ref no longer owns a pending claim.
	ExtendClaim(ctx context.Context, ref ClaimRef, until time.Time) error
	// DeleteClaim removes a pending claim owned by ref (nothing was
	// created). ErrClaimLost if ref no longer owns a pending claim.
	DeleteClaim(ctx context.Context, ref ClaimRef) error
	// FailClaim stores a business failure as the claim's result.
	// ErrClaimLost if ref no longer owns a pending claim.
	FailClaim(ctx context.Context, ref ClaimRef, f Failure) error
	// AbandonedClaims lists pending claims of kind whose lease ended before
	// before, oldest first.
	AbandonedClaims(ctx context.Context, kind string, before time.Time, limit int) ([]PendingClaim, error)
	// StealClaim transfers an expired pending claim from its owner
	// c.Owner to newOwner with a lease until until. ErrClaimLost if the
	// claim changed owner, finished, or its lease has not expired.
	StealClaim(ctx context.Context, c PendingClaim, newOwner string, until time.Time) error

	// ReapClaim deletes a pending claim owned by ref, as DeleteClaim does,
	// and raises ex in the same transaction. ErrClaimLost if ref no longer
	// owns a pending claim (nothing is raised then).
	ReapClaim(ctx context.Context, ref ClaimRef, ex Exception) error

	// CreateOrder stores a new order together with its ERP queue entry and
	// the events, exceptions and audit records of eff (its ERPQueue and
	// ReleaseReservation are ignored), and completes the claim ref, in one
	// transaction. ErrClaimLost if ref no longer owns a pending claim.
	CreateOrder(ctx context.Context, ref ClaimRef, o *Order, eff Effects) error
	// GetOrder returns ErrNotFound for an unknown id.
	GetOrder(ctx context.Context, id string) (*Order, error)
	// ListOrders returns up to q.Limit orders.
	ListOrders(ctx context.Context, q ListQuery) ([]*Order, error)
	// UpdateOrder loads the order, calls fn and stores the changed order and
	// the effects fn returns, in one transaction (the order is locked while
	// fn runs; fn must be pure). With key set, a key applied before returns
	// ErrDuplicateEvent (same hash) or *EventIDReusedError (other hash)
	// without calling fn. ErrNotFound for an unknown id; fn's error is
	// returned unchanged and nothing is stored.
	UpdateOrder(ctx context.Context, id string, key *IdempotencyKey, fn func(o *Order) (Effects, error)) (*Order, error)
	// UpdateOrderFrom is UpdateOrder (without a key) for a caller that
	// holds o as an earlier transaction of its own read it: when the stored
	// order's version is still o.Version, fn gets a copy of o and the order
	// is not read again (its ERP attempt columns, which change without a
	// version bump, are taken from o); otherwise it is read as UpdateOrder
	// reads it.
	UpdateOrderFrom(ctx context.Context, o *Order, fn func(o *Order) (Effects, error)) (*Order, error)
	// UpdateOrdersFrom runs several UpdateOrderFrom in one transaction
	// (one commit for the ERP answers of a batch of lanes), each with its
	// own context (its trace goes with its events). errs[i] is ups[i]'s
	// own outcome: nil when stored, fn's error or ErrNotFound when nothing
	// of it was written. err is a failed transaction: nothing is stored.
	UpdateOrdersFrom(ups []HeldUpdate) (errs []error, err error)

	// NextQueueEntries returns up to limit queue entries in creation order,
	// parked entries left out.
	NextQueueEntries(ctx context.Context, limit int) ([]QueueEntry, error)
	// StartQueueAttempt counts an attempt on the entry (and on the order's
	// ERP submission state) before the ERP is called, and leases the entry
	// until leaseUntil (in flight). ErrNotFound when the entry is gone
	// (e.g. the order was cancelled before any attempt).
	StartQueueAttempt(ctx context.Context, seq int64, at, leaseUntil time.Time) error
	// StartSubmission starts an attempt of submit entry seq in one
	// transaction with reading its order: when the order still waits for
	// the ERP it counts the attempt as StartQueueAttempt does and returns
	// the order as updated; when the order is gone or no longer waits, it
	// deletes the entry and returns a nil order. An entry that became a
	// cancellation meanwhile is left as it is (nil order). ErrNotFound when
	// the entry is gone (e.g. the order was cancelled before any attempt).
	StartSubmission(ctx context.Context, seq int64, at, leaseUntil time.Time) (*Order, error)
	// StartSubmissions is StartSubmission for several submit entries in
	// one transaction (one commit for a batch of lanes): the i-th result
	// is what StartSubmission would have returned for seqs[i], ErrNotFound
	// included; any other error fails the whole call and starts nothing.
	StartSubmissions(ctx context.Context, seqs []int64, at, leaseUntil time.Time) ([]StartedSubmission, error)
	// RecordQueueFailure stores a failed attempt's error and the time of
	// the next one and ends the entry's lease; in the same transaction it
	// raises the exceptions raise returns for the entry as updated (raise
	// may be nil; it must be pure). An entry that is gone is no error.
	RecordQueueFailure(ctx context.Context, seq int64, next time.Time, errText string, raise func(QueueEntry) []Exception) error
	// RecordQueueStrike is RecordQueueFailure for a failure that was the
	// entry's own: in the same transaction it also counts a strike on the
	// entry and, when its strikes reach maxStrikes (> 0), parks it as of
	// at; raise sees the entry as updated.
	RecordQueueStrike(ctx context.Context, seq int64, at, next time.Time, errText string, maxStrikes int, raise func(QueueEntry) []Exception) error
	// DeleteQueueEntry removes a finished entry.
	DeleteQueueEntry(ctx context.Context, seq int64) error
	// QueueStats returns depth, in-flight count (leases running at now) and
	// oldest entry of the ERP queue.
	QueueStats(ctx context.Context, now time.Time) (QueueStats, error)
	// QueueBlockers returns, oldest first and at most limit, each
	// customer's head-of-line entry that has failed at least once (an
	// attempt with a recorded error; a first attempt still in flight is
	// not one), with how many of the customer's entries wait behind it.
	// Parked entries are neither heads nor counted as waiting.
	QueueBlockers(ctx context.Context, limit int) ([]QueueBlocker, error)
	// ListQueueEntries returns up to q.Limit entries in queue order.
	ListQueueEntries(ctx context.Context, q QueueQuery) ([]QueueEntry, error)
	// GetQueueEntry returns the order's first queue entry;
	// ErrQueueEntryNotFound when the order has none.
	GetQueueEntry(ctx context.Context, orderID string) (QueueEntry, error)
	// RetryQueueEntry makes the order's first queue entry due at at
	// (clearing its backoff, its strikes and a parking) and records the audit record audit returns for
	// the entry before and after, in one transaction (audit must be pure).
	// It returns the entry after. ErrQueueEntryNotFound when the order has
	// no entry.
	RetryQueueEntry(ctx context.Context, orderID string, at time.Time, audit func(before, after QueueEntry) Audit) (QueueEntry, error)

	// NextReleaseTasks returns due reservation releases.
	NextReleaseTasks(ctx context.Context, now time.Time, limit int) ([]ReleaseTask, error)
	// CompleteReleaseTask removes a finished release.
	CompleteReleaseTask(ctx context.Context, orderID string) error
	// RetryReleaseTask schedules a failed release again.
	RetryReleaseTask(ctx context.Context, orderID string, next time.Time, errText string) error

	// AcquireLease takes or renews the singleton lease name for holder
	// until until; it reports whether holder holds it (another holder's
	// lease that has not ended at now is left alone).
	AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
	// PurgeIdempotencyKeys deletes finished idempotency records last
	// changed before before and returns how many.
	PurgeIdempotencyKeys(ctx context.Context, before time.Time) (int64, error)

	// SaveCustomer stores the latest known snapshot of a customer.
	SaveCustomer(ctx context.Context, c Customer) error
	// GetCustomer returns the stored snapshot, ErrCustomerNotFound if none.
	GetCustomer(ctx context.Context, id string) (Customer, error)
}

// PendingClaim is a pending claim found by AbandonedClaims.
type PendingClaim struct {
	Kind, RequestID, Owner, OrderID string
	LeaseUntil                      time.Time
	// CreatedAt is when the request id was first claimed.
	CreatedAt time.Time
}

// Customers reads customers from the ERP. GetCustomer returns
// ErrCustomerNotFound (wrapped) for unknown customers and *DependencyError
// when the ERP cannot answer. ListCustomers pages through customers changed
// at or after since (zero: all), returning the next page token ("" on the
// last page) and each customer's ERP update time in UpdatedAt.
type Customers interface {
	GetCustomer(ctx context.Context, id string) (Customer, error)
	ListCustomers(ctx context.Context, since time.Time, pageToken string) ([]Customer, string, error)
}

// QuoteRequest asks for authoritative prices.
type QuoteRequest struct {
	CustomerID, Channel, Currency string
	Lines                         []QuoteLine
	// PromotionCodes the buyer entered (upper-cased).
	PromotionCodes []string
}

// QuoteLine is one SKU and quantity to price.
type QuoteLine struct {
	SKU      string
	Quantity int64
}

// PricedLine is the authoritative price of one request line.
type PricedLine struct {
	UnitPriceMinor int64
	ExtendedMinor  int64
	RuleID         string
	Unit           string
}

// Quote is the result of Pricer.Quote, one line per request line.
type Quote struct {
	QuoteID string
	Lines   []PricedLine
	// Promotions are the promotions ("promotions/{id}") the quote applied,
	// which the order reserves one use of (coupons.go).
	Promotions []string
}

// Pricer prices orders. Quote returns *UnknownSKUError,
// *PriceUnavailableError, *InvalidQuantityError, *PromotionCodeError,
// *PromotionLimitError or *DependencyError.
type Pricer interface {
	Quote(ctx context.Context, r QuoteRequest) (Quote, error)
}

// ReserveRequest asks inventory for a reservation.
type ReserveRequest struct {
	RequestID, ReferenceID, Channel string
	Lines                           []QuoteLine
}

// Reservation is the result of Inventory.Reserve.
type Reservation struct {
	ID    string
	Lines []ReservedLine
}

// ReservedLine is the allocation of one SKU.
type ReservedLine struct {
	SKU         string
	Allocations []Allocation // only WarehouseID and Allocated are set
}

// Inventory reserves and releases stock. Reserve returns *OutOfStockError
// or *DependencyError; it is idempotent on RequestID. Release is idempotent
// on requestID and treats already released reservations as done.
// OpenReservations lists ids of open reservations for a reference.
type Inventory interface {
	Reserve(ctx context.Context, r ReserveRequest) (Reservation, error)
	Release(ctx context.Context, reservationID, requestID, reason string) error
	OpenReservations(ctx context.Context, referenceID string) ([]string, error)
}

// SubmitOutcome is the ERP's answer to a sales order submission.
type SubmitOutcome struct {
	Accepted    bool
	ERPOrderRef string
	Rejection   Rejection
}

// ERP submits and cancels sales orders. Errors are *DependencyError for
// transient failures; any other error is permanent for this request
// (bad payload) and is retried only slowly.
type ERP interface {
	SubmitSalesOrder(ctx context.Context, o *Order) (SubmitOutcome, error)
	// CancelSalesOrder cancels; an order the ERP never saw, or one already
	// cancelled, rejected or not cancellable any more, counts as done
	// (ok=true, with note explaining).
	CancelSalesOrder(ctx context.Context, orderID, reason string) (note string, err error)
}

// Fulfillment cancels an order's fulfilment at the WMS. CancelFulfillment
// returns *NotCancellableError when something was already picked, packed or
// shipped, and *DependencyError when fulfillment or the WMS cannot answer.
type Fulfillment interface {
	CancelFulfillment(ctx context.Context, orderID, requestID, reason string) error
}
