package aip

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseFilter checks that no input panics, every error is a
// *FilterError pointing inside the input, and every accepted filter
// renders to a canonical form that parses back to the same terms.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"",
		`state = SHIPPED`,
		`customer_id = "C-100" AND state = CONFIRMED`,
		`create_time >= "2026-11-27T00:00:00Z" AND create_time < "2026-11-28T00:00:00Z"`,
		`available > 0`,
		`sku:"DRL-*"`,
		`active = true AND quantity <= -3 AND x != y`,
		`a = "say \"hi\" \\ bye"`,
		`labels.env = prod`,
		`city = München AND name = "Zoë 🚚"`,
		`a = "unterminated`,
		`a = "bad \n escape"`,
		`a = 1 OR b = 2`,
		`NOT a = 1`,
		`(a = 1)`,
		`a = 1 AND`,
		`a == 1`,
		`a = 'x'`,
		"a = \"\xff\"",
		`a=1AND b=2`,
		`state = STATE_SHIPPED AND state = SHIPPED`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseFilter(s)
		if err != nil {
			var fe *FilterError
			if !errors.As(err, &fe) || fe.Pos < 0 || fe.Pos > len(s) || fe.Msg == "" {
				t.Fatalf("ParseFilter(%q) error %v: want a *FilterError with 0 <= Pos <= %d", s, err, len(s))
			}
			return
		}
		canon := got.String()
		again, err := ParseFilter(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if diff := cmp.Diff(got.Terms, again.Terms, ignorePos); diff != "" {
			t.Fatalf("%q → %q changes the terms (-first +again):\n%s", s, canon, diff)
		}
		if again.String() != canon {
			t.Fatalf("String is not stable: %q → %q", canon, again.String())
		}
		// The schema layer reads the same syntax and never panics either.
		if _, err := testSchema.Parse(s); err != nil && !errors.Is(err, ErrInvalidFilter) {
			t.Fatalf("Schema.Parse(%q) error %v is not ErrInvalidFilter", s, err)
		}
	})
}

// FuzzDecodePageToken checks that no token panics the decoder, that every
// rejection is a *PageTokenError, that a token encoded for a query
// decodes to the same keys for that query, and that it is rejected for a
// query with another filter or caller.
func FuzzDecodePageToken(f *testing.F) {
	q := func(filter string) Query { return Query{Method: "m", Caller: "c", Filter: filter} }
	seedTime := time.Date(2026, 11, 27, 9, 30, 0, 5, time.UTC)
	for _, s := range []struct {
		token, filter, id string
		n, sec            int64
		nsec              uint32
	}{
		{"", "", "", 0, 0, 0},
		{EncodePageToken(q(`state = SHIPPED`), KeyOf("o-1"), KeyOf(int64(5)), KeyOf(seedTime)), `state = SHIPPED`, "o-1", 5, seedTime.Unix(), 5},
		{EncodePageToken(q(""), KeyOf(7)), "", "x", -1, -62135596800, 0},
		{base64.RawURLEncoding.EncodeToString([]byte(`{"f":"abc","t":1,"o":"o-1"}`)), "", "", 1, 1, 1},
		{base64.RawURLEncoding.EncodeToString([]byte("c1|1764235800000000|C-100")), "", "C-100", 1 << 62, 1 << 40, 999999999},
		{"!!!", "a = 1", "\x00", -1 << 63, -1 << 63, 1 << 31},
		{"AQ", "", "", 0, 0, 0},
	} {
		f.Add(s.token, s.filter, s.id, s.n, s.sec, s.nsec)
	}
	f.Fuzz(func(t *testing.T, token, filter, id string, n, sec int64, nsec uint32) {
		// Arbitrary tokens: reject cleanly, or decode to keys that encode
		// back to a token with the same keys.
		var gotID string
		var gotN int64
		var gotT time.Time
		if err := DecodePageToken(token, q(filter), &gotID, &gotN, &gotT); err != nil {
			var pe *PageTokenError
			if !errors.As(err, &pe) {
				t.Fatalf("DecodePageToken(%q) error %v is not a *PageTokenError", token, err)
			}
		} else if token != "" {
			re := EncodePageToken(q(filter), KeyOf(gotID), KeyOf(gotN), KeyOf(gotT))
			var id2 string
			var n2 int64
			var t2 time.Time
			if err := DecodePageToken(re, q(filter), &id2, &n2, &t2); err != nil || id2 != gotID || n2 != gotN || !t2.Equal(gotT) {
				t.Fatalf("re-encoded token decodes to (%q, %d, %v, %v), want (%q, %d, %v)", id2, n2, t2, err, gotID, gotN, gotT)
			}
		}

		// Encoded tokens: round trip with the same query, fail with another.
		when := time.Unix(sec, int64(nsec%uint32(time.Second)))
		tok := EncodePageToken(q(filter), KeyOf(id), KeyOf(n), KeyOf(when))
		if len(id) < 600 && len(tok) > MaxPageTokenLen {
			t.Fatalf("token for a %d-byte id is %d characters", len(id), len(tok))
		}
		if len(tok) > MaxPageTokenLen {
			return // rejected by length; the check above bounds when
		}
		var rid string
		var rn int64
		var rt time.Time
		if err := DecodePageToken(tok, q(filter), &rid, &rn, &rt); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if rid != id || rn != n || rt.Unix() != when.Unix() || rt.Nanosecond() != when.Nanosecond() {
			t.Fatalf("round trip = (%q, %d, %v), want (%q, %d, %v)", rid, rn, rt, id, n, when)
		}
		for _, other := range []Query{q(filter + " "), {Method: "m", Caller: "c2", Filter: filter}} {
			if err := DecodePageToken(tok, other, &rid, &rn, &rt); !errors.Is(err, ErrInvalidPageToken) {
				t.Fatalf("token for %+v accepted for %+v (err %v)", q(filter), other, err)
			}
		}
	})
}
