package grpcserver_test

import (
	"fmt"
	"testing"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/platform/grpcserver"
)

// BenchmarkAccessLog measures the JSON access log line of a successful
// unary call inside the full chain: "all" is BenchmarkUnaryChain's subject
// (the OK line is written, to io.Discard), "errors" the same chain with
// WithAccessLog(AccessLogErrors), where an OK call writes no line. Run it
// with BenchmarkUnaryChain: all/errors is the share of the line in a call,
// subject/baseline the whole chain's.
func BenchmarkAccessLog(b *testing.B) {
	for _, c := range []struct {
		name string
		mode grpcserver.AccessLog
	}{{"all", grpcserver.AccessLogAll}, {"errors", grpcserver.AccessLogErrors}} {
		b.Run(c.name, func(b *testing.B) {
			benchEcho(b, runBenchServer(b, grpcserver.WithAccessLog(c.mode)))
		})
	}
}

// BenchmarkValidateQuote measures protovalidate on a 20-line catalog.v1
// QuotePricesRequest (the interceptor's work for a storefront-sized quote)
// against decoding the same request from the wire, which every server
// does anyway: validate/decode says how much validation adds to reading
// the request.
func BenchmarkValidateQuote(b *testing.B) {
	req := &catalogv1.QuotePricesRequest{CustomerId: "C0001", Channel: "web", CurrencyCode: "EUR", AllowPartial: true,
		PromotionCodes: []string{"WELCOME10"}, View: catalogv1.QuoteView_QUOTE_VIEW_SUMMARY}
	for i := range 20 {
		req.Lines = append(req.Lines, &catalogv1.QuoteRequestLine{Sku: fmt.Sprintf("SKU-%05d", i+1), Quantity: int64(i + 1)})
	}
	wire, err := proto.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m catalogv1.QuotePricesRequest
			if err := proto.Unmarshal(wire, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("validate", func(b *testing.B) {
		v, err := protovalidate.New()
		if err != nil {
			b.Fatal(err)
		}
		if err := v.Validate(req); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := v.Validate(req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
