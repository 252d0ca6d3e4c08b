package grpcapi

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"pgregory.net/rapid"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
)

// field is how a string field is drawn: valid from the characters and
// lengths its pattern allows, edge from the same characters with lengths
// one past each bound or a wrong first character.
type field struct{ valid, edge *rapid.Generator[string] }

// bad draws a value for a field that is likely, not certainly, invalid:
// an edge value, or a valid value with a character of an alphabet of
// allowed, forbidden and multi-byte characters inserted anywhere (a
// trailing newline included).
func (f field) bad(t *rapid.T, label string) string {
	if rapid.Bool().Draw(t, label+"-kind") {
		return f.edge.Draw(t, label+"-edge")
	}
	v := f.valid.Draw(t, label)
	at := rapid.IntRange(0, len(v)).Draw(t, label+"-at")
	c := rapid.SampledFrom([]string{"a", "Z", "0", ".", "_", "-", " ", "\n", "/", "+", "é", "€", "\x00"}).Draw(t, label+"-char")
	return v[:at] + c + v[at:]
}

func charsOf(first, rest string, minRest, maxRest int) *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		f := rapid.SampledFrom([]rune(first)).Draw(t, "first")
		r := rapid.StringOfN(rapid.SampledFrom([]rune(rest)), minRest, maxRest, -1).Draw(t, "rest")
		return string(f) + r
	})
}

const (
	alnum      = "ABCXYZabcxyz0189"
	lowerDigit = "abcxyz0189"
)

var (
	idField = field{charsOf(alnum, alnum+"._-", 0, 63), rapid.OneOf(
		charsOf(alnum, alnum+"._-", 64, 64), charsOf("._-", alnum, 0, 3), rapid.Just(""))}
	channelField = field{charsOf(lowerDigit, lowerDigit+"_-", 0, 31), rapid.OneOf(
		charsOf(lowerDigit, lowerDigit+"_-", 32, 32), charsOf("_-A", lowerDigit, 0, 3), rapid.Just(""))}
	currencyField = field{rapid.StringOfN(rapid.SampledFrom([]rune("AEUZ")), 3, 3, -1),
		rapid.SampledFrom([]string{"EU", "EURO", "eur", "", "EUR\n"})}
	codeField = field{charsOf(alnum, alnum+"-", 2, 31), rapid.OneOf(
		charsOf(alnum, alnum+"-", 1, 1), charsOf(alnum, alnum+"-", 32, 32), charsOf("-_.", alnum, 2, 5))}
	validQuantity = rapid.SampledFrom([]int64{1, 3, 999_999_999, 1_000_000_000})
)

// drawValidQuoteRequest draws a request every rule accepts, with values
// at the bounds the rules allow.
func drawValidQuoteRequest(t *rapid.T) *catalogv1.QuotePricesRequest {
	m := &catalogv1.QuotePricesRequest{
		Channel:      channelField.valid.Draw(t, "channel"),
		CurrencyCode: currencyField.valid.Draw(t, "currency"),
		AllowPartial: rapid.Bool().Draw(t, "partial"),
		View:         catalogv1.QuoteView(rapid.Int32Range(0, 2).Draw(t, "view")),
	}
	if rapid.Bool().Draw(t, "has-customer") {
		m.CustomerId = idField.valid.Draw(t, "customer")
	}
	if rapid.Bool().Draw(t, "has-group") {
		m.CustomerGroup = idField.valid.Draw(t, "group")
	}
	n := rapid.SampledFrom([]int{1, 2, 20, 500}).Draw(t, "lines")
	for i := range n {
		// Most lines are plain, so 500-line requests stay cheap.
		l := &catalogv1.QuoteRequestLine{Sku: "SKU-00001", Quantity: 2}
		if i < 3 || i == n-1 {
			l = &catalogv1.QuoteRequestLine{Sku: idField.valid.Draw(t, "sku"), Quantity: validQuantity.Draw(t, "qty")}
		}
		m.Lines = append(m.Lines, l)
	}
	for range rapid.SampledFrom([]int{0, 1, 2, 10}).Draw(t, "codes") {
		m.PromotionCodes = append(m.PromotionCodes, codeField.valid.Draw(t, "code"))
	}
	return m
}

// mutate changes one field (or the line or code count) of a valid m to a
// value that is likely invalid.
func mutate(t *rapid.T, m *catalogv1.QuotePricesRequest) {
	switch rapid.IntRange(0, 9).Draw(t, "mutation") {
	case 0:
		m.CustomerId = idField.bad(t, "customer")
	case 1:
		m.CustomerGroup = idField.bad(t, "group")
	case 2:
		m.Channel = channelField.bad(t, "channel")
	case 3:
		m.CurrencyCode = currencyField.bad(t, "currency")
	case 4:
		m.Lines[rapid.IntRange(0, len(m.Lines)-1).Draw(t, "line")].Sku = idField.bad(t, "sku")
	case 5:
		m.Lines[rapid.IntRange(0, len(m.Lines)-1).Draw(t, "line")].Quantity =
			rapid.SampledFrom([]int64{-1_000_000_000, -1, 0, 1_000_000_001, 1 << 62}).Draw(t, "qty")
	case 6:
		if len(m.PromotionCodes) == 0 {
			m.PromotionCodes = []string{"OK-CODE"}
		}
		m.PromotionCodes[rapid.IntRange(0, len(m.PromotionCodes)-1).Draw(t, "code")] = codeField.bad(t, "code")
	case 7:
		m.View = catalogv1.QuoteView(rapid.SampledFrom([]int32{-1, 3, 1000}).Draw(t, "view"))
	case 8:
		if rapid.Bool().Draw(t, "no-lines") {
			m.Lines = nil
		} else {
			for len(m.Lines) <= 500 {
				m.Lines = append(m.Lines, &catalogv1.QuoteRequestLine{Sku: "SKU-00001", Quantity: 1})
			}
		}
	case 9:
		for len(m.PromotionCodes) <= 10 {
			m.PromotionCodes = append(m.PromotionCodes, "CODE-X")
		}
	}
}

// TestQuoteRequestValidMatchesProtovalidate: the pre-check accepts a
// QuotePrices request exactly when protovalidate does, so serving it in
// place of the platform's interceptor lets no bad request through and
// refuses no good one (refusals still come from protovalidate). Each case
// is a valid request, which both must accept, and ten copies of it with
// one field changed to a likely invalid value, on which both must agree.
func TestQuoteRequestValidMatchesProtovalidate(t *testing.T) {
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	var accepted, refused int
	rapid.Check(t, func(t *rapid.T) {
		base := drawValidQuoteRequest(t)
		if err := v.Validate(base); err != nil || !quoteRequestValid(base) {
			t.Fatalf("valid request: protovalidate %v, quoteRequestValid %v: %v", err, quoteRequestValid(base), prototext.Format(base))
		}
		for range 10 {
			m := proto.CloneOf(base)
			mutate(t, m)
			want := v.Validate(m) == nil
			if got := quoteRequestValid(m); got != want {
				t.Fatalf("quoteRequestValid = %v, protovalidate accepts = %v: %v", got, want, prototext.Format(m))
			}
			if want {
				accepted++
			} else {
				refused++
			}
		}
	})
	t.Logf("mutated requests: %d accepted, %d refused", accepted, refused)
	if refused == 0 {
		t.Fatal("no mutated request was invalid: the mutations test nothing")
	}
}

// quoteRequestRules are the validation rules of the QuotePrices request
// messages as quoteRequestValid implements them. If this test fails, the
// contract's rules changed: make quoteRequestValid implement the new ones
// (TestQuoteRequestValidMatchesProtovalidate must draw values around them)
// and then update this list.
var quoteRequestRules = []string{
	`transload.catalog.v1.QuotePricesRequest.channel: [buf.validate.field]: string:{pattern:"^[a-z0-9][a-z0-9_-]{0,31}$"}`,
	`transload.catalog.v1.QuotePricesRequest.currency_code: [buf.validate.field]: string:{pattern:"^[A-Z]{3}$"}`,
	`transload.catalog.v1.QuotePricesRequest.customer_group: [buf.validate.field]: ignore:IGNORE_IF_ZERO_VALUE string:{pattern:"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}`,
	`transload.catalog.v1.QuotePricesRequest.customer_id: [buf.validate.field]: ignore:IGNORE_IF_ZERO_VALUE string:{pattern:"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}`,
	`transload.catalog.v1.QuotePricesRequest.lines: [buf.validate.field]: repeated:{min_items:1 max_items:500}`,
	`transload.catalog.v1.QuotePricesRequest.promotion_codes: [buf.validate.field]: repeated:{max_items:10 items:{string:{pattern:"^[A-Za-z0-9][A-Za-z0-9-]{2,31}$"}}}`,
	`transload.catalog.v1.QuotePricesRequest.view: [buf.validate.field]: enum:{defined_only:true}`,
	`transload.catalog.v1.QuoteRequestLine.quantity: [buf.validate.field]: int64:{lte:1000000000 gt:0}`,
	`transload.catalog.v1.QuoteRequestLine.sku: [buf.validate.field]: string:{pattern:"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}`,
}

// TestQuoteRequestRulesUnchanged fails when a buf.validate rule of the
// QuotePrices request messages (their fields, oneofs or the messages
// themselves) is added, removed or changed, so quoteRequestValid cannot
// silently fall behind the contract.
func TestQuoteRequestRulesUnchanged(t *testing.T) {
	var got []string
	validateOptions := func(name protoreflect.FullName, opts protoreflect.ProtoMessage) {
		opts.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if !strings.HasPrefix(string(fd.FullName()), "buf.validate.") {
				return true
			}
			// prototext varies its spacing on purpose: normalize it.
			text := strings.Join(strings.Fields(prototext.Format(v.Message().Interface())), " ")
			text = strings.NewReplacer(": ", ":", "{ ", "{", " }", "}").Replace(text)
			got = append(got, fmt.Sprintf("%s: [%s]: %s", name, fd.FullName(), text))
			return true
		})
	}
	for _, md := range []protoreflect.MessageDescriptor{
		(&catalogv1.QuotePricesRequest{}).ProtoReflect().Descriptor(),
		(&catalogv1.QuoteRequestLine{}).ProtoReflect().Descriptor(),
	} {
		validateOptions(md.FullName(), md.Options())
		for i := range md.Fields().Len() {
			fd := md.Fields().Get(i)
			validateOptions(fd.FullName(), fd.Options())
		}
		for i := range md.Oneofs().Len() {
			od := md.Oneofs().Get(i)
			validateOptions(od.FullName(), od.Options())
		}
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(quoteRequestRules, "\n") {
		t.Fatalf("the QuotePrices request rules changed; update quoteRequestValid, then quoteRequestRules:\n%s", strings.Join(got, "\n"))
	}
}
