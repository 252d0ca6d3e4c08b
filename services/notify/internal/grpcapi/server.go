// Package grpcapi serves transload.notify.v1.NotificationService over the
// notify store and dispatcher. Every request names its caller (channel,
// and customer for a customer-bound key); a subscription outside the
// caller's scope answers NOT_FOUND exactly like a missing one.
package grpcapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	notifyv1 "github.com/transload/transload/gen/transload/notify/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/notify/internal/deliver"
	"github.com/transload/transload/services/notify/internal/eventsin"
	"github.com/transload/transload/services/notify/internal/payload"
	"github.com/transload/transload/services/notify/internal/signing"
	"github.com/transload/transload/services/notify/internal/store/sqlstore"
	"github.com/transload/transload/services/notify/internal/target"
)

// MaxSubscriptions is the limit per owner (channel and customer).
const MaxSubscriptions = 10

// DefaultGracePeriod is how long a rotated-out secret keeps signing.
const DefaultGracePeriod = 24 * time.Hour

// Server implements notifyv1.NotificationServiceServer.
type Server struct {
	notifyv1.UnimplementedNotificationServiceServer
	store  *sqlstore.Store
	disp   *deliver.Dispatcher
	policy target.Policy
	now    func() time.Time
	logger *slog.Logger
}

// New returns the server.
func New(store *sqlstore.Store, disp *deliver.Dispatcher, policy target.Policy, logger *slog.Logger) *Server {
	return &Server{store: store, disp: disp, policy: policy, now: time.Now, logger: logger}
}

func subscriptionNotFound(name string) error {
	return apierr.Error(codes.NotFound, notifyv1.ErrorReason_ERROR_REASON_SUBSCRIPTION_NOT_FOUND, name+" not found",
		map[string]string{"subscription": name})
}

func (s *Server) internal(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return apierr.Canceled()
	case errors.Is(err, context.DeadlineExceeded):
		return apierr.Error(codes.DeadlineExceeded, commonv1.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED, "deadline exceeded", nil)
	}
	return sqldb.FallbackStatus(ctx, s.logger, err)
}

// load returns subscription name if the caller may see it.
func (s *Server) load(ctx context.Context, c *notifyv1.Caller, name string) (*sqlstore.Subscription, error) {
	id := strings.TrimPrefix(name, "subscriptions/")
	sub, err := s.store.GetSubscription(ctx, id)
	if errors.Is(err, sqlstore.ErrNotFound) || (err == nil && !visible(sub, c)) {
		return nil, subscriptionNotFound(name)
	}
	if err != nil {
		return nil, s.internal(ctx, err)
	}
	return sub, nil
}

func visible(sub *sqlstore.Subscription, c *notifyv1.Caller) bool {
	return sub.Channel == c.GetChannel() && (c.GetCustomerId() == "" || sub.CustomerID == c.GetCustomerId())
}

func toProto(sub *sqlstore.Subscription, pending int64) *notifyv1.Subscription {
	out := &notifyv1.Subscription{
		Name: "subscriptions/" + sub.ID, Channel: sub.Channel, CustomerId: sub.CustomerID, TargetUri: sub.TargetURI,
		DisplayName: sub.DisplayName, State: notifyv1.Subscription_State(sub.State), StateMessage: sub.StateMessage,
		CreateTime: timestamppb.New(sub.CreateTime), ConsecutiveFailures: int32(sub.ConsecutiveFailures), PendingDeliveries: pending,
	}
	for t := range 64 {
		if sub.EventTypes&(1<<t) != 0 {
			out.EventTypes = append(out.EventTypes, notifyv1.EventType(t))
		}
	}
	if !sub.LastSuccess.IsZero() {
		out.LastSuccessTime = timestamppb.New(sub.LastSuccess)
	}
	return out
}

func (s *Server) withPending(ctx context.Context, sub *sqlstore.Subscription) (*notifyv1.Subscription, error) {
	counts, err := s.store.PendingCounts(ctx)
	if err != nil {
		return nil, s.internal(ctx, err)
	}
	return toProto(sub, counts[sub.ID]), nil
}

func invalidTarget(raw string, err error) error {
	var te *target.Error
	rule := "syntax"
	if errors.As(err, &te) {
		rule = te.Rule
	}
	return apierr.Error(codes.InvalidArgument, notifyv1.ErrorReason_ERROR_REASON_TARGET_NOT_ALLOWED, err.Error(),
		map[string]string{"target_uri": raw, "rule": rule})
}

// CreateSubscription implements notifyv1.NotificationServiceServer.
func (s *Server) CreateSubscription(ctx context.Context, req *notifyv1.CreateSubscriptionRequest) (*notifyv1.Subscription, error) {
	in, c := req.GetSubscription(), req.GetCaller()
	if len(in.GetEventTypes()) == 0 {
		return nil, apierr.InvalidArgument("subscription.event_types: at least one event type is required",
			apierr.FieldViolation{Field: "subscription.event_types", Description: "at least one event type is required", Reason: "REPEATED_MIN_ITEMS"})
	}
	var types int64
	for _, t := range in.GetEventTypes() {
		if t == notifyv1.EventType_EVENT_TYPE_UNSPECIFIED || notifyv1.EventType_name[int32(t)] == "" {
			return nil, apierr.InvalidArgument("subscription.event_types: unknown event type",
				apierr.FieldViolation{Field: "subscription.event_types", Description: "unknown event type", Reason: "ENUM_DEFINED_ONLY"})
		}
		types |= 1 << int(t)
	}
	if _, err := s.policy.Validate(ctx, in.GetTargetUri()); err != nil {
		return nil, invalidTarget(in.GetTargetUri(), err)
	}
	if n, err := s.store.CountSubscriptions(ctx, c.GetChannel(), c.GetCustomerId()); err != nil {
		return nil, s.internal(ctx, err)
	} else if n >= MaxSubscriptions && req.GetRequestId() == "" {
		return nil, limitError()
	}
	secret, err := signing.NewSecret()
	if err != nil {
		return nil, s.internal(ctx, err)
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%s", in.GetTargetUri(), types, in.GetDisplayName()))
	sub := &sqlstore.Subscription{
		ID: uuid.NewString(), Channel: c.GetChannel(), CustomerID: c.GetCustomerId(), TargetURI: in.GetTargetUri(),
		EventTypes: types, DisplayName: in.GetDisplayName(), Secret: secret.Reveal(), State: sqlstore.SubActive,
		CreateTime: s.now().UTC().Truncate(time.Microsecond), RequestID: req.GetRequestId(), RequestHash: hex.EncodeToString(h[:]),
	}
	got, created, err := s.store.CreateSubscription(ctx, sub)
	switch {
	case errors.Is(err, sqlstore.ErrRequestReused):
		return nil, apierr.Error(codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED,
			"request_id was used before with a different payload", nil)
	case err != nil:
		return nil, s.internal(ctx, err)
	}
	if created {
		if n, err := s.store.CountSubscriptions(ctx, c.GetChannel(), c.GetCustomerId()); err == nil && n > MaxSubscriptions {
			_ = s.store.DeleteSubscription(ctx, got.ID)
			return nil, limitError()
		}
		s.logger.InfoContext(ctx, "webhook subscription created", slog.String("subscription", got.ID),
			slog.String("channel", got.Channel), slog.String("customer_id", got.CustomerID))
		s.disp.Wake()
	}
	out := toProto(got, 0)
	out.Secret = got.Secret // returned once; a replayed create returns the same secret to the same caller
	return out, nil
}

func limitError() error {
	return apierr.Error(codes.ResourceExhausted, notifyv1.ErrorReason_ERROR_REASON_SUBSCRIPTION_LIMIT,
		fmt.Sprintf("at most %d webhook subscriptions", MaxSubscriptions), map[string]string{"limit": fmt.Sprint(MaxSubscriptions)})
}

// GetSubscription implements notifyv1.NotificationServiceServer.
func (s *Server) GetSubscription(ctx context.Context, req *notifyv1.GetSubscriptionRequest) (*notifyv1.Subscription, error) {
	sub, err := s.load(ctx, req.GetCaller(), req.GetName())
	if err != nil {
		return nil, err
	}
	return s.withPending(ctx, sub)
}

// ListSubscriptions implements notifyv1.NotificationServiceServer.
func (s *Server) ListSubscriptions(ctx context.Context, req *notifyv1.ListSubscriptionsRequest) (*notifyv1.ListSubscriptionsResponse, error) {
	c := req.GetCaller()
	q := aip.Query{Method: notifyv1.NotificationService_ListSubscriptions_FullMethodName, Filter: c.GetChannel() + "/" + c.GetCustomerId()}
	var afterTime time.Time
	var afterID string
	if err := aip.DecodePageToken(req.GetPageToken(), q, &afterTime, &afterID); err != nil {
		return nil, err
	}
	size := int(aip.ClampPageSize(req.GetPageSize(), aip.DefaultPageSize, aip.MaxPageSize))
	subs, err := s.store.ListSubscriptions(ctx, c.GetChannel(), c.GetCustomerId(), afterTime, afterID, size+1)
	if err != nil {
		return nil, s.internal(ctx, err)
	}
	subs, next := aip.KeysetPage(subs, size, q, func(x *sqlstore.Subscription) []aip.Key {
		return []aip.Key{aip.KeyOf(x.CreateTime), aip.KeyOf(x.ID)}
	})
	counts, err := s.store.PendingCounts(ctx)
	if err != nil {
		return nil, s.internal(ctx, err)
	}
	out := &notifyv1.ListSubscriptionsResponse{NextPageToken: next}
	for _, x := range subs {
		out.Subscriptions = append(out.Subscriptions, toProto(x, counts[x.ID]))
	}
	return out, nil
}

// DeleteSubscription implements notifyv1.NotificationServiceServer.
func (s *Server) DeleteSubscription(ctx context.Context, req *notifyv1.DeleteSubscriptionRequest) (*emptypb.Empty, error) {
	sub, err := s.load(ctx, req.GetCaller(), req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteSubscription(ctx, sub.ID); errors.Is(err, sqlstore.ErrNotFound) {
		return nil, subscriptionNotFound(req.GetName())
	} else if err != nil {
		return nil, s.internal(ctx, err)
	}
	s.disp.Wake()
	return &emptypb.Empty{}, nil
}

// EnableSubscription implements notifyv1.NotificationServiceServer.
func (s *Server) EnableSubscription(ctx context.Context, req *notifyv1.EnableSubscriptionRequest) (*notifyv1.Subscription, error) {
	sub, err := s.load(ctx, req.GetCaller(), req.GetName())
	if err != nil {
		return nil, err
	}
	if sub.State != sqlstore.SubActive {
		if err := s.store.Enable(ctx, sub.ID, s.now()); err != nil {
			return nil, s.internal(ctx, err)
		}
		s.logger.InfoContext(ctx, "webhook subscription enabled", slog.String("subscription", sub.ID))
		s.disp.Wake()
	}
	if sub, err = s.store.GetSubscription(ctx, sub.ID); err != nil {
		return nil, s.internal(ctx, err)
	}
	return s.withPending(ctx, sub)
}

// RotateSubscriptionSecret implements notifyv1.NotificationServiceServer.
func (s *Server) RotateSubscriptionSecret(ctx context.Context, req *notifyv1.RotateSubscriptionSecretRequest) (*notifyv1.Subscription, error) {
	sub, err := s.load(ctx, req.GetCaller(), req.GetName())
	if err != nil {
		return nil, err
	}
	grace := req.GetGracePeriod().AsDuration()
	if req.GetGracePeriod() == nil || grace == 0 {
		grace = DefaultGracePeriod
	}
	secret, err := signing.NewSecret()
	if err != nil {
		return nil, s.internal(ctx, err)
	}
	if err := s.store.RotateSecret(ctx, sub.ID, secret.Reveal(), s.now().Add(grace)); err != nil {
		return nil, s.internal(ctx, err)
	}
	s.logger.InfoContext(ctx, "webhook secret rotated", slog.String("subscription", sub.ID), slog.Duration("grace", grace))
	out, err := s.withPending(ctx, sub)
	if err != nil {
		return nil, err
	}
	out.Secret = secret.Reveal()
	return out, nil
}

func deliveryToProto(d *sqlstore.Delivery) *notifyv1.Delivery {
	out := &notifyv1.Delivery{
		Name: "subscriptions/" + d.SubscriptionID + "/deliveries/" + d.ID, WebhookId: d.ID, EventId: d.EventID,
		EventType: notifyv1.EventType(d.EventType), Resource: d.Resource, State: notifyv1.Delivery_State(d.State),
		EventTime: timestamppb.New(d.EventTime), CreateTime: timestamppb.New(d.CreateTime),
	}
	if d.State == sqlstore.DeliveryPending {
		out.NextAttemptTime = timestamppb.New(d.NextAttempt)
	}
	if !d.DeliverTime.IsZero() {
		out.DeliverTime = timestamppb.New(d.DeliverTime)
	}
	for _, a := range d.AttemptLog {
		out.Attempts = append(out.Attempts, attemptToProto(a))
	}
	return out
}

func attemptToProto(a sqlstore.Attempt) *notifyv1.Attempt {
	return &notifyv1.Attempt{Attempt: int32(a.Number), AttemptTime: timestamppb.New(a.Time), StatusCode: int32(a.StatusCode),
		Latency: durationpb.New(a.Latency), Error: a.Error}
}

// ListDeliveries implements notifyv1.NotificationServiceServer.
func (s *Server) ListDeliveries(ctx context.Context, req *notifyv1.ListDeliveriesRequest) (*notifyv1.ListDeliveriesResponse, error) {
	sub, err := s.load(ctx, req.GetCaller(), req.GetParent())
	if err != nil {
		return nil, err
	}
	q := aip.Query{Method: notifyv1.NotificationService_ListDeliveries_FullMethodName, Filter: sub.ID}
	var before int64
	if err := aip.DecodePageToken(req.GetPageToken(), q, &before); err != nil {
		return nil, err
	}
	size := int(aip.ClampPageSize(req.GetPageSize(), aip.DefaultPageSize, aip.MaxPageSize))
	ds, err := s.store.ListDeliveries(ctx, sub.ID, before, size+1)
	if err != nil {
		return nil, s.internal(ctx, err)
	}
	ds, next := aip.KeysetPage(ds, size, q, func(d *sqlstore.Delivery) []aip.Key { return []aip.Key{aip.KeyOf(d.Position)} })
	out := &notifyv1.ListDeliveriesResponse{NextPageToken: next}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, deliveryToProto(d))
	}
	return out, nil
}

// loadDelivery returns delivery name if the caller may see its subscription.
func (s *Server) loadDelivery(ctx context.Context, c *notifyv1.Caller, name string) (*sqlstore.Delivery, error) {
	parent, id, _ := strings.Cut(strings.TrimPrefix(name, "subscriptions/"), "/deliveries/")
	sub, err := s.load(ctx, c, "subscriptions/"+parent)
	if err != nil {
		return nil, err
	}
	d, err := s.store.GetDelivery(ctx, id)
	if errors.Is(err, sqlstore.ErrNotFound) || (err == nil && d.SubscriptionID != sub.ID) {
		return nil, apierr.Error(codes.NotFound, notifyv1.ErrorReason_ERROR_REASON_DELIVERY_NOT_FOUND, name+" not found",
			map[string]string{"delivery": name})
	}
	if err != nil {
		return nil, s.internal(ctx, err)
	}
	return d, nil
}

// GetDelivery implements notifyv1.NotificationServiceServer.
func (s *Server) GetDelivery(ctx context.Context, req *notifyv1.GetDeliveryRequest) (*notifyv1.Delivery, error) {
	d, err := s.loadDelivery(ctx, req.GetCaller(), req.GetName())
	if err != nil {
		return nil, err
	}
	return deliveryToProto(d), nil
}

// RedeliverDelivery implements notifyv1.NotificationServiceServer.
func (s *Server) RedeliverDelivery(ctx context.Context, req *notifyv1.RedeliverDeliveryRequest) (*notifyv1.Delivery, error) {
	d, err := s.loadDelivery(ctx, req.GetCaller(), req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.store.Redeliver(ctx, d.ID, s.now()); err != nil {
		return nil, s.internal(ctx, err)
	}
	s.disp.Wake()
	if d, err = s.store.GetDelivery(ctx, d.ID); err != nil {
		return nil, s.internal(ctx, err)
	}
	return deliveryToProto(d), nil
}

// TestSubscription implements notifyv1.NotificationServiceServer: one
// signed sample delivery, not queued, not retried.
func (s *Server) TestSubscription(ctx context.Context, req *notifyv1.TestSubscriptionRequest) (*notifyv1.TestSubscriptionResponse, error) {
	sub, err := s.load(ctx, req.GetCaller(), req.GetName())
	if err != nil {
		return nil, err
	}
	typ := req.GetEventType()
	if typ == notifyv1.EventType_EVENT_TYPE_UNSPECIFIED {
		typ = toProto(sub, 0).GetEventTypes()[0]
	}
	now := s.now().UTC()
	ev := payload.Event{ID: "test_" + uuid.NewString(), Type: storefrontv1.WebhookEventType(typ), Time: now}
	switch typ {
	case notifyv1.EventType_EVENT_TYPE_SHIPMENT_STATUS_CHANGED:
		ev.Shipment = sampleShipment(now)
	case notifyv1.EventType_EVENT_TYPE_ORDER_STATUS_CHANGED, notifyv1.EventType_EVENT_TYPE_RETURN_STATUS_CHANGED, notifyv1.EventType_EVENT_TYPE_UNSPECIFIED:
		ev.Order = sampleOrder(sub, now)
	}
	id := eventsin.WebhookID(sub.ID, ev.ID)
	body, err := payload.Body(ev, id, eventsin.SubscriptionName(sub.ID), true)
	if err != nil {
		return nil, s.internal(ctx, err)
	}
	o := s.disp.Test(ctx, sub, id, body)
	return &notifyv1.TestSubscriptionResponse{Body: body, WebhookId: id, Attempt: attemptToProto(o.Attempt), Success: o.Delivered}, nil
}

func sampleOrder(sub *sqlstore.Subscription, now time.Time) *orderv1.Order {
	customer := sub.CustomerID
	if customer == "" {
		customer = "C-TEST"
	}
	return &orderv1.Order{OrderId: "TEST-ORDER", CustomerId: customer, Channel: sub.Channel, CurrencyCode: "EUR",
		State: orderv1.Order_STATE_CONFIRMED, CreateTime: timestamppb.New(now), UpdateTime: timestamppb.New(now)}
}
