package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/testharness/natstest"
	"github.com/transload/transload/services/catalog-pricing/internal/app"
)

// TestEventsReachJetStream: the service creates TRANSLOAD_CATALOG and the
// outbox relay publishes CatalogPublishedEvent and PricesChangedEvent for
// the initial import, and another CatalogPublishedEvent for a publish.
func TestEventsReachJetStream(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	_, js := natstest.Connect(t, ns)
	erp := newFakeERP()
	in := start(t, testEnv(t, map[string]string{"NATS_URL": ns.ClientURL()}), serveERP(t, erp))
	in.waitReady(t)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var stream jetstream.Stream
	eventually(t, "stream "+app.Stream.Name, 20*time.Second, func() bool {
		s, err := js.Stream(ctx, app.Stream.Name)
		stream = s
		return err == nil
	})
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	next := func() jetstream.Msg {
		t.Helper()
		msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("next event: %v", err)
		}
		return msg
	}
	var published *catalogv1.CatalogPublishedEvent
	priceEvents := 0
	// Aggregates are relayed independently: pricing events may come before
	// or after the catalog event.
	for published == nil || priceEvents < 4 {
		msg := next()
		switch typ := msg.Headers().Get(outbox.HeaderEventType); typ {
		case "transload.catalog.v1.CatalogPublishedEvent":
			if msg.Subject() != "transload.catalog.catalog_published" {
				t.Fatalf("subject %s", msg.Subject())
			}
			published = &catalogv1.CatalogPublishedEvent{}
			if err := proto.Unmarshal(msg.Data(), published); err != nil {
				t.Fatal(err)
			}
		case "transload.catalog.v1.PricesChangedEvent":
			if msg.Subject() != "transload.catalog.prices_changed" {
				t.Fatalf("subject %s", msg.Subject())
			}
			priceEvents++
		default:
			t.Fatalf("unexpected event type %q", typ)
		}
	}
	if published.GetVersion() != 1 || published.GetProductCount() != nProducts || published.GetAddedCount() != nProducts ||
		len(published.GetChangedSkus()) != nProducts || published.GetMetadata().GetProducer() != "catalog" ||
		published.GetMetadata().GetSequence() != 1 || published.GetMetadata().GetEventId() == "" {
		t.Fatalf("catalog published event = %v", published)
	}
	// Two lists upserted and two lists filled: exactly four price events.
	if priceEvents != 4 {
		t.Fatalf("%d PricesChanged events; want 4", priceEvents)
	}

	p, err := in.catalog.GetProduct(ctx, &catalogv1.GetProductRequest{Name: "products/" + sku(5)})
	if err != nil {
		t.Fatal(err)
	}
	p.Title = "Renamed"
	if _, err := in.catalog.ImportProducts(ctx, &catalogv1.ImportProductsRequest{RequestId: "rename", Source: "t",
		Mode: catalogv1.ImportMode_IMPORT_MODE_UPSERT, Rows: []*catalogv1.ProductImportRow{{RowNumber: 1, Product: p}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := in.catalog.PublishCatalog(ctx, &catalogv1.PublishCatalogRequest{RequestId: "pub"}); err != nil {
		t.Fatal(err)
	}
	msg := next()
	ev := &catalogv1.CatalogPublishedEvent{}
	if err := proto.Unmarshal(msg.Data(), ev); err != nil {
		t.Fatal(err)
	}
	if ev.GetVersion() != 2 || ev.GetPreviousVersion() != 1 || ev.GetChangedCount() != 1 ||
		len(ev.GetChangedSkus()) != 1 || ev.GetChangedSkus()[0] != sku(5) || ev.GetMetadata().GetSequence() != 2 {
		t.Fatalf("second catalog published event = %v", ev)
	}
	if _, err := cons.Next(jetstream.FetchMaxWait(200 * time.Millisecond)); !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
		t.Fatalf("extra event after the publish: %v", err)
	}
}
