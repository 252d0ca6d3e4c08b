package eventstreams_test

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/platform/config"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/eventstreams"
)

// TestDeclarationsArePinned fails on any change to a stream name, filter
// or event subject: they are persisted in JetStream and named in the
// contracts, so a change must be deliberate and made here too.
func TestDeclarationsArePinned(t *testing.T) {
	t.Parallel()
	type decl struct {
		Name     string
		Subjects []string
		Events   []string
	}
	want := []decl{
		{"TRANSLOAD_ORDER", []string{"transload.order.>"}, []string{
			"transload.order.accepted", "transload.order.confirmed", "transload.order.rejected",
			"transload.order.cancelled", "transload.order.partially_shipped", "transload.order.shipped",
			"transload.order.delivered",
			"transload.order.return_requested", "transload.order.return_authorized", "transload.order.return_rejected",
			"transload.order.return_received", "transload.order.return_credited", "transload.order.return_closed",
		}},
		{"TRANSLOAD_INVENTORY", []string{"transload.inventory.>"}, []string{
			"transload.inventory.stock_changed", "transload.inventory.reservation_created",
			"transload.inventory.reservation_released", "transload.inventory.reservation_committed",
			"transload.inventory.reservation_expired", "transload.inventory.variance_detected",
			"transload.inventory.backorder_allocated", "transload.inventory.reconciliation_completed",
		}},
		{"TRANSLOAD_FULFILLMENT", []string{"transload.fulfillment.>"}, []string{
			"transload.fulfillment.shipment_updated", "transload.fulfillment.fulfillment_request_failed",
			"transload.fulfillment.fulfillment_request_cancelled",
		}},
		{"TRANSLOAD_CATALOG", []string{"transload.catalog.>"}, []string{
			"transload.catalog.catalog_published", "transload.catalog.prices_changed",
		}},
		{"TRANSLOAD_OPS", []string{"transload.ops.>"}, []string{
			"transload.ops.exception_raised", "transload.ops.audit_recorded",
		}},
	}
	var got []decl
	for _, s := range eventstreams.All() {
		got = append(got, decl{s.Name, s.Subjects, s.Events})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("declared streams (-want +got):\n%s", diff)
	}
}

// TestEveryDeclaredSubjectIsCapturedByItsStream validates every stream:
// each event subject is publishable and captured by the stream's filters.
func TestEveryDeclaredSubjectIsCapturedByItsStream(t *testing.T) {
	t.Parallel()
	for _, s := range eventstreams.All() {
		if err := s.Validate(); err != nil {
			t.Errorf("stream %s: %v", s.Name, err)
		}
		if len(s.Events) == 0 {
			t.Errorf("stream %s declares no events", s.Name)
		}
		for _, ev := range s.Events {
			if !s.Captures(ev) {
				t.Errorf("stream %s does not capture %s", s.Name, ev)
			}
		}
	}
}

// TestEverySubjectConstantBelongsToOneStream reads the package source:
// a subject constant that is not listed in exactly one stream's Events
// would escape the capture and overlap checks.
func TestEverySubjectConstantBelongsToOneStream(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var consts []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				for _, v := range spec.(*ast.ValueSpec).Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					if s, err := strconv.Unquote(lit.Value); err == nil && strings.HasPrefix(s, "transload.") {
						consts = append(consts, s)
					}
				}
			}
		}
	}
	if len(consts) == 0 {
		t.Fatal("found no subject constants in the package source")
	}
	owners := map[string][]string{}
	declared := 0
	for _, s := range eventstreams.All() {
		for _, ev := range s.Events {
			owners[ev] = append(owners[ev], s.Name)
			declared++
		}
	}
	for _, c := range consts {
		if len(owners[c]) != 1 {
			t.Errorf("subject constant %s is an event of streams %v, want exactly one", c, owners[c])
		}
	}
	if declared != len(consts) {
		t.Errorf("streams declare %d events, the package has %d subject constants", declared, len(consts))
	}
}

// TestStreamsDoNotOverlap checks every pair of declared streams, the
// dead-letter stream included: JetStream refuses a stream whose subjects
// overlap another's, and a subject in two streams would be stored twice.
func TestStreamsDoNotOverlap(t *testing.T) {
	t.Parallel()
	all := append(eventstreams.All(), eventstreams.Stream{
		Name: events.DefaultDeadLetterStream, Subjects: []string{events.DeadLetterSubjectPrefix + ">"},
	})
	names := map[string]bool{}
	for i, a := range all {
		if names[a.Name] {
			t.Errorf("stream name %s declared twice", a.Name)
		}
		names[a.Name] = true
		for _, b := range all[i+1:] {
			if a.Overlaps(b) {
				t.Errorf("streams %s %v and %s %v overlap", a.Name, a.Subjects, b.Name, b.Subjects)
			}
		}
	}
}

func TestCapturesAndOverlaps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filter, subject string
		captures        bool
		overlaps        bool
	}{
		{"a.>", "a.b", true, true},
		{"a.>", "a.b.c", true, true},
		{"a.>", "a", false, false},
		{"a.>", "a.*", true, true},
		{"a.>", "a.>", true, true},
		{"a.*", "a.b", true, true},
		{"a.*", "a.b.c", false, false},
		{"a.*", "a.>", false, true},
		{"a.b", "a.b", true, true},
		{"a.b", "a.c", false, false},
		{"a.b", "a.*", false, true},
		{"*.b", "a.b", true, true},
		{"a.b.c", "a.b", false, false},
		{"b.>", "a.b", false, false},
		{">", "x.y", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.filter+" "+tt.subject, func(t *testing.T) {
			t.Parallel()
			s := eventstreams.Stream{Name: "S", Subjects: []string{tt.filter}}
			if got := s.Captures(tt.subject); got != tt.captures {
				t.Errorf("Captures = %v, want %v", got, tt.captures)
			}
			o := eventstreams.Stream{Name: "O", Subjects: []string{tt.subject}}
			if got := s.Overlaps(o); got != tt.overlaps {
				t.Errorf("Overlaps = %v, want %v", got, tt.overlaps)
			}
			if got := o.Overlaps(s); got != tt.overlaps {
				t.Errorf("reversed Overlaps = %v, want %v", got, tt.overlaps)
			}
		})
	}
}

func TestValidateRejects(t *testing.T) {
	t.Parallel()
	valid := eventstreams.Stream{Name: "S", Subjects: []string{"x.>"}, Events: []string{"x.happened"}}
	if err := valid.Validate(); err != nil {
		t.Fatalf("valid stream: %v", err)
	}
	tests := map[string]func(*eventstreams.Stream){
		"no name":             func(s *eventstreams.Stream) { s.Name = "" },
		"dot in name":         func(s *eventstreams.Stream) { s.Name = "A.B" },
		"no subjects":         func(s *eventstreams.Stream) { s.Subjects = nil },
		"empty token":         func(s *eventstreams.Stream) { s.Subjects = []string{"x..>"} },
		"'>' not last":        func(s *eventstreams.Stream) { s.Subjects = []string{"x.>.y"} },
		"partial wildcard":    func(s *eventstreams.Stream) { s.Subjects = []string{"x.a*"} },
		"wildcard event":      func(s *eventstreams.Stream) { s.Events = []string{"x.*"} },
		"event not captured":  func(s *eventstreams.Stream) { s.Events = []string{"y.happened"} },
		"whitespace in event": func(s *eventstreams.Stream) { s.Events = []string{"x.a b"} },
		"negative replicas":   func(s *eventstreams.Stream) { s.Replicas = -1 },
		"too many replicas":   func(s *eventstreams.Stream) { s.Replicas = eventstreams.MaxReplicas + 1 },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := valid
			mutate(&s)
			if err := s.Validate(); !errors.Is(err, eventstreams.ErrInvalidStream) {
				t.Errorf("Validate = %v, want ErrInvalidStream", err)
			}
		})
	}
}

// TestSettingsApplyReplicas: NATS_STREAM_REPLICAS reaches the JetStream
// configuration of every stream a service ensures, without changing the
// shared declarations, and its default keeps one replica.
func TestSettingsApplyReplicas(t *testing.T) {
	t.Parallel()
	var def eventstreams.Settings
	if err := config.Load(&def, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if def.Replicas != 1 {
		t.Errorf("default NATS_STREAM_REPLICAS = %d, want 1", def.Replicas)
	}
	var three eventstreams.Settings
	if err := config.Load(&three, func(k string) string {
		if k == "NATS_STREAM_REPLICAS" {
			return "3"
		}
		return ""
	}); err != nil {
		t.Fatal(err)
	}
	got := three.Apply(eventstreams.Order, eventstreams.Ops)
	if len(got) != 2 || got[0].Name != eventstreams.Order.Name || got[1].Name != eventstreams.Ops.Name {
		t.Fatalf("Apply = %+v, want Order and Ops in order", got)
	}
	for _, s := range got {
		if r := s.JetStreamConfig().Replicas; r != 3 {
			t.Errorf("%s: JetStream replicas %d, want 3", s.Name, r)
		}
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
	}
	if eventstreams.Order.Replicas != 0 {
		t.Errorf("Apply changed the shared declaration: Order.Replicas = %d", eventstreams.Order.Replicas)
	}
	if r := def.Apply(eventstreams.Order)[0].JetStreamConfig().Replicas; r != 1 {
		t.Errorf("default: JetStream replicas %d, want 1", r)
	}
}
