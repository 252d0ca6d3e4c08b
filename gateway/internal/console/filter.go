package console

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/opsevents"
)

// maxFilterLen is the longest filter the ops.v1 list methods accept.
const maxFilterLen = 1024

// maxFieldLen bounds one free-text filter field of a form.
const maxFieldLen = 256

// filterBuilder assembles an AIP-160 conjunction from form fields. Each
// field of a form is one term, written by aip.Filter: strings quoted,
// enum values checked against the enum's names and written bare, times
// normalised to RFC 3339 UTC and quoted. The first bad field stops the
// build.
type filterBuilder struct {
	terms []aip.Term
	err   error
}

// str adds `field op "value"` when value is not blank.
func (b *filterBuilder) str(field string, op aip.Op, label, value string) {
	value = strings.TrimSpace(value)
	if b.err != nil || value == "" {
		return
	}
	if !utf8.ValidString(value) || len(value) > maxFieldLen || strings.ContainsFunc(value, isControl) {
		b.err = fmt.Errorf("%s: at most %d characters of text, no control characters", label, maxFieldLen)
		return
	}
	b.terms = append(b.terms, aip.Term{Field: field, Op: op, Value: aip.Value{Text: value, Quoted: true}})
}

// enum adds `field = VALUE` when value is not blank; value must be one of
// names (the generated <Enum>_value map) other than the UNSPECIFIED one.
func (b *filterBuilder) enum(field, label, value string, names map[string]int32) {
	value = strings.TrimSpace(value)
	if b.err != nil || value == "" {
		return
	}
	if n, ok := names[value]; !ok || n == 0 {
		b.err = fmt.Errorf("%s: %q is not a known value", label, value)
		return
	}
	b.terms = append(b.terms, aip.Term{Field: field, Op: aip.OpEq, Value: aip.Value{Text: value}})
}

// time adds `field op "RFC 3339"` when value is not blank; value is what a
// datetime-local input sends (read as UTC) or an RFC 3339 time.
func (b *filterBuilder) time(field string, op aip.Op, label, value string) {
	value = strings.TrimSpace(value)
	if b.err != nil || value == "" {
		return
	}
	t, err := parseFormTime(value)
	if err != nil {
		b.err = fmt.Errorf("%s: %w", label, err)
		return
	}
	b.terms = append(b.terms, aip.Term{Field: field, Op: op, Value: aip.Value{Text: t.Format(time.RFC3339), Quoted: true}})
}

// String returns the filter, or the first field's error.
func (b *filterBuilder) String() (string, error) {
	if b.err != nil {
		return "", b.err
	}
	f := aip.Filter{Terms: b.terms}.String()
	if len(f) > maxFilterLen {
		return "", fmt.Errorf("the filter is %d characters long, at most %d are allowed: use fewer or shorter fields", len(f), maxFilterLen)
	}
	return f, nil
}

// formTimeLayouts are what a datetime-local input sends, with and without
// seconds, and RFC 3339 for a time typed by hand.
var formTimeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339}

func parseFormTime(s string) (time.Time, error) {
	for _, layout := range formTimeLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("not a time; use YYYY-MM-DDTHH:MM (UTC) or RFC 3339")
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// exceptionFilter builds the ListExceptions filter from the exceptions
// page's query: state, kind, domain, severity (enum names) and resource.
func exceptionFilter(q url.Values) (string, error) {
	var b filterBuilder
	b.enum("state", "state", q.Get("state"), exceptionStates)
	b.enum("kind", "kind", q.Get("kind"), exceptionKinds)
	b.enum("domain", "domain", q.Get("domain"), exceptionDomains)
	b.enum("severity", "severity", q.Get("severity"), exceptionSeverities)
	b.str("resource", aip.OpEq, "resource", q.Get("resource"))
	return b.String()
}

// deadLetterFilter builds the ListDeadLetters (and replay-by-filter)
// filter from consumer, subject and state.
func deadLetterFilter(q url.Values) (string, error) {
	var b filterBuilder
	b.str("consumer", aip.OpEq, "consumer", q.Get("consumer"))
	b.str("subject", aip.OpEq, "subject", q.Get("subject"))
	b.enum("state", "state", q.Get("state"), deadLetterStates)
	return b.String()
}

// auditFilter builds the ListAuditRecords filter from target, action,
// actor kind and id, and a create_time range (from inclusive, to exclusive).
func auditFilter(q url.Values) (string, error) {
	var b filterBuilder
	b.str("target", aip.OpEq, "target", q.Get("target"))
	b.str("action", aip.OpEq, "action", q.Get("action"))
	if k := strings.TrimSpace(q.Get("actor_kind")); k != "" && !validActorKind(k) {
		return "", fmt.Errorf("actor kind: %q is not one of %s", k, strings.Join(actorKinds, ", "))
	}
	b.str("actor.kind", aip.OpEq, "actor kind", q.Get("actor_kind"))
	b.str("actor.id", aip.OpEq, "actor id", q.Get("actor_id"))
	b.time("create_time", aip.OpGe, "from", q.Get("from"))
	b.time("create_time", aip.OpLt, "to", q.Get("to"))
	return b.String()
}

// actorKinds are the principal kinds of the audit trail.
var actorKinds = []string{opsevents.ActorOperator, opsevents.ActorAPIKey, opsevents.ActorService, opsevents.ActorSystem}

func validActorKind(k string) bool { return slices.Contains(actorKinds, k) }
