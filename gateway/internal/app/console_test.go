package app_test

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// browser is an HTTP client with cookies that does not follow redirects,
// to look at each answer of the console.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.client.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, b.read(resp)
}

func (b *browser) post(u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.client.PostForm(u, form)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, b.read(resp)
}

func (b *browser) read(resp *http.Response) string {
	b.t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return string(body)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn opens the sign-in form of the gateway at base and posts key.
func (b *browser) signIn(base, key string) *http.Response {
	b.t.Helper()
	resp, page := b.get(base + "/console/sign-in")
	m := csrfField.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		b.t.Fatalf("sign-in form: %d, no csrf field: %s", resp.StatusCode, page)
	}
	resp, _ = b.post(base+"/console/sign-in", url.Values{"key": {key}, "csrf": {m[1]}})
	return resp
}

// TestConsoleIsMounted checks the console's place on the REST listener
// and that its calls go through the gateway's own authentication.
func TestConsoleIsMounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBrowser(t)
	if resp, _ := b.get(e.baseURL + "/console"); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/console/" {
		t.Errorf("/console: %d Location %q, want 301 to /console/", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ := b.get(e.baseURL + "/console/")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/sign-in") {
		t.Errorf("/console/ signed out: %d Location %q, want a redirect to sign in", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp.Header.Get("Content-Security-Policy") == "" {
		t.Error("the console answered without its Content-Security-Policy")
	}
	// REST beside it keeps its own answers.
	if r := e.do("GET", "/v1/ops/kpis", keyViewer, ""); r.status != http.StatusOK {
		t.Errorf("REST beside the console: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/consoles", keyViewer, ""); r.status != http.StatusNotFound || r.reason(t) != "ERROR_REASON_NOT_FOUND" {
		t.Errorf("/consoles is no console path: %d %s, want REST's 404", r.status, r.body)
	}

	// A storefront key is refused by the gateway's roles, not by the console.
	if resp := b.signIn(e.baseURL, keyWeb); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in with a storefront key: %d, want 403", resp.StatusCode)
	}
	if resp := b.signIn(e.baseURL, keyViewer); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
		t.Fatalf("sign-in with a viewer key: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	calls := e.ops.received()
	if len(calls) == 0 {
		t.Fatal("the console's sign-in check did not reach the ops service")
	}
	last := calls[len(calls)-1]
	if want := "operator:" + keyID(t, keyViewer); len(last.actors) != 1 || last.actors[0] != want {
		t.Errorf("console call actor %q, want [%s]", last.actors, want)
	}
}

// TestConsoleSessionKey checks that CONSOLE_SESSION_KEY reaches the
// console: two gateways sharing it accept each other's sessions; a gateway
// with a key of its own does not.
func TestConsoleSessionKey(t *testing.T) {
	t.Parallel()
	key := "CONSOLE_SESSION_KEY=" + hex.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	a, shared, own := newEnv(t, key), newEnv(t, key), newEnv(t)
	b := newBrowser(t)
	if resp := b.signIn(a.baseURL, keyOperator); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	// Cookies are per host, not per port: the jar sends a's session to
	// the other gateways on 127.0.0.1.
	if resp, page := b.get(shared.baseURL + "/console/"); resp.StatusCode != http.StatusOK {
		t.Errorf("gateway with the same key: %d Location %q %s, want the overview", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	if resp, _ := b.get(own.baseURL + "/console/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("gateway with a random key: %d, want a redirect to sign in", resp.StatusCode)
	}
}

// TestAPIDocumentsAreMounted: the OpenAPI documents and the reference page
// are served beside REST without an API key, and a REST path next to them
// keeps REST's own answers.
func TestAPIDocumentsAreMounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBrowser(t)
	for path, contentType := range map[string]string{
		"/openapi/storefront.v1.json":    "application/json",
		"/openapi/ops.v1.json":           "application/json",
		"/openapi/v2/storefront.v1.json": "application/json",
		"/docs/":                         "text/html",
	} {
		resp, body := b.get(e.baseURL + path)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), contentType) || len(body) == 0 {
			t.Errorf("%s: %d %q (%d bytes), want 200 %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body), contentType)
		}
	}
	if !strings.Contains(func() string { _, b := b.get(e.baseURL + "/openapi/storefront.v1.json"); return b }(), `"openapi"`) {
		t.Error("/openapi/storefront.v1.json is not an OpenAPI 3 document")
	}
	if r := e.do("GET", "/v1/orders", keyWeb, ""); r.status != http.StatusOK {
		t.Errorf("REST beside the documents: %d %s", r.status, r.body)
	}
}
