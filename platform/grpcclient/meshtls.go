package grpcclient

import (
	"google.golang.org/grpc/credentials"

	"github.com/transload/transload/platform/meshtls"
)

// meshPeers maps the dependency names connections carry
// ([WithDependency]) to the mesh identity that serves them where the two
// differ: the simulators stand in for the ERP and the WMS in the mesh.
var meshPeers = map[string]string{"erp": "erpsim", "wms": "wmssim"}

// meshPeer returns the identity a connection named dependency (or, when
// unnamed, dialling target) must reach.
func meshPeer(dependency, target string) string {
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
// connection names ([WithDependency]; "erp" and "wms" are served by
// erpsim and wmssim), so a connection reaching the wrong process, or
// anything outside the mesh, fails its handshake (UNAVAILABLE). It
// replaces [WithTransportCredentials].
func WithMeshTLS(member *meshtls.Member) Option {
	return func(o *options) { o.mesh = member }
}

func meshCredentials(member *meshtls.Member, dependency, target string) credentials.TransportCredentials {
	return credentials.NewTLS(member.ClientConfig(meshPeer(dependency, target)))
}
