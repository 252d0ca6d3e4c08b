// Package browser starts headless Chromium for the end-to-end browser
// tests (the operator console, cross-origin fetches), driven with chromedp.
package browser

import (
	"context"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package puts the browser; `make
// test-servers` (deploy/scripts/ensure-test-servers.sh) installs it.
const ChromiumPath = "/usr/bin/chromium"

// New starts headless Chromium for the test, with opts added to chromedp's
// defaults, and stops it when the test ends. A missing browser, or one
// that cannot start, fails the test: it is never skipped.
func New(t testing.TB, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		t.Fatalf("Chromium not found at %s (%v): install it with `make test-servers` (deploy/scripts/ensure-test-servers.sh)", ChromiumPath, err)
	}
	all := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
		// The tests run as root in CI, where Chromium's sandbox cannot start.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), append(all, opts...)...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// Start the browser now, so that a browser that cannot start fails
	// here with its own error.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}
