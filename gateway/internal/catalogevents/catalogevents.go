// Package catalogevents listens to catalog-pricing's CatalogPublished and
// PricesChanged events on NATS, so the gateway's price cache stops trusting
// the catalog and price versions it saw the moment they change, instead of
// at the end of its freshness window.
//
// The subjects are platform/eventstreams' CatalogPublished and PricesChanged,
// the declarations catalog-pricing publishes on. It is a plain
// (at-most-once) NATS subscription, not a durable consumer: a
// missed event only costs staleness up to AVAILABILITY_FRESH_FOR, never
// correctness, so no state or acknowledgement is needed. The connection
// retries in the background; the gateway starts and serves while NATS is
// down.
package catalogevents

import (
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/transload/transload/platform/eventstreams"
)

// Listener is a running subscription.
type Listener struct {
	nc *nats.Conn
}

// Listen connects to url and calls onChange(subject) for every catalog
// publication or price change. onChange runs on the subscription's
// goroutine and must not block.
func Listen(url, name string, onChange func(subject string), logger *slog.Logger) (*Listener, error) {
	if logger == nil {
		logger = slog.Default()
	}
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("catalog events: NATS disconnected; price cache relies on its freshness window", slog.Any("error", err))
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { logger.Info("catalog events: NATS reconnected") }),
		nats.ConnectHandler(func(*nats.Conn) { logger.Info("catalog events: NATS connected") }),
	)
	if err != nil {
		return nil, err
	}
	for _, subj := range []string{eventstreams.CatalogPublished, eventstreams.PricesChanged} {
		if _, err := nc.Subscribe(subj, func(m *nats.Msg) { onChange(m.Subject) }); err != nil {
			nc.Close()
			return nil, err
		}
	}
	if nc.IsConnected() {
		// Make sure the server knows the subscriptions before we report
		// ready; when not connected they are sent on connect.
		if err := nc.FlushTimeout(2 * time.Second); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			logger.Warn("catalog events: flush subscriptions", slog.Any("error", err))
		}
	}
	return &Listener{nc: nc}, nil
}

// Close drops the subscriptions and the connection.
func (l *Listener) Close() {
	if l != nil && l.nc != nil {
		l.nc.Close()
	}
}
