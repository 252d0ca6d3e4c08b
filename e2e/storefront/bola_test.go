package storefront

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"

	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"

	"github.com/transload/transload/deploy/local/launcher"
	"github.com/transload/transload/platform/testharness/wait"
)

// Issue #14, the BOLA matrix. Every storefront REST route, read from the
// google.api.http options of the compiled storefront.v1 descriptor (the
// same options the gateway builds its REST route table from, so a route
// added to the contract is in the matrix without anyone listing it), is
// called with every kind of key against objects of customer A (C0011,
// channel b2b): A's own key, the b2b channel key, customer B's key
// (C0012, b2b), the web channel's key, no key, an unknown key, an operator
// key and a viewer key. The expectation table below says what each kind
// gets; an RPC missing from it fails the test, so a new route is
// classified on purpose.
//
// Chosen as an e2e test rather than a gateway test with fakes because the
// ownership of webhook subscriptions and deliveries is decided in the
// notify service and that of page tokens and idempotency keys in the order
// service: fakes would test the fakes. The matrix uses its own customers
// (C0011, C0012), its own SKU and idempotency keys, and only the
// subscriptions it creates (deleted when it ends), so it holds in any
// order.

// bolaKind is a kind of caller in the matrix.
type bolaKind int

const (
	bolaOwner        bolaKind = iota // key bound to customer A
	bolaChannel                      // A's channel, not bound to a customer
	bolaOtherCust                    // key bound to customer B, same channel
	bolaOtherChannel                 // another channel's key
	bolaNoKey                        // no credentials
	bolaUnknownKey                   // a key the gateway does not know
	bolaOperator                     // ops key, role operator
	bolaViewer                       // ops key, role viewer
)

var bolaKinds = []struct {
	kind bolaKind
	name string
	key  string
}{
	{bolaOwner, "customer A", launcher.DemoC0011APIKey},
	{bolaChannel, "channel key", launcher.DemoB2BAPIKey},
	{bolaOtherCust, "customer B", launcher.DemoC0012APIKey},
	{bolaOtherChannel, "other channel", launcher.DemoAPIKey},
	{bolaNoKey, "no key", ""},
	{bolaUnknownKey, "unknown key", "bola-unknown-key-0000"},
	{bolaOperator, "operator key", launcher.DemoOperatorAPIKey},
	{bolaViewer, "viewer key", launcher.DemoViewerAPIKey},
}

const (
	bolaCustomerA = "C0011"
	bolaCustomerB = "C0012"
	bolaSKU       = "SKU-00321"
	// bolaB2BPrice is in the price explanation of every price of channel
	// b2b: erpsim's demo data prices b2b from the list PL-B2B-EUR and the
	// channel rule B2B-NET, web from PL-EUR.
	bolaB2BPrice = "B2B"
)

// bolaAccess is how an RPC decides who may call it.
type bolaAccess int

const (
	// bolaOwned: the path names an object of A. A and A's channel key reach
	// it; B and the other channel get exactly the answer for a missing one.
	bolaOwned bolaAccess = iota
	// bolaCatalog: the channel's catalog, any storefront key.
	bolaCatalog
	// bolaForA: the body acts for customer A. A and the channel key may;
	// B gets CUSTOMER_MISMATCH; the other channel may not order for A and
	// never sees A's channel's prices (a channel key acts for whichever
	// customer it names, within its own channel).
	bolaForA
	// bolaScoped: a collection of the caller's own objects; any storefront
	// key, and the answer never holds A's objects unless the caller is A
	// or A's channel.
	bolaScoped
)

// bolaTable is the expectation table: every storefront RPC with a REST
// route and how it is authorized.
var bolaTable = map[string]bolaAccess{
	"CheckAvailability":               bolaForA,
	"GetProduct":                      bolaCatalog,
	"ListProducts":                    bolaCatalog,
	"QuotePrices":                     bolaForA,
	"CreateOrder":                     bolaForA,
	"GetOrder":                        bolaOwned,
	"ListOrders":                      bolaScoped,
	"CancelOrder":                     bolaOwned,
	"CancelReturn":                    bolaOwned,
	"ListShipments":                   bolaOwned,
	"GetShipment":                     bolaOwned,
	"CreateReturn":                    bolaOwned,
	"GetReturn":                       bolaOwned,
	"ListReturns":                     bolaOwned,
	"CreateWebhookSubscription":       bolaScoped,
	"GetWebhookSubscription":          bolaOwned,
	"ListWebhookSubscriptions":        bolaScoped,
	"DeleteWebhookSubscription":       bolaOwned,
	"TestWebhookSubscription":         bolaOwned,
	"ListWebhookDeliveryRecords":      bolaOwned,
	"GetWebhookDeliveryRecord":        bolaOwned,
	"RedeliverWebhookDelivery":        bolaOwned,
	"EnableWebhookSubscription":       bolaOwned,
	"RotateWebhookSubscriptionSecret": bolaOwned,
}

// bolaRoute is one REST binding of a storefront RPC.
type bolaRoute struct {
	rpc, method, template, body string
}

// bolaRoutes reads every REST route of storefront.v1 from its descriptor.
func bolaRoutes(t *testing.T) []bolaRoute {
	t.Helper()
	sd := storefrontv1.File_transload_storefront_v1_storefront_service_proto.Services().ByName("StorefrontService")
	if sd == nil {
		t.Fatal("storefront.v1 has no StorefrontService")
	}
	var out []bolaRoute
	for i := range sd.Methods().Len() {
		md := sd.Methods().Get(i)
		rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
		if rule == nil {
			continue
		}
		for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
			br := bolaRoute{rpc: string(md.Name()), body: r.GetBody()}
			switch p := r.GetPattern().(type) {
			case *annotations.HttpRule_Get:
				br.method, br.template = http.MethodGet, p.Get
			case *annotations.HttpRule_Post:
				br.method, br.template = http.MethodPost, p.Post
			case *annotations.HttpRule_Delete:
				br.method, br.template = http.MethodDelete, p.Delete
			case *annotations.HttpRule_Patch:
				br.method, br.template = http.MethodPatch, p.Patch
			case *annotations.HttpRule_Put:
				br.method, br.template = http.MethodPut, p.Put
			default:
				t.Fatalf("%s: unsupported http rule %T", md.Name(), p)
			}
			out = append(out, br)
		}
	}
	// Deletions last, so A's subscription outlives every other call on it.
	slices.SortStableFunc(out, func(a, b bolaRoute) int {
		return boolInt(a.method == http.MethodDelete) - boolInt(b.method == http.MethodDelete)
	})
	if len(out) == 0 {
		t.Fatal("storefront.v1 has no REST routes")
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// bolaFixture holds A's objects (by the resource pattern that names them)
// and names of the same shape that do not exist.
type bolaFixture struct {
	owned   map[string]string // pattern, e.g. "orders/*/shipments/*" -> A's object
	missing map[string]string // pattern -> a name of that shape nobody has
	// ids are the ids in A's object names, none of which may appear in an
	// answer to B or the other channel.
	ids []string
	// idem is the Idempotency-Key of A's second order, placed with
	// orderBody(A, bolaSKU x1).
	idem string
	// pageToken continues A's ListOrders after its first order.
	pageToken string
}

var bolaVariable = regexp.MustCompile(`\{([a-z_.]+)(?:=([^}]*))?\}`)

// fill replaces the template's variables by the names of objects.
func (f *bolaFixture) fill(t *testing.T, template string, names map[string]string) string {
	t.Helper()
	return bolaVariable.ReplaceAllStringFunc(template, func(v string) string {
		m := bolaVariable.FindStringSubmatch(v)
		pattern := m[2]
		if pattern == "" {
			pattern = "*"
		}
		name, ok := names[pattern]
		if !ok {
			t.Fatalf("template %s: the matrix has no object for %q; add one to the fixture", template, pattern)
		}
		return name
	})
}

func newBOLAFixture(t *testing.T) *bolaFixture {
	t.Helper()
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(hooks.Close)
	run := time.Now().UnixNano()
	f := &bolaFixture{idem: fmt.Sprintf("e2e-bola-%d-2", run)}
	owner := launcher.DemoC0011APIKey

	sub := call(t, http.MethodPost, "/v1/webhookSubscriptions", owner, map[string]any{
		"targetUri": hooks.URL + "/bola", "eventTypes": []string{"WEBHOOK_EVENT_TYPE_ORDER_STATUS_CHANGED"},
	}, fmt.Sprintf("Idempotency-Key: e2e-bola-sub-%d", run))
	if sub.Status != http.StatusOK {
		t.Fatalf("A subscribes: %d %s", sub.Status, sub.Raw)
	}
	subName := sub.str("name")
	t.Cleanup(func() { call(t, http.MethodDelete, "/v1/"+subName, owner, nil) })

	var orders []string
	for i, idem := range []string{fmt.Sprintf("e2e-bola-%d-1", run), f.idem} {
		r := placeOrder(t, owner, idem, orderBody(bolaCustomerA, line{bolaSKU, 1}))
		if r.Status != http.StatusOK {
			t.Fatalf("A's order %d: %d %s", i, r.Status, r.Raw)
		}
		orders = append(orders, r.str("name"))
	}
	order := orders[0]
	wait.Eventually(t, 90*time.Second, order+" delivered", func() error {
		g := call(t, http.MethodGet, "/v1/"+order, owner, nil)
		return wait.Check(g.str("state") == "STATE_DELIVERED", "state %s", g.str("state"))
	})
	ships := call(t, http.MethodGet, "/v1/"+order+"/shipments", owner, nil)
	shipment := firstName(ships.Body["shipments"])
	if shipment == "" {
		t.Fatalf("%s delivered without a shipment: %s", order, ships.Raw)
	}
	ret := createReturn(t, owner, order, fmt.Sprintf("e2e-bola-ret-%d", run), returnBody("RESOLUTION_REFUND", line{bolaSKU, 1}))
	if ret.Status != http.StatusOK {
		t.Fatalf("A's return: %d %s", ret.Status, ret.Raw)
	}
	var delivery string
	wait.Eventually(t, 60*time.Second, "a webhook delivery of A's subscription", func() error {
		d := call(t, http.MethodGet, "/v1/"+subName+"/deliveries", owner, nil)
		delivery = firstName(d.Body["webhookDeliveryRecords"])
		return wait.Check(delivery != "", "none yet: %d %s", d.Status, d.Raw)
	})
	page := call(t, http.MethodGet, "/v1/orders?pageSize=1", owner, nil)
	if f.pageToken = page.str("nextPageToken"); page.Status != http.StatusOK || f.pageToken == "" {
		t.Fatalf("A's first page of two orders: %d %s", page.Status, page.Raw)
	}

	f.owned = map[string]string{
		"orders/*":                            order,
		"orders/*/shipments/*":                shipment,
		"orders/*/returns/*":                  ret.str("name"),
		"webhookSubscriptions/*":              subName,
		"webhookSubscriptions/*/deliveries/*": delivery,
		"products/*":                          "products/" + bolaSKU,
	}
	missingOrder := fmt.Sprintf("orders/bola-missing-%d", run)
	missingSub := fmt.Sprintf("webhookSubscriptions/bola-missing-%d", run)
	f.missing = map[string]string{
		"orders/*":                            missingOrder,
		"orders/*/shipments/*":                missingOrder + "/shipments/bola-missing",
		"orders/*/returns/*":                  missingOrder + "/returns/bola-missing",
		"webhookSubscriptions/*":              missingSub,
		"webhookSubscriptions/*/deliveries/*": missingSub + "/deliveries/bola-missing",
		"products/*":                          "products/" + bolaSKU,
	}
	for _, n := range []string{order, orders[1], shipment, ret.str("name"), subName, delivery} {
		id := n[strings.LastIndex(n, "/")+1:]
		if len(id) < 8 {
			t.Fatalf("%s: an id this short could appear in any answer by chance; the leak check needs longer ids", n)
		}
		f.ids = append(f.ids, id)
	}
	return f
}

// withFreshSubscription returns the owned names with a new subscription of
// A in place of the fixture's.
func (f *bolaFixture) withFreshSubscription(t *testing.T) map[string]string {
	t.Helper()
	r := call(t, http.MethodPost, "/v1/webhookSubscriptions", launcher.DemoC0011APIKey, map[string]any{
		"targetUri": "http://127.0.0.1:9/bola", "eventTypes": []string{"WEBHOOK_EVENT_TYPE_RETURN_STATUS_CHANGED"},
	}, fmt.Sprintf("Idempotency-Key: e2e-bola-fresh-%d", time.Now().UnixNano()))
	if r.Status != http.StatusOK {
		t.Fatalf("A subscribes again: %d %s", r.Status, r.Raw)
	}
	name := r.str("name")
	t.Cleanup(func() { call(t, http.MethodDelete, "/v1/"+name, launcher.DemoC0011APIKey, nil) })
	out := maps.Clone(f.owned)
	out["webhookSubscriptions/*"] = name
	return out
}

// firstName is the name of the first resource of a JSON list.
func firstName(list any) string {
	items, _ := list.([]any)
	if len(items) == 0 {
		return ""
	}
	m, _ := items[0].(map[string]any)
	return fmt.Sprint(m["name"])
}

// bolaBody is the request body of a route: a valid one acting for customer
// A where the body names a customer, {} for the custom methods.
func bolaBody(rt bolaRoute, hookURL string) any {
	switch rt.rpc {
	case "CreateOrder":
		return orderBody(bolaCustomerA, line{bolaSKU, 1})
	case "CheckAvailability":
		return map[string]any{"customerId": bolaCustomerA, "currencyCode": "EUR", "lines": linesJSON([]line{{bolaSKU, 1}}),
			"shipTo": map[string]any{"regionCode": "DE", "postalCode": "20457"}}
	case "QuotePrices":
		return map[string]any{"customerId": bolaCustomerA, "currencyCode": "EUR", "lines": linesJSON([]line{{bolaSKU, 1}})}
	case "TestWebhookSubscription":
		return map[string]any{"eventType": "WEBHOOK_EVENT_TYPE_ORDER_STATUS_CHANGED"}
	case "CreateReturn":
		return returnBody("RESOLUTION_REFUND", line{bolaSKU, 1})
	case "CreateWebhookSubscription":
		return map[string]any{"targetUri": hookURL, "eventTypes": []string{"WEBHOOK_EVENT_TYPE_RETURN_STATUS_CHANGED"}}
	}
	if rt.body == "" {
		return nil
	}
	return map[string]any{}
}

// sameAnswer compares two error answers apart from their correlation ids.
func sameAnswer(a, b response) bool {
	return a.Status == b.Status && normalizedBody(a) == normalizedBody(b)
}

func normalizedBody(r response) string {
	m := map[string]any{}
	for k, v := range r.Body {
		if k != "correlationId" {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestBOLAMatrix(t *testing.T) {
	f := newBOLAFixture(t)
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(hooks.Close)
	run := time.Now().UnixNano()
	routes := bolaRoutes(t)
	for _, rt := range routes {
		access, ok := bolaTable[rt.rpc]
		if !ok {
			t.Errorf("%s %s (%s) is not in the BOLA expectation table; classify it", rt.method, rt.template, rt.rpc)
			continue
		}
		t.Run(rt.rpc+" "+rt.method+" "+rt.template, func(t *testing.T) {
			path := f.fill(t, rt.template, f.owned)
			missingPath := f.fill(t, rt.template, f.missing)
			// The owner goes last: it may change A's objects (cancel,
			// delete), which the other kinds must find unchanged.
			kinds := append(slices.Clone(bolaKinds[1:]), bolaKinds[0])
			for _, k := range kinds {
				var headers []string
				switch {
				case rt.rpc == "CreateOrder":
					headers = []string{"Idempotency-Key: " + f.idem} // A's key: only A may replay A's order
				case rt.method == http.MethodPost:
					headers = []string{fmt.Sprintf("Idempotency-Key: e2e-bola-%d-%s-%d", run, rt.rpc, k.kind)}
				}
				path := path
				if rt.method == http.MethodDelete && k.kind == bolaChannel {
					// The channel key may delete A's subscription too: it
					// deletes one of its own, so the owner still has one.
					path = f.fill(t, rt.template, f.withFreshSubscription(t))
				}
				r := call(t, rt.method, path, k.key, bolaBody(rt, hooks.URL), headers...)
				what := fmt.Sprintf("%s %s as %s", rt.method, path, k.name)
				if (r.Status == http.StatusOK) && rt.rpc == "CreateWebhookSubscription" {
					name := r.str("name")
					t.Cleanup(func() { call(t, http.MethodDelete, "/v1/"+name, k.key, nil) })
				}
				if r.Status >= 500 {
					t.Errorf("%s: %d %s", what, r.Status, r.Raw)
					continue
				}
				switch k.kind {
				case bolaNoKey, bolaUnknownKey:
					if r.Status != http.StatusUnauthorized {
						t.Errorf("%s: %d %s, want 401", what, r.Status, r.Raw)
					}
					continue
				case bolaOperator, bolaViewer:
					if r.Status != http.StatusForbidden {
						t.Errorf("%s: %d %s, want 403", what, r.Status, r.Raw)
					}
					continue
				case bolaOtherCust, bolaOtherChannel:
					for _, id := range f.ids {
						if strings.Contains(r.Raw, id) {
							t.Errorf("%s: the answer holds A's %s: %d %s", what, id, r.Status, r.Raw)
						}
					}
				case bolaOwner, bolaChannel:
					// may see A's objects; judged by the access below
				}
				allowed := r.Status != http.StatusUnauthorized && r.Status != http.StatusForbidden && r.Status != http.StatusNotFound
				switch access {
				case bolaCatalog, bolaScoped:
					if !allowed {
						t.Errorf("%s: %d %s, want the caller's own answer", what, r.Status, r.Raw)
					}
				case bolaOwned:
					if k.kind == bolaOwner || k.kind == bolaChannel {
						if !allowed {
							t.Errorf("%s: %d %s, want A's object", what, r.Status, r.Raw)
						}
						continue
					}
					miss := call(t, rt.method, missingPath, k.key, bolaBody(rt, hooks.URL), headers...)
					if r.Status != http.StatusNotFound || !sameAnswer(r, miss) {
						t.Errorf("%s: %d %s\nwant the answer for a missing object: %d %s", what, r.Status, r.Raw, miss.Status, miss.Raw)
					}
				case bolaForA:
					switch k.kind {
					case bolaOwner, bolaChannel:
						if r.Status != http.StatusOK {
							t.Errorf("%s: %d %s, want 200", what, r.Status, r.Raw)
						}
					case bolaOtherCust:
						if r.Status != http.StatusForbidden || r.reason() != "ERROR_REASON_CUSTOMER_MISMATCH" {
							t.Errorf("%s: %d %s, want 403 CUSTOMER_MISMATCH", what, r.Status, r.Raw)
						}
					case bolaNoKey, bolaUnknownKey, bolaOperator, bolaViewer:
						// answered above
					case bolaOtherChannel:
						// A channel key acts for whichever customer it
						// names, but only in its own channel: it may not
						// order for A (not allowed in web), and a price
						// it asks for A comes from its own channel's lists,
						// never from A's b2b list.
						if rt.rpc == "CreateOrder" && r.Status != http.StatusForbidden {
							t.Errorf("%s: %d %s, want 403: A may not order in another channel", what, r.Status, r.Raw)
						}
						if strings.Contains(r.Raw, bolaB2BPrice) {
							t.Errorf("%s: priced by A's channel b2b: %s", what, r.Raw)
						}
					}
					if (k.kind == bolaOwner || k.kind == bolaChannel) && rt.rpc != "CreateOrder" && !strings.Contains(r.Raw, bolaB2BPrice) {
						t.Errorf("%s: not priced by channel b2b: %s", what, r.Raw)
					}
					if rt.rpc == "CreateOrder" {
						replayed := r.Header.Get("Idempotent-Replayed") == "true"
						if replayed != (k.kind == bolaOwner) {
							t.Errorf("%s with A's Idempotency-Key: replayed=%v %s", what, replayed, r.Raw)
						}
					}
				}
			}
		})
	}

	// A's child ids under B's own order and subscription answer B as
	// missing children of B's own objects do.
	t.Run("A's ids under B's parents", func(t *testing.T) { bolaCrossParents(t, f, routes, hooks.URL) })

	// A page token of A's ListOrders answers B and the other channel as a
	// token that never existed.
	t.Run("page token", func(t *testing.T) {
		for _, k := range bolaKinds {
			if k.kind != bolaOtherCust && k.kind != bolaOtherChannel {
				continue
			}
			foreign := call(t, http.MethodGet, "/v1/orders?pageSize=1&pageToken="+url.QueryEscape(f.pageToken), k.key, nil)
			bogus := call(t, http.MethodGet, "/v1/orders?pageSize=1&pageToken=bola-no-such-token", k.key, nil)
			if foreign.Status != http.StatusBadRequest || !sameAnswer(foreign, bogus) {
				t.Errorf("A's page token as %s: %d %s\nwant the answer for an unknown token: %d %s", k.name, foreign.Status, foreign.Raw, bogus.Status, bogus.Raw)
			}
		}
	})
	// Lists across all of the caller's orders never hold A's objects.
	t.Run("orders/- lists", func(t *testing.T) {
		for _, p := range []string{"/v1/orders/-/shipments", "/v1/orders/-/returns", "/v1/orders", "/v1/webhookSubscriptions"} {
			for _, k := range bolaKinds[:4] {
				r := call(t, http.MethodGet, p, k.key, nil)
				if r.Status != http.StatusOK {
					t.Errorf("GET %s as %s: %d %s", p, k.name, r.Status, r.Raw)
					continue
				}
				own := k.kind == bolaOwner || k.kind == bolaChannel
				if own && p == "/v1/orders" && !strings.Contains(r.Raw, f.ids[1]) {
					t.Errorf("GET %s as %s lacks A's newest order %s: %s", p, k.name, f.ids[1], r.Raw)
				}
				for _, id := range f.ids {
					if strings.Contains(r.Raw, id) && !own {
						t.Errorf("GET %s as %s holds A's %s: %s", p, k.name, id, r.Raw)
					}
				}
			}
		}
	})
}

// bolaCrossParents calls every route that names a child object (a
// shipment, return or delivery) as customer B, with B's own order or
// subscription as the parent and A's child id under it, and wants the
// answer for a child id that does not exist under B's parent.
func bolaCrossParents(t *testing.T, f *bolaFixture, routes []bolaRoute, hookURL string) {
	keyB := launcher.DemoC0012APIKey
	run := time.Now().UnixNano()
	o := placeOrder(t, keyB, fmt.Sprintf("e2e-bola-b-%d", run), orderBody(bolaCustomerB, line{bolaSKU, 1}))
	if o.Status != http.StatusOK {
		t.Fatalf("B's order: %d %s", o.Status, o.Raw)
	}
	sub := call(t, http.MethodPost, "/v1/webhookSubscriptions", keyB, map[string]any{
		"targetUri": hookURL, "eventTypes": []string{"WEBHOOK_EVENT_TYPE_RETURN_STATUS_CHANGED"},
	}, fmt.Sprintf("Idempotency-Key: e2e-bola-b-sub-%d", run))
	if sub.Status != http.StatusOK {
		t.Fatalf("B subscribes: %d %s", sub.Status, sub.Raw)
	}
	t.Cleanup(func() { call(t, http.MethodDelete, "/v1/"+sub.str("name"), keyB, nil) })
	parents := map[string]string{"orders": o.str("name"), "webhookSubscriptions": sub.str("name")}
	crossed, missing := map[string]string{}, map[string]string{}
	for pattern, name := range f.owned {
		parts := strings.Split(name, "/")
		if strings.Count(pattern, "/") != 3 || len(parts) != 4 {
			continue // not a child object
		}
		parent := parents[parts[0]]
		if parent == "" {
			t.Fatalf("%s: no parent of B's for %s", pattern, parts[0])
		}
		crossed[pattern] = parent + "/" + parts[2] + "/" + parts[3]
		missing[pattern] = parent + "/" + parts[2] + "/bola-missing"
	}
	checked := 0
	for _, rt := range routes {
		m := bolaVariable.FindAllStringSubmatch(rt.template, -1)
		if len(m) != 1 || crossed[m[0][2]] == "" {
			continue
		}
		checked++
		idem := func(which string) []string {
			if rt.method != http.MethodPost {
				return nil
			}
			return []string{fmt.Sprintf("Idempotency-Key: e2e-bola-cross-%d-%s-%s", run, rt.rpc, which)}
		}
		path := f.fill(t, rt.template, crossed)
		r := call(t, rt.method, path, keyB, bolaBody(rt, hookURL), idem("a")...)
		miss := call(t, rt.method, f.fill(t, rt.template, missing), keyB, bolaBody(rt, hookURL), idem("missing")...)
		if r.Status != http.StatusNotFound || !sameAnswer(r, miss) {
			t.Errorf("%s %s as customer B: %d %s\nwant the answer for a missing child of B's own parent: %d %s",
				rt.method, path, r.Status, r.Raw, miss.Status, miss.Raw)
		}
	}
	if checked < 3 {
		t.Fatalf("only %d routes name a shipment, return or delivery; the fixture lost its children", checked)
	}
}
