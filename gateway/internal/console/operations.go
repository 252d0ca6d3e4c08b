package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
)

// erpSubmissionRow is a queued submission with the request id of its
// retry form.
type erpSubmissionRow struct {
	S         *opsv1.ErpSubmission
	RequestID string
}

// erpBlockerRow is a head-of-line blocker with the request id of its
// retry form.
type erpBlockerRow struct {
	B         *opsv1.ErpQueueBlocker
	RequestID string
}

// erpQueuePage is the data of the ERP queue page.
type erpQueuePage struct {
	filteredList
	Status      *opsv1.ErpQueueStatus
	Blockers    []erpBlockerRow
	Submissions []erpSubmissionRow
}

// erpQueueList is the ERP queue page.
var erpQueueList = listSpec{path: "/console/erp-queue", page: "erpqueue", title: "ERP queue", section: "erp-queue", what: "read the ERP queue"}

// erpQueue shows the queue's status, its per-customer blockers and one
// page of queued submissions, each with a retry form.
func (c *console) erpQueue(w http.ResponseWriter, r *http.Request, s *session) {
	var p erpQueuePage
	c.serveList(w, r, s, erpQueueList, func(ctx context.Context, _, token string) (string, error) {
		st, err := c.client.GetErpQueueStatus(ctx, &opsv1.GetErpQueueStatusRequest{})
		if err != nil {
			return "", err
		}
		res, err := c.client.ListErpSubmissions(ctx, &opsv1.ListErpSubmissionsRequest{PageSize: listPageSize, PageToken: token})
		if err != nil {
			return "", err
		}
		p.Status = st
		for _, b := range st.GetCustomerBlockers() {
			p.Blockers = append(p.Blockers, erpBlockerRow{B: b, RequestID: newRequestID()})
		}
		for _, sub := range res.GetErpSubmissions() {
			p.Submissions = append(p.Submissions, erpSubmissionRow{S: sub, RequestID: newRequestID()})
		}
		return res.GetNextPageToken(), nil
	}, func(l filteredList) any {
		p.filteredList = l
		return p
	})
}

// retryErp makes a queued submission due now, then returns to where the
// form was (the exception or the queue).
func (c *console) retryErp(w http.ResponseWriter, r *http.Request, s *session) {
	c.act(w, r, s, "retry the ERP submission", func(ctx context.Context, id, requestID string) (string, error) {
		_, err := c.client.RetryErpSubmission(ctx, &opsv1.RetryErpSubmissionRequest{Name: "erpSubmissions/" + id, RequestId: requestID})
		return withDone(safeBack(r.PostForm.Get("back"), "/console/erp-queue"), "retried"), err
	})
}

// withDone adds the flash parameter to a console path.
func withDone(path, done string) string {
	u, err := url.Parse(path)
	if err != nil {
		return "/console/?done=" + url.QueryEscape(done)
	}
	q := u.Query()
	q.Set("done", done)
	u.RawQuery = q.Encode()
	return u.String()
}

// reconciliationsPage is the data of the reconciliations list.
type reconciliationsPage struct {
	filteredList
	Runs      []*opsv1.Reconciliation
	RequestID string
}

// reconciliationsList is the reconciliations page.
var reconciliationsList = listSpec{
	path: "/console/reconciliations", page: "reconciliations", title: "Reconciliations", section: "reconciliations",
	what: "list reconciliations",
}

// reconciliations lists reconciliation runs with a form to trigger one.
func (c *console) reconciliations(w http.ResponseWriter, r *http.Request, s *session) {
	var rows []*opsv1.Reconciliation
	c.serveList(w, r, s, reconciliationsList, func(ctx context.Context, _, token string) (string, error) {
		res, err := c.client.ListReconciliations(ctx, &opsv1.ListReconciliationsRequest{PageSize: listPageSize, PageToken: token})
		rows = res.GetReconciliations()
		return res.GetNextPageToken(), err
	}, func(l filteredList) any {
		return reconciliationsPage{filteredList: l, Runs: rows, RequestID: newRequestID()}
	})
}

// Scope limits of TriggerReconciliationRequest.
const (
	maxReconcileWarehouses = 100
	maxReconcileSKUs       = 1000
)

// triggerReconciliation starts a run for the form's warehouses and SKUs
// (comma or space separated; none means all) and shows it.
func (c *console) triggerReconciliation(w http.ResponseWriter, r *http.Request, s *session) {
	whs, okW := codeList(r.PostForm.Get("warehouses"), maxReconcileWarehouses)
	skus, okS := codeList(r.PostForm.Get("skus"), maxReconcileSKUs)
	if !okW || !okS {
		c.renderProblem(w, r, s, http.StatusBadRequest, "Bad scope",
			"Warehouses (up to 100) and SKUs (up to 1000) are codes of 1 to 64 characters, separated by commas or spaces.")
		return
	}
	ctx, cancel := callCtx(r, s)
	defer cancel()
	run, err := c.client.TriggerReconciliation(ctx, &opsv1.TriggerReconciliationRequest{
		RequestId:        requestIDOf(r.PostForm),
		Warehouses:       whs,
		Skus:             skus,
		ApplyCorrections: r.PostForm.Get("apply_corrections") == "on",
	})
	if err != nil {
		c.renderCallError(w, r, s, "trigger the reconciliation", err)
		return
	}
	http.Redirect(w, r, "/console/reconciliations/"+url.PathEscape(lastSegment(run.GetName()))+"?done=triggered", http.StatusSeeOther)
}

// codeList splits a comma- or space-separated list of codes, dropping
// duplicates; false when a code is too long or there are more than limit.
func codeList(s string, limit int) ([]string, bool) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	seen := map[string]bool{}
	var out []string
	for _, f := range fields {
		if len(f) > 64 || strings.ContainsFunc(f, isControl) {
			return nil, false
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out, len(out) <= limit
}

// reconciliation shows one run with its summary and largest variances.
func (c *console) reconciliation(w http.ResponseWriter, r *http.Request, s *session) {
	c.show(w, r, s, "read the reconciliation", "reconciliation", "Reconciliation", "reconciliations", func(ctx context.Context, id string) (any, error) {
		return c.client.GetReconciliation(ctx, &opsv1.GetReconciliationRequest{Name: "reconciliations/" + id})
	})
}

// auditList is the audit search page.
var auditList = listSpec{
	path: "/console/audit", page: "audit", title: "Audit trail", section: "audit",
	what: "search the audit trail", build: auditFilter,
	fields: []string{"target", "action", "actor_kind", "actor_id", "from", "to"},
}

// auditPage is the data of the audit search.
type auditPage struct {
	filteredList
	Records    []*opsv1.AuditRecord
	ActorKinds []string
}

// audit searches the audit trail.
func (c *console) audit(w http.ResponseWriter, r *http.Request, s *session) {
	var rows []*opsv1.AuditRecord
	c.serveList(w, r, s, auditList, func(ctx context.Context, filter, token string) (string, error) {
		res, err := c.client.ListAuditRecords(ctx, &opsv1.ListAuditRecordsRequest{PageSize: listPageSize, PageToken: token, Filter: filter})
		rows = res.GetAuditRecords()
		return res.GetNextPageToken(), err
	}, func(l filteredList) any {
		return auditPage{filteredList: l, Records: rows, ActorKinds: actorKinds}
	})
}
