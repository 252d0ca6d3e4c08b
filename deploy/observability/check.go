// Package observability holds Transload's Grafana dashboard and Prometheus
// alert rules and the checks that keep them honest: the rules must pass
// Prometheus's own rule parser, every PromQL expression must parse, and
// every metric a dashboard panel queries must exist in a scrape of the
// running mesh (MissingMetrics, called by the end-to-end tests and by the
// metricscheck command).
//
// It is a module of its own, outside the Go workspace, because
// github.com/prometheus/prometheus would otherwise pull the workspace's
// gRPC and protobuf versions along with it. Test it with
//
//	cd deploy/observability && GOWORK=off go test ./...
package observability

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// Dashboard is grafana/dashboard.json.
//
//go:embed grafana/dashboard.json
var Dashboard []byte

// AlertRules is prometheus/alerts.yml.
//
//go:embed prometheus/alerts.yml
var AlertRules []byte

// ErrInvalid is wrapped by every error about the content of a dashboard,
// an expression, an exposition or a rules file.
var ErrInvalid = errors.New("observability: invalid")

// PanelQuery is one query of a dashboard panel.
type PanelQuery struct {
	// Panel is the panel's title.
	Panel string
	// RefID is the query's refId within the panel ("A", "B", ...).
	RefID string
	// Expr is the PromQL expression.
	Expr string
}

type panelJSON struct {
	Title   string      `json:"title"`
	Type    string      `json:"type"`
	Panels  []panelJSON `json:"panels"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// DashboardQueries returns the queries of every panel of a Grafana
// dashboard JSON, nested row panels included, in dashboard order. It fails
// (wrapping ErrInvalid) on JSON that does not parse, a dashboard without
// panels, and a query without an expression.
func DashboardQueries(dashboard []byte) ([]PanelQuery, error) {
	var d struct {
		Panels []panelJSON `json:"panels"`
	}
	if err := json.Unmarshal(dashboard, &d); err != nil {
		return nil, fmt.Errorf("%w: dashboard: %w", ErrInvalid, err)
	}
	if len(d.Panels) == 0 {
		return nil, fmt.Errorf("%w: dashboard has no panels", ErrInvalid)
	}
	var out []PanelQuery
	var walk func([]panelJSON) error
	walk = func(ps []panelJSON) error {
		for _, p := range ps {
			for _, t := range p.Targets {
				if strings.TrimSpace(t.Expr) == "" {
					return fmt.Errorf("%w: panel %q query %q has no expr", ErrInvalid, p.Title, t.RefID)
				}
				out = append(out, PanelQuery{Panel: p.Title, RefID: t.RefID, Expr: t.Expr})
			}
			if err := walk(p.Panels); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(d.Panels); err != nil {
		return nil, err
	}
	return out, nil
}

// newParser is the PromQL parser Prometheus uses by default.
func newParser() parser.Parser { return parser.NewParser(parser.Options{}) }

// MetricNames returns the metric names expr selects, sorted and without
// duplicates: each selector's name, or its __name__ equality matcher. It
// fails (wrapping ErrInvalid) when expr does not parse.
func MetricNames(expr string) ([]string, error) {
	e, err := newParser().ParseExpr(expr)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrInvalid, expr, err)
	}
	var names []string
	for _, sel := range parser.ExtractSelectors(e) {
		for _, m := range sel {
			if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
				names = append(names, m.Value)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// ExpositionNames returns the sample names a Prometheus text exposition
// offers, as PromQL sees them: a histogram family offers name_bucket,
// name_count and name_sum, a summary name, name_count and name_sum, any
// other family its name. It fails (wrapping ErrInvalid) on text that does
// not parse.
func ExpositionNames(exposition io.Reader) (map[string]bool, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(exposition)
	if err != nil {
		return nil, fmt.Errorf("%w: exposition: %w", ErrInvalid, err)
	}
	names := map[string]bool{}
	for name, f := range fams {
		if len(f.GetMetric()) == 0 {
			continue // declared but without a sample: PromQL sees nothing
		}
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			names[name+"_bucket"], names[name+"_count"], names[name+"_sum"] = true, true, true
		case dto.MetricType_SUMMARY:
			names[name], names[name+"_count"], names[name+"_sum"] = true, true, true
		case dto.MetricType_COUNTER, dto.MetricType_GAUGE, dto.MetricType_UNTYPED:
			names[name] = true
		}
	}
	return names, nil
}

// Missing is a metric a dashboard panel queries that no scrape offers.
type Missing struct {
	Panel  string
	Metric string
}

// String renders m as "metric (panel)".
func (m Missing) String() string { return m.Metric + " (panel " + m.Panel + ")" }

// MissingMetrics returns the metrics that dashboard's panels query and
// none of expositions (the text scrapes of the mesh's /metrics endpoints)
// offers, ordered by metric then panel. It fails (wrapping ErrInvalid) when
// the dashboard, a query or an exposition does not parse.
func MissingMetrics(dashboard []byte, expositions ...io.Reader) ([]Missing, error) {
	qs, err := DashboardQueries(dashboard)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for i, r := range expositions {
		names, err := ExpositionNames(r)
		if err != nil {
			return nil, fmt.Errorf("exposition %d: %w", i, err)
		}
		for n := range names {
			have[n] = true
		}
	}
	seen := map[Missing]bool{}
	var out []Missing
	for _, q := range qs {
		names, err := MetricNames(q.Expr)
		if err != nil {
			return nil, fmt.Errorf("panel %q: %w", q.Panel, err)
		}
		for _, n := range names {
			m := Missing{Panel: q.Panel, Metric: n}
			if !have[n] && !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	slices.SortFunc(out, func(a, b Missing) int {
		if c := strings.Compare(a.Metric, b.Metric); c != 0 {
			return c
		}
		return strings.Compare(a.Panel, b.Panel)
	})
	return out, nil
}

// CheckRules parses a Prometheus rules file with Prometheus's rule parser
// (unknown fields are errors, every expression must parse) and checks
// that every alerting rule carries a severity label and a summary
// annotation, which the alert routing and the notifications read. It
// returns every problem found, joined and wrapping ErrInvalid.
func CheckRules(content []byte) error {
	rgs, errs := rulefmt.Parse(content, false, model.UTF8Validation, newParser(), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		return fmt.Errorf("%w: rules: %w", ErrInvalid, errors.Join(errs...))
	}
	var problems []error
	if len(rgs.Groups) == 0 {
		problems = append(problems, errors.New("no rule groups"))
	}
	for _, g := range rgs.Groups {
		for _, r := range g.Rules {
			if _, err := newParser().ParseExpr(r.Expr); err != nil {
				problems = append(problems, fmt.Errorf("group %s: %q: %w", g.Name, r.Expr, err))
			}
			if r.Alert == "" {
				continue
			}
			if r.Labels["severity"] == "" {
				problems = append(problems, fmt.Errorf("alert %s has no severity label", r.Alert))
			}
			if r.Annotations["summary"] == "" {
				problems = append(problems, fmt.Errorf("alert %s has no summary annotation", r.Alert))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: rules: %w", ErrInvalid, errors.Join(problems...))
	}
	return nil
}

// RuleAlerts returns the alert names a rules file defines, in file order;
// it fails like CheckRules' parse.
func RuleAlerts(content []byte) ([]string, error) {
	rgs, errs := rulefmt.Parse(content, false, model.UTF8Validation, newParser(), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: rules: %w", ErrInvalid, errors.Join(errs...))
	}
	var out []string
	for _, g := range rgs.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out = append(out, r.Alert)
			}
		}
	}
	return out, nil
}
