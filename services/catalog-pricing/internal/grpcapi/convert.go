package grpcapi

import (
	"context"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/catalogpb"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// Conversions between catalog.v1 messages and the domain types. Pure
// functions; no validation beyond what the shape needs.

// unknownCaller is the actor of a call that names nobody.
var unknownCaller = opsevents.Service("unknown")

// actor returns the caller the gateway names in opsevents.ActorHeader
// ("kind:id", e.g. "api_key:k1") for the audit trail, or an unknown
// service. A caller without an id names nobody the trail could find.
func actor(ctx context.Context) catalog.Actor {
	a := opsevents.ActorFromIncoming(ctx, unknownCaller)
	if a.ID == "" {
		a = unknownCaller
	}
	return catalog.Actor{Kind: a.Kind, ID: a.ID}
}

func skuFromName(name string) string { return strings.TrimPrefix(name, "products/") }

// statuses is the one table of product statuses between the catalog and
// catalog.v1 (both directions read it; UNSPECIFIED is the zero of both).
var statuses = map[catalog.Status]catalogv1.ProductStatus{
	catalog.StatusDraft:        catalogv1.ProductStatus_PRODUCT_STATUS_DRAFT,
	catalog.StatusActive:       catalogv1.ProductStatus_PRODUCT_STATUS_ACTIVE,
	catalog.StatusOnHold:       catalogv1.ProductStatus_PRODUCT_STATUS_ON_HOLD,
	catalog.StatusDiscontinued: catalogv1.ProductStatus_PRODUCT_STATUS_DISCONTINUED,
}

func statusToProto(s catalog.Status) catalogv1.ProductStatus { return statuses[s] }

func statusFromProto(pb catalogv1.ProductStatus) catalog.Status {
	for s, p := range statuses {
		if p == pb {
			return s
		}
	}
	return catalog.StatusUnspecified
}

func productToProto(p catalog.Product, version int64) *catalogv1.Product {
	out := &catalogv1.Product{
		Name: "products/" + p.SKU, Sku: p.SKU, Title: p.Title, Description: p.Description, Brand: p.Brand,
		Category: p.Category, BaseUnit: p.BaseUnit, PackSize: max(p.PackSize, 1), Status: statusToProto(p.Status),
		Channels: p.Channels, WeightGrams: p.WeightGrams, Gtin: p.GTIN,
		CatalogVersion: catalog.VersionName(version), Etag: p.Etag,
	}
	for _, a := range p.Attributes {
		out.Attributes = append(out.Attributes, &catalogv1.ProductAttribute{Key: a.Key, Value: a.Value})
	}
	if !p.UpdateTime.IsZero() {
		out.UpdateTime = timestamppb.New(p.UpdateTime)
	}
	return out
}

// productFromProto converts an import row's product; output-only fields are
// ignored. The row's protovalidate check (ImportProducts) rejects a name
// that is not "products/{sku}".
func productFromProto(p *catalogv1.Product) catalog.Product {
	sku := strings.TrimPrefix(p.GetName(), "products/")
	out := catalog.Product{
		SKU: sku, Title: p.GetTitle(), Description: p.GetDescription(), Brand: p.GetBrand(), Category: p.GetCategory(),
		BaseUnit: p.GetBaseUnit(), PackSize: p.GetPackSize(), Status: statusFromProto(p.GetStatus()),
		Channels: p.GetChannels(), WeightGrams: p.GetWeightGrams(), GTIN: p.GetGtin(),
	}
	if p.GetStatus() != catalogv1.ProductStatus_PRODUCT_STATUS_UNSPECIFIED && out.Status == catalog.StatusUnspecified {
		out.Status = catalog.Status(-1) // undefined enum value: rejected by Validate
	}
	for _, a := range p.GetAttributes() {
		out.Attributes = append(out.Attributes, catalog.Attribute{Key: a.GetKey(), Value: a.GetValue()})
	}
	return out
}

func versionToProto(v catalog.Version) *catalogv1.CatalogVersion {
	out := &catalogv1.CatalogVersion{
		Name: catalog.VersionName(v.Number), Version: v.Number, State: catalogv1.CatalogVersion_STATE_PUBLISHED,
		PreviousVersion: v.PreviousVersion, ProductCount: v.ProductCount, SellableProductCount: v.SellableCount,
		AddedCount: v.AddedCount, ChangedCount: v.ChangedCount, RemovedCount: v.RemovedCount,
		Checksum: v.Checksum, Note: v.Note,
	}
	if v.Draft {
		out.State = catalogv1.CatalogVersion_STATE_DRAFT
	} else {
		out.PublishTime = timestamppb.New(v.PublishTime)
	}
	if v.Publisher != (catalog.Actor{}) {
		out.Publisher = &commonv1.AuditActor{Kind: v.Publisher.Kind, Id: v.Publisher.ID}
	}
	return out
}

var rowReasons = map[catalog.RowReason]catalogv1.ErrorReason{
	catalog.ReasonRowInvalid:            catalogv1.ErrorReason_ERROR_REASON_IMPORT_ROW_INVALID,
	catalog.ReasonAlreadyExists:         catalogv1.ErrorReason_ERROR_REASON_PRODUCT_ALREADY_EXISTS,
	catalog.ReasonProductNotFound:       catalogv1.ErrorReason_ERROR_REASON_PRODUCT_NOT_FOUND,
	catalog.ReasonCurrencyMismatch:      catalogv1.ErrorReason_ERROR_REASON_CURRENCY_MISMATCH,
	catalog.ReasonInvalidQuantityBreaks: catalogv1.ErrorReason_ERROR_REASON_INVALID_QUANTITY_BREAKS,
}

var rowOutcomes = map[catalog.RowOutcome]catalogv1.ImportRowOutcome{
	catalog.RowCreated:   catalogv1.ImportRowOutcome_IMPORT_ROW_OUTCOME_CREATED,
	catalog.RowUpdated:   catalogv1.ImportRowOutcome_IMPORT_ROW_OUTCOME_UPDATED,
	catalog.RowUnchanged: catalogv1.ImportRowOutcome_IMPORT_ROW_OUTCOME_UNCHANGED,
	catalog.RowRejected:  catalogv1.ImportRowOutcome_IMPORT_ROW_OUTCOME_REJECTED,
}

func rowResultsToProto(rs []catalog.RowResult) []*catalogv1.ImportRowResult {
	out := make([]*catalogv1.ImportRowResult, 0, len(rs))
	for _, r := range rs {
		out = append(out, &catalogv1.ImportRowResult{
			RowNumber: r.RowNumber, Sku: r.SKU, Outcome: rowOutcomes[r.Outcome], Reason: rowReasons[r.Reason],
			Field: r.Field, Message: r.Message,
		})
	}
	return out
}

func importModeFromProto(m catalogv1.ImportMode) catalog.ImportMode {
	switch m {
	case catalogv1.ImportMode_IMPORT_MODE_CREATE_ONLY:
		return catalog.ModeCreateOnly
	case catalogv1.ImportMode_IMPORT_MODE_REPLACE_ALL:
		return catalog.ModeReplaceAll
	case catalogv1.ImportMode_IMPORT_MODE_UPSERT, catalogv1.ImportMode_IMPORT_MODE_UNSPECIFIED:
	}
	return catalog.ModeUpsert
}

func money(minor int64, currency string) *commonv1.Money {
	return &commonv1.Money{AmountMinor: minor, CurrencyCode: currency}
}

var outcomesToProto = map[pricing.Outcome]catalogv1.PriceCandidate_Outcome{
	pricing.OutcomeWon:           catalogv1.PriceCandidate_OUTCOME_WON,
	pricing.OutcomeApplied:       catalogv1.PriceCandidate_OUTCOME_APPLIED,
	pricing.OutcomeBeaten:        catalogv1.PriceCandidate_OUTCOME_BEATEN,
	pricing.OutcomeNotApplicable: catalogv1.PriceCandidate_OUTCOME_NOT_APPLICABLE,
}

func ruleToProto(r pricing.Rule) *catalogv1.PriceRule {
	return &catalogv1.PriceRule{Kind: catalogpb.RuleKind(r.Kind), Rule: r.Name, Explanation: r.Explanation}
}

func quoteRequestFromProto(req *catalogv1.QuotePricesRequest) pricing.QuoteRequest {
	out := pricing.QuoteRequest{
		CustomerID: req.GetCustomerId(), CustomerGroup: req.GetCustomerGroup(), Channel: req.GetChannel(), Currency: req.GetCurrencyCode(),
		PromotionCodes: req.GetPromotionCodes(), AllowPartial: req.GetAllowPartial(),
	}
	if req.GetPriceTime() != nil {
		out.PriceTime = req.GetPriceTime().AsTime()
	}
	for _, l := range req.GetLines() {
		out.Lines = append(out.Lines, pricing.QuoteRequestLine{SKU: l.GetSku(), Quantity: l.GetQuantity()})
	}
	return out
}

// quoteToProto renders q; summary leaves out every line's candidates
// (QUOTE_VIEW_SUMMARY).
func quoteToProto(q pricing.Quote, summary bool) *catalogv1.QuotePricesResponse {
	out := &catalogv1.QuotePricesResponse{
		ListTotal: money(q.ListTotal, q.Currency), Total: money(q.Total, q.Currency),
		PriceVersion: q.PriceVersion, CatalogVersion: q.CatalogVersion, Etag: q.Etag,
		PriceTime: timestamppb.New(q.PriceTime), ExpireTime: timestamppb.New(q.ExpireTime),
	}
	for _, id := range q.Promotions {
		out.AppliedPromotions = append(out.AppliedPromotions, "promotions/"+id)
	}
	for _, is := range q.CodeIssues {
		out.PromotionCodeIssues = append(out.PromotionCodeIssues, &catalogv1.PromotionCodeIssue{
			Code: is.Code, Reason: codeIssues[is.Reason], Message: is.Reason.String()})
	}
	for _, l := range q.Lines {
		pl := &catalogv1.QuoteLine{LineIndex: int32(l.Index), Sku: l.SKU, Quantity: l.Quantity}
		if l.Reason != pricing.LineOK {
			pl.ErrorReason = lineReasons[l.Reason].reason
			out.Lines = append(out.Lines, pl)
			continue
		}
		pl.UnitPrice = money(l.UnitMinor, q.Currency)
		pl.ExtendedPrice = money(l.Extended, q.Currency)
		pl.ListPrice = money(l.ListMinor, q.Currency)
		pl.WinningRule = ruleToProto(l.Winning)
		if summary {
			out.Lines = append(out.Lines, pl)
			continue
		}
		pl.Candidates = make([]*catalogv1.PriceCandidate, 0, len(l.Candidates))
		for _, c := range l.Candidates {
			pc := &catalogv1.PriceCandidate{Rule: ruleToProto(c.Rule), Outcome: outcomesToProto[c.Outcome], LossReason: lossReasons[c.Lost]}
			if c.HasPrice {
				pc.UnitPrice = money(c.UnitMinor, q.Currency)
			}
			pl.Candidates = append(pl.Candidates, pc)
		}
		out.Lines = append(out.Lines, pl)
	}
	return out
}

func priceListToProto(l pricing.PriceList) *catalogv1.PriceList {
	out := &catalogv1.PriceList{
		Name: l.Name(), DisplayName: l.DisplayName, CurrencyCode: l.Currency, Channel: l.Channel, Priority: l.Priority,
		PriceCount: l.PriceCount, Etag: l.Etag, CreateTime: timestamppb.New(l.CreateTime), UpdateTime: timestamppb.New(l.UpdateTime),
	}
	if !l.StartTime.IsZero() {
		out.StartTime = timestamppb.New(l.StartTime)
	}
	if !l.EndTime.IsZero() {
		out.EndTime = timestamppb.New(l.EndTime)
	}
	return out
}

func priceListFromProto(p *catalogv1.PriceList) pricing.PriceList {
	out := pricing.PriceList{
		ID: strings.TrimPrefix(p.GetName(), "priceLists/"), DisplayName: p.GetDisplayName(), Currency: p.GetCurrencyCode(),
		Channel: p.GetChannel(), Priority: p.GetPriority(),
	}
	if p.GetStartTime() != nil {
		out.StartTime = p.GetStartTime().AsTime().UTC()
	}
	if p.GetEndTime() != nil {
		out.EndTime = p.GetEndTime().AsTime().UTC()
	}
	return out
}

func priceToProto(p pricing.Price) *catalogv1.Price {
	out := &catalogv1.Price{
		Name: p.Name(), Sku: p.SKU, UnitPrice: money(p.UnitMinor, p.Currency), Etag: p.Etag,
		UpdateTime: timestamppb.New(p.UpdateTime),
	}
	for _, b := range p.Breaks {
		out.QuantityBreaks = append(out.QuantityBreaks, &catalogv1.QuantityBreak{MinQuantity: b.MinQuantity, UnitPrice: money(b.UnitMinor, p.Currency)})
	}
	if p.HasCost {
		out.CostPrice = money(p.CostMinor, p.Currency)
	}
	return out
}
