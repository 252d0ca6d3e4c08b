package contracts

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLintGate proves the layer rules of .golangci.yml bite: in a temporary
// workspace holding a copy of the inventory service (gen and platform linked
// from the real tree), a grpcapi file or any other non-wiring package that
// imports the SQL store, and a domain file that imports generated code, each
// fail golangci-lint's depguard, while the unchanged copy, and a grpcapi test
// that wires the SQL store into a component harness, pass.
func TestLintGate(t *testing.T) {
	root := repoRoot(t)
	lint := tool(t, "golangci-lint")
	const (
		module  = "github.com/transload/transload"
		service = "services/inventory"
	)
	for _, dir := range []string{"internal/grpcapi", "internal/inventory", "internal/store/sqlstore"} {
		if _, err := os.Stat(filepath.Join(root, service, dir)); err != nil {
			t.Fatalf("%s/%s, which this test edits, is gone; update the test: %v", service, dir, err)
		}
	}
	tests := []struct {
		name     string
		file     string // added to the copy, relative to the service
		src      string
		wantFail bool
		wantText []string
	}{
		{name: "unchanged"},
		{
			name:     "grpcapi imports the SQL store",
			file:     "internal/grpcapi/zz_lintgate.go",
			src:      "package grpcapi\n\nimport _ \"" + module + "/" + service + "/internal/store/sqlstore\"\n",
			wantFail: true,
			wantText: []string{"depguard", "internal/store/sqlstore", "'grpcapi'"},
		},
		{
			name:     "domain imports gen",
			file:     "internal/inventory/zz_lintgate.go",
			src:      "package inventory\n\nimport _ \"" + module + "/gen/transload/inventory/v1\"\n",
			wantFail: true,
			wantText: []string{"depguard", module + "/gen/transload/inventory/v1", "'domain'"},
		},
		{
			name:     "another package imports the SQL store",
			file:     "internal/lintgateworker/worker.go",
			src:      "package lintgateworker\n\nimport _ \"" + module + "/" + service + "/internal/store/sqlstore\"\n",
			wantFail: true,
			wantText: []string{"depguard", "internal/store/sqlstore", "'store-wiring'"},
		},
		{
			name: "grpcapi test wires the SQL store",
			file: "internal/grpcapi/zz_lintgate_test.go",
			src:  "package grpcapi\n\nimport _ \"" + module + "/" + service + "/internal/store/sqlstore\"\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := lintWorkspace(t, root, service)
			if tt.file != "" {
				path := filepath.Join(dir, service, filepath.FromSlash(tt.file))
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tt.src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// Each case has its own copy, so the runs need not wait for one
			// another's lock.
			cmd := exec.Command(lint, "run", "--config", filepath.Join(dir, ".golangci.yml"),
				"--enable-only", "depguard", "--allow-parallel-runners", "./...")
			cmd.Dir = filepath.Join(dir, service)
			cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(dir, "go.work"))
			b, err := cmd.CombinedOutput()
			out := string(b)
			if tt.wantFail {
				if err == nil {
					t.Fatalf("golangci-lint passed, want a depguard failure; output:\n%s", out)
				}
				for _, want := range tt.wantText {
					if !strings.Contains(out, want) {
						t.Fatalf("golangci-lint failed without naming %q:\n%s", want, out)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("golangci-lint failed, want pass: %v\n%s", err, out)
			}
		})
	}
}

// lintWorkspace lays out a temporary workspace for golangci-lint: the
// repository's .golangci.yml, a copy of one service module, gen and platform
// as links to the real tree, and a go.work (plus go.work.sum) using those
// three, so the depguard globs anchored at the config's folder apply as they
// do in the repository.
func lintWorkspace(t *testing.T, root, service string) string {
	t.Helper()
	dir := t.TempDir()
	copyFile(t, filepath.Join(root, ".golangci.yml"), filepath.Join(dir, ".golangci.yml"))
	copyTree(t, filepath.Join(root, service), filepath.Join(dir, service))
	for _, m := range []string{"gen", "platform"} {
		if err := os.Symlink(filepath.Join(root, m), filepath.Join(dir, m)); err != nil {
			t.Fatal(err)
		}
	}
	work, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	use := regexp.MustCompile(`(?s)use \(.*?\)`)
	if !use.Match(work) {
		t.Fatalf("go.work has no use ( ... ) block; update the test:\n%s", work)
	}
	work = use.ReplaceAll(work, []byte("use (\n\t./gen\n\t./platform\n\t./"+service+"\n)"))
	if err := os.WriteFile(filepath.Join(dir, "go.work"), work, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.work.sum")); err == nil {
		copyFile(t, filepath.Join(root, "go.work.sum"), filepath.Join(dir, "go.work.sum"))
	}
	return dir
}
