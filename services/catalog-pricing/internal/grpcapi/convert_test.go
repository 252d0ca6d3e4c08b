package grpcapi

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/pricing"
)

// The parity tests fail when catalog.v1 gains an enum value the domain
// has no mapping for, instead of the value falling into a default.

func TestProductStatusParity(t *testing.T) {
	for n, name := range catalogv1.ProductStatus_name {
		pb := catalogv1.ProductStatus(n)
		s := statusFromProto(pb)
		if pb == catalogv1.ProductStatus_PRODUCT_STATUS_UNSPECIFIED {
			if s != catalog.StatusUnspecified {
				t.Errorf("%s maps to %s", name, s)
			}
			continue
		}
		if s.String() != strings.TrimPrefix(name, "PRODUCT_STATUS_") || statusToProto(s) != pb {
			t.Errorf("%s maps to %s, which maps back to %s", name, s, statusToProto(s))
		}
	}
}

func TestImportModeParity(t *testing.T) {
	seen := map[catalog.ImportMode]string{}
	for n, name := range catalogv1.ImportMode_name {
		m := importModeFromProto(catalogv1.ImportMode(n))
		if catalogv1.ImportMode(n) == catalogv1.ImportMode_IMPORT_MODE_UNSPECIFIED {
			if m != catalog.ModeUpsert {
				t.Errorf("%s maps to %d, want the default upsert", name, m)
			}
			continue
		}
		if other, dup := seen[m]; dup {
			t.Errorf("%s and %s both map to mode %d", name, other, m)
		}
		seen[m] = name
	}
}

func TestOutcomeParity(t *testing.T) {
	covered := func(values map[int32]string, mapped map[int32]bool) {
		t.Helper()
		for n, name := range values {
			if n != 0 && !mapped[n] {
				t.Errorf("%s has no domain value", name)
			}
		}
	}
	rows := map[int32]bool{}
	for _, pb := range rowOutcomes {
		rows[int32(pb)] = true
	}
	covered(catalogv1.ImportRowOutcome_name, rows)
	candidates := map[int32]bool{}
	for _, pb := range outcomesToProto {
		candidates[int32(pb)] = true
	}
	covered(catalogv1.PriceCandidate_Outcome_name, candidates)
	for r := pricing.LineProductNotFound; r <= pricing.LinePriceNotFound; r++ {
		if _, ok := lineReasons[r]; !ok {
			t.Errorf("line reason %s has no status", r)
		}
	}
}

// TestActor: the audit trail names the caller of the actor header, and an
// unknown service when there is none or it names nobody.
func TestActor(t *testing.T) {
	unknown := catalog.Actor{Kind: "service", ID: "unknown"}
	for _, tc := range []struct {
		name   string
		values []string
		want   catalog.Actor
	}{
		{"api key", []string{"api_key:k1"}, catalog.Actor{Kind: "api_key", ID: "k1"}},
		{"operator", []string{"operator:key-ops"}, catalog.Actor{Kind: "operator", ID: "key-ops"}},
		{"no header", nil, unknown},
		{"no colon", []string{"k1"}, unknown},
		{"no kind", []string{":k1"}, unknown},
		{"no id", []string{"api_key:"}, unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			if tc.values != nil {
				md := metadata.MD{}
				md.Append(opsevents.ActorHeader, tc.values...)
				ctx = metadata.NewIncomingContext(ctx, md)
			}
			if got := actor(ctx); got != tc.want {
				t.Errorf("actor = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestRuleEnumParity: every non-zero value of the rule enums (loss
// reasons, code issues, rounding, combinability) has a domain value.
func TestRuleEnumParity(t *testing.T) {
	check := func(values map[int32]string, mapped []int32) {
		t.Helper()
		for n, name := range values {
			if n != 0 && !slices.Contains(mapped, n) {
				t.Errorf("%s has no domain value", name)
			}
		}
	}
	var loss, issues, rounds, combines []int32
	for _, v := range lossReasons {
		loss = append(loss, int32(v))
	}
	for _, v := range codeIssues {
		issues = append(issues, int32(v))
	}
	for _, v := range roundings {
		rounds = append(rounds, int32(v))
	}
	for _, v := range combinabilities {
		combines = append(combines, int32(v))
	}
	check(catalogv1.PriceCandidate_LossReason_name, loss)
	check(catalogv1.PromotionCodeIssue_Reason_name, issues)
	check(catalogv1.ChannelRule_Rounding_name, rounds)
	check(catalogv1.Promotion_Combinability_name, combines)
}

// TestReservationStateParity: every reservation state has a catalog.v1 value.
func TestReservationStateParity(t *testing.T) {
	seen := map[catalogv1.ReservePromotionsResponse_State]bool{}
	for _, v := range reservationStates {
		seen[v] = true
	}
	for n, name := range catalogv1.ReservePromotionsResponse_State_name {
		if n != 0 && !seen[catalogv1.ReservePromotionsResponse_State(n)] {
			t.Errorf("%s has no domain state", name)
		}
	}
}
