package grpcapi

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/aip"
)

// Pure conversions between the process APIs and storefront.v1.

// filterEq is the term `field = "value"` of a filter the gateway sends a
// neighbour; quoted (aip.Quote, not strconv.Quote) so that the neighbour's
// AIP-160 parser reads any value back as written.
func filterEq(field, value string) aip.Term {
	return aip.Term{Field: field, Op: aip.OpEq, Value: aip.Value{Text: value, Quoted: true}}
}

func cloneMoney(m *commonv1.Money) *commonv1.Money {
	if m == nil {
		return nil
	}
	return proto.Clone(m).(*commonv1.Money)
}

func money(amount int64, currency string) *commonv1.Money {
	return &commonv1.Money{AmountMinor: amount, CurrencyCode: currency}
}

// sameName maps an enum value to the value of the same name in an enum
// that mirrors its names, such as storefront.v1's copies of order.v1 and
// catalog.v1 enums, whose numbers differ; values is the target's generated
// _value map. A name the target lacks maps to 0, its UNSPECIFIED. The
// parity tests fail when two mirrored enums drift apart.
func sameName[T ~int32](values map[string]int32, v fmt.Stringer) T {
	return T(values[v.String()])
}

// ruleKindToProto maps a pricing rule kind to the storefront's.
func ruleKindToProto(k catalogv1.RuleKind) storefrontv1.PriceExplanation_RuleKind {
	return sameName[storefrontv1.PriceExplanation_RuleKind](storefrontv1.PriceExplanation_RuleKind_value, k)
}

// explanationToProto explains a priced line: the winning rule, and the
// list price for a strike-through display unless the list price won.
func explanationToProto(rule *catalogv1.PriceRule, listUnit *commonv1.Money) *storefrontv1.PriceExplanation {
	if rule == nil {
		return nil
	}
	e := &storefrontv1.PriceExplanation{
		RuleKind: ruleKindToProto(rule.GetKind()),
		RuleId:   rule.GetRule(),
		Summary:  rule.GetExplanation(),
	}
	if e.RuleKind != storefrontv1.PriceExplanation_RULE_KIND_LIST_PRICE {
		e.ListUnitPrice = cloneMoney(listUnit)
	}
	return e
}

// lineIssueFromPricing maps a pricing line failure to the storefront issue.
// catalog.v1's ErrorReason also names call failures (import rows, price
// lists, publications) that never stand on a quote line, so the switch
// looks at the line reasons only; any other reason, a line reason pricing
// adds later included, means the line has no usable price.
func lineIssueFromPricing(r catalogv1.ErrorReason) storefrontv1.LineIssue {
	//exhaustive:ignore
	switch r {
	case catalogv1.ErrorReason_ERROR_REASON_UNSPECIFIED:
		return storefrontv1.LineIssue_LINE_ISSUE_UNSPECIFIED
	case catalogv1.ErrorReason_ERROR_REASON_PRODUCT_NOT_FOUND:
		return storefrontv1.LineIssue_LINE_ISSUE_UNKNOWN_SKU
	case catalogv1.ErrorReason_ERROR_REASON_PRODUCT_NOT_SELLABLE:
		return storefrontv1.LineIssue_LINE_ISSUE_NOT_AVAILABLE_IN_CHANNEL
	case catalogv1.ErrorReason_ERROR_REASON_QUANTITY_NOT_PACK_MULTIPLE:
		return storefrontv1.LineIssue_LINE_ISSUE_QUANTITY_NOT_ORDERABLE
	case catalogv1.ErrorReason_ERROR_REASON_PRICE_NOT_FOUND, catalogv1.ErrorReason_ERROR_REASON_CURRENCY_MISMATCH:
		return storefrontv1.LineIssue_LINE_ISSUE_PRICE_NOT_FOUND
	default:
		return storefrontv1.LineIssue_LINE_ISSUE_PRICE_NOT_FOUND
	}
}

// quoteLineToProto converts a priced line; extra rules that lost are listed
// cheapest first.
func quoteLineToProto(sku string, qty int64, l *catalogv1.QuoteLine) *storefrontv1.QuoteLine {
	out := &storefrontv1.QuoteLine{Sku: sku, Quantity: qty}
	if l == nil {
		out.Issue = storefrontv1.LineIssue_LINE_ISSUE_PRICE_NOT_FOUND
		return out
	}
	if issue := lineIssueFromPricing(l.GetErrorReason()); issue != storefrontv1.LineIssue_LINE_ISSUE_UNSPECIFIED {
		out.Issue = issue
		return out
	}
	out.UnitPrice = cloneMoney(l.GetUnitPrice())
	out.ExtendedPrice = cloneMoney(l.GetExtendedPrice())
	out.WinningRule = explanationToProto(l.GetWinningRule(), l.GetListPrice())
	var beaten []*catalogv1.PriceCandidate
	for _, c := range l.GetCandidates() {
		if c.GetOutcome() == catalogv1.PriceCandidate_OUTCOME_BEATEN && c.GetUnitPrice() != nil {
			beaten = append(beaten, c)
		}
	}
	slices.SortStableFunc(beaten, func(a, b *catalogv1.PriceCandidate) int {
		return compareInt64(a.GetUnitPrice().GetAmountMinor(), b.GetUnitPrice().GetAmountMinor())
	})
	for _, c := range beaten {
		out.OtherRules = append(out.OtherRules, explanationToProto(c.GetRule(), l.GetListPrice()))
	}
	return out
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// catalogVersionString renders a catalog version number for storefront
// responses ("42"); empty when unknown.
func catalogVersionString(v int64) string {
	if v <= 0 {
		return ""
	}
	return strconv.FormatInt(v, 10)
}

// catalogVersionNumber extracts N from "catalogVersions/N".
func catalogVersionNumber(name string) int64 {
	n, err := strconv.ParseInt(strings.TrimPrefix(name, "catalogVersions/"), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// sellableIn reports whether the product can be ordered in channel.
func sellableIn(p *catalogv1.Product, channel string) bool {
	return p.GetStatus() == catalogv1.ProductStatus_PRODUCT_STATUS_ACTIVE && slices.Contains(p.GetChannels(), channel)
}

// visibleIn reports whether the product belongs to channel's assortment
// (orderable or not: discontinued products stay readable).
func visibleIn(p *catalogv1.Product, channel string) bool {
	return slices.Contains(p.GetChannels(), channel) && p.GetStatus() != catalogv1.ProductStatus_PRODUCT_STATUS_DRAFT
}

// productToProto converts a catalog product as channel sees it.
func productToProto(p *catalogv1.Product, channel string, listPrice *commonv1.Money) *storefrontv1.Product {
	pack := max(p.GetPackSize(), 1)
	out := &storefrontv1.Product{
		Name:                 "products/" + p.GetSku(),
		Sku:                  p.GetSku(),
		DisplayName:          p.GetTitle(),
		Description:          p.GetDescription(),
		Category:             p.GetCategory(),
		Brand:                p.GetBrand(),
		Gtin:                 p.GetGtin(),
		Unit:                 p.GetBaseUnit(),
		MinimumOrderQuantity: pack,
		OrderMultiple:        pack,
		ListPrice:            cloneMoney(listPrice),
		Orderable:            sellableIn(p, channel),
		CatalogVersion:       catalogVersionString(catalogVersionNumber(p.GetCatalogVersion())),
		UpdateTime:           p.GetUpdateTime(),
	}
	if len(p.GetAttributes()) > 0 {
		out.Attributes = make(map[string]string, len(p.GetAttributes()))
		for _, a := range p.GetAttributes() {
			out.Attributes[a.GetKey()] = a.GetValue()
		}
	}
	return out
}

// orderStateToProto maps an order state to the storefront's.
func orderStateToProto(s orderv1.Order_State) storefrontv1.Order_State {
	return sameName[storefrontv1.Order_State](storefrontv1.Order_State_value, s)
}

// orderStateFilterValue is the order service's filter value for the
// storefront state s (the order state of the same name without its STATE_
// prefix); "" for a state the order service does not have.
func orderStateFilterValue(s storefrontv1.Order_State) string {
	o := sameName[orderv1.Order_State](orderv1.Order_State_value, s)
	if o == orderv1.Order_STATE_UNSPECIFIED {
		return ""
	}
	return strings.TrimPrefix(o.String(), "STATE_")
}

func rejectionToProto(r orderv1.OrderRejection_Reason) storefrontv1.Order_RejectionReason {
	switch r {
	case orderv1.OrderRejection_REASON_UNSPECIFIED:
		return storefrontv1.Order_REJECTION_REASON_UNSPECIFIED
	case orderv1.OrderRejection_REASON_CUSTOMER_ON_CREDIT_HOLD, orderv1.OrderRejection_REASON_CREDIT_LIMIT_EXCEEDED:
		return storefrontv1.Order_REJECTION_REASON_CREDIT_HOLD
	case orderv1.OrderRejection_REASON_CUSTOMER_BLOCKED:
		return storefrontv1.Order_REJECTION_REASON_CUSTOMER_BLOCKED
	case orderv1.OrderRejection_REASON_PRODUCT_BLOCKED:
		return storefrontv1.Order_REJECTION_REASON_PRODUCT_BLOCKED
	case orderv1.OrderRejection_REASON_PRICE_MISMATCH:
		return storefrontv1.Order_REJECTION_REASON_PRICE_MISMATCH
	case orderv1.OrderRejection_REASON_INVALID_SHIP_TO:
		return storefrontv1.Order_REJECTION_REASON_INVALID_SHIP_TO
	case orderv1.OrderRejection_REASON_OTHER:
		return storefrontv1.Order_REJECTION_REASON_OTHER
	default:
		return storefrontv1.Order_REJECTION_REASON_OTHER
	}
}

// ruleKindFromRuleName guesses the rule kind from the rule's resource name,
// which is all the order keeps.
func ruleKindFromRuleName(name string) storefrontv1.PriceExplanation_RuleKind {
	switch {
	case strings.HasPrefix(name, "customerContracts/"):
		return storefrontv1.PriceExplanation_RULE_KIND_CUSTOMER_CONTRACT
	case strings.HasPrefix(name, "channelRules/"):
		return storefrontv1.PriceExplanation_RULE_KIND_CHANNEL_RULE
	case strings.HasPrefix(name, "promotions/"):
		return storefrontv1.PriceExplanation_RULE_KIND_PROMOTION
	case strings.HasPrefix(name, "priceLists/"):
		return storefrontv1.PriceExplanation_RULE_KIND_LIST_PRICE
	default:
		return storefrontv1.PriceExplanation_RULE_KIND_UNSPECIFIED
	}
}

func stateMessage(o *orderv1.Order) string {
	switch o.GetState() {
	case orderv1.Order_STATE_UNSPECIFIED:
		return ""
	case orderv1.Order_STATE_ACCEPTED_PENDING_ERP:
		return "Accepted, pending ERP confirmation"
	case orderv1.Order_STATE_CONFIRMED:
		return "Confirmed by ERP"
	case orderv1.Order_STATE_REJECTED:
		if m := o.GetRejection().GetMessage(); m != "" {
			return "Rejected by ERP: " + m
		}
		return "Rejected by ERP"
	case orderv1.Order_STATE_PARTIALLY_SHIPPED:
		return "Partially shipped"
	case orderv1.Order_STATE_SHIPPED:
		return "Shipped"
	case orderv1.Order_STATE_DELIVERED:
		return "Delivered"
	case orderv1.Order_STATE_CANCELLED:
		return "Cancelled"
	default:
		return ""
	}
}

// addMinor returns a + b and false when the sum overflows int64.
func addMinor(a, b int64) (int64, bool) {
	s := a + b
	return s, (b >= 0) == (s >= a)
}

// orderToProto converts an order; expected maps SKU → the unit price the
// client displayed (CreateOrder only) to compute price_changed.
func orderToProto(o *orderv1.Order, expected map[string]*commonv1.Money) *storefrontv1.Order {
	cur := o.GetCurrencyCode()
	out := &storefrontv1.Order{
		Name:                o.GetName(),
		CustomerId:          o.GetCustomerId(),
		ShipTo:              o.GetShipTo(),
		PurchaseOrderNumber: o.GetCustomerPoNumber(),
		CurrencyCode:        cur,
		Note:                o.GetNotes(),
		State:               orderStateToProto(o.GetState()),
		StateMessage:        stateMessage(o),
		Subtotal:            cloneMoney(o.GetTotals().GetSubtotal()),
		ShippingCharge:      money(0, cur),
		ErpOrderNumber:      o.GetErpOrderReference(),
		CreateTime:          o.GetCreateTime(),
		UpdateTime:          o.GetUpdateTime(),
		Etag:                o.GetEtag(),
		PromotionCodes:      o.GetPromotionCodes(),
		AppliedPromotions:   o.GetAppliedPromotions(),
	}
	if out.Name == "" && o.GetOrderId() != "" {
		out.Name = "orders/" + o.GetOrderId()
	}
	if out.Subtotal == nil {
		out.Subtotal = money(0, cur)
	}
	if o.GetState() == orderv1.Order_STATE_REJECTED {
		out.RejectionReason = rejectionToProto(o.GetRejection().GetReason())
	}
	total := out.Subtotal.GetAmountMinor()
	// Tax is the ERP's: shown once the ERP confirmed the order. A tax whose
	// sum with the subtotal overflows int64 is bad upstream data, not a
	// fault of this request: the order is still shown (an INTERNAL error
	// would hide the customer's order behind the ERP's figure), but without
	// the tax and with the subtotal as its total, as before the ERP
	// confirmed it (the contract counts tax only once known), never with a
	// wrapped total.
	if o.GetErpOrderReference() != "" && o.GetTotals().GetTax() != nil {
		if withTax, ok := addMinor(total, o.GetTotals().GetTax().GetAmountMinor()); ok {
			out.Tax = cloneMoney(o.GetTotals().GetTax())
			total = withTax
		}
	}
	out.Total = money(total, cur)
	cancelled := o.GetState() == orderv1.Order_STATE_CANCELLED
	if cancelled {
		for _, h := range slices.Backward(o.GetStateHistory()) {
			if h.GetState() == orderv1.Order_STATE_CANCELLED {
				out.CancelReason = h.GetReason()
				break
			}
		}
	}
	for _, l := range o.GetLines() {
		line := &storefrontv1.OrderLine{
			Sku:             l.GetSku(),
			Quantity:        l.GetQuantity(),
			UnitPrice:       cloneMoney(l.GetUnitPrice()),
			ExtendedPrice:   cloneMoney(l.GetExtendedPrice()),
			ShippedQuantity: l.GetShippedQuantity(),
		}
		if l.GetPriceRuleId() != "" {
			line.PriceExplanation = &storefrontv1.PriceExplanation{
				RuleKind: ruleKindFromRuleName(l.GetPriceRuleId()),
				RuleId:   l.GetPriceRuleId(),
			}
		}
		if cancelled || o.GetState() == orderv1.Order_STATE_REJECTED {
			line.CancelledQuantity = l.GetQuantity() - l.GetShippedQuantity()
		}
		if exp, ok := expected[l.GetSku()]; ok && exp != nil {
			line.ExpectedUnitPrice = cloneMoney(exp)
			line.PriceChanged = exp.GetAmountMinor() != l.GetUnitPrice().GetAmountMinor() ||
				exp.GetCurrencyCode() != l.GetUnitPrice().GetCurrencyCode()
		}
		out.Lines = append(out.Lines, line)
	}
	return out
}

func shipmentStateToProto(s fulfillmentv1.Shipment_State) storefrontv1.Shipment_State {
	switch s {
	case fulfillmentv1.Shipment_STATE_PICKED:
		return storefrontv1.Shipment_STATE_PICKING
	case fulfillmentv1.Shipment_STATE_PACKED:
		return storefrontv1.Shipment_STATE_PACKED
	case fulfillmentv1.Shipment_STATE_SHIPPED, fulfillmentv1.Shipment_STATE_IN_TRANSIT:
		return storefrontv1.Shipment_STATE_SHIPPED
	case fulfillmentv1.Shipment_STATE_DELIVERED:
		return storefrontv1.Shipment_STATE_DELIVERED
	case fulfillmentv1.Shipment_STATE_EXCEPTION:
		return storefrontv1.Shipment_STATE_DELIVERY_EXCEPTION
	case fulfillmentv1.Shipment_STATE_UNSPECIFIED:
		return storefrontv1.Shipment_STATE_PENDING
	default:
		return storefrontv1.Shipment_STATE_PENDING
	}
}

// shipmentToProto converts a fulfillment shipment.
func shipmentToProto(sh *fulfillmentv1.Shipment) *storefrontv1.Shipment {
	name := sh.GetName()
	if name == "" || strings.HasPrefix(name, "orders/-/") {
		name = fmt.Sprintf("orders/%s/shipments/%s", sh.GetOrderId(), sh.GetShipmentId())
	}
	out := &storefrontv1.Shipment{
		Name:           name,
		Warehouse:      sh.GetWarehouseId(),
		Carrier:        sh.GetCarrier(),
		ServiceLevel:   sh.GetServiceLevel(),
		TrackingNumber: sh.GetTrackingNumber(),
		TrackingUri:    sh.GetTrackingUrl(),
		State:          shipmentStateToProto(sh.GetState()),
		ShipTime:       sh.GetShipTime(),
		DeliveryTime:   sh.GetDeliveryTime(),
		CreateTime:     sh.GetCreateTime(),
		UpdateTime:     sh.GetUpdateTime(),
	}
	for _, l := range sh.GetLines() {
		out.Lines = append(out.Lines, &storefrontv1.ShipmentLine{Sku: l.GetSku(), Quantity: l.GetQuantity()})
	}
	return out
}
