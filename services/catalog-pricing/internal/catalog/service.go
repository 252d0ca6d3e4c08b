package catalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/transload/transload/platform/fingerprint"
)

// Import and publish request kinds in the idempotency table.
const (
	kindImportProducts = "import_products"
	kindPublish        = "publish_catalog"
)

// Service implements the catalog use cases on a Store.
type Service struct {
	store Store
	now   func() time.Time
	// committed is called after a transaction that wrote events commits
	// (to wake the outbox relay).
	committed func()
}

// OnEventsCommitted sets f to be called after every committed transaction
// that wrote events, e.g. outbox.Relay.Notify. It must not block.
func (s *Service) OnEventsCommitted(f func()) { s.committed = f }

func (s *Service) eventsCommitted() {
	if s.committed != nil {
		s.committed()
	}
}

// NewService returns a Service on store; now is the clock (nil: time.Now).
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

// ResolveVersion turns a ref into a stored version number and its metadata:
// current → the latest published, draft → DraftVersion with live counts.
func (s *Service) ResolveVersion(ctx context.Context, ref VersionRef) (Version, error) {
	switch ref.Kind {
	case RefDraft:
		return s.draftVersion(ctx)
	case RefNumber:
		return s.storedVersion(ref, func() (Version, error) { return s.store.Version(ctx, ref.Number) })
	case RefCurrent:
	}
	return s.storedVersion(ref, func() (Version, error) { return s.store.CurrentVersion(ctx) })
}

// storedVersion reads a published version with read, naming ref when it
// does not exist.
func (s *Service) storedVersion(ref VersionRef, read func() (Version, error)) (Version, error) {
	v, err := read()
	if errors.Is(err, ErrVersionNotFound) {
		return Version{}, &NotFoundError{Err: ErrVersionNotFound, Version: ref.String()}
	}
	return v, err
}

func (s *Service) draftVersion(ctx context.Context) (Version, error) {
	ds, err := s.store.DraftDigests(ctx)
	if err != nil {
		return Version{}, err
	}
	v := Version{Number: DraftVersion, Draft: true, ProductCount: int64(len(ds)), Checksum: Checksum(ds)}
	for _, d := range ds {
		if d.Sellable {
			v.SellableCount++
		}
	}
	cur, err := s.store.CurrentVersion(ctx)
	switch {
	case err == nil:
		v.PreviousVersion = cur.Number
	case !errors.Is(err, ErrVersionNotFound):
		return Version{}, err
	}
	return v, nil
}

// HasPublished reports whether at least one catalog version exists (the
// readiness condition).
func (s *Service) HasPublished(ctx context.Context) (bool, error) {
	_, err := s.store.CurrentVersion(ctx)
	if errors.Is(err, ErrVersionNotFound) {
		return false, nil
	}
	return err == nil, err
}

// GetProduct returns one product of the selected version.
func (s *Service) GetProduct(ctx context.Context, ref VersionRef, sku string) (Product, Version, error) {
	ps, v, err := s.BatchGetProducts(ctx, ref, []string{sku})
	if err != nil {
		return Product{}, Version{}, err
	}
	return ps[0], v, nil
}

// BatchGetProducts returns the products in the order of skus, all from one
// version; the first missing SKU fails the call (*NotFoundError).
func (s *Service) BatchGetProducts(ctx context.Context, ref VersionRef, skus []string) ([]Product, Version, error) {
	v, err := s.ResolveVersion(ctx, ref)
	if err != nil {
		return nil, Version{}, err
	}
	found, err := s.store.Products(ctx, v.Number, skus)
	if err != nil {
		return nil, Version{}, err
	}
	out := make([]Product, 0, len(skus))
	for _, sku := range skus {
		p, ok := found[sku]
		if !ok {
			return nil, Version{}, &NotFoundError{Err: ErrProductNotFound, SKU: sku, Version: VersionName(v.Number)}
		}
		out = append(out, p)
	}
	return out, v, nil
}

// ListRequest selects one page of ListProducts.
type ListRequest struct {
	Ref    VersionRef
	Filter Filter
	// Cursor continues a listing; nil starts one on the version Ref
	// resolves to.
	Cursor *Cursor
	// Limit is the number of products to return at most.
	Limit int
}

// ListResult is one page of products and the version they are from.
type ListResult struct {
	Products []Product
	Version  Version
}

// ListProducts returns up to req.Limit products of a version ordered by
// SKU, after req.Cursor when set. The cursor's version (not Ref) is read,
// so a listing begun before a publish ends on the version it began on.
func (s *Service) ListProducts(ctx context.Context, req ListRequest) (ListResult, error) {
	ref, after := req.Ref, ""
	if c := req.Cursor; c != nil {
		ref, after = VersionRef{Kind: RefNumber, Number: c.Version}, c.After
		if c.Version == DraftVersion {
			ref = VersionRef{Kind: RefDraft}
		}
	}
	v, err := s.ResolveVersion(ctx, ref)
	if err != nil {
		return ListResult{}, err
	}
	ps, err := s.store.ListProducts(ctx, ListQuery{Version: v.Number, Filter: req.Filter, After: after, Limit: req.Limit})
	if err != nil {
		return ListResult{}, err
	}
	return ListResult{Products: ps, Version: v}, nil
}

// ListVersions returns up to limit published versions numbered below
// before (0: the newest), newest first.
func (s *Service) ListVersions(ctx context.Context, before int64, limit int) ([]Version, error) {
	return s.store.ListVersions(ctx, before, limit)
}

// ImportMode says how import rows are applied.
type ImportMode int

// Import modes (catalog.v1 ImportMode).
const (
	ModeUpsert ImportMode = iota + 1
	ModeCreateOnly
	ModeReplaceAll
)

// RowOutcome is what an import did with one row.
type RowOutcome int

// Row outcomes (catalog.v1 ImportRowOutcome).
const (
	RowCreated RowOutcome = iota + 1
	RowUpdated
	RowUnchanged
	RowRejected
)

// RowReason says why a row was rejected (catalog.v1 ErrorReason values that
// occur per row).
type RowReason int

// Row rejection reasons.
const (
	ReasonNone RowReason = iota
	ReasonRowInvalid
	ReasonAlreadyExists
	ReasonProductNotFound
	ReasonCurrencyMismatch
	ReasonInvalidQuantityBreaks
)

// RowResult is the outcome of one import row.
type RowResult struct {
	RowNumber int64      `json:"row"`
	SKU       string     `json:"sku"`
	Outcome   RowOutcome `json:"outcome"`
	Reason    RowReason  `json:"reason,omitempty"`
	Field     string     `json:"field,omitempty"`
	Message   string     `json:"message,omitempty"`
}

// ImportResult is the outcome of an import.
type ImportResult struct {
	Results                               []RowResult `json:"results"`
	Created, Updated, Unchanged, Rejected int64
}

// Add appends rr and counts its outcome.
func (r *ImportResult) Add(rr RowResult) {
	r.Results = append(r.Results, rr)
	switch rr.Outcome {
	case RowCreated:
		r.Created++
	case RowUpdated:
		r.Updated++
	case RowUnchanged:
		r.Unchanged++
	case RowRejected:
		r.Rejected++
	}
}

// ImportRow is one product row. Invalid, when set by the transport layer,
// rejects the row before the domain looks at it (e.g. the product was
// missing from the row).
type ImportRow struct {
	RowNumber int64       `json:"row"`
	Product   Product     `json:"product"`
	Invalid   *FieldError `json:"invalid,omitempty"`
}

// ImportRequest is the input of ImportProducts.
type ImportRequest struct {
	RequestID    string      `json:"-"`
	Source       string      `json:"source"`
	Mode         ImportMode  `json:"mode"`
	Rows         []ImportRow `json:"rows"`
	ValidateOnly bool        `json:"validate_only"`
	// Actor is who imports, for the audit trail.
	Actor Actor `json:"-"`
}

// ImportProducts applies product rows to the working catalog one by one:
// invalid rows are REJECTED and do not stop the others. The same request
// id with the same payload returns the first response without re-applying;
// with another payload it fails with ErrIdempotencyKeyReused.
func (s *Service) ImportProducts(ctx context.Context, req ImportRequest) (ImportResult, error) {
	hash := fingerprint.Of(req) // everything but the request id and actor (json:"-")
	now := s.now().UTC()
	var res ImportResult
	err := s.store.InTx(ctx, func(tx Tx) error {
		res = ImportResult{}
		if !req.ValidateOnly {
			if done, err := Replay(tx, kindImportProducts, req.RequestID, hash, &res); done || err != nil {
				return err
			}
		}
		// Serialise with publishes (and other imports), so a publish never
		// freezes a half-applied import.
		if _, err := tx.LockCurrentVersion(); err != nil {
			return err
		}
		skus := make([]string, 0, len(req.Rows))
		for _, r := range req.Rows {
			skus = append(skus, r.Product.SKU)
		}
		existing, err := tx.DraftProducts(skus)
		if err != nil {
			return err
		}
		var puts []Product
		seenSKU := map[string]bool{}
		seenRow := map[int64]bool{}
		for _, r := range req.Rows {
			rr := RowResult{RowNumber: r.RowNumber, SKU: r.Product.SKU}
			reject := func(reason RowReason, field, msg string) {
				rr.Outcome, rr.Reason, rr.Field, rr.Message = RowRejected, reason, field, msg
			}
			p := r.Product
			var ferr *FieldError
			switch {
			case r.Invalid != nil:
				reject(ReasonRowInvalid, r.Invalid.Field, r.Invalid.Message)
			case seenRow[r.RowNumber]:
				reject(ReasonRowInvalid, "row_number", "row number appears twice in the request")
			case errors.As(p.Validate(), &ferr):
				reject(ReasonRowInvalid, ferr.Field, ferr.Message)
			case seenSKU[p.SKU]:
				reject(ReasonRowInvalid, "product.name", "SKU appears twice in the request")
			}
			seenRow[r.RowNumber] = true
			if rr.Outcome == RowRejected {
				res.Add(rr)
				continue
			}
			seenSKU[p.SKU] = true
			old, exists := existing[p.SKU]
			p.Normalize()
			switch {
			case exists && req.Mode == ModeCreateOnly:
				reject(ReasonAlreadyExists, "product.name", "product already exists")
			case exists && old.Etag == p.Etag:
				rr.Outcome = RowUnchanged
			case exists:
				rr.Outcome = RowUpdated
			default:
				rr.Outcome = RowCreated
			}
			if rr.Outcome == RowCreated || rr.Outcome == RowUpdated {
				p.UpdateTime = now
				puts = append(puts, p)
			}
			res.Add(rr)
		}
		if req.ValidateOnly {
			return nil
		}
		if len(puts) > 0 {
			if err := tx.PutDraftProducts(puts); err != nil {
				return err
			}
			changed := make([]string, 0, min(len(puts), 100))
			for _, p := range puts[:min(len(puts), 100)] {
				changed = append(changed, p.SKU)
			}
			if err := tx.AppendAudit(AuditRecord{Action: "catalog.import_products", Resource: VersionName(DraftVersion), Actor: req.Actor,
				After: map[string]any{"request_id": req.RequestID, "source": req.Source, "created": res.Created, "updated": res.Updated,
					"unchanged": res.Unchanged, "rejected": res.Rejected, "skus": changed, "skus_truncated": len(puts) > 100}}); err != nil {
				return err
			}
		}
		return Remember(tx, kindImportProducts, req.RequestID, hash, res)
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("import products: %w", err)
	}
	return res, nil
}

// PublishRequest is the input of PublishCatalog.
type PublishRequest struct {
	RequestID       string `json:"-"`
	Note            string `json:"note"`
	ExpectedCurrent int64  `json:"expected_current"`
	Publisher       Actor  `json:"-"`
}

// PublishResult is the version a publish created or, when the draft equals
// the current version, the current version with Created false.
type PublishResult struct {
	Version Version
	Created bool
}

type publishRecord struct {
	Version int64 `json:"version"`
	Created bool  `json:"created"`
}

// PublishCatalog freezes the working catalog into version current+1 and
// writes CatalogPublished to the outbox in the same transaction. When the
// draft's checksum equals the current version's nothing is created.
// Concurrent publishes are serialised by the store. Errors: *ConflictError
// (ErrVersionConflict), ErrIdempotencyKeyReused.
func (s *Service) PublishCatalog(ctx context.Context, req PublishRequest) (PublishResult, error) {
	hash := fingerprint.Of(req) // everything but the request id and actor (json:"-")
	now := s.now().UTC()
	var res PublishResult
	err := s.store.InTx(ctx, func(tx Tx) error {
		res = PublishResult{}
		var rec publishRecord
		if done, err := Replay(tx, kindPublish, req.RequestID, hash, &rec); err != nil {
			return err
		} else if done {
			v, err := tx.Version(rec.Version)
			res = PublishResult{Version: v, Created: rec.Created}
			return err
		}
		cur, err := tx.LockCurrentVersion()
		if err != nil {
			return err
		}
		if req.ExpectedCurrent != 0 && req.ExpectedCurrent != cur {
			return &ConflictError{Expected: req.ExpectedCurrent, Current: cur}
		}
		draft, err := tx.Digests(DraftVersion)
		if err != nil {
			return err
		}
		checksum := Checksum(draft)
		var prevDigests []Digest
		var before any
		if cur > 0 {
			curV, err := tx.Version(cur)
			if err != nil {
				return err
			}
			before = versionSummary(curV)
			if curV.Checksum == checksum {
				res = PublishResult{Version: curV}
				return s.savePublish(tx, req.RequestID, hash, res)
			}
			if prevDigests, err = tx.Digests(cur); err != nil {
				return err
			}
		}
		added, changed, removed, skus := Diff(prevDigests, draft)
		v := Version{
			Number: cur + 1, PublishTime: now, PreviousVersion: cur,
			ProductCount: int64(len(draft)), AddedCount: added, ChangedCount: changed, RemovedCount: removed,
			Checksum: checksum, Note: req.Note, Publisher: req.Publisher,
		}
		for _, d := range draft {
			if d.Sellable {
				v.SellableCount++
			}
		}
		if err := tx.CreateVersion(v); err != nil {
			return err
		}
		ev := PublishedEvent{Version: v, ChangedSKUs: skus}
		if len(skus) > MaxChangedSKUs {
			ev.ChangedSKUs, ev.Truncated = skus[:MaxChangedSKUs], true
		}
		if err := tx.AppendPublished(ev); err != nil {
			return err
		}
		if err := tx.AppendAudit(AuditRecord{Action: "catalog.publish", Resource: VersionName(v.Number), Actor: req.Publisher,
			Before: before, After: versionSummary(v)}); err != nil {
			return err
		}
		res = PublishResult{Version: v, Created: true}
		return s.savePublish(tx, req.RequestID, hash, res)
	})
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish catalog: %w", err)
	}
	if res.Created {
		s.eventsCommitted()
	}
	return res, nil
}

func (s *Service) savePublish(tx Tx, id, hash string, res PublishResult) error {
	return Remember(tx, kindPublish, id, hash, publishRecord{Version: res.Version.Number, Created: res.Created})
}

// versionSummary is the audit snapshot of a version.
func versionSummary(v Version) map[string]any {
	return map[string]any{
		"version": v.Number, "previous_version": v.PreviousVersion, "checksum": v.Checksum, "product_count": v.ProductCount,
		"sellable_product_count": v.SellableCount, "added": v.AddedCount, "changed": v.ChangedCount, "removed": v.RemovedCount,
		"note": v.Note,
	}
}
