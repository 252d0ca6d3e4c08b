package storefront

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
)

// TestListOrdersFiltersAsTheContractSays lists orders through REST with
// every filter field and ordering storefront.v1's ListOrdersRequest
// promises (purchase_order_number, state !=, create_time and update_time
// ranges, update_time ordering), against the real order service.
func TestListOrdersFiltersAsTheContractSays(t *testing.T) {
	po := fmt.Sprintf("PO-LIST-%d", time.Now().UnixNano())
	body := orderBody("C0005", line{"SKU-00071", 1})
	body["purchaseOrderNumber"] = po
	r := placeOrder(t, launcher.DemoAPIKey, "e2e-list-1", body)
	if r.Status != http.StatusOK {
		t.Fatalf("create order: %d %s", r.Status, r.Raw)
	}
	name, created := r.str("name"), r.str("createTime")
	list := func(filter, orderBy string) []map[string]any {
		t.Helper()
		q := url.Values{"filter": {filter}}
		if orderBy != "" {
			q.Set("orderBy", orderBy)
		}
		got := call(t, http.MethodGet, "/v1/orders?"+q.Encode(), launcher.DemoAPIKey, nil)
		if got.Status != http.StatusOK {
			t.Fatalf("list %q %q: %d %s", filter, orderBy, got.Status, got.Raw)
		}
		return items(got, "orders")
	}
	for _, tc := range []struct{ filter, orderBy string }{
		{`purchase_order_number = "` + po + `"`, ""},
		{`purchase_order_number = "` + po + `" AND state != STATE_CANCELLED`, ""},
		{`purchase_order_number = "` + po + `" AND create_time >= "` + created + `" AND create_time <= "` + created + `"`, ""},
		{`purchase_order_number = "` + po + `" AND update_time > "2000-01-01T00:00:00Z"`, "update_time desc"},
		{`customer_id = "C0005" AND update_time >= "` + created + `"`, "update_time"},
	} {
		found := false
		for _, o := range list(tc.filter, tc.orderBy) {
			found = found || o["name"] == name
		}
		if !found {
			t.Errorf("filter %q order_by %q does not list %s", tc.filter, tc.orderBy, name)
		}
	}
	if got := list(`purchase_order_number = "`+po+`" AND state = STATE_CANCELLED`, ""); len(got) != 0 {
		t.Errorf("state = STATE_CANCELLED lists the order, which was never cancelled: %v", got)
	}
	if got := list(`purchase_order_number = "no-such-po"`, ""); len(got) != 0 {
		t.Errorf("an unknown purchase order number lists %d orders", len(got))
	}
}
