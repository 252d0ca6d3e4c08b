package grpcapi

import (
	"context"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/emptypb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	notifyv1 "github.com/transload/transload/gen/transload/notify/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/apierr"
)

// The storefront.v1 webhook routes are served by the notify service
// (transload.notify.v1), which owns subscriptions, the delivery queue and
// the delivery log; the gateway names the caller (the key's channel and,
// for a customer-bound key, its customer), renames resources between the
// two APIs (`webhookSubscriptions/{id}` ↔ `subscriptions/{id}`) and maps
// notify's reasons to the storefront's. The connection has its own
// deadline (NOTIFY_TIMEOUT) and breaker like every neighbour.

// notifyDependency names the notify service in UNAVAILABLE answers.
const notifyDependency = "notify"

const (
	storefrontSubPrefix = "webhookSubscriptions/"
	notifySubPrefix     = "subscriptions/"
)

func (s *Server) notifyCaller(ctx context.Context) (*notifyv1.Caller, error) {
	if s.notify == nil {
		return nil, status.Error(codes.Unimplemented, "webhooks are not configured on this gateway (NOTIFY_ADDR)")
	}
	p, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	return &notifyv1.Caller{Channel: p.Channel, CustomerId: p.CustomerID}, nil
}

func toNotifyName(name string) string {
	return notifySubPrefix + strings.TrimPrefix(name, storefrontSubPrefix)
}

func toStorefrontName(name string) string {
	return storefrontSubPrefix + strings.TrimPrefix(name, notifySubPrefix)
}

// webhookError maps an error of the notify service.
func (s *Server) webhookError(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case status.Code(err) == codes.NotFound:
		return errNotFound("webhook subscription or delivery")
	case apierr.HasReason(err, notifyv1.ErrorReason_ERROR_REASON_TARGET_NOT_ALLOWED):
		return invalidField(commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED, "webhook_subscription.target_uri",
			status.Convert(err).Message(), nil)
	case apierr.HasReason(err, notifyv1.ErrorReason_ERROR_REASON_SUBSCRIPTION_LIMIT):
		return apierr.Error(codes.ResourceExhausted, storefrontv1.ErrorReason_ERROR_REASON_WEBHOOK_SUBSCRIPTION_LIMIT,
			status.Convert(err).Message(), map[string]string{"limit": apierr.Info(err).GetMetadata()["limit"]})
	case apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED),
		apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN):
		return err
	case status.Code(err) == codes.InvalidArgument:
		return passInvalidArgument(err, "")
	case status.Code(err) == codes.Unimplemented:
		// The address answers but serves no notify.v1 (an older notify,
		// or none deployed behind NOTIFY_ADDR): webhooks are not available.
		return status.Error(codes.Unimplemented, "webhooks are not available on this deployment")
	}
	return s.dependencyError(ctx, notifyDependency, err)
}

func subscriptionToStorefront(n *notifyv1.Subscription) *storefrontv1.WebhookSubscription {
	out := &storefrontv1.WebhookSubscription{
		Name: toStorefrontName(n.GetName()), TargetUri: n.GetTargetUri(), Secret: n.GetSecret(), DisplayName: n.GetDisplayName(),
		State: storefrontv1.WebhookSubscription_State(n.GetState()), StateMessage: n.GetStateMessage(),
		CustomerId: n.GetCustomerId(), CreateTime: n.GetCreateTime(), LastSuccessTime: n.GetLastSuccessTime(),
	}
	for _, t := range n.GetEventTypes() {
		out.EventTypes = append(out.EventTypes, storefrontv1.WebhookEventType(t))
	}
	return out
}

func deliveryToStorefront(d *notifyv1.Delivery) *storefrontv1.WebhookDeliveryRecord {
	out := &storefrontv1.WebhookDeliveryRecord{
		Name: toStorefrontName(d.GetName()), EventId: d.GetEventId(), EventType: storefrontv1.WebhookEventType(d.GetEventType()),
		Resource: d.GetResource(), State: storefrontv1.WebhookDeliveryRecord_State(d.GetState()), EventTime: d.GetEventTime(),
		CreateTime: d.GetCreateTime(), NextAttemptTime: d.GetNextAttemptTime(), DeliverTime: d.GetDeliverTime(),
	}
	for _, a := range d.GetAttempts() {
		out.Attempts = append(out.Attempts, &storefrontv1.WebhookDeliveryAttempt{Attempt: a.GetAttempt(),
			AttemptTime: a.GetAttemptTime(), StatusCode: a.GetStatusCode(), Latency: a.GetLatency(), Error: a.GetError()})
	}
	return out
}

// CreateWebhookSubscription implements storefrontv1.StorefrontServiceServer.
func (s *Server) CreateWebhookSubscription(ctx context.Context, req *storefrontv1.CreateWebhookSubscriptionRequest) (*storefrontv1.WebhookSubscription, error) {
	c, err := s.notifyCaller(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetWebhookSubscription()
	sub := &notifyv1.Subscription{TargetUri: in.GetTargetUri(), DisplayName: in.GetDisplayName()}
	for _, t := range in.GetEventTypes() {
		sub.EventTypes = append(sub.EventTypes, notifyv1.EventType(t))
	}
	out, err := s.notify.CreateSubscription(ctx, &notifyv1.CreateSubscriptionRequest{Caller: c, Subscription: sub, RequestId: req.GetRequestId()})
	if err != nil {
		return nil, s.webhookError(ctx, err)
	}
	return subscriptionToStorefront(out), nil
}

// GetWebhookSubscription implements storefrontv1.StorefrontServiceServer.
func (s *Server) GetWebhookSubscription(ctx context.Context, req *storefrontv1.GetWebhookSubscriptionRequest) (*storefrontv1.WebhookSubscription, error) {
	c, err := s.notifyCaller(ctx)
	if err != nil {
		return nil, err
	}
	out, err := s.notify.GetSubscription(ctx, &notifyv1.GetSubscriptionRequest{Caller: c, Name: toNotifyName(req.GetName())})
	if err != nil {
		return nil, s.webhookError(ctx, err)
	}
	return subscriptionToStorefront(out), nil
}

// ListWebhookSubscriptions implements storefrontv1.StorefrontServiceServer.
func (s *Server) ListWebhookSubscriptions(ctx context.Context, req *storefrontv1.ListWebhookSubscriptionsRequest) (*storefrontv1.ListWebhookSubscriptionsResponse, error) {
	c, err := s.notifyCaller(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := s.notify.ListSubscriptions(ctx, &notifyv1.ListSubscriptionsRequest{Caller: c, PageSize: req.GetPageSize(), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, s.webhookError(ctx, err)
	}
	out := &storefrontv1.ListWebhookSubscriptionsResponse{NextPageToken: resp.GetNextPageToken()}
	for _, x := range resp.GetSubscriptions() {
		out.WebhookSubscriptions = append(out.WebhookSubscriptions, subscriptionToStorefront(x))
	}
	return out, nil
}

// DeleteWebhookSubscription implements storefrontv1.StorefrontServiceServer.
func (s *Server) DeleteWebhookSubscription(ctx context.Context, req *storefrontv1.DeleteWebhookSubscriptionRequest) (*emptypb.Empty, error) {
	c, err := s.notifyCaller(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.notify.DeleteSubscription(ctx, &notifyv1.DeleteSubscriptionRequest{Caller: c, Name: toNotifyName(req.GetName())}); err != nil {
		return nil, s.webhookError(ctx, err)
	}
	return &emptypb.Empty{}, nil
}

// TestWebhookSubscription implements storefrontv1.StorefrontServiceServer.
func (s *Server) TestWebhookSubscription(ctx context.Context, req *storefrontv1.TestWebhookSubscriptionRequest) (*storefrontv1.TestWebhookSubscriptionResponse, error) {
	c, err := s.notifyCaller(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := s.notify.TestSubscription(ctx, &notifyv1.TestSubscriptionRequest{Caller: c, Name: toNotifyName(req.GetName()),
		EventType: notifyv1.EventType(req.GetEventType())})
	if err != nil {
		return nil, s.webhookError(ctx, err)
	}
	d := &storefrontv1.WebhookDelivery{}
	if err := protojson.Unmarshal(resp.GetBody(), d); err != nil {
		return nil, s.dependencyError(ctx, notifyDependency, err)
	}
	a := resp.GetAttempt()
	msg := a.GetError()
	if msg == "" && !resp.GetSuccess() {
		msg = "the target did not answer 2xx"
	}
	return &storefrontv1.TestWebhookSubscriptionResponse{Delivery: d, Success: resp.GetSuccess(), HttpStatusCode: a.GetStatusCode(),
		ErrorMessage: msg, Latency: a.GetLatency()}, nil
}

// ListWebhookDeliveryRecords implements storefrontv1.StorefrontServiceServer.
func (s *Server) ListWebhookDeliveryRecords(ctx context.Context, req *storefrontv1.ListWebhookDeliveryRecordsRequest) (*storefrontv1.ListWebhookDeliveryRecordsResponse, error) {
	c, err := s.notifyCaller(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := s.notify.ListDeliveries(ctx, &notifyv1.ListDeliveriesRequest{Caller: c, Parent: toNotifyName(req.GetParent()),
		PageSize: req.GetPageSize(), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, s.webhookError(ctx, err)
	}
	out := &storefrontv1.ListWebhookDeliveryRecordsResponse{NextPageToken: resp.GetNextPageToken()}
	for _, d := range resp.GetDeliveries() {
		out.WebhookDeliveryRecords = append(out.WebhookDeliveryRecords, deliveryToStorefront(d))
	}
	return out, nil
}

// GetWebhookDeliveryRecord implements storefrontv1.StorefrontServiceServer.
func (s *Server) GetWebhookDeliveryRecord(ctx context.Context, req *storefrontv1.GetWebhookDeliveryRecordRequest) (*storefrontv1.WebhookDeliveryRecord, error) {
	c, err := s.notifyCaller(ctx)
	if err != nil {
		return nil, err
	}
	d, err := s.notify.GetDelivery(ctx, &notifyv1.GetDeliveryRequest{Caller: c, Name: toNotifyName(req.GetName())})
	if err != nil {
		return nil, s.webhookError(ctx, err)
	}
	return deliveryToStorefront(d), nil
}

// RedeliverWebhookDelivery implements storefrontv1.StorefrontServiceServer.
func (s *Server) RedeliverWebhookDelivery(ctx context.Context, req *storefrontv1.RedeliverWebhookDeliveryRequest) (*storefrontv1.WebhookDeliveryRecord, error) {
	c, err := s.notifyCaller(ctx)
	if err != nil {
		return nil, err
	}
	d, err := s.notify.RedeliverDelivery(ctx, &notifyv1.RedeliverDeliveryRequest{Caller: c, Name: toNotifyName(req.GetName())})
	if err != nil {
		return nil, s.webhookError(ctx, err)
	}
	return deliveryToStorefront(d), nil
}

// EnableWebhookSubscription implements storefrontv1.StorefrontServiceServer.
func (s *Server) EnableWebhookSubscription(ctx context.Context, req *storefrontv1.EnableWebhookSubscriptionRequest) (*storefrontv1.WebhookSubscription, error) {
	c, err := s.notifyCaller(ctx)
	if err != nil {
		return nil, err
	}
	out, err := s.notify.EnableSubscription(ctx, &notifyv1.EnableSubscriptionRequest{Caller: c, Name: toNotifyName(req.GetName())})
	if err != nil {
		return nil, s.webhookError(ctx, err)
	}
	return subscriptionToStorefront(out), nil
}

// RotateWebhookSubscriptionSecret implements storefrontv1.StorefrontServiceServer.
func (s *Server) RotateWebhookSubscriptionSecret(ctx context.Context, req *storefrontv1.RotateWebhookSubscriptionSecretRequest) (*storefrontv1.WebhookSubscription, error) {
	c, err := s.notifyCaller(ctx)
	if err != nil {
		return nil, err
	}
	out, err := s.notify.RotateSubscriptionSecret(ctx, &notifyv1.RotateSubscriptionSecretRequest{Caller: c,
		Name: toNotifyName(req.GetName()), GracePeriod: req.GetGracePeriod()})
	if err != nil {
		return nil, s.webhookError(ctx, err)
	}
	return subscriptionToStorefront(out), nil
}
