package erp

import (
	"context"
	"fmt"
	"time"
)

// The demo contract (seeded with the demo data, so a newcomer's quote shows
// a contract): customer C0002 has a contract on part of the catalogue.
const (
	// DemoContractCustomer has the demo contract.
	DemoContractCustomer = "C0002"
	// DemoContractSKUs is how many SKUs (SKU-00001...) the contract covers:
	// the first half at a fixed price of 80 % of list, the rest 15 % off.
	DemoContractSKUs = 10
)

// Contract is a customer-specific price agreement (erp.v1
// CustomerContract): contract prices take precedence over list prices for
// the contract's customer.
type Contract struct {
	ID          string          `json:"id"`
	CustomerID  string          `json:"customerId"`
	DisplayName string          `json:"displayName"`
	Start       time.Time       `json:"start"`
	End         time.Time       `json:"end,omitzero"` // zero: open-ended
	Prices      []ContractPrice `json:"prices"`
}

// ContractPrice is the contracted price of one SKU: a fixed net unit price
// in the ERP's currency, or, when DiscountBps > 0, a discount off the
// customer's list price in basis points.
type ContractPrice struct {
	SKU            string `json:"sku"`
	UoM            string `json:"uom"`
	UnitPriceMinor int64  `json:"unitPriceMinor,omitempty"`
	DiscountBps    int32  `json:"discountBps,omitempty"`
}

// DemoContracts returns the demo contract of DemoContractCustomer.
func DemoContracts() []Contract {
	c := Contract{ID: "CTR-" + DemoContractCustomer, CustomerID: DemoContractCustomer,
		DisplayName: "Framework agreement 2026", Start: SeedTime}
	for n := 1; n <= DemoContractSKUs; n++ {
		p := ContractPrice{SKU: SKU(n), UoM: "EA"}
		if n <= DemoContractSKUs/2 {
			p.UnitPriceMinor = StandardPriceMinor(n) * 8 / 10
		} else {
			p.DiscountBps = 1500
		}
		c.Prices = append(c.Prices, p)
	}
	return []Contract{c}
}

// Contracts returns every customer contract, by id.
func (s *Service) Contracts(ctx context.Context) ([]Contract, error) {
	return s.store.Contracts(ctx)
}

// InvalidPriceChangeError names the field of a refused price change; it
// is ErrInvalidPriceChange.
type InvalidPriceChangeError struct {
	Field   string // e.g. "contracts[0].prices[1].discountBasisPoints"
	Message string
}

func (e *InvalidPriceChangeError) Error() string {
	return fmt.Sprintf("%v: %s: %s", ErrInvalidPriceChange, e.Field, e.Message)
}

// Is makes errors.Is(err, ErrInvalidPriceChange) true.
func (e *InvalidPriceChangeError) Is(target error) bool { return target == ErrInvalidPriceChange }

func invalidChange(field, format string, args ...any) error {
	return &InvalidPriceChangeError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// maxContractDiscountBps is 100 %.
const maxContractDiscountBps = 10000

// validateContract checks what needs no store: ids, window, prices (the
// store checks that the customer and SKUs exist). i is the contract's
// index in the request, for the field path.
func validateContract(i int, c Contract, seen map[string]bool) error {
	f := fmt.Sprintf("contracts[%d]", i)
	switch {
	case c.ID == "":
		return invalidChange(f+".contractId", "is required")
	case seen[c.ID]:
		return invalidChange(f+".contractId", "%s listed twice", c.ID)
	case c.CustomerID == "":
		return invalidChange(f+".customerId", "is required")
	case len(c.Prices) == 0:
		return invalidChange(f+".prices", "at least one price is required")
	case !c.End.IsZero() && !c.End.After(c.Start):
		return invalidChange(f+".endTime", "must be after startTime")
	}
	seen[c.ID] = true
	skus := map[string]bool{}
	for j, p := range c.Prices {
		pf := fmt.Sprintf("%s.prices[%d]", f, j)
		switch {
		case p.SKU == "":
			return invalidChange(pf+".sku", "is required")
		case skus[p.SKU]:
			return invalidChange(pf+".sku", "%s listed twice", p.SKU)
		case p.DiscountBps < 0 || p.DiscountBps > maxContractDiscountBps:
			return invalidChange(pf+".discountBasisPoints", "must be between 1 and %d", maxContractDiscountBps)
		case p.DiscountBps > 0 && p.UnitPriceMinor != 0:
			return invalidChange(pf, "set unitPriceMinor or discountBasisPoints, not both")
		case p.DiscountBps == 0 && p.UnitPriceMinor <= 0:
			return invalidChange(pf+".unitPriceMinor", "must be > 0 (or set discountBasisPoints)")
		}
		skus[p.SKU] = true
	}
	return nil
}
