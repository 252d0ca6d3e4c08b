package grpcclient

import (
	"google.golang.org/grpc/credentials"

	"github.com/transload/transload/platform/breaker"
	"github.com/transload/transload/platform/meshtls"
)

// meshPeers maps the dependency names connections carry
// ([WithDependency]) to the mesh identity that serves them where the two
// differ: the simulators stand in for the ERP and the WMS in the mesh,
// and the gateway names catalog-pricing "catalog".
var meshPeers = map[string]string{"erp": "erpsim", "wms": "wmssim", "catalog": "catalog-pricing"}

// meshPeer returns the identity a connection named dependency must
// reach; an unnamed connection sharing breaker b is named by b's target,
// else by the dial target (which is no identity, so its handshake fails).
func meshPeer(dependency string, b *breaker.Breaker, target string) string {
	if dependency == "" && b != nil {
		dependency = b.Target()
	}
	if dependency == "" {
		return target
	}
	if p, ok := meshPeers[dependency]; ok {
		return p
	}
	return dependency
}

// WithMeshTLS dials with member's mutual TLS configuration (issue #14):
// the client presents member's certificate and accepts the server only
// when the mesh CA issued its certificate to the dependency the
// connection names ([WithDependency], or the target of the breaker given
// with [WithBreaker]; "erp" and "wms" are served by erpsim and wmssim), so a connection reaching the wrong process, or
// anything outside the mesh, fails its handshake (UNAVAILABLE). It
// replaces [WithTransportCredentials].
func WithMeshTLS(member *meshtls.Member) Option {
	return func(o *options) { o.mesh = member }
}

func meshCredentials(member *meshtls.Member, dependency string, b *breaker.Breaker, target string) credentials.TransportCredentials {
	return credentials.NewTLS(member.ClientConfig(meshPeer(dependency, b, target)))
}
