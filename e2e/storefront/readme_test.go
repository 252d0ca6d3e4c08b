package storefront

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/transload/transload/deploy/local/launcher"
)

// TestREADMERESTExamplesRun runs the README's REST examples (the shell
// block of "REST, as the TypeScript smoke test does it") against the mesh
// with bash and curl, every curl failing on an HTTP error, so an example
// that stops working fails here. Only the base URL is swapped for the
// mesh's; ORDER and CANCEL name orders this test places first.
func TestREADMERESTExamplesRun(t *testing.T) {
	root, err := launcher.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "### REST, as the TypeScript smoke test does it")
	if !ok {
		t.Fatal("README.md has no section \"REST, as the TypeScript smoke test does it\"")
	}
	_, block, ok := strings.Cut(section, "```sh\n")
	block, _, closed := strings.Cut(block, "```")
	if !ok || !closed || !strings.Contains(block, "curl ") {
		t.Fatal("the REST section of README.md has no sh block with curl commands")
	}
	script := strings.ReplaceAll(block, "http://127.0.0.1:8080", mesh.RESTURL())
	script = strings.ReplaceAll(script, "curl -s ", "curl -sS --fail-with-body ")

	// The cancel example runs last, on its own, right after its order is
	// placed: the e2e warehouse ships within a second of the ERP's
	// confirmation, and an order with a shipment is no longer cancellable.
	// The block's first line (B and K) is kept for it.
	var head, rest, cancel []string
	for i, l := range strings.Split(script, "\n") {
		switch {
		case i == 0:
			head = append(head, l)
		case strings.Contains(l, "$CANCEL"):
			cancel = append(cancel, l)
		default:
			rest = append(rest, l)
		}
	}
	if len(cancel) == 0 {
		t.Fatal("the REST section of README.md has no cancel example (a curl on $CANCEL)")
	}
	run := func(lines []string, env ...string) string {
		cmd := exec.CommandContext(t.Context(), "bash", "-euo", "pipefail", "-c", strings.Join(append(head, lines...), "\n"))
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("README REST examples failed: %v\n--- script\n%s\n--- output\n%s", err, script, out)
		}
		return string(out)
	}
	place := func(idem string) string {
		r := placeOrder(t, launcher.DemoAPIKey, idem, orderBody("C0001", line{"SKU-00081", 1}))
		if r.Status != http.StatusOK {
			t.Fatalf("create order: %d %s", r.Status, r.Raw)
		}
		return r.str("name")
	}
	run(rest, "ORDER="+place("e2e-readme-order"))
	out := run(cancel, "CANCEL="+place("e2e-readme-cancel"))
	if !strings.Contains(out, `"state":"STATE_CANCELLED"`) {
		t.Errorf("the README's cancel example did not cancel:\n%s", out)
	}
}
