// Package erpclient is the order service's adapter to the ERP system API
// (erp.v1 ErpAdapterService): customers for validation and the snapshot,
// sales order submission and cancellation for the ERP queue. gRPC errors
// are mapped to order domain errors here.
package erpclient

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/breaker"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
)

// Target names the ERP in dependency errors.
const Target = "erp"

// Client implements order.Customers and order.ERP.
type Client struct {
	c erpv1.ErpAdapterServiceClient
}

var (
	_ order.Customers = (*Client)(nil)
	_ order.ERP       = (*Client)(nil)
)

// New returns a client on conn (dialled with platform/grpcclient, which adds
// the breaker and default deadline).
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{c: erpv1.NewErpAdapterServiceClient(conn)}
}

// GetCustomer implements order.Customers.
func (c *Client) GetCustomer(ctx context.Context, id string) (order.Customer, error) {
	cu, err := c.c.GetCustomer(ctx, &erpv1.GetCustomerRequest{Name: "customers/" + id})
	if err != nil {
		if d := orderpb.DependencyError(Target, err); d != nil {
			return order.Customer{}, d
		}
		if status.Code(err) == codes.NotFound || status.Code(err) == codes.InvalidArgument {
			return order.Customer{}, &order.CustomerError{CustomerID: id, Err: order.ErrCustomerNotFound}
		}
		return order.Customer{}, fmt.Errorf("erp GetCustomer %s: %w", id, err)
	}
	return customerFromProto(id, cu), nil
}

func customerFromProto(id string, cu *erpv1.Customer) order.Customer {
	out := order.Customer{
		ID: id, DisplayName: cu.GetDisplayName(), Account: order.AccountState(cu.GetAccountState()),
		Currency: cu.GetDefaultCurrencyCode(), AllowedChannels: cu.GetAllowedChannels(),
	}
	if lim := cu.GetCreditLimit(); lim != nil {
		out.HasCreditLimit = true
		out.CreditCurrency = lim.GetCurrencyCode()
		out.CreditLimitMinor = lim.GetAmountMinor()
		out.AvailableCreditMinor = cu.GetAvailableCredit().GetAmountMinor()
	}
	if cu.GetUpdateTime().IsValid() { // an out-of-range time would poison the sync watermark
		out.UpdatedAt = cu.GetUpdateTime().AsTime()
	}
	return out
}

// ListCustomers implements order.Customers.
func (c *Client) ListCustomers(ctx context.Context, since time.Time, pageToken string) ([]order.Customer, string, error) {
	req := &erpv1.ListCustomersRequest{PageSize: 500, PageToken: pageToken}
	if !since.IsZero() {
		req.MinUpdateTime = timestamppb.New(since)
	}
	res, err := c.c.ListCustomers(ctx, req)
	if err != nil {
		if d := orderpb.DependencyError(Target, err); d != nil {
			return nil, "", d
		}
		return nil, "", fmt.Errorf("erp ListCustomers: %w", err)
	}
	out := make([]order.Customer, 0, len(res.GetCustomers()))
	for _, cu := range res.GetCustomers() {
		out = append(out, customerFromProto(strings.TrimPrefix(cu.GetName(), "customers/"), cu))
	}
	return out, res.GetNextPageToken(), nil
}

// SalesOrder builds the ERP sales order of o; the same order always gives
// the same message, so resubmissions are recognised as duplicates.
func SalesOrder(o *order.Order) *erpv1.SalesOrder {
	so := &erpv1.SalesOrder{
		Name:                "salesOrders/" + o.ID,
		CustomerId:          o.CustomerID,
		Channel:             o.Channel,
		CurrencyCode:        o.Currency,
		ShipTo:              orderpb.Address(o.ShipTo),
		Subtotal:            orderpb.Money(o.SubtotalMinor, o.Currency),
		TaxTotal:            orderpb.Money(o.TaxMinor, o.Currency),
		GrandTotal:          orderpb.Money(o.TotalMinor, o.Currency),
		PurchaseOrderNumber: o.CustomerPONumber,
		PlaceTime:           timestamppb.New(o.CreatedAt),
	}
	for _, l := range o.Lines {
		sl := &erpv1.SalesOrderLine{
			LineId:    l.ID,
			Sku:       l.SKU,
			Quantity:  &commonv1.Quantity{Value: l.Quantity, Unit: l.Unit},
			UnitPrice: orderpb.Money(l.UnitPriceMinor, o.Currency),
			NetAmount: orderpb.Money(l.ExtendedMinor, o.Currency),
		}
		for _, a := range l.Allocations {
			sl.Allocations = append(sl.Allocations, &erpv1.WarehouseAllocation{WarehouseCode: a.WarehouseID, Quantity: a.Allocated})
		}
		so.Lines = append(so.Lines, sl)
	}
	return so
}

var rejectionReasons = map[erpv1.SalesOrderRejectionReason]order.RejectionReason{
	erpv1.SalesOrderRejectionReason_SALES_ORDER_REJECTION_REASON_CREDIT_HOLD:      order.RejectionCustomerOnHold,
	erpv1.SalesOrderRejectionReason_SALES_ORDER_REJECTION_REASON_CREDIT_LIMIT:     order.RejectionCreditLimit,
	erpv1.SalesOrderRejectionReason_SALES_ORDER_REJECTION_REASON_UNKNOWN_CUSTOMER: order.RejectionCustomerBlocked,
	erpv1.SalesOrderRejectionReason_SALES_ORDER_REJECTION_REASON_UNKNOWN_SKU:      order.RejectionProductBlocked,
	erpv1.SalesOrderRejectionReason_SALES_ORDER_REJECTION_REASON_PRICE_MISMATCH:   order.RejectionPriceMismatch,
	erpv1.SalesOrderRejectionReason_SALES_ORDER_REJECTION_REASON_BLOCKED_ITEM:     order.RejectionProductBlocked,
	erpv1.SalesOrderRejectionReason_SALES_ORDER_REJECTION_REASON_OTHER:            order.RejectionOther,
}

// SubmitSalesOrder implements order.ERP.
func (c *Client) SubmitSalesOrder(ctx context.Context, o *order.Order) (order.SubmitOutcome, error) {
	res, err := c.c.SubmitSalesOrder(ctx, &erpv1.SubmitSalesOrderRequest{SalesOrderId: o.ID, SalesOrder: SalesOrder(o)})
	if err != nil {
		if d := orderpb.DependencyError(Target, err); d != nil {
			return order.SubmitOutcome{}, d
		}
		return order.SubmitOutcome{}, fmt.Errorf("erp SubmitSalesOrder %s: %s (%w)", o.ID, apierr.ReasonOf(err), err)
	}
	switch res.GetOutcome() {
	case erpv1.SubmitSalesOrderResponse_OUTCOME_ACCEPTED:
		return order.SubmitOutcome{Accepted: true, ERPOrderRef: res.GetErpOrderNumber()}, nil
	case erpv1.SubmitSalesOrderResponse_OUTCOME_REJECTED:
		reason, ok := rejectionReasons[res.GetRejectionReason()]
		if !ok {
			reason = order.RejectionOther
		}
		msg := res.GetRejectionMessage()
		if msg == "" {
			msg = "rejected by the ERP"
		}
		return order.SubmitOutcome{Rejection: order.Rejection{
			Reason: reason, Message: msg, ERPCode: res.GetRejectionReason().String(),
		}}, nil
	case erpv1.SubmitSalesOrderResponse_OUTCOME_UNSPECIFIED:
	}
	return order.SubmitOutcome{}, fmt.Errorf("erp SubmitSalesOrder %s: unexpected outcome %s", o.ID, res.GetOutcome())
}

// CancelSalesOrder implements order.ERP.
func (c *Client) CancelSalesOrder(ctx context.Context, orderID, reason string) (string, error) {
	_, err := c.c.CancelSalesOrder(ctx, &erpv1.CancelSalesOrderRequest{Name: "salesOrders/" + orderID, Reason: reason})
	if err == nil {
		return "", nil
	}
	if d := orderpb.DependencyError(Target, err); d != nil {
		return "", d
	}
	switch status.Code(err) {
	case codes.NotFound:
		return "the ERP never received the order", nil
	case codes.FailedPrecondition:
		return "the ERP order can no longer be cancelled: " + apierr.ReasonOf(err), nil
	}
	return "", fmt.Errorf("erp CancelSalesOrder %s: %w", orderID, err)
}

// BreakerState returns the order.WorkerConfig.BreakerState of b: its state
// as one of the order package's breaker states, mapped state by state
// rather than through the breaker library's display string.
func BreakerState(b *breaker.Breaker) func() string {
	return func() string {
		switch b.State() {
		case breaker.StateOpen:
			return order.BreakerOpen
		case breaker.StateHalfOpen:
			return order.BreakerHalfOpen
		case breaker.StateClosed:
			return order.BreakerClosed
		default:
			return order.BreakerClosed
		}
	}
}
