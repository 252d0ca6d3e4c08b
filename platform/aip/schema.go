package aip

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Field declares one filterable field of a list method.
type Field struct {
	// Name is the field path as written in filters, e.g. "create_time".
	Name string
	// Kind says how values are read; KindString keeps them as written.
	Kind Kind
	// Ops are the operators the field allows; nil allows only OpEq.
	Ops []Op
	// Enum maps accepted names to numbers for KindEnum; pass a generated
	// <Enum>_value map. The zero number (…_UNSPECIFIED) is never accepted.
	Enum map[string]int32
	// EnumPrefix, for KindEnum, may be left off a name: with "STATE_",
	// both `state = SHIPPED` and `state = STATE_SHIPPED` are accepted.
	EnumPrefix string
	// Check, when set, is a further rule on a term already read as Kind
	// (a code pattern, "only > 0"); its error message is shown to the
	// caller as the reason the filter is invalid.
	Check func(Term) error
}

func (f Field) allows(op Op) bool {
	if f.Ops == nil {
		return op == OpEq
	}
	return slices.Contains(f.Ops, op)
}

// Schema is the set of fields a list method filters on. Declare it once
// per method, next to the handler, and test it with Validate.
type Schema []Field

func (s Schema) field(name string) (Field, bool) {
	for _, f := range s {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Validate reports mistakes in the declaration itself: empty or repeated
// names, names that filters cannot spell, unknown kinds or operators, an
// enum without names. Call it from a test; Parse does not.
func (s Schema) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, f := range s {
		if fp, err := ParseFilter(f.Name + " = x"); err != nil || len(fp.Terms) != 1 || fp.Terms[0].Field != f.Name {
			errs = append(errs, fmt.Errorf("field %d: name %q is not a field path", i, f.Name))
		}
		if seen[f.Name] {
			errs = append(errs, fmt.Errorf("field %q declared twice", f.Name))
		}
		seen[f.Name] = true
		if f.Kind < KindString || f.Kind > KindBool {
			errs = append(errs, fmt.Errorf("field %q: unknown kind %v", f.Name, f.Kind))
		}
		if f.Kind == KindEnum && len(f.Enum) == 0 {
			errs = append(errs, fmt.Errorf("field %q: KindEnum needs Enum names", f.Name))
		}
		if f.EnumPrefix != "" && !slices.ContainsFunc(slices.Collect(maps.Keys(f.Enum)), func(n string) bool { return strings.HasPrefix(n, f.EnumPrefix) }) {
			errs = append(errs, fmt.Errorf("field %q: no Enum name starts with EnumPrefix %q", f.Name, f.EnumPrefix))
		}
		if f.Kind != KindEnum && (f.Enum != nil || f.EnumPrefix != "") {
			errs = append(errs, fmt.Errorf("field %q: Enum and EnumPrefix are for KindEnum only", f.Name))
		}
		if f.Ops != nil && len(f.Ops) == 0 {
			errs = append(errs, fmt.Errorf("field %q: empty Ops allows no operator; use nil for =", f.Name))
		}
		for _, op := range f.Ops {
			if !slices.Contains(ops, op) {
				errs = append(errs, fmt.Errorf("field %q: unknown operator %q", f.Name, op))
			}
		}
	}
	return errors.Join(errs...)
}

// Parse parses filter and checks every term against s: the field exists,
// allows the operator, and the value reads as the field's kind and passes
// its Check. A field may appear once per operator (`create_time >= a AND
// create_time < b` is a range; `state = A AND state = B` is a mistake).
// Errors are *FilterError.
func (s Schema) Parse(filter string) (Filter, error) {
	f, err := ParseFilter(filter)
	if err != nil {
		return Filter{}, err
	}
	type key struct {
		field string
		op    Op
	}
	seen := make(map[key]bool, len(f.Terms))
	for i := range f.Terms {
		t := &f.Terms[i]
		fd, ok := s.field(t.Field)
		switch {
		case !ok && len(s) == 0:
			return Filter{}, &FilterError{Pos: t.Pos, Msg: "this list takes no filter"}
		case !ok:
			return Filter{}, &FilterError{Pos: t.Pos, Msg: fmt.Sprintf("unknown field %q; use %s", t.Field, s.names())}
		}
		if !fd.allows(t.Op) {
			return Filter{}, &FilterError{Pos: t.Pos, Msg: fmt.Sprintf("%s does not support %s; use %s", t.Field, t.Op, fd.opList())}
		}
		k := key{t.Field, t.Op}
		if seen[k] {
			return Filter{}, &FilterError{Pos: t.Pos, Msg: fmt.Sprintf("%s %s appears more than once", t.Field, t.Op)}
		}
		seen[k] = true
		if msg := fd.read(&t.Value); msg != "" {
			return Filter{}, &FilterError{Pos: t.Pos, Msg: msg}
		}
		if fd.Check != nil {
			if err := fd.Check(*t); err != nil {
				return Filter{}, &FilterError{Pos: t.Pos, Msg: err.Error(), Err: err}
			}
		}
	}
	return f, nil
}

func (s Schema) names() string {
	names := make([]string, len(s))
	for i, f := range s {
		names[i] = f.Name
	}
	return orList(names)
}

func (f Field) opList() string {
	if f.Ops == nil {
		return string(OpEq)
	}
	names := make([]string, len(f.Ops))
	for i, op := range f.Ops {
		names[i] = string(op)
	}
	return orList(names)
}

func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// read sets v's kind and typed value, or returns why it cannot.
func (f Field) read(v *Value) string {
	v.Kind = f.Kind
	switch f.Kind {
	case KindString:
		return ""
	case KindEnum:
		n, ok := f.Enum[v.Text]
		if !ok && f.EnumPrefix != "" {
			n, ok = f.Enum[f.EnumPrefix+v.Text]
		}
		if !ok || n == 0 {
			return fmt.Sprintf("unknown %s %q; use %s", f.Name, v.Text, f.enumNames())
		}
		v.Enum = n
	case KindTime:
		t, err := time.Parse(time.RFC3339Nano, v.Text)
		if err != nil {
			return fmt.Sprintf("%s needs an RFC 3339 time such as \"2026-11-27T00:00:00Z\", not %q", f.Name, v.Text)
		}
		v.Time = t.UTC()
	case KindInt:
		n, err := strconv.ParseInt(v.Text, 10, 64)
		if err != nil {
			return fmt.Sprintf("%s needs an integer, not %q", f.Name, v.Text)
		}
		v.Int = n
	case KindBool:
		switch v.Text {
		case "true":
			v.Bool = true
		case "false":
			v.Bool = false
		default:
			return fmt.Sprintf("%s needs true or false, not %q", f.Name, v.Text)
		}
	default:
		return fmt.Sprintf("%s has an unknown kind %v", f.Name, f.Kind)
	}
	return ""
}

// enumNames lists the accepted names by number, without EnumPrefix.
func (f Field) enumNames() string {
	type entry struct {
		name string
		n    int32
	}
	var es []entry
	for name, n := range f.Enum {
		if n == 0 || f.EnumPrefix != "" && !strings.HasPrefix(name, f.EnumPrefix) {
			continue
		}
		es = append(es, entry{strings.TrimPrefix(name, f.EnumPrefix), n})
	}
	slices.SortFunc(es, func(a, b entry) int { return cmp.Or(cmp.Compare(a.n, b.n), strings.Compare(a.name, b.name)) })
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.name
	}
	return orList(names)
}
