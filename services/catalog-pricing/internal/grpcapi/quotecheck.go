package grpcapi

import (
	"context"
	"errors"
	"log/slog"

	"buf.build/go/protovalidate"
	"google.golang.org/grpc"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/platform/apierr"
)

// PricingServiceDesc is catalogv1.PricingService_ServiceDesc with
// QuotePrices served by quotePricesHandler; register the PricingServer with
// it (srv.RegisterService) instead of catalogv1.RegisterPricingServiceServer.
//
// Why: protovalidate was ~14 % of the CPU of a repeated 20-line quote
// (BenchmarkQuoteVsEcho, issue #11), evaluating the same handful of
// patterns per line through its generic evaluators. QuotePrices requests
// are checked by quoteRequestValid instead, which accepts exactly the
// requests protovalidate accepts (TestQuoteRequestValidMatchesProtovalidate,
// a rapid property test, and TestQuoteRequestRulesUnchanged, which fails
// when the contract's rules change); anything it does not accept goes
// through protovalidate as before, so bad input gets the same field
// violations. Every other method, and every interceptor of the chain (the
// mesh callers check included), is untouched.
func PricingServiceDesc() *grpc.ServiceDesc {
	d := catalogv1.PricingService_ServiceDesc
	d.Methods = append([]grpc.MethodDesc(nil), d.Methods...)
	for i, m := range d.Methods {
		if m.MethodName == "QuotePrices" {
			d.Methods[i].Handler = quotePricesHandler
		}
	}
	return &d
}

// checkedQuote carries a QuotePrices request through the interceptor chain.
// It is not a proto.Message, so the platform's protovalidate interceptor
// leaves it to quoteChecked, which validates it (quoteRequestValid, else
// protovalidate) before pricing.
type checkedQuote struct{ req *catalogv1.QuotePricesRequest }

// quotePricesHandler is the generated QuotePrices handler with the request
// wrapped in checkedQuote for the interceptors.
func quotePricesHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(catalogv1.QuotePricesRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	s := srv.(*PricingServer)
	if interceptor == nil {
		return s.quoteChecked(ctx, checkedQuote{in})
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: catalogv1.PricingService_QuotePrices_FullMethodName}
	return interceptor(ctx, checkedQuote{in}, info, func(ctx context.Context, req any) (any, error) {
		return s.quoteChecked(ctx, req.(checkedQuote))
	})
}

// quoteChecked validates the request as the platform's interceptor would
// (same statuses: INVALID_ARGUMENT with the field violations, INTERNAL
// when the rules cannot be evaluated) and then quotes it.
func (s *PricingServer) quoteChecked(ctx context.Context, c checkedQuote) (*catalogv1.QuotePricesResponse, error) {
	if !quoteRequestValid(c.req) {
		if err := s.validator.Validate(c.req); err != nil {
			var verr *protovalidate.ValidationError
			if errors.As(err, &verr) {
				return nil, apierr.FromValidationError(verr)
			}
			s.log.ErrorContext(ctx, "protovalidate could not evaluate rules",
				slog.String("message", string(c.req.ProtoReflect().Descriptor().FullName())), slog.Any("error", err))
			return nil, apierr.Internal()
		}
	}
	return s.QuotePrices(ctx, c.req)
}

// quoteRequestValid reports whether protovalidate accepts m, for the rules
// QuotePricesRequest and QuoteRequestLine declare (pricing_service.proto;
// TestQuoteRequestRulesUnchanged lists them):
//
//	customer_id, customer_group  empty or ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$
//	channel                      ^[a-z0-9][a-z0-9_-]{0,31}$
//	currency_code                ^[A-Z]{3}$
//	lines                        1..500 items
//	lines[].sku                  ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$
//	lines[].quantity             > 0 and ≤ 1,000,000,000
//	promotion_codes              ≤ 10 items, each ^[A-Za-z0-9][A-Za-z0-9-]{2,31}$
//	view                         a defined QuoteView value
func quoteRequestValid(m *catalogv1.QuotePricesRequest) bool {
	if c := m.GetCustomerId(); c != "" && !idPattern(c) {
		return false
	}
	if g := m.GetCustomerGroup(); g != "" && !idPattern(g) {
		return false
	}
	if !channelPattern(m.GetChannel()) || !currencyPattern(m.GetCurrencyCode()) {
		return false
	}
	lines := m.GetLines()
	if len(lines) < 1 || len(lines) > 500 {
		return false
	}
	for _, l := range lines {
		if q := l.GetQuantity(); q <= 0 || q > 1_000_000_000 || !idPattern(l.GetSku()) {
			return false
		}
	}
	codes := m.GetPromotionCodes()
	if len(codes) > 10 {
		return false
	}
	for _, c := range codes {
		if !codePattern(c) {
			return false
		}
	}
	_, defined := catalogv1.QuoteView_name[int32(m.GetView())]
	return defined
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isAlnum(c byte) bool { return isDigit(c) || isUpper(c) || isLower(c) }

// idPattern: ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$.
func idPattern(s string) bool {
	if len(s) < 1 || len(s) > 64 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// channelPattern: ^[a-z0-9][a-z0-9_-]{0,31}$.
func channelPattern(s string) bool {
	if len(s) < 1 || len(s) > 32 || !isLower(s[0]) && !isDigit(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLower(c) && !isDigit(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// currencyPattern: ^[A-Z]{3}$.
func currencyPattern(s string) bool {
	return len(s) == 3 && isUpper(s[0]) && isUpper(s[1]) && isUpper(s[2])
}

// codePattern: ^[A-Za-z0-9][A-Za-z0-9-]{2,31}$.
func codePattern(s string) bool {
	if len(s) < 3 || len(s) > 32 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}
