package svcmain

import (
	"errors"
	"maps"
	"slices"

	"github.com/transload/transload/platform/config"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/meshtls"
)

// ErrMeshModeUnset is the configuration error of a binary started with
// neither MESH_TLS_DIR nor MESH_PLAINTEXT=true: internal gRPC is mutual
// TLS unless plaintext is asked for explicitly, so a deployment that
// forgot its certificates fails at start instead of serving plaintext.
var ErrMeshModeUnset = errors.New("internal gRPC needs the mesh certificates: set MESH_TLS_DIR to the mesh folder " +
	"(make run's <data>/mesh, a Secret mounted in Kubernetes), or MESH_PLAINTEXT=true, the explicit development flag")

// meshModeRequired makes a binary with neither MESH_TLS_DIR nor
// MESH_PLAINTEXT fail with [ErrMeshModeUnset]. [Main], which every
// binary's main calls, turns it on; a service's own tests, which call
// Start for in-process runtimes (bufconn servers, no mesh), leave it off.
var meshModeRequired = false

// loadMesh reads the binary's mesh identity from MESH_TLS_DIR (nil for
// MESH_PLAINTEXT=true). Setting both, or neither, is a configuration
// error naming MESH_TLS_DIR (docs/architecture.md "Internal service
// identity").
func loadMesh(name string, base *Base) (*meshtls.Member, error) {
	switch {
	case base.MeshTLSDir != "" && base.MeshPlaintext:
		return nil, &config.FieldError{Var: "MESH_PLAINTEXT",
			Err: errors.New("MESH_TLS_DIR is set: internal gRPC is mutual TLS, so plaintext cannot be asked for too")}
	case base.MeshTLSDir == "" && !base.MeshPlaintext && meshModeRequired:
		return nil, &config.FieldError{Var: "MESH_TLS_DIR", Err: ErrMeshModeUnset}
	case base.MeshTLSDir == "":
		// Plaintext, asked for (or a test's in-process runtime).
		return nil, nil
	}
	m, err := meshtls.LoadMember(base.MeshTLSDir, name)
	if err != nil {
		return nil, &config.FieldError{Var: "MESH_TLS_DIR", Err: err}
	}
	return m, nil
}

// MeshIdentity returns the binary's mesh identity, nil when MESH_TLS_DIR
// is not set.
func (rt *Runtime) MeshIdentity() *meshtls.Member { return rt.mesh }

// Mesh returns the option that makes a gRPC server of a mesh service
// serve mutual TLS and authorize each call by the caller's identity
// against callers (grpcserver.WithMesh) when MESH_TLS_DIR is set, and
// does nothing otherwise. Every service main passes it to
// [Runtime.NewServer] with its own table; the gateway's public gRPC
// listener does not (storefronts are not mesh members).
func (rt *Runtime) Mesh(callers grpcserver.Callers) grpcserver.Option {
	if rt.mesh == nil {
		return grpcserver.WithUnaryInterceptors() // nothing to add
	}
	return grpcserver.WithMesh(rt.mesh, callers)
}

// Operator is the mesh identity of operator tools (transload-bench, the
// e2e suites, grpcurl by hand): not a service, but a certificate the
// launcher issues so that a tool may call the administrative methods the
// services' tables open to it.
const Operator = "operator"

// MeshMembers lists every identity of the mesh: each binary of the port
// plan, and [Operator]. The launcher issues a certificate to each; the
// services' caller tables may name only these.
func MeshMembers() []string {
	return append(slices.Sorted(maps.Keys(portPlan)), Operator)
}
