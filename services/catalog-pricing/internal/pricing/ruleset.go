package pricing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
)

// Sentinel errors of the rule resources; grpcapi/errors.go maps them.
var (
	ErrContractNotFound     = errors.New("customer contract not found")
	ErrChannelRuleNotFound  = errors.New("channel rule not found")
	ErrPromotionNotFound    = errors.New("promotion not found")
	ErrPriceVersionNotFound = errors.New("price version published no rule set")
	// ErrRuleNotFound is what stores return for a missing rule row; the
	// use cases turn it into the kind's own error.
	ErrRuleNotFound = errors.New("rule not found")
	// ErrRuleConflict: the rule set would be inconsistent (RuleConflictError
	// says how).
	ErrRuleConflict = errors.New("rule conflict")
	// ErrInvalidRule: a rule breaks a business rule protovalidate cannot
	// express (InvalidRuleError names the field).
	ErrInvalidRule = errors.New("invalid rule")
)

// InvalidRuleError names the field of an invalid rule.
type InvalidRuleError struct{ Field, Message string }

// Error describes the InvalidRuleError.
func (e *InvalidRuleError) Error() string { return e.Field + ": " + e.Message }

// Unwrap makes errors.Is(err, ErrInvalidRule) true.
func (e *InvalidRuleError) Unwrap() error { return ErrInvalidRule }

// RuleConflictError names the rule that conflicts.
type RuleConflictError struct{ Rule, Message string }

// Error describes the RuleConflictError.
func (e *RuleConflictError) Error() string { return e.Rule + ": " + e.Message }

// Unwrap makes errors.Is(err, ErrRuleConflict) true.
func (e *RuleConflictError) Unwrap() error { return ErrRuleConflict }

// RuleSnapshot is a whole rule set: the draft, or what one price version
// published. It is stored as JSON.
type RuleSnapshot struct {
	Contracts  []Contract    `json:"contracts,omitempty"`
	Rules      []ChannelRule `json:"rules,omitempty"`
	Promotions []Promotion   `json:"promotions,omitempty"`
}

// RuleRow is a stored rule: its JSON body and bookkeeping.
type RuleRow struct {
	ID         string
	Body       []byte
	Etag       string
	CreateTime time.Time
	UpdateTime time.Time
}

// Versions are the counters a quote reads in one go.
type Versions struct {
	Catalog int64 // published catalog version (0: none)
	Price   int64 // global price version
	Rules   int64 // price version of the published rule set (0: none)
}

// RuleKindOf describes one kind of rule resource (contracts, channel
// rules, promotions) to the generic rule use cases.
type RuleKindOf[T any] struct {
	table    string // kind column
	kind     RuleKind
	notFound error
	id       func(*T) string
	name     func(*T) string
	meta     func(*T) (*string, *time.Time, *time.Time) // etag, create, update
	slice    func(*RuleSnapshot) *[]T
	validate func(*T) error
	customer func(*T) string // the customer a change affects ("" = all)
}

// Contracts, ChannelRules and Promotions are the three rule kinds.
var (
	Contracts = &RuleKindOf[Contract]{table: "contract", kind: RuleCustomerContract, notFound: ErrContractNotFound,
		id: func(c *Contract) string { return c.ID }, name: func(c *Contract) string { return c.Name() },
		meta:     func(c *Contract) (*string, *time.Time, *time.Time) { return &c.Etag, &c.CreateTime, &c.UpdateTime },
		slice:    func(s *RuleSnapshot) *[]Contract { return &s.Contracts },
		validate: validateContract,
		customer: func(c *Contract) string { return c.CustomerID },
	}
	ChannelRules = &RuleKindOf[ChannelRule]{table: "channel_rule", kind: RuleChannelRule, notFound: ErrChannelRuleNotFound,
		id: func(r *ChannelRule) string { return r.ID }, name: func(r *ChannelRule) string { return r.Name() },
		meta: func(r *ChannelRule) (*string, *time.Time, *time.Time) {
			var create time.Time
			return &r.Etag, &create, &r.UpdateTime
		},
		slice:    func(s *RuleSnapshot) *[]ChannelRule { return &s.Rules },
		validate: func(r *ChannelRule) error { return validWindow(r.Window) },
		customer: func(*ChannelRule) string { return "" },
	}
	Promotions = &RuleKindOf[Promotion]{table: "promotion", kind: RulePromotion, notFound: ErrPromotionNotFound,
		id: func(p *Promotion) string { return p.ID }, name: func(p *Promotion) string { return p.Name() },
		meta: func(p *Promotion) (*string, *time.Time, *time.Time) {
			var create time.Time
			return &p.Etag, &create, &p.UpdateTime
		},
		slice:    func(s *RuleSnapshot) *[]Promotion { return &s.Promotions },
		validate: validatePromotion,
		customer: func(*Promotion) string { return "" },
	}
)

func validWindow(w Window) error {
	if !w.Valid() {
		return ErrInvalidEffectiveWindow
	}
	return nil
}

func validateContract(c *Contract) error {
	if err := validWindow(c.Window); err != nil {
		return err
	}
	if c.CustomerID == "*" && c.CustomerGroup == "" {
		return &InvalidRuleError{Field: "customer_group", Message: `required when customer_id is "*"`}
	}
	if c.CustomerID == "*" {
		c.CustomerID = ""
	}
	for i, t := range c.Terms {
		if t.SKU == "" && t.Category == "" {
			return &InvalidRuleError{Field: fmt.Sprintf("terms[%d]", i), Message: "needs a sku or a category"}
		}
	}
	return nil
}

func validatePromotion(p *Promotion) error {
	if err := validWindow(p.Window); err != nil {
		return err
	}
	switch p.Kind {
	case PromoAmount, PromoOrderAmount, PromoTieredSpend:
		if p.Currency == "" {
			return &InvalidRuleError{Field: "unit_discount.currency_code", Message: "amounts need a currency"}
		}
	case PromoBuyXGetY:
		if p.BuyQuantity < 1 || p.GetQuantity < 1 {
			return &InvalidRuleError{Field: "buy_x_get_y", Message: "buy and get quantities must be at least 1"}
		}
	case PromoPercent, PromoOrderPercent:
	}
	return nil
}

// validateSnapshot checks a whole rule set: promotion codes are unique
// among promotions whose windows overlap.
func validateSnapshot(s RuleSnapshot) error {
	byCode := map[string][]Promotion{}
	for _, p := range s.Promotions {
		if p.Code == "" {
			continue
		}
		for _, o := range byCode[p.Code] {
			if overlap(o.Window, p.Window) {
				return &RuleConflictError{Rule: p.Name(), Message: fmt.Sprintf("code %s is also used by %s in an overlapping window", p.Code, o.Name())}
			}
		}
		byCode[p.Code] = append(byCode[p.Code], p)
	}
	return nil
}

func overlap(a, b Window) bool {
	before := func(end, start time.Time) bool { return !end.IsZero() && !start.IsZero() && !end.After(start) }
	return !before(a.End, b.Start) && !before(b.End, a.Start)
}

// notFound turns the store's ErrRuleNotFound into the kind's error.
func (k *RuleKindOf[T]) notFoundErr(err error, id string) error {
	if errors.Is(err, ErrRuleNotFound) {
		return fmt.Errorf("%w: %s", k.notFound, id)
	}
	return err
}

// decodeRow decodes a stored rule and its bookkeeping.
func decodeRow[T any](k *RuleKindOf[T], r RuleRow) (T, error) {
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		return v, fmt.Errorf("decode %s %s: %w", k.table, r.ID, err)
	}
	etag, create, update := k.meta(&v)
	*etag, *create, *update = r.Etag, r.CreateTime, r.UpdateTime
	return v, nil
}

// Get returns one rule of the draft (what the Update RPCs wrote, published
// or staged).
func (k *RuleKindOf[T]) Get(ctx context.Context, s *Service, id string) (T, error) {
	r, err := s.store.Rule(ctx, k.table, id)
	if err != nil {
		var zero T
		return zero, k.notFoundErr(err, id)
	}
	return decodeRow(k, r)
}

// List returns up to limit rules of the draft with ids after after that
// match keep, by id.
func (k *RuleKindOf[T]) List(ctx context.Context, s *Service, keep func(T) bool, after string, limit int) ([]T, error) {
	var out []T
	for len(out) < limit {
		rows, err := s.store.Rules(ctx, k.table, after, 200)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			v, err := decodeRow(k, r)
			if err != nil {
				return nil, err
			}
			if keep == nil || keep(v) {
				out = append(out, v)
				if len(out) == limit {
					return out, nil
				}
			}
		}
		if len(rows) < 200 {
			break
		}
		after = rows[len(rows)-1].ID
	}
	return out, nil
}

// UpsertRuleRequest is the input of Upsert.
type UpsertRuleRequest[T any] struct {
	RequestID    string `json:"-"`
	Rule         T      `json:"rule"`
	AllowMissing bool   `json:"allow_missing"`
	ValidateOnly bool   `json:"validate_only"`
	ExpectedEtag string `json:"etag"`
	// Draft stages the change; without it the change is published at once
	// as a new price version (the change alone, not other staged ones).
	Draft bool          `json:"draft"`
	Actor catalog.Actor `json:"-"`
}

// Upsert replaces (or with AllowMissing creates) a rule in the draft and,
// unless Draft, in the published rule set as a new price version with its
// PricesChanged event. Errors: the kind's not-found error,
// ErrConcurrentModification, ErrInvalidEffectiveWindow, *InvalidRuleError,
// *RuleConflictError, ErrIdempotencyKeyReused.
func (k *RuleKindOf[T]) Upsert(ctx context.Context, s *Service, req UpsertRuleRequest[T]) (T, error) {
	v := req.Rule
	id := k.id(&v)
	if err := k.validate(&v); err != nil {
		var zero T
		return zero, fmt.Errorf("%s %s: %w", k.table, id, err)
	}
	hash := hashJSON(req)
	kind := "upsert_" + k.table
	now := s.now().UTC()
	err := s.store.InTx(ctx, func(tx Tx) error {
		if err := tx.Lock(); err != nil {
			return err
		}
		if !req.ValidateOnly {
			if done, err := catalog.Replay(tx, kind, req.RequestID, hash, nil); err != nil {
				return err
			} else if done {
				r, err := tx.Rule(k.table, id)
				if err == nil {
					v, err = decodeRow(k, r)
				}
				return err
			}
		}
		old, err := tx.Rule(k.table, id)
		exists := err == nil
		if err != nil && !errors.Is(err, ErrRuleNotFound) {
			return err
		}
		if !exists && !req.AllowMissing {
			return fmt.Errorf("%w: %s", k.notFound, id)
		}
		if exists && req.ExpectedEtag != "" && req.ExpectedEtag != old.Etag {
			return ErrConcurrentModification
		}
		body, err := json.Marshal(v)
		if err != nil {
			return err
		}
		row := RuleRow{ID: id, Body: body, Etag: shortHash(string(body)), CreateTime: now, UpdateTime: now}
		if exists {
			row.CreateTime = old.CreateTime
		}
		draft, err := loadDraft(tx)
		if err != nil {
			return err
		}
		replaceIn(k, &draft, v)
		if err := validateSnapshot(draft); err != nil {
			return err
		}
		changed := !exists || old.Etag != row.Etag
		if !changed {
			row.UpdateTime = old.UpdateTime
		}
		if v, err = decodeRow(k, row); err != nil || req.ValidateOnly {
			return err
		}
		if changed {
			if err := tx.PutRule(k.table, row); err != nil {
				return err
			}
		}
		published := false
		if !req.Draft {
			if published, err = publishChange(tx, k, v, false, now); err != nil {
				return err
			}
		}
		if !changed && !published {
			return catalog.Remember(tx, kind, req.RequestID, hash, nil)
		}
		var before any
		if exists {
			before = json.RawMessage(old.Body)
		}
		if err := tx.AppendAudit(catalog.AuditRecord{Action: "pricing.upsert_" + k.table, Resource: k.name(&v), Actor: req.Actor,
			Before: before, After: map[string]any{"rule": json.RawMessage(body), "draft": req.Draft}}); err != nil {
			return err
		}
		return catalog.Remember(tx, kind, req.RequestID, hash, nil)
	})
	if err != nil {
		var zero T
		return zero, fmt.Errorf("upsert %s %s: %w", k.table, id, err)
	}
	s.eventsCommitted()
	return v, nil
}

// DeleteRuleRequest is the input of Delete.
type DeleteRuleRequest struct {
	RequestID    string        `json:"-"`
	ID           string        `json:"id"`
	ExpectedEtag string        `json:"etag"`
	AllowMissing bool          `json:"allow_missing"`
	Draft        bool          `json:"draft"`
	Actor        catalog.Actor `json:"-"`
}

// Delete removes a rule from the draft and, unless Draft, from the
// published rule set as a new price version. Errors: the kind's not-found
// error (unless AllowMissing), ErrConcurrentModification,
// ErrIdempotencyKeyReused.
func (k *RuleKindOf[T]) Delete(ctx context.Context, s *Service, req DeleteRuleRequest) error {
	hash := hashJSON(req)
	kind := "delete_" + k.table
	now := s.now().UTC()
	err := s.store.InTx(ctx, func(tx Tx) error {
		if err := tx.Lock(); err != nil {
			return err
		}
		if done, err := catalog.Replay(tx, kind, req.RequestID, hash, nil); done || err != nil {
			return err
		}
		old, err := tx.Rule(k.table, req.ID)
		if errors.Is(err, ErrRuleNotFound) && req.AllowMissing {
			return catalog.Remember(tx, kind, req.RequestID, hash, nil)
		}
		if err != nil {
			return k.notFoundErr(err, req.ID)
		}
		if req.ExpectedEtag != "" && req.ExpectedEtag != old.Etag {
			return ErrConcurrentModification
		}
		v, err := decodeRow(k, old)
		if err != nil {
			return err
		}
		if err := tx.DeleteRule(k.table, req.ID); err != nil {
			return err
		}
		if !req.Draft {
			if _, err := publishChange(tx, k, v, true, now); err != nil {
				return err
			}
		}
		if err := tx.AppendAudit(catalog.AuditRecord{Action: "pricing.delete_" + k.table, Resource: k.name(&v), Actor: req.Actor,
			Before: json.RawMessage(old.Body), After: map[string]any{"draft": req.Draft}}); err != nil {
			return err
		}
		return catalog.Remember(tx, kind, req.RequestID, hash, nil)
	})
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", k.table, req.ID, err)
	}
	s.eventsCommitted()
	return nil
}

// replaceIn puts v into snap (replacing the rule with its id), or with
// v == nil-like deletion handled by removeFrom.
func replaceIn[T any](k *RuleKindOf[T], snap *RuleSnapshot, v T) {
	list := k.slice(snap)
	id := k.id(&v)
	for i := range *list {
		if k.id(&(*list)[i]) == id {
			(*list)[i] = v
			return
		}
	}
	*list = append(*list, v)
	sort.Slice(*list, func(a, b int) bool { return k.id(&(*list)[a]) < k.id(&(*list)[b]) })
}

func removeFrom[T any](k *RuleKindOf[T], snap *RuleSnapshot, id string) {
	list := k.slice(snap)
	*list = slices.DeleteFunc(*list, func(v T) bool { return k.id(&v) == id })
}

// loadDraft reads the whole draft rule set.
func loadDraft(tx Tx) (RuleSnapshot, error) {
	var snap RuleSnapshot
	if err := loadKind(tx, Contracts, &snap); err != nil {
		return snap, err
	}
	if err := loadKind(tx, ChannelRules, &snap); err != nil {
		return snap, err
	}
	return snap, loadKind(tx, Promotions, &snap)
}

func loadKind[T any](tx Tx, k *RuleKindOf[T], snap *RuleSnapshot) error {
	rows, err := tx.AllRules(k.table)
	if err != nil {
		return err
	}
	list := k.slice(snap)
	for _, r := range rows {
		v, err := decodeRow(k, r)
		if err != nil {
			return err
		}
		*list = append(*list, v)
	}
	return nil
}

// publishChange applies one change to the published rule set and
// publishes the result as a new price version; it reports false (and
// publishes nothing) when the published set already has the change.
func publishChange[T any](tx Tx, k *RuleKindOf[T], v T, deleted bool, now time.Time) (bool, error) {
	_, snap, err := tx.PublishedRules(0)
	if err != nil {
		return false, err
	}
	before, err := json.Marshal(snap)
	if err != nil {
		return false, err
	}
	if deleted {
		removeFrom(k, &snap, k.id(&v))
	} else {
		replaceIn(k, &snap, v)
	}
	if after, err := json.Marshal(snap); err != nil || string(after) == string(before) {
		return false, err
	}
	if err := validateSnapshot(snap); err != nil {
		return false, err
	}
	ev := PricesChanged{EffectiveTime: now, RuleKinds: []RuleKind{k.kind}, Rules: []string{k.name(&v)}, AllSKUs: true}
	if c := k.customer(&v); c != "" {
		ev.CustomerIDs = []string{c}
	}
	_, err = publishSnapshot(tx, snap, ev)
	return true, err
}

// publishSnapshot stores snap as the rule set of a new price version and
// announces it.
func publishSnapshot(tx Tx, snap RuleSnapshot, ev PricesChanged) (int64, error) {
	body, err := json.Marshal(snap)
	if err != nil {
		return 0, err
	}
	pv, err := announce(tx, ev)
	if err != nil {
		return 0, err
	}
	return pv, tx.PutPublishedRules(pv, body, shortHash(string(body)))
}

// PublishResult is the outcome of PublishRules and RepublishRules.
type PublishResult struct {
	PriceVersion int64 `json:"pv"`
	Created      bool  `json:"created"`
	Contracts    int64 `json:"contracts"`
	ChannelRules int64 `json:"rules"`
	Promotions   int64 `json:"promotions"`
}

func resultOf(pv int64, created bool, snap RuleSnapshot) PublishResult {
	return PublishResult{PriceVersion: pv, Created: created, Contracts: int64(len(snap.Contracts)),
		ChannelRules: int64(len(snap.Rules)), Promotions: int64(len(snap.Promotions))}
}

// PublishRules validates the whole draft and publishes it atomically as a
// new price version; a draft equal to the published rule set publishes
// nothing (Created false). Errors: *RuleConflictError,
// ErrIdempotencyKeyReused.
func (s *Service) PublishRules(ctx context.Context, requestID string, validateOnly bool, actor catalog.Actor) (PublishResult, error) {
	hash := hashJSON(map[string]bool{"validate_only": validateOnly})
	now := s.now().UTC()
	var res PublishResult
	err := s.store.InTx(ctx, func(tx Tx) error {
		if err := tx.Lock(); err != nil {
			return err
		}
		if !validateOnly {
			if done, err := catalog.Replay(tx, "publish_rules", requestID, hash, &res); done || err != nil {
				return err
			}
		}
		draft, err := loadDraft(tx)
		if err != nil {
			return err
		}
		if err := validateSnapshot(draft); err != nil {
			return err
		}
		body, err := json.Marshal(draft)
		if err != nil {
			return err
		}
		pv, _, err := tx.PublishedRules(0)
		if err != nil {
			return err
		}
		digest, err := tx.PublishedDigest(pv)
		if err != nil {
			return err
		}
		if validateOnly || digest == shortHash(string(body)) {
			cur, err := tx.PriceVersion()
			res = resultOf(cur, false, draft)
			if err != nil || validateOnly {
				return err
			}
			return catalog.Remember(tx, "publish_rules", requestID, hash, res)
		}
		newPV, err := publishSnapshot(tx, draft, PricesChanged{EffectiveTime: now,
			RuleKinds: []RuleKind{RuleCustomerContract, RuleChannelRule, RulePromotion}, Rules: []string{"priceRules"}, AllSKUs: true})
		if err != nil {
			return err
		}
		res = resultOf(newPV, true, draft)
		if err := tx.AppendAudit(catalog.AuditRecord{Action: "pricing.publish_rules", Resource: "priceRules", Actor: actor,
			Before: map[string]any{"rules_version": pv}, After: map[string]any{"rules_version": newPV, "request_id": requestID}}); err != nil {
			return err
		}
		return catalog.Remember(tx, "publish_rules", requestID, hash, res)
	})
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish rules: %w", err)
	}
	s.eventsCommitted()
	return res, nil
}

// RepublishRules publishes the rule set of price version v (0: the one
// published before the current one) again as a new price version, and
// resets the draft to it (staged changes are dropped). Errors:
// ErrPriceVersionNotFound, ErrIdempotencyKeyReused.
func (s *Service) RepublishRules(ctx context.Context, requestID string, v int64, actor catalog.Actor) (PublishResult, error) {
	hash := hashJSON(map[string]int64{"version": v})
	now := s.now().UTC()
	var res PublishResult
	err := s.store.InTx(ctx, func(tx Tx) error {
		if err := tx.Lock(); err != nil {
			return err
		}
		if done, err := catalog.Replay(tx, "republish_rules", requestID, hash, &res); done || err != nil {
			return err
		}
		cur, _, err := tx.PublishedRules(0)
		if err != nil {
			return err
		}
		target := v
		if target == 0 {
			if target, err = tx.PublishedBefore(cur); err != nil {
				return err
			}
		}
		if target == 0 {
			return fmt.Errorf("%w: nothing before %d", ErrPriceVersionNotFound, cur)
		}
		got, snap, err := tx.PublishedRules(target)
		if err != nil {
			return err
		}
		if got != target {
			return fmt.Errorf("%w: %d", ErrPriceVersionNotFound, target)
		}
		if err := resetDraft(tx, snap, now); err != nil {
			return err
		}
		newPV, err := publishSnapshot(tx, snap, PricesChanged{EffectiveTime: now,
			RuleKinds: []RuleKind{RuleCustomerContract, RuleChannelRule, RulePromotion}, Rules: []string{"priceRules"}, AllSKUs: true})
		if err != nil {
			return err
		}
		res = resultOf(newPV, true, snap)
		if err := tx.AppendAudit(catalog.AuditRecord{Action: "pricing.republish_rules", Resource: "priceRules", Actor: actor,
			Before: map[string]any{"rules_version": cur}, After: map[string]any{"rules_version": newPV, "republished": target}}); err != nil {
			return err
		}
		return catalog.Remember(tx, "republish_rules", requestID, hash, res)
	})
	if err != nil {
		return PublishResult{}, fmt.Errorf("republish rules %d: %w", v, err)
	}
	s.eventsCommitted()
	return res, nil
}

// resetDraft replaces every draft rule by the rules of snap.
func resetDraft(tx Tx, snap RuleSnapshot, now time.Time) error {
	if err := resetKind(tx, Contracts, snap.Contracts, now); err != nil {
		return err
	}
	if err := resetKind(tx, ChannelRules, snap.Rules, now); err != nil {
		return err
	}
	return resetKind(tx, Promotions, snap.Promotions, now)
}

func resetKind[T any](tx Tx, k *RuleKindOf[T], vs []T, now time.Time) error {
	rows, err := tx.AllRules(k.table)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := tx.DeleteRule(k.table, r.ID); err != nil {
			return err
		}
	}
	for _, v := range vs {
		body, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if err := tx.PutRule(k.table, RuleRow{ID: k.id(&v), Body: body, Etag: shortHash(string(body)), CreateTime: now, UpdateTime: now}); err != nil {
			return err
		}
	}
	return nil
}
