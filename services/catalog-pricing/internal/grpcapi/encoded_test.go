package grpcapi

import (
	"bytes"
	"runtime"
	"testing"
	"time"
	"weak"

	"google.golang.org/protobuf/proto"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	commonv1 "github.com/transload/transload/gen/transload/common/v1"
)

func testQuoteResponse(total int64) *catalogv1.QuotePricesResponse {
	return &catalogv1.QuotePricesResponse{Etag: "e", PriceVersion: 3, Total: &commonv1.Money{AmountMinor: total, CurrencyCode: "EUR"},
		Lines: []*catalogv1.QuoteLine{{Sku: "SKU-1", Quantity: 2}}}
}

// TestCodecSendsPreEncodedBytes: a pre-encoded response is sent as the
// bytes proto.Marshal gave for it; an equal-looking response that was not
// pre-encoded, and other messages, are marshalled as usual; the recorded
// bytes go away with their response.
func TestCodecSendsPreEncodedBytes(t *testing.T) {
	c := Codec()
	if c.Name() != "proto" {
		t.Fatalf("codec name %q; clients send content-subtype proto", c.Name())
	}
	// m lives in the closure only, so it can be collected after it.
	k := func() weak.Pointer[catalogv1.QuotePricesResponse] {
		m := preEncode(testQuoteResponse(100))
		want, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Marshal(m)
		if err != nil || !bytes.Equal(got.Materialize(), want) {
			t.Fatalf("pre-encoded marshal = %x, %v; want %x", got.Materialize(), err, want)
		}
		return weak.Make(m)
	}()
	other := testQuoteResponse(200)
	got, err := c.Marshal(other)
	var back catalogv1.QuotePricesResponse
	if err != nil || c.Unmarshal(got, &back) != nil || back.GetTotal().GetAmountMinor() != 200 {
		t.Fatalf("a response that was not pre-encoded came back as %v (%v); want total 200", &back, err)
	}
	if _, ok := preEncoded.Load(weak.Make(other)); ok {
		t.Fatal("marshalling recorded bytes for a response nobody pre-encoded")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		if _, ok := preEncoded.Load(k); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the recorded bytes outlived their response")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
