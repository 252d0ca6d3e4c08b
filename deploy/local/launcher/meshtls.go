package launcher

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/transload/transload/platform/meshtls"
)

// Internal gRPC between the mesh's processes is mutual TLS by default
// (issue #14): the launcher keeps a local CA and a certificate per mesh
// member under <DataDir>/mesh ([MeshDir]) and starts every process with
// MESH_TLS_DIR pointing there. Plaintext is only the explicit development
// flag: TRANSLOAD_MESH_PLAINTEXT=1 or TRANSLOAD_MESH_TLS=0, in the
// launcher's environment (`TRANSLOAD_MESH_PLAINTEXT=1 make run`) or in
// Config.Env (a test); every process then gets MESH_PLAINTEXT=true. When
// Config.Env names either variable, the launcher's own environment is not
// asked.
const (
	// MeshTLSEnv set to 0 asks for plaintext; 1 (or unset) is mutual TLS.
	MeshTLSEnv = "TRANSLOAD_MESH_TLS"
	// MeshPlaintextEnv set to 1 asks for plaintext.
	MeshPlaintextEnv = "TRANSLOAD_MESH_PLAINTEXT"
)

// MeshCertValidity is how long the certificates the launcher issues are
// valid; the CA lives as long. Each start issues the services' certificates
// anew (the CA is kept), so a long-lived data folder never runs out.
const MeshCertValidity = 30 * 24 * time.Hour

// MeshDir is the mesh folder under dataDir: ca.pem, ca-key.pem and
// <member>.pem, <member>-key.pem for every [MeshMembers] name.
func MeshDir(dataDir string) string { return filepath.Join(dataDir, "mesh") }

// MeshOperator is the identity the launcher issues for tools (grpcurl, a
// test, transload-bench); the services' caller tables open their
// administrative methods to it (svcmain.Operator).
const MeshOperator = "operator"

// MeshMembers lists the identities the launcher issues certificates to:
// every process but NATS, under its service name, and [MeshOperator]
// (the same list as svcmain.MeshMembers, which the launcher does not
// import to keep this module's dependencies small).
func MeshMembers() []string {
	var out []string
	for _, name := range StartOrder {
		if name != NATS {
			out = append(out, name)
		}
	}
	return append(out, MeshOperator)
}

// meshPlaintext says whether cfg (or, when cfg.Env names neither switch,
// getenv) asks for the development flag: TRANSLOAD_MESH_PLAINTEXT=1 or
// TRANSLOAD_MESH_TLS=0.
func meshPlaintext(cfg Config, getenv func(string) string) bool {
	vals := map[string]string{}
	for _, kv := range cfg.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && (k == MeshTLSEnv || k == MeshPlaintextEnv) {
			vals[k] = v
		}
	}
	if len(vals) == 0 {
		vals[MeshTLSEnv], vals[MeshPlaintextEnv] = getenv(MeshTLSEnv), getenv(MeshPlaintextEnv)
	}
	return vals[MeshPlaintextEnv] == "1" || vals[MeshTLSEnv] == "0"
}

// meshTLS returns cfg with the mesh's TLS environment in front of
// cfg.Env: MESH_TLS_DIR after issuing the certificates, or
// MESH_PLAINTEXT=true when the development flag asks for it
// ([meshPlaintext]). Config.Env and ExtraEnv still come after it.
func meshTLS(cfg Config, getenv func(string) string) (Config, error) {
	if meshPlaintext(cfg, getenv) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "launcher: internal gRPC is PLAINTEXT (%s=1 or %s=0: the development flag)\n", MeshPlaintextEnv, MeshTLSEnv)
		}
		cfg.Env = append([]string{"MESH_PLAINTEXT=true"}, cfg.Env...)
		return cfg, nil
	}
	dir := MeshDir(cfg.DataDir)
	if err := meshtls.EnsureMesh(dir, MeshMembers(), time.Now(), MeshCertValidity); err != nil {
		return cfg, fmt.Errorf("launcher: mesh certificates: %w", err)
	}
	if cfg.Log != nil { // prepare has set it; a unit test may not
		fmt.Fprintf(cfg.Log, "launcher: internal gRPC is mutual TLS (certificates in %s)\n", dir)
	}
	cfg.Env = append([]string{"MESH_TLS_DIR=" + dir}, cfg.Env...)
	return cfg, nil
}

// MeshTLS says whether the mesh's internal gRPC is mutual TLS (the
// default) rather than the development flag's plaintext.
func (m *Mesh) MeshTLS() bool { return m.meshDir() != "" }

// MeshDir is the mesh folder the processes were started with
// (MESH_TLS_DIR: ca.pem, operator.pem, operator-key.pem, ...), "" when
// the mesh runs plaintext.
func (m *Mesh) MeshDir() string { return m.meshDir() }

// meshDir is the MESH_TLS_DIR the launcher handed to the processes, ""
// for plaintext.
func (m *Mesh) meshDir() string {
	for _, kv := range m.cfg.Env {
		if dir, ok := strings.CutPrefix(kv, "MESH_TLS_DIR="); ok {
			return dir
		}
	}
	return ""
}

// DialOptions are the options every tool (the e2e suites, transload-bench,
// a readiness probe) dials the internal gRPC port of process name with:
// under mutual TLS the operator's certificate from the mesh folder, and
// the server accepted only when the mesh CA issued its certificate to
// name's service (a replica such as inventory-2 is inventory; the ERP and
// WMS are erpsim and wmssim); plaintext when the mesh runs the development
// flag, and always for the gateway, whose gRPC listener is the public
// storefront API behind API keys. The operator is still refused every
// method a service's caller table does not open to it.
func (m *Mesh) DialOptions(name string) ([]grpc.DialOption, error) {
	dir := m.meshDir()
	if dir == "" || Service(name) == Gateway {
		return []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, nil
	}
	creds, err := OperatorCredentials(dir, Service(name))
	if err != nil {
		return nil, err
	}
	return []grpc.DialOption{grpc.WithTransportCredentials(creds)}, nil
}

// Dial connects to process name's gRPC port with [Mesh.DialOptions]
// (like grpc.NewClient, it does not connect until the first call).
func (m *Mesh) Dial(name string) (*grpc.ClientConn, error) {
	opts, err := m.DialOptions(name)
	if err != nil {
		return nil, err
	}
	return grpc.NewClient(m.Proc(name).GRPCAddr, opts...)
}

// OperatorCredentials are the mutual TLS credentials of the operator
// identity kept in meshDir, accepting only a server whose certificate
// names service: what a tool uses when it has the mesh folder but no
// [Mesh] (grpcurl's -cacert/-cert/-key name the same files).
func OperatorCredentials(meshDir, service string) (credentials.TransportCredentials, error) {
	op, err := meshtls.LoadMember(meshDir, MeshOperator)
	if err != nil {
		return nil, fmt.Errorf("launcher: operator identity: %w", err)
	}
	return credentials.NewTLS(op.ClientConfig(service)), nil
}
