package pricing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
)

// ContractRow is one row of a contract import. Invalid is set by the
// adapter when the row failed its message validation.
type ContractRow struct {
	RowNumber int64               `json:"row"`
	Contract  Contract            `json:"contract"`
	Invalid   *catalog.FieldError `json:"invalid,omitempty"`
}

// ImportContractsRequest is the input of ImportContracts.
type ImportContractsRequest struct {
	RequestID    string        `json:"-"`
	Source       string        `json:"source"`
	Rows         []ContractRow `json:"rows"`
	ValidateOnly bool          `json:"validate_only"`
	Actor        catalog.Actor `json:"-"`
}

// ImportContractsResult is the outcome of an import.
type ImportContractsResult struct {
	catalog.ImportResult
	PriceVersion int64 `json:"pv"`
}

// ImportContracts upserts customer contracts row by row (the ERP's
// contract export or any feed): invalid rows are REJECTED with their
// field, the others applied to the draft and published together as one
// new price version with one PricesChanged event naming the customers.
// Idempotent on RequestID. Errors: ErrIdempotencyKeyReused,
// *RuleConflictError.
func (s *Service) ImportContracts(ctx context.Context, req ImportContractsRequest) (ImportContractsResult, error) {
	hash := hashJSON(req)
	now := s.now().UTC()
	var res ImportContractsResult
	err := s.store.InTx(ctx, func(tx Tx) error {
		if err := tx.Lock(); err != nil {
			return err
		}
		res = ImportContractsResult{}
		if !req.ValidateOnly {
			if done, err := catalog.Replay(tx, "import_contracts", req.RequestID, hash, &res); done || err != nil {
				return err
			}
		}
		_, published, err := tx.PublishedRules(0)
		if err != nil {
			return err
		}
		var puts []RuleRow
		var customers []string
		seenRow, seenID := map[int64]bool{}, map[string]bool{}
		for _, r := range req.Rows {
			c := r.Contract
			rr := catalog.RowResult{RowNumber: r.RowNumber, SKU: c.Name()}
			reject := func(field, msg string) {
				rr.Outcome, rr.Reason, rr.Field, rr.Message = catalog.RowRejected, catalog.ReasonRowInvalid, field, msg
			}
			var inv *InvalidRuleError
			switch err := validateContract(&c); {
			case seenRow[r.RowNumber]:
				reject("row_number", "row number appears twice in the request")
			case r.Invalid != nil:
				reject(r.Invalid.Field, r.Invalid.Message)
			case seenID[c.ID]:
				reject("customer_contract.name", "contract appears twice in the request")
			case errors.Is(err, ErrInvalidEffectiveWindow):
				reject("customer_contract.end_time", "end_time must be after start_time")
			case errors.As(err, &inv):
				reject("customer_contract."+inv.Field, inv.Message)
			case err != nil:
				return err
			}
			seenRow[r.RowNumber] = true
			if rr.Outcome == catalog.RowRejected {
				res.Add(rr)
				continue
			}
			seenID[c.ID] = true
			body, err := json.Marshal(c)
			if err != nil {
				return err
			}
			row := RuleRow{ID: c.ID, Body: body, Etag: shortHash(string(body)), CreateTime: now, UpdateTime: now}
			old, err := tx.Rule(Contracts.table, c.ID)
			switch {
			case errors.Is(err, ErrRuleNotFound):
				rr.Outcome = catalog.RowCreated
			case err != nil:
				return err
			case old.Etag == row.Etag:
				rr.Outcome = catalog.RowUnchanged
			default:
				rr.Outcome, row.CreateTime = catalog.RowUpdated, old.CreateTime
			}
			res.Add(rr)
			replaceIn(Contracts, &published, c)
			if rr.Outcome != catalog.RowUnchanged {
				puts = append(puts, row)
				customers = append(customers, c.CustomerID)
			}
		}
		if res.PriceVersion, err = tx.PriceVersion(); err != nil || req.ValidateOnly {
			return err
		}
		for _, row := range puts {
			if err := tx.PutRule(Contracts.table, row); err != nil {
				return err
			}
		}
		if len(puts) > 0 {
			if err := validateSnapshot(published); err != nil {
				return err
			}
			ev := PricesChanged{EffectiveTime: now, RuleKinds: []RuleKind{RuleCustomerContract}, AllSKUs: true}
			for _, r := range puts {
				ev.Rules = append(ev.Rules, "customerContracts/"+r.ID)
			}
			if len(ev.Rules) > 100 {
				ev.Rules = ev.Rules[:100]
			}
			if len(customers) <= 100 && !contains(customers, "") {
				ev.CustomerIDs = customers
			}
			if res.PriceVersion, err = publishSnapshot(tx, published, ev); err != nil {
				return err
			}
			if err := tx.AppendAudit(catalog.AuditRecord{Action: "pricing.import_contracts", Resource: "customerContracts", Actor: req.Actor,
				After: map[string]any{"price_version": res.PriceVersion, "request_id": req.RequestID, "source": req.Source,
					"created": res.Created, "updated": res.Updated, "rejected": res.Rejected}}); err != nil {
				return err
			}
		}
		return catalog.Remember(tx, "import_contracts", req.RequestID, hash, res)
	})
	if err != nil {
		return ImportContractsResult{}, fmt.Errorf("import contracts: %w", err)
	}
	s.eventsCommitted()
	return res, nil
}

// PromotionUsage returns the live redemptions of every promotion (totals).
func (s *Service) PromotionUsage(ctx context.Context) (map[string]Usage, error) {
	return s.store.Usage(ctx, "")
}
