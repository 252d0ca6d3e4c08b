// Package config loads a service's configuration struct from environment
// variables described by struct tags, validates it, and describes it with
// secrets masked.
//
// Tags on exported fields:
//
//	env:"NAME"        the variable to read (fields without env are skipped,
//	                  nested and embedded structs without env are walked,
//	                  so a struct of common settings can be embedded)
//	default:"x"       used when the variable is unset or empty
//	required:"true"   unset/empty with no default is an error
//	secret:"true"     masked by Describe
//
// Supported field types: string, bool, int, int64, uint, float64,
// time.Duration and []string (comma separated, blanks trimmed, empty
// items dropped). Loading takes a getenv function rather than reading the
// process environment so that main can pass os.Getenv and tests a map.
package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Validator is implemented by configuration structs that check rules
// spanning several fields (e.g. "TLS cert and key together"). Load calls it
// after every field has been parsed.
type Validator interface {
	Validate() error
}

// FieldError reports a problem with one environment variable.
type FieldError struct {
	Var string // the environment variable name
	Err error
}

// Error names the variable so an operator knows what to fix.
func (e *FieldError) Error() string { return fmt.Sprintf("config: %s: %v", e.Var, e.Err) }

// Unwrap returns the underlying cause.
func (e *FieldError) Unwrap() error { return e.Err }

// ErrRequired is the cause of a FieldError for a required variable that is
// unset or empty.
var ErrRequired = errors.New("required but not set")

var durationType = reflect.TypeFor[time.Duration]()

// Load fills the struct pointed to by dst from getenv. All field problems are
// reported together (errors.Join of *FieldError); when every field parses and
// dst implements Validator, its Validate error is returned wrapped.
func Load(dst any, getenv func(string) string) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: Load needs a non-nil pointer to a struct, got %T", dst)
	}
	var errs []error
	walk(v.Elem(), func(f reflect.StructField, fv reflect.Value) {
		name := f.Tag.Get("env")
		raw := strings.TrimSpace(getenv(name))
		if raw == "" {
			raw = f.Tag.Get("default")
		}
		if raw == "" {
			if f.Tag.Get("required") == "true" {
				errs = append(errs, &FieldError{Var: name, Err: ErrRequired})
			}
			return
		}
		if err := set(fv, raw); err != nil {
			if f.Tag.Get("secret") == "true" {
				// Never echo a secret's value back in an error message.
				err = fmt.Errorf("invalid value for %s", fv.Type())
			}
			errs = append(errs, &FieldError{Var: name, Err: err})
		}
	})
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if val, ok := dst.(Validator); ok {
		if err := val.Validate(); err != nil {
			return fmt.Errorf("config: invalid: %w", err)
		}
	}
	return nil
}

// walk calls fn for every exported field with an env tag, descending into
// nested structs (other than time.Duration) that have no env tag.
func walk(v reflect.Value, fn func(reflect.StructField, reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		fv := v.Field(i)
		if _, ok := f.Tag.Lookup("env"); !ok {
			if fv.Kind() == reflect.Struct {
				walk(fv, fn)
			}
			continue
		}
		fn(f, fv)
	}
}

func set(fv reflect.Value, raw string) error {
	if fv.Type() == durationType {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("invalid duration %q (use e.g. 500ms, 10s, 1m)", raw)
		}
		fv.SetInt(int64(d))
		return nil
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("invalid bool %q (use true or false)", raw)
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, fv.Type().Bits())
		if err != nil {
			return fmt.Errorf("invalid integer %q", raw)
		}
		fv.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(raw, 10, fv.Type().Bits())
		if err != nil {
			return fmt.Errorf("invalid unsigned integer %q", raw)
		}
		fv.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(raw, fv.Type().Bits())
		if err != nil {
			return fmt.Errorf("invalid number %q", raw)
		}
		fv.SetFloat(n)
	case reflect.Slice:
		if fv.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported field type %s", fv.Type())
		}
		var items []string
		for item := range strings.SplitSeq(raw, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		fv.Set(reflect.ValueOf(items).Convert(fv.Type()))
	default:
		return fmt.Errorf("unsupported field type %s", fv.Type())
	}
	return nil
}

// Mask is what Describe prints instead of a set secret.
const Mask = "******"

// Describe renders cfg (a struct or pointer to one) as one "NAME=value" line
// per env-tagged field, in declaration order, with secret values replaced by
// Mask (an unset secret prints as empty so operators can see it is missing).
// It is meant for a startup log line or a --print-config flag.
func Describe(cfg any) string {
	v := reflect.ValueOf(cfg)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	var b strings.Builder
	walk(v, func(f reflect.StructField, fv reflect.Value) {
		val := format(fv)
		if f.Tag.Get("secret") == "true" && val != "" {
			val = Mask
		}
		fmt.Fprintf(&b, "%s=%s\n", f.Tag.Get("env"), val)
	})
	return b.String()
}

// Map is Describe as a map from variable name to (masked) value, convenient
// as a structured log attribute.
func Map(cfg any) map[string]string {
	out := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSuffix(Describe(cfg), "\n"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out
}

func format(fv reflect.Value) string {
	if fv.Type() == durationType {
		return time.Duration(fv.Int()).String()
	}
	if fv.Kind() == reflect.Slice {
		parts := make([]string, fv.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(fv.Index(i).Interface())
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(fv.Interface())
}
