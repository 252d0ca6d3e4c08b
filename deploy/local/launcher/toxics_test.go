package launcher

import (
	"context"
	"strings"
	"sync"
	"testing"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/collectors"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// toxics are the scale suite's toxiproxy proxies (v2.12.0, as a library),
// each a loopback listener in front of one server:
//
//   - "postgres" and "redis": every service reaches the PostgreSQL
//     cluster and Redis only through them;
//   - "nats", "nats-2", "nats-3": every service's NATS_URL names them
//     (the nodes advertise no other address), the routes between the
//     nodes stay direct;
//   - "order-to-inventory", "order-to-inventory-2": both order replicas
//     reach the inventory replicas through them (scenario 3), while the
//     other callers of inventory reach it directly.
//
// A scenario adds toxics to some of them (latency, a blackhole) or stops
// one (connections refused, open ones cut) and restores it with
// t.Cleanup, so the next scenario finds every path healthy.
type toxics struct {
	t   *testing.T
	srv *toxiproxy.ApiServer

	mu      sync.Mutex
	proxies map[string]*toxiproxy.Proxy
}

func newToxics(t *testing.T) *toxics {
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	srv.Metrics.ProxyMetrics = collectors.NewProxyMetricCollectors()
	x := &toxics{t: t, srv: srv, proxies: map[string]*toxiproxy.Proxy{}}
	t.Cleanup(func() {
		x.mu.Lock()
		defer x.mu.Unlock()
		for _, p := range x.proxies {
			p.Stop()
		}
	})
	return x
}

// proxy returns the running proxy name in front of upstream, starting
// it on a free loopback port the first time (moving it when upstream
// changed, as NATS does when the launcher moves it to another port).
func (x *toxics) proxy(name, upstream string) *toxiproxy.Proxy {
	x.mu.Lock()
	defer x.mu.Unlock()
	if p, ok := x.proxies[name]; ok {
		if p.Upstream != upstream {
			if err := p.Update(&toxiproxy.Proxy{Listen: p.Listen, Upstream: upstream, Enabled: true}); err != nil {
				x.t.Fatalf("toxiproxy %s -> %s: %v", name, upstream, err)
			}
		}
		return p
	}
	p := toxiproxy.NewProxy(x.srv, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		x.t.Fatalf("toxiproxy %s -> %s: %v", name, upstream, err)
	}
	x.proxies[name] = p
	return p
}

// get returns the proxy called name, failing the test when there is none.
func (x *toxics) get(t *testing.T, name string) *toxiproxy.Proxy {
	t.Helper()
	x.mu.Lock()
	defer x.mu.Unlock()
	p, ok := x.proxies[name]
	if !ok {
		t.Fatalf("no toxiproxy proxy %q", name)
	}
	return p
}

// route is the mesh's Config.Proxy: the NATS nodes for everyone and the
// inventory replicas for the order replicas go through a proxy.
func (x *toxics) route(caller, target, addr string) string {
	switch {
	case Service(target) == NATS:
		return x.proxy(target, addr).Listen
	case Service(caller) == Order && Service(target) == Inventory:
		return x.proxy("order-to-"+target, addr).Listen
	}
	return addr
}

// named are the proxies whose names start with prefix.
func (x *toxics) named(t *testing.T, prefix string) []*toxiproxy.Proxy {
	t.Helper()
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []*toxiproxy.Proxy
	for name, p := range x.proxies {
		if strings.HasPrefix(name, prefix) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no toxiproxy proxy named %s*", prefix)
	}
	return out
}

// addToxic adds the toxic (toxiproxy's JSON, with a "name") to each proxy;
// t.Cleanup removes it again if the scenario did not.
func addToxic(t *testing.T, proxies []*toxiproxy.Proxy, name, body string) {
	t.Helper()
	for _, p := range proxies {
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
			t.Fatalf("toxic %s on %s: %v", name, p.Name, err)
		}
		t.Cleanup(func() {
			if p.Toxics.GetToxic(name) != nil {
				_ = p.Toxics.RemoveToxic(context.Background(), name)
			}
		})
	}
}

// removeToxic removes the named toxics from each proxy.
func removeToxic(ctx context.Context, t *testing.T, proxies []*toxiproxy.Proxy, names ...string) {
	t.Helper()
	for _, p := range proxies {
		for _, n := range names {
			if err := p.Toxics.RemoveToxic(ctx, n); err != nil {
				t.Fatalf("remove toxic %s from %s: %v", n, p.Name, err)
			}
		}
	}
}

// blackhole is a toxic that lets nothing through in the given direction
// ("upstream" or "downstream") until removed: a network partition, in
// which connections stay open and calls hang until their deadline.
func blackhole(name, stream string) string {
	return `{"name":"` + name + `","type":"timeout","stream":"` + stream + `","attributes":{"timeout":0}}`
}
