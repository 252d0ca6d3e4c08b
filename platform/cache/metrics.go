package cache

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts cache outcomes per cache name and exports the Redis
// breaker state. One Metrics is shared by every cache of a process.
type Metrics struct {
	hits         *prometheus.CounterVec
	misses       *prometheus.CounterVec
	errors       *prometheus.CounterVec
	loads        *prometheus.CounterVec
	breakerState *prometheus.GaugeVec
}

// NewMetrics creates the cache metrics and registers them with reg:
//
//	transload_cache_hits_total{cache}
//	transload_cache_misses_total{cache}
//	transload_cache_errors_total{cache,op}      op: get, set, delete, encode, decode
//	transload_cache_loads_total{cache,result}   result: ok, error
//	transload_cache_breaker_state{store}        0 closed, 1 half-open, 2 open
//
// Registering twice with the same registry reuses the collectors already
// registered. A nil reg leaves the metrics unregistered.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := unregisteredMetrics()
	if reg == nil {
		return m, nil
	}
	var err error
	m.hits, err = register(reg, m.hits)
	if err != nil {
		return nil, err
	}
	m.misses, err = register(reg, m.misses)
	if err != nil {
		return nil, err
	}
	m.errors, err = register(reg, m.errors)
	if err != nil {
		return nil, err
	}
	m.loads, err = register(reg, m.loads)
	if err != nil {
		return nil, err
	}
	m.breakerState, err = register(reg, m.breakerState)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

func unregisteredMetrics() *Metrics {
	return &Metrics{
		hits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "transload", Subsystem: "cache", Name: "hits_total",
			Help: "Cache lookups answered from the cache.",
		}, []string{"cache"}),
		misses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "transload", Subsystem: "cache", Name: "misses_total",
			Help: "Cache lookups not answered from the cache (absent, expired, undecodable or store unavailable).",
		}, []string{"cache"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "transload", Subsystem: "cache", Name: "errors_total",
			Help: "Cache operations that failed and were absorbed (fail-open), by operation.",
		}, []string{"cache", "op"}),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "transload", Subsystem: "cache", Name: "loads_total",
			Help: "Loader calls made by GetOrLoad on a miss, by result.",
		}, []string{"cache", "result"}),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "transload", Subsystem: "cache", Name: "breaker_state",
			Help: "State of the cache store's circuit breaker: 0 closed, 1 half-open, 2 open.",
		}, []string{"store"}),
	}
}
