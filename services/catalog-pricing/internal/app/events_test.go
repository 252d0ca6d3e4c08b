package app_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/testharness/natstest"
	"github.com/transload/transload/platform/testharness/wait"
	"github.com/transload/transload/services/catalog-pricing/internal/erptest"
	"github.com/transload/transload/services/catalog-pricing/internal/store/sqlstore"
)

// relayed is one event read from the stream: its metadata, the number it
// announces (catalog version or price version) and its sequence header.
type relayed struct {
	md        *commonv1.EventMetadata
	announces int64
	header    string
}

// TestEventsReachJetStream: the service creates TRANSLOAD_CATALOG and the
// outbox relays CatalogPublishedEvent and PricesChangedEvent for the
// initial import and for later changes, and nothing for calls that change
// nothing. Each event's metadata sequence, which the outbox assigns per
// aggregate, equals the catalog version or price version it announces:
// every version and every price version is taken in the transaction that
// writes its one event.
func TestEventsReachJetStream(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	_, js := natstest.Connect(t, ns)
	erp := newFakeERP()
	env := testEnv(t, map[string]string{"NATS_URL": ns.ClientURL()})
	in := start(t, env, erptest.Serve(t, erp))
	in.waitReady(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	// The initial import published version 1 and made four price changes
	// (two lists upserted, two lists filled).
	events := readEvents(ctx, t, js, 1, 4)
	if first := events[eventstreams.CatalogPublished][0]; first.md.GetProducer() != "catalog" || first.md.GetEventId() == "" ||
		first.md.GetAggregateType() != "catalog" {
		t.Fatalf("first catalog event metadata = %v", first.md)
	}

	// Changes: one new version, two price changes. Calls that change
	// nothing take no number and write no event.
	p, err := in.catalog.GetProduct(ctx, &catalogv1.GetProductRequest{Name: "products/" + sku(5)})
	if err != nil {
		t.Fatal(err)
	}
	p.Title = "Renamed"
	must(t)(in.catalog.ImportProducts(ctx, &catalogv1.ImportProductsRequest{RequestId: "rename", Source: "t",
		Mode: catalogv1.ImportMode_IMPORT_MODE_UPSERT, Rows: []*catalogv1.ProductImportRow{{RowNumber: 1, Product: p}}}))
	for _, id := range []string{"pub", "pub", "pub-unchanged"} {
		must(t)(in.catalog.PublishCatalog(ctx, &catalogv1.PublishCatalogRequest{RequestId: id}))
	}
	pl, err := in.pricing.GetPriceList(ctx, &catalogv1.GetPriceListRequest{Name: "priceLists/PL-EUR"})
	if err != nil {
		t.Fatal(err)
	}
	must(t)(in.pricing.UpdatePriceList(ctx, &catalogv1.UpdatePriceListRequest{RequestId: "same-list", PriceList: pl}))
	row := func(currency string, minor int64) []*catalogv1.PriceImportRow {
		return []*catalogv1.PriceImportRow{{RowNumber: 1, Sku: sku(1), UnitPrice: &commonv1.Money{AmountMinor: minor, CurrencyCode: currency}}}
	}
	for _, req := range []*catalogv1.ImportPricesRequest{
		{RequestId: "rejected", Mode: catalogv1.ImportMode_IMPORT_MODE_REPLACE_ALL, Rows: row("USD", 1)},
		{RequestId: "validate", Mode: catalogv1.ImportMode_IMPORT_MODE_UPSERT, Rows: row("EUR", 999), ValidateOnly: true},
		{RequestId: "reprice", Mode: catalogv1.ImportMode_IMPORT_MODE_UPSERT, Rows: row("EUR", 999)},
		{RequestId: "reprice", Mode: catalogv1.ImportMode_IMPORT_MODE_UPSERT, Rows: row("EUR", 999)},
	} {
		req.PriceList, req.Source = "priceLists/PL-EUR", "t"
		must(t)(in.pricing.ImportPrices(ctx, req))
	}
	must(t)(in.pricing.DeletePriceList(ctx, &catalogv1.DeletePriceListRequest{RequestId: "del", Name: "priceLists/PL-B2B-EUR", Force: true}))

	events = readEvents(ctx, t, js, 2, 6)
	v2 := events[eventstreams.CatalogPublished][1]
	if ev := v2.md; ev.GetSequence() != 2 {
		t.Fatalf("second catalog event metadata = %v", ev)
	}
	cur, err := in.catalog.GetCatalogVersion(ctx, &catalogv1.GetCatalogVersionRequest{Name: "catalogVersions/current"})
	if err != nil || cur.GetVersion() != 2 {
		t.Fatalf("current version = %v, %v; want 2", cur, err)
	}

	// Every audit record reaches the operations stream too.
	db, err := sqldb.Open(ctx, env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	audits, err := sqlstore.New(db).Catalog().AuditRecords(ctx, 0, 100)
	if err != nil || len(audits) == 0 {
		t.Fatalf("audit records = %d, %v", len(audits), err)
	}
	wait.Eventually(t, 20*time.Second, "audit records on "+eventstreams.Ops.Name, func() error {
		s, err := js.Stream(ctx, eventstreams.Ops.Name)
		if err != nil {
			return err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		return wait.Check(info.State.Msgs == uint64(len(audits)), "%d messages, %d audit records", info.State.Msgs, len(audits))
	})
}

// readEvents reads the stream from its start until it holds catalog
// CatalogPublished and prices PricesChanged events, checks that each
// announces the number of its sequence (1, 2, … per aggregate, also in the
// sequence header) and that no further event follows, and returns them by
// subject.
func readEvents(ctx context.Context, t *testing.T, js jetstream.JetStream, catalog, prices int) map[string][]relayed {
	t.Helper()
	var stream jetstream.Stream
	wait.Eventually(t, 20*time.Second, "stream "+eventstreams.Catalog.Name, func() error {
		s, err := js.Stream(ctx, eventstreams.Catalog.Name)
		stream = s
		return err
	})
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]relayed{}
	for len(out[eventstreams.CatalogPublished]) < catalog || len(out[eventstreams.PricesChanged]) < prices {
		msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("next event after %d catalog and %d price events: %v", len(out[eventstreams.CatalogPublished]),
				len(out[eventstreams.PricesChanged]), err)
		}
		out[msg.Subject()] = append(out[msg.Subject()], decode(t, msg))
	}
	if msg, err := cons.Next(jetstream.FetchMaxWait(200 * time.Millisecond)); !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
		t.Fatalf("extra event %v: %v", msg, err)
	}
	for subject, evs := range out {
		for i, ev := range evs {
			if seq := int64(i + 1); ev.md.GetSequence() != seq || ev.announces != seq || ev.header != strconv.FormatInt(seq, 10) {
				t.Errorf("%s event %d: metadata sequence %d, header %q, announces %d; want all %d",
					subject, i, ev.md.GetSequence(), ev.header, ev.announces, seq)
			}
		}
	}
	return out
}

func decode(t *testing.T, msg jetstream.Msg) relayed {
	t.Helper()
	r := relayed{header: msg.Headers().Get(outbox.HeaderSequence)}
	switch msg.Subject() {
	case eventstreams.CatalogPublished:
		ev := &catalogv1.CatalogPublishedEvent{}
		if err := proto.Unmarshal(msg.Data(), ev); err != nil {
			t.Fatal(err)
		}
		r.md, r.announces = ev.GetMetadata(), ev.GetVersion()
	case eventstreams.PricesChanged:
		ev := &catalogv1.PricesChangedEvent{}
		if err := proto.Unmarshal(msg.Data(), ev); err != nil {
			t.Fatal(err)
		}
		r.md, r.announces = ev.GetMetadata(), ev.GetPriceVersion()
	default:
		t.Fatalf("unexpected subject %s", msg.Subject())
	}
	return r
}

// must fails the test on a call's error.
func must(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestRelayRepublishesEventsTheStreamLost: the relay runs the outbox
// reconciler (streamloss.Reconcile) as order, inventory, fulfillment and
// notify do: after TRANSLOAD_CATALOG is purged, the initial import's
// events are back in the stream (same event ids) and an
// EVENT_STREAM_LOSS exception on streams/TRANSLOAD_CATALOG reached the
// operations stream. Not parallel: it sets OUTBOX_RECONCILE_INTERVAL,
// which the relay reads from the process environment.
func TestRelayRepublishesEventsTheStreamLost(t *testing.T) {
	t.Setenv("OUTBOX_RECONCILE_INTERVAL", "100ms")
	ns := natstest.Start(t)
	_, js := natstest.Connect(t, ns)
	env := testEnv(t, map[string]string{"NATS_URL": ns.ClientURL()})
	in := start(t, env, erptest.Serve(t, newFakeERP()))
	in.waitReady(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	before := readEvents(ctx, t, js, 1, 4)
	stream, err := js.Stream(ctx, eventstreams.Catalog.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	wait.Eventually(t, 20*time.Second, "republished events in "+eventstreams.Catalog.Name, func() error {
		info, err := stream.Info(ctx)
		if err != nil {
			return err
		}
		return wait.Check(info.State.Msgs == 5, "%d messages after the purge, want the 5 lost", info.State.Msgs)
	})
	after := readEvents(ctx, t, js, 1, 4)
	for subject, evs := range before {
		for i, ev := range evs {
			if got := after[subject][i].md.GetEventId(); got != ev.md.GetEventId() {
				t.Errorf("%s event %d republished as %s, want the same id %s", subject, i, got, ev.md.GetEventId())
			}
		}
	}

	ops, err := js.OrderedConsumer(ctx, eventstreams.Ops.Name, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{eventstreams.ExceptionRaised}})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := ops.Next(jetstream.FetchMaxWait(20 * time.Second))
	if err != nil {
		t.Fatalf("no exception on %s: %v", eventstreams.Ops.Name, err)
	}
	raised := &opsv1.ExceptionRaisedEvent{}
	if err := proto.Unmarshal(msg.Data(), raised); err != nil {
		t.Fatal(err)
	}
	if raised.GetKind() != opsv1.Exception_KIND_EVENT_STREAM_LOSS || raised.GetResource() != "streams/"+eventstreams.Catalog.Name ||
		raised.GetDetails().GetFields()["service"].GetStringValue() != "catalog-pricing" {
		t.Fatalf("exception = %v, want EVENT_STREAM_LOSS on streams/%s from catalog-pricing", raised, eventstreams.Catalog.Name)
	}
}
