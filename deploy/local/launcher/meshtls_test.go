package launcher

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/transload/transload/platform/meshtls"
)

// TestMeshTLSEnv: with TRANSLOAD_MESH_TLS=1 the launcher issues a
// certificate to every member under <DataDir>/mesh and hands MESH_TLS_DIR
// to the processes; without it, MESH_PLAINTEXT=true.
func TestMeshTLSEnv(t *testing.T) {
	t.Parallel()
	none := func(string) string { return "" }
	off, err := meshTLS(Config{DataDir: t.TempDir(), Env: []string{"A=1"}}, none)
	if err != nil || !slices.Equal(off.Env, []string{"MESH_PLAINTEXT=true", "A=1"}) {
		t.Fatalf("without the switch: env %v, %v", off.Env, err)
	}
	data := t.TempDir()
	on, err := meshTLS(Config{DataDir: data, Env: []string{MeshTLSEnv + "=1"}}, none)
	if err != nil {
		t.Fatal(err)
	}
	if want := "MESH_TLS_DIR=" + MeshDir(data); on.Env[0] != want || slices.ContainsFunc(on.Env, func(kv string) bool { return strings.HasPrefix(kv, "MESH_PLAINTEXT=") }) {
		t.Fatalf("with the switch: env %v, want %s first and no MESH_PLAINTEXT", on.Env, want)
	}
	for _, name := range MeshMembers() {
		if _, err := meshtls.LoadMember(MeshDir(data), name); err != nil {
			t.Errorf("member %s: %v", name, err)
		}
	}
	if !slices.Contains(MeshMembers(), Gateway) || slices.Contains(MeshMembers(), NATS) {
		t.Errorf("MeshMembers = %v: want every gRPC process and the operator, not NATS", MeshMembers())
	}
	// The switch in the launcher's own environment (make run) works too,
	// and a second start keeps the CA.
	ca, _ := os.ReadFile(filepath.Join(MeshDir(data), meshtls.CACertFile))
	if _, err := meshTLS(Config{DataDir: data}, func(k string) string { return map[string]string{MeshTLSEnv: "1"}[k] }); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(filepath.Join(MeshDir(data), meshtls.CACertFile))
	if len(ca) == 0 || string(ca) != string(again) {
		t.Error("a second start replaced the CA")
	}
}
