package contracts

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"buf.build/go/protovalidate"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
)

// openAPI is the part of a Swagger 2.0 document these tests read.
type openAPI struct {
	Swagger     string                                `json:"swagger"`
	Paths       map[string]map[string]json.RawMessage `json:"paths"`
	Definitions map[string]struct {
		Properties map[string]json.RawMessage `json:"properties"`
	} `json:"definitions"`
}

func loadStorefrontOpenAPI(t *testing.T) openAPI {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "gen", "openapi", "transload", "storefront", "v1", "storefront_service.swagger.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPI
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("OpenAPI document does not parse: %v", err)
	}
	if doc.Swagger != "2.0" || len(doc.Paths) == 0 {
		t.Fatalf("OpenAPI document: swagger=%q with %d paths, want 2.0 with paths", doc.Swagger, len(doc.Paths))
	}
	return doc
}

// TestStorefrontJSONMatchesOpenAPI sends storefront requests as a REST
// client would write them, round-trips them through protojson, and checks
// that every JSON name the stubs produce is a property the OpenAPI document
// declares for that message.
func TestStorefrontJSONMatchesOpenAPI(t *testing.T) {
	doc := loadStorefrontOpenAPI(t)
	tests := []struct {
		name string
		msg  proto.Message
		json string
	}{
		{
			name: "check availability",
			msg:  &storefrontv1.CheckAvailabilityRequest{},
			json: `{"customerId":"C0001","shipTo":{"regionCode":"DE","postalCode":"20457"},"currencyCode":"EUR",
				"lines":[{"sku":"SKU-00001","quantity":"2"},{"sku":"SKU-00002","quantity":"1"}],"includeWarehouseBreakdown":true}`,
		},
		{
			name: "order body of create order",
			msg:  &storefrontv1.Order{},
			json: `{"customerId":"C0001","currencyCode":"EUR","purchaseOrderNumber":"PO-1","note":"ring twice",
				"shipTo":{"recipient":"Demo GmbH","lines":["Hafenstr. 1"],"locality":"Hamburg","postalCode":"20457","regionCode":"DE"},
				"lines":[{"sku":"SKU-00001","quantity":"3","expectedUnitPrice":{"amountMinor":"1299","currencyCode":"EUR"}}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := protojson.Unmarshal([]byte(tt.json), tt.msg); err != nil {
				t.Fatalf("client JSON rejected by the stubs: %v", err)
			}
			out, err := protojson.Marshal(tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			back := tt.msg.ProtoReflect().New().Interface()
			if err := protojson.Unmarshal(out, back); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.msg, back, protocmp.Transform()); diff != "" {
				t.Fatalf("protojson round trip changed the message (-want +got):\n%s", diff)
			}
			var tree map[string]any
			if err := json.Unmarshal(out, &tree); err != nil {
				t.Fatal(err)
			}
			checkJSONNames(t, doc, tt.msg.ProtoReflect().Descriptor(), tree, "$")
		})
	}
}

// checkJSONNames walks a protojson object alongside its descriptor and fails
// for any key the OpenAPI definition of that message does not list.
func checkJSONNames(t *testing.T, doc openAPI, md protoreflect.MessageDescriptor, obj map[string]any, path string) {
	t.Helper()
	if md.FullName().Parent() == "google.protobuf" {
		return // well-known types have their own JSON mapping
	}
	def, ok := definitionFor(doc, md)
	if !ok {
		t.Fatalf("%s: no OpenAPI definition for %s", path, md.FullName())
	}
	for key, val := range obj {
		if _, ok := def[key]; !ok {
			t.Errorf("%s.%s: JSON name not declared in the OpenAPI definition of %s", path, key, md.FullName())
			continue
		}
		fd := md.Fields().ByJSONName(key)
		if fd == nil || fd.Message() == nil {
			continue
		}
		switch v := val.(type) {
		case map[string]any:
			checkJSONNames(t, doc, fd.Message(), v, path+"."+key)
		case []any:
			for _, item := range v {
				if m, ok := item.(map[string]any); ok {
					checkJSONNames(t, doc, fd.Message(), m, path+"."+key+"[]")
				}
			}
		}
	}
}

// definitionFor finds a message's definition under the names
// protoc-gen-openapiv2 uses (the shortest unique suffix, e.g. "v1Order").
func definitionFor(doc openAPI, md protoreflect.MessageDescriptor) (map[string]json.RawMessage, bool) {
	pkg := string(md.ParentFile().Package())
	rel := strings.ReplaceAll(strings.TrimPrefix(string(md.FullName()), pkg+"."), ".", "")
	parts := strings.Split(pkg, ".")
	for i := len(parts); i >= 0; i-- {
		name := strings.Join(parts[i:], "") + rel
		if d, ok := doc.Definitions[name]; ok {
			return d.Properties, true
		}
	}
	return nil, false
}

// TestOpenAPIListsEveryStorefrontRoute derives the REST routes from the
// google.api.http rules compiled into the stubs and checks that the OpenAPI
// document has each one with its method.
func TestOpenAPIListsEveryStorefrontRoute(t *testing.T) {
	doc := loadStorefrontOpenAPI(t)
	sd := storefrontv1.File_transload_storefront_v1_storefront_service_proto.Services().ByName("StorefrontService")
	if sd == nil {
		t.Fatal("StorefrontService not found in the stubs")
	}
	var want, missing []string
	for i := range sd.Methods().Len() {
		m := sd.Methods().Get(i)
		rule, ok := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
		if !ok || rule == nil {
			t.Errorf("%s has no google.api.http rule: every storefront RPC must be on REST", m.FullName())
			continue
		}
		method, tmpl := httpPattern(rule)
		route := method + " " + normalizeTemplate(tmpl)
		want = append(want, route)
		found := false
		for p, ops := range doc.Paths {
			if _, ok := ops[strings.ToLower(method)]; ok && normalizeTemplate(p) == normalizeTemplate(tmpl) {
				found = true
			}
		}
		if !found {
			missing = append(missing, route+" ("+string(m.Name())+")")
		}
	}
	if len(want) < 10 {
		t.Fatalf("only %d storefront routes found in the stubs: %v", len(want), want)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("routes missing from the OpenAPI document:\n%s", strings.Join(missing, "\n"))
	}
}

func httpPattern(r *annotations.HttpRule) (string, string) {
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return "GET", p.Get
	case *annotations.HttpRule_Post:
		return "POST", p.Post
	case *annotations.HttpRule_Put:
		return "PUT", p.Put
	case *annotations.HttpRule_Patch:
		return "PATCH", p.Patch
	case *annotations.HttpRule_Delete:
		return "DELETE", p.Delete
	case *annotations.HttpRule_Custom:
		return strings.ToUpper(p.Custom.GetKind()), p.Custom.GetPath()
	}
	return "", ""
}

var (
	boundVar  = regexp.MustCompile(`\{[^}=]+=([^}]+)\}`)
	simpleVar = regexp.MustCompile(`\{[^}]+\}`)
)

// normalizeTemplate turns both `/v1/{name=orders/*}` (http rule) and
// `/v1/orders/{order}` (expanded OpenAPI path) into `/v1/orders/*`.
func normalizeTemplate(s string) string {
	s = boundVar.ReplaceAllString(s, "$1")
	return simpleVar.ReplaceAllString(s, "*")
}

// TestProtovalidateRejectsBadRequests shows the generated stubs carry the
// protovalidate rules: a bad request yields one violation per bad field.
func TestProtovalidateRejectsBadRequests(t *testing.T) {
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	good := func() *orderv1.CreateOrderRequest {
		req := &orderv1.CreateOrderRequest{}
		err := protojson.Unmarshal([]byte(`{"requestId":"r-1","customerId":"C0001","channel":"web","currencyCode":"EUR",
			"shipTo":{"recipient":"Demo GmbH","lines":["Hafenstr. 1"],"locality":"Hamburg","postalCode":"20457","regionCode":"DE"},
			"lines":[{"sku":"SKU-00001","quantity":"2"}]}`), req)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	if err := v.Validate(good()); err != nil {
		t.Fatalf("valid request rejected: %v", err)
	}
	tests := []struct {
		name      string
		mutate    func(*orderv1.CreateOrderRequest)
		wantField []string
	}{
		{"negative quantity", func(r *orderv1.CreateOrderRequest) { r.GetLines()[0].Quantity = -1 }, []string{"lines[0].quantity"}},
		{"zero quantity", func(r *orderv1.CreateOrderRequest) { r.GetLines()[0].Quantity = 0 }, []string{"lines[0].quantity"}},
		{"missing customer", func(r *orderv1.CreateOrderRequest) { r.CustomerId = "" }, []string{"customer_id"}},
		{"malformed currency", func(r *orderv1.CreateOrderRequest) { r.CurrencyCode = "eur" }, []string{"currency_code"}},
		{"all three", func(r *orderv1.CreateOrderRequest) {
			r.GetLines()[0].Quantity = -5
			r.CustomerId = ""
			r.CurrencyCode = "EURO"
		}, []string{"currency_code", "customer_id", "lines[0].quantity"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := good()
			tt.mutate(req)
			err := v.Validate(req)
			var verr *protovalidate.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Validate = %v, want a ValidationError", err)
			}
			var got []string
			for _, viol := range verr.Violations {
				got = append(got, protovalidate.FieldPathString(viol.Proto.GetField()))
			}
			sort.Strings(got)
			if diff := cmp.Diff(tt.wantField, got); diff != "" {
				t.Fatalf("violated fields (-want +got):\n%s", diff)
			}
		})
	}
}
