// Package console is the operators' web console, served by the gateway
// under /console/: server-rendered html/template pages over the ops.v1
// OpsService (exceptions, dead letters and their replay, the ERP queue,
// reconciliations, KPIs and the audit trail). It ships no JavaScript; every
// action is a plain HTML form.
//
// The console holds no authority of its own. An operator signs in with an
// operator API key, which the console keeps only in a sealed (AES-GCM),
// HttpOnly, SameSite=Strict cookie scoped to /console/, and sends back as
// `authorization: Bearer <key>` on every call, so the gateway's gRPC
// authentication and roles decide what the operator may do (a viewer's
// action comes back PERMISSION_DENIED and is shown as such).
//
// Every POST checks the request's origin (net/http's
// CrossOriginProtection: Sec-Fetch-Site, else Origin against Host) and a
// CSRF token bound to the session (an HMAC of the session id, compared in
// constant time). Every response carries a strict Content-Security-Policy
// and pages are not cached.
package console

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/correlation"
)

// Options configures the console.
type Options struct {
	// Logger receives failed calls and refused requests (never a key);
	// nil discards them.
	Logger *slog.Logger
	// SessionKey seals the session cookie and derives the CSRF tokens:
	// SessionKeySize (32) random bytes, the same on every gateway replica.
	// Empty means a random key per process, so sessions end with the
	// process.
	SessionKey []byte
	// Now is the clock for session expiry; nil means time.Now.
	Now func() time.Time
}

// ContentSecurityPolicy is the policy of every console response: nothing
// but the console's own stylesheet and images loads, forms post only to
// the console, no framing, no scripts.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// callTimeout bounds one page's calls to the ops API.
const callTimeout = 15 * time.Second

// maxFormBytes bounds a POST body; the largest form is a resolution note.
const maxFormBytes = 64 << 10

// console serves the pages.
type console struct {
	client opsv1.OpsServiceClient
	log    *slog.Logger
	now    func() time.Time
	seal   *sealer
	origin *http.CrossOriginProtection
	pages  map[string]*template.Template
	mux    *http.ServeMux
}

// New returns the console handler over client, which must authenticate
// and authorize each call by its bearer key (the gateway's own OpsService
// client). The handler serves the full paths under /console/: mount it
// with mux.Handle("/console/", h), without StripPrefix. It fails on a
// nil client, a session key of the wrong size or a template that does
// not parse.
func New(client opsv1.OpsServiceClient, opts Options) (http.Handler, error) {
	if client == nil {
		return nil, errors.New("console: nil OpsService client")
	}
	seal, err := newSealer(opts.SessionKey)
	if err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &console{
		client: client,
		log:    opts.Logger,
		now:    opts.Now,
		seal:   seal,
		origin: http.NewCrossOriginProtection(),
		pages:  pages,
		mux:    http.NewServeMux(),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.routes()
	return c, nil
}

func (c *console) routes() {
	m := c.mux
	m.HandleFunc("GET /console/static/console.css", serveCSS)
	m.HandleFunc("GET /console/sign-in", c.signInForm)
	m.HandleFunc("POST /console/sign-in", c.signIn)
	m.HandleFunc("POST /console/sign-out", c.post(c.signOut))
	m.HandleFunc("GET /console/{$}", c.get(c.overview))
	m.HandleFunc("GET /console/exceptions", c.get(c.exceptions))
	m.HandleFunc("GET /console/exceptions/{id}", c.get(c.exception))
	m.HandleFunc("POST /console/exceptions/{id}/acknowledge", c.post(c.acknowledge))
	m.HandleFunc("POST /console/exceptions/{id}/resolve", c.post(c.resolve))
	m.HandleFunc("GET /console/dead-letters", c.get(c.deadLetters))
	m.HandleFunc("GET /console/dead-letters/{id}", c.get(c.deadLetter))
	m.HandleFunc("POST /console/dead-letters/replay", c.post(c.replayDryRun))
	m.HandleFunc("POST /console/dead-letters/replay/confirm", c.post(c.replayConfirm))
	m.HandleFunc("GET /console/erp-queue", c.get(c.erpQueue))
	m.HandleFunc("POST /console/erp-submissions/{id}/retry", c.post(c.retryErp))
	m.HandleFunc("GET /console/reconciliations", c.get(c.reconciliations))
	m.HandleFunc("POST /console/reconciliations", c.post(c.triggerReconciliation))
	m.HandleFunc("GET /console/reconciliations/{id}", c.get(c.reconciliation))
	m.HandleFunc("GET /console/audit", c.get(c.audit))
	m.HandleFunc("/console/", c.notFound)
}

// ServeHTTP sets the security headers every console response carries and
// dispatches.
func (c *console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.mux.ServeHTTP(w, r)
}

// authedHandler is a page or action of a signed-in operator.
type authedHandler func(w http.ResponseWriter, r *http.Request, s *session)

// get wraps a page: without a signed-in session it sends the browser to
// sign in.
func (c *console) get(h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := c.seal.sessionFrom(r, c.now())
		if !s.signedIn() {
			http.Redirect(w, r, "/console/sign-in", http.StatusSeeOther)
			return
		}
		h(w, r, s)
	}
}

// post wraps an action: same-origin check, form parsing with a size
// limit, a signed-in session and its CSRF token, in that order.
func (c *console) post(h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := c.checkPost(w, r)
		if !ok {
			return
		}
		if !s.signedIn() {
			http.Redirect(w, r, "/console/sign-in", http.StatusSeeOther)
			return
		}
		h(w, r, s)
	}
}

// checkPost runs the checks every POST passes, answering the request
// itself when one fails. It returns the request's session, which may be
// anonymous (the sign-in form).
func (c *console) checkPost(w http.ResponseWriter, r *http.Request) (*session, bool) {
	if err := c.origin.Check(r); err != nil {
		c.log.WarnContext(r.Context(), "console: cross-origin POST refused", slog.String("path", r.URL.Path))
		c.renderProblem(w, r, nil, http.StatusForbidden, "Request refused",
			"This form was sent from another site. Open the console and try again.")
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.renderProblem(w, r, nil, http.StatusBadRequest, "Bad form", "The form could not be read.")
		return nil, false
	}
	s := c.seal.sessionFrom(r, c.now())
	if s == nil {
		http.Redirect(w, r, "/console/sign-in?expired=1", http.StatusSeeOther)
		return nil, false
	}
	if !c.seal.checkCSRF(s, r.PostForm.Get("csrf")) {
		c.log.WarnContext(r.Context(), "console: CSRF token missing or wrong", slog.String("path", r.URL.Path))
		c.renderProblem(w, r, s, http.StatusForbidden, "Request refused",
			"The form's security token is missing or belongs to another session. Reload the page and try again.")
		return nil, false
	}
	return s, true
}

// act runs a mutation on the resource named by the path's {id} with the
// form's request id, and on success redirects to what call returns.
func (c *console) act(w http.ResponseWriter, r *http.Request, s *session, what string,
	call func(ctx context.Context, id, requestID string) (redirect string, err error),
) {
	id := pathID(r)
	if id == "" {
		c.notFound(w, r)
		return
	}
	ctx, cancel := callCtx(r, s)
	defer cancel()
	to, err := call(ctx, id, requestIDOf(r.PostForm))
	if err != nil {
		c.renderCallError(w, r, s, what, err)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// show renders page about the resource named by the path's {id}, with
// the data get reads; title is followed by the id.
func (c *console) show(w http.ResponseWriter, r *http.Request, s *session, what, page, title, section string,
	get func(ctx context.Context, id string) (any, error),
) {
	id := pathID(r)
	if id == "" {
		c.notFound(w, r)
		return
	}
	ctx, cancel := callCtx(r, s)
	defer cancel()
	data, err := get(ctx, id)
	if err != nil {
		c.renderCallError(w, r, s, what, err)
		return
	}
	c.render(w, r, s, http.StatusOK, page, title+" "+id, section, data)
}

// callCtx is the context of the ops calls made for one request: the
// operator's key as bearer credential, a fresh correlation id and a
// deadline.
func callCtx(r *http.Request, s *session) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	ctx = metadata.AppendToOutgoingContext(ctx,
		"authorization", "Bearer "+s.Key,
		correlation.MetadataKey, correlation.New())
	return ctx, cancel
}

// requestIDOf returns the request id a form carries (rendered with the
// form, so that submitting it twice is one action), or a fresh one when
// it carries none or a malformed one.
func requestIDOf(form url.Values) string {
	id := strings.TrimSpace(form.Get("request_id"))
	if validRequestID(id) {
		return id
	}
	return newRequestID()
}

// newRequestID returns a fresh request id, a random UUID.
func newRequestID() string { return correlation.New() }

// validRequestID accepts 1..128 characters of [A-Za-z0-9._:-], the
// alphabet of the UUIDs the console renders.
func validRequestID(id string) bool { return correlation.Valid(id) }

// pathID returns the {id} path segment, or "" when it cannot be one
// segment of a resource name (1..64 characters, no slash).
func pathID(r *http.Request) string {
	id := r.PathValue("id")
	if !validID(id) {
		return ""
	}
	return id
}

// validID reports whether id can be the last segment of an ops.v1
// resource name: 1..64 characters, no slash, backslash or control
// character.
func validID(id string) bool {
	return id != "" && len(id) <= 64 && !strings.ContainsAny(id, "/\\") && !strings.ContainsFunc(id, isControl)
}

// safeBack returns back when it is a path inside the console (so a form
// cannot turn the console into an open redirect), else def.
func safeBack(back, def string) string {
	if strings.HasPrefix(back, "/console/") && !strings.HasPrefix(back, "//") &&
		!strings.ContainsAny(back, "\\\r\n") && !strings.Contains(back, "/../") {
		return back
	}
	return def
}

// filteredList is what every list page shows around its rows: the query
// it was asked with, the filter built from it (or why none could be), and
// the link to the next page.
type filteredList struct {
	Query     url.Values
	Filter    string
	FilterErr string
	Next      string
}

// listSpec describes one list page.
type listSpec struct {
	path, page, title, section string
	// what the list call does, for its error page ("list exceptions").
	what string
	// build turns the query into the list's filter; nil means the list
	// takes none.
	build func(url.Values) (string, error)
	// fields are the query parameters the next-page link keeps.
	fields []string
}

// serveList renders a list page: it builds the filter, calls list with it
// and the page token (list keeps the rows it gets), and renders data's
// result. A filter that does not build is shown on the page, not sent.
func (c *console) serveList(w http.ResponseWriter, r *http.Request, s *session, spec listSpec,
	list func(ctx context.Context, filter, token string) (next string, err error), data func(filteredList) any,
) {
	q := r.URL.Query()
	l := filteredList{Query: q}
	if spec.build != nil {
		filter, err := spec.build(q)
		if err != nil {
			l.FilterErr = err.Error()
			c.render(w, r, s, http.StatusBadRequest, spec.page, spec.title, spec.section, data(l))
			return
		}
		l.Filter = filter
	}
	token, ok := pageToken(q)
	if !ok {
		c.renderProblem(w, r, s, http.StatusBadRequest, "Bad page link", "The page token is too long.")
		return
	}
	ctx, cancel := callCtx(r, s)
	defer cancel()
	next, err := list(ctx, l.Filter, token)
	if err != nil {
		c.renderCallError(w, r, s, spec.what, err)
		return
	}
	l.Next = nextURL(spec.path, q, next, spec.fields...)
	c.render(w, r, s, http.StatusOK, spec.page, spec.title, spec.section, data(l))
}

// pageToken returns the page_token query parameter, or false when it is
// longer than the API accepts.
func pageToken(q url.Values) (string, bool) {
	t := q.Get("page_token")
	return t, len(t) <= 2048
}
