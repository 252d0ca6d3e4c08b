package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
)

// maxReplayNames is ReplayDeadLettersRequest.names' limit.
const maxReplayNames = 1000

// deadLettersList is the dead-letter list page.
var deadLettersList = listSpec{
	path: "/console/dead-letters", page: "deadletters", title: "Dead letters", section: "dead-letters",
	what: "list dead letters", build: deadLetterFilter,
	fields: []string{"consumer", "subject", "state"},
}

// deadLettersPage is the data of the dead-letter list.
type deadLettersPage struct {
	filteredList
	DeadLetters []*opsv1.DeadLetter
	States      []option
}

// deadLetters lists dead letters with the form's filters.
func (c *console) deadLetters(w http.ResponseWriter, r *http.Request, s *session) {
	var rows []*opsv1.DeadLetter
	c.serveList(w, r, s, deadLettersList, func(ctx context.Context, filter, token string) (string, error) {
		res, err := c.client.ListDeadLetters(ctx, &opsv1.ListDeadLettersRequest{PageSize: listPageSize, PageToken: token, Filter: filter})
		rows = res.GetDeadLetters()
		return res.GetNextPageToken(), err
	}, func(l filteredList) any {
		return deadLettersPage{filteredList: l, DeadLetters: rows, States: deadLetterStateOptions}
	})
}

// deadLetter shows one dead letter, its payload as JSON text and a replay
// form.
func (c *console) deadLetter(w http.ResponseWriter, r *http.Request, s *session) {
	c.show(w, r, s, "read the dead letter", "deadletter", "Dead letter", "dead-letters", func(ctx context.Context, id string) (any, error) {
		return c.client.GetDeadLetter(ctx, &opsv1.GetDeadLetterRequest{Name: "deadLetters/" + id})
	})
}

// replayPage is the data of the replay page: the dry run's answer with a
// confirm form, or the real replay's outcome.
type replayPage struct {
	Res       *opsv1.ReplayDeadLettersResponse
	RequestID string
	// Names are the dead letters the dry run would replay; the confirm
	// form replays exactly these.
	Names []string
	Back  string
	Audit string
}

// replayDryRun runs ReplayDeadLetters with dry_run for the dead letters
// the form names (or its list filter) and shows exactly what would be
// replayed, with a form to confirm. The request id made here travels in
// the confirm form, so confirming twice is one replay.
func (c *console) replayDryRun(w http.ResponseWriter, r *http.Request, s *session) {
	req := &opsv1.ReplayDeadLettersRequest{RequestId: newRequestID(), DryRun: true}
	names, ok := replayNames(r.PostForm["name"])
	if !ok {
		c.renderProblem(w, r, s, http.StatusBadRequest, "Bad selection", "The dead letters to replay are not valid dead-letter names.")
		return
	}
	if len(names) > 0 {
		req.Names = names
	} else {
		filter, err := deadLetterFilter(r.PostForm)
		if err != nil {
			c.renderProblem(w, r, s, http.StatusBadRequest, "Bad filter", err.Error())
			return
		}
		if filter == "" {
			c.renderProblem(w, r, s, http.StatusBadRequest, "Nothing selected",
				"Choose dead letters to replay: open one, or filter the list by consumer, subject or state first.")
			return
		}
		req.Filter = filter
	}
	ctx, cancel := callCtx(r, s)
	defer cancel()
	res, err := c.client.ReplayDeadLetters(ctx, req)
	if err != nil {
		c.renderCallError(w, r, s, "run the replay dry run", err)
		return
	}
	p := replayPage{Res: res, RequestID: req.GetRequestId(), Back: safeBack(r.PostForm.Get("back"), "/console/dead-letters")}
	for _, x := range res.GetResults() {
		if x.GetOutcome() == opsv1.ReplayResult_OUTCOME_WOULD_REPLAY {
			p.Names = append(p.Names, x.GetDeadLetter())
		}
	}
	c.render(w, r, s, http.StatusOK, "replay", "Replay dead letters: dry run", "dead-letters", p)
}

// replayConfirm replays the dead letters the dry run listed, with the dry
// run's request id.
func (c *console) replayConfirm(w http.ResponseWriter, r *http.Request, s *session) {
	names, ok := replayNames(r.PostForm["name"])
	id := strings.TrimSpace(r.PostForm.Get("request_id"))
	if !ok || len(names) == 0 || !validRequestID(id) {
		c.renderProblem(w, r, s, http.StatusBadRequest, "Bad confirmation",
			"The confirmation does not name dead letters and a request id. Run the dry run again.")
		return
	}
	ctx, cancel := callCtx(r, s)
	defer cancel()
	res, err := c.client.ReplayDeadLetters(ctx, &opsv1.ReplayDeadLettersRequest{RequestId: id, Names: names})
	if err != nil {
		c.renderCallError(w, r, s, "replay the dead letters", err)
		return
	}
	p := replayPage{Res: res, RequestID: id, Back: safeBack(r.PostForm.Get("back"), "/console/dead-letters")}
	if len(names) == 1 {
		p.Audit = "/console/audit?" + url.Values{"action": {"dead_letter.replay"}, "target": {names[0]}}.Encode()
	} else {
		p.Audit = "/console/audit?" + url.Values{"action": {"dead_letter.replay"}}.Encode()
	}
	c.render(w, r, s, http.StatusOK, "replay", "Replay dead letters: done", "dead-letters", p)
}

// replayNames checks the dead-letter names of a form: each
// `deadLetters/{id}`, at most maxReplayNames, duplicates dropped.
func replayNames(in []string) ([]string, bool) {
	if len(in) > maxReplayNames {
		return nil, false
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range in {
		n = strings.TrimSpace(n)
		id, ok := strings.CutPrefix(n, "deadLetters/")
		if !ok || !validID(id) {
			return nil, false
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, true
}
