package kpi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func TestScrapeRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "transload_order_orders_total", Help: "h"}, []string{"channel", "outcome"})
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "transload_order_acceptance_seconds", Help: "h", Buckets: []float64{0.1, 1}})
	reg.MustRegister(c, h)
	c.WithLabelValues("web", "accepted").Add(3)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	s := NewStore(Options{})
	scrape := func(at time.Time) {
		t.Helper()
		fams, err := Scrape(context.Background(), srv.Client(), srv.URL)
		if err != nil {
			t.Fatalf("Scrape: %v", err)
		}
		s.Ingest("order", at, fams)
	}
	scrape(t0)
	h.Observe(0.05)
	c.WithLabelValues("web", "accepted").Inc()
	scrape(t0.Add(time.Minute))
	got := s.Latest("transload_order_orders_total", t0)
	if len(got) != 0 {
		t.Errorf("a counter answered as a gauge: %+v", got)
	}
	if got := increaseOf(s.Increase("transload_order_orders_total", t0, t0.Add(time.Minute))); got != 1 {
		t.Errorf("counter increase = %v, want 1", got)
	}
	d := s.Histogram("transload_order_acceptance_seconds", t0, t0.Add(time.Minute), nil)
	if d.Count != 1 || len(d.Buckets) != 3 {
		t.Errorf("histogram = %+v, want 1 observation in 3 buckets", d)
	}
	if !s.Has("transload_order_orders_total") {
		t.Error("counter not stored")
	}
}

func TestScrapeErrors(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/down", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusServiceUnavailable) })
	mux.HandleFunc("/garbage", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = io.WriteString(w, "this is { not an exposition\n")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for _, url := range []string{srv.URL + "/down", srv.URL + "/garbage", "http://127.0.0.1:1/metrics", "::not a url"} {
		t.Run(url, func(t *testing.T) {
			t.Parallel()
			_, err := Scrape(context.Background(), srv.Client(), url)
			if !errors.Is(err, ErrScrape) {
				t.Errorf("Scrape(%s) error = %v, want ErrScrape", url, err)
			}
		})
	}
}

func TestCapped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		left     int64
		wantOver bool
	}{
		{"fits", "abc", 3, false},
		{"longer", "abcd", 3, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &capped{r: strings.NewReader(tc.in), left: tc.left}
			b, err := io.ReadAll(c)
			if err != nil || string(b) != tc.in[:tc.left] || c.over != tc.wantOver {
				t.Errorf("read %q, %v, over=%v; want %q, over=%v", b, err, c.over, tc.in[:tc.left], tc.wantOver)
			}
		})
	}
}
