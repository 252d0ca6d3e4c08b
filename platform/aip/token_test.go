package aip

import (
	"encoding/base64"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var baseQuery = Query{
	Method: "order.v1.ListOrders", Caller: "key-1", Filter: `state = SHIPPED`, OrderBy: "create_time desc",
	Params: []string{"orders/-"},
}

func TestPageTokenRoundTrip(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, 11, 27, 9, 30, 1, 123456789, time.FixedZone("CET", 3600))
	type all struct {
		S   string
		I   int
		I32 int32
		I64 int64
		B   bool
		T   time.Time
	}
	tests := []struct {
		name string
		in   all
	}{
		{"typical", all{"o-1", 7, -3, 1 << 40, true, when}},
		{"zero values", all{}},
		{"extremes", all{strings.Repeat("x", 600), math.MaxInt, math.MinInt32, math.MinInt64, false, time.Unix(1<<40, 999999999)}},
		{"unicode and NUL", all{"Zoë\x00🚚", -1, math.MaxInt32, math.MaxInt64, true, time.Unix(-1, 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := tt.in
			tok := EncodePageToken(baseQuery, KeyOf(in.S), KeyOf(in.I), KeyOf(in.I32), KeyOf(in.I64), KeyOf(in.B), KeyOf(in.T))
			if len(tok) > MaxPageTokenLen {
				t.Fatalf("token of %d characters exceeds MaxPageTokenLen", len(tok))
			}
			var got all
			if err := DecodePageToken(tok, baseQuery, &got.S, &got.I, &got.I32, &got.I64, &got.B, &got.T); err != nil {
				t.Fatalf("DecodePageToken: %v", err)
			}
			want := in
			want.T = in.T.UTC()
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			if got.T.Location() != time.UTC {
				t.Errorf("time location = %v, want UTC", got.T.Location())
			}
		})
	}
}

func TestPageTokenNoKeys(t *testing.T) {
	t.Parallel()
	tok := EncodePageToken(baseQuery)
	if err := DecodePageToken(tok, baseQuery); err != nil {
		t.Errorf("DecodePageToken(no keys) = %v", err)
	}
}

func TestPageTokenEmptyIsFirstPage(t *testing.T) {
	t.Parallel()
	id := "untouched"
	if err := DecodePageToken("", baseQuery, &id); err != nil || id != "untouched" {
		t.Errorf(`DecodePageToken("") = %v, id %q; want nil, untouched`, err, id)
	}
}

func TestPageTokenBoundToQuery(t *testing.T) {
	t.Parallel()
	tok := EncodePageToken(baseQuery, KeyOf("o-1"))
	change := func(f func(*Query)) Query {
		q := baseQuery
		q.Params = append([]string(nil), baseQuery.Params...)
		f(&q)
		return q
	}
	tests := []struct {
		name string
		q    Query
	}{
		{"method", change(func(q *Query) { q.Method = "order.v1.ListReturns" })},
		{"caller", change(func(q *Query) { q.Caller = "key-2" })},
		{"no caller", change(func(q *Query) { q.Caller = "" })},
		{"filter", change(func(q *Query) { q.Filter = `state = RECEIVED` })},
		{"filter spacing", change(func(q *Query) { q.Filter = `state=SHIPPED` })},
		{"order_by", change(func(q *Query) { q.OrderBy = "create_time" })},
		{"param", change(func(q *Query) { q.Params[0] = "orders/o-9" })},
		{"extra param", change(func(q *Query) { q.Params = append(q.Params, "") })},
		{"no params", change(func(q *Query) { q.Params = nil })},
		// Length prefixes keep fields apart: moving text between two
		// fields changes the digest.
		{"shifted boundary", change(func(q *Query) { q.Method, q.Caller = "order.v1.ListOrderskey-1", "" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var id string
			err := DecodePageToken(tok, tt.q, &id)
			var pe *PageTokenError
			if !errors.As(err, &pe) || !strings.Contains(pe.Msg, "belongs to another query") {
				t.Errorf("DecodePageToken with another %s = %v, want a PageTokenError for another query", tt.name, err)
			}
		})
	}
}

func TestPageTokenErrors(t *testing.T) {
	t.Parallel()
	valid := EncodePageToken(baseQuery, KeyOf("o-1"), KeyOf(int64(5)))
	raw, err := base64.RawURLEncoding.DecodeString(valid)
	if err != nil {
		t.Fatal(err)
	}
	// reseal re-computes the checksum, as a client crafting a token could,
	// to reach the checks behind it.
	reseal := func(body []byte) string {
		return base64.RawURLEncoding.EncodeToString(append(body, checksum(body)...))
	}
	body := raw[:len(raw)-checksumLen]
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)/2] ^= 0x01
	otherVersion := append([]byte{2}, body[1:]...)
	extra := append(append([]byte(nil), body...), 0)
	badTag := append([]byte(nil), body...)
	badTag[1+digestLen+1] = 'x'
	manyKeys := append(append([]byte(nil), body[:1+digestLen]...), 200)

	tests := []struct {
		name, token, msg string
	}{
		{"not base64", "!!!", "not one this service issued"},
		{"padding", valid + "==", "not one this service issued"},
		{"newline inside", valid[:4] + "\n" + valid[4:], "not one this service issued"},
		{"standard alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(valid) + "+/", "not one this service issued"},
		{"too short", base64.RawURLEncoding.EncodeToString([]byte{1, 2, 3}), "not one this service issued"},
		{"too long", strings.Repeat("A", MaxPageTokenLen+1), "longer than 1024"},
		{"truncated", valid[:len(valid)-4], "damaged"},
		{"flipped bit", base64.RawURLEncoding.EncodeToString(flipped), "damaged"},
		{"old JSON token", base64.RawURLEncoding.EncodeToString([]byte(`{"f":"abc","t":1,"o":"o-1"}`)), "damaged"},
		{"other version", reseal(otherVersion), "another version"},
		{"trailing bytes", reseal(extra), "malformed"},
		{"unknown key tag", reseal(badTag), "malformed"},
		{"too many keys", reseal(manyKeys), "malformed"},
		{"fewer keys", EncodePageToken(baseQuery, KeyOf("o-1")), "does not fit"},
		{"more keys", EncodePageToken(baseQuery, KeyOf("o-1"), KeyOf(int64(5)), KeyOf(true)), "does not fit"},
		{"other key types", EncodePageToken(baseQuery, KeyOf(int64(1)), KeyOf("o-1")), "does not fit"},
		{"zero Key", EncodePageToken(baseQuery, Key{}, KeyOf(int64(5))), "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var id string
			var n int64
			err := DecodePageToken(tt.token, baseQuery, &id, &n)
			var pe *PageTokenError
			if !errors.As(err, &pe) || !strings.Contains(pe.Msg, tt.msg) {
				t.Fatalf("DecodePageToken(%q) = %v, want a PageTokenError containing %q", tt.token, err, tt.msg)
			}
			if !errors.Is(err, ErrInvalidPageToken) {
				t.Errorf("errors.Is(%v, ErrInvalidPageToken) = false", err)
			}
		})
	}
}

func TestPageTokenIntRange(t *testing.T) {
	t.Parallel()
	tok := EncodePageToken(baseQuery, KeyOf(int64(math.MaxInt32)+1))
	var n int32
	if err := DecodePageToken(tok, baseQuery, &n); !errors.Is(err, ErrInvalidPageToken) {
		t.Errorf("decode 2^31 into *int32 = %v, want ErrInvalidPageToken", err)
	}
}

func TestPageTokenUnsupportedDestination(t *testing.T) {
	t.Parallel()
	tok := EncodePageToken(baseQuery, KeyOf(1))
	var u uint
	err := DecodePageToken(tok, baseQuery, &u)
	if err == nil || errors.Is(err, ErrInvalidPageToken) {
		t.Errorf("decode into *uint = %v, want a plain error (a bug of the caller, not of the client)", err)
	}
}

func TestPageTokenDeterministic(t *testing.T) {
	t.Parallel()
	a := EncodePageToken(baseQuery, KeyOf("o-1"), KeyOf(time.Unix(5, 0)))
	b := EncodePageToken(baseQuery, KeyOf("o-1"), KeyOf(time.Unix(5, 0).In(time.FixedZone("X", 7200))))
	if a != b {
		t.Errorf("tokens differ for the same instant in two zones: %q vs %q", a, b)
	}
}
