// Command metricscheck reports the metrics the Transload Grafana dashboard
// queries that no scrape of the running mesh offers:
//
//	cd deploy/observability && GOWORK=off go run ./cmd/metricscheck \
//		http://127.0.0.1:9105/metrics http://127.0.0.1:9108/metrics ... [saved.prom ...]
//
// Each argument is a /metrics URL (fetched) or a file holding a text
// exposition. With -dashboard it checks another dashboard JSON. It exits 1
// and lists "metric (panel ...)" lines when something is missing, 2 on a
// usage, fetch or parse error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/transload/transload/deploy/observability"
)

// errMissing reports that the check ran and found missing metrics.
var errMissing = errors.New("metrics missing")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case errors.Is(err, errMissing):
		os.Exit(1)
	case err != nil:
		_, _ = fmt.Fprintln(os.Stderr, "metricscheck:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("metricscheck", flag.ContinueOnError)
	dashboardPath := fs.String("dashboard", "", "dashboard JSON to check (default: the embedded grafana/dashboard.json)")
	timeout := fs.Duration("timeout", 10*time.Second, "timeout of each fetch")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("name at least one /metrics URL or exposition file")
	}
	dashboard := observability.Dashboard
	if *dashboardPath != "" {
		b, err := os.ReadFile(*dashboardPath)
		if err != nil {
			return err
		}
		dashboard = b
	}
	client := &http.Client{Timeout: *timeout}
	var expositions []io.Reader
	for _, src := range fs.Args() {
		b, err := read(ctx, client, src)
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		expositions = append(expositions, strings.NewReader(string(b)))
	}
	missing, err := observability.MissingMetrics(dashboard, expositions...)
	if err != nil {
		return err
	}
	for _, m := range missing {
		if _, err := fmt.Fprintln(stdout, m.String()); err != nil {
			return err
		}
	}
	if len(missing) > 0 {
		return errMissing
	}
	return nil
}

// read fetches an http(s) URL or reads a file.
func read(ctx context.Context, client *http.Client, src string) ([]byte, error) {
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		return os.ReadFile(src)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, http.NoBody)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
}
