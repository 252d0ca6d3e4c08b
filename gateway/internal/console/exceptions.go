package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
)

// listPageSize is the page size of every list page.
const listPageSize = 50

// The enum names the filter forms offer and the filter builder accepts.
var (
	exceptionStates     = opsv1.Exception_State_value
	exceptionKinds      = opsv1.Exception_Kind_value
	exceptionDomains    = opsv1.Exception_Domain_value
	exceptionSeverities = opsv1.Exception_Severity_value
	deadLetterStates    = opsv1.DeadLetter_State_value
)

// option is one choice of a filter's select.
type option struct {
	Value, Label string
}

// options lists an enum's values (UNSPECIFIED left out) in number order.
func options(names map[string]int32, label func(int32) string) []option {
	type nv struct {
		name string
		num  int32
	}
	var vs []nv
	for n, v := range names {
		if v != 0 {
			vs = append(vs, nv{n, v})
		}
	}
	slices.SortFunc(vs, func(a, b nv) int { return int(a.num - b.num) })
	out := make([]option, len(vs))
	for i, v := range vs {
		out[i] = option{Value: v.name, Label: label(v.num)}
	}
	return out
}

var (
	stateOptions  = options(exceptionStates, func(n int32) string { return enumLabel(opsv1.Exception_State(n)) })
	kindOptions   = options(exceptionKinds, func(n int32) string { return enumLabel(opsv1.Exception_Kind(n)) })
	domainOptions = options(exceptionDomains, func(n int32) string {
		return enumLabel(opsv1.Exception_Domain(n))
	})
	severityOptions = options(exceptionSeverities, func(n int32) string {
		return enumLabel(opsv1.Exception_Severity(n))
	})
	deadLetterStateOptions = options(deadLetterStates, func(n int32) string {
		return enumLabel(opsv1.DeadLetter_State(n))
	})
)

// nextURL is the link to the next page: path with the query's filter
// fields and the next page token; "" on the last page.
func nextURL(path string, q url.Values, token string, fields ...string) string {
	if token == "" {
		return ""
	}
	next := url.Values{}
	for _, f := range fields {
		if v := q.Get(f); v != "" {
			next.Set(f, v)
		}
	}
	next.Set("page_token", token)
	return path + "?" + next.Encode()
}

// recentOpen is how many of the newest open exceptions the overview lists.
const recentOpen = 10

// domainRow is one row of the overview's unresolved exceptions per domain.
type domainRow struct {
	Domain opsv1.Exception_Domain
	// Unresolved counts the exceptions in state OPEN or ACKNOWLEDGED.
	Unresolved               int64
	OpenURL, AcknowledgedURL string
}

// consumerRow is one row of the overview's pending dead letters per
// consumer.
type consumerRow struct {
	Consumer string
	Pending  int64
	URL      string
}

// overviewPage is the data of the overview.
type overviewPage struct {
	Kpis        *opsv1.Kpis
	Domains     []domainRow
	DeadLetters []consumerRow
	Recent      []*opsv1.Exception
}

// overview shows the KPIs, with the unresolved exceptions per domain and
// the pending dead letters per consumer the ops service counts (exact, not
// counted from a page of a list), and the newest open exceptions.
func (c *console) overview(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, cancel := callCtx(r, s)
	defer cancel()
	kpis, err := c.client.GetKpis(ctx, &opsv1.GetKpisRequest{})
	if err != nil {
		c.renderCallError(w, r, s, "read the KPIs", err)
		return
	}
	recent, err := c.client.ListExceptions(ctx, &opsv1.ListExceptionsRequest{
		PageSize: recentOpen,
		Filter:   "state = " + opsv1.Exception_STATE_OPEN.String(),
	})
	if err != nil {
		c.renderCallError(w, r, s, "list the open exceptions", err)
		return
	}
	p := overviewPage{Kpis: kpis, Recent: recent.GetExceptions()[:min(recentOpen, len(recent.GetExceptions()))]}
	for _, d := range kpis.GetDomainExceptions() {
		list := func(state opsv1.Exception_State) string {
			return "/console/exceptions?" + url.Values{"state": {state.String()}, "domain": {d.GetDomain().String()}}.Encode()
		}
		p.Domains = append(p.Domains, domainRow{
			Domain: d.GetDomain(), Unresolved: d.GetOpen(),
			OpenURL: list(opsv1.Exception_STATE_OPEN), AcknowledgedURL: list(opsv1.Exception_STATE_ACKNOWLEDGED),
		})
	}
	for _, d := range kpis.GetDeadLetterDepths() {
		p.DeadLetters = append(p.DeadLetters, consumerRow{
			Consumer: d.GetConsumer(), Pending: d.GetPending(),
			URL: "/console/dead-letters?" + url.Values{"consumer": {d.GetConsumer()}, "state": {opsv1.DeadLetter_STATE_PENDING.String()}}.Encode(),
		})
	}
	c.render(w, r, s, http.StatusOK, "overview", "Overview", "overview", p)
}

// exceptionsList is the exceptions list page.
var exceptionsList = listSpec{
	path: "/console/exceptions", page: "exceptions", title: "Exceptions", section: "exceptions",
	what: "list exceptions", build: exceptionFilter,
	fields: []string{"state", "kind", "domain", "severity", "resource"},
}

// exceptionsPage is the data of the exceptions list.
type exceptionsPage struct {
	filteredList
	Exceptions []*opsv1.Exception
	States     []option
	Kinds      []option
	Domains    []option
	Severities []option
}

// exceptions lists exceptions with the form's filters, one page at a time.
func (c *console) exceptions(w http.ResponseWriter, r *http.Request, s *session) {
	var rows []*opsv1.Exception
	c.serveList(w, r, s, exceptionsList, func(ctx context.Context, filter, token string) (string, error) {
		res, err := c.client.ListExceptions(ctx, &opsv1.ListExceptionsRequest{PageSize: listPageSize, PageToken: token, Filter: filter})
		rows = res.GetExceptions()
		return res.GetNextPageToken(), err
	}, func(l filteredList) any {
		return exceptionsPage{filteredList: l, Exceptions: rows, States: stateOptions, Kinds: kindOptions, Domains: domainOptions, Severities: severityOptions}
	})
}

// exceptionPage is the data of one exception's page.
type exceptionPage struct {
	E    *opsv1.Exception
	Self string
	// IDs are the request ids of the action forms, one per form so that
	// each form submitted twice is one action.
	IDs actionIDs
	// What the allowed actions act on, read from the details.
	DeadLetter    string
	ErpSubmission string
	Warehouse     string
	Can           map[string]bool
}

// exception shows one exception with all its fields, details, history
// and a form per allowed action.
func (c *console) exception(w http.ResponseWriter, r *http.Request, s *session) {
	c.show(w, r, s, "read the exception", "exception", "Exception", "exceptions", func(ctx context.Context, id string) (any, error) {
		e, err := c.client.GetException(ctx, &opsv1.GetExceptionRequest{Name: "exceptions/" + id})
		if err != nil {
			return nil, err
		}
		return newExceptionPage(e, id), nil
	})
}

// newExceptionPage reads what the allowed actions act on from the
// exception's details.
func newExceptionPage(e *opsv1.Exception, id string) exceptionPage {
	p := exceptionPage{E: e, Self: "/console/exceptions/" + url.PathEscape(id), IDs: newActionIDs(), Can: map[string]bool{}}
	for _, a := range e.GetAllowedActions() {
		p.Can[strings.TrimPrefix(a.String(), "ACTION_")] = true
	}
	details := e.GetDetails().GetFields()
	p.DeadLetter = details["deadLetter"].GetStringValue()
	if p.DeadLetter == "" && strings.HasPrefix(e.GetResource(), "deadLetters/") {
		p.DeadLetter = e.GetResource()
	}
	order := details["order"].GetStringValue()
	if order == "" && e.GetAggregateType() == "order" {
		order = e.GetAggregateId()
	}
	p.ErpSubmission = lastSegment(order)
	p.Warehouse = details["warehouse"].GetStringValue()
	return p
}

// actionIDs are the request ids of an exception page's forms.
type actionIDs struct {
	Ack, Resolve, Retry, Reconcile string
}

func newActionIDs() actionIDs {
	return actionIDs{Ack: newRequestID(), Resolve: newRequestID(), Retry: newRequestID(), Reconcile: newRequestID()}
}

// acknowledge takes ownership of an exception.
func (c *console) acknowledge(w http.ResponseWriter, r *http.Request, s *session) {
	c.act(w, r, s, "acknowledge the exception", func(ctx context.Context, id, requestID string) (string, error) {
		_, err := c.client.AcknowledgeException(ctx, &opsv1.AcknowledgeExceptionRequest{Name: "exceptions/" + id, RequestId: requestID})
		return "/console/exceptions/" + url.PathEscape(id) + "?done=acknowledged", err
	})
}

// maxNoteLen is ResolveExceptionRequest.note's limit, in characters.
const maxNoteLen = 2000

// resolve closes an exception with the operator's note.
func (c *console) resolve(w http.ResponseWriter, r *http.Request, s *session) {
	note := strings.TrimSpace(r.PostForm.Get("note"))
	if note == "" || utf8.RuneCountInString(note) > maxNoteLen || !utf8.ValidString(note) {
		c.renderProblem(w, r, s, http.StatusBadRequest, "Note required",
			"Resolving needs a note of 1 to 2000 characters saying what was done and why. Go back and add one.")
		return
	}
	c.act(w, r, s, "resolve the exception", func(ctx context.Context, id, requestID string) (string, error) {
		_, err := c.client.ResolveException(ctx, &opsv1.ResolveExceptionRequest{Name: "exceptions/" + id, RequestId: requestID, Note: note})
		return "/console/exceptions/" + url.PathEscape(id) + "?done=resolved", err
	})
}
