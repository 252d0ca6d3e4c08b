package grpcapi

import (
	"testing"

	"github.com/transload/transload/platform/aip"
)

func TestSchemasAreValid(t *testing.T) {
	for name, s := range map[string]aip.Schema{"requests": requestSchema, "shipments": shipmentSchema} {
		if err := s.Validate(); err != nil {
			t.Errorf("%s schema: %v", name, err)
		}
	}
}
