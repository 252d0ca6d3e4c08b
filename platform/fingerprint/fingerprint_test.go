package fingerprint_test

import (
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/transload/transload/platform/fingerprint"
)

type line struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

type reserve struct {
	RequestID  string          `json:"-"`
	CustomerID string          `json:"customer_id"`
	Lines      []line          `json:"lines"`
	Channels   map[string]bool `json:"channels"`
	Note       string          `json:"note,omitempty"`
}

// TestOfGolden pins the encoding: the fingerprint is the hex SHA-256 of
// the JSON text shown, which is also what the services' copies computed
// (sha256 of json.Marshal), so digests stored before they switch to Of
// stay valid.
func TestOfGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		v    any
		json string
		want string
	}{
		{
			name: "struct: declaration order, json names, json:\"-\" and empty omitempty left out, map keys sorted",
			v: reserve{RequestID: "req-1", CustomerID: "C0001", Lines: []line{{"SKU-1", 2}},
				Channels: map[string]bool{"web": false, "b2b": true}},
			json: `{"customer_id":"C0001","lines":[{"sku":"SKU-1","quantity":2}],"channels":{"b2b":true,"web":false}}`,
			want: "410af36cae267556769e9509d692446c112f05da9944f03d1fc65b2baec41268",
		},
		{
			name: "several parts as one slice",
			v:    []string{"O-1", "customer asked", ""},
			json: `["O-1","customer asked",""]`,
			want: "859e16e1fb5955f9f1a2baa6b9477157acccc3a7d5e30c7068ccf19a3d7c6e7f",
		},
	} {
		if got := fingerprint.Of(tc.v); got != tc.want {
			t.Errorf("%s: Of = %s, want %s, the SHA-256 of %s", tc.name, got, tc.want, tc.json)
		}
		if got := fingerprint.Bytes([]byte(tc.json)); got != tc.want {
			t.Errorf("%s: Bytes(%s) = %s, want %s", tc.name, tc.json, got, tc.want)
		}
	}
}

func TestOfEqualAndDistinct(t *testing.T) {
	t.Parallel()
	base := reserve{RequestID: "req-1", CustomerID: "C0001", Lines: []line{{"SKU-1", 2}, {"SKU-2", 1}},
		Channels: map[string]bool{"web": true, "b2b": false}}

	same := base
	same.RequestID = "req-2" // excluded by its tag: a retry under another id
	same.Channels = map[string]bool{"b2b": false, "web": true}
	if fingerprint.Of(base) != fingerprint.Of(same) {
		t.Error("equal payloads (other request id, map built in another order) have different fingerprints")
	}

	others := map[string]any{
		"other customer":     reserve{CustomerID: "C0002", Lines: base.Lines, Channels: base.Channels},
		"other quantity":     reserve{CustomerID: "C0001", Lines: []line{{"SKU-1", 3}, {"SKU-2", 1}}, Channels: base.Channels},
		"lines swapped":      reserve{CustomerID: "C0001", Lines: []line{{"SKU-2", 1}, {"SKU-1", 2}}, Channels: base.Channels},
		"a note":             reserve{CustomerID: "C0001", Lines: base.Lines, Channels: base.Channels, Note: "x"},
		"nil lines":          reserve{CustomerID: "C0001", Channels: base.Channels},
		"empty lines":        reserve{CustomerID: "C0001", Lines: []line{}, Channels: base.Channels},
		"parts a|bc":         []string{"a", "bc"},
		"parts ab|c":         []string{"ab", "c"},
		"parts with NUL":     []string{"a\x00b"},
		"parts a|b":          []string{"a", "b"},
		"string":             "C0001",
		"number":             1,
		"time UTC":           time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		"same instant +0100": time.Date(2026, 1, 2, 4, 4, 5, 0, time.FixedZone("CET", 3600)),
	}
	seen := map[string]string{fingerprint.Of(base): "base"}
	for name, v := range others {
		fp := fingerprint.Of(v)
		if len(fp) != 64 {
			t.Errorf("%s: fingerprint %q is not 64 hex characters", name, fp)
		}
		if prev, ok := seen[fp]; ok {
			t.Errorf("%s and %s have the same fingerprint", name, prev)
		}
		seen[fp] = name
	}
}

func TestOfPanicsOnValuesJSONCannotEncode(t *testing.T) {
	t.Parallel()
	for name, v := range map[string]any{"channel": make(chan int), "NaN": math.NaN(), "func": func() {}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Of(%s) did not panic", name)
				}
			}()
			fingerprint.Of(v)
		}()
	}
}

func TestProto(t *testing.T) {
	t.Parallel()
	fp, wire, err := fingerprint.Proto(wrapperspb.String("x"))
	if err != nil {
		t.Fatal(err)
	}
	// StringValue{value: "x"} is field 1, length 1, "x".
	if want := "fbc601aefa01f8692f1ee4ca767d28f0ee54083d0bbee08bcee1f2bb3b75e3b7"; fp != want || string(wire) != "\x0a\x01x" {
		t.Errorf("Proto(\"x\") = %s, %q; want %s, %q", fp, wire, want, "\x0a\x01x")
	}

	// Map fields in another insertion order: same fingerprint, and the
	// wire bytes decode to the message.
	a, err := structpb.NewStruct(map[string]any{"sku": "SKU-1", "qty": 2, "wh": "WH-HAM", "note": "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := structpb.NewStruct(map[string]any{"note": "a", "wh": "WH-HAM", "qty": 2, "sku": "SKU-1"})
	if err != nil {
		t.Fatal(err)
	}
	fa, wa, err := fingerprint.Proto(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, _, err := fingerprint.Proto(b)
	if err != nil {
		t.Fatal(err)
	}
	if fa != fb {
		t.Error("equal messages with maps built in other orders have different fingerprints")
	}
	var back structpb.Struct
	if err := proto.Unmarshal(wa, &back); err != nil || !proto.Equal(&back, a) {
		t.Errorf("wire bytes decode to %v, %v; want the message", &back, err)
	}
	b.Fields["qty"] = structpb.NewNumberValue(3)
	if fc, _, _ := fingerprint.Proto(b); fc == fa {
		t.Error("messages that differ in one value have the same fingerprint")
	}
}
