package grpcclient

import (
	"fmt"
	"net"
	"strings"

	"google.golang.org/grpc/resolver"
)

// StaticScheme is the target scheme of a fixed list of replicas:
// "static:///127.0.0.1:9004,127.0.0.1:9204" resolves to both addresses,
// and the round robin Dial installs spreads calls over the ones that are
// up (a replica that is down is skipped until it reconnects, one whose
// breaker is open until the breaker lets a trial call through).
// It is for replicas on fixed addresses, such as the local launcher's
// scale mode on loopback ports; in Kubernetes a headless Service and
// "dns:///inventory:9004" do the same with addresses that change. Dial
// registers the scheme: any neighbour address variable may use it.
const StaticScheme = "static"

// StaticTarget returns the Dial target for the given replica addresses
// (host:port each): the address itself for one, a static:/// target for
// several.
func StaticTarget(addrs ...string) string {
	if len(addrs) == 1 {
		return addrs[0]
	}
	return StaticScheme + ":///" + strings.Join(addrs, ",")
}

func init() { resolver.Register(staticBuilder{}) }

// staticBuilder resolves a static:/// target once: its addresses never
// change.
type staticBuilder struct{}

func (staticBuilder) Scheme() string { return StaticScheme }

// Build parses the comma separated host:port list of the target; an
// empty list or an address without a port fails the dial at once rather
// than leaving every call waiting for an address.
func (staticBuilder) Build(target resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	var endpoints []resolver.Endpoint
	for _, a := range strings.Split(target.Endpoint(), ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("grpcclient: static target %q: %w", target.Endpoint(), err)
		}
		endpoints = append(endpoints, resolver.Endpoint{Addresses: []resolver.Address{{Addr: a}}})
	}
	if len(endpoints) == 0 {
		return nil, fmt.Errorf("grpcclient: static target %q lists no address", target.Endpoint())
	}
	if err := cc.UpdateState(resolver.State{Endpoints: endpoints}); err != nil {
		return nil, fmt.Errorf("grpcclient: static target %q: %w", target.Endpoint(), err)
	}
	return staticResolver{}, nil
}

// staticResolver has nothing to re-resolve.
type staticResolver struct{}

func (staticResolver) ResolveNow(resolver.ResolveNowOptions) {}
func (staticResolver) Close()                                {}
