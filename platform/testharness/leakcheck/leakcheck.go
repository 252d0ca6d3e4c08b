// Package leakcheck fails a test binary whose tests leave goroutines
// running (go.uber.org/goleak): a relay, consumer, breaker, cache or worker
// that does not stop with its context or Close shows up here, named by its
// stack, instead of leaking in production.
//
// Use it as the package's TestMain, after the shared test servers are
// stopped:
//
//	func TestMain(m *testing.M) { leakcheck.Main(m, pgtest.Stop) }
package leakcheck

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Main runs the tests, then calls each stop (shutting down shared test
// servers such as pgtest's cluster, whose goroutines are not the package's),
// then fails the binary if goroutines other than the runtime's and the
// testing package's are still running. A failing run is not checked (its
// goroutines may be stuck on purpose). It exits the process.
func Main(m *testing.M, stops ...func() error) {
	code := m.Run()
	for _, stop := range stops {
		if err := stop(); err != nil {
			fmt.Fprintf(os.Stderr, "leakcheck: stop: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	if code == 0 {
		if err := goleak.Find(Options()...); err != nil {
			fmt.Fprintf(os.Stderr, "leakcheck: goroutines still running after the tests:\n%v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// Options are the goroutines every check ignores: long-lived ones of
// libraries that start them once per process by design.
func Options() []goleak.Option {
	return []goleak.Option{
		// OpenCensus (pulled in by gRPC's dependencies) starts one view
		// worker per process at init.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	}
}
