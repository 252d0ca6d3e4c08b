package aip

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Op is a comparison operator of a filter term.
type Op string

// The operators of AIP-160.
const (
	// OpEq is equality.
	OpEq Op = "="
	// OpNe is inequality.
	OpNe Op = "!="
	// OpLt is less than.
	OpLt Op = "<"
	// OpLe is less than or equal.
	OpLe Op = "<="
	// OpGt is greater than.
	OpGt Op = ">"
	// OpGe is greater than or equal.
	OpGe Op = ">="
	// OpHas is AIP-160's "has" (`sku:"DRL-*"`); the list decides what it
	// means for its field, e.g. a prefix match. String writes it without
	// spaces.
	OpHas Op = ":"
)

// ops is ordered so that two-character operators win over their prefixes.
var ops = []Op{OpGe, OpLe, OpNe, OpEq, OpLt, OpGt, OpHas}

// Kind says how a value is read. ParseFilter leaves every value KindString;
// Schema.Parse reads it as its field's kind.
type Kind int

// The value kinds a Field can declare.
const (
	// KindString keeps the literal as written (Value.Text).
	KindString Kind = iota
	// KindEnum reads a name of Field.Enum into Value.Enum.
	KindEnum
	// KindTime reads an RFC 3339 time into Value.Time, in UTC.
	KindTime
	// KindInt reads a base-10 64-bit integer into Value.Int.
	KindInt
	// KindBool reads true or false into Value.Bool.
	KindBool
)

// String returns the kind's name, for messages.
func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindEnum:
		return "enum"
	case KindTime:
		return "time"
	case KindInt:
		return "integer"
	case KindBool:
		return "bool"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is the right-hand side of a term. Text and Quoted are what the
// filter said; the typed field matching Kind is set by Schema.Parse.
type Value struct {
	Text   string // unescaped literal
	Quoted bool   // written as a double-quoted string
	Kind   Kind
	Enum   int32
	Time   time.Time
	Int    int64
	Bool   bool
}

// Term is one `field op value` comparison.
type Term struct {
	Field string
	Op    Op
	Value Value
	// Pos is the byte offset of the term in the parsed filter; String
	// ignores it.
	Pos int
}

// String renders the term as it would be written in a filter.
func (t Term) String() string {
	v := formatValue(t.Value)
	if t.Op == OpHas {
		return t.Field + string(t.Op) + v
	}
	return t.Field + " " + string(t.Op) + " " + v
}

// Filter is a parsed filter: a conjunction of terms. The zero Filter
// matches everything.
type Filter struct {
	Terms []Term
}

// String renders f in the canonical form ParseFilter reads back to the
// same terms: terms joined by " AND ", values bare when they were bare and
// can stay so, else quoted with Quote.
func (f Filter) String() string {
	parts := make([]string, len(f.Terms))
	for i, t := range f.Terms {
		parts[i] = t.String()
	}
	return strings.Join(parts, " AND ")
}

// Find returns the value of the term on field with op, if f has one.
// Schema.Parse rejects a second term with the same field and operator, so
// there is at most one.
func (f Filter) Find(field string, op Op) (Value, bool) {
	for _, t := range f.Terms {
		if t.Field == field && t.Op == op {
			return t.Value, true
		}
	}
	return Value{}, false
}

// Quote returns s as a filter string literal: double-quoted, with only "
// and \ escaped (strconv.Quote's \n or \u escapes are not filter syntax).
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

func formatValue(v Value) string {
	if !v.Quoted && isBare(v.Text) {
		return v.Text
	}
	return Quote(v.Text)
}

// isBare reports whether s reads back as one bare value.
func isBare(s string) bool {
	if s == "" || isKeyword(s) {
		return false
	}
	for _, r := range s {
		if !isValueRune(r) {
			return false
		}
	}
	return true
}

func isKeyword(s string) bool { return s == "AND" || s == "OR" || s == "NOT" }

// isValueRune reports whether r may appear in a bare value. Besides
// letters and digits this admits the punctuation of codes, times and
// prefixes (`DRL-18V-001`, `2026-11-27T00:00:00Z`, `DRL-*`) and excludes
// what delimits a term.
func isValueRune(r rune) bool {
	if r < 0x21 || r == 0x7f || r == utf8.RuneError {
		return false
	}
	return !strings.ContainsRune("\"'()=<>!\\,", r)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isIdentPart(c byte) bool  { return isIdentStart(c) || '0' <= c && c <= '9' }

// ParseFilter parses the syntax of filter without a schema: every value
// is KindString. An empty or all-space filter is the zero Filter. Errors
// are *FilterError.
func ParseFilter(filter string) (Filter, error) {
	if !utf8.ValidString(filter) {
		return Filter{}, &FilterError{Pos: firstInvalidUTF8(filter), Msg: "filter is not valid UTF-8"}
	}
	p := parser{s: filter}
	p.skipSpace()
	var f Filter
	for !p.eof() {
		if len(f.Terms) > 0 {
			if err := p.and(); err != nil {
				return Filter{}, err
			}
		}
		t, err := p.term()
		if err != nil {
			return Filter{}, err
		}
		f.Terms = append(f.Terms, t)
		p.skipSpace()
	}
	return f, nil
}

func firstInvalidUTF8(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return i
			}
		}
	}
	return len(s)
}

type parser struct {
	s string
	i int
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) skipSpace() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

func (p *parser) fail(pos int, format string, args ...any) error {
	return &FilterError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// word returns the run of bare-value runes at i (possibly empty).
func (p *parser) word(i int) string {
	j := i
	for j < len(p.s) {
		r, size := utf8.DecodeRuneInString(p.s[j:])
		if !isValueRune(r) {
			break
		}
		j += size
	}
	return p.s[i:j]
}

// found describes what is at i, for messages.
func (p *parser) found(i int) string {
	if i >= len(p.s) {
		return "end of filter"
	}
	if w := p.word(i); w != "" {
		return strconv.Quote(w)
	}
	r, _ := utf8.DecodeRuneInString(p.s[i:])
	return strconv.QuoteRune(r)
}

// and consumes the AND between two terms.
func (p *parser) and() error {
	pos := p.i
	switch w := p.word(pos); w {
	case "AND":
		p.i += len(w)
	case "OR":
		return p.fail(pos, "OR is not supported; join comparisons with AND")
	case "and":
		return p.fail(pos, "expected AND between comparisons, found \"and\" (keywords are upper case)")
	default:
		return p.fail(pos, "expected AND between comparisons, found %s", p.found(pos))
	}
	p.skipSpace()
	if p.eof() {
		return p.fail(pos, "AND must be followed by a comparison")
	}
	return nil
}

// term parses `field op value`.
func (p *parser) term() (Term, error) {
	t := Term{Pos: p.i}
	field, err := p.field()
	if err != nil {
		return Term{}, err
	}
	t.Field = field
	p.skipSpace()
	opPos := p.i
	for _, op := range ops {
		if strings.HasPrefix(p.s[p.i:], string(op)) {
			t.Op = op
			p.i += len(op)
			break
		}
	}
	if t.Op == "" {
		return Term{}, p.fail(opPos, "expected an operator (=, !=, <, <=, >, >=, :) after %q, found %s", field, p.found(opPos))
	}
	p.skipSpace()
	v, err := p.value(field, t.Op)
	if err != nil {
		return Term{}, err
	}
	t.Value = v
	return t, nil
}

// field parses a field path: identifiers joined by dots.
func (p *parser) field() (string, error) {
	start := p.i
	switch c := p.s[p.i]; {
	case c == '(' || c == ')':
		return "", p.fail(start, "parentheses are not supported")
	case c == '-':
		return "", p.fail(start, "negation is not supported")
	case c == '"' || c == '\'':
		return "", p.fail(start, "expected a field name, found a string")
	case !isIdentStart(c):
		return "", p.fail(start, "expected a field name, found %s", p.found(start))
	}
	for {
		for p.i < len(p.s) && isIdentPart(p.s[p.i]) {
			p.i++
		}
		if p.i+1 < len(p.s) && p.s[p.i] == '.' && isIdentStart(p.s[p.i+1]) {
			p.i++
			continue
		}
		break
	}
	field := p.s[start:p.i]
	switch field {
	case "NOT":
		return "", p.fail(start, "NOT is not supported")
	case "AND", "OR":
		return "", p.fail(start, "expected a comparison, found %s", field)
	}
	return field, nil
}

// value parses a double-quoted string or a bare value.
func (p *parser) value(field string, op Op) (Value, error) {
	start := p.i
	if p.eof() {
		return Value{}, p.fail(start, "expected a value after %s %s", field, op)
	}
	switch p.s[start] {
	case '"':
		return p.quoted()
	case '\'':
		return Value{}, p.fail(start, "single-quoted strings are not supported; use double quotes")
	}
	w := p.word(start)
	switch {
	case w == "":
		return Value{}, p.fail(start, "expected a value after %s %s, found %s", field, op, p.found(start))
	case isKeyword(w):
		return Value{}, p.fail(start, "%s is a keyword; quote it to use it as a value", w)
	}
	p.i += len(w)
	return Value{Text: w}, nil
}

// quoted parses a double-quoted string whose only escapes are \" and \\.
func (p *parser) quoted() (Value, error) {
	start := p.i
	var b strings.Builder
	for i := start + 1; i < len(p.s); i++ {
		switch c := p.s[i]; c {
		case '"':
			p.i = i + 1
			return Value{Text: b.String(), Quoted: true}, nil
		case '\\':
			if i+1 >= len(p.s) {
				return Value{}, p.fail(start, "unterminated string")
			}
			if e := p.s[i+1]; e != '"' && e != '\\' {
				r, _ := utf8.DecodeRuneInString(p.s[i+1:])
				return Value{}, p.fail(i, "unknown escape \\%c; only \\\" and \\\\ are allowed", r)
			}
			i++
			b.WriteByte(p.s[i])
		default:
			b.WriteByte(c)
		}
	}
	return Value{}, p.fail(start, "unterminated string")
}
