package grpcapi_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/testharness/natstest"
	"github.com/transload/transload/platform/testharness/wait"
)

// TestEventsReachJetStream relays the outbox to a real NATS JetStream
// server and reads the order's events back from TRANSLOAD_ORDER.
func TestEventsReachJetStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ns := natstest.Start(t)
	_, js := natstest.Connect(t, ns)
	ctx := t.Context()
	relay, err := outbox.NewRelay(e.db, js, outbox.WithLogger(quiet), outbox.WithPollInterval(20*time.Millisecond),
		outbox.WithStreams(eventstreams.Order))
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = relay.Run(rctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	id := e.createConfirmed(t, createReq("nats", "C0001", line{"SKU-00500", 5}))

	// The relay ensures the stream before it relays anything.
	var stream jetstream.Stream
	wait.Eventually(t, 10*time.Second, "stream "+eventstreams.Order.Name, func() (err error) {
		stream, err = js.Stream(ctx, eventstreams.Order.Name)
		return err
	})
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{FilterSubject: "transload.order.>", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []jetstream.Msg
	deadline := time.Now().Add(10 * time.Second)
	for len(msgs) < 2 && time.Now().Before(deadline) {
		batch, err := cons.Fetch(2-len(msgs), jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
	}
	if len(msgs) != 2 {
		t.Fatalf("got %d messages, want accepted and confirmed", len(msgs))
	}
	if msgs[0].Subject() != eventstreams.OrderAccepted || msgs[1].Subject() != eventstreams.OrderConfirmed {
		t.Fatalf("subjects %s, %s", msgs[0].Subject(), msgs[1].Subject())
	}
	var acc orderv1.OrderAcceptedEvent
	if err := proto.Unmarshal(msgs[0].Data(), &acc); err != nil {
		t.Fatal(err)
	}
	md := acc.GetMetadata()
	if acc.GetOrder().GetOrderId() != id || md.GetSequence() != 1 || md.GetAggregateType() != "order" || md.GetAggregateId() != id ||
		md.GetEventId() != msgs[0].Headers().Get(outbox.HeaderEventID) || md.GetProducer() != "order" {
		t.Errorf("accepted event: %+v", &acc)
	}
	var conf orderv1.OrderConfirmedEvent
	if err := proto.Unmarshal(msgs[1].Data(), &conf); err != nil {
		t.Fatal(err)
	}
	if conf.GetMetadata().GetSequence() != 2 || conf.GetPreviousState() != orderv1.Order_STATE_ACCEPTED_PENDING_ERP ||
		conf.GetErpOrderReference() == "" || conf.GetOrder().GetState() != orderv1.Order_STATE_CONFIRMED {
		t.Errorf("confirmed event: %+v", &conf)
	}
	// Fulfillment needs the warehouse allocations.
	allocs := conf.GetOrder().GetLines()[0].GetAllocations()
	if len(allocs) != 2 || allocs[0].GetWarehouseId() != "WH-HAM" || allocs[0].GetAllocatedQuantity() != 4 ||
		allocs[1].GetWarehouseId() != "WH-MUC" || allocs[1].GetAllocatedQuantity() != 1 {
		t.Errorf("allocations in OrderConfirmedEvent: %v", allocs)
	}
}
