package grpcapi_test

import (
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	notifyv1 "github.com/transload/transload/gen/transload/notify/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/services/notify/internal/deliver"
	"github.com/transload/transload/services/notify/internal/grpcapi"
	"github.com/transload/transload/services/notify/internal/signing"
	"github.com/transload/transload/services/notify/internal/store/sqlstore"
	"github.com/transload/transload/services/notify/internal/target"
)

func server(t *testing.T, p target.Policy) *grpcapi.Server {
	t.Helper()
	db := sqldbtest.OpenSQLite(t)
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	s := sqlstore.New(db)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := deliver.New(s, deliver.Config{Policy: p, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return grpcapi.New(s, d, p, logger)
}

var (
	web   = &notifyv1.Caller{Channel: "web"}
	c1    = &notifyv1.Caller{Channel: "web", CustomerId: "C1"}
	c2    = &notifyv1.Caller{Channel: "web", CustomerId: "C2"}
	types = []notifyv1.EventType{notifyv1.EventType_EVENT_TYPE_ORDER_STATUS_CHANGED}
)

func reason(err error) string {
	st, _ := status.FromError(err)
	return st.Code().String() + "/" + apierr.ReasonOf(err)
}

func TestScopingAndSecret(t *testing.T) {
	srv := server(t, target.Policy{AllowHTTP: true, AllowPrivate: true})
	ctx := t.Context()
	mine, err := srv.CreateSubscription(ctx, &notifyv1.CreateSubscriptionRequest{Caller: c1, RequestId: "r1",
		Subscription: &notifyv1.Subscription{TargetUri: "http://127.0.0.1:1/hook", EventTypes: types}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(mine.GetSecret(), signing.Prefix) || mine.GetCustomerId() != "C1" {
		t.Fatalf("created = %v", mine)
	}
	got, err := srv.GetSubscription(ctx, &notifyv1.GetSubscriptionRequest{Caller: c1, Name: mine.GetName()})
	if err != nil || got.GetSecret() != "" {
		t.Fatalf("get = %v %v, want no secret", got, err)
	}
	if _, err := srv.GetSubscription(ctx, &notifyv1.GetSubscriptionRequest{Caller: c2, Name: mine.GetName()}); reason(err) != "NotFound/ERROR_REASON_SUBSCRIPTION_NOT_FOUND" {
		t.Fatalf("other customer's get: %v", err)
	}
	if _, err := srv.GetSubscription(ctx, &notifyv1.GetSubscriptionRequest{Caller: &notifyv1.Caller{Channel: "shop"}, Name: mine.GetName()}); status.Code(err) != codes.NotFound {
		t.Fatalf("other channel's get: %v", err)
	}
	if _, err := srv.GetSubscription(ctx, &notifyv1.GetSubscriptionRequest{Caller: web, Name: mine.GetName()}); err != nil {
		t.Fatalf("channel key sees its customers' subscriptions: %v", err)
	}
	list, _ := srv.ListSubscriptions(ctx, &notifyv1.ListSubscriptionsRequest{Caller: c2})
	if len(list.GetSubscriptions()) != 0 {
		t.Fatalf("C2 lists %v", list.GetSubscriptions())
	}
	rot, err := srv.RotateSubscriptionSecret(ctx, &notifyv1.RotateSubscriptionSecretRequest{Caller: c1, Name: mine.GetName(),
		GracePeriod: durationpb.New(time.Hour)})
	if err != nil || rot.GetSecret() == mine.GetSecret() || !strings.HasPrefix(rot.GetSecret(), signing.Prefix) {
		t.Fatalf("rotate = %v %v", rot, err)
	}
	// The same request id replays the creation.
	again, err := srv.CreateSubscription(ctx, &notifyv1.CreateSubscriptionRequest{Caller: c1, RequestId: "r1",
		Subscription: &notifyv1.Subscription{TargetUri: "http://127.0.0.1:1/hook", EventTypes: types}})
	if err != nil || again.GetName() != mine.GetName() {
		t.Fatalf("replay = %v %v", again, err)
	}
	if _, err := srv.CreateSubscription(ctx, &notifyv1.CreateSubscriptionRequest{Caller: c1, RequestId: "r1",
		Subscription: &notifyv1.Subscription{TargetUri: "http://127.0.0.1:2/hook", EventTypes: types}}); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("reused key: %v", err)
	}
	if _, err := srv.DeleteSubscription(ctx, &notifyv1.DeleteSubscriptionRequest{Caller: c2, Name: mine.GetName()}); status.Code(err) != codes.NotFound {
		t.Fatalf("other customer's delete: %v", err)
	}
	for i := range grpcapi.MaxSubscriptions - 1 {
		if _, err := srv.CreateSubscription(ctx, &notifyv1.CreateSubscriptionRequest{Caller: c1,
			Subscription: &notifyv1.Subscription{TargetUri: "http://127.0.0.1:1/h" + string(rune('a'+i)), EventTypes: types}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.CreateSubscription(ctx, &notifyv1.CreateSubscriptionRequest{Caller: c1,
		Subscription: &notifyv1.Subscription{TargetUri: "http://127.0.0.1:1/over", EventTypes: types}}); reason(err) != "ResourceExhausted/ERROR_REASON_SUBSCRIPTION_LIMIT" {
		t.Fatalf("over the limit: %v", err)
	}
}

func TestTargetRefusedAndTestDelivery(t *testing.T) {
	strict := server(t, target.Policy{})
	_, err := strict.CreateSubscription(t.Context(), &notifyv1.CreateSubscriptionRequest{Caller: web,
		Subscription: &notifyv1.Subscription{TargetUri: "https://127.0.0.1/hook", EventTypes: types}})
	if reason(err) != "InvalidArgument/ERROR_REASON_TARGET_NOT_ALLOWED" {
		t.Fatalf("loopback target: %v", err)
	}
	_, err = strict.CreateSubscription(t.Context(), &notifyv1.CreateSubscriptionRequest{Caller: web,
		Subscription: &notifyv1.Subscription{TargetUri: "http://hooks.example.com/", EventTypes: types}})
	if reason(err) != "InvalidArgument/ERROR_REASON_TARGET_NOT_ALLOWED" {
		t.Fatalf("http target: %v", err)
	}

	var secret atomic.Value
	var verified atomic.Bool
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		verified.Store(signing.Verify(r.Header, body, signing.Secret(secret.Load().(string)), time.Now(), time.Minute) == nil)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer rcv.Close()
	dev := server(t, target.Policy{AllowHTTP: true, AllowPrivate: true})
	sub, err := dev.CreateSubscription(t.Context(), &notifyv1.CreateSubscriptionRequest{Caller: web,
		Subscription: &notifyv1.Subscription{TargetUri: rcv.URL + "/hook", EventTypes: types}})
	if err != nil {
		t.Fatal(err)
	}
	secret.Store(sub.GetSecret())
	res, err := dev.TestSubscription(t.Context(), &notifyv1.TestSubscriptionRequest{Caller: web, Name: sub.GetName()})
	if err != nil || !res.GetSuccess() || res.GetAttempt().GetStatusCode() != 202 || !verified.Load() {
		t.Fatalf("test delivery = %v %v (signature verified %v)", res, err, verified.Load())
	}
	if !strings.Contains(string(res.GetBody()), `"test":true`) {
		t.Fatalf("test body = %s", res.GetBody())
	}
}

func TestDeliveryLogScoped(t *testing.T) {
	db := sqldbtest.OpenSQLite(t)
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	s := sqlstore.New(db)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := target.Policy{AllowHTTP: true, AllowPrivate: true}
	d, _ := deliver.New(s, deliver.Config{Policy: p, Logger: logger})
	srv := grpcapi.New(s, d, p, logger)
	ctx := t.Context()
	sub, err := srv.CreateSubscription(ctx, &notifyv1.CreateSubscriptionRequest{Caller: c1,
		Subscription: &notifyv1.Subscription{TargetUri: "http://127.0.0.1:1/hook", EventTypes: types}})
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimPrefix(sub.GetName(), "subscriptions/")
	now := time.Now()
	if err := s.InTx(ctx, func(_ *sql.Tx, tx *sqlstore.Tx) error {
		_, err := tx.Enqueue(ctx, &sqlstore.Delivery{ID: "msg_1", SubscriptionID: id, EventID: "e1", EventType: 1, Resource: "orders/1",
			OrderingKey: "orders/1", Body: []byte(`{}`), EventTime: now, CreateTime: now, NextAttempt: now})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	name := sub.GetName() + "/deliveries/msg_1"
	got, err := srv.GetDelivery(ctx, &notifyv1.GetDeliveryRequest{Caller: c1, Name: name})
	if err != nil || got.GetWebhookId() != "msg_1" || got.GetState() != notifyv1.Delivery_STATE_PENDING {
		t.Fatalf("get = %v %v", got, err)
	}
	for _, c := range []*notifyv1.Caller{c2, {Channel: "shop"}} {
		if _, err := srv.GetDelivery(ctx, &notifyv1.GetDeliveryRequest{Caller: c, Name: name}); status.Code(err) != codes.NotFound {
			t.Errorf("%v reads another's delivery: %v", c, err)
		}
		if _, err := srv.RedeliverDelivery(ctx, &notifyv1.RedeliverDeliveryRequest{Caller: c, Name: name}); status.Code(err) != codes.NotFound {
			t.Errorf("%v redelivers another's delivery: %v", c, err)
		}
		if _, err := srv.ListDeliveries(ctx, &notifyv1.ListDeliveriesRequest{Caller: c, Parent: sub.GetName()}); status.Code(err) != codes.NotFound {
			t.Errorf("%v lists another's log: %v", c, err)
		}
	}
	if _, err := srv.GetDelivery(ctx, &notifyv1.GetDeliveryRequest{Caller: c1, Name: sub.GetName() + "/deliveries/msg_nope"}); reason(err) != "NotFound/ERROR_REASON_DELIVERY_NOT_FOUND" {
		t.Errorf("missing delivery: %v", err)
	}
	log, err := srv.ListDeliveries(ctx, &notifyv1.ListDeliveriesRequest{Caller: web, Parent: sub.GetName(), PageSize: 1})
	if err != nil || len(log.GetDeliveries()) != 1 || log.GetNextPageToken() != "" {
		t.Fatalf("channel key lists its customer's log: %v %v", log, err)
	}
}
