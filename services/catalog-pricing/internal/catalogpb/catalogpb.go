// Package catalogpb converts catalog-pricing's domain values to the
// transload.catalog.v1 messages that both the gRPC API (grpcapi) and the
// events the store writes to the outbox carry, so each mapping is written
// once.
package catalogpb

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

var ruleKinds = map[pricing.RuleKind]catalogv1.RuleKind{
	pricing.RuleListPrice:        catalogv1.RuleKind_RULE_KIND_LIST_PRICE,
	pricing.RuleQuantityBreak:    catalogv1.RuleKind_RULE_KIND_QUANTITY_BREAK,
	pricing.RuleCustomerContract: catalogv1.RuleKind_RULE_KIND_CUSTOMER_CONTRACT,
	pricing.RuleChannelRule:      catalogv1.RuleKind_RULE_KIND_CHANNEL_RULE,
	pricing.RulePromotion:        catalogv1.RuleKind_RULE_KIND_PROMOTION,
}

// RuleKind returns the catalog.v1 rule kind of k (UNSPECIFIED for
// pricing.RuleUnspecified).
func RuleKind(k pricing.RuleKind) catalogv1.RuleKind { return ruleKinds[k] }

// CatalogPublished returns the event announcing ev, carrying md (the
// metadata the outbox assigned).
func CatalogPublished(md *commonv1.EventMetadata, ev catalog.PublishedEvent) *catalogv1.CatalogPublishedEvent {
	v := ev.Version
	return &catalogv1.CatalogPublishedEvent{
		Metadata: md,
		Version:  v.Number, PreviousVersion: v.PreviousVersion, PublishTime: timestamppb.New(v.PublishTime),
		ProductCount: v.ProductCount, SellableProductCount: v.SellableCount, AddedCount: v.AddedCount,
		ChangedCount: v.ChangedCount, RemovedCount: v.RemovedCount, Checksum: v.Checksum,
		ChangedSkus: ev.ChangedSKUs, ChangedSkusTruncated: ev.Truncated,
	}
}

// PricesChanged returns the event announcing ev, carrying md (the
// metadata the outbox assigned).
func PricesChanged(md *commonv1.EventMetadata, ev pricing.PricesChanged) *catalogv1.PricesChangedEvent {
	msg := &catalogv1.PricesChangedEvent{
		Metadata:     md,
		PriceVersion: ev.PriceVersion, EffectiveTime: timestamppb.New(ev.EffectiveTime),
		Rules: ev.Rules, Skus: ev.SKUs, AllSkus: ev.AllSKUs, CustomerIds: ev.CustomerIDs,
	}
	for _, k := range ev.RuleKinds {
		msg.RuleKinds = append(msg.RuleKinds, RuleKind(k))
	}
	return msg
}
