package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static/console.css
var consoleCSS []byte

// The frame every page template fills ("content") and the blocks pages
// share.
const (
	layoutFile   = "templates/layout.html"
	partialsFile = "templates/partials.html"
)

// parsePages parses the layout once per page, so each page's "content"
// block stays its own.
func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(templateFuncs).ParseFS(templateFiles, layoutFile, partialsFile)
	if err != nil {
		return nil, fmt.Errorf("console: parse layout: %w", err)
	}
	files, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console: list templates: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		if f == layoutFile || f == partialsFile {
			continue
		}
		t, err := base.Clone()
		if err != nil {
			return nil, fmt.Errorf("console: clone layout: %w", err)
		}
		if _, err := t.ParseFS(templateFiles, f); err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", f, err)
		}
		pages[strings.TrimSuffix(strings.TrimPrefix(f, "templates/"), ".html")] = t
	}
	return pages, nil
}

// view is what every page template gets; Page holds the page's own data.
type view struct {
	Title    string
	Section  string
	SignedIn bool
	CSRF     string
	Flash    string
	Page     any
}

// render executes page into a buffer first, so a template error becomes a
// clean 500 rather than half a page.
func (c *console) render(w http.ResponseWriter, r *http.Request, s *session, code int, page, title, section string, data any) {
	t, ok := c.pages[page]
	if !ok {
		c.log.ErrorContext(r.Context(), "console: no such page template", slog.String("page", page))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v := view{Title: title, Section: section, Page: data, Flash: flashes[r.URL.Query().Get("done")]}
	if s != nil {
		v.SignedIn = s.signedIn()
		v.CSRF = c.seal.csrfToken(s.ID)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		c.log.ErrorContext(r.Context(), "console: render", slog.String("page", page), slog.Any("err", err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// flashes are the confirmations an action's redirect can ask for; the
// query names one, so no caller-supplied text reaches the page.
var flashes = map[string]string{
	"acknowledged": "Exception acknowledged.",
	"resolved":     "Exception resolved.",
	"retried":      "ERP submission retry requested: the queue worker sends it on its next pass.",
	"triggered":    "Reconciliation started.",
}

// problem is the data of the error page.
type problem struct {
	Heading    string
	Message    string
	Code       string
	Reason     string
	Detail     string
	Violations []apierr.FieldViolation
}

// renderProblem shows an error page the console itself decided on.
func (c *console) renderProblem(w http.ResponseWriter, r *http.Request, s *session, code int, heading, msg string) {
	c.render(w, r, s, code, "error", heading, "", problem{Heading: heading, Message: msg})
}

// renderCallError shows a failed ops call: its gRPC code, ErrorInfo
// reason and message, and what it means for the operator. UNAUTHENTICATED
// (a key revoked since sign-in) ends the session and returns to sign-in.
func (c *console) renderCallError(w http.ResponseWriter, r *http.Request, s *session, what string, err error) {
	st := status.Convert(err)
	if st.Code() == codes.Unauthenticated {
		clearCookie(w, r)
		http.Redirect(w, r, "/console/sign-in?expired=1", http.StatusSeeOther)
		return
	}
	p := problem{
		Heading:    "Could not " + what,
		Code:       rpccode.Code(st.Code()).String(),
		Reason:     apierr.ReasonOf(err),
		Detail:     st.Message(),
		Violations: apierr.FieldViolations(err),
		Message:    explain(st.Code()),
	}
	level := slog.LevelInfo
	if st.Code() == codes.Internal || st.Code() == codes.Unknown || st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded {
		level = slog.LevelWarn
	}
	c.log.Log(r.Context(), level, "console: ops call failed", slog.String("call", what),
		slog.String("code", p.Code), slog.String("reason", p.Reason), slog.String("path", r.URL.Path))
	c.render(w, r, s, runtime.HTTPStatusFromCode(st.Code()), "error", p.Heading, "", p)
}

// explain says in a sentence what a status code means for the operator.
func explain(code codes.Code) string {
	switch code {
	case codes.PermissionDenied:
		return "Permission denied: your operator key does not allow this action. Viewer keys may only read; ask for a key with the operator role."
	case codes.NotFound:
		return "It does not exist (any more)."
	case codes.InvalidArgument:
		return "The request was not accepted as entered."
	case codes.FailedPrecondition, codes.Aborted:
		return "It is not possible in the current state."
	case codes.AlreadyExists:
		return "This request id was already used for a different request; reload the page to get a fresh form."
	case codes.Unavailable, codes.DeadlineExceeded:
		return "A service behind the console is unavailable; try again shortly."
	case codes.ResourceExhausted:
		return "Too many requests; try again shortly."
	default:
		return "The operation failed."
	}
}

// notFound answers every console path without a page.
func (c *console) notFound(w http.ResponseWriter, r *http.Request) {
	c.renderProblem(w, r, c.seal.sessionFrom(r, c.now()), http.StatusNotFound, "Not found", "There is no console page at this address.")
}

func serveCSS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(consoleCSS)
}

// templateFuncs format API values for the pages. Each returns plain text;
// html/template escapes it for where it lands.
var templateFuncs = template.FuncMap{
	"ts":     formatTimestamp,
	"dur":    formatDuration,
	"enum":   enumLabel,
	"actor":  formatActor,
	"fields": structFields,
	"json":   structJSON,
	"id":     lastSegment,
	"selected": func(a, b string) bool {
		return a == b
	},
}

func formatTimestamp(t *timestamppb.Timestamp) string {
	if t == nil {
		return "—"
	}
	return t.AsTime().UTC().Format("2006-01-02 15:04:05Z")
}

func formatDuration(d *durationpb.Duration) string {
	if d == nil {
		return "—"
	}
	v := d.AsDuration()
	switch {
	case v >= time.Minute:
		return v.Round(time.Second).String()
	case v >= time.Second:
		return v.Round(10 * time.Millisecond).String()
	default:
		return v.Round(10 * time.Microsecond).String()
	}
}

// enumLabel renders an enum value without its type prefix, in lower
// case: Exception_STATE_OPEN → "open", BREAKER_STATE_HALF_OPEN → "half open".
func enumLabel(e protoreflect.Enum) string {
	d := e.Descriptor().Values().ByNumber(e.Number())
	if d == nil {
		return fmt.Sprintf("unknown (%d)", e.Number())
	}
	name := strings.TrimPrefix(string(d.Name()), screamingSnake(string(e.Descriptor().Name()))+"_")
	return strings.ToLower(strings.ReplaceAll(name, "_", " "))
}

// screamingSnake turns a CamelCase enum type name into its value prefix:
// BreakerState → BREAKER_STATE.
func screamingSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

func formatActor(a *commonv1.AuditActor) string {
	if a == nil || (a.GetKind() == "" && a.GetId() == "") {
		return "—"
	}
	return a.GetKind() + ":" + a.GetId()
}

// field is one key of a Struct with its value as text.
type field struct {
	Key, Value string
}

// structFields lists a Struct's keys in order, string values as they are
// and others as JSON.
func structFields(s *structpb.Struct) []field {
	if s == nil {
		return nil
	}
	keys := make([]string, 0, len(s.GetFields()))
	for k := range s.GetFields() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]field, 0, len(keys))
	for _, k := range keys {
		v := s.GetFields()[k]
		text := v.GetStringValue()
		if _, isString := v.GetKind().(*structpb.Value_StringValue); !isString {
			b, err := protojson.Marshal(v)
			if err != nil {
				text = "(unreadable value)"
			} else {
				text = string(b)
			}
		}
		out = append(out, field{Key: k, Value: text})
	}
	return out
}

// structJSON renders a Struct as indented JSON text, "" for none.
func structJSON(s *structpb.Struct) string {
	if s == nil {
		return ""
	}
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(s)
	if err != nil {
		return "(unreadable value)"
	}
	return string(b)
}

// lastSegment returns the id of a resource name: "exceptions/ab12" → "ab12".
func lastSegment(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}
