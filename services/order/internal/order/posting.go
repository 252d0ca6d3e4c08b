package order

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/transload/transload/platform/fingerprint"
)

// PostingBatchState is a posting batch's lifecycle state; the values are
// order.v1 PostingBatch.State's.
type PostingBatchState int

// Posting batch states.
const (
	BatchOpen              PostingBatchState = 1
	BatchSubmitting        PostingBatchState = 2
	BatchPosted            PostingBatchState = 3
	BatchPartiallyRejected PostingBatchState = 4
	BatchRejected          PostingBatchState = 5
	BatchSubmitFailed      PostingBatchState = 6
)

// Finished reports whether the ERP answered the batch's last round.
func (s PostingBatchState) Finished() bool {
	return s == BatchPosted || s == BatchPartiallyRejected || s == BatchRejected
}

// PostingLineState is a posting line's outcome; the values are order.v1
// PostingLine.State's.
type PostingLineState int

// Posting line states.
const (
	LinePending   PostingLineState = 1
	LinePosted    PostingLineState = 2
	LineRejected  PostingLineState = 3
	LineDuplicate PostingLineState = 4
)

// String names the state as order.v1 does, without prefix.
func (s PostingLineState) String() string {
	switch s {
	case LinePending:
		return "PENDING"
	case LinePosted:
		return "POSTED"
	case LineRejected:
		return "REJECTED"
	case LineDuplicate:
		return "DUPLICATE"
	}
	return "UNSPECIFIED"
}

// PostingBatch is a set of document lines of one kind and currency posted
// to the ERP together (order.v1 PostingBatch).
type PostingBatch struct {
	ID              string
	Kind            DocumentKind
	Currency        string
	State           PostingBatchState
	CreateRequestID string
	Cutoff          time.Time
	// ERPBatchReference is the journal batch the ERP recorded last.
	ERPBatchReference string
	// Attempts counts submissions to the ERP (answered or not), retries
	// of rejected lines included; each has its own journal id (JournalID).
	Attempts    int
	LastError   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	SubmittedAt time.Time
	Version     int64
	Lines       []PostingLine
}

// PostingLine is one document line in a batch (order.v1 PostingLine).
type PostingLine struct {
	// No is the line's number in the batch, from 1; its line id.
	No           int
	DocumentID   string
	SourceLineID string
	OrderID      string
	CustomerID   string
	SKU          string
	Quantity     int64
	AmountMinor  int64
	TaxMinor     int64
	Account      string
	// Hash is the line's idempotency key at the ERP (LineHash).
	Hash              string
	State             PostingLineState
	RejectionReason   string
	ERPErrorCode      string
	ERPDocumentNumber string
	// Attempts counts the rounds the ERP answered for the line.
	Attempts int
	PostedAt time.Time
}

// ID is the line id within the batch ("1", "2", ...).
func (l PostingLine) ID() string { return strconv.Itoa(l.No) }

// JournalID is the journal batch id the ERP gets for the batch's current
// submission: the batch id for the first, "{id}-a{attempt}" for later ones.
// A fresh id per submission keeps the ERP's batch-id idempotency from
// answering a retry with an earlier submission's results; double posting
// is prevented by the line hashes, which the ERP dedupes across batches
// (a line posted by a submission whose answer was lost comes back
// DUPLICATE with its original document number).
func (b PostingBatch) JournalID() string {
	if b.Attempts <= 1 {
		return b.ID
	}
	return b.ID + "-a" + strconv.Itoa(b.Attempts)
}

// Pending returns the lines still to be posted in the current round.
func (b PostingBatch) Pending() []PostingLine {
	var out []PostingLine
	for _, l := range b.Lines {
		if l.State == LinePending {
			out = append(out, l)
		}
	}
	return out
}

// Count returns how many lines are in state s.
func (b PostingBatch) Count(s PostingLineState) int {
	n := 0
	for _, l := range b.Lines {
		if l.State == s {
			n++
		}
	}
	return n
}

// Totals returns the sums of the lines' net amounts and tax.
func (b PostingBatch) Totals() (net, tax int64, err error) {
	for _, l := range b.Lines {
		if net, err = AddMinor(net, l.AmountMinor); err != nil {
			return 0, 0, err
		}
		if tax, err = AddMinor(tax, l.TaxMinor); err != nil {
			return 0, 0, err
		}
	}
	return net, tax, nil
}

// KindName is the order.v1 PostingBatch.Kind value name of k.
func (k DocumentKind) KindName() string {
	if k == DocumentCreditMemo {
		return "KIND_CREDIT_MEMO"
	}
	return "KIND_INVOICE"
}

// LineHash is the order.v1 PostingLine line_hash: the lower-case hex
// SHA-256 of kind, document id, order id, source line id, SKU, quantity,
// amount, tax, currency and account joined by "\n".
func LineHash(kind DocumentKind, documentID, orderID, sourceLineID, sku string, quantity, amountMinor, taxMinor int64, currency, account string) string {
	s := strings.Join([]string{kind.KindName(), documentID, orderID, sourceLineID, sku,
		strconv.FormatInt(quantity, 10), strconv.FormatInt(amountMinor, 10), strconv.FormatInt(taxMinor, 10), currency, account}, "\n")
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// JournalOutcome is the ERP's answer for one line (erp.v1
// JournalLineResult).
type JournalOutcome struct {
	LineID string
	// State is LinePosted, LineRejected or LineDuplicate.
	State             PostingLineState
	RejectionReason   string
	ERPErrorCode      string
	ERPDocumentNumber string
}

// JournalAnswer is the ERP's answer to a PostJournalBatch.
type JournalAnswer struct {
	// Reference names the journal batch at the ERP.
	Reference string
	Outcomes  []JournalOutcome
}

// Journal posts journal batches to the ERP. PostJournalBatch sends lines
// (the batch's pending lines) under journalID with the batch's kind and
// currency; it returns *DependencyError when the ERP cannot be reached or
// does not answer in time (nothing is known then), any other error for a
// refused request.
type Journal interface {
	PostJournalBatch(ctx context.Context, journalID string, b PostingBatch, lines []PostingLine) (JournalAnswer, error)
}

// PostingQuery selects a page of batches. Zero fields do not filter.
type PostingQuery struct {
	Kind          DocumentKind
	State         PostingBatchState
	Currency      string
	CreatedFrom   time.Time // inclusive
	CreatedBefore time.Time // exclusive
	Ascending     bool
	Limit         int
	// AfterTime/AfterID continue after this batch in the sort order.
	AfterTime time.Time
	AfterID   string
}

// KindCurrency is a kind and currency with unbatched document lines.
type KindCurrency struct {
	Kind     DocumentKind
	Currency string
}

// PostingEffects are what a batch change publishes, in its transaction:
// a PostingBatchPostedEvent when Posted is set (with the batch as changed
// and its state before), per rejected line a PostingLineRejectedEvent and a
// POSTING_LINE_REJECTED exception for the desk, and the audit records.
type PostingEffects struct {
	Posted   bool
	Previous PostingBatchState
	Rejected []PostingLine
	At       time.Time
	Audits   []Audit
}

// Audit actions of the operators' posting RPCs. The scheduler's own
// batches and submissions are not audited (they are the service's
// routine); an operator's are, in the transaction of the change.
const (
	// AuditPostingCreate: CreatePostingBatch collected a new batch.
	AuditPostingCreate = "posting_batch.create"
	// AuditPostingSubmit: SubmitPostingBatch started a submission.
	AuditPostingSubmit = "posting_batch.submit"
	// AuditPostingRetry: RetryPostingLines re-sent rejected lines.
	AuditPostingRetry = "posting_batch.retry_lines"
)

// PostingStore is the persistence of posting batches; sqlstore.Store
// implements it next to Store.
type PostingStore interface {
	// CreatePostingBatch stores b (without lines) in state OPEN with the
	// unbatched lines of documents of b.Kind and b.Currency created before
	// b.Cutoff, oldest document first, whole documents only, at most limit
	// lines (but always one whole document), each line's account from
	// account and hash from LineHash; the collected document lines join
	// the batch in the same transaction. A batch with b.CreateRequestID
	// stored before is returned as it is with created=false and nothing
	// is collected. ErrNothingToPost when no line is waiting. audits are
	// written in the creating transaction (not for a replay).
	CreatePostingBatch(ctx context.Context, b PostingBatch, limit int, account func(DocumentKind) string, audits ...Audit) (_ PostingBatch, created bool, err error)
	// GetPostingBatch returns a batch with its lines in line order;
	// ErrPostingBatchNotFound (wrapped) for an unknown id.
	GetPostingBatch(ctx context.Context, id string) (PostingBatch, error)
	// ListPostingBatches returns up to q.Limit batches with their lines.
	ListPostingBatches(ctx context.Context, q PostingQuery) ([]PostingBatch, error)
	// UpdatePostingBatch loads the batch with its lines (locked), calls fn
	// and stores the changed batch and lines (a line's state and ERP
	// document number also on its document line) with the effects fn
	// returns, in one transaction; Version goes up by one. fn must be pure;
	// ErrNoChange from fn stores nothing and is returned. With key set, a
	// key applied before returns ErrDuplicateEvent (same hash) or
	// ErrIdempotencyKeyReused (other hash or batch) without calling fn, and
	// the key is recorded with the change.
	UpdatePostingBatch(ctx context.Context, id string, key *IdempotencyKey, fn func(b *PostingBatch) (PostingEffects, error)) (PostingBatch, error)
	// PendingPostings returns the kinds and currencies that have unbatched
	// document lines.
	PendingPostings(ctx context.Context) ([]KindCurrency, error)
	// UnfinishedPostingBatches returns the ids of batches in state OPEN,
	// SUBMITTING or SUBMIT_FAILED, oldest first, at most limit.
	UnfinishedPostingBatches(ctx context.Context, limit int) ([]string, error)
}

// Posting errors.
var (
	// ErrNothingToPost: no document line of the kind and currency waits.
	ErrNothingToPost = errors.New("nothing to post")
	// ErrPostingBatchNotFound: no batch has the id.
	ErrPostingBatchNotFound = errors.New("posting batch not found")
)

// PostingLineNotRetryableError: RetryPostingLines named a line that is not
// REJECTED.
type PostingLineNotRetryableError struct {
	LineID string
	State  PostingLineState
}

func (e *PostingLineNotRetryableError) Error() string {
	return fmt.Sprintf("posting line %s is %s, not REJECTED", e.LineID, e.State)
}

// PostingConfig configures the poster.
type PostingConfig struct {
	// BatchSize caps the lines of a batch (ERP limit 1000).
	BatchSize int
	// Interval is how often the scheduler collects and submits; 0 turns
	// the scheduler off (operators post on demand).
	Interval time.Duration
	// InvoiceAccount and CreditMemoAccount are the general-ledger
	// accounts of invoice and credit memo lines.
	InvoiceAccount    string
	CreditMemoAccount string
	// SubmitTimeout bounds one PostJournalBatch call.
	SubmitTimeout time.Duration
	// LeaseTTL is the scheduler's singleton lease.
	LeaseTTL time.Duration
}

// DefaultPostingConfig is the poster's default configuration.
var DefaultPostingConfig = PostingConfig{BatchSize: 500, Interval: 10 * time.Second, InvoiceAccount: "4000",
	CreditMemoAccount: "4100", SubmitTimeout: 30 * time.Second, LeaseTTL: 30 * time.Second}

// Poster collects document lines into posting batches and posts them to
// the ERP: on demand (the order.v1 posting RPCs) and on a schedule (Run),
// one scheduler across replicas (the "posting" lease).
type Poster struct {
	cfg     PostingConfig
	store   PostingStore
	leases  Store
	journal Journal
	now     func() time.Time
	log     *slog.Logger
	holder  string
	// OnCommit is called after a change that wrote outbox events (to
	// wake the relay); may be nil.
	OnCommit func()
}

// NewPoster returns a poster over store (which must also implement
// PostingStore) posting through journal. Zero fields of cfg take
// DefaultPostingConfig's, except Interval (0: no scheduler).
func NewPoster(cfg PostingConfig, store Store, journal Journal, now func() time.Time, log *slog.Logger) (*Poster, error) {
	ps, ok := store.(PostingStore)
	if !ok {
		return nil, fmt.Errorf("order: store %T does not store posting batches", store)
	}
	d := DefaultPostingConfig
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = d.BatchSize
	}
	cfg.BatchSize = min(cfg.BatchSize, 1000)
	if cfg.InvoiceAccount == "" {
		cfg.InvoiceAccount = d.InvoiceAccount
	}
	if cfg.CreditMemoAccount == "" {
		cfg.CreditMemoAccount = d.CreditMemoAccount
	}
	if cfg.SubmitTimeout <= 0 {
		cfg.SubmitTimeout = d.SubmitTimeout
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = d.LeaseTTL
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Poster{cfg: cfg, store: ps, leases: store, journal: journal, now: func() time.Time { return now().UTC() },
		log: log, holder: newToken()}, nil
}

func (p *Poster) account(k DocumentKind) string {
	if k == DocumentCreditMemo {
		return p.cfg.CreditMemoAccount
	}
	return p.cfg.InvoiceAccount
}

func (p *Poster) committed() {
	if p.OnCommit != nil {
		p.OnCommit()
	}
}

// newBatchID returns "PB-" and 16 Crockford base32 characters.
func newBatchID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "PB-" + idEncoding.EncodeToString(b[:])
}

// CreateBatch collects waiting lines of kind and currency created before
// cutoff (zero: now) into a new OPEN batch, idempotent on requestID: the
// same request id with the same kind, currency and cutoff returns the batch
// as it is now; with another payload *IdempotencyKeyReusedError. It is the
// scheduler's (not audited); operators use CreateBatchAs.
func (p *Poster) CreateBatch(ctx context.Context, requestID string, kind DocumentKind, currency string, cutoff time.Time) (PostingBatch, error) {
	return p.createBatch(ctx, nil, requestID, kind, currency, cutoff)
}

// CreateBatchAs is CreateBatch for an operator (CreatePostingBatch): the
// new batch is audited as AuditPostingCreate by actor in the transaction
// that creates it; a replayed request records nothing more.
func (p *Poster) CreateBatchAs(ctx context.Context, actor Actor, requestID string, kind DocumentKind, currency string, cutoff time.Time) (PostingBatch, error) {
	return p.createBatch(ctx, &actor, requestID, kind, currency, cutoff)
}

func (p *Poster) createBatch(ctx context.Context, actor *Actor, requestID string, kind DocumentKind, currency string, cutoff time.Time) (PostingBatch, error) {
	if !kind.Valid() {
		return PostingBatch{}, &InvalidArgumentError{Field: "posting_batch.kind", Message: "must be KIND_INVOICE or KIND_CREDIT_MEMO"}
	}
	now := p.now()
	explicitCutoff := !cutoff.IsZero()
	if !explicitCutoff {
		cutoff = now
	}
	nb := PostingBatch{ID: newBatchID(), Kind: kind, Currency: currency, State: BatchOpen,
		CreateRequestID: requestID, Cutoff: cutoff.UTC(), CreatedAt: now, UpdatedAt: now}
	var audits []Audit
	if actor != nil {
		audits = append(audits, Audit{Actor: *actor, Action: AuditPostingCreate, Target: "postingBatches/" + nb.ID,
			After: map[string]any{"state": nb.State, "kind": string(kind), "currency": currency,
				"cutoff": nb.Cutoff.Format(time.RFC3339Nano), "requestId": requestID},
			OccurredAt: now})
	}
	b, created, err := p.store.CreatePostingBatch(ctx, nb, p.cfg.BatchSize, p.account, audits...)
	if err != nil {
		return PostingBatch{}, err
	}
	if !created && (b.Kind != kind || b.Currency != currency || explicitCutoff && !b.Cutoff.Equal(cutoff.UTC().Truncate(time.Microsecond))) {
		return PostingBatch{}, fmt.Errorf("posting batch request %s: %w", requestID, ErrIdempotencyKeyReused)
	}
	return b, nil
}

// Get returns a batch.
func (p *Poster) Get(ctx context.Context, id string) (PostingBatch, error) {
	return p.store.GetPostingBatch(ctx, id)
}

// List returns a page of batches.
func (p *Poster) List(ctx context.Context, q PostingQuery) ([]PostingBatch, error) {
	return p.store.ListPostingBatches(ctx, q)
}

// Submit posts an OPEN, SUBMIT_FAILED or SUBMITTING (resumed after a crash
// or timeout) batch's pending lines to the ERP and records the outcome;
// a finished batch is returned unchanged. When the ERP cannot answer the
// batch is SUBMIT_FAILED (its lines stay pending) and the
// *DependencyError is returned with it. It is the scheduler's (not
// audited); operators use SubmitAs.
func (p *Poster) Submit(ctx context.Context, id string) (PostingBatch, error) {
	return p.submit(ctx, nil, id)
}

// SubmitAs is Submit for an operator (SubmitPostingBatch): the start of
// the submission is audited as AuditPostingSubmit by actor in the
// transaction that marks the batch SUBMITTING; submitting a finished batch
// changes and records nothing.
func (p *Poster) SubmitAs(ctx context.Context, actor Actor, id string) (PostingBatch, error) {
	return p.submit(ctx, &actor, id)
}

func (p *Poster) submit(ctx context.Context, actor *Actor, id string) (PostingBatch, error) {
	var prev PostingBatchState
	b, err := p.store.UpdatePostingBatch(ctx, id, nil, func(b *PostingBatch) (PostingEffects, error) {
		if b.State.Finished() {
			return PostingEffects{}, ErrNoChange
		}
		before := b.State
		prev = before
		if prev == BatchSubmitting { // resumed: the earlier try did not finish
			prev = BatchSubmitFailed
		}
		now := p.now()
		b.State, b.Attempts, b.SubmittedAt, b.UpdatedAt = BatchSubmitting, b.Attempts+1, now, now
		if actor == nil {
			return PostingEffects{}, nil
		}
		return PostingEffects{Audits: []Audit{{Actor: *actor, Action: AuditPostingSubmit, Target: "postingBatches/" + b.ID,
			Before:     map[string]any{"state": before},
			After:      map[string]any{"state": b.State, "attempt": b.Attempts, "pendingLines": len(b.Pending())},
			OccurredAt: now}}}, nil
	})
	if errors.Is(err, ErrNoChange) {
		return p.store.GetPostingBatch(ctx, id)
	}
	if err != nil {
		return PostingBatch{}, err
	}
	return p.send(ctx, b, prev)
}

// RetryLines re-sends REJECTED lines (all of them when lineIDs is empty)
// of a PARTIALLY_REJECTED or REJECTED batch in a new submission, audited
// as AuditPostingRetry by actor with the operator's note (what was fixed)
// in the same transaction. It is idempotent on requestID: a request id
// whose retry was applied returns the batch as it is now; with other lines,
// note or batch it is ErrIdempotencyKeyReused.
func (p *Poster) RetryLines(ctx context.Context, id, requestID string, lineIDs []string, actor Actor, note string) (PostingBatch, error) {
	var prev PostingBatchState
	key := &IdempotencyKey{Kind: "posting_retry", Key: requestID,
		PayloadHash: fingerprint.Of(struct {
			Batch, Note string
			Lines       []string
		}{id, note, lineIDs})}
	b, err := p.store.UpdatePostingBatch(ctx, id, key, func(b *PostingBatch) (PostingEffects, error) {
		prev = b.State
		retry := map[int]bool{}
		for _, lid := range lineIDs {
			n, err := strconv.Atoi(lid)
			i := slices.IndexFunc(b.Lines, func(l PostingLine) bool { return l.No == n })
			if err != nil || i < 0 {
				return PostingEffects{}, &UnknownLineError{LineID: lid}
			}
			if b.Lines[i].State != LineRejected {
				return PostingEffects{}, &PostingLineNotRetryableError{LineID: lid, State: b.Lines[i].State}
			}
			retry[n] = true
		}
		if !b.State.Finished() {
			// A round is unfinished: its lines go out when it is resumed.
			return PostingEffects{}, ErrNoChange
		}
		var retried []string
		for i := range b.Lines {
			l := &b.Lines[i]
			if l.State == LineRejected && (len(lineIDs) == 0 || retry[l.No]) {
				l.State, l.RejectionReason, l.ERPErrorCode = LinePending, "", ""
				retried = append(retried, l.ID())
			}
		}
		if len(retried) == 0 {
			return PostingEffects{}, ErrNoChange
		}
		before := b.State
		b.State, b.Attempts, b.SubmittedAt, b.UpdatedAt = BatchSubmitting, b.Attempts+1, p.now(), p.now()
		return PostingEffects{Audits: []Audit{{Actor: actor, Action: AuditPostingRetry, Target: "postingBatches/" + b.ID,
			Before:     map[string]any{"state": before, "rejectedLineIds": retried},
			After:      map[string]any{"state": b.State, "retriedLineIds": retried, "note": note},
			OccurredAt: p.now()}}}, nil
	})
	if errors.Is(err, ErrDuplicateEvent) {
		return p.store.GetPostingBatch(ctx, id)
	}
	if errors.Is(err, ErrNoChange) {
		b, err := p.store.GetPostingBatch(ctx, id)
		if err != nil || b.State != BatchSubmitting && b.State != BatchSubmitFailed {
			return b, err
		}
		return p.Submit(ctx, id)
	}
	if err != nil {
		return PostingBatch{}, err
	}
	return p.send(ctx, b, prev)
}

// send posts the current round of b (SUBMITTING; prev is its state before
// the submission) and stores the answer; a failed call or an answer that
// breaks the protocol ([ErrJournalProtocol]) leaves b SUBMIT_FAILED with
// the error as its last_error.
func (p *Poster) send(ctx context.Context, b PostingBatch, prev PostingBatchState) (PostingBatch, error) {
	pending := b.Pending()
	attempt := b.Attempts
	var (
		ans  JournalAnswer
		perr error
	)
	if len(pending) > 0 {
		cctx, cancel := context.WithTimeout(ctx, p.cfg.SubmitTimeout)
		ans, perr = p.journal.PostJournalBatch(cctx, b.JournalID(), b, pending)
		cancel()
		if perr == nil {
			// An answer that breaks the protocol is a failed submission
			// (SUBMIT_FAILED, last_error says why), not an applied one.
			_, perr = journalOutcomes(&b, ans)
		}
	}
	if perr != nil {
		after, err := p.store.UpdatePostingBatch(context.WithoutCancel(ctx), b.ID, nil, func(b *PostingBatch) (PostingEffects, error) {
			if b.State != BatchSubmitting || b.Attempts != attempt {
				return PostingEffects{}, ErrNoChange
			}
			b.State, b.LastError, b.UpdatedAt = BatchSubmitFailed, truncateText(perr.Error(), 500), p.now()
			return PostingEffects{}, nil
		})
		if err != nil && !errors.Is(err, ErrNoChange) {
			return PostingBatch{}, errors.Join(perr, err)
		}
		p.log.WarnContext(ctx, "posting batch not submitted", slog.String("batch", b.ID), slog.Any("error", perr))
		return after, perr
	}
	after, err := p.store.UpdatePostingBatch(context.WithoutCancel(ctx), b.ID, nil, func(b *PostingBatch) (PostingEffects, error) {
		if b.State != BatchSubmitting || b.Attempts != attempt {
			return PostingEffects{}, ErrNoChange // recorded by a concurrent submission
		}
		return applyJournalAnswer(b, ans, prev, p.now())
	})
	if errors.Is(err, ErrNoChange) {
		return p.store.GetPostingBatch(ctx, b.ID)
	}
	if err == nil {
		p.committed()
	}
	return after, err
}

// ErrJournalProtocol marks an ERP journal answer that breaks the erp.v1
// contract: a pending line without a (valid) outcome, or two outcomes for
// one line. Nothing of such an answer is applied; [Poster] records the
// batch SUBMIT_FAILED with the error as its last_error, and the next
// submission (a new journal id; lines the ERP already posted come back
// DUPLICATE) asks again.
var ErrJournalProtocol = errors.New("ERP journal answer breaks the protocol")

// journalOutcomes returns ans's outcomes by line id, or an
// ErrJournalProtocol error when a line id has two outcomes (which one
// holds is unknowable: the answer is refused rather than the last one
// silently winning) or a pending line of b has no posted, rejected or
// duplicate outcome.
func journalOutcomes(b *PostingBatch, ans JournalAnswer) (map[string]JournalOutcome, error) {
	byID := make(map[string]JournalOutcome, len(ans.Outcomes))
	for _, o := range ans.Outcomes {
		if _, dup := byID[o.LineID]; dup {
			return nil, fmt.Errorf("%w: answer for batch %s has two outcomes for line %s", ErrJournalProtocol, b.ID, o.LineID)
		}
		byID[o.LineID] = o
	}
	for _, l := range b.Lines {
		if l.State != LinePending {
			continue
		}
		o, ok := byID[l.ID()]
		if !ok || (o.State != LinePosted && o.State != LineRejected && o.State != LineDuplicate) {
			return nil, fmt.Errorf("%w: answer for batch %s has no outcome for line %s", ErrJournalProtocol, b.ID, l.ID())
		}
	}
	return byID, nil
}

// applyJournalAnswer records the ERP's per-line outcome on b's pending
// lines and finishes the round: POSTED when every line is posted or
// duplicate, REJECTED when every line is rejected, PARTIALLY_REJECTED
// otherwise. An answer [journalOutcomes] refuses (a pending line it does
// not mention, two outcomes for one line) is an ERP protocol error: b is
// left unchanged and nothing is stored.
func applyJournalAnswer(b *PostingBatch, ans JournalAnswer, prev PostingBatchState, now time.Time) (PostingEffects, error) {
	byID, err := journalOutcomes(b, ans)
	if err != nil {
		return PostingEffects{}, err
	}
	eff := PostingEffects{Posted: true, Previous: prev, At: now}
	for i := range b.Lines {
		l := &b.Lines[i]
		if l.State != LinePending {
			continue
		}
		o := byID[l.ID()]
		l.State, l.Attempts = o.State, l.Attempts+1
		switch o.State {
		case LineRejected:
			l.RejectionReason, l.ERPErrorCode = o.RejectionReason, o.ERPErrorCode
			eff.Rejected = append(eff.Rejected, *l)
		case LinePosted, LineDuplicate:
			l.ERPDocumentNumber, l.PostedAt = o.ERPDocumentNumber, now
		case LinePending:
		}
	}
	rejected := b.Count(LineRejected)
	switch {
	case rejected == 0:
		b.State = BatchPosted
	case rejected == len(b.Lines):
		b.State = BatchRejected
	default:
		b.State = BatchPartiallyRejected
	}
	b.ERPBatchReference, b.LastError, b.UpdatedAt = ans.Reference, "", now
	return eff, nil
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Run collects and submits batches every cfg.Interval while it holds the
// "posting" lease (one scheduler across replicas), until ctx ends. With
// Interval 0 it returns at once.
func (p *Poster) Run(ctx context.Context) error {
	if p.cfg.Interval <= 0 {
		return nil
	}
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		if err := p.Pass(ctx); err != nil && ctx.Err() == nil {
			p.log.WarnContext(ctx, "posting pass", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// postingLease is the scheduler's singleton lease.
const postingLease = "posting"

// Pass is one scheduler run: when it holds the lease, it submits the
// unfinished batches (those a crash, a timeout or a down ERP left behind)
// and then collects the waiting lines of every kind and currency into new
// batches and submits them. A batch the ERP cannot take stays
// SUBMIT_FAILED for the next pass; the pass stops at the first
// *DependencyError (the ERP is down or the breaker open) and goes on past
// any other failure of one batch (logged), so one bad batch does not hold
// back the others.
func (p *Poster) Pass(ctx context.Context) error {
	now := p.now()
	ok, err := p.leases.AcquireLease(ctx, postingLease, p.holder, now, now.Add(p.cfg.LeaseTTL))
	if err != nil || !ok {
		return err
	}
	ids, err := p.store.UnfinishedPostingBatches(ctx, 100)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := p.Submit(ctx, id); err != nil {
			if stop := p.passFailed(ctx, id, err); stop != nil {
				return stop
			}
		}
	}
	pend, err := p.store.PendingPostings(ctx)
	if err != nil {
		return err
	}
	for _, kc := range pend {
		for {
			b, err := p.CreateBatch(ctx, "scheduler:"+newToken(), kc.Kind, kc.Currency, time.Time{})
			if errors.Is(err, ErrNothingToPost) {
				break
			}
			if err != nil {
				return err
			}
			if _, err := p.Submit(ctx, b.ID); err != nil {
				if stop := p.passFailed(ctx, b.ID, err); stop != nil {
					return stop
				}
				// The batch stays unfinished (the next pass retries it);
				// the lines still waiting go into the next batch.
			}
			if ctx.Err() != nil {
				return nil
			}
		}
	}
	return nil
}

// passFailed decides on a failed submission of batch id in a pass: a
// *DependencyError (ERP down, breaker open) or an ended ctx stops the
// pass and is returned; any other error is logged and the pass goes on.
func (p *Poster) passFailed(ctx context.Context, id string, err error) error {
	var dep *DependencyError
	if errors.As(err, &dep) || ctx.Err() != nil {
		return err
	}
	p.log.ErrorContext(ctx, "posting batch failed; the next pass retries it", slog.String("batch", id), slog.Any("error", err))
	return nil
}
