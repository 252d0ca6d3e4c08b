package webhooks

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
)

// TestREADMEReceiverExample builds the README's webhook receiver
// (e2e/examples/webhookreceiver) and runs it as the README shows against
// the mesh: it subscribes itself, an order is placed, and it must print
// verified deliveries (it rejects, and would print, any bad signature)
// and exit 0 after them.
func TestREADMEReceiverExample(t *testing.T) {
	t.Parallel()
	root, err := launcher.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "webhookreceiver")
	build := exec.CommandContext(t.Context(), goTool, "build", "-o", bin, "./examples/webhookreceiver")
	build.Dir = filepath.Join(root, "e2e")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(t.Context(), bin, "-rest", mesh.RESTURL(), "-key", launcher.DemoAPIKey, "-n", "3")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l := <-lines:
		if !strings.HasPrefix(l, "subscribed webhookSubscriptions/") {
			t.Fatalf("first line %q", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the example did not subscribe")
	}
	placeOrder(t, launcher.DemoAPIKey, "C0001", "SKU-00025")
	var out []string
	for l := range lines {
		out = append(out, l)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("example: %v\n%s\n%s", err, strings.Join(out, "\n"), stderr.String())
	}
	verified := 0
	for _, l := range out {
		if strings.HasPrefix(l, "REJECTED") {
			t.Errorf("the example rejected a delivery: %s", l)
		}
		if strings.HasPrefix(l, "verified msg_") {
			verified++
		}
	}
	if verified < 3 { // one more may arrive while it exits
		t.Fatalf("%d verified deliveries, want at least 3:\n%s", verified, strings.Join(out, "\n"))
	}
}
