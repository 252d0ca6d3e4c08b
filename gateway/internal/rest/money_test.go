package rest

import (
	"math"
	"strconv"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
)

// TestZeroAmountsWithoutTheSentinel covers the answers the sentinel pass
// of marshalWithZeroAmounts must not handle itself: the output is what the
// re-tokenizing pass (withZeroAmounts) writes, and the caller's message is
// never changed.
func TestZeroAmountsWithoutTheSentinel(t *testing.T) {
	t.Parallel()
	m := newMarshaler()
	sentinel := strconv.FormatInt(math.MinInt64, 10)
	for name, tc := range map[string]struct {
		msg  proto.Message
		want string
	}{
		"a string spells the sentinel": {
			msg: &storefrontv1.Product{
				Name:       "products/P1",
				ListPrice:  &commonv1.Money{CurrencyCode: "EUR"},
				Attributes: map[string]string{"amountMinor": sentinel},
			},
			want: `{"name":"products/P1","listPrice":{"amountMinor":"0","currencyCode":"EUR"},` +
				`"attributes":{"amountMinor":"` + sentinel + `"}}`,
		},
		"a real amount equals the sentinel": {
			msg: &storefrontv1.Order{
				Name:     "orders/1",
				Subtotal: &commonv1.Money{AmountMinor: math.MinInt64, CurrencyCode: "EUR"},
				Tax:      &commonv1.Money{CurrencyCode: "EUR"},
			},
			want: `{"name":"orders/1","subtotal":{"amountMinor":"` + sentinel + `","currencyCode":"EUR"},` +
				`"tax":{"amountMinor":"0","currencyCode":"EUR"}}`,
		},
		"money itself": {msg: &commonv1.Money{CurrencyCode: "EUR"}, want: `{"amountMinor":"0","currencyCode":"EUR"}`},
	} {
		t.Run(name, func(t *testing.T) {
			before := proto.Clone(tc.msg)
			got, err := m.Marshal(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, got, []byte(tc.want)) {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if !proto.Equal(before, tc.msg) {
				t.Errorf("Marshal changed its argument: %v, was %v", tc.msg, before)
			}
		})
	}
}

// TestZeroAmountsSentinelMatchesRewrite checks the sentinel pass against
// the re-tokenizing one on an order with zero amounts in nested lists.
func TestZeroAmountsSentinelMatchesRewrite(t *testing.T) {
	t.Parallel()
	o := benchOrder()
	got, err := newMarshaler().Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	data, err := protojson.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	want, err := withZeroAmounts(data, o.ProtoReflect().Descriptor())
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, got, want) {
		t.Errorf("sentinel pass %s\nrewrite      %s", got, want)
	}
	if n, _ := markZeroAmounts(proto.Clone(o).ProtoReflect()); n != 4 {
		t.Errorf("marked %d zero amounts, want 4", n)
	}
}

// benchOrder is an order answer as CreateOrder returns it before the ERP
// confirmed: three lines (one a free gift), tax and shipping still zero.
func benchOrder() *storefrontv1.Order {
	eur := func(n int64) *commonv1.Money { return &commonv1.Money{AmountMinor: n, CurrencyCode: "EUR"} }
	o := &storefrontv1.Order{
		Name: "orders/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", CustomerId: "C0001", CurrencyCode: "EUR",
		Subtotal: eur(5997), Tax: eur(0), ShippingCharge: eur(0), Total: eur(5997), Etag: "v1",
	}
	for i := range 3 {
		price := int64(1999)
		if i == 2 {
			price = 0 // a free gift line
		}
		o.Lines = append(o.Lines, &storefrontv1.OrderLine{
			Sku: "SKU-0000" + strconv.Itoa(i), Quantity: 1, UnitPrice: eur(price), ExtendedPrice: eur(price),
			PriceExplanation: &storefrontv1.PriceExplanation{ListUnitPrice: eur(1999)},
		})
	}
	return o
}

// BenchmarkMarshalZeroAmounts compares, in one run, the answer of a placed
// order through the sentinel pass and through the re-tokenizing pass it
// replaced (protojson marshal, then withZeroAmounts).
func BenchmarkMarshalZeroAmounts(b *testing.B) {
	m := newMarshaler()
	o := benchOrder()
	b.Run("sentinel", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Marshal(o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rewrite", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			data, err := m.JSONPb.Marshal(o)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := withZeroAmounts(data, o.ProtoReflect().Descriptor()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
