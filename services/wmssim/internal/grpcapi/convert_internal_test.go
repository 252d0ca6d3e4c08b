package grpcapi

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/services/wmssim/internal/wms"
)

// numbers converts each domain value with conv and returns the proto
// numbers, failing for a value that has no proto value (conversion by
// name yields the zero value then, which would go out as UNSPECIFIED).
func numbers[T ~string](t *testing.T, values []T, conv func(T) protoreflect.Enum) []protoreflect.EnumNumber {
	t.Helper()
	var out []protoreflect.EnumNumber
	for _, v := range values {
		n := conv(v).Number()
		if n == 0 {
			t.Errorf("domain value %q has no %s value", v, conv(v).Descriptor().FullName())
		}
		out = append(out, n)
	}
	return out
}

// The domain enums are the contract's value names without their prefix,
// converted by name. Lifecycle states, conditions and dispositions are
// the whole enum in both directions, so a value added to the contract
// fails here until the simulator knows it; rejection reasons are the
// subset the simulator produces, each of which must exist in the contract.
func TestDomainEnumsMatchTheContract(t *testing.T) {
	t.Parallel()
	complete := []struct {
		name string
		got  func(t *testing.T) []protoreflect.EnumNumber
		enum protoreflect.EnumDescriptor
	}{
		{"State", func(t *testing.T) []protoreflect.EnumNumber {
			return numbers(t, []wms.State{wms.StateAccepted, wms.StateRejected, wms.StateCancelled, wms.StatePicked, wms.StatePacked,
				wms.StateShipped, wms.StateInTransit, wms.StateDelivered, wms.StateException},
				func(s wms.State) protoreflect.Enum { return stateToProto(s) })
		}, wmsv1.ShipmentRequest_STATE_UNSPECIFIED.Descriptor()},
		{"ReturnState", func(t *testing.T) []protoreflect.EnumNumber {
			return numbers(t, []wms.ReturnState{wms.ReturnExpected, wms.ReturnRejected, wms.ReturnCancelled, wms.ReturnPartiallyReceived, wms.ReturnReceived},
				func(s wms.ReturnState) protoreflect.Enum { return returnStateToProto(s) })
		}, wmsv1.ExpectedReturn_STATE_UNSPECIFIED.Descriptor()},
		{"Condition", func(t *testing.T) []protoreflect.EnumNumber {
			return numbers(t, []wms.Condition{wms.ConditionNew, wms.ConditionOpened, wms.ConditionUsed, wms.ConditionDamaged, wms.ConditionDefective, wms.ConditionWrongItem},
				func(c wms.Condition) protoreflect.Enum { return conditionToProto(c) })
		}, wmsv1.ReturnCondition_RETURN_CONDITION_UNSPECIFIED.Descriptor()},
		{"Disposition", func(t *testing.T) []protoreflect.EnumNumber {
			return numbers(t, []wms.Disposition{wms.DispositionRestock, wms.DispositionQuarantine, wms.DispositionScrap},
				func(d wms.Disposition) protoreflect.Enum { return dispositionToProto(d) })
		}, wmsv1.ReturnDisposition_RETURN_DISPOSITION_UNSPECIFIED.Descriptor()},
		{"ServiceLevel", func(t *testing.T) []protoreflect.EnumNumber {
			var levels []string
			values := wmsv1.ServiceLevel_SERVICE_LEVEL_UNSPECIFIED.Descriptor().Values()
			for i := range values.Len() {
				if n := values.Get(i).Number(); n != 0 {
					levels = append(levels, serviceLevelFromProto(wmsv1.ServiceLevel(n)))
				}
			}
			return numbers(t, levels, func(l string) protoreflect.Enum { return serviceLevelToProto(l) })
		}, wmsv1.ServiceLevel_SERVICE_LEVEL_UNSPECIFIED.Descriptor()},
	}
	for _, tt := range complete {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.got(t)
			values := tt.enum.Values()
			for i := range values.Len() {
				if v := values.Get(i); v.Number() != 0 && !slices.Contains(got, v.Number()) {
					t.Errorf("%s has no domain value", v.Name())
				}
			}
			if len(got) != values.Len()-1 {
				t.Errorf("%d domain values for the %d values of %s", len(got), values.Len()-1, tt.enum.FullName())
			}
		})
	}
	t.Run("RejectionReason", func(t *testing.T) {
		numbers(t, []wms.RejectionReason{wms.RejectionUnknownWarehouse, wms.RejectionCapacity, wms.RejectionOther},
			func(r wms.RejectionReason) protoreflect.Enum { return rejectionToProto(r) })
		// Returns are rejected for an unknown warehouse only.
		numbers(t, []wms.RejectionReason{wms.RejectionUnknownWarehouse, wms.RejectionOther},
			func(r wms.RejectionReason) protoreflect.Enum { return returnRejectionToProto(r) })
	})
}
