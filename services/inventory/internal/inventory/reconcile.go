package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/transload/transload/platform/fingerprint"
)

// ReconciliationState is the state of a run; values equal
// transload.inventory.v1.Reconciliation.State.
type ReconciliationState int

// Reconciliation states.
const (
	ReconRunning   ReconciliationState = 1
	ReconSucceeded ReconciliationState = 2
	ReconFailed    ReconciliationState = 3
)

// VarianceKind classifies a variance; values equal
// transload.inventory.v1.ReconciliationVariance.Kind.
type VarianceKind int

// Variance kinds.
const (
	KindQuantityMismatch      VarianceKind = 1
	KindMissingInTransload    VarianceKind = 2
	KindMissingInSource       VarianceKind = 3
	KindSkippedSnapshotBehind VarianceKind = 4
)

// Reconciliation is one comparison run of a system-of-record snapshot with
// Transload's on-hand.
type Reconciliation struct {
	ID               string
	RequestID        string
	State            ReconciliationState
	SnapshotSource   string
	SnapshotTime     time.Time
	ApplyCorrections bool
	WarehouseCodes   []string
	SKUs             []string
	ReconciliationCounts
	ErrorMessage string
	CreateTime   time.Time
	EndTime      time.Time
}

// Name is "reconciliations/{id}".
func (r Reconciliation) Name() string { return "reconciliations/" + r.ID }

// ReconciliationCounts are the counters of a run.
type ReconciliationCounts struct {
	Compared              int64
	Matched               int64
	Variances             int64
	Corrected             int64
	Skipped               int64
	AbsoluteVarianceTotal int64
}

// OutOfTolerance is the number of positions whose variance counts: the
// variances less those skipped because the snapshot was behind our stock
// (they mean nothing, and AbsoluteVarianceTotal leaves them out too).
func (c ReconciliationCounts) OutOfTolerance() int64 { return max(c.Variances-c.Skipped, 0) }

// Add adds o to c.
func (c *ReconciliationCounts) Add(o ReconciliationCounts) {
	c.Compared += o.Compared
	c.Matched += o.Matched
	c.Variances += o.Variances
	c.Corrected += o.Corrected
	c.Skipped += o.Skipped
	c.AbsoluteVarianceTotal += o.AbsoluteVarianceTotal
}

// Variance is one SKU×warehouse whose on-hand differs.
type Variance struct {
	ReconciliationID  string
	SKU               string
	WarehouseCode     string
	Kind              VarianceKind
	ExpectedOnHand    int64
	TransloadOnHand   int64
	SnapshotSequence  int64
	TransloadSequence int64
	Corrected         bool
	CreateTime        time.Time
}

// Delta is expected − Transload on-hand.
func (v Variance) Delta() int64 { return v.ExpectedOnHand - v.TransloadOnHand }

// SnapshotEntry is the system-of-record on-hand of one SKU×warehouse.
type SnapshotEntry struct {
	SKU           string `json:"sku"`
	WarehouseCode string `json:"wh"`
	OnHand        int64  `json:"q"`
	Sequence      int64  `json:"seq"`
}

// InScope reports whether a pair is in the run's scope.
func (r Reconciliation) InScope(sku, wh string) bool {
	return (len(r.WarehouseCodes) == 0 || slices.Contains(r.WarehouseCodes, wh)) &&
		(len(r.SKUs) == 0 || slices.Contains(r.SKUs, sku))
}

// Overlaps reports whether the scopes of two runs share a pair.
func (r Reconciliation) Overlaps(o Reconciliation) bool {
	intersect := func(a, b []string) bool {
		return len(a) == 0 || len(b) == 0 || slices.ContainsFunc(a, func(x string) bool { return slices.Contains(b, x) })
	}
	return intersect(r.WarehouseCodes, o.WarehouseCodes) && intersect(r.SKUs, o.SKUs)
}

// Compare classifies one pair. hasLevel/hasEntry say which side knows it;
// transloadSeq is Transload's last applied sequence of the snapshot's
// source for the pair. It returns the variance and whether there is one
// (false: matched).
func Compare(sku, wh string, hasLevel bool, onHand, transloadSeq int64, hasEntry bool, e SnapshotEntry) (Variance, bool) {
	v := Variance{SKU: sku, WarehouseCode: wh, ExpectedOnHand: e.OnHand, TransloadOnHand: onHand,
		SnapshotSequence: e.Sequence, TransloadSequence: transloadSeq}
	switch {
	case !hasLevel:
		// A zero row the ERP lists for a pair Transload never stocked is
		// no difference.
		v.Kind, v.TransloadOnHand = KindMissingInTransload, 0
		return v, e.OnHand != 0
	case !hasEntry:
		v.Kind, v.ExpectedOnHand = KindMissingInSource, 0
		return v, onHand > 0
	case e.Sequence > 0 && transloadSeq > e.Sequence:
		v.Kind = KindSkippedSnapshotBehind
		return v, true
	case e.OnHand != onHand:
		v.Kind = KindQuantityMismatch
		return v, true
	}
	return v, false
}

// ReconciliationInProgressError means an overlapping run is RUNNING.
type ReconciliationInProgressError struct{ Reconciliation string }

// Error describes the failure.
func (e *ReconciliationInProgressError) Error() string {
	return "reconciliation " + e.Reconciliation + " is running on an overlapping scope"
}

// ErrReconciliationNotFound means the run does not exist.
var ErrReconciliationNotFound = fmt.Errorf("reconciliation %w", ErrNotFound)

// ErrVarianceNotFound means the run has no variance for the pair.
var ErrVarianceNotFound = fmt.Errorf("reconciliation variance %w", ErrNotFound)

// ErrSnapshotUnavailable means the snapshot could not be read from the
// source's adapter.
var ErrSnapshotUnavailable = errors.New("snapshot unavailable")

// SnapshotReader reads a scoped snapshot from a source system's adapter.
type SnapshotReader interface {
	// ScopedSnapshot reads the snapshot of source restricted to the
	// warehouses and SKUs (empty: all).
	ScopedSnapshot(ctx context.Context, source string, warehouses, skus []string) (Snapshot, error)
}

// StartReconciliationParams starts a run.
type StartReconciliationParams struct {
	RequestID        string          `json:"-"`
	SnapshotSource   string          `json:"src"`
	ApplyCorrections bool            `json:"apply"`
	WarehouseCodes   []string        `json:"wh"`
	SKUs             []string        `json:"skus"`
	Entries          []SnapshotEntry `json:"entries"`
	SnapshotTime     time.Time       `json:"at"`
	// Actor is who starts the run; the start and the run's corrections
	// are audited as theirs (ServiceActor when unset).
	Actor Actor `json:"-"`
}

// ReconcileChunkSize is how many SKUs one reconciliation transaction
// compares (and locks).
const ReconcileChunkSize = 200

// StartReconciliation creates a RUNNING run (idempotent on the request id)
// and compares in the background; poll GetReconciliation.
func (s *Service) StartReconciliation(ctx context.Context, p StartReconciliationParams) (Reconciliation, error) {
	if err := s.checkLoaded(); err != nil {
		return Reconciliation{}, err
	}
	if len(p.Entries) > 0 && p.SnapshotTime.IsZero() {
		return Reconciliation{}, fmt.Errorf("snapshot_time is required with snapshot_entries: %w", ErrInvalidArgument)
	}
	if len(p.Entries) == 0 && s.snapshots == nil {
		return Reconciliation{}, fmt.Errorf("no adapter for %s: %w", p.SnapshotSource, ErrSnapshotUnavailable)
	}
	now := s.now().UTC()
	run := Reconciliation{
		ID: s.newID(), RequestID: p.RequestID, State: ReconRunning, SnapshotSource: p.SnapshotSource,
		SnapshotTime: p.SnapshotTime, ApplyCorrections: p.ApplyCorrections,
		WarehouseCodes: slices.Sorted(slices.Values(p.WarehouseCodes)), SKUs: slices.Sorted(slices.Values(p.SKUs)),
		CreateTime: now,
	}
	got, created, err := s.store.CreateReconciliation(ctx, run, fingerprint.Of(p), p.Actor)
	if err != nil {
		return Reconciliation{}, err
	}
	if created {
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			s.runReconciliation(context.WithoutCancel(ctx), got, p.Actor, p.Entries)
		}()
	}
	return got, nil
}

// Wait blocks until background reconciliation runs have finished.
func (s *Service) Wait() { s.bg.Wait() }

func (s *Service) runReconciliation(ctx context.Context, run Reconciliation, actor Actor, entries []SnapshotEntry) {
	ctx, cancel := context.WithTimeout(ctx, s.reconTimeout)
	defer cancel()
	defer context.AfterFunc(s.bgCtx, cancel)()
	err := s.reconcile(ctx, &run, actor, entries)
	state, msg := ReconSucceeded, ""
	if err != nil {
		state, msg = ReconFailed, err.Error()
		s.logger.WarnContext(ctx, "inventory: reconciliation failed", slog.String("reconciliation", run.Name()), slog.Any("error", err))
	}
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer fcancel()
	if err := s.store.FinishReconciliation(fctx, run.ID, state, msg, run.SnapshotTime, s.now().UTC()); err != nil {
		s.logger.ErrorContext(fctx, "inventory: finish reconciliation", slog.String("reconciliation", run.Name()), slog.Any("error", err))
	}
	s.onChange()
}

func (s *Service) reconcile(ctx context.Context, run *Reconciliation, actor Actor, entries []SnapshotEntry) error {
	if len(entries) == 0 {
		snap, err := s.snapshots.ScopedSnapshot(ctx, run.SnapshotSource, run.WarehouseCodes, run.SKUs)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrSnapshotUnavailable, err)
		}
		run.SnapshotTime = snap.Time
		for _, r := range snap.Rows {
			entries = append(entries, SnapshotEntry{SKU: r.SKU, WarehouseCode: r.WarehouseCode, OnHand: r.OnHand, Sequence: r.SourceSequence})
		}
	}
	bySKU := map[string][]SnapshotEntry{}
	for _, e := range entries {
		if run.InScope(e.SKU, e.WarehouseCode) {
			bySKU[e.SKU] = append(bySKU[e.SKU], e)
		}
	}
	skus, err := s.store.SKUsInScope(ctx, run.WarehouseCodes, run.SKUs)
	if err != nil {
		return err
	}
	for sku := range bySKU {
		skus = append(skus, sku)
	}
	slices.Sort(skus)
	skus = slices.Compact(skus)
	for start := 0; start < len(skus); start += ReconcileChunkSize {
		chunk := skus[start:min(start+ReconcileChunkSize, len(skus))]
		var chunkEntries []SnapshotEntry
		for _, sku := range chunk {
			chunkEntries = append(chunkEntries, bySKU[sku]...)
		}
		p := ReconcileChunkParams{Run: *run, Actor: actor, SKUs: chunk, Entries: chunkEntries, ExceptionThreshold: s.varianceThreshold}
		if err := s.store.ReconcileChunk(ctx, p, s.now().UTC()); err != nil {
			return err
		}
	}
	return nil
}

// GetReconciliation returns one run.
func (s *Service) GetReconciliation(ctx context.Context, id string) (Reconciliation, error) {
	return s.store.GetReconciliation(ctx, id)
}

// ListReconciliations returns a page of runs, newest first.
func (s *Service) ListReconciliations(ctx context.Context, q ReconciliationQuery) ([]Reconciliation, error) {
	return s.store.ListReconciliations(ctx, q)
}

// GetVariance returns one variance of a run.
func (s *Service) GetVariance(ctx context.Context, runID, sku, wh string) (Variance, error) {
	if _, err := s.store.GetReconciliation(ctx, runID); err != nil {
		return Variance{}, err
	}
	return s.store.GetVariance(ctx, runID, sku, wh)
}

// ListVariances returns a page of a run's variances by SKU, then warehouse.
func (s *Service) ListVariances(ctx context.Context, q VarianceQuery) ([]Variance, error) {
	if _, err := s.store.GetReconciliation(ctx, q.ReconciliationID); err != nil {
		return nil, err
	}
	return s.store.ListVariances(ctx, q)
}

// ReconciliationQuery selects a page of runs, newest first.
type ReconciliationQuery struct {
	State          ReconciliationState
	SnapshotSource string
	BeforeCreate   time.Time
	BeforeID       string
	Limit          int
}

// VarianceQuery selects a page of variances of one run.
type VarianceQuery struct {
	ReconciliationID string
	SKU              string
	WarehouseCode    string
	Kind             VarianceKind
	// Corrected filters on the corrected flag when not nil.
	Corrected      *bool
	AfterSKU       string
	AfterWarehouse string
	Limit          int
}

// FailInterrupted marks runs left RUNNING by a previous process as FAILED
// (their goroutine is gone), so they do not block new runs.
func (s *Service) FailInterrupted(ctx context.Context) (int, error) {
	return s.store.FailRunningReconciliations(ctx, "interrupted by a restart of the inventory service", s.now().UTC())
}
