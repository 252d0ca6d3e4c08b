package grpcapi

import (
	"context"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"

	"github.com/transload/transload/gateway/internal/auth"
	"github.com/transload/transload/gateway/internal/neighbours"
)

// Shipments belong to the fulfillment service; the order decides who may
// see them, so every read checks the order first (same NOT_FOUND for "not
// yours" and "does not exist").

// ListShipments implements storefrontv1.StorefrontServiceServer. For
// `orders/-` a customer-bound key lists its customer's shipments; a
// channel key lists shipments whose orders belong to its channel.
func (s *Server) ListShipments(ctx context.Context, req *storefrontv1.ListShipmentsRequest) (*storefrontv1.ListShipmentsResponse, error) {
	p, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	freq := &fulfillmentv1.ListShipmentsRequest{PageSize: req.GetPageSize(), PageToken: req.GetPageToken()}
	all := req.GetParent() == "orders/-"
	if all {
		freq.Parent = "orders/-"
		freq.OrderBy = "create_time desc"
		if p.CustomerBound() {
			freq.Filter = aip.Filter{Terms: []aip.Term{filterEq("customer_id", p.CustomerID)}}.String()
		}
	} else {
		o, err := s.visibleOrder(ctx, p, req.GetParent())
		if err != nil {
			return nil, err
		}
		freq.Parent = o.GetName()
	}
	resp, err := s.n.Fulfillment.ListShipments(ctx, freq)
	switch {
	case apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN):
		return nil, errInvalidPageToken()
	case status.Code(err) == codes.NotFound:
		// The order exists (checked above) but fulfillment has nothing yet.
		return &storefrontv1.ListShipmentsResponse{}, nil
	case err != nil:
		return nil, s.dependencyError(ctx, neighbours.Fulfillment, err)
	}
	out := &storefrontv1.ListShipmentsResponse{NextPageToken: resp.GetNextPageToken()}
	visible := map[string]bool{}
	for _, sh := range resp.GetShipments() {
		if all {
			ok, err := s.shipmentVisible(ctx, p, sh, visible)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		out.Shipments = append(out.Shipments, shipmentToProto(sh))
	}
	return out, nil
}

// shipmentVisible checks (and memoizes per order) whether the shipment's
// order is visible to p.
func (s *Server) shipmentVisible(ctx context.Context, p auth.Principal, sh *fulfillmentv1.Shipment, memo map[string]bool) (bool, error) {
	if p.CustomerBound() && sh.GetCustomerId() != p.CustomerID {
		return false, nil
	}
	id := sh.GetOrderId()
	if v, ok := memo[id]; ok {
		return v, nil
	}
	o, err := s.n.Orders.GetOrder(ctx, &orderv1.GetOrderRequest{Name: "orders/" + id})
	switch {
	case status.Code(err) == codes.NotFound:
		memo[id] = false
	case err != nil:
		return false, s.dependencyError(ctx, neighbours.Order, err)
	default:
		memo[id] = orderVisible(p, o)
	}
	return memo[id], nil
}

// GetShipment implements storefrontv1.StorefrontServiceServer.
func (s *Server) GetShipment(ctx context.Context, req *storefrontv1.GetShipmentRequest) (*storefrontv1.Shipment, error) {
	orderName, _, _ := strings.Cut(req.GetName(), "/shipments/")
	_, o, err := s.callerOrder(ctx, orderName)
	if err != nil {
		if status.Code(err) == codes.NotFound {
			return nil, errNotFound("shipment")
		}
		return nil, err
	}
	shipmentID := strings.TrimPrefix(req.GetName(), orderName+"/shipments/")
	if !orderIDPattern.MatchString(shipmentID) {
		return nil, errNotFound("shipment")
	}
	sh, err := s.n.Fulfillment.GetShipment(ctx, &fulfillmentv1.GetShipmentRequest{Name: o.GetName() + "/shipments/" + shipmentID})
	switch {
	case status.Code(err) == codes.NotFound:
		return nil, errNotFound("shipment")
	case err != nil:
		return nil, s.dependencyError(ctx, neighbours.Fulfillment, err)
	case sh.GetOrderId() != "" && "orders/"+sh.GetOrderId() != o.GetName():
		return nil, errNotFound("shipment")
	}
	return shipmentToProto(sh), nil
}
