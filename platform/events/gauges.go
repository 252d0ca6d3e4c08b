package events

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Consumer gauge names (see [RegisterGauges]).
const (
	GaugeLag         = "transload_events_consumer_lag"
	GaugePending     = "transload_events_consumer_pending"
	GaugeAckPending  = "transload_events_consumer_ack_pending"
	GaugeRedelivered = "transload_events_consumer_redelivered"
	GaugeDeadLetters = "transload_events_dead_letters"
)

var (
	lagDesc = prometheus.NewDesc(GaugeLag,
		"Stream last sequence minus the consumer's ack floor: how far the consumer is behind its stream (counts the stream's other subjects too).",
		[]string{"consumer", "stream"}, nil)
	pendingDesc = prometheus.NewDesc(GaugePending,
		"Messages of the consumer's subjects not delivered to it yet.",
		[]string{"consumer", "stream"}, nil)
	ackPendingDesc = prometheus.NewDesc(GaugeAckPending,
		"Messages delivered to the consumer and not acknowledged yet (being handled or waiting for a redelivery).",
		[]string{"consumer", "stream"}, nil)
	redeliveredDesc = prometheus.NewDesc(GaugeRedelivered,
		"Messages delivered to the consumer more than once and not acknowledged yet.",
		[]string{"consumer", "stream"}, nil)
	deadLettersDesc = prometheus.NewDesc(GaugeDeadLetters,
		"Dead letters of the consumer waiting in the dead-letter stream (the dead-letter depth KPI).",
		[]string{"consumer"}, nil)
	gaugeErrorsDesc = prometheus.NewDesc("transload_events_gauge_errors",
		"1 when the last scrape could not read a consumer's state from JetStream (its gauges are then missing), else 0.",
		[]string{"consumer"}, nil)
)

// gaugeTimeout bounds the JetStream requests of one scrape.
const gaugeTimeout = 2 * time.Second

// Gauges is a Prometheus collector that reads, at each scrape, the state
// of some consumers from JetStream: per consumer its lag (the stream's
// last sequence minus the consumer's ack floor), its pending and
// ack-pending counts, the redelivered count, and its dead-letter depth.
// A scrape costs one consumer info per consumer, one stream info per
// stream and one of the dead-letter stream, bounded together by 2s. A
// consumer JetStream does not know yet (its Run has not bound it) has no
// series; one that cannot be read reports transload_events_gauge_errors 1.
//
// It is an unchecked collector, so a service may register several.
type Gauges struct {
	js        jetstream.JetStream
	consumers []*Consumer
}

// NewGauges returns the gauges of consumers.
func NewGauges(js jetstream.JetStream, consumers ...*Consumer) *Gauges {
	return &Gauges{js: js, consumers: consumers}
}

// RegisterGauges registers the gauges of consumers with reg: the wiring
// of a consuming service's main.
func RegisterGauges(reg prometheus.Registerer, js jetstream.JetStream, consumers ...*Consumer) error {
	if err := reg.Register(NewGauges(js, consumers...)); err != nil {
		return fmt.Errorf("events: register consumer gauges: %w", err)
	}
	return nil
}

// Describe sends nothing: the collector is unchecked.
func (g *Gauges) Describe(chan<- *prometheus.Desc) {}

// Collect reads the consumers' state and sends the gauges.
func (g *Gauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), gaugeTimeout)
	defer cancel()
	lastSeq := map[string]uint64{}
	deadLetters := map[string]map[string]uint64{}
	for _, c := range g.consumers {
		name := c.cfg.Name
		failed := 0.0
		if err := g.collectConsumer(ctx, ch, c, lastSeq); err != nil {
			failed = 1
		}
		dl, err := g.deadLetters(ctx, c.cfg.DeadLetterStream, deadLetters)
		if err != nil {
			failed = 1
		} else {
			ch <- prometheus.MustNewConstMetric(deadLettersDesc, prometheus.GaugeValue, float64(dl[DeadLetterSubjectPrefix+name]), name)
		}
		ch <- prometheus.MustNewConstMetric(gaugeErrorsDesc, prometheus.GaugeValue, failed, name)
	}
}

// collectConsumer sends c's lag, pending, ack-pending and redelivered
// gauges; lastSeq caches stream last sequences for the scrape.
func (g *Gauges) collectConsumer(ctx context.Context, ch chan<- prometheus.Metric, c *Consumer, lastSeq map[string]uint64) error {
	name, stream := c.cfg.Name, c.cfg.Stream
	cons, err := g.js.Consumer(ctx, stream, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		return err
	}
	last, ok := lastSeq[stream]
	if !ok {
		s, err := g.js.Stream(ctx, stream)
		if err != nil {
			return err
		}
		si, err := s.Info(ctx)
		if err != nil {
			return err
		}
		last = si.State.LastSeq
		lastSeq[stream] = last
	}
	lag := uint64(0)
	if last > ci.AckFloor.Stream {
		lag = last - ci.AckFloor.Stream
	}
	ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(lag), name, stream)
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(ci.NumPending), name, stream)
	ch <- prometheus.MustNewConstMetric(ackPendingDesc, prometheus.GaugeValue, float64(ci.NumAckPending), name, stream)
	ch <- prometheus.MustNewConstMetric(redeliveredDesc, prometheus.GaugeValue, float64(ci.NumRedelivered), name, stream)
	return nil
}

// deadLetters returns the dead letters per subject of the dead-letter
// stream, read once per scrape (cache); a missing stream holds none.
func (g *Gauges) deadLetters(ctx context.Context, stream string, cache map[string]map[string]uint64) (map[string]uint64, error) {
	if m, ok := cache[stream]; ok {
		return m, nil
	}
	m := map[string]uint64{}
	s, err := g.js.Stream(ctx, stream)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
	case err != nil:
		return nil, err
	default:
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(DeadLetterSubjectPrefix+">"))
		if err != nil {
			return nil, err
		}
		for subj, n := range info.State.Subjects {
			if strings.HasPrefix(subj, DeadLetterSubjectPrefix) {
				m[subj] = n
			}
		}
	}
	cache[stream] = m
	return m, nil
}
