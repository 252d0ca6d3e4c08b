package erpclient

import (
	"testing"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
)

// TestSalesStateParity fails when erp.v1 gains a sales state the import
// does not map to a catalog status (product's switch would leave it
// UNSPECIFIED, which Validate rejects).
func TestSalesStateParity(t *testing.T) {
	c := &Client{}
	for n, name := range erpv1.Product_SalesState_name {
		if got := c.product(&erpv1.Product{SalesState: erpv1.Product_SalesState(n)}).Status; got == catalog.StatusUnspecified {
			t.Errorf("sales state %s maps to no catalog status", name)
		}
	}
}
