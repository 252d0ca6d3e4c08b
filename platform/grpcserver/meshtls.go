package grpcserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"maps"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/meshtls"
)

// Internal service identity (issue #14, docs/architecture.md "Internal
// service identity"): a service of the mesh serves its gRPC listeners
// (the main one and the internal one) with mutual TLS, so only a client
// holding a certificate the mesh CA issued completes a handshake, and
// authorizes each call by the caller's identity against a table the
// service keeps ([Callers]). LocalConn calls run in process and carry no
// peer: they are neither encrypted nor authorized here (the gateway's
// REST side reaches its own storefront services that way, behind API
// keys).

// WithMesh serves the server's gRPC listeners with member's mutual TLS
// configuration ([WithMeshTLS]) and authorizes every call by the caller's
// verified identity against callers ([WithCallers]).
func WithMesh(member *meshtls.Member, callers Callers) Option {
	return func(o *options) {
		WithMeshTLS(member.ServerConfig())(o)
		WithCallers(callers)(o)
	}
}

// WithMeshTLS serves the server's gRPC listeners with cfg (a
// meshtls.ServerConfig: TLS 1.3, client certificates required and
// verified). A plaintext client, or one without a mesh certificate, fails
// the handshake and never reaches a handler.
func WithMeshTLS(cfg *tls.Config) Option {
	return WithServerOptions(grpc.Creds(credentials.NewTLS(cfg)))
}

// Callers is a service's authorization table: for each full method name
// ("/transload.inventory.v1.InventoryService/ReserveStock") or each
// service with "/*" ("/transload.inventory.v1.InventoryService/*"), the
// identities (meshtls service names) that may call it. An exact method
// entry replaces its service's "/*" entry. A method the table does not
// name is refused to everyone: a new RPC is closed until its owner says
// who may call it. Health checks and reflection are open to every mesh
// member.
type Callers map[string][]string

// Allowed reports whether identity may call fullMethod.
func (c Callers) Allowed(fullMethod, identity string) bool {
	if strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/") || strings.HasPrefix(fullMethod, "/grpc.reflection.") {
		return true
	}
	ids, ok := c[fullMethod]
	if !ok {
		svc, _, found := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
		if !found {
			return false
		}
		ids = c["/"+svc+"/*"]
	}
	return slices.Contains(ids, identity)
}

// WithCallers refuses, with PERMISSION_DENIED and reason
// ERROR_REASON_PERMISSION_DENIED (metadata: caller, method), every call
// whose verified mesh identity callers does not allow. A call that carries
// no verified mesh identity (a server without [WithMeshTLS], or a
// LocalConn call) is refused too: install it only with mesh TLS, as
// [WithMesh] does. It runs as the authentication hook (step 7 of the
// chain: after the access log and metrics, which record a refusal, and
// before validation, so a refused caller learns nothing about its
// request), ahead of a hook installed before it with [WithAuth]; a
// WithAuth given after it replaces it, so pass WithCallers (WithMesh)
// last.
func WithCallers(callers Callers) Option {
	return func(o *options) {
		next := o.auth
		o.auth = func(ctx context.Context, method string) (context.Context, error) {
			id, err := PeerIdentity(ctx)
			if err != nil {
				return nil, apierr.Error(codes.PermissionDenied, commonv1.ErrorReason_ERROR_REASON_PERMISSION_DENIED,
					"caller has no mesh identity", map[string]string{"method": method})
			}
			if !callers.Allowed(method, id) {
				return nil, apierr.Error(codes.PermissionDenied, commonv1.ErrorReason_ERROR_REASON_PERMISSION_DENIED,
					fmt.Sprintf("%s may not call %s", id, method), map[string]string{"caller": id, "method": method})
			}
			if next != nil {
				return next(ctx, method)
			}
			return ctx, nil
		}
	}
}

// PeerIdentity returns the mesh identity (service name) of the caller of
// ctx's call, read from the certificate its TLS handshake verified; an
// error when the call came over a connection without one.
func PeerIdentity(ctx context.Context) (string, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", fmt.Errorf("grpcserver: no peer in context")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return "", fmt.Errorf("grpcserver: peer %s has no verified certificate", p.Addr)
	}
	return meshtls.Identity(info.State.VerifiedChains[0][0])
}

// Check reports a table that does not match the services it guards: an
// entry naming a method or service none of descs has, an identity outside
// known, or a method of descs that no entry opens to anyone (each
// service's callers test calls it, so a new RPC fails the test until the
// table says who may call it).
func (c Callers) Check(known []string, descs ...*grpc.ServiceDesc) error {
	methods := map[string]bool{}
	for _, d := range descs {
		methods["/"+d.ServiceName+"/*"] = true
		for _, m := range d.Methods {
			methods["/"+d.ServiceName+"/"+m.MethodName] = true
		}
		for _, s := range d.Streams {
			methods["/"+d.ServiceName+"/"+s.StreamName] = true
		}
	}
	var errs []string
	for _, key := range slices.Sorted(maps.Keys(c)) {
		if !methods[key] {
			errs = append(errs, fmt.Sprintf("%s is no method of the services guarded", key))
		}
		for _, id := range c[key] {
			if !slices.Contains(known, id) {
				errs = append(errs, fmt.Sprintf("%s: %q is no mesh member", key, id))
			}
		}
	}
	for _, m := range slices.Sorted(maps.Keys(methods)) {
		if strings.HasSuffix(m, "/*") {
			continue
		}
		if !slices.ContainsFunc(known, func(id string) bool { return c.Allowed(m, id) }) {
			errs = append(errs, fmt.Sprintf("%s is open to no one", m))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("grpcserver: callers table: %s", strings.Join(errs, "; "))
	}
	return nil
}
