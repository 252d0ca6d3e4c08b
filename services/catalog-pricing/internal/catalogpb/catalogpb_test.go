package catalogpb

import (
	"testing"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// TestRuleKindParity fails when catalog.v1 gains a rule kind the pricing
// domain has no value for, or two domain kinds map to one proto kind.
func TestRuleKindParity(t *testing.T) {
	seen := map[catalogv1.RuleKind]pricing.RuleKind{}
	for k, pb := range ruleKinds {
		if other, dup := seen[pb]; dup {
			t.Errorf("%s is the mapping of both %d and %d", pb, other, k)
		}
		seen[pb] = k
	}
	for n, name := range catalogv1.RuleKind_name {
		pb := catalogv1.RuleKind(n)
		if _, ok := seen[pb]; !ok && pb != catalogv1.RuleKind_RULE_KIND_UNSPECIFIED {
			t.Errorf("proto rule kind %s has no pricing.RuleKind", name)
		}
	}
	if got := RuleKind(pricing.RuleUnspecified); got != catalogv1.RuleKind_RULE_KIND_UNSPECIFIED {
		t.Errorf("RuleKind(unspecified) = %s", got)
	}
}
