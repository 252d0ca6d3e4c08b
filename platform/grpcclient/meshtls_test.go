package grpcclient

import (
	"testing"

	"github.com/transload/transload/platform/breaker"
)

func TestMeshPeer(t *testing.T) {
	t.Parallel()
	shared := breaker.New("erp", breaker.DefaultSettings())
	for _, tc := range []struct {
		dependency string
		b          *breaker.Breaker
		want       string
	}{
		{"inventory", nil, "inventory"},
		{"erp", nil, "erpsim"},
		{"wms", nil, "wmssim"},
		{"catalog", nil, "catalog-pricing"}, // the gateway's name for it
		{"", shared, "erpsim"},              // order's ERP connections share a breaker named erp
		{"order", shared, "order"},          // a named dependency wins
		{"", nil, "127.0.0.1:9004"},         // no name: the target, which no certificate carries
	} {
		if got := meshPeer(tc.dependency, tc.b, "127.0.0.1:9004"); got != tc.want {
			t.Errorf("meshPeer(%q, %v) = %q, want %q", tc.dependency, tc.b != nil, got, tc.want)
		}
	}
}
