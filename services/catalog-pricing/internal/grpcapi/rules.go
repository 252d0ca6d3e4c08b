package grpcapi

import (
	"context"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// The filters of the three rule lists (AIP-160 through platform/aip).
var (
	contractFilter = aip.Schema{
		{Name: "customer_id", Check: check(func(s string) bool { return s != "" }, "customer_id must not be empty")},
		{Name: "currency_code", Check: check(validCurrency, "currency_code must be an ISO 4217 code")},
		{Name: "active_time", Kind: aip.KindTime},
	}
	channelRuleFilter = aip.Schema{
		{Name: "channel", Check: check(catalog.ValidChannel, "channel must be a channel code")},
		{Name: "active_time", Kind: aip.KindTime},
	}
	promotionFilter = aip.Schema{
		{Name: "code", Check: check(func(s string) bool { return s != "" }, "code must not be empty")},
		{Name: "channel", Check: check(catalog.ValidChannel, "channel must be a channel code")},
		{Name: "trigger", Kind: aip.KindEnum, Enum: catalogv1.Promotion_Trigger_value, EnumPrefix: "TRIGGER_"},
		{Name: "active_time", Kind: aip.KindTime},
	}
)

// activeAt returns the active_time of f (zero: none).
func activeAt(f aip.Filter) time.Time {
	v, _ := f.Find("active_time", aip.OpEq)
	return v.Time
}

// fullMask rejects partial update masks: updates replace the whole rule.
func fullMask(m *fieldmaskpb.FieldMask) error {
	if paths := m.GetPaths(); len(paths) > 0 && (len(paths) != 1 || paths[0] != "*") {
		return apierr.InvalidArgument("only full replacement is supported", apierr.FieldViolation{
			Field: "update_mask", Reason: "UNSUPPORTED", Description: `send an empty mask or "*"`})
	}
	return nil
}

// ruleAPI is the generic Get/List/Update/Delete of one rule kind: the
// conversions and the filter are all that differ between the three.
type ruleAPI[T any, P any] struct {
	kind    *pricing.RuleKindOf[T]
	prefix  string
	method  string
	schema  aip.Schema
	keep    func(aip.Filter, T) bool
	toProto func(T) P
	id      func(T) string
}

func (a ruleAPI[T, P]) get(ctx context.Context, s *PricingServer, name string) (P, error) {
	v, err := a.kind.Get(ctx, s.svc, strings.TrimPrefix(name, a.prefix))
	if err != nil {
		var zero P
		return zero, s.fail(ctx, err)
	}
	return a.toProto(v), nil
}

func (a ruleAPI[T, P]) list(ctx context.Context, s *PricingServer, filter, token string, size int32) ([]P, string, error) {
	f, err := a.schema.Parse(filter)
	if err != nil {
		return nil, "", s.fail(ctx, err)
	}
	q := aip.Query{Method: a.method, Filter: filter}
	vs, next, err := keysetList(q, token, size, a.id, func(after string, limit int) ([]T, error) {
		return a.kind.List(ctx, s.svc, func(v T) bool { return a.keep(f, v) }, after, limit)
	})
	if err != nil {
		return nil, "", s.fail(ctx, err)
	}
	out := make([]P, 0, len(vs))
	for _, v := range vs {
		out = append(out, a.toProto(v))
	}
	return out, next, nil
}

func (a ruleAPI[T, P]) update(ctx context.Context, s *PricingServer, v T, etag string, mask *fieldmaskpb.FieldMask,
	allowMissing, validateOnly, draft bool, requestID string) (P, error) {
	var zero P
	if err := fullMask(mask); err != nil {
		return zero, err
	}
	out, err := a.kind.Upsert(ctx, s.svc, pricing.UpsertRuleRequest[T]{RequestID: requestID, Rule: v, AllowMissing: allowMissing,
		ValidateOnly: validateOnly, ExpectedEtag: etag, Draft: draft, Actor: actor(ctx)})
	if err != nil {
		return zero, s.fail(ctx, err)
	}
	return a.toProto(out), nil
}

func (a ruleAPI[T, P]) delete(ctx context.Context, s *PricingServer, name, etag string, allowMissing, draft bool, requestID string) (*emptypb.Empty, error) {
	err := a.kind.Delete(ctx, s.svc, pricing.DeleteRuleRequest{RequestID: requestID, ID: strings.TrimPrefix(name, a.prefix),
		ExpectedEtag: etag, AllowMissing: allowMissing, Draft: draft, Actor: actor(ctx)})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &emptypb.Empty{}, nil
}

var contractAPI = ruleAPI[pricing.Contract, *catalogv1.CustomerContract]{
	kind: pricing.Contracts, prefix: "customerContracts/", method: catalogv1.PricingService_ListCustomerContracts_FullMethodName,
	schema: contractFilter, toProto: contractToProto, id: func(c pricing.Contract) string { return c.ID },
	keep: func(f aip.Filter, c pricing.Contract) bool {
		if v := text(f, "customer_id"); v != "" && v != c.CustomerID {
			return false
		}
		if v := text(f, "currency_code"); v != "" && v != c.Currency {
			return false
		}
		t := activeAt(f)
		return t.IsZero() || c.Window.At(t)
	},
}

var channelRuleAPI = ruleAPI[pricing.ChannelRule, *catalogv1.ChannelRule]{
	kind: pricing.ChannelRules, prefix: "channelRules/", method: catalogv1.PricingService_ListChannelRules_FullMethodName,
	schema: channelRuleFilter, toProto: channelRuleToProto, id: func(r pricing.ChannelRule) string { return r.ID },
	keep: func(f aip.Filter, r pricing.ChannelRule) bool {
		if v := text(f, "channel"); v != "" && v != r.Channel {
			return false
		}
		t := activeAt(f)
		return t.IsZero() || r.Window.At(t)
	},
}

func promotionAPI(usage map[string]pricing.Usage) ruleAPI[pricing.Promotion, *catalogv1.Promotion] {
	return ruleAPI[pricing.Promotion, *catalogv1.Promotion]{
		kind: pricing.Promotions, prefix: "promotions/", method: catalogv1.PricingService_ListPromotions_FullMethodName,
		schema: promotionFilter, id: func(p pricing.Promotion) string { return p.ID },
		toProto: func(p pricing.Promotion) *catalogv1.Promotion { return promotionToProto(p, usage[p.ID].Total) },
		keep: func(f aip.Filter, p pricing.Promotion) bool {
			if v := text(f, "code"); v != "" && !strings.EqualFold(v, p.Code) {
				return false
			}
			if v := text(f, "channel"); v != "" && len(p.Channels) > 0 && !slices.Contains(p.Channels, v) {
				return false
			}
			if v, ok := f.Find("trigger", aip.OpEq); ok && (catalogv1.Promotion_Trigger(v.Enum) == catalogv1.Promotion_TRIGGER_CODE) != (p.Code != "") {
				return false
			}
			t := activeAt(f)
			return t.IsZero() || p.Window.At(t)
		},
	}
}

// promotions is promotionAPI with the current redemption counts.
func (s *PricingServer) promotions(ctx context.Context) (ruleAPI[pricing.Promotion, *catalogv1.Promotion], error) {
	u, err := s.svc.PromotionUsage(ctx)
	return promotionAPI(u), err
}

// GetCustomerContract implements PricingService.GetCustomerContract.
func (s *PricingServer) GetCustomerContract(ctx context.Context, req *catalogv1.GetCustomerContractRequest) (*catalogv1.CustomerContract, error) {
	return contractAPI.get(ctx, s, req.GetName())
}

// ListCustomerContracts implements PricingService.ListCustomerContracts.
func (s *PricingServer) ListCustomerContracts(ctx context.Context, req *catalogv1.ListCustomerContractsRequest) (*catalogv1.ListCustomerContractsResponse, error) {
	cs, next, err := contractAPI.list(ctx, s, req.GetFilter(), req.GetPageToken(), req.GetPageSize())
	if err != nil {
		return nil, err
	}
	return &catalogv1.ListCustomerContractsResponse{CustomerContracts: cs, NextPageToken: next}, nil
}

// UpdateCustomerContract implements PricingService.UpdateCustomerContract
// as a full replacement.
func (s *PricingServer) UpdateCustomerContract(ctx context.Context, req *catalogv1.UpdateCustomerContractRequest) (*catalogv1.CustomerContract, error) {
	c := req.GetCustomerContract()
	return contractAPI.update(ctx, s, contractFromProto(c), c.GetEtag(), req.GetUpdateMask(), req.GetAllowMissing(),
		req.GetValidateOnly(), req.GetDraft(), req.GetRequestId())
}

// DeleteCustomerContract implements PricingService.DeleteCustomerContract.
func (s *PricingServer) DeleteCustomerContract(ctx context.Context, req *catalogv1.DeleteCustomerContractRequest) (*emptypb.Empty, error) {
	return contractAPI.delete(ctx, s, req.GetName(), req.GetEtag(), req.GetAllowMissing(), req.GetDraft(), req.GetRequestId())
}

// GetChannelRule implements PricingService.GetChannelRule.
func (s *PricingServer) GetChannelRule(ctx context.Context, req *catalogv1.GetChannelRuleRequest) (*catalogv1.ChannelRule, error) {
	return channelRuleAPI.get(ctx, s, req.GetName())
}

// ListChannelRules implements PricingService.ListChannelRules.
func (s *PricingServer) ListChannelRules(ctx context.Context, req *catalogv1.ListChannelRulesRequest) (*catalogv1.ListChannelRulesResponse, error) {
	rs, next, err := channelRuleAPI.list(ctx, s, req.GetFilter(), req.GetPageToken(), req.GetPageSize())
	if err != nil {
		return nil, err
	}
	return &catalogv1.ListChannelRulesResponse{ChannelRules: rs, NextPageToken: next}, nil
}

// UpdateChannelRule implements PricingService.UpdateChannelRule as a full
// replacement.
func (s *PricingServer) UpdateChannelRule(ctx context.Context, req *catalogv1.UpdateChannelRuleRequest) (*catalogv1.ChannelRule, error) {
	r := req.GetChannelRule()
	return channelRuleAPI.update(ctx, s, channelRuleFromProto(r), r.GetEtag(), req.GetUpdateMask(), req.GetAllowMissing(),
		req.GetValidateOnly(), req.GetDraft(), req.GetRequestId())
}

// DeleteChannelRule implements PricingService.DeleteChannelRule.
func (s *PricingServer) DeleteChannelRule(ctx context.Context, req *catalogv1.DeleteChannelRuleRequest) (*emptypb.Empty, error) {
	return channelRuleAPI.delete(ctx, s, req.GetName(), req.GetEtag(), req.GetAllowMissing(), req.GetDraft(), req.GetRequestId())
}

// GetPromotion implements PricingService.GetPromotion.
func (s *PricingServer) GetPromotion(ctx context.Context, req *catalogv1.GetPromotionRequest) (*catalogv1.Promotion, error) {
	api, err := s.promotions(ctx)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return api.get(ctx, s, req.GetName())
}

// ListPromotions implements PricingService.ListPromotions.
func (s *PricingServer) ListPromotions(ctx context.Context, req *catalogv1.ListPromotionsRequest) (*catalogv1.ListPromotionsResponse, error) {
	api, err := s.promotions(ctx)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	ps, next, err := api.list(ctx, s, req.GetFilter(), req.GetPageToken(), req.GetPageSize())
	if err != nil {
		return nil, err
	}
	return &catalogv1.ListPromotionsResponse{Promotions: ps, NextPageToken: next}, nil
}

// UpdatePromotion implements PricingService.UpdatePromotion as a full
// replacement.
func (s *PricingServer) UpdatePromotion(ctx context.Context, req *catalogv1.UpdatePromotionRequest) (*catalogv1.Promotion, error) {
	p := req.GetPromotion()
	v, err := promotionFromProto(p)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	api, err := s.promotions(ctx)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return api.update(ctx, s, v, p.GetEtag(), req.GetUpdateMask(), req.GetAllowMissing(), req.GetValidateOnly(), req.GetDraft(), req.GetRequestId())
}

// DeletePromotion implements PricingService.DeletePromotion.
func (s *PricingServer) DeletePromotion(ctx context.Context, req *catalogv1.DeletePromotionRequest) (*emptypb.Empty, error) {
	return promotionAPI(nil).delete(ctx, s, req.GetName(), req.GetEtag(), req.GetAllowMissing(), req.GetDraft(), req.GetRequestId())
}

func publishToProto(r pricing.PublishResult) *catalogv1.PublishPriceRulesResponse {
	return &catalogv1.PublishPriceRulesResponse{PriceVersion: r.PriceVersion, Created: r.Created,
		CustomerContractCount: r.Contracts, ChannelRuleCount: r.ChannelRules, PromotionCount: r.Promotions}
}

// PublishPriceRules implements PricingService.PublishPriceRules.
func (s *PricingServer) PublishPriceRules(ctx context.Context, req *catalogv1.PublishPriceRulesRequest) (*catalogv1.PublishPriceRulesResponse, error) {
	res, err := s.svc.PublishRules(ctx, req.GetRequestId(), req.GetValidateOnly(), actor(ctx))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return publishToProto(res), nil
}

// RepublishPriceRules implements PricingService.RepublishPriceRules.
func (s *PricingServer) RepublishPriceRules(ctx context.Context, req *catalogv1.RepublishPriceRulesRequest) (*catalogv1.PublishPriceRulesResponse, error) {
	res, err := s.svc.RepublishRules(ctx, req.GetRequestId(), req.GetPriceVersion(), actor(ctx))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return publishToProto(res), nil
}

// ImportCustomerContracts implements PricingService.ImportCustomerContracts:
// each row's contract is validated with protovalidate here (rows are
// exempt from request validation) and by the domain, so a bad row is
// REJECTED with its field and the others applied.
func (s *PricingServer) ImportCustomerContracts(ctx context.Context, req *catalogv1.ImportCustomerContractsRequest) (*catalogv1.ImportCustomerContractsResponse, error) {
	in := pricing.ImportContractsRequest{RequestID: req.GetRequestId(), Source: req.GetSource(), ValidateOnly: req.GetValidateOnly(), Actor: actor(ctx)}
	for _, r := range req.GetRows() {
		row := pricing.ContractRow{RowNumber: r.GetRowNumber(), Contract: contractFromProto(r.GetCustomerContract())}
		if r.GetCustomerContract() == nil {
			row.Invalid = &catalog.FieldError{Field: "customer_contract", Message: "required"}
		} else if err := s.validator.Validate(r.GetCustomerContract()); err != nil {
			fe := rowViolation(err)
			fe.Field = "customer_contract." + strings.TrimPrefix(fe.Field, "product.")
			row.Invalid = fe
		}
		in.Rows = append(in.Rows, row)
	}
	res, err := s.svc.ImportContracts(ctx, in)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &catalogv1.ImportCustomerContractsResponse{Results: rowResultsToProto(res.Results), CreatedCount: res.Created,
		UpdatedCount: res.Updated, UnchangedCount: res.Unchanged, RejectedCount: res.Rejected, PriceVersion: res.PriceVersion}, nil
}
