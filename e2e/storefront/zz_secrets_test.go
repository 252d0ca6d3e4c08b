package storefront

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
)

// dsnPassword matches a URL that carries a password (scheme://user:pass@).
var dsnPassword = regexp.MustCompile(`[a-z][a-z0-9+.-]*://[^\s/:@"']+:[^\s/@"']+@`)

// TestLogsHoldNoSecrets (issue #14) runs last in the package (its file
// sorts last): it uses every API key of the mesh, a wrong key and a webhook
// subscription's signing secret once more, then scans the log of every
// process of the run for those secrets and for a URL carrying a password.
// Any hit fails, naming the process and the kind of secret (never the
// secret itself).
func TestLogsHoldNoSecrets(t *testing.T) {
	wrongKey := fmt.Sprintf("e2e-wrong-key-%d", time.Now().UnixNano())
	secrets := map[string]string{
		"channel API key":  launcher.DemoAPIKey,
		"customer API key": launcher.DemoCustomerAPIKey,
		"operator API key": launcher.DemoOperatorAPIKey,
		"viewer API key":   launcher.DemoViewerAPIKey,
		"a wrong API key":  wrongKey,
	}
	for _, key := range []string{launcher.DemoAPIKey, launcher.DemoCustomerAPIKey} {
		if r := call(t, http.MethodGet, "/v1/orders", key, nil); r.Status != http.StatusOK {
			t.Fatalf("list orders: %d %s", r.Status, r.Raw)
		}
	}
	for _, key := range []string{launcher.DemoOperatorAPIKey, launcher.DemoViewerAPIKey} {
		if r := call(t, http.MethodGet, "/v1/ops/exceptions", key, nil); r.Status != http.StatusOK {
			t.Fatalf("ops exceptions: %d %s", r.Status, r.Raw)
		}
	}
	if r := call(t, http.MethodGet, "/v1/orders", wrongKey, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d, want 401", r.Status)
	}
	sub := call(t, http.MethodPost, "/v1/webhookSubscriptions", launcher.DemoAPIKey, map[string]any{
		"targetUri": "http://127.0.0.1:9/e2e-secrets", "eventTypes": []string{"WEBHOOK_EVENT_TYPE_ORDER_STATUS_CHANGED"},
	}, fmt.Sprintf("Idempotency-Key: e2e-secrets-%d", time.Now().UnixNano()))
	if sub.Status != http.StatusOK || !strings.HasPrefix(sub.str("secret"), "whsec_") {
		t.Fatalf("create webhook subscription: %d %s", sub.Status, sub.Raw)
	}
	secrets["webhook signing secret"] = sub.str("secret")
	// A delivery attempt signs with the secret (the target refuses it).
	call(t, http.MethodPost, "/v1/"+sub.str("name")+":test", launcher.DemoAPIKey, map[string]any{})
	time.Sleep(500 * time.Millisecond) // let the processes write their lines

	// The scan itself must see a secret and a password URL.
	if hits := leakedSecrets([]byte("msg=x key="+wrongKey+" dsn=postgres://u:pw@h/db"), secrets); len(hits) != 2 {
		t.Fatalf("the scan of a planted line found %v, want the wrong key and a password URL", hits)
	}
	scanned := 0
	for _, name := range mesh.Names() {
		p := mesh.Proc(name)
		if p == nil || p.LogPath == "" {
			continue
		}
		log, err := os.ReadFile(p.LogPath)
		if err != nil {
			t.Errorf("%s: read log: %v", name, err)
			continue
		}
		scanned += len(log)
		for _, hit := range leakedSecrets(log, secrets) {
			t.Errorf("%s's log holds %s", name, hit)
		}
	}
	if scanned == 0 {
		t.Fatal("no log output was scanned")
	}
}

// leakedSecrets names what of secrets (kind → value) and which password
// URLs log holds, never the values themselves.
func leakedSecrets(log []byte, secrets map[string]string) []string {
	var hits []string
	for kind, secret := range secrets {
		if n := bytes.Count(log, []byte(secret)); n > 0 {
			hits = append(hits, fmt.Sprintf("the %s (%d times)", kind, n))
		}
	}
	if m := dsnPassword.Find(log); m != nil {
		hits = append(hits, fmt.Sprintf("a URL with a password (scheme %s)", bytes.SplitN(m, []byte(":"), 2)[0]))
	}
	return hits
}
