package launcher

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/transload/transload/platform/meshtls"
)

// TestMeshTLSEnv: by default the launcher issues a certificate to every
// member under <DataDir>/mesh and hands MESH_TLS_DIR to the processes;
// only the development flag (TRANSLOAD_MESH_PLAINTEXT=1 or
// TRANSLOAD_MESH_TLS=0) gives MESH_PLAINTEXT=true.
func TestMeshTLSEnv(t *testing.T) {
	t.Parallel()
	none := func(string) string { return "" }
	hasPlaintext := func(env []string) bool {
		return slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "MESH_PLAINTEXT=") })
	}
	data := t.TempDir()
	on, err := meshTLS(Config{DataDir: data, Env: []string{"A=1"}}, none)
	if err != nil {
		t.Fatal(err)
	}
	if want := "MESH_TLS_DIR=" + MeshDir(data); !slices.Equal(on.Env, []string{want, "A=1"}) || hasPlaintext(on.Env) {
		t.Fatalf("by default: env %v, want %s first and no MESH_PLAINTEXT", on.Env, want)
	}
	m := &Mesh{cfg: on}
	if !m.MeshTLS() || m.MeshDir() != MeshDir(data) {
		t.Errorf("MeshTLS() = %v, MeshDir() = %q", m.MeshTLS(), m.MeshDir())
	}
	for _, name := range MeshMembers() {
		if _, err := meshtls.LoadMember(MeshDir(data), name); err != nil {
			t.Errorf("member %s: %v", name, err)
		}
	}
	if !slices.Contains(MeshMembers(), Gateway) || slices.Contains(MeshMembers(), NATS) {
		t.Errorf("MeshMembers = %v: want every gRPC process and the operator, not NATS", MeshMembers())
	}
	// A second start keeps the CA.
	ca, _ := os.ReadFile(filepath.Join(MeshDir(data), meshtls.CACertFile))
	if _, err := meshTLS(Config{DataDir: data}, none); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(filepath.Join(MeshDir(data), meshtls.CACertFile))
	if len(ca) == 0 || string(ca) != string(again) {
		t.Error("a second start replaced the CA")
	}

	// The development flag, in Config.Env or the launcher's environment
	// (make run); Config.Env wins over the environment.
	for _, tc := range []struct {
		name      string
		env       []string
		getenv    map[string]string
		plaintext bool
	}{
		{"TRANSLOAD_MESH_PLAINTEXT=1 in Config.Env", []string{MeshPlaintextEnv + "=1"}, nil, true},
		{"TRANSLOAD_MESH_TLS=0 in Config.Env", []string{MeshTLSEnv + "=0"}, nil, true},
		{"TRANSLOAD_MESH_PLAINTEXT=1 in the environment", nil, map[string]string{MeshPlaintextEnv: "1"}, true},
		{"TRANSLOAD_MESH_TLS=0 in the environment", nil, map[string]string{MeshTLSEnv: "0"}, true},
		{"TRANSLOAD_MESH_TLS=1 in Config.Env over the environment's flag", []string{MeshTLSEnv + "=1"}, map[string]string{MeshPlaintextEnv: "1"}, false},
		{"TRANSLOAD_MESH_PLAINTEXT=0", nil, map[string]string{MeshPlaintextEnv: "0"}, false},
	} {
		dir := t.TempDir()
		got, err := meshTLS(Config{DataDir: dir, Env: tc.env}, func(k string) string { return tc.getenv[k] })
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		_, statErr := os.Stat(MeshDir(dir))
		if tc.plaintext && (got.Env[0] != "MESH_PLAINTEXT=true" || statErr == nil || (&Mesh{cfg: got}).MeshTLS()) {
			t.Errorf("%s: env %v (mesh folder made: %v), want MESH_PLAINTEXT=true first and no certificates", tc.name, got.Env, statErr == nil)
		}
		if !tc.plaintext && (got.Env[0] != "MESH_TLS_DIR="+MeshDir(dir) || hasPlaintext(got.Env[:1])) {
			t.Errorf("%s: env %v, want MESH_TLS_DIR first", tc.name, got.Env)
		}
	}
}

// TestDialOptions: the operator's credentials for an internal port, and
// plaintext for the gateway's public listener or a plaintext mesh.
func TestDialOptions(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	cfg, err := meshTLS(Config{DataDir: data}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	m := &Mesh{cfg: cfg}
	for _, name := range []string{Inventory, "inventory-2", ERPSim, Gateway} {
		if opts, err := m.DialOptions(name); err != nil || len(opts) != 1 {
			t.Errorf("DialOptions(%s) = %v, %v", name, opts, err)
		}
	}
	creds, err := OperatorCredentials(MeshDir(data), Inventory)
	if err != nil || creds.Info().SecurityProtocol != "tls" {
		t.Fatalf("OperatorCredentials: %v, %v", creds, err)
	}
	if _, err := OperatorCredentials(t.TempDir(), Inventory); err == nil {
		t.Error("OperatorCredentials of a folder without certificates: no error")
	}
	// Without the operator's files DialOptions fails for an internal port,
	// never silently falling back to plaintext.
	if err := os.Remove(filepath.Join(MeshDir(data), meshtls.CertFile(MeshOperator))); err != nil {
		t.Fatal(err)
	}
	if _, err := m.DialOptions(Inventory); err == nil {
		t.Error("DialOptions without the operator certificate: no error")
	}
	if _, err := m.DialOptions(Gateway); err != nil {
		t.Errorf("DialOptions(gateway) needs no certificate: %v", err)
	}
}
