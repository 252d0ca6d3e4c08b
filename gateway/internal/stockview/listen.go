package stockview

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/eventstreams"
)

// WarehouseSource lists inventory's warehouses in allocation priority
// order (the gateway asks inventory's ListWarehouses).
type WarehouseSource func(ctx context.Context) ([]Warehouse, error)

// FeedOptions configure Start.
type FeedOptions struct {
	// URL and Name are the NATS server and the connection name.
	URL, Name string
	// Warehouses is asked for the warehouse table at start and every
	// Refresh (default 10s).
	Warehouses WarehouseSource
	Refresh    time.Duration
	// RetryEvery is the pause between attempts to create the consumer
	// while the stream is missing or NATS is down (default 1s).
	RetryEvery time.Duration
	Logger     *slog.Logger
}

// Feed keeps a View current: an ephemeral ordered JetStream consumer of
// eventstreams.StockChanged on the Inventory stream, delivering only events
// published after it started (the view is seeded from live answers, not
// from history), and a warehouse table refresher. It is a rebuildable read
// model, so no durable consumer or acknowledgement is needed: the view
// answers only while the consumer runs and the table is known, and clears
// itself whenever NATS disconnects.
type Feed struct {
	view   *View
	nc     *nats.Conn
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start connects to NATS and runs the feed in the background until Close;
// the gateway starts and serves (from inventory) while NATS is down.
func Start(v *View, o FeedOptions) (*Feed, error) {
	if o.Refresh <= 0 {
		o.Refresh = 10 * time.Second
	}
	if o.RetryEvery <= 0 {
		o.RetryEvery = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Warehouses == nil {
		return nil, errors.New("stockview: a warehouse source is required")
	}
	f := &Feed{view: v}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	reconnected := make(chan struct{}, 1)
	nc, err := nats.Connect(o.URL,
		nats.Name(o.Name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			v.SetReady(false)
			o.Logger.Warn("stock events: NATS disconnected; availability asks inventory until it is back", slog.Any("error", err))
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			o.Logger.Info("stock events: NATS reconnected")
			select {
			case reconnected <- struct{}{}:
			default:
			}
		}),
	)
	if err != nil {
		cancel()
		return nil, err
	}
	f.nc = nc
	f.wg.Go(func() { f.run(ctx, o, reconnected) })
	return f, nil
}

// run creates the consumer (retrying), then refreshes the warehouse table
// and re-arms readiness after reconnects until ctx ends.
func (f *Feed) run(ctx context.Context, o FeedOptions, reconnected <-chan struct{}) {
	var cc jetstream.ConsumeContext
	defer func() {
		if cc != nil {
			cc.Stop()
		}
	}()
	tablesKnown, failing := false, false
	refresh := func() {
		rctx, cancel := context.WithTimeout(ctx, o.Refresh)
		ws, err := o.Warehouses(rctx)
		cancel()
		if err != nil {
			// One warning per failure streak; the rest at debug.
			if ctx.Err() == nil {
				level := slog.LevelWarn
				if failing {
					level = slog.LevelDebug
				}
				o.Logger.Log(ctx, level, "stock events: warehouse table refresh failed; the projection keeps the last table", slog.Any("error", err))
			}
			failing = true
			return
		}
		failing = false
		f.view.SetWarehouses(ws)
		tablesKnown = true
	}
	consumeFailing := false
	for cc == nil {
		// Nothing is asked of inventory while NATS is down: the view
		// could not be used anyway.
		if f.nc.IsConnected() {
			if !tablesKnown {
				refresh()
			}
			if tablesKnown {
				var err error
				if cc, err = f.consume(ctx, o.Logger); err != nil && ctx.Err() == nil && !consumeFailing {
					o.Logger.Warn("stock events: cannot consume the inventory stream yet; availability asks inventory", slog.Any("error", err))
					consumeFailing = true
				}
			}
		}
		if cc != nil {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(o.RetryEvery):
		}
	}
	f.view.SetReady(true)
	o.Logger.Info("stock events: availability answers hot SKUs from the stock projection")
	tick := time.NewTicker(o.Refresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			refresh()
		case <-reconnected:
			// The ordered consumer resumes by itself; answer from the view
			// again (it was cleared on disconnect and reseeds from live
			// answers).
			refresh()
			f.view.SetReady(true)
		}
	}
}

func (f *Feed) consume(ctx context.Context, logger *slog.Logger) (jetstream.ConsumeContext, error) {
	js, err := jetstream.New(f.nc)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(cctx, eventstreams.Inventory.Name, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{eventstreams.StockChanged},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return nil, err
	}
	return cons.Consume(func(m jetstream.Msg) {
		ev := &inventoryv1.StockChangedEvent{}
		if err := proto.Unmarshal(m.Data(), ev); err != nil {
			// Not applying it leaves a gap for that level, which the
			// next event of the level turns into a fallback.
			logger.Warn("stock events: undecodable StockChangedEvent", slog.Any("error", err))
			return
		}
		f.view.Apply(ev)
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		logger.Debug("stock events: consumer", slog.Any("error", err))
	}))
}

// Close stops the feed and the connection; the view stops answering.
func (f *Feed) Close() {
	if f == nil {
		return
	}
	f.cancel()
	f.wg.Wait()
	f.view.SetReady(false)
	f.nc.Close()
}
