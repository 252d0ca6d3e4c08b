package console

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/gateway/internal/console/consoletest"
	"github.com/transload/transload/platform/testharness/fakeclock"
)

// testNow is the fixed start of the console's clock in tests.
var testNow = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// harness is a console over a seeded fake behind an httptest server.
type harness struct {
	t     *testing.T
	fake  *consoletest.Ops
	clock *fakeclock.Clock
	srv   *httptest.Server
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	clk := fakeclock.New(testNow)
	fake := consoletest.Seed(testNow)
	h, err := New(fake, Options{SessionKey: make([]byte, SessionKeySize), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &harness{t: t, fake: fake, clock: clk, srv: srv}
}

// browser is one cookie jar against the harness; it does not follow
// redirects, so tests see each answer.
type browser struct {
	h    *harness
	c    *http.Client
	last *page
}

func (h *harness) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return &browser{h: h, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}}
}

// page is one answer.
type page struct {
	Status int
	Header http.Header
	Body   string
}

func (p *page) location() string { return p.Header.Get("Location") }

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the last page.
func (b *browser) csrf() string {
	b.h.t.Helper()
	if b.last == nil {
		b.h.t.Fatal("no page loaded yet")
	}
	m := csrfField.FindStringSubmatch(b.last.Body)
	if m == nil {
		b.h.t.Fatalf("no CSRF field on the last page:\n%s", b.last.Body)
	}
	return m[1]
}

func (b *browser) do(req *http.Request) *page {
	b.h.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.h.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.h.t.Fatal(err)
	}
	p := &page{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		b.last = p
	}
	return p
}

func (b *browser) get(path string) *page {
	b.h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.h.srv.URL+path, nil)
	if err != nil {
		b.h.t.Fatal(err)
	}
	return b.do(req)
}

// post sends form as a same-origin browser would (Sec-Fetch-Site and
// Origin set); headers are "Name: value" overrides.
func (b *browser) post(path string, form url.Values, headers ...string) *page {
	b.h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.h.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", b.h.srv.URL)
	for _, hv := range headers {
		k, v, _ := strings.Cut(hv, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return b.do(req)
}

// signIn signs in with key and fails the test unless it succeeds.
func (b *browser) signIn(key string) {
	b.h.t.Helper()
	b.get("/console/sign-in")
	p := b.post("/console/sign-in", url.Values{"csrf": {b.csrf()}, "key": {key}})
	if p.Status != http.StatusSeeOther || p.location() != "/console/" {
		b.h.t.Fatalf("sign in: %d to %q\n%s", p.Status, p.location(), p.Body)
	}
}

// signedIn returns a browser signed in with key.
func (h *harness) signedIn(key string) *browser {
	b := h.browser()
	b.signIn(key)
	return b
}

// mustContain fails unless body holds every want.
func mustContain(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q:\n%s", w, body)
		}
	}
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// formFields returns the hidden fields of the form posting to action on
// body, in order.
func formFields(t *testing.T, body, action string) url.Values {
	t.Helper()
	i := strings.Index(body, `action="`+action+`"`)
	if i < 0 {
		t.Fatalf("no form posting to %s:\n%s", action, body)
	}
	end := strings.Index(body[i:], "</form>")
	vals := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(body[i:i+end], -1) {
		vals.Add(m[1], html.UnescapeString(m[2]))
	}
	return vals
}
