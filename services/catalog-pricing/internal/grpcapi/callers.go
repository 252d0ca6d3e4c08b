package grpcapi

import (
	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/platform/grpcserver"
)

// Callers says which mesh members may call which CatalogService and
// PricingService method when the mesh runs mutual TLS (MESH_TLS_DIR;
// grpcserver.WithCallers): the gateway, order and the operator read and
// quote; order reserves, redeems and releases coupon uses; imports,
// publications and rule edits are the operator's.
var Callers = func() grpcserver.Callers {
	readers := []string{"gateway", "order", "ops", "operator"}
	operator := []string{"operator"}
	c := grpcserver.Callers{
		"/" + catalogv1.CatalogService_ServiceDesc.ServiceName + "/*": readers,
		"/" + catalogv1.PricingService_ServiceDesc.ServiceName + "/*": readers,

		catalogv1.PricingService_ReservePromotions_FullMethodName:           {"order"},
		catalogv1.PricingService_RedeemPromotionReservation_FullMethodName:  {"order"},
		catalogv1.PricingService_ReleasePromotionReservation_FullMethodName: {"order"},
	}
	for _, m := range []string{
		catalogv1.CatalogService_ImportProducts_FullMethodName,
		catalogv1.CatalogService_PublishCatalog_FullMethodName,
		catalogv1.PricingService_ImportPrices_FullMethodName,
		catalogv1.PricingService_UpdatePriceList_FullMethodName,
		catalogv1.PricingService_DeletePriceList_FullMethodName,
		catalogv1.PricingService_UpdateCustomerContract_FullMethodName,
		catalogv1.PricingService_DeleteCustomerContract_FullMethodName,
		catalogv1.PricingService_UpdateChannelRule_FullMethodName,
		catalogv1.PricingService_DeleteChannelRule_FullMethodName,
		catalogv1.PricingService_UpdatePromotion_FullMethodName,
		catalogv1.PricingService_DeletePromotion_FullMethodName,
		catalogv1.PricingService_ImportCustomerContracts_FullMethodName,
		catalogv1.PricingService_PublishPriceRules_FullMethodName,
		catalogv1.PricingService_RepublishPriceRules_FullMethodName,
	} {
		c[m] = operator
	}
	return c
}()
