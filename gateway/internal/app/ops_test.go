package app_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/apierr"

	"github.com/transload/transload/gateway/internal/auth"
)

// methodClass is what the permission matrix needs to know of a method.
type methodClass string

const (
	storefront  methodClass = "storefront"
	opsRead     methodClass = "ops read"
	opsMutation methodClass = "ops mutation"
)

// opsClasses classifies every ops.v1 method by hand. A method added to the
// contract fails TestPermissionMatrix until someone writes here whether a
// viewer may call it.
var opsClasses = map[string]methodClass{
	"ListExceptions":             opsRead,
	"GetException":               opsRead,
	"AcknowledgeException":       opsMutation,
	"ResolveException":           opsMutation,
	"ListDeadLetters":            opsRead,
	"GetDeadLetter":              opsRead,
	"ReplayDeadLetters":          opsMutation,
	"TriggerReconciliation":      opsMutation,
	"GetReconciliation":          opsRead,
	"ListReconciliations":        opsRead,
	"GetKpis":                    opsRead,
	"ListAuditRecords":           opsRead,
	"GetAuditRecord":             opsRead,
	"GetErpQueueStatus":          opsRead,
	"ListErpSubmissions":         opsRead,
	"GetErpSubmission":           opsRead,
	"RetryErpSubmission":         opsMutation,
	"ApproveReturnAuthorization": opsMutation,
	"RejectReturnAuthorization":  opsMutation,
	"CancelReturnAuthorization":  opsMutation,
}

// answer is the outcome of authentication and authorization.
type answer string

const (
	unauthenticated answer = "UNAUTHENTICATED"
	denied          answer = "PERMISSION_DENIED"
	admitted        answer = "passes auth"
)

// keyKinds are the kinds of caller, in the matrix's row order.
var keyKinds = []struct{ name, key string }{
	{"no key", ""},
	{"unknown key", "not-a-configured-key-1"},
	{"storefront channel key", keyWeb},
	{"customer-bound key", keyC0001},
	{"ops viewer", keyViewer},
	{"ops operator", keyOperator},
	{"ops admin", keyAdmin},
}

// matrix is the expected answer per kind of key and class of method.
var matrix = map[string]map[methodClass]answer{
	"no key":                 {storefront: unauthenticated, opsRead: unauthenticated, opsMutation: unauthenticated},
	"unknown key":            {storefront: unauthenticated, opsRead: unauthenticated, opsMutation: unauthenticated},
	"storefront channel key": {storefront: admitted, opsRead: denied, opsMutation: denied},
	"customer-bound key":     {storefront: admitted, opsRead: denied, opsMutation: denied},
	"ops viewer":             {storefront: denied, opsRead: admitted, opsMutation: denied},
	"ops operator":           {storefront: denied, opsRead: admitted, opsMutation: admitted},
	"ops admin":              {storefront: denied, opsRead: admitted, opsMutation: admitted},
}

// gatewayMethod is one method the gateway serves.
type gatewayMethod struct {
	full  string
	class methodClass
	desc  protoreflect.MethodDescriptor
}

// gatewayMethods lists every method of storefront.v1 and ops.v1 from the
// generated service descriptions.
func gatewayMethods(t *testing.T) []gatewayMethod {
	t.Helper()
	var out []gatewayMethod
	for _, sd := range []*grpc.ServiceDesc{&storefrontv1.StorefrontService_ServiceDesc, &opsv1.OpsService_ServiceDesc} {
		if len(sd.Streams) != 0 {
			t.Errorf("%s has streaming methods: the matrix calls unary methods only", sd.ServiceName)
		}
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(sd.ServiceName))
		if err != nil {
			t.Fatal(err)
		}
		svc := d.(protoreflect.ServiceDescriptor)
		for _, m := range sd.Methods {
			gm := gatewayMethod{full: "/" + sd.ServiceName + "/" + m.MethodName, class: storefront,
				desc: svc.Methods().ByName(protoreflect.Name(m.MethodName))}
			if sd == &opsv1.OpsService_ServiceDesc {
				c, ok := opsClasses[m.MethodName]
				if !ok {
					t.Errorf("ops.v1 method %s is not in opsClasses: decide whether a viewer may call it", m.MethodName)
					continue
				}
				gm.class = c
			}
			out = append(out, gm)
		}
	}
	if len(out) < len(opsClasses)+10 {
		t.Fatalf("only %d methods found", len(out))
	}
	return out
}

// newMessage returns an empty message of the type named.
func newMessage(t *testing.T, name protoreflect.FullName) proto.Message {
	t.Helper()
	mt, err := protoregistry.GlobalTypes.FindMessageByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return mt.New().Interface()
}

// answerOf classifies a gRPC answer for the matrix. A permission denial
// has the auth reason: the storefront's own PERMISSION_DENIED (a bound key
// naming another customer) comes after auth.
func answerOf(err error) answer {
	switch {
	case status.Code(err) == codes.Unauthenticated:
		return unauthenticated
	case status.Code(err) == codes.PermissionDenied && apierr.HasReason(err, commonv1.ErrorReason_ERROR_REASON_PERMISSION_DENIED):
		return denied
	}
	return admitted
}

// TestPermissionMatrix calls every method of both APIs over gRPC with
// every kind of key and an empty request: auth runs before validation, so
// an admitted call fails validation or succeeds, never with an auth code.
func TestPermissionMatrix(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	methods := gatewayMethods(t)
	for _, kind := range keyKinds {
		for _, m := range methods {
			want := matrix[kind.name][m.class]
			ctx := context.Background()
			if kind.key != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+kind.key)
			}
			before := len(e.ops.received())
			err := e.conn.Invoke(ctx, m.full, newMessage(t, m.desc.Input().FullName()), newMessage(t, m.desc.Output().FullName()))
			if got := answerOf(err); got != want {
				t.Errorf("%s calling %s (%s): %s (%v), want %s", kind.name, m.full, m.class, got, err, want)
			}
			if want != admitted && len(e.ops.received()) != before {
				t.Errorf("%s calling %s: refused, yet the call reached the ops service", kind.name, m.full)
			}
		}
	}
}

// TestPermissionMatrixREST samples the matrix over REST: the same answers
// as 401, 403 and 200 in the one error shape.
func TestPermissionMatrixREST(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	httpStatus := map[answer]int{unauthenticated: http.StatusUnauthorized, denied: http.StatusForbidden, admitted: http.StatusOK}
	routes := []struct {
		class              methodClass
		method, path, body string
	}{
		{storefront, "GET", "/v1/products/SKU-00001", ""},
		{storefront, "GET", "/v1/orders", ""},
		{opsRead, "GET", "/v1/ops/kpis", ""},
		{opsRead, "GET", "/v1/ops/exceptions/E1", ""},
		{opsMutation, "POST", "/v1/ops/exceptions/E1:acknowledge", "{}"},
		{opsMutation, "POST", "/v1/ops/deadLetters:replay", `{"names":["deadLetters/7"],"dryRun":true}`},
	}
	for _, kind := range keyKinds {
		for _, rt := range routes {
			want := matrix[kind.name][rt.class]
			r := e.do(rt.method, rt.path, kind.key, rt.body, "Idempotency-Key", "matrix-1")
			if r.status != httpStatus[want] {
				t.Errorf("%s: %s %s: %d %s, want %d (%s)", kind.name, rt.method, rt.path, r.status, r.body, httpStatus[want], want)
				continue
			}
			if want != admitted {
				wantReason := "ERROR_REASON_" + string(want)
				if got := r.reason(t); got != wantReason {
					t.Errorf("%s: %s %s: reason %q, want %q", kind.name, rt.method, rt.path, got, wantReason)
				}
			}
		}
	}
}

// opsRoute is one HTTP binding of an ops.v1 method, with its path
// variables filled in.
type opsRoute struct {
	method   protoreflect.MethodDescriptor
	verb     string
	path     string
	body     string
	captures map[string]string // request field → value sent in the path
}

var pathVariable = regexp.MustCompile(`\{([a-z_.]+)(?:=([^}]*))?\}`)

// opsRoutes reads every google.api.http binding of ops.v1 from the
// descriptor, so a route added to the contract is tested without a change
// here. Path variables get "v1" for each wildcard segment; bodies are {}
// unless bodies names the method.
func opsRoutes(t *testing.T, bodies map[string]string) []opsRoute {
	t.Helper()
	svc := opsv1.File_transload_ops_v1_ops_service_proto.Services().ByName("OpsService")
	var out []opsRoute
	for i := range svc.Methods().Len() {
		m := svc.Methods().Get(i)
		rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
		if rule == nil {
			t.Errorf("%s has no google.api.http binding", m.Name())
			continue
		}
		for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
			rt := opsRoute{method: m, captures: map[string]string{}}
			switch p := r.GetPattern().(type) {
			case *annotations.HttpRule_Get:
				rt.verb, rt.path = http.MethodGet, p.Get
			case *annotations.HttpRule_Post:
				rt.verb, rt.path = http.MethodPost, p.Post
			case *annotations.HttpRule_Put:
				rt.verb, rt.path = http.MethodPut, p.Put
			case *annotations.HttpRule_Patch:
				rt.verb, rt.path = http.MethodPatch, p.Patch
			case *annotations.HttpRule_Delete:
				rt.verb, rt.path = http.MethodDelete, p.Delete
			default:
				t.Errorf("%s: unsupported HTTP pattern %T", m.Name(), p)
				continue
			}
			rt.path = pathVariable.ReplaceAllStringFunc(rt.path, func(v string) string {
				sub := pathVariable.FindStringSubmatch(v)
				value := "v1"
				if sub[2] != "" {
					value = strings.NewReplacer("**", "v1", "*", "v1").Replace(sub[2])
				}
				rt.captures[sub[1]] = value
				return value
			})
			if r.GetBody() != "" {
				rt.body = "{}"
				if b, ok := bodies[string(m.Name())]; ok {
					rt.body = b
				}
			}
			out = append(out, rt)
		}
	}
	return out
}

// keyID is the id the gateway gives key in logs and the actor header.
func keyID(t *testing.T, key string) string {
	t.Helper()
	k, err := auth.ParseKeys([]string{key + ":ops:operator"})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := k.Lookup(key)
	return p.KeyID
}

// TestEveryOpsRouteReachesTheOpsService sends each ops.v1 REST route once
// and checks the ops service got exactly that call: the method, the path
// variables, request_id from Idempotency-Key for mutations, the operator
// as actor and the correlation id.
func TestEveryOpsRouteReachesTheOpsService(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Bodies for the mutations whose request needs more than request_id.
	bodies := map[string]string{
		"ResolveException":          `{"note":"fixed at the source"}`,
		"ReplayDeadLetters":         `{"names":["deadLetters/7"]}`,
		"RejectReturnAuthorization": `{"message":"outside the return policy"}`,
	}
	routes := opsRoutes(t, bodies)
	covered := map[protoreflect.Name]bool{}
	wantActor := "operator:" + keyID(t, keyOperator)
	for i, rt := range routes {
		covered[rt.method.Name()] = true
		idem := "route-" + string(rt.method.Name())
		corr := "ops-route-" + string(rt.method.Name())
		before := len(e.ops.received())
		r := e.do(rt.verb, rt.path, keyOperator, rt.body, "Idempotency-Key", idem, "X-Correlation-Id", corr)
		if r.status != http.StatusOK {
			t.Errorf("route %d %s %s (%s): %d %s", i, rt.verb, rt.path, rt.method.Name(), r.status, r.body)
			continue
		}
		calls := e.ops.received()[before:]
		if len(calls) != 1 {
			t.Errorf("%s %s: the ops service got %d calls, want 1", rt.verb, rt.path, len(calls))
			continue
		}
		c := calls[0]
		wantMethod := "/" + string(rt.method.Parent().FullName()) + "/" + string(rt.method.Name())
		if c.method != wantMethod {
			t.Errorf("%s %s reached %s, want %s", rt.verb, rt.path, c.method, wantMethod)
		}
		fields := c.req.ProtoReflect().Descriptor().Fields()
		for field, want := range rt.captures {
			fd := fields.ByName(protoreflect.Name(field))
			if fd == nil {
				t.Errorf("%s: path variable %s is not a request field", rt.path, field)
				continue
			}
			if got := c.req.ProtoReflect().Get(fd).String(); got != want {
				t.Errorf("%s: %s = %q, want %q", rt.path, field, got, want)
			}
		}
		if fd := fields.ByName("request_id"); fd != nil {
			if got := c.req.ProtoReflect().Get(fd).String(); got != idem {
				t.Errorf("%s %s: request_id %q, want the Idempotency-Key %q", rt.verb, rt.path, got, idem)
			}
		}
		if len(c.actors) != 1 || c.actors[0] != wantActor {
			t.Errorf("%s %s: actor %q, want [%s]", rt.verb, rt.path, c.actors, wantActor)
		}
		if len(c.correlationIDs) != 1 || c.correlationIDs[0] != corr || r.header.Get("X-Correlation-Id") != corr {
			t.Errorf("%s %s: correlation ids %q at the ops service, %q in the response; want %q", rt.verb, rt.path,
				c.correlationIDs, r.header.Get("X-Correlation-Id"), corr)
		}
	}
	if n := opsv1.File_transload_ops_v1_ops_service_proto.Services().ByName("OpsService").Methods().Len(); len(covered) != n {
		t.Errorf("%d of %d ops methods have a route", len(covered), n)
	}
}

// TestOpsCallsOverGRPC checks what gRPC callers get on top of the REST
// routes: idempotency-key metadata fills request_id, the actor cannot be
// forged by the caller, and a request_id that contradicts the key is
// refused before the ops service sees it.
func TestOpsCallsOverGRPC(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	client := opsv1.NewOpsServiceClient(e.conn)
	ctx := metadata.AppendToOutgoingContext(context.Background(),
		"authorization", "Bearer "+keyAdmin, "idempotency-key", "grpc-ack-1", "x-transload-actor", "operator:someone-else")
	if _, err := client.AcknowledgeException(ctx, &opsv1.AcknowledgeExceptionRequest{Name: "exceptions/E1"}); err != nil {
		t.Fatal(err)
	}
	calls := e.ops.received()
	if len(calls) != 1 {
		t.Fatalf("the ops service got %d calls, want 1", len(calls))
	}
	req, ok := calls[0].req.(*opsv1.AcknowledgeExceptionRequest)
	if !ok || req.GetRequestId() != "grpc-ack-1" || req.GetName() != "exceptions/E1" {
		t.Errorf("request %v, want request_id from the idempotency-key metadata", calls[0].req)
	}
	if want := "operator:" + keyID(t, keyAdmin); len(calls[0].actors) != 1 || calls[0].actors[0] != want {
		t.Errorf("actor %q, want only [%s]: the caller's own x-transload-actor must not pass", calls[0].actors, want)
	}

	_, err := client.AcknowledgeException(ctx, &opsv1.AcknowledgeExceptionRequest{Name: "exceptions/E1", RequestId: "another-id"})
	if status.Code(err) != codes.InvalidArgument || len(apierr.FieldViolations(err)) == 0 || apierr.FieldViolations(err)[0].Field != "request_id" {
		t.Errorf("request_id contradicting the idempotency key: %v, want INVALID_ARGUMENT on request_id", err)
	}
	if n := len(e.ops.received()); n != 1 {
		t.Errorf("the ops service got %d calls, want 1", n)
	}
}

// TestOpsAnswersPassThrough checks that the ops service's errors reach the
// caller unchanged and its replay marker reaches REST callers.
func TestOpsAnswersPassThrough(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ops.setHeader(metadata.Pairs("idempotent-replayed", "true"))
	r := e.do("POST", "/v1/ops/exceptions/E1:resolve", keyOperator, `{"note":"done"}`, "Idempotency-Key", "resolve-1")
	if r.status != http.StatusOK || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replayed resolve: %d, Idempotent-Replayed %q: %s", r.status, r.header.Get("Idempotent-Replayed"), r.body)
	}
	e.ops.setHeader(nil)

	opsErr := apierr.WithViolations(apierr.New(codes.FailedPrecondition, opsv1.ErrorReason_ERROR_REASON_EXCEPTION_ALREADY_RESOLVED,
		"exception exceptions/E1 is resolved", map[string]string{"exception": "exceptions/E1"}),
		apierr.FieldViolation{Field: "name", Description: "resolved"})
	e.ops.set(opsErr.Err())
	_, err := opsv1.NewOpsServiceClient(e.conn).GetException(
		metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+keyViewer),
		&opsv1.GetExceptionRequest{Name: "exceptions/E1"})
	if got := status.Convert(err).Proto(); !proto.Equal(got, opsErr.Proto()) {
		t.Errorf("gRPC error %v, want the ops service's %v unchanged", got, opsErr.Proto())
	}
	r = e.do("POST", "/v1/ops/exceptions/E1:acknowledge", keyOperator, "{}", "Idempotency-Key", "ack-2")
	if eb, ds := r.errorBody(t); r.status != http.StatusBadRequest || eb.Message != opsErr.Message() ||
		ds[0].Reason != "ERROR_REASON_EXCEPTION_ALREADY_RESOLVED" || ds[0].Metadata["exception"] != "exceptions/E1" {
		t.Errorf("REST error %d %s, want 400 with the ops service's status", r.status, r.body)
	}

	// A bare status is no answer of the ops service but a transport's;
	// it is mapped like any neighbour's and names no address.
	e.ops.set(status.Error(codes.Unavailable, "connection refused by 10.1.2.3:9008"))
	r = e.do("GET", "/v1/ops/kpis", keyViewer, "")
	if _, ds := r.errorBody(t); r.status != http.StatusServiceUnavailable || ds[0].Reason != "ERROR_REASON_DEPENDENCY_UNAVAILABLE" ||
		ds[0].Metadata["dependency"] != "ops" || strings.Contains(string(r.body), "10.1.2.3") {
		t.Errorf("bare UNAVAILABLE: %d %s, want 503 DEPENDENCY_UNAVAILABLE naming ops", r.status, r.body)
	}
}

// TestOpsDownLeavesTheStorefrontServing runs the gateway with the ops
// service unreachable: ops calls fail with 503 and a retry hint, then with
// CIRCUIT_OPEN once the breaker opens, never naming the address; readiness
// and the storefront are unaffected.
func TestOpsDownLeavesTheStorefrontServing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "OPS_ADDR="+opsDownAddr)
	r := e.do("GET", "/v1/ops/kpis", keyViewer, "")
	if _, ds := r.errorBody(t); r.status != http.StatusServiceUnavailable || ds[0].Reason != "ERROR_REASON_DEPENDENCY_UNAVAILABLE" ||
		ds[0].Metadata["dependency"] != "ops" || r.header.Get("Retry-After") == "" ||
		!strings.Contains(string(r.body), "google.rpc.RetryInfo") {
		t.Fatalf("ops down: %d Retry-After %q %s, want 503 DEPENDENCY_UNAVAILABLE naming ops with a retry hint",
			r.status, r.header.Get("Retry-After"), r.body)
	}
	reasons := []string{}
	for range 10 {
		r = e.do("GET", "/v1/ops/kpis", keyViewer, "")
		if strings.Contains(string(r.body), "ops-down") {
			t.Errorf("the answer names the dial target: %s", r.body)
		}
		_, ds := r.errorBody(t)
		reasons = append(reasons, ds[0].Reason)
		if ds[0].Reason == "ERROR_REASON_CIRCUIT_OPEN" {
			if r.status != http.StatusServiceUnavailable || ds[0].Metadata["dependency"] != "ops" || len(ds[0].Metadata) != 1 {
				t.Errorf("breaker open: %d %s, want 503 naming only the dependency ops", r.status, r.body)
			}
			break
		}
	}
	if reasons[len(reasons)-1] != "ERROR_REASON_CIRCUIT_OPEN" {
		t.Errorf("reasons %v: the ops breaker never opened", reasons)
	}

	if r := e.do("GET", "/v1/products/SKU-00001", keyWeb, ""); r.status != http.StatusOK {
		t.Errorf("storefront with ops down: %d %s", r.status, r.body)
	}
	resp, err := http.Get(e.adminURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz with ops down: %d, want 200", resp.StatusCode)
	}
}
