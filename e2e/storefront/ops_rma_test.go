package storefront

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
	"github.com/transload/transload/platform/testharness/wait"
)

// Issue #9 (operator approval) through ops.v1: a return worth more than
// ORDER_RETURN_AUTO_APPROVE_MAX_MINOR (default 100000 minor units; three
// units of SKU-00241 at the b2b price of 440.09 EUR each are 1320.27 EUR)
// waits in STATE_REQUESTED; a storefront key may not approve it; the
// operator key approves it with POST
// /v1/ops/returnAuthorizations/{rma}:approve, a replay answers the same, a
// second approval is order's INVALID_STATE_TRANSITION passed through, the
// storefront sees it AUTHORIZED, and order's audit record of the approval
// names the operator. Customer C0013 and
// SKU-00241 are this test's own, so it holds in any test order.
func TestOpsApprovesReturnAuthorization(t *testing.T) {
	const b2b = launcher.DemoB2BAPIKey // C0013 orders in the b2b channel only
	placed := placeOrder(t, b2b, "e2e-ops-rma-order", orderBody("C0013", line{"SKU-00241", 3}))
	if placed.Status != http.StatusOK {
		t.Fatalf("create order: %d %s", placed.Status, placed.Raw)
	}
	order := placed.str("name")
	wait.Eventually(t, 90*time.Second, order+" delivered", func() error {
		g := call(t, http.MethodGet, "/v1/"+order, b2b, nil)
		return wait.Check(g.str("state") == "STATE_DELIVERED", "state %s", g.str("state"))
	})
	r := createReturn(t, b2b, order, "e2e-ops-rma-return", returnBody("RESOLUTION_REFUND", line{"SKU-00241", 3}))
	if r.Status != http.StatusOK || r.str("state") != "STATE_REQUESTED" {
		t.Fatalf("create return over the auto-approval value: want STATE_REQUESTED, got %d %s", r.Status, r.Raw)
	}
	ret := r.str("name")
	id := ret[strings.LastIndexByte(ret, '/')+1:]
	approve := "/v1/ops/returnAuthorizations/" + id + ":approve"
	body := map[string]any{"note": "e2e: photos checked"}

	if sf := call(t, http.MethodPost, approve, b2b, body, "Idempotency-Key: e2e-ops-rma-approve"); sf.Status != http.StatusForbidden {
		t.Errorf("approve with the storefront key: %d %s, want 403", sf.Status, sf.Raw)
	}
	if g := call(t, http.MethodGet, "/v1/"+ret, b2b, nil); g.str("state") != "STATE_REQUESTED" {
		t.Fatalf("after the refused approval: %d %s", g.Status, g.Raw)
	}

	a := call(t, http.MethodPost, approve, launcher.DemoOperatorAPIKey, body, "Idempotency-Key: e2e-ops-rma-approve")
	if a.Status != http.StatusOK || a.str("state") != "STATE_AUTHORIZED" || a.str("name") != "returnAuthorizations/"+id ||
		a.str("order") != order || a.str("customerId") != "C0013" {
		t.Fatalf("approve with the operator key: %d %s", a.Status, a.Raw)
	}
	if again := call(t, http.MethodPost, approve, launcher.DemoOperatorAPIKey, body, "Idempotency-Key: e2e-ops-rma-approve"); again.Status != http.StatusOK || again.str("state") != "STATE_AUTHORIZED" {
		t.Errorf("approve replayed: %d %s", again.Status, again.Raw)
	}
	// Approving again under a new key is order's INVALID_STATE_TRANSITION, passed through.
	if twice := call(t, http.MethodPost, approve, launcher.DemoOperatorAPIKey, body, "Idempotency-Key: e2e-ops-rma-approve-2"); twice.Status != http.StatusBadRequest || twice.reason() != "ERROR_REASON_INVALID_STATE_TRANSITION" {
		t.Errorf("approve an authorized return: %d %s, want 400 ERROR_REASON_INVALID_STATE_TRANSITION", twice.Status, twice.Raw)
	}
	if g := call(t, http.MethodGet, "/v1/"+ret, b2b, nil); g.str("state") != "STATE_AUTHORIZED" || g.str("rmaNumber") == "" {
		t.Errorf("storefront view after the approval: %d %s", g.Status, g.Raw)
	}

	target := order + "/returnAuthorizations/" + id // order's name of the return
	var audit []map[string]any
	wait.Eventually(t, 30*time.Second, "audit record of the approval", func() error {
		audit = items(opsGet(t, "/v1/ops/auditRecords", "filter",
			`action = "return_authorization.approve" AND target = "`+target+`"`), "auditRecords")
		return wait.Check(len(audit) > 0, "no audit record of %s yet", target)
	})
	if len(audit) != 1 {
		t.Fatalf("%d audit records of the approval, want 1: %v", len(audit), audit)
	}
	if actor, _ := audit[0]["actor"].(map[string]any); actor["kind"] != "operator" || actor["id"] != operatorKeyID() {
		t.Errorf("approval audited with actor %v, want operator %s", audit[0]["actor"], operatorKeyID())
	}
}
