package storefront

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/transload/transload/deploy/local/launcher"
	"github.com/transload/transload/e2e/internal/browser"
)

// The page of TestBrowserCrossOriginFetch is served from a loopback port
// the gateway's CORS_ALLOWED_ORIGINS names. The origin must be in the
// gateway's environment before the mesh starts, so TestMain calls
// corsAllowedOriginEnv, which binds the port then and keeps the listener
// open until the test serves on it: no other process can take the port
// in between, as it could if only a free port number were picked.
var (
	corsPageListener net.Listener
	corsPageErr      error
)

// corsAllowedOriginEnv binds the allowed page's listener and returns the
// gateway's CORS_ALLOWED_ORIGINS setting for it. A failure is kept for
// the test to report; the mesh then starts without CORS.
func corsAllowedOriginEnv() string {
	corsPageListener, corsPageErr = net.Listen("tcp", "127.0.0.1:0")
	if corsPageErr != nil {
		return "CORS_ALLOWED_ORIGINS="
	}
	return "CORS_ALLOWED_ORIGINS=http://" + corsPageListener.Addr().String()
}

// corsPage is a storefront page whose script calls the gateway.
const corsPage = `<!doctype html><html><head><meta charset="utf-8"><title>shop</title></head><body>shop</body></html>`

// fetchResult is what the page's script reports of one cross-origin call.
type fetchResult struct {
	Status        int    `json:"status"`
	CorrelationID string `json:"correlationId"`
	Error         string `json:"error"`
	Body          string `json:"body"`
}

// fetchScript calls the gateway from the page with the API key in
// X-Api-Key and a JSON body, which needs a CORS preflight, and reads the
// exposed X-Correlation-Id.
func fetchScript(gateway, key string) string {
	return fmt.Sprintf(`fetch(%q + "/v1/availability:check", {
  method: "POST",
  headers: {"X-Api-Key": %q, "Content-Type": "application/json", "X-Correlation-Id": "browser-cors-1"},
  body: JSON.stringify({customerId: "C0001", currencyCode: "EUR", shipTo: {regionCode: "DE", postalCode: "20457"}, lines: [{sku: "SKU-00001", quantity: 1}]}),
}).then(async r => ({status: r.status, correlationId: r.headers.get("X-Correlation-Id") || "", body: await r.text(), error: ""}),
        e => ({status: 0, correlationId: "", body: "", error: String(e)}))`, gateway, key)
}

func TestBrowserCrossOriginFetch(t *testing.T) {
	if corsPageErr != nil {
		t.Fatalf("listen for the allowed page: %v", corsPageErr)
	}
	page := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(corsPage))
	})
	allowed := httptest.NewUnstartedServer(page)
	allowed.Listener.Close()
	allowed.Listener = corsPageListener
	allowed.Start()
	t.Cleanup(allowed.Close)
	other := httptest.NewServer(page)
	t.Cleanup(other.Close)

	ctx := browser.New(t)
	for _, tc := range []struct {
		name    string
		pageURL string
		ok      bool
	}{
		{"allowed origin", allowed.URL, true},
		{"other origin", other.URL, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := chromedp.Do(sctx, chromedp.Navigate(tc.pageURL+"/shop")); err != nil {
				t.Fatalf("open %s: %v", tc.pageURL, err)
			}
			got, err := chromedp.Run(sctx, chromedp.Evaluate[fetchResult](fetchScript(mesh.RESTURL(), launcher.DemoAPIKey), chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatalf("run fetch: %v", err)
			}
			if !tc.ok {
				// The gateway answered the preflight without CORS headers,
				// so the browser refused the call.
				if got.Error == "" || got.Status != 0 {
					t.Errorf("cross-origin fetch from %s was allowed: %+v", tc.pageURL, got)
				}
				return
			}
			if got.Error != "" || got.Status != http.StatusOK {
				t.Fatalf("fetch from %s: %+v", tc.pageURL, got)
			}
			if got.CorrelationID != "browser-cors-1" {
				t.Errorf("exposed X-Correlation-Id %q, want the request's", got.CorrelationID)
			}
			if !strings.Contains(got.Body, `"lines"`) {
				t.Errorf("body %s", got.Body)
			}
		})
	}

	// The preflight itself, as the browser sent it.
	origin := strings.TrimSuffix(allowed.URL, "/")
	req, _ := http.NewRequest(http.MethodOptions, mesh.RESTURL()+"/v1/availability:check", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type,x-api-key,x-correlation-id")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != origin ||
		resp.Header.Get("Access-Control-Allow-Methods") != "POST" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}
