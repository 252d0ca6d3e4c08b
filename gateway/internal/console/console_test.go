package console

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/transload/transload/gateway/internal/console/consoletest"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/apierr"
)

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	fake := consoletest.Seed(testNow)
	tests := []struct {
		name   string
		client opsv1.OpsServiceClient
		key    []byte
	}{
		{"nil client", nil, nil},
		{"short session key", fake, make([]byte, 16)},
		{"long session key", fake, make([]byte, 33)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(tt.client, Options{SessionKey: tt.key}); err == nil {
				t.Fatal("New succeeded, want an error")
			}
		})
	}
	if _, err := New(fake, Options{}); err != nil {
		t.Fatalf("New with a random session key: %v", err)
	}
}

func TestPagesNeedSignIn(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	for _, path := range []string{"/console/", "/console/exceptions", "/console/exceptions/exc-erp-1", "/console/audit"} {
		p := b.get(path)
		if p.Status != http.StatusSeeOther || p.location() != "/console/sign-in" {
			t.Errorf("GET %s without a session: %d to %q, want 303 to the sign-in page", path, p.Status, p.location())
		}
	}
	if n := len(h.fake.Calls()); n != 0 {
		t.Errorf("%d ops calls without a session, want none", n)
	}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		key        string
		wantStatus int
		wantText   string
	}{
		{"operator key", consoletest.OperatorKey, http.StatusSeeOther, ""},
		{"viewer key", consoletest.ViewerKey, http.StatusSeeOther, ""},
		{"storefront key", consoletest.StorefrontKey, http.StatusForbidden, "not an operator key"},
		{"unknown key", "no-such-key-123", http.StatusUnauthorized, "That key is not known."},
		{"blank key", "   ", http.StatusBadRequest, "Enter your operator API key."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			b := h.browser()
			form := b.get("/console/sign-in")
			mustContain(t, form.Body, `<label for="key">Operator API key</label>`, `lang="en"`, `<title>Sign in`)
			p := b.post("/console/sign-in", url.Values{"csrf": {b.csrf()}, "key": {tt.key}})
			if p.Status != tt.wantStatus {
				t.Fatalf("sign in: status %d, want %d\n%s", p.Status, tt.wantStatus, p.Body)
			}
			if tt.wantStatus != http.StatusSeeOther {
				mustContain(t, p.Body, tt.wantText)
				if got := b.get("/console/"); got.Status != http.StatusSeeOther {
					t.Errorf("after a failed sign-in the overview answers %d, want a redirect to sign in", got.Status)
				}
				return
			}
			over := b.get("/console/")
			if over.Status != http.StatusOK {
				t.Fatalf("overview: %d\n%s", over.Status, over.Body)
			}
			mustContain(t, over.Body, "<title>Overview", "Orders accepted", "118", "Open exceptions per domain")
			for _, c := range h.fake.Calls() {
				if c.Authorization != "Bearer "+tt.key {
					t.Errorf("%s sent authorization %q, want the signed-in key", c.Method, c.Authorization)
				}
			}
			// Signing out ends the session.
			out := b.post("/console/sign-out", url.Values{"csrf": {b.csrf()}})
			if out.Status != http.StatusSeeOther || out.location() != "/console/sign-in" {
				t.Fatalf("sign out: %d to %q", out.Status, out.location())
			}
			if got := b.get("/console/"); got.Status != http.StatusSeeOther {
				t.Errorf("after sign-out the overview answers %d, want a redirect to sign in", got.Status)
			}
		})
	}
}

func TestSessionCookie(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.signedIn(consoletest.OperatorKey)
	u, _ := url.Parse(h.srv.URL + "/console/")
	cookies := b.c.Jar.Cookies(u)
	if len(cookies) != 1 || cookies[0].Name != cookieName {
		t.Fatalf("cookies %v, want one %s", cookies, cookieName)
	}
	sealed := cookies[0].Value
	if strings.Contains(sealed, consoletest.OperatorKey) {
		t.Fatal("the cookie carries the key in the clear")
	}
	other, err := newSealer(append(make([]byte, SessionKeySize-1), 1))
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.seal(session{ID: "x", Key: consoletest.OperatorKey, Expires: testNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	flipped := []byte(sealed)
	flipped[len(flipped)/2] ^= 1
	tests := []struct {
		name, value string
	}{
		{"tampered", string(flipped)},
		{"truncated", sealed[:len(sealed)-4]},
		{"not base64", "!!" + sealed},
		{"sealed with another key", foreign},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, h.srv.URL+"/console/", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.AddCookie(&http.Cookie{Name: cookieName, Value: tt.value})
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/sign-in" {
				t.Errorf("%s cookie: %d to %q, want 303 to sign in", tt.name, resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		if p := b.get("/console/"); p.Status != http.StatusOK {
			t.Fatalf("fresh session: %d", p.Status)
		}
		h.clock.Advance(signedInTTL)
		if p := b.get("/console/"); p.Status != http.StatusSeeOther {
			t.Errorf("session after %s: %d, want a redirect to sign in", signedInTTL, p.Status)
		}
	})
}

func TestCookieAttributes(t *testing.T) {
	t.Parallel()
	fake := consoletest.Seed(testNow)
	h, err := New(fake, Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	for _, useTLS := range []bool{false, true} {
		req := httptest.NewRequest(http.MethodGet, "/console/sign-in", nil)
		if useTLS {
			req.TLS = &tls.ConnectionState{}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		cs := rec.Result().Cookies()
		if len(cs) != 1 {
			t.Fatalf("tls=%v: %d cookies, want 1", useTLS, len(cs))
		}
		c := cs[0]
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console/" || c.Secure != useTLS {
			t.Errorf("tls=%v: cookie HttpOnly=%v SameSite=%v Path=%q Secure=%v; want HttpOnly, Strict, /console/, Secure only over TLS",
				useTLS, c.HttpOnly, c.SameSite, c.Path, c.Secure)
		}
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.signedIn(consoletest.OperatorKey)
	b.get("/console/exceptions/exc-erp-1")
	token := b.csrf()
	other := h.signedIn(consoletest.OperatorKey)
	other.get("/console/")
	otherToken := other.csrf()

	const path = "/console/exceptions/exc-erp-1/acknowledge"
	tests := []struct {
		name    string
		form    url.Values
		headers []string
	}{
		{"no token", url.Values{}, nil},
		{"token of another session", url.Values{"csrf": {otherToken}}, nil},
		{"forged token", url.Values{"csrf": {strings.Repeat("A", len(token))}}, nil},
		{"cross-site fetch", url.Values{"csrf": {token}}, []string{"Sec-Fetch-Site: cross-site"}},
		{"foreign origin", url.Values{"csrf": {token}}, []string{"Sec-Fetch-Site:", "Origin: https://evil.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := b.post(path, tt.form, tt.headers...)
			if p.Status != http.StatusForbidden {
				t.Errorf("status %d, want 403\n%s", p.Status, p.Body)
			}
			mustContain(t, p.Body, "Request refused")
		})
	}
	if n := len(h.fake.CallsTo("AcknowledgeException")); n != 0 {
		t.Fatalf("%d AcknowledgeException calls from refused forms, want 0", n)
	}
	p := b.post(path, url.Values{"csrf": {token}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("with the session's token: %d\n%s", p.Status, p.Body)
	}
	if n := len(h.fake.CallsTo("AcknowledgeException")); n != 1 {
		t.Fatalf("%d AcknowledgeException calls, want 1", n)
	}
}

func TestValuesAreEscaped(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const hostile = `<script>alert(1)</script>`
	details, err := structpb.NewStruct(map[string]any{"erpMessage": hostile, "nested": map[string]any{"x": hostile}})
	if err != nil {
		t.Fatal(err)
	}
	h.fake.Exceptions = append(h.fake.Exceptions, &opsv1.Exception{
		Name: "exceptions/exc-hostile", Kind: opsv1.Exception_KIND_ERP_REJECTION, State: opsv1.Exception_STATE_OPEN,
		Domain: opsv1.Exception_DOMAIN_ERP, Resource: `orders/"><script>alert(2)</script>`, Message: hostile, Details: details,
		History: []*opsv1.ExceptionHistoryEntry{{Action: "raised", Note: hostile}},
	})
	b := h.signedIn(consoletest.OperatorKey)
	for _, path := range []string{"/console/exceptions", "/console/exceptions/exc-hostile", "/console/"} {
		p := b.get(path)
		if p.Status != http.StatusOK {
			t.Fatalf("GET %s: %d", path, p.Status)
		}
		if strings.Contains(p.Body, "<script") {
			t.Errorf("GET %s: markup from the exception reached the page unescaped:\n%s", path, p.Body)
		}
		mustContain(t, p.Body, "&lt;script&gt;alert(1)&lt;/script&gt;")
	}
}

func TestSecurityHeadersOnEveryPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.signedIn(consoletest.OperatorKey)
	paths := []string{
		"/console/", "/console/exceptions", "/console/exceptions/exc-erp-1", "/console/exceptions/nope",
		"/console/dead-letters", "/console/dead-letters/7", "/console/erp-queue", "/console/reconciliations",
		"/console/reconciliations/rec-1", "/console/audit", "/console/no-such-page", "/console/static/console.css",
	}
	anon := h.browser()
	check := func(t *testing.T, path string, p *page) {
		t.Helper()
		want := map[string]string{
			"Content-Security-Policy": ContentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
			want["Cache-Control"] = "no-store"
		}
		for k, v := range want {
			if got := p.Header.Get(k); got != v {
				t.Errorf("GET %s (%d): %s = %q, want %q", path, p.Status, k, got, v)
			}
		}
	}
	for _, path := range paths {
		check(t, path, b.get(path))
	}
	check(t, "/console/sign-in", anon.get("/console/sign-in"))
	if p := b.get("/console/static/console.css"); p.Status != http.StatusOK || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: %d %s", p.Status, p.Header.Get("Content-Type"))
	}
}

func TestAccessibleMarkup(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.signedIn(consoletest.OperatorKey)
	for _, path := range []string{"/console/", "/console/exceptions", "/console/exceptions/exc-dl-7", "/console/audit", "/console/erp-queue", "/console/reconciliations"} {
		p := b.get(path)
		mustContain(t, p.Body, `<html lang="en">`, `class="skip-link" href="#main"`, `<main id="main"`, "<title>")
		if strings.Contains(p.Body, "<th>") {
			t.Errorf("GET %s: a table header without scope", path)
		}
		// Every input a person fills in has a label.
		for _, id := range inputIDs.FindAllStringSubmatch(p.Body, -1) {
			if !strings.Contains(p.Body, `<label for="`+id[1]+`"`) {
				t.Errorf("GET %s: input %q has no label", path, id[1])
			}
		}
		if strings.Contains(p.Body, `<input type="text"`) || strings.Contains(p.Body, "<textarea name") {
			t.Errorf("GET %s: a visible field without an id", path)
		}
	}
}

// inputIDs finds the ids of the fields a person fills in.
var inputIDs = regexp.MustCompile(`<(?:input|select|textarea) id="([^"]+)"`)

func TestReplayDryRunThenConfirm(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.signedIn(consoletest.OperatorKey)
	ex := b.get("/console/exceptions/exc-dl-7")
	mustContain(t, ex.Body, "Replay deadLetters/7 (dry run first)")
	form := formFields(t, ex.Body, "/console/dead-letters/replay")
	dry := b.post("/console/dead-letters/replay", form)
	if dry.Status != http.StatusOK {
		t.Fatalf("dry run: %d\n%s", dry.Status, dry.Body)
	}
	calls := h.fake.CallsTo("ReplayDeadLetters")
	if len(calls) != 1 {
		t.Fatalf("%d replay calls after the dry run, want 1", len(calls))
	}
	dryReq := calls[0].Request.(*opsv1.ReplayDeadLettersRequest)
	if !dryReq.GetDryRun() || !cmp.Equal(dryReq.GetNames(), []string{"deadLetters/7"}) || dryReq.GetRequestId() == "" {
		t.Fatalf("dry-run request %v, want dry_run for deadLetters/7 with a request id", dryReq)
	}
	if h.fake.DeadLetters[0].GetState() != opsv1.DeadLetter_STATE_PENDING {
		t.Fatal("the dry run replayed")
	}
	mustContain(t, dry.Body, "Dry run: nothing was replayed.", "would replay", "0190c0de-0000-7000-8000-000000000007", "Confirm: replay 1 dead letter(s)")
	confirm := formFields(t, dry.Body, "/console/dead-letters/replay/confirm")
	if diff := cmp.Diff([]string{"deadLetters/7"}, confirm["name"]); diff != "" {
		t.Errorf("confirm form names (-want +got):\n%s", diff)
	}
	if confirm.Get("request_id") != dryReq.GetRequestId() {
		t.Errorf("confirm form request id %q, dry run used %q", confirm.Get("request_id"), dryReq.GetRequestId())
	}

	// Confirming twice (a double submit) is one replay.
	for range 2 {
		done := b.post("/console/dead-letters/replay/confirm", confirm)
		if done.Status != http.StatusOK {
			t.Fatalf("confirm: %d\n%s", done.Status, done.Body)
		}
		mustContain(t, done.Body, "Replay finished.", "replayed 1", "See the audit records of this replay")
	}
	calls = h.fake.CallsTo("ReplayDeadLetters")
	for _, c := range calls[1:] {
		req := c.Request.(*opsv1.ReplayDeadLettersRequest)
		if req.GetDryRun() || req.GetRequestId() != dryReq.GetRequestId() || !cmp.Equal(req.GetNames(), []string{"deadLetters/7"}) {
			t.Errorf("confirm request %v, want a real replay of deadLetters/7 with the dry run's request id", req)
		}
	}
	audit := b.get("/console/audit?action=dead_letter.replay&target=deadLetters%2F7")
	if got := strings.Count(audit.Body, "<td>dead_letter.replay</td>"); got != 1 {
		t.Errorf("%d dead_letter.replay audit records, want 1:\n%s", got, audit.Body)
	}
	mustContain(t, audit.Body, "operator:key-"+consoletest.OperatorKey)
}

func TestReplayDryRunListsExactlyWouldReplay(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// Two pending dead letters of one consumer and one replayed one.
	extra := proto.CloneOf(h.fake.DeadLetters[0])
	extra.Name, extra.EventId = "deadLetters/9", "event-9"
	h.fake.DeadLetters = append(h.fake.DeadLetters, extra)
	b := h.signedIn(consoletest.OperatorKey)
	list := b.get("/console/dead-letters?consumer=fulfillment-order-confirmed&state=STATE_PENDING")
	form := formFields(t, list.Body, "/console/dead-letters/replay")
	dry := b.post("/console/dead-letters/replay", form)
	if dry.Status != http.StatusOK {
		t.Fatalf("dry run: %d\n%s", dry.Status, dry.Body)
	}
	req := h.fake.CallsTo("ReplayDeadLetters")[0].Request.(*opsv1.ReplayDeadLettersRequest)
	if want := `consumer = "fulfillment-order-confirmed" AND state = STATE_PENDING`; req.GetFilter() != want || len(req.GetNames()) != 0 {
		t.Errorf("dry run selected filter %q names %v, want filter %q", req.GetFilter(), req.GetNames(), want)
	}
	confirm := formFields(t, dry.Body, "/console/dead-letters/replay/confirm")
	if diff := cmp.Diff([]string{"deadLetters/7", "deadLetters/9"}, confirm["name"]); diff != "" {
		t.Errorf("confirm names (-want +got):\n%s", diff)
	}
}

func TestViewerGetsPermissionDenied(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.signedIn(consoletest.ViewerKey)
	ex := b.get("/console/exceptions/exc-erp-1")
	form := formFields(t, ex.Body, "/console/exceptions/exc-erp-1/acknowledge")
	p := b.post("/console/exceptions/exc-erp-1/acknowledge", form)
	if p.Status != http.StatusForbidden {
		t.Fatalf("viewer acknowledge: %d, want 403\n%s", p.Status, p.Body)
	}
	mustContain(t, p.Body, "Could not acknowledge the exception", "PERMISSION_DENIED", "ERROR_REASON_PERMISSION_DENIED",
		"Permission denied: your operator key does not allow this action. Viewer keys may only read")
	if h.fake.Exceptions[0].GetState() != opsv1.Exception_STATE_OPEN {
		t.Error("the viewer's acknowledge changed the exception")
	}
}

func TestCallErrorsRender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		wantStatus int
		want       []string
		// The failing method, the page that calls it and the page's
		// heading; empty means GetException and its page.
		method, path, heading string
	}{
		{
			"failed precondition with reason",
			apierr.Error(codes.FailedPrecondition, opsv1.ErrorReason_ERROR_REASON_EXCEPTION_ALREADY_RESOLVED, "exception is resolved", nil),
			http.StatusBadRequest,
			[]string{"FAILED_PRECONDITION", "ERROR_REASON_EXCEPTION_ALREADY_RESOLVED", "exception is resolved", "not possible in the current state"},
			"", "", "",
		},
		{
			"invalid argument with violations",
			apierr.InvalidArgument("bad request", apierr.FieldViolation{Field: "name", Description: "must match <pattern>"}),
			http.StatusBadRequest,
			[]string{"INVALID_ARGUMENT", "ERROR_REASON_VALIDATION_FAILED", "<code>name</code>: must match &lt;pattern&gt;"},
			"", "", "",
		},
		{"unavailable", status.Error(codes.Unavailable, "ops down"), http.StatusServiceUnavailable, []string{"UNAVAILABLE", "try again shortly"}, "", "", ""},
		{"not found", status.Error(codes.NotFound, "exceptions/x not found"), http.StatusNotFound, []string{"NOT_FOUND", "exceptions/x not found"}, "", "", ""},
		{
			"overview without KPIs", status.Error(codes.Unavailable, "ops down"), http.StatusServiceUnavailable, []string{"UNAVAILABLE"},
			"GetKpis", "/console/", "Could not read the KPIs",
		},
		{
			"overview without the newest exceptions", status.Error(codes.Unavailable, "ops down"), http.StatusServiceUnavailable, []string{"UNAVAILABLE"},
			"ListExceptions", "/console/", "Could not list the open exceptions",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			method, path, heading := tt.method, tt.path, tt.heading
			if method == "" {
				method, path, heading = "GetException", "/console/exceptions/exc-erp-1", "Could not read the exception"
			}
			h := newHarness(t)
			b := h.signedIn(consoletest.OperatorKey)
			h.fake.Mu.Lock()
			h.fake.Fail = map[string]error{method: tt.err}
			h.fake.Mu.Unlock()
			p := b.get(path)
			if p.Status != tt.wantStatus {
				t.Errorf("status %d, want %d", p.Status, tt.wantStatus)
			}
			mustContain(t, p.Body, append([]string{heading}, tt.want...)...)
		})
	}
}

func TestUnauthenticatedReturnsToSignIn(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.signedIn(consoletest.OperatorKey)
	h.fake.Mu.Lock()
	delete(h.fake.Keys, consoletest.OperatorKey) // the key was revoked
	h.fake.Mu.Unlock()
	p := b.get("/console/exceptions")
	if p.Status != http.StatusSeeOther || p.location() != "/console/sign-in?expired=1" {
		t.Fatalf("revoked key: %d to %q, want 303 to sign in", p.Status, p.location())
	}
	if p := b.get("/console/sign-in?expired=1"); !strings.Contains(p.Body, "Sign in again") {
		t.Errorf("sign-in page does not say why:\n%s", p.Body)
	}
	if p := b.get("/console/"); p.Status != http.StatusSeeOther {
		t.Errorf("session survived UNAUTHENTICATED: %d", p.Status)
	}
}

func TestActionsCarryTheFormsRequestID(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.signedIn(consoletest.OperatorKey)
	ex := b.get("/console/exceptions/exc-erp-1")
	ack := formFields(t, ex.Body, "/console/exceptions/exc-erp-1/acknowledge")
	resolve := formFields(t, ex.Body, "/console/exceptions/exc-erp-1/resolve")
	if ack.Get("request_id") == "" || ack.Get("request_id") == resolve.Get("request_id") {
		t.Fatalf("acknowledge %q and resolve %q forms need distinct request ids", ack.Get("request_id"), resolve.Get("request_id"))
	}
	for range 2 {
		if p := b.post("/console/exceptions/exc-erp-1/acknowledge", ack); p.Status != http.StatusSeeOther {
			t.Fatalf("acknowledge: %d\n%s", p.Status, p.Body)
		}
	}
	for _, c := range h.fake.CallsTo("AcknowledgeException") {
		if got := c.Request.(*opsv1.AcknowledgeExceptionRequest).GetRequestId(); got != ack.Get("request_id") {
			t.Errorf("acknowledge sent request id %q, the form carried %q", got, ack.Get("request_id"))
		}
	}
	after := b.get("/console/exceptions/exc-erp-1?done=acknowledged")
	mustContain(t, after.Body, "Exception acknowledged.", "acknowledged", "operator:key-"+consoletest.OperatorKey)

	// Resolving needs a note; with one it is sent as written.
	if p := b.post("/console/exceptions/exc-erp-1/resolve", resolve); p.Status != http.StatusBadRequest {
		t.Errorf("resolve without a note: %d, want 400", p.Status)
	}
	resolve.Set("note", "customer released from credit hold")
	if p := b.post("/console/exceptions/exc-erp-1/resolve", resolve); p.Status != http.StatusSeeOther {
		t.Fatalf("resolve: %d\n%s", p.Status, p.Body)
	}
	calls := h.fake.CallsTo("ResolveException")
	if len(calls) != 1 {
		t.Fatalf("%d resolve calls, want 1 (the one without a note must not be sent)", len(calls))
	}
	if got := calls[0].Request.(*opsv1.ResolveExceptionRequest); got.GetNote() != "customer released from credit hold" || got.GetRequestId() != resolve.Get("request_id") {
		t.Errorf("resolve request %v", got)
	}
}

func TestOtherActions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.signedIn(consoletest.OperatorKey)
	q := b.get("/console/erp-queue")
	mustContain(t, q.Body, "C0007", "erpSubmissions/ord-1003", "backing off", "erp: unavailable")
	retry := formFields(t, q.Body, "/console/erp-submissions/ord-1003/retry")
	p := b.post("/console/erp-submissions/ord-1003/retry", retry)
	if p.Status != http.StatusSeeOther || p.location() != "/console/erp-queue?done=retried" {
		t.Fatalf("retry: %d to %q", p.Status, p.location())
	}
	if got := h.fake.CallsTo("RetryErpSubmission")[0].Request.(*opsv1.RetryErpSubmissionRequest); got.GetName() != "erpSubmissions/ord-1003" || got.GetRequestId() != retry.Get("request_id") {
		t.Errorf("retry request %v", got)
	}

	rec := b.get("/console/reconciliations")
	trigger := formFields(t, rec.Body, "/console/reconciliations")
	trigger.Set("warehouses", "DE-HAM, DE-MUC DE-HAM")
	trigger.Set("apply_corrections", "on")
	p = b.post("/console/reconciliations", trigger)
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/console/reconciliations/r") {
		t.Fatalf("trigger: %d to %q", p.Status, p.location())
	}
	got := h.fake.CallsTo("TriggerReconciliation")[0].Request.(*opsv1.TriggerReconciliationRequest)
	if !cmp.Equal(got.GetWarehouses(), []string{"DE-HAM", "DE-MUC"}) || !got.GetApplyCorrections() || got.GetRequestId() != trigger.Get("request_id") {
		t.Errorf("trigger request %v", got)
	}
	run := b.get(p.location())
	mustContain(t, run.Body, "Reconciliation started.", "DE-HAM, DE-MUC", "pending")
	detail := b.get("/console/reconciliations/rec-1")
	mustContain(t, detail.Body, "SKU-00011", "-7")
}

func TestListFiltersReachTheAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.signedIn(consoletest.OperatorKey)
	p := b.get("/console/exceptions?state=STATE_OPEN&kind=KIND_DEAD_LETTER&resource=deadLetters%2F7")
	if p.Status != http.StatusOK {
		t.Fatalf("list: %d\n%s", p.Status, p.Body)
	}
	calls := h.fake.CallsTo("ListExceptions")
	got := calls[len(calls)-1].Request.(*opsv1.ListExceptionsRequest).GetFilter()
	if want := `state = STATE_OPEN AND kind = KIND_DEAD_LETTER AND resource = "deadLetters/7"`; got != want {
		t.Errorf("filter %q, want %q", got, want)
	}
	mustContain(t, p.Body, "exc-dl-7", `<option value="STATE_OPEN" selected>`)
	if strings.Contains(p.Body, "exc-erp-1") {
		t.Error("the list shows an exception the filter excludes")
	}

	bad := b.get("/console/exceptions?state=STATE_BOGUS")
	if bad.Status != http.StatusBadRequest {
		t.Errorf("unknown state: %d, want 400", bad.Status)
	}
	mustContain(t, bad.Body, "Filter not applied: state: &#34;STATE_BOGUS&#34; is not a known value")
	if len(h.fake.CallsTo("ListExceptions")) != len(calls) {
		t.Error("a bad filter was sent to the API")
	}
}

func TestOverviewCountsFromKpis(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// More unresolved exceptions than one page of a list holds: the
	// overview shows the ops service's exact counts.
	h.fake.Mu.Lock()
	for i := range 600 {
		h.fake.Exceptions = append(h.fake.Exceptions, &opsv1.Exception{
			Name: fmt.Sprintf("exceptions/exc-bulk-%d", i), Kind: opsv1.Exception_KIND_ERP_REJECTION,
			Domain: opsv1.Exception_DOMAIN_ERP, State: opsv1.Exception_STATE_OPEN, Message: "bulk",
		})
	}
	h.fake.Exceptions = append(h.fake.Exceptions, &opsv1.Exception{
		Name: "exceptions/exc-claim-1", Kind: opsv1.Exception_KIND_ORDER_CLAIM_REAPED,
		Domain: opsv1.Exception_DOMAIN_COMMERCE, State: opsv1.Exception_STATE_ACKNOWLEDGED, Message: "claim reaped",
	})
	h.fake.Mu.Unlock()
	b := h.signedIn(consoletest.OperatorKey)
	signInLists := len(h.fake.CallsTo("ListExceptions")) // the sign-in's key check

	p := b.get("/console/")
	if p.Status != http.StatusOK {
		t.Fatalf("overview: %d\n%s", p.Status, p.Body)
	}
	mustContain(t, p.Body,
		"<dt>Open exceptions</dt><dd>603</dd>",
		// Per domain, in enum order, zero included, acknowledged counted.
		`<tr><th scope="row">commerce</th><td>1</td>`,
		`<tr><th scope="row">erp</th><td>601</td><td><a href="/console/exceptions?domain=DOMAIN_ERP&amp;state=STATE_OPEN">open</a>, <a href="/console/exceptions?domain=DOMAIN_ERP&amp;state=STATE_ACKNOWLEDGED">acknowledged</a></td></tr>`,
		`<tr><th scope="row">fulfillment</th><td>1</td>`,
		`<tr><th scope="row">finance</th><td>0</td>`,
		// Orders per channel.
		"<caption>Orders per sales channel</caption>",
		`<tr><th scope="row">app</th><td>38</td><td>1</td><td>1</td></tr>`,
		`<tr><th scope="row">web</th><td>80</td><td>2</td><td>1</td></tr>`,
		// Pending dead letters per consumer, linked to their list.
		`<tr><th scope="row">fulfillment-order-confirmed</th><td><a href="/console/dead-letters?consumer=fulfillment-order-confirmed&amp;state=STATE_PENDING">1</a></td></tr>`,
		"<dt>Positions out of tolerance</dt><dd>1</dd>",
	)
	if i, j := strings.Index(p.Body, `scope="row">commerce<`), strings.Index(p.Body, `scope="row">finance<`); i < 0 || j < i {
		t.Error("domains are not in the contract's order")
	}
	if strings.Contains(p.Body, "there are more") {
		t.Error("the overview still says its counts are truncated")
	}
	if n := len(h.fake.CallsTo("GetKpis")); n != 1 {
		t.Errorf("%d GetKpis calls, want 1", n)
	}
	lists := h.fake.CallsTo("ListExceptions")[signInLists:]
	if len(lists) != 1 {
		t.Fatalf("%d ListExceptions calls, want 1 (the newest open exceptions)", len(lists))
	}
	if req := lists[0].Request.(*opsv1.ListExceptionsRequest); req.GetPageSize() != recentOpen || req.GetFilter() != "state = STATE_OPEN" {
		t.Errorf("ListExceptions page size %d, filter %q; want %d, %q", req.GetPageSize(), req.GetFilter(), recentOpen, "state = STATE_OPEN")
	}
	if n := strings.Count(p.Body, `href="/console/exceptions/`); n != recentOpen {
		t.Errorf("%d exceptions listed as newest, want %d", n, recentOpen)
	}

	// The counts follow the desk.
	h.fake.Mu.Lock()
	h.fake.Exceptions[0].State = opsv1.Exception_STATE_RESOLVED
	h.fake.DeadLetters[0].State = opsv1.DeadLetter_STATE_REPLAYED
	h.fake.Mu.Unlock()
	p = b.get("/console/")
	mustContain(t, p.Body, `<tr><th scope="row">erp</th><td>600</td>`, "No dead letter is waiting for replay.")
}
