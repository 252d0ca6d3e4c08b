// Package console drives the operations console in headless Chromium
// (Debian's chromium package at /usr/bin/chromium, installed by `make
// test-servers`) with chromedp: once against a local console server over an
// in-memory OpsService (gateway/internal/console/consoletest/consoledemo),
// and once against the whole mesh started by the launcher, where an ERP
// rejection is raised by a real order and a poison event is dead-lettered
// by the real fulfillment consumer, replayed after a dry run and audited.
package console

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/transload/transload/deploy/local/launcher"
	"github.com/transload/transload/e2e/internal/browser"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/testharness/wait"
)

// consoleDemoPkg is the local console server the first test drives.
const consoleDemoPkg = "github.com/transload/transload/gateway/internal/console/consoletest/consoledemo"

// demoOperatorKey is consoletest.OperatorKey (an internal package of the
// gateway module, so not importable here).
const demoOperatorKey = "test-operator-key"

// fulfillmentConsumer is fulfillment's durable consumer of OrderConfirmed,
// the one that dead-letters the poison event.
const fulfillmentConsumer = "fulfillment-order-confirmed"

// screenshotDir holds the screenshots (gitignored).
const screenshotDir = "testdata/out"

// TestConsoleInBrowserLocal checks the browser side against the local
// console server: sign in, an exception whose text is markup shows as
// text with no script on the page, the dead-letter replay's dry run lists
// exactly what would be replayed, the confirmation replays it and the
// audit search shows the record.
func TestConsoleInBrowserLocal(t *testing.T) {
	base := startConsoleDemo(t)
	ctx := browser.New(t, chromedp.WindowSize(1280, 1400))

	signIn(t, ctx, base, demoOperatorKey)
	mustText(t, ctx, base+"exceptions?kind=KIND_ERP_REJECTION", "main", "ERP rejected order: customer on credit hold", "exc-erp-1")

	// Markup in an exception is text: the paragraph reads as the markup,
	// and the page holds no script element at all.
	lead := text(t, ctx, base+"exceptions/exc-hostile", "p.lead")
	if lead != "<script>alert(1)</script>" {
		t.Errorf("hostile message shows as %q, want the markup as text", lead)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("script").length`); n != 0 {
		t.Errorf("%d script elements on the page, want 0", n)
	}

	// Replay from the exception: dry run first, then confirm.
	do(t, ctx, chromedp.Navigate(base+"exceptions/exc-dl-7"),
		chromedp.Click(chromedp.CSS(`form[action="/console/dead-letters/replay"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/console/dead-letters/replay/confirm"] button`)))
	rows := replayRows(t, ctx)
	if len(rows) != 1 || !strings.Contains(rows[0], "deadLetters/7") || !strings.Contains(rows[0], "would replay") {
		t.Fatalf("dry run rows %q, want exactly deadLetters/7 as would replay", rows)
	}
	confirmReplay(t, ctx)
	rows = replayRows(t, ctx)
	if len(rows) != 1 || !strings.Contains(rows[0], "deadLetters/7") || !strings.Contains(rows[0], "replayed") {
		t.Fatalf("replay rows %q, want deadLetters/7 replayed", rows)
	}
	audit := openReplayAudit(t, ctx)
	if len(audit) != 1 || !strings.Contains(audit[0], "deadLetters/7") || !strings.Contains(audit[0], "operator:key-"+demoOperatorKey) {
		t.Errorf("audit rows %q, want one dead_letter.replay of deadLetters/7 by the operator", audit)
	}
	screenshot(t, ctx, "console-local.png")
}

// TestConsoleAgainstMesh drives the console the gateway serves in the real
// mesh: sign in with the demo operator key, see the ERP rejection of a real
// order, replay a poison event's dead letter after a dry run that lists
// exactly it, and find the replay in the audit trail.
func TestConsoleAgainstMesh(t *testing.T) {
	mesh := startMesh(t)
	base := mesh.ConsoleURL()
	if status := httpStatus(t, base+"sign-in"); status != http.StatusOK {
		t.Fatalf("GET %ssign-in answered %d: the gateway does not serve the console (mount console.New at /console/ on the REST listener)", base, status)
	}
	ctx := browser.New(t, chromedp.WindowSize(1280, 1400))
	signIn(t, ctx, base, launcher.DemoOperatorAPIKey)

	// An order the ERP rejects shows up as an ERP_REJECTION exception.
	order := placeRejectedOrder(t, mesh)
	list := base + "exceptions?" + url.Values{"kind": {"KIND_ERP_REJECTION"}, "resource": {order}}.Encode()
	wait.Eventually(t, 30*time.Second, "the ERP rejection on the console", func() error {
		body := text(t, ctx, list, "main")
		return wait.Check(strings.Contains(body, order), "the exceptions page does not list %s yet", order)
	})

	// A poison event is dead-lettered by fulfillment; its dead letter is
	// listed, the dry run names exactly it, the confirmation replays it.
	eventID := injectPoisonEvent(t, mesh)
	pending := base + "dead-letters?" + url.Values{"consumer": {fulfillmentConsumer}, "state": {"STATE_PENDING"}}.Encode()
	var link string
	wait.Eventually(t, 30*time.Second, "the poison event's dead letter on the console", func() error {
		do(t, ctx, chromedp.Navigate(pending), chromedp.WaitVisible(chromedp.CSS("main h1")))
		links := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("main tbody tr"))
			.filter(r => r.textContent.includes(`+jsString(eventID)+`))
			.map(r => r.querySelector("a").getAttribute("href"))`)
		if len(links) != 1 {
			return fmt.Errorf("%d pending dead letters with event id %s", len(links), eventID)
		}
		link = links[0]
		return nil
	})
	deadLetter := "deadLetters/" + link[strings.LastIndexByte(link, '/')+1:]
	do(t, ctx, chromedp.Navigate(strings.TrimSuffix(mesh.RESTURL(), "/")+link),
		chromedp.Click(chromedp.CSS(`form[action="/console/dead-letters/replay"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/console/dead-letters/replay/confirm"] button`)))
	rows := replayRows(t, ctx)
	if len(rows) != 1 || !strings.Contains(rows[0], deadLetter) || !strings.Contains(rows[0], eventID) || !strings.Contains(rows[0], "would replay") {
		t.Fatalf("dry run rows %q, want exactly %s (event %s) as would replay", rows, deadLetter, eventID)
	}
	confirmReplay(t, ctx)
	rows = replayRows(t, ctx)
	if len(rows) != 1 || !strings.Contains(rows[0], deadLetter) || !strings.Contains(rows[0], "replayed") {
		t.Fatalf("replay rows %q, want %s replayed", rows, deadLetter)
	}
	audit := openReplayAudit(t, ctx)
	if len(audit) != 1 || !strings.Contains(audit[0], deadLetter) || !strings.Contains(audit[0], "operator:") {
		t.Errorf("audit rows %q, want one dead_letter.replay of %s by an operator", audit, deadLetter)
	}
	screenshot(t, ctx, "console.png")
}

// injectPoisonEvent publishes to JetStream, on transload.order.confirmed,
// a message with valid event headers (a fresh UUID as event id) and a
// payload that is not an OrderConfirmedEvent. The fulfillment consumer
// cannot decode it and dead-letters it (an undecodable payload is
// dead-lettered without waiting for its max deliveries, which could not
// change the outcome). It returns the event id.
func injectPoisonEvent(t *testing.T, mesh *launcher.Mesh) string {
	t.Helper()
	nc, err := nats.Connect("nats://"+mesh.Proc(launcher.NATS).GRPCAddr, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("connect to NATS: %v", err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatalf("JetStream: %v", err)
	}
	eventID := uuid.NewString()
	msg := nats.NewMsg(eventstreams.OrderConfirmed)
	// Field 1 with wire type 7: no protobuf decoder accepts it.
	msg.Data = []byte("\x0fnot an OrderConfirmedEvent")
	msg.Header.Set(outbox.HeaderMsgID, eventID)
	msg.Header.Set(outbox.HeaderEventID, eventID)
	msg.Header.Set(outbox.HeaderEventType, "transload.order.v1.OrderConfirmedEvent")
	msg.Header.Set(outbox.HeaderAggregateType, "order")
	msg.Header.Set(outbox.HeaderAggregateID, "O-CONSOLE-POISON-"+eventID[:8])
	msg.Header.Set(outbox.HeaderSequence, "1")
	msg.Header.Set(outbox.HeaderOccurredAt, time.Now().UTC().Format(time.RFC3339Nano))
	msg.Header.Set(outbox.HeaderCorrelationID, "e2e-console-poison")
	if _, err := js.PublishMsg(msg); err != nil {
		t.Fatalf("publish the poison event: %v", err)
	}
	return eventID
}

// startConsoleDemo builds and starts the local console server and returns
// its console URL (ending in /console/).
func startConsoleDemo(t *testing.T) string {
	t.Helper()
	root, err := launcher.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "consoledemo")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, consoleDemoPkg)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", consoleDemoPkg, err, out)
	}
	cmd := exec.Command(bin)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start consoledemo: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("consoledemo log:\n%s", logs.String())
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line, ok := <-lines:
		u, found := strings.CutPrefix(line, "console: ")
		if !ok || !found {
			t.Fatalf("consoledemo printed %q, want its URL", line)
		}
		return u
	case <-time.After(30 * time.Second):
		t.Fatal("consoledemo did not print its URL within 30s")
	}
	return ""
}

// startMesh builds every binary and starts the mesh, stopping it at the
// end of the test.
func startMesh(t *testing.T) *launcher.Mesh {
	t.Helper()
	work := t.TempDir()
	bin := filepath.Join(work, "bin")
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	if err := launcher.Build(ctx, bin); err != nil {
		t.Fatalf("build the mesh: %v", err)
	}
	logs := filepath.Join(work, "data", "logs")
	mesh, err := launcher.Start(ctx, launcher.Config{
		BinDir: bin, DataDir: filepath.Join(work, "data"), FreePorts: true, Log: io.Discard,
	})
	if err != nil {
		t.Fatalf("start the mesh (it must include the ops service): %v\n%s", err, logTails(logs))
	}
	t.Cleanup(func() {
		mesh.Stop()
		if t.Failed() {
			t.Logf("mesh logs:\n%s", logTails(logs))
		}
	})
	return mesh
}

// logTails returns the last lines of each process log.
func logTails(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Sprintf("(no logs: %v)", err)
	}
	var b strings.Builder
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		fmt.Fprintf(&b, "== %s\n%s\n", e.Name(), strings.Join(lines[max(0, len(lines)-15):], "\n"))
	}
	return b.String()
}

// placeRejectedOrder makes erpsim reject every sales order of C0005 (a
// per-customer fault: no other order can take it; the mesh is this test's
// own and ends with it, and nothing else orders for C0005), places an
// order for C0005 through the storefront REST API and returns its name.
func placeRejectedOrder(t *testing.T, mesh *launcher.Mesh) string {
	t.Helper()
	postJSON(t, "http://"+mesh.Proc(launcher.ERPSim).AdminAddr+"/control/faults", "", "",
		map[string]any{"rejectCustomers": []string{"C0005"}, "rejectReason": "CREDIT_HOLD"})
	body := postJSON(t, mesh.RESTURL()+"/v1/orders", launcher.DemoAPIKey, "e2e-console-"+uuid.NewString(), map[string]any{
		"customerId": "C0005", "currencyCode": "EUR",
		"shipTo": map[string]any{
			"recipient": "Demo GmbH", "lines": []string{"Hafenstr. 1"},
			"locality": "Hamburg", "postalCode": "20457", "regionCode": "DE",
		},
		"lines": []map[string]any{{"sku": "SKU-00051", "quantity": 1}},
	})
	name, _ := body["name"].(string)
	if !strings.HasPrefix(name, "orders/") {
		t.Fatalf("create order answered without an order name: %v", body)
	}
	return name
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// postJSON posts body and fails the test on any answer but 2xx; key and
// idem set the bearer key and Idempotency-Key when not empty.
func postJSON(t *testing.T, u, key, idem string, body any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %d %s", u, resp.StatusCode, out)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("POST %s: body is not JSON: %q", u, out)
	}
	return m
}

func httpStatus(t *testing.T, u string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// stepTimeout bounds one group of browser steps.
const stepTimeout = 30 * time.Second

// do runs browser steps, failing the test on error.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("browser at %s: %v", loc, err)
	}
}

// eval evaluates a JavaScript expression on the current page (DevTools
// evaluation, not page script: the console's CSP allows none).
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text opens u and returns the visible text of the first element sel
// matches.
func text(t *testing.T, ctx context.Context, u, sel string) string {
	t.Helper()
	do(t, ctx, chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS(sel)))
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s on %s: %v", sel, u, err)
	}
	return s
}

// mustText opens u and fails unless the text of sel holds every want.
func mustText(t *testing.T, ctx context.Context, u, sel string, wants ...string) {
	t.Helper()
	got := text(t, ctx, u, sel)
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: %s lacks %q:\n%s", u, sel, w, got)
		}
	}
}

// signIn signs in through the sign-in form, using the keyboard for the
// key, and checks that the overview follows.
func signIn(t *testing.T, ctx context.Context, base, key string) {
	t.Helper()
	do(t, ctx,
		chromedp.Navigate(base+"sign-in"),
		chromedp.WaitVisible(chromedp.CSS("#key")),
		chromedp.SendKeys(chromedp.CSS("#key"), key+"\r"),
		chromedp.WaitVisible(chromedp.CSS("#kpi-heading")),
	)
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil || !strings.HasPrefix(title, "Overview") {
		t.Fatalf("after sign-in the page title is %q (%v), want the overview", title, err)
	}
}

// replayRows returns the text of each result row of the replay page.
func replayRows(t *testing.T, ctx context.Context) []string {
	t.Helper()
	return eval[[]string](t, ctx, `Array.from(document.querySelectorAll("main table tbody tr")).map(r => r.innerText)`)
}

// confirmReplay presses the dry run page's confirm button.
func confirmReplay(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx,
		chromedp.Click(chromedp.CSS(`form[action="/console/dead-letters/replay/confirm"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`main a[href^="/console/audit"]`)),
	)
}

// openReplayAudit follows the replay page's audit link and returns the
// audit rows.
func openReplayAudit(t *testing.T, ctx context.Context) []string {
	t.Helper()
	do(t, ctx,
		chromedp.Click(chromedp.CSS(`main a[href^="/console/audit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#a-target`)),
	)
	return eval[[]string](t, ctx, `Array.from(document.querySelectorAll("main table tbody tr"))
		.filter(r => r.innerText.includes("dead_letter.replay")).map(r => r.innerText)`)
}

// screenshot saves a full-page screenshot under testdata/out and logs its
// path.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path, err := filepath.Abs(filepath.Join(screenshotDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
