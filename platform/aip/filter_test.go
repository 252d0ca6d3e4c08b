package aip

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ignorePos compares filters by meaning: positions depend on spacing.
var ignorePos = cmpopts.IgnoreFields(Term{}, "Pos")

func str(field string, op Op, text string) Term {
	return Term{Field: field, Op: op, Value: Value{Text: text}}
}

func quoted(field string, op Op, text string) Term {
	return Term{Field: field, Op: op, Value: Value{Text: text, Quoted: true}}
}

func TestParseFilter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		filter string
		want   []Term
		canon  string
	}{
		{"empty", "", nil, ""},
		{"only spaces", " \t\n ", nil, ""},
		{"bare value", "state = SHIPPED", []Term{str("state", OpEq, "SHIPPED")}, "state = SHIPPED"},
		{"quoted value", `customer_id = "C-100"`, []Term{quoted("customer_id", OpEq, "C-100")}, `customer_id = "C-100"`},
		{"no spaces", `state=SHIPPED AND a>=1`, []Term{str("state", OpEq, "SHIPPED"), str("a", OpGe, "1")}, "state = SHIPPED AND a >= 1"},
		{"extra spaces", "  a  =  1   AND\tb = 2  ", []Term{str("a", OpEq, "1"), str("b", OpEq, "2")}, "a = 1 AND b = 2"},
		{"not equal", "a != 1", []Term{str("a", OpNe, "1")}, "a != 1"},
		{"less", "a < 1", []Term{str("a", OpLt, "1")}, "a < 1"},
		{"less or equal", "a <= 1", []Term{str("a", OpLe, "1")}, "a <= 1"},
		{"greater", "available > 0", []Term{str("available", OpGt, "0")}, "available > 0"},
		{"greater or equal", `create_time >= "2026-11-27T00:00:00Z"`, []Term{quoted("create_time", OpGe, "2026-11-27T00:00:00Z")}, `create_time >= "2026-11-27T00:00:00Z"`},
		{"bare time", `create_time<2026-11-27T00:00:00+01:00`, []Term{str("create_time", OpLt, "2026-11-27T00:00:00+01:00")}, `create_time < 2026-11-27T00:00:00+01:00`},
		{"has with prefix", `sku:"DRL-*"`, []Term{quoted("sku", OpHas, "DRL-*")}, `sku:"DRL-*"`},
		{"has spaced", `sku : DRL-*`, []Term{str("sku", OpHas, "DRL-*")}, `sku:DRL-*`},
		{"dotted field", `labels.env = prod`, []Term{str("labels.env", OpEq, "prod")}, `labels.env = prod`},
		{"escaped quote", `a = "say \"hi\""`, []Term{quoted("a", OpEq, `say "hi"`)}, `a = "say \"hi\""`},
		{"escaped backslash", `a = "C:\\temp"`, []Term{quoted("a", OpEq, `C:\temp`)}, `a = "C:\\temp"`},
		{"AND inside quotes", `a = "x AND y" AND b = 1`, []Term{quoted("a", OpEq, "x AND y"), str("b", OpEq, "1")}, `a = "x AND y" AND b = 1`},
		{"quoted keyword", `a = "OR"`, []Term{quoted("a", OpEq, "OR")}, `a = "OR"`},
		{"empty string", `a = ""`, []Term{quoted("a", OpEq, "")}, `a = ""`},
		{"unicode", `city = München AND name = "Zoë 🚚"`, []Term{str("city", OpEq, "München"), quoted("name", OpEq, "Zoë 🚚")}, `city = München AND name = "Zoë 🚚"`},
		{"AND right after string", `a = "x"AND b = 1`, []Term{quoted("a", OpEq, "x"), str("b", OpEq, "1")}, `a = "x" AND b = 1`},
		{"newline in string", "a = \"x\ny\"", []Term{quoted("a", OpEq, "x\ny")}, "a = \"x\ny\""},
		{"negative number", "a > -5", []Term{str("a", OpGt, "-5")}, "a > -5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseFilter(tt.filter)
			if err != nil {
				t.Fatalf("ParseFilter(%q) error: %v", tt.filter, err)
			}
			if diff := cmp.Diff(tt.want, got.Terms, ignorePos); diff != "" {
				t.Errorf("ParseFilter(%q) terms (-want +got):\n%s", tt.filter, diff)
			}
			if s := got.String(); s != tt.canon {
				t.Errorf("String() = %q, want %q", s, tt.canon)
			}
		})
	}
}

func TestParseFilterPositions(t *testing.T) {
	t.Parallel()
	got, err := ParseFilter(`  a = 1 AND bb = "x"`)
	if err != nil {
		t.Fatal(err)
	}
	var pos []int
	for _, term := range got.Terms {
		pos = append(pos, term.Pos)
	}
	if diff := cmp.Diff([]int{2, 12}, pos); diff != "" {
		t.Errorf("positions (-want +got):\n%s", diff)
	}
}

func TestParseFilterErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, filter string
		pos          int
		msg          string // substring of the message
	}{
		{"unterminated string", `a = "abc`, 4, "unterminated string"},
		{"unterminated after escape", `a = "abc\`, 4, "unterminated string"},
		{"unknown escape", `a = "x\n"`, 6, `unknown escape \n`},
		{"single quotes", `a = 'x'`, 4, "single-quoted strings are not supported"},
		{"missing operator", `a 1`, 2, `expected an operator (=, !=, <, <=, >, >=, :) after "a", found "1"`},
		{"missing operator at end", `a`, 1, "found end of filter"},
		{"bang alone", `a ! 1`, 2, `found '!'`},
		{"missing value", `a =`, 3, "expected a value after a ="},
		{"double operator", `a == 1`, 3, `expected a value after a =, found '='`},
		{"operator instead of field", `= 1`, 0, `expected a field name, found '='`},
		{"string instead of field", `"a" = 1`, 0, "expected a field name, found a string"},
		{"digit field", `1a = 1`, 0, `expected a field name, found "1a"`},
		{"missing AND", `a = 1 b = 2`, 6, `expected AND between comparisons, found "b"`},
		{"lower-case and", `a = 1 and b = 2`, 6, "keywords are upper case"},
		{"OR", `a = 1 OR b = 2`, 6, "OR is not supported"},
		{"NOT", `NOT a = 1`, 0, "NOT is not supported"},
		{"negation", `-a = 1`, 0, "negation is not supported"},
		{"open paren", `(a = 1)`, 0, "parentheses are not supported"},
		{"paren after AND", `a = 1 AND (b = 2)`, 10, "parentheses are not supported"},
		{"close paren", `a = 1)`, 5, `expected AND between comparisons, found ')'`},
		{"trailing AND", `a = 1 AND `, 6, "AND must be followed by a comparison"},
		{"leading AND", `AND a = 1`, 0, "expected a comparison, found AND"},
		{"double AND", `a = 1 AND AND b = 2`, 10, "expected a comparison, found AND"},
		{"keyword value", `a = AND`, 4, "AND is a keyword; quote it"},
		{"global restriction", `SHIPPED`, 7, "expected an operator"},
		{"invalid utf-8", "a = \"x\xffy\"", 6, "not valid UTF-8"},
		{"control char", "a = x\x01", 5, `expected AND between comparisons, found '\x01'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseFilter(tt.filter)
			checkFilterError(t, tt.filter, err, tt.pos, tt.msg)
		})
	}
}

// checkFilterError fails t unless err is a *FilterError at pos whose
// message contains msg and which matches ErrInvalidFilter.
func checkFilterError(t *testing.T, filter string, err error, pos int, msg string) {
	t.Helper()
	var fe *FilterError
	if !errors.As(err, &fe) {
		t.Fatalf("parse %q: error = %v, want *FilterError", filter, err)
	}
	if fe.Pos != pos || !strings.Contains(fe.Msg, msg) {
		t.Errorf("parse %q: pos %d %q, want pos %d containing %q", filter, fe.Pos, fe.Msg, pos, msg)
	}
	if !errors.Is(err, ErrInvalidFilter) {
		t.Errorf("errors.Is(%v, ErrInvalidFilter) = false", err)
	}
}

func TestFilterStringQuotesWhatCannotBeBare(t *testing.T) {
	t.Parallel()
	// Filters built in code (the gateway rewrites storefront filters) get
	// quotes wherever a bare value would not read back.
	f := Filter{Terms: []Term{
		str("a", OpEq, "plain"),
		str("b", OpEq, "two words"),
		str("c", OpEq, ""),
		str("d", OpEq, "AND"),
		str("e", OpEq, `x"y\z`),
		str("f", OpEq, "tab\there"),
	}}
	want := `a = plain AND b = "two words" AND c = "" AND d = "AND" AND e = "x\"y\\z" AND f = "tab` + "\t" + `here"`
	if got := f.String(); got != want {
		t.Fatalf("String() =\n%s\nwant\n%s", got, want)
	}
	back, err := ParseFilter(want)
	if err != nil {
		t.Fatal(err)
	}
	for i, term := range back.Terms {
		if term.Value.Text != f.Terms[i].Value.Text {
			t.Errorf("term %d text = %q, want %q", i, term.Value.Text, f.Terms[i].Value.Text)
		}
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"":      `""`,
		"web":   `"web"`,
		`a"b`:   `"a\"b"`,
		`a\b`:   `"a\\b"`,
		"x\ny":  "\"x\ny\"",
		"Zoë 🚚": `"Zoë 🚚"`,
	}
	for in, want := range tests {
		t.Run(want, func(t *testing.T) {
			t.Parallel()
			if got := Quote(in); got != want {
				t.Errorf("Quote(%q) = %s, want %s", in, got, want)
			}
		})
	}
}

func TestFind(t *testing.T) {
	t.Parallel()
	f, err := ParseFilter(`t >= 1 AND t < 2 AND s = x`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		field  string
		op     Op
		want   string
		wantOK bool
	}{
		{"t", OpGe, "1", true},
		{"t", OpLt, "2", true},
		{"s", OpEq, "x", true},
		{"t", OpEq, "", false},
		{"u", OpEq, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.field+string(tt.op), func(t *testing.T) {
			t.Parallel()
			v, ok := f.Find(tt.field, tt.op)
			if ok != tt.wantOK || v.Text != tt.want {
				t.Errorf("Find(%s, %s) = %q, %v; want %q, %v", tt.field, tt.op, v.Text, ok, tt.want, tt.wantOK)
			}
		})
	}
}
