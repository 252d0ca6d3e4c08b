package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	t.Parallel()
	full, err := os.ReadFile("../../testdata/mesh.prom")
	if err != nil {
		t.Fatal(err)
	}
	var withoutBreaker []string
	for _, l := range strings.Split(string(full), "\n") {
		if !strings.Contains(l, "transload_breaker_state") {
			withoutBreaker = append(withoutBreaker, l)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strings.Join(withoutBreaker, "\n")))
	}))
	t.Cleanup(srv.Close)

	var out bytes.Buffer
	if err := run(context.Background(), []string{"../../testdata/mesh.prom"}, &out); err != nil || out.Len() != 0 {
		t.Errorf("complete file: %v, output %q", err, out.String())
	}
	out.Reset()
	err = run(context.Background(), []string{srv.URL + "/metrics"}, &out)
	if !errors.Is(err, errMissing) || out.String() != "transload_breaker_state (panel Circuit breakers)\n" {
		t.Errorf("scrape without breakers: %v, output %q", err, out.String())
	}
	for _, args := range [][]string{nil, {"does-not-exist.prom"}, {"-dashboard", "nope.json", "../../testdata/mesh.prom"}} {
		if err := run(context.Background(), args, &out); err == nil || errors.Is(err, errMissing) {
			t.Errorf("run(%v) = %v, want a usage or read error", args, err)
		}
	}
}
