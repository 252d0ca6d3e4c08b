package erpsync

import (
	"context"
	"errors"
	"log/slog"

	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// RulesResult summarises the pricing rules of one sync.
type RulesResult struct {
	Contracts pricing.ImportContractsResult
	// Staged counts channel rules and promotions written to the draft;
	// Rejected those the pricing domain refused (logged); Skipped those
	// the engine cannot represent.
	Staged, Rejected, Skipped int
	// Published is the rule publication of the staged rules.
	Published pricing.PublishResult
}

// importRules imports the export's customer contracts (one import,
// published as one price version, rows rejected one by one) and stages
// its channel rules and promotions, then publishes them together. A rule
// the domain refuses is logged and counted, not fatal: one bad ERP record
// must not stop the others.
func (s *Syncer) importRules(ctx context.Context, run string, pe PriceExport) (RulesResult, error) {
	res := RulesResult{Skipped: pe.RulesSkipped}
	if len(pe.Contracts) > 0 {
		req := pricing.ImportContractsRequest{RequestID: "erp-sync:" + run + ":contracts", Source: "erp:" + pe.ExportID, Actor: erpActor}
		for i, c := range pe.Contracts {
			req.Rows = append(req.Rows, pricing.ContractRow{RowNumber: int64(i + 1), Contract: c})
		}
		r, err := s.pricing.ImportContracts(ctx, req)
		if err != nil {
			return res, err
		}
		res.Contracts = r
	}
	refused := func(err error, kind, id string) bool {
		var inv *pricing.InvalidRuleError
		var conflict *pricing.RuleConflictError
		if errors.As(err, &inv) || errors.As(err, &conflict) || errors.Is(err, pricing.ErrInvalidEffectiveWindow) {
			s.log.WarnContext(ctx, "erp pricing rule rejected", slog.String("kind", kind), slog.String("id", id), slog.Any("error", err))
			res.Rejected++
			return true
		}
		return false
	}
	for _, r := range pe.ChannelRules {
		_, err := pricing.ChannelRules.Upsert(ctx, s.pricing, pricing.UpsertRuleRequest[pricing.ChannelRule]{
			RequestID: "erp-sync:" + run + ":rule:" + r.ID, Rule: r, AllowMissing: true, Draft: true, Actor: erpActor})
		if err != nil && !refused(err, "channel_rule", r.ID) {
			return res, err
		}
		if err == nil {
			res.Staged++
		}
	}
	for _, p := range pe.Promotions {
		_, err := pricing.Promotions.Upsert(ctx, s.pricing, pricing.UpsertRuleRequest[pricing.Promotion]{
			RequestID: "erp-sync:" + run + ":promotion:" + p.ID, Rule: p, AllowMissing: true, Draft: true, Actor: erpActor})
		if err != nil && !refused(err, "promotion", p.ID) {
			return res, err
		}
		if err == nil {
			res.Staged++
		}
	}
	if res.Staged == 0 {
		return res, nil
	}
	pub, err := s.pricing.PublishRules(ctx, "erp-sync:"+run+":publish-rules", false, erpActor)
	if err != nil && !refused(err, "rule_set", "draft") {
		return res, err
	}
	res.Published = pub
	return res, nil
}
