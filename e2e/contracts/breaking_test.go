package contracts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBreakingGate proves `make breaking` catches wire and JSON breaks: in a
// temporary copy of the contracts, deleting a field, changing a field type or
// renaming a field fails the gate against the committed baseline, while
// adding a field passes.
func TestBreakingGate(t *testing.T) {
	root := repoRoot(t)
	buf := tool(t, "buf")
	baseline := filepath.Join(root, "proto", "baseline.binpb")
	if _, err := os.Stat(baseline); err != nil {
		t.Fatalf("committed baseline image missing (make baseline): %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "build", "protodeps", "buf", "validate", "validate.proto")); err != nil {
		t.Fatalf("third-party protos missing: run `make protodeps`: %v", err)
	}
	const file = "transload/common/v1/common.proto"
	const money = `  int64 amount_minor = 1;
  // ISO 4217 alphabetic currency code, three upper-case letters, e.g. "EUR".
  string currency_code = 2 [(buf.validate.field).string.pattern = "^[A-Z]{3}$"];
`
	tests := []struct {
		name     string
		replace  string
		wantFail bool
		wantText string
	}{
		{name: "unchanged", replace: money},
		{name: "add field", replace: money + "  // Added in a compatible change.\n  string note = 3;\n"},
		{name: "delete field", replace: "  int64 amount_minor = 1;\n", wantFail: true, wantText: "currency_code"},
		{name: "change field type", replace: strings.Replace(money, "int64 amount_minor", "string amount_minor", 1), wantFail: true, wantText: "amount_minor"},
		{name: "rename field (JSON name)", replace: strings.Replace(money, "currency_code", "currency", 1), wantFail: true, wantText: "currency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			copyTree(t, filepath.Join(root, "proto"), filepath.Join(dir, "proto"))
			copyFile(t, filepath.Join(root, "buf.yaml"), filepath.Join(dir, "buf.yaml"))
			if err := os.MkdirAll(filepath.Join(dir, "build"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(root, "build", "protodeps"), filepath.Join(dir, "build", "protodeps")); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "proto", file)
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(src), money) {
				t.Fatalf("%s no longer contains the Money fields this test edits; update the test", file)
			}
			if err := os.WriteFile(path, []byte(strings.Replace(string(src), money, tt.replace, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := run(t, dir, buf, "breaking", "proto", "--against", baseline)
			if tt.wantFail {
				if err == nil {
					t.Fatalf("buf breaking passed, want failure; output:\n%s", out)
				}
				if !strings.Contains(out, tt.wantText) {
					t.Fatalf("buf breaking failed without naming %q:\n%s", tt.wantText, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("buf breaking failed, want pass: %v\n%s", err, out)
			}
		})
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		copyFile(t, p, filepath.Join(to, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
