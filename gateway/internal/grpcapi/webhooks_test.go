package grpcapi

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	notifyv1 "github.com/transload/transload/gen/transload/notify/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/apierr"

	"github.com/transload/transload/gateway/internal/auth"
)

// fakeNotify records the last request and answers with resp/err.
type fakeNotify struct {
	notifyv1.NotificationServiceClient
	last any
	err  error
}

func (f *fakeNotify) CreateSubscription(_ context.Context, in *notifyv1.CreateSubscriptionRequest, _ ...grpc.CallOption) (*notifyv1.Subscription, error) {
	f.last = in
	if f.err != nil {
		return nil, f.err
	}
	return &notifyv1.Subscription{Name: "subscriptions/s1", Secret: "whsec_x", CustomerId: in.GetCaller().GetCustomerId(),
		TargetUri: in.GetSubscription().GetTargetUri(), EventTypes: in.GetSubscription().GetEventTypes(), State: notifyv1.Subscription_STATE_ACTIVE}, nil
}

func (f *fakeNotify) ListDeliveries(_ context.Context, in *notifyv1.ListDeliveriesRequest, _ ...grpc.CallOption) (*notifyv1.ListDeliveriesResponse, error) {
	f.last = in
	return &notifyv1.ListDeliveriesResponse{Deliveries: []*notifyv1.Delivery{{Name: "subscriptions/s1/deliveries/msg_1",
		State: notifyv1.Delivery_STATE_FAILED, Attempts: []*notifyv1.Attempt{{Attempt: 1, StatusCode: 410}}}}}, f.err
}

func TestWebhooksForwardCallerAndNames(t *testing.T) {
	f := &fakeNotify{}
	s := &Server{notify: f, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := auth.WithPrincipal(t.Context(), auth.Principal{Channel: "web", CustomerID: "C1"})
	out, err := s.CreateWebhookSubscription(ctx, &storefrontv1.CreateWebhookSubscriptionRequest{RequestId: "r1",
		WebhookSubscription: &storefrontv1.WebhookSubscription{TargetUri: "https://h.example/",
			EventTypes: []storefrontv1.WebhookEventType{storefrontv1.WebhookEventType_WEBHOOK_EVENT_TYPE_SHIPMENT_STATUS_CHANGED}}})
	if err != nil {
		t.Fatal(err)
	}
	req := f.last.(*notifyv1.CreateSubscriptionRequest)
	if req.GetCaller().GetChannel() != "web" || req.GetCaller().GetCustomerId() != "C1" || req.GetRequestId() != "r1" ||
		req.GetSubscription().GetEventTypes()[0] != notifyv1.EventType_EVENT_TYPE_SHIPMENT_STATUS_CHANGED {
		t.Fatalf("forwarded %v", req)
	}
	if out.GetName() != "webhookSubscriptions/s1" || out.GetSecret() != "whsec_x" || out.GetState() != storefrontv1.WebhookSubscription_STATE_ACTIVE {
		t.Fatalf("answer %v", out)
	}
	log, err := s.ListWebhookDeliveryRecords(ctx, &storefrontv1.ListWebhookDeliveryRecordsRequest{Parent: "webhookSubscriptions/s1"})
	if err != nil || f.last.(*notifyv1.ListDeliveriesRequest).GetParent() != "subscriptions/s1" {
		t.Fatalf("list: %v %v", f.last, err)
	}
	if d := log.GetWebhookDeliveryRecords()[0]; d.GetName() != "webhookSubscriptions/s1/deliveries/msg_1" || d.GetState() != storefrontv1.WebhookDeliveryRecord_STATE_FAILED ||
		d.GetAttempts()[0].GetStatusCode() != 410 {
		t.Fatalf("delivery %v", d)
	}

	for _, c := range []struct {
		err  error
		want string
	}{
		{apierr.Error(codes.InvalidArgument, notifyv1.ErrorReason_ERROR_REASON_TARGET_NOT_ALLOWED, "loopback", nil), "InvalidArgument/ERROR_REASON_VALIDATION_FAILED"},
		{apierr.Error(codes.ResourceExhausted, notifyv1.ErrorReason_ERROR_REASON_SUBSCRIPTION_LIMIT, "limit", map[string]string{"limit": "10"}), "ResourceExhausted/ERROR_REASON_WEBHOOK_SUBSCRIPTION_LIMIT"},
		{apierr.Error(codes.NotFound, notifyv1.ErrorReason_ERROR_REASON_SUBSCRIPTION_NOT_FOUND, "x", nil), "NotFound/ERROR_REASON_NOT_FOUND"},
		{apierr.Error(codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED, "x", nil), "AlreadyExists/ERROR_REASON_IDEMPOTENCY_KEY_REUSED"},
		{status.Error(codes.Unavailable, "down"), "Unavailable/ERROR_REASON_DEPENDENCY_UNAVAILABLE"},
	} {
		f.err = c.err
		_, err := s.CreateWebhookSubscription(ctx, &storefrontv1.CreateWebhookSubscriptionRequest{RequestId: "r",
			WebhookSubscription: &storefrontv1.WebhookSubscription{TargetUri: "https://h.example/"}})
		if got := status.Code(err).String() + "/" + apierr.ReasonOf(err); got != c.want {
			t.Errorf("%v mapped to %s, want %s", c.err, got, c.want)
		}
	}
	if _, err := (&Server{logger: s.logger}).GetWebhookSubscription(ctx, &storefrontv1.GetWebhookSubscriptionRequest{Name: "webhookSubscriptions/x"}); status.Code(err) != codes.Unimplemented {
		t.Fatalf("without notify: %v", err)
	}
}
