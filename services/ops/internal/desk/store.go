package desk

import (
	"context"
	"time"
)

// Store persists the desk: exceptions with their history, dead letters,
// audit records and the results of idempotent requests. It is safe for
// concurrent use. Methods outside InTx read committed data; errors not
// named are the database's, wrapped with what was being done.
type Store interface {
	// InTx runs fn in a read-write transaction and commits it when fn
	// returns nil; fn's error rolls it back and is returned. fn may run
	// more than once (a transaction the database aborted is retried), so
	// it must not have effects outside tx.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// GetException returns an exception with its history; ErrNotFound
	// when absent.
	GetException(ctx context.Context, id string) (*Exception, error)
	// ListExceptions returns up to q.Limit exceptions matching q's
	// conditions, in q's order, after q's cursor; without history.
	ListExceptions(ctx context.Context, q ExceptionQuery) ([]*Exception, error)
	// GetDeadLetter returns a dead letter with its payload; ErrNotFound
	// when absent.
	GetDeadLetter(ctx context.Context, seq uint64) (*DeadLetter, error)
	// ListDeadLetters returns up to q.Limit dead letters matching q's
	// conditions, newest first (oldest first with q.OldestFirst), after
	// q's cursor; without payloads (PayloadSize is set).
	ListDeadLetters(ctx context.Context, q DeadLetterQuery) ([]*DeadLetter, error)
	// GetAuditRecord returns an audit record; ErrNotFound when absent.
	GetAuditRecord(ctx context.Context, id string) (*AuditRecord, error)
	// ListAuditRecords returns up to q.Limit audit records matching q's
	// conditions, newest first, after q's cursor.
	ListAuditRecords(ctx context.Context, q AuditQuery) ([]*AuditRecord, error)
	// Remembered returns the result stored for request id requestID in
	// scope, and whether there is one.
	Remembered(ctx context.Context, scope, requestID string) (Remembered, bool, error)
}

// Tx is a read-write transaction of the Store (see Store.InTx). Reads lock
// the rows they return until the transaction ends where the engine has row
// locks (PostgreSQL); SQLite runs one writer at a time. The audit trail has
// no update or delete here or anywhere: it is append-only.
type Tx interface {
	// OpenException reads and locks the exception of kind for resource
	// that is not RESOLVED; ErrNotFound when there is none.
	OpenException(ctx context.Context, kind Kind, resource string) (*Exception, error)
	// LatestException reads and locks the most recently created
	// exception of kind for resource, in any state; ErrNotFound when
	// there is none.
	LatestException(ctx context.Context, kind Kind, resource string) (*Exception, error)
	// UnresolvedExceptions reads and locks every exception for resource
	// that is not RESOLVED, of any kind, oldest first.
	UnresolvedExceptions(ctx context.Context, resource string) ([]*Exception, error)
	// GetException reads and locks an exception, without history;
	// ErrNotFound when absent.
	GetException(ctx context.Context, id string) (*Exception, error)
	// InsertException creates e. A second unresolved exception of the
	// same kind and resource, or a second one with e's id, violates a
	// unique key.
	InsertException(ctx context.Context, e *Exception) error
	// UpdateException writes e's mutable fields (state, severity,
	// message, details, occurrences, acknowledger, resolver, times);
	// ErrNotFound when absent.
	UpdateException(ctx context.Context, e *Exception) error
	// AppendHistory adds h to the history of exception id. An entry
	// whose DedupeKey the exception already has is ignored.
	AppendHistory(ctx context.Context, id string, h HistoryEntry) error
	// InsertDeadLetter stores d unless a dead letter with its Seq exists;
	// created reports which.
	InsertDeadLetter(ctx context.Context, d *DeadLetter) (created bool, err error)
	// GetDeadLetter reads and locks a dead letter, without payload;
	// ErrNotFound when absent.
	GetDeadLetter(ctx context.Context, seq uint64) (*DeadLetter, error)
	// UpdateDeadLetter writes d's state, replay count and last replay
	// time; ErrNotFound when absent.
	UpdateDeadLetter(ctx context.Context, d *DeadLetter) error
	// InsertAuditRecord appends r unless a record with its id exists;
	// created reports which.
	InsertAuditRecord(ctx context.Context, r *AuditRecord) (created bool, err error)
	// Remembered returns the result stored for requestID in scope, and
	// whether there is one.
	Remembered(ctx context.Context, scope, requestID string) (Remembered, bool, error)
	// Remember stores r for requestID in scope; storing a second result
	// for the same key violates a unique key.
	Remember(ctx context.Context, scope, requestID string, r Remembered) error
}

// Remembered is what an idempotent request left: the fingerprint of its
// payload and its encoded result.
type Remembered struct {
	Fingerprint string
	Result      []byte
}

// Op is the comparison of a list condition.
type Op string

// The comparisons a list condition may use.
const (
	OpEq Op = "="
	OpNe Op = "!="
	OpLt Op = "<"
	OpLe Op = "<="
	OpGt Op = ">"
	OpGe Op = ">="
)

// Cond is one comparison of a list filter. Field is the filter field as
// the contract spells it ("state", "actor.kind", "create_time"); Value is
// a string, an enum number (int32) or a time.Time. The API only builds
// conditions on fields its list declares; a store rejects any other.
type Cond struct {
	Field string
	Op    Op
	Value any
}

// ExceptionOrder is the sort order of ListExceptions.
type ExceptionOrder int

// The orders of ListExceptions; each ends with the id, so it is total.
const (
	// ByCreateDesc is newest first (the default).
	ByCreateDesc ExceptionOrder = iota
	// ByCreateAsc is oldest first.
	ByCreateAsc
	// ByUpdateDesc is most recently changed first.
	ByUpdateDesc
	// BySeverityDesc is most severe first, then newest first.
	BySeverityDesc
)

// ExceptionQuery selects a page of exceptions.
type ExceptionQuery struct {
	Conds []Cond
	Order ExceptionOrder
	// AfterID is the id of the last exception of the previous page ("" on
	// the first page); AfterTime its sort time and AfterSeverity its
	// severity (BySeverityDesc).
	AfterID       string
	AfterTime     time.Time
	AfterSeverity int32
	Limit         int
}

// DeadLetterQuery selects a page of dead letters.
type DeadLetterQuery struct {
	Conds []Cond
	// OldestFirst sorts by dead-letter time ascending instead of
	// descending (then by seq).
	OldestFirst bool
	// AfterSeq is the seq of the last dead letter of the previous page (0
	// on the first page), AfterTime its dead-letter time.
	AfterSeq  uint64
	AfterTime time.Time
	Limit     int
}

// AuditQuery selects a page of audit records, newest first.
type AuditQuery struct {
	Conds []Cond
	// AfterID is the id of the last record of the previous page ("" on
	// the first page), AfterTime its create time.
	AfterID   string
	AfterTime time.Time
	Limit     int
}
