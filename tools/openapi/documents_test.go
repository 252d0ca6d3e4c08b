package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"
)

// The tests below read the committed documents (gen/openapi3), the ones
// clients are generated from and the gateway serves: `make check-generate`
// proves they are what tools/openapi makes of proto/, these prove what they
// say.

// idempotentOperations are the operations with a request id, the ones that
// must declare Idempotency-Key; listed so that a detection that finds none
// fails instead of passing for want of cases.
var idempotentOperations = map[string][]string{
	"storefront.v1": {
		"StorefrontService_CancelOrder", "StorefrontService_CancelReturn", "StorefrontService_CreateOrder",
		"StorefrontService_CreateReturn", "StorefrontService_CreateWebhookSubscription",
	},
	"ops.v1": {
		"OpsService_AcknowledgeException", "OpsService_ApproveReturnAuthorization", "OpsService_CancelReturnAuthorization",
		"OpsService_RejectReturnAuthorization", "OpsService_ReplayDeadLetters", "OpsService_ResolveException",
		"OpsService_RetryErpSubmission", "OpsService_TriggerReconciliation",
	},
}

// conditionalGets are the GETs of a resource with an etag, the ones that
// must declare ETag, If-None-Match and 304; ifMatchOperations are the
// mutations of such a resource, the ones that must declare If-Match and
// 412. Listed, as idempotentOperations, so that a detection that finds
// none fails (ops.v1 has no resource with an etag).
var (
	conditionalGets = map[string][]string{
		"storefront.v1": {"StorefrontService_GetOrder"},
	}
	ifMatchOperations = map[string][]string{
		"storefront.v1": {"StorefrontService_CancelOrder"},
	}
)

// outputOnly are fields the contracts mark OUTPUT_ONLY whose schema is a
// $ref, the case protoc-gen-openapiv2 loses: each must be readOnly.
var outputOnly = map[string][]string{
	"storefront.v1": {"v1Order.state", "v1Order.total", "v1Order.subtotal", "v1Order.rejectionReason"},
	"ops.v1":        {"v1Exception.domain", "v1DeadLetter.state", "v1ErpSubmission.state"},
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func loadV3(t *testing.T, id string) (*openapi3.T, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "gen", "openapi3", id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s: invalid OpenAPI 3: %v", id, err)
	}
	return doc, b
}

type operation struct {
	method, path string
	op           *openapi3.Operation
}

func operations(doc *openapi3.T) []operation {
	var ops []operation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops = append(ops, operation{method, path, op})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].op.OperationID < ops[j].op.OperationID })
	return ops
}

func TestDocumentFrame(t *testing.T) {
	for _, a := range apis {
		t.Run(a.ID, func(t *testing.T) {
			doc, _ := loadV3(t, a.ID)
			if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
				t.Errorf("openapi = %q, want 3.0.x", doc.OpenAPI)
			}
			if doc.Info.Title != a.Title || strings.Contains(doc.Info.Title, ".proto") {
				t.Errorf("title = %q, want %q", doc.Info.Title, a.Title)
			}
			if want := a.Major + " / " + ContractRelease; doc.Info.Version != want {
				t.Errorf("version = %q, want %q", doc.Info.Version, want)
			}
			if len(doc.Servers) == 0 || doc.Servers[0].URL != LocalServer {
				t.Errorf("servers = %v, want %s first", doc.Servers, LocalServer)
			}
			if len(doc.Tags) == 0 || doc.Tags[0].Description == "" {
				t.Error("the service's tag lost its description")
			}
			schemes := doc.Components.SecuritySchemes
			if b := schemes[schemeBearer]; b == nil || b.Value.Type != "http" || b.Value.Scheme != "bearer" {
				t.Errorf("%s = %+v, want http bearer", schemeBearer, b)
			}
			if k := schemes[schemeAPIKey]; k == nil || k.Value.Type != "apiKey" || k.Value.In != "header" || k.Value.Name != "X-Api-Key" {
				t.Errorf("%s = %+v, want apiKey in header X-Api-Key", schemeAPIKey, k)
			}
		})
	}
}

func TestEveryOperation(t *testing.T) {
	wantStatuses := []string{"400", "401", "403", "404", "405", "409", "413", "429", "500", "503"}
	for _, a := range apis {
		doc, _ := loadV3(t, a.ID)
		ops := operations(doc)
		if len(ops) == 0 {
			t.Fatalf("%s: no operations", a.ID)
		}
		for _, o := range ops {
			t.Run(a.ID+"/"+o.op.OperationID, func(t *testing.T) {
				if o.op.Summary == "" {
					t.Error("no summary: the method's comment was lost")
				}
				if o.op.Security == nil {
					t.Fatal("no security requirement")
				}
				var got []string
				for _, req := range *o.op.Security {
					for name := range req {
						got = append(got, name)
					}
				}
				sort.Strings(got)
				if diff := cmp.Diff([]string{schemeAPIKey, schemeBearer}, got); diff != "" {
					t.Errorf("security schemes (-want +got):\n%s", diff)
				}
				for _, status := range append(wantStatuses, "200", "default") {
					r := o.op.Responses.Value(status)
					if r == nil || r.Value == nil {
						t.Errorf("no %s response", status)
						continue
					}
					if r.Value.Headers[headerCorrelationID] == nil {
						t.Errorf("%s response declares no %s header", status, headerCorrelationID)
					}
					if status == "200" {
						continue
					}
					if ref := r.Value.Content.Get("application/json").Schema.Ref; ref != "#/components/schemas/"+errorSchema {
						t.Errorf("%s response schema = %q, want the %s schema", status, ref, errorSchema)
					}
					if retry := r.Value.Headers[headerRetryAfter] != nil; retry != (status == "429" || status == "503") {
						t.Errorf("%s response declares Retry-After: %v", status, retry)
					}
					if allow := r.Value.Headers[headerAllow] != nil; allow != (status == "405") {
						t.Errorf("%s response declares Allow: %v", status, allow)
					}
				}
				if d := o.op.Responses.Value("400").Value.Description; d == nil || !strings.Contains(*d, "unknown query parameter") ||
					!strings.Contains(*d, "UNKNOWN_PARAMETER") {
					t.Error("the 400 response does not say that an unknown query parameter is refused")
				}
				for _, p := range o.op.Parameters {
					if p.Value.In == "path" && p.Value.Description == "" {
						t.Errorf("path parameter %s has no description", p.Value.Name)
					}
				}
			})
		}
	}
}

func TestIdempotentOperations(t *testing.T) {
	for _, a := range apis {
		doc, _ := loadV3(t, a.ID)
		var found []string
		for _, o := range operations(doc) {
			header := o.op.Parameters.GetByInAndName("header", headerIdempotencyKey)
			query := o.op.Parameters.GetByInAndName("query", requestIDField)
			var body *openapi3.Schema
			if rb := o.op.RequestBody; rb != nil {
				body = rb.Value.Content.Get("application/json").Schema.Value
			}
			inBody := body != nil && body.Properties[requestIDField] != nil
			if header == nil && query == nil && !inBody {
				continue
			}
			found = append(found, o.op.OperationID)
			t.Run(a.ID+"/"+o.op.OperationID, func(t *testing.T) {
				if header == nil {
					t.Fatal("has a request id but declares no Idempotency-Key header")
				}
				if header.Required {
					t.Error("Idempotency-Key is required; the request id may come in the body or query instead")
				}
				if query != nil && query.Required {
					t.Error("requestId is a required query parameter; the gateway fills it from Idempotency-Key")
				}
				if inBody && slices.Contains(body.Required, requestIDField) {
					t.Error("the body requires requestId; the gateway fills it from Idempotency-Key")
				}
				if o.op.Responses.Value("200").Value.Headers[headerReplayed] == nil {
					t.Errorf("the 200 response declares no %s header", headerReplayed)
				}
			})
		}
		want := idempotentOperations[a.ID]
		if diff := cmp.Diff(want, found); diff != "" {
			t.Errorf("%s: operations with a request id (-want +got):\n%s", a.ID, diff)
		}
		for _, o := range operations(doc) {
			if !slices.Contains(want, o.op.OperationID) && o.op.Responses.Value("200").Value.Headers[headerReplayed] != nil {
				t.Errorf("%s: %s declares %s but takes no request id", a.ID, o.op.OperationID, headerReplayed)
			}
		}
	}
}

func TestErrorSchema(t *testing.T) {
	want := []string{"code", "correlationId", "details", "message", "status"}
	for _, a := range apis {
		t.Run(a.ID, func(t *testing.T) {
			doc, _ := loadV3(t, a.ID)
			s := doc.Components.Schemas[errorSchema]
			if s == nil {
				t.Fatalf("no %s schema", errorSchema)
			}
			var props []string
			for name := range s.Value.Properties {
				props = append(props, name)
			}
			sort.Strings(props)
			req := slices.Clone(s.Value.Required)
			sort.Strings(req)
			if diff := cmp.Diff(want, props); diff != "" {
				t.Errorf("properties (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, req); diff != "" {
				t.Errorf("required (-want +got):\n%s", diff)
			}
			if items := s.Value.Properties["details"].Value.Items.Value; items.Properties["@type"] == nil {
				t.Error("details items have no @type")
			}
		})
	}
}

func TestOutputOnlyFieldsAreReadOnly(t *testing.T) {
	for _, a := range apis {
		t.Run(a.ID, func(t *testing.T) {
			doc, raw := loadV3(t, a.ID)
			for _, field := range outputOnly[a.ID] {
				schema, prop, _ := strings.Cut(field, ".")
				s := doc.Components.Schemas[schema]
				if s == nil || s.Value.Properties[prop] == nil {
					t.Errorf("%s: no such property", field)
					continue
				}
				p := s.Value.Properties[prop]
				if !p.Value.ReadOnly || p.Value.Description == "" {
					t.Errorf("%s: readOnly %v, description %q; want readOnly with the field's description", field, p.Value.ReadOnly, p.Value.Description)
				}
			}
			// Nowhere a $ref with siblings, which readers ignore.
			var doc2 any
			if err := json.Unmarshal(raw, &doc2); err != nil {
				t.Fatal(err)
			}
			walk(doc2, func(o obj) {
				if _, ok := o["$ref"]; ok && len(o) > 1 {
					t.Errorf("$ref with siblings: %v", o)
				}
			})
		})
	}
}

// hasETagField reports whether the 200 response of op is a resource with an
// etag field, which the gateway sends as ETag on a GET.
func hasETagField(op *openapi3.Operation) bool {
	s := op.Responses.Value("200").Value.Content.Get("application/json").Schema
	return s != nil && s.Value.Properties["etag"] != nil
}

func TestConditionalRequests(t *testing.T) {
	for _, a := range apis {
		doc, _ := loadV3(t, a.ID)
		var gets, mutations []string
		for _, o := range operations(doc) {
			ok := o.op.Responses.Value("200").Value
			ifNoneMatch := o.op.Parameters.GetByInAndName("header", headerIfNoneMatch)
			ifMatch := o.op.Parameters.GetByInAndName("header", headerIfMatch)
			notMod, failed := o.op.Responses.Value("304"), o.op.Responses.Value("412")
			isGet := slices.Contains(conditionalGets[a.ID], o.op.OperationID)
			isMutation := slices.Contains(ifMatchOperations[a.ID], o.op.OperationID)
			if ifNoneMatch != nil || notMod != nil || ok.Headers[headerETag] != nil {
				gets = append(gets, o.op.OperationID)
			}
			if ifMatch != nil || failed != nil {
				mutations = append(mutations, o.op.OperationID)
			}
			t.Run(a.ID+"/"+o.op.OperationID, func(t *testing.T) {
				if o.method == "GET" && hasETagField(o.op) != isGet {
					t.Errorf("a GET whose resource has an etag: %v, listed in conditionalGets: %v", hasETagField(o.op), isGet)
				}
				if !isGet {
					if ifNoneMatch != nil || notMod != nil || ok.Headers[headerETag] != nil {
						t.Error("declares If-None-Match, 304 or ETag but does not GET a resource with an etag")
					}
				} else {
					if ok.Headers[headerETag] == nil {
						t.Errorf("the 200 response declares no %s header", headerETag)
					}
					if ifNoneMatch == nil || ifNoneMatch.Required {
						t.Errorf("%s = %+v, want an optional header parameter", headerIfNoneMatch, ifNoneMatch)
					}
					if notMod == nil || notMod.Value == nil {
						t.Fatal("no 304 response")
					}
					if len(notMod.Value.Content) != 0 {
						t.Errorf("the 304 response declares a body: %v", notMod.Value.Content)
					}
					for _, h := range []string{headerETag, headerCorrelationID} {
						if notMod.Value.Headers[h] == nil {
							t.Errorf("the 304 response declares no %s header", h)
						}
					}
				}
				if !isMutation {
					if ifMatch != nil || failed != nil {
						t.Error("declares If-Match or 412 but is no listed mutation of a resource with an etag")
					}
					return
				}
				if o.method == "GET" {
					t.Error("a GET listed as an If-Match mutation")
				}
				if ifMatch == nil || ifMatch.Required {
					t.Errorf("%s = %+v, want an optional header parameter", headerIfMatch, ifMatch)
				}
				if failed == nil || failed.Value == nil {
					t.Fatal("no 412 response")
				}
				if ref := failed.Value.Content.Get("application/json").Schema.Ref; ref != "#/components/schemas/"+errorSchema {
					t.Errorf("412 response schema = %q, want the %s schema", ref, errorSchema)
				}
				if failed.Value.Headers[headerCorrelationID] == nil {
					t.Errorf("the 412 response declares no %s header", headerCorrelationID)
				}
			})
		}
		if diff := cmp.Diff(conditionalGets[a.ID], gets); diff != "" {
			t.Errorf("%s: operations declaring ETag, If-None-Match or 304 (-want +got):\n%s", a.ID, diff)
		}
		if diff := cmp.Diff(ifMatchOperations[a.ID], mutations); diff != "" {
			t.Errorf("%s: operations declaring If-Match or 412 (-want +got):\n%s", a.ID, diff)
		}
	}
}
