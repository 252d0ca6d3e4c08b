package grpcapi

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/transload/transload/platform/aip"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

func TestFilterSchemasAreValid(t *testing.T) {
	for name, s := range map[string]aip.Schema{"products": productFilter, "price lists": priceListFilter, "prices": priceFilter} {
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// filterCase is one filter and what it parses to; a nil want means the
// filter is rejected.
type filterCase[F any] struct {
	in   string
	want *F
}

// testFilter runs cases through parse: accepted filters give their typed
// value, rejected ones an INVALID_ARGUMENT *aip.FilterError on "filter".
func testFilter[F any](t *testing.T, parse func(string) (F, error), cases []filterCase[F]) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := parse(c.in)
			if c.want == nil {
				var fe *aip.FilterError
				if !errors.As(err, &fe) || status.Code(fe.GRPCStatus().Err()) != codes.InvalidArgument ||
					apierr.FieldViolations(fe.GRPCStatus().Err())[0].Field != "filter" {
					t.Fatalf("err = %v, want an invalid filter", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(*c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestProductFilter(t *testing.T) {
	testFilter(t, parseProductFilter, []filterCase[catalog.Filter]{
		{"", ptr(catalog.Filter{})},
		{`channel = "web"`, ptr(catalog.Filter{Channel: "web"})},
		{`channel = "web" AND status = ACTIVE`, ptr(catalog.Filter{Channel: "web", Status: catalog.StatusActive})},
		{`status = PRODUCT_STATUS_ON_HOLD AND category = "tools/drills" AND brand = "Acme AND Sons"`,
			ptr(catalog.Filter{Status: catalog.StatusOnHold, Category: "tools/drills", Brand: "Acme AND Sons"})},
		{`category=tools/drills`, ptr(catalog.Filter{Category: "tools/drills"})},
		{`price > 3`, nil},
		{`colour = "red"`, nil},
		{`status = SOLD`, nil},
		{`status = UNSPECIFIED`, nil},
		{`channel = "Web Shop"`, nil},
		{`category = "tools//drills"`, nil},
		{`channel = "web" OR channel = "b2b"`, nil},
		{`channel = "web" AND channel = "b2b"`, nil},
		{`brand = ""`, nil},
	})
}

func TestPriceListFilter(t *testing.T) {
	at := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	testFilter(t, parsePriceListFilter, []filterCase[pricing.ListFilter]{
		{"", ptr(pricing.ListFilter{})},
		{`currency_code = "EUR" AND channel = "web"`, ptr(pricing.ListFilter{Currency: "EUR", Channel: "web", HasChannel: true})},
		{`channel = ""`, ptr(pricing.ListFilter{HasChannel: true})},
		{`active_time = "2026-11-27T00:00:00Z"`, ptr(pricing.ListFilter{ActiveTime: at})},
		{`currency_code = "eur"`, nil},
		{`channel = "Web Shop"`, nil},
		{`active_time = "tomorrow"`, nil},
		{`priority = 1`, nil},
	})
}

func TestPriceFilter(t *testing.T) {
	testFilter(t, parsePriceFilter, []filterCase[pricing.PriceFilter]{
		{"", ptr(pricing.PriceFilter{})},
		{`sku = "DRL-1"`, ptr(pricing.PriceFilter{SKU: "DRL-1"})},
		{`sku:"DRL-*"`, ptr(pricing.PriceFilter{SKUPrefix: "DRL-"})},
		{`sku:"DRL"`, nil},
		{`sku:"*"`, nil},
		{`sku:"D*L*"`, nil},
		{`sku > "A"`, nil},
		{`currency_code = "EUR"`, nil},
	})
}
