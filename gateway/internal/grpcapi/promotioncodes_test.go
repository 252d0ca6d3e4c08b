package grpcapi

import (
	"slices"
	"strings"
	"testing"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
)

// TestPromotionCodes: entered codes are normalised (upper case, sorted,
// unique) before they reach pricing and the cache decision.
func TestPromotionCodes(t *testing.T) {
	if got := promotionCodes([]string{"welcome10", "B2B5", "WELCOME10"}); !slices.Equal(got, []string{"B2B5", "WELCOME10"}) {
		t.Errorf("promotionCodes = %v", got)
	}
	if promotionCodes(nil) != nil {
		t.Error("no codes must stay nil (no cache bypass)")
	}
}

// TestPromotionCodeIssueParity: availability copies catalog's code issue
// reasons by number, so both enums must name the same reasons.
func TestPromotionCodeIssueParity(t *testing.T) {
	for n, name := range catalogv1.PromotionCodeIssue_Reason_name {
		if got := storefrontv1.PromotionCodeIssue_Reason(n).String(); got != name || !strings.HasPrefix(name, "REASON_") {
			t.Errorf("catalog %s is storefront %s", name, got)
		}
	}
	if len(catalogv1.PromotionCodeIssue_Reason_name) != len(storefrontv1.PromotionCodeIssue_Reason_name) {
		t.Error("the two reason enums differ in size")
	}
}
