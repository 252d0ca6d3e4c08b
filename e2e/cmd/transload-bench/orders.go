package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
)

// orderSKUs are the order load's SKUs: the twelve cheapest in erpsim's seed
// (9.99–20.99 EUR), and orderCustomers its customers: C0001–C0010, the
// demo customers allowed in channel web (credit limits 60,000–150,000
// EUR). Three lines of one unit cost about 46 EUR, so the customers' credit
// covers some 22,000 orders, more than a full run places; the seed's stock
// (200–999 units per SKU and warehouse) is topped up to orderStock first.
var orderSKUs = []string{"SKU-00179", "SKU-00358", "SKU-00037", "SKU-00216", "SKU-00395", "SKU-00074",
	"SKU-00253", "SKU-00432", "SKU-00111", "SKU-00290", "SKU-00469", "SKU-00148"}

const orderCustomers = 10

// orderStock is the availability of every load SKU the harness makes sure
// of before the order load (an ERP receipt, topUpStock): each order takes
// one unit of three of the twelve, so this covers 240,000 orders and the
// load measures placement, not refusals for lack of stock.
const orderStock = 60000

// placeOrder places order n of the load (three lines of one unit, a fresh
// idempotency key) and returns its resource name.
func placeOrder(ctx context.Context, base string, n int) (string, error) {
	body := map[string]any{
		"customerId": fmt.Sprintf("C%04d", 1+n%orderCustomers), "currencyCode": "EUR",
		"shipTo": map[string]any{"recipient": "Bench", "lines": []string{"1 Bench St"}, "locality": "Hamburg", "postalCode": "20457", "regionCode": "DE"},
		"lines": []map[string]any{
			{"sku": orderSKUs[n%len(orderSKUs)], "quantity": 1},
			{"sku": orderSKUs[(n+1)%len(orderSKUs)], "quantity": 1},
			{"sku": orderSKUs[(n+2)%len(orderSKUs)], "quantity": 1},
		},
	}
	var o struct {
		Name string `json:"name"`
	}
	idem := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), n)
	if err := callJSON(ctx, http.MethodPost, base+"/v1/orders", launcher.DemoAPIKey, idem, body, &o); err != nil {
		return "", err
	}
	if o.Name == "" {
		return "", errors.New("order answer without a name")
	}
	return o.Name, nil
}
