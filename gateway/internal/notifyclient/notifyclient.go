// Package notifyclient dials the notify service, which serves the
// storefront webhook routes behind the gateway: one connection with its
// own deadline (NOTIFY_TIMEOUT) and breaker (platform/grpcclient), lazy
// like the other neighbours, so the gateway starts while notify is down.
package notifyclient

import (
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc"

	notifyv1 "github.com/transload/transload/gen/transload/notify/v1"
	"github.com/transload/transload/platform/grpcclient"
)

// Dependency names the notify service in errors, metrics and breakers.
const Dependency = "notify"

// IdempotentMethods are retried by the client on a transient failure:
// reads, and mutations whose repeat changes nothing more (create carries
// the storefront's required request_id). TestSubscription (sends a
// delivery) and RotateSubscriptionSecret (makes a new secret) are not.
var IdempotentMethods = []string{
	notifyv1.NotificationService_CreateSubscription_FullMethodName,
	notifyv1.NotificationService_GetSubscription_FullMethodName,
	notifyv1.NotificationService_ListSubscriptions_FullMethodName,
	notifyv1.NotificationService_DeleteSubscription_FullMethodName,
	notifyv1.NotificationService_EnableSubscription_FullMethodName,
	notifyv1.NotificationService_ListDeliveries_FullMethodName,
	notifyv1.NotificationService_GetDelivery_FullMethodName,
	notifyv1.NotificationService_RedeliverDelivery_FullMethodName,
}

// Dial returns the notify client and its connection (close it on
// shutdown).
func Dial(addr string, timeout time.Duration, opts ...grpcclient.Option) (notifyv1.NotificationServiceClient, *grpc.ClientConn, error) {
	conn, err := grpcclient.Dial(addr, append(slices.Clone(opts),
		grpcclient.WithDependency(Dependency),
		grpcclient.WithIdempotentMethods(IdempotentMethods...),
		grpcclient.WithDefaultTimeout(timeout),
	)...)
	if err != nil {
		return nil, nil, fmt.Errorf("notifyclient: %w", err)
	}
	return notifyv1.NewNotificationServiceClient(conn), conn, nil
}
