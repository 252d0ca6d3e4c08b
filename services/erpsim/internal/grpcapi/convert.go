package grpcapi

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/fingerprint"
	"github.com/transload/transload/services/erpsim/internal/erp"
)

// The domain enums use the erp.v1 enum numbers, so the conversions below
// are casts; each one names the pair it converts so the mapping stays in
// one place.

func money(minor int64, currency string) *commonv1.Money {
	return &commonv1.Money{AmountMinor: minor, CurrencyCode: currency}
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func addressToProto(a erp.Address) *commonv1.Address {
	return &commonv1.Address{
		Recipient:  a.Recipient,
		Lines:      a.Lines,
		Locality:   a.Locality,
		PostalCode: a.PostalCode,
		RegionCode: a.RegionCode,
	}
}

func customerToProto(c erp.Customer) *erpv1.Customer {
	out := &erpv1.Customer{
		Name:         "customers/" + c.ID,
		DisplayName:  c.DisplayName,
		AccountState: erpv1.Customer_AccountState(c.State),
		OpenBalance:  money(c.OpenBalanceMinor, c.Currency),
		PaymentTerms: &erpv1.PaymentTerms{
			Code:               c.PaymentTermsCode,
			Description:        c.PaymentTermsDesc,
			NetDays:            int32(c.PaymentNetDays),
			PrepaymentRequired: c.PrepaymentRequired,
		},
		DefaultCurrencyCode: c.Currency,
		AllowedChannels:     c.AllowedChannels,
		PriceListIds:        c.PriceListIDs,
		BillTo:              addressToProto(c.BillTo),
		UpdateTime:          ts(c.UpdateTime),
	}
	if avail, ok := c.AvailableCredit(); ok {
		out.CreditLimit = money(c.CreditLimitMinor, c.Currency)
		out.AvailableCredit = money(avail, c.Currency)
	}
	for _, st := range c.ShipTos {
		out.ShipToAddresses = append(out.ShipToAddresses, &erpv1.ShipToAddress{
			ShipToId: st.ID, Address: addressToProto(st.Address), IsDefault: st.IsDefault,
		})
	}
	return out
}

func creditToProto(d erp.CreditDecision) *erpv1.CheckCreditResponse {
	out := &erpv1.CheckCreditResponse{
		Approved:  d.Approved,
		Reason:    erpv1.CreditDecisionReason(d.Reason),
		CheckTime: ts(d.CheckTime),
	}
	if d.HasLimit {
		out.AvailableCredit = money(d.Available, d.Currency)
	}
	return out
}

// salesOrderFromProto turns a submission into the domain order, with the
// canonical payload (output-only fields cleared, name set) and its
// fingerprint.
func salesOrderFromProto(id string, so *erpv1.SalesOrder) (erp.SalesOrder, error) {
	canon := proto.CloneOf(so)
	canon.Name = "salesOrders/" + id
	canon.State = erpv1.SalesOrder_STATE_UNSPECIFIED
	canon.ErpOrderNumber = ""
	canon.RejectionReason = erpv1.SalesOrderRejectionReason_SALES_ORDER_REJECTION_REASON_UNSPECIFIED
	canon.RejectionMessage = ""
	canon.CreateTime, canon.UpdateTime = nil, nil
	fp, payload, err := fingerprint.Proto(canon)
	if err != nil {
		return erp.SalesOrder{}, err
	}
	o := erp.SalesOrder{
		OrderID:         id,
		CustomerID:      so.GetCustomerId(),
		Channel:         so.GetChannel(),
		Currency:        so.GetCurrencyCode(),
		GrandTotalMinor: so.GetGrandTotal().GetAmountMinor(),
		Payload:         payload,
		Fingerprint:     fp,
	}
	for _, l := range so.GetLines() {
		o.Lines = append(o.Lines, erp.OrderLine{LineID: l.GetLineId(), SKU: l.GetSku(), Quantity: l.GetQuantity().GetValue()})
	}
	return o, nil
}

func salesOrderToProto(o erp.SalesOrder) (*erpv1.SalesOrder, error) {
	out := &erpv1.SalesOrder{}
	if err := proto.Unmarshal(o.Payload, out); err != nil {
		return nil, fmt.Errorf("unmarshal stored sales order %s: %w", o.OrderID, err)
	}
	out.Name = "salesOrders/" + o.OrderID
	out.State = erpv1.SalesOrder_State(o.State)
	out.ErpOrderNumber = o.ERPOrderNumber
	out.RejectionReason = erpv1.SalesOrderRejectionReason(o.RejectionReason)
	out.RejectionMessage = o.RejectionMessage
	out.CreateTime, out.UpdateTime = ts(o.CreateTime), ts(o.UpdateTime)
	return out, nil
}

func submitToProto(o erp.SalesOrder, dup bool) (*erpv1.SubmitSalesOrderResponse, error) {
	so, err := salesOrderToProto(o)
	if err != nil {
		return nil, err
	}
	out := &erpv1.SubmitSalesOrderResponse{Duplicate: dup, SalesOrder: so}
	if o.State == erp.OrderRejected {
		out.Outcome = erpv1.SubmitSalesOrderResponse_OUTCOME_REJECTED
		out.RejectionReason = erpv1.SalesOrderRejectionReason(o.RejectionReason)
		out.RejectionMessage = o.RejectionMessage
	} else {
		// Accepted, or accepted and since cancelled/completed: the
		// submission's outcome was acceptance.
		out.Outcome = erpv1.SubmitSalesOrderResponse_OUTCOME_ACCEPTED
		out.ErpOrderNumber = o.ERPOrderNumber
	}
	return out, nil
}

func warehouseToProto(w erp.Warehouse) *erpv1.Warehouse {
	return &erpv1.Warehouse{
		Name:        "warehouses/" + w.Code,
		DisplayName: w.DisplayName,
		Region:      w.Region,
		Address:     addressToProto(w.Address),
		Priority:    int32(w.Priority),
		Channels:    w.Channels,
		Active:      w.Active,
	}
}

func stockRowToProto(n int64, r erp.StockRow) *erpv1.StockSnapshotRow {
	return &erpv1.StockSnapshotRow{
		RowNumber:      n,
		Sku:            r.SKU,
		WarehouseCode:  r.WarehouseCode,
		OnHand:         r.OnHand,
		BaseUnit:       r.UoM,
		SourceSequence: r.SourceSequence,
	}
}

func stockEventToProto(ev erp.StockEvent) *erpv1.StockEvent {
	return &erpv1.StockEvent{
		EventId:                  ev.EventID,
		Sku:                      ev.SKU,
		WarehouseCode:            ev.WarehouseCode,
		Kind:                     erpv1.StockEvent_Kind(ev.Kind),
		Quantity:                 ev.Quantity,
		BaseUnit:                 ev.UoM,
		SourceSequence:           ev.SourceSequence,
		OccurTime:                ts(ev.OccurTime),
		Reference:                ev.Reference,
		ReasonCode:               ev.ReasonCode,
		CounterpartWarehouseCode: ev.Counterpart,
	}
}

func productToProto(p erp.Product) *erpv1.Product {
	out := &erpv1.Product{
		Sku:         p.SKU,
		Title:       p.Title,
		Description: p.Description,
		BaseUnit:    p.UoM,
		SalesState:  erpv1.Product_SalesState(p.SalesState),
		Channels:    p.Channels,
		Category:    p.Category,
		Gtin:        p.GTIN,
		UpdateTime:  ts(p.UpdateTime),
	}
	for _, a := range p.Attributes {
		out.Attributes = append(out.Attributes, &erpv1.ProductAttribute{Key: a.Key, Value: a.Value, Unit: a.Unit})
	}
	return out
}

func priceListToProto(pl erp.PriceList) *erpv1.PriceList {
	return &erpv1.PriceList{
		PriceListId:  pl.ID,
		DisplayName:  pl.DisplayName,
		CurrencyCode: pl.Currency,
		Channels:     pl.Channels,
	}
}

func listPriceToProto(lp erp.ListPrice, currency string) *erpv1.ListPrice {
	return &erpv1.ListPrice{
		PriceListId: lp.PriceListID,
		Sku:         lp.SKU,
		Unit:        lp.UoM,
		UnitPrice:   money(lp.UnitPriceMinor, currency),
	}
}

// journalBatchFromProto turns a posting request into the domain batch with
// its canonical payload and fingerprint.
func journalBatchFromProto(id string, jb *erpv1.JournalBatch) (erp.JournalBatch, error) {
	canon := proto.CloneOf(jb)
	canon.Name = "journalBatches/" + id
	canon.Results, canon.CreateTime = nil, nil
	fp, payload, err := fingerprint.Proto(canon)
	if err != nil {
		return erp.JournalBatch{}, err
	}
	b := erp.JournalBatch{
		BatchID:     id,
		Kind:        erp.JournalKind(jb.GetKind()),
		Payload:     payload,
		Fingerprint: fp,
	}
	for _, l := range jb.GetLines() {
		b.Lines = append(b.Lines, erp.JournalLine{
			LineID:      l.GetLineId(),
			DocumentID:  l.GetDocumentId(),
			OrderID:     l.GetOrderId(),
			CustomerID:  l.GetCustomerId(),
			LineHash:    l.GetLineHash(),
			AmountMinor: l.GetAmount().GetAmountMinor(),
			TaxMinor:    l.GetTax().GetAmountMinor(),
			Currency:    l.GetAmount().GetCurrencyCode(),
			TaxCurrency: l.GetTax().GetCurrencyCode(),
			Account:     l.GetAccount(),
		})
	}
	return b, nil
}

func journalBatchToProto(b erp.JournalBatch) (*erpv1.JournalBatch, error) {
	out := &erpv1.JournalBatch{}
	if err := proto.Unmarshal(b.Payload, out); err != nil {
		return nil, fmt.Errorf("unmarshal stored journal batch %s: %w", b.BatchID, err)
	}
	out.Name = "journalBatches/" + b.BatchID
	out.CreateTime = ts(b.CreateTime)
	out.Results = nil
	for _, r := range b.Results {
		out.Results = append(out.Results, &erpv1.JournalLineResult{
			LineId:            r.LineID,
			Outcome:           erpv1.JournalLineResult_Outcome(r.Outcome),
			RejectionReason:   erpv1.JournalLineRejectionReason(r.Rejection),
			RejectionMessage:  r.RejectionMessage,
			ErpDocumentNumber: r.ERPDocumentNumber,
		})
	}
	return out, nil
}

// idFromName returns the {id} of "<collection>/{id}"; the request
// validation already enforced the pattern.
func idFromName(name, collection string) string {
	return strings.TrimPrefix(name, collection+"/")
}
