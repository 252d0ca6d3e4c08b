package grpcserver

import (
	"context"
	"crypto/tls"
	"fmt"
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
// on the server's listeners whose verified mesh identity callers does not
// allow. A call that carries no verified mesh identity (a server without
// [WithMeshTLS]) is refused too: install it only with mesh TLS, as
// [WithMesh] does. It runs innermost on the listeners (after the access
// log and metrics, which record the refusal), not for LocalConn.
func WithCallers(callers Callers) Option {
	check := func(ctx context.Context, method string) error {
		id, err := PeerIdentity(ctx)
		if err != nil {
			return apierr.Error(codes.PermissionDenied, commonv1.ErrorReason_ERROR_REASON_PERMISSION_DENIED,
				"caller has no mesh identity", map[string]string{"method": method})
		}
		if !callers.Allowed(method, id) {
			return apierr.Error(codes.PermissionDenied, commonv1.ErrorReason_ERROR_REASON_PERMISSION_DENIED,
				fmt.Sprintf("%s may not call %s", id, method), map[string]string{"caller": id, "method": method})
		}
		return nil
	}
	return WithServerOptions(
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			if err := check(ctx, info.FullMethod); err != nil {
				return nil, err
			}
			return handler(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			if err := check(ss.Context(), info.FullMethod); err != nil {
				return err
			}
			return handler(srv, ss)
		}),
	)
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
