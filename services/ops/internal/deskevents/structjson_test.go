package deskevents

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"
)

// reference is what the store wrote before structJSON: encoding/json of
// the Struct's map.
func reference(t testing.TB, s *structpb.Struct) string {
	t.Helper()
	if s == nil {
		return ""
	}
	b, err := json.Marshal(s.AsMap())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkSame(t *testing.T, s *structpb.Struct) {
	t.Helper()
	got, err := structJSON(s)
	if err != nil {
		t.Fatalf("structJSON: %v", err)
	}
	if want := reference(t, s); got != want {
		t.Errorf("structJSON\n got %s\nwant %s", got, want)
	}
}

func TestStructJSONIsEncodingJSONOfAsMap(t *testing.T) {
	tricky, err := structpb.NewStruct(map[string]any{
		"html": "<a href=\"x\">&amp;</a>", "ctl": "a\x00b\x01\x1f\b\f\n\r\t\\\"", "sep": "x\u2028y\u2029z",
		"uni": "Zürich – 東京 🚚", "empty": "", "zero": 0, "neg": -0.5, "int": 42,
		"big": 1e21, "bigger": 1.5e300, "small": 1e-7, "tiny": -2.5e-9, "edge": 1e-6, "almost": 999999999999999999999.0,
		"minor": 129900, "t": true, "f": false, "null": nil, "list": []any{1, "two", nil, []any{}, map[string]any{}},
		"nested": map[string]any{"b": map[string]any{"z": 1, "a": []any{map[string]any{"y": "<>", "x": 2}}}},
		"":       "empty key", "key with \"quotes\" & <tags>": 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, tricky)
	// Invalid UTF-8 cannot be decoded from an event (proto3 strings are
	// checked), but is encoded as encoding/json would.
	checkSame(t, &structpb.Struct{Fields: map[string]*structpb.Value{"bad": structpb.NewStringValue("ok\xffend\xc3")}})
	checkSame(t, &structpb.Struct{})
	checkSame(t, &structpb.Struct{Fields: map[string]*structpb.Value{"nokind": {}, "nilstruct": {Kind: &structpb.Value_StructValue{}},
		"nillist": {Kind: &structpb.Value_ListValue{}}}})
	if got, err := structJSON(nil); got != "" || err != nil {
		t.Errorf("nil: %q, %v", got, err)
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := structJSON(&structpb.Struct{Fields: map[string]*structpb.Value{"n": structpb.NewNumberValue(bad)}}); err == nil {
			t.Errorf("%v encoded without an error", bad)
		}
	}
	// Random structs: strings from a nasty alphabet, numbers across the
	// exponent range, nesting.
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", "0", " ", "\"", "\\", "<", ">", "&", "\n", "\x00", "\x7f", "é", "\u2028", "\x1b", "🚚", "/"}
	str := func() string {
		var b strings.Builder
		for range r.IntN(8) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	var value func(depth int) any
	value = func(depth int) any {
		switch k := r.IntN(7); {
		case k == 0:
			return str()
		case k == 1:
			return (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(60)-30))
		case k == 2:
			return float64(r.Int64N(1 << 53))
		case k == 3:
			return r.IntN(2) == 0
		case k == 4 && depth < 3:
			m := map[string]any{}
			for range r.IntN(5) {
				m[str()] = value(depth + 1)
			}
			return m
		case k == 5 && depth < 3:
			l := []any{}
			for range r.IntN(4) {
				l = append(l, value(depth+1))
			}
			return l
		default:
			return nil
		}
	}
	for range 500 {
		m := map[string]any{}
		for range r.IntN(6) {
			m[str()] = value(0)
		}
		s, err := structpb.NewStruct(m)
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, s)
	}
}

func BenchmarkStructJSON(b *testing.B) {
	s, err := structpb.NewStruct(map[string]any{"name": "orders/O-1", "state": "STATE_CONFIRMED", "lines": []any{
		map[string]any{"sku": "SKU-1", "quantity": "2", "unitPrice": map[string]any{"amountMinor": "1299", "currencyCode": "EUR"}},
		map[string]any{"sku": "SKU-2", "quantity": "1", "unitPrice": map[string]any{"amountMinor": "599", "currencyCode": "EUR"}},
	}, "createTime": "2026-12-07T20:00:00Z"})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("map+encoding/json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(s.AsMap()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("structJSON", func(b *testing.B) {
		for b.Loop() {
			if _, err := structJSON(s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
