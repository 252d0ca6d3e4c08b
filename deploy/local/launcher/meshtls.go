package launcher

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/transload/transload/platform/meshtls"
)

// MeshTLSEnv is the switch for mutual TLS between the mesh's processes
// (issue #14): TRANSLOAD_MESH_TLS=1 in the launcher's environment (for
// `make run`) or in Config.Env (for a test) makes the launcher keep a
// local CA and a certificate per mesh member under <DataDir>/mesh
// ([MeshDir]) and start every process with MESH_TLS_DIR pointing there.
// Without it every process gets MESH_PLAINTEXT=true, the explicit
// development flag.
const MeshTLSEnv = "TRANSLOAD_MESH_TLS"

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

// meshTLS returns cfg with the mesh's TLS environment in front of
// cfg.Env: MESH_TLS_DIR after issuing the certificates when
// TRANSLOAD_MESH_TLS=1 is in cfg.Env or getenv, MESH_PLAINTEXT=true
// otherwise. Config.Env and ExtraEnv still come after it.
func meshTLS(cfg Config, getenv func(string) string) (Config, error) {
	on := getenv(MeshTLSEnv) == "1" || slices.Contains(cfg.Env, MeshTLSEnv+"=1")
	if !on {
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
