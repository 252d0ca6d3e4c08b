package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// obj is a JSON object of a document: the post-processing works on the
// generic form so that nothing protoc-gen-openapiv2 writes is lost on the
// way through a typed model.
type obj = map[string]any

// Names of what the post-processing adds to every document.
const (
	errorSchema          = "Error"
	anySchema            = "protobufAny"
	idempotencyParam     = "IdempotencyKey"
	headerIdempotencyKey = "Idempotency-Key"
	headerCorrelationID  = "X-Correlation-Id"
	headerReplayed       = "Idempotent-Replayed"
	headerRetryAfter     = "Retry-After"
	headerAllow          = "Allow"
	headerETag           = "ETag"
	headerIfNoneMatch    = "If-None-Match"
	headerIfMatch        = "If-Match"
	ifNoneMatchParam     = "IfNoneMatch"
	ifMatchParam         = "IfMatch"
	notModified          = "NotModified"
	preconditionFailed   = "PreconditionFailed"
	etagField            = "etag"
	schemeBearer         = "BearerAuth"
	schemeAPIKey         = "ApiKeyAuth"
	requestIDField       = "requestId"
)

// errorResponse is one declared error status: the HTTP status grpc-gateway
// derives from the gRPC codes that produce it (runtime.HTTPStatusFromCode)
// or the gateway's own (405, 412, 413).
type errorResponse struct {
	Status      string
	Name        string
	Description string
	RetryAfter  bool
	// Allow: the response carries the Allow header (405).
	Allow bool
}

// errorResponses are the error statuses every operation declares.
var errorResponses = []errorResponse{
	{Status: "400", Name: "BadRequest", Description: "INVALID_ARGUMENT, FAILED_PRECONDITION or OUT_OF_RANGE: invalid input (a google.rpc.BadRequest lists the fields) " +
		"or a business rule refused the request (ErrorInfo.reason says which). An unknown query parameter is invalid input too: " +
		"the gateway refuses any query parameter the operation does not declare (ERROR_REASON_VALIDATION_FAILED, one violation " +
		"with reason `UNKNOWN_PARAMETER` per parameter) rather than ignore it."},
	{Status: "401", Name: "Unauthenticated", Description: "UNAUTHENTICATED: no API key, or an unknown one."},
	{Status: "403", Name: "PermissionDenied", Description: "PERMISSION_DENIED: the key may not call this method or see this resource."},
	{Status: "404", Name: "NotFound", Description: "NOT_FOUND: the resource does not exist or belongs to another customer."},
	{Status: "405", Name: "MethodNotAllowed", Description: "The path is served, but not for this HTTP method (status UNIMPLEMENTED): `Allow` lists the methods it serves.", Allow: true},
	{Status: "409", Name: "Conflict", Description: "ALREADY_EXISTS or ABORTED: the Idempotency-Key was used with another payload, a request with it is still running, or a concurrent change won."},
	{Status: "413", Name: "PayloadTooLarge", Description: "The request body exceeds the gateway's limit (ERROR_REASON_PAYLOAD_TOO_LARGE)."},
	{Status: "429", Name: "TooManyRequests", Description: "RESOURCE_EXHAUSTED: the key's rate limit (ERROR_REASON_RATE_LIMITED); retry after `Retry-After` seconds.", RetryAfter: true},
	{Status: "500", Name: "Internal", Description: "INTERNAL, UNKNOWN or DATA_LOSS: a fault on Transload's side; the body names no cause, quote the correlation id."},
	{Status: "503", Name: "Unavailable", Description: "UNAVAILABLE: a dependency is down; retry after `Retry-After` seconds when given.", RetryAfter: true},
}

// preconditionFailedResponse is declared only by the operations that take
// If-Match: the gateway answers 412 only when the request sent one.
var preconditionFailedResponse = errorResponse{Status: "412", Name: preconditionFailed,
	Description: "The `If-Match` precondition failed (ABORTED, ERROR_REASON_CONCURRENT_MODIFICATION): the resource's ETag is not one " +
		"listed, so it changed since it was read; GET it again and retry with its new ETag."}

// loadPackage merges the package's per-file documents (dir/*.swagger.json)
// into one: the service's file (the one with paths) gives the frame and
// the others add their definitions; a definition two files spell
// differently is an error rather than a silent pick.
func loadPackage(dir string) (obj, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.swagger.json"))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	sort.Strings(files)
	var doc obj
	var others []obj
	for _, f := range files {
		d, err := readJSON(f)
		if err != nil {
			return nil, err
		}
		if len(objAt(d, "paths")) == 0 {
			others = append(others, d)
			continue
		}
		if doc != nil {
			return nil, fmt.Errorf("%s: more than one file with paths", dir)
		}
		doc = d
	}
	if doc == nil {
		return nil, fmt.Errorf("%s: no *.swagger.json with paths", dir)
	}
	defs := objAt(doc, "definitions")
	for _, d := range others {
		for name, def := range objAt(d, "definitions") {
			if have, ok := defs[name]; ok && !reflect.DeepEqual(have, def) {
				return nil, fmt.Errorf("%s: definition %q differs between files", dir, name)
			}
			defs[name] = def
		}
	}
	return doc, nil
}

// fixSwagger turns the merged protoc-gen-openapiv2 document of a into the
// published Swagger 2 document.
func fixSwagger(doc obj, a api) error {
	paths := objAt(doc, "paths")
	if len(paths) == 0 {
		return fmt.Errorf("%s: no paths", a.ID)
	}
	doc["info"] = obj{
		"title":       a.Title,
		"version":     a.Major + " / " + ContractRelease,
		"description": a.Intro + restConventions,
	}
	doc["host"] = strings.TrimPrefix(LocalServer, "http://")
	doc["schemes"] = []any{"http"}
	doc["securityDefinitions"] = obj{
		schemeBearer: obj{"type": "apiKey", "in": "header", "name": "Authorization",
			"description": "The API key as `Authorization: Bearer <key>` (Swagger 2 has no bearer scheme; the OpenAPI 3 document declares it as HTTP bearer)."},
		schemeAPIKey: obj{"type": "apiKey", "in": "header", "name": "X-Api-Key", "description": "The API key as `X-Api-Key: <key>`."},
	}
	security := []any{obj{schemeBearer: []any{}}, obj{schemeAPIKey: []any{}}}
	doc["security"] = security

	defs := objAt(doc, "definitions")
	defs[errorSchema] = errorDefinition()
	doc["parameters"] = obj{idempotencyParam: obj{
		"name": headerIdempotencyKey, "in": "header", "required": false, "type": "string", "minLength": 1, "maxLength": 128,
		"description": "Client idempotency key, 1..128 characters (e.g. a UUID per attempt): the gateway copies it into `requestId` " +
			"when the request does not set it. Send it (or `requestId`) on every call of this operation; retrying with the same key " +
			"and payload is safe.",
	},
		ifNoneMatchParam: obj{"name": headerIfNoneMatch, "in": "header", "required": false, "type": "string",
			"description": "The `ETag` of a copy the client holds (a comma-separated list, weak tags allowed, or `*`): when one matches " +
				"the resource's current ETag the answer is 304 without a body."},
		ifMatchParam: obj{"name": headerIfMatch, "in": "header", "required": false, "type": "string",
			"description": "The `ETag` from a GET of the resource (a comma-separated list, or `*`): the change is made only while the " +
				"resource's ETag is one listed (strong comparison), else the answer is 412 and nothing changes."},
	}
	responses := obj{}
	for _, e := range append(slices.Clone(errorResponses), preconditionFailedResponse) {
		headers := obj{headerCorrelationID: correlationHeader()}
		if e.RetryAfter {
			headers[headerRetryAfter] = obj{"type": "integer", "description": "Seconds to wait before retrying (from google.rpc.RetryInfo)."}
		}
		if e.Allow {
			headers[headerAllow] = obj{"type": "string", "description": "The methods the path serves, comma-separated (e.g. `GET, OPTIONS`)."}
		}
		responses[e.Name] = obj{"description": e.Description, "schema": ref("definitions", errorSchema), "headers": headers}
	}
	responses[notModified] = obj{"description": "`If-None-Match` named the resource's current ETag: the copy the client holds is current. No body.",
		"headers": obj{headerCorrelationID: correlationHeader(), headerETag: etagHeader()}}
	responses["Default"] = obj{"description": "Any other error (e.g. 499 CANCELLED, 501 UNIMPLEMENTED, 504 DEADLINE_EXCEEDED), in the same shape.",
		"schema": ref("definitions", errorSchema), "headers": obj{headerCorrelationID: correlationHeader()}}
	doc["responses"] = responses

	for _, p := range sortedKeys(paths) {
		item := objAt(paths, p)
		for _, m := range sortedKeys(item) {
			op, ok := item[m].(obj)
			if !ok {
				continue
			}
			if err := fixOperation(doc, p, m, op, security); err != nil {
				return fmt.Errorf("%s %s %s: %w", a.ID, strings.ToUpper(m), p, err)
			}
		}
	}
	for _, name := range sortedKeys(defs) {
		fixSchema(defs[name])
	}
	pruneComponents(doc)
	return nil
}

// fixOperation declares security, the error responses, the response
// headers, for a mutation with a request id the Idempotency-Key header
// with the request id optional, and the conditional requests the gateway
// serves: ETag, If-None-Match and 304 on a GET of a resource with an etag,
// If-Match and 412 on a mutation of such a resource.
func fixOperation(doc obj, path, method string, op obj, security []any) error {
	op["security"] = security
	responses := objAt(op, "responses")
	ok := objAt(responses, "200")
	if ok == nil {
		return fmt.Errorf("no 200 response")
	}
	headers := obj{headerCorrelationID: correlationHeader()}
	if usesRequestID(doc, op) {
		if err := makeRequestIDOptional(doc, op); err != nil {
			return err
		}
		op["parameters"] = append(anySlice(op["parameters"]), ref("parameters", idempotencyParam))
		headers[headerReplayed] = obj{"type": "string", "enum": []any{"true"},
			"description": "`true` when this is the stored answer to an earlier request with the same idempotency key; absent on a first execution."}
	}
	ok["headers"] = headers
	delete(responses, "default")
	for _, e := range errorResponses {
		responses[e.Status] = ref("responses", e.Name)
	}
	switch {
	case method == "get" && hasETag(doc, ok):
		headers[headerETag] = etagHeader()
		op["parameters"] = append(anySlice(op["parameters"]), ref("parameters", ifNoneMatchParam))
		responses["304"] = ref("responses", notModified)
	case method != "get" && hasETag(doc, objAt(objAt(objAt(objAt(objAt(doc, "paths"), resourcePath(path)), "get"), "responses"), "200")):
		op["parameters"] = append(anySlice(op["parameters"]), ref("parameters", ifMatchParam))
		responses[preconditionFailedResponse.Status] = ref("responses", preconditionFailedResponse.Name)
	}
	responses["default"] = ref("responses", "Default")
	for _, prm := range anySlice(op["parameters"]) {
		p, _ := prm.(obj)
		if p["in"] == "path" && p["description"] == nil {
			p["description"] = fmt.Sprintf("The `{%s}` segment of the resource name, as in `%s`.", p["name"], path)
		}
	}
	return nil
}

// hasETag reports whether the response res (a Swagger 2 response object)
// is a resource with an etag field, which the gateway copies into the ETag
// header of a GET.
func hasETag(doc obj, res obj) bool {
	s := resolve(doc, objAt(res, "schema"))
	p := objAt(objAt(s, "properties"), etagField)
	return p != nil && p["type"] == "string"
}

// resourcePath is the path of the resource a custom method acts on
// (/v1/orders/{order}:cancel acts on /v1/orders/{order}), the one the
// gateway GETs to check If-Match; other paths are their own resource.
// As the gateway's checkIfMatch, it looks for the verb only in the last
// segment, after a "/".
func resourcePath(path string) string {
	i := strings.LastIndex(path, "/")
	if i < 0 {
		return path
	}
	if j := strings.LastIndex(path[i:], ":"); j > 0 {
		return path[:i+j]
	}
	return path
}

// usesRequestID reports whether op takes a request id, as a query parameter
// or in its body.
func usesRequestID(doc obj, op obj) bool {
	for _, prm := range anySlice(op["parameters"]) {
		p, _ := prm.(obj)
		switch p["in"] {
		case "query":
			if p["name"] == requestIDField {
				return true
			}
		case "body":
			if s := resolve(doc, objAt(p, "schema")); s != nil {
				if _, ok := objAt(s, "properties")[requestIDField]; ok {
					return true
				}
			}
		}
	}
	return false
}

// makeRequestIDOptional drops the request id from what REST requires: the
// gateway fills it from Idempotency-Key, so a client that sends the header
// must not be made to send it twice.
func makeRequestIDOptional(doc obj, op obj) error {
	const note = " Over REST prefer the `Idempotency-Key` header; set this only to the same value or not at all."
	for _, prm := range anySlice(op["parameters"]) {
		p, _ := prm.(obj)
		switch p["in"] {
		case "query":
			if p["name"] == requestIDField {
				p["required"] = false
				p["description"] = str(p["description"]) + note
			}
		case "body":
			body := objAt(p, "schema")
			s := resolve(doc, body)
			if _, ok := objAt(s, "properties")[requestIDField]; !ok {
				continue
			}
			if body["$ref"] != nil && !referencedOnce(doc, str(body["$ref"])) {
				return fmt.Errorf("body schema %s is used elsewhere; cannot drop %s from its required fields", body["$ref"], requestIDField)
			}
			s["required"] = slices.DeleteFunc(anySlice(s["required"]), func(v any) bool { return v == requestIDField })
			if len(anySlice(s["required"])) == 0 {
				delete(s, "required")
			}
			if prop := objAt(objAt(s, "properties"), requestIDField); prop != nil {
				prop["description"] = str(prop["description"]) + note
			}
		}
	}
	return nil
}

// referencedOnce reports whether the definition at refPath is referenced
// once (by the body parameter at hand).
func referencedOnce(doc obj, refPath string) bool {
	count := 0
	walk(doc, func(o obj) {
		if o["$ref"] == refPath {
			count++
		}
	})
	return count == 1
}

// fixSchema rewrites s and its subschemas so readers see what
// protoc-gen-openapiv2 wrote beside a $ref (description, readOnly), which
// JSON Schema draft 4 and OpenAPI 3.0 ignore: {$ref, siblings} becomes
// {allOf: [{$ref}], siblings}; a `type` beside a $ref is only dropped.
func fixSchema(s any) {
	walk(s, func(o obj) {
		r, ok := o["$ref"]
		if !ok || len(o) == 1 {
			return
		}
		delete(o, "type")
		if len(o) == 1 {
			return
		}
		delete(o, "$ref")
		o["allOf"] = []any{obj{"$ref": r}}
	})
}

// pruneComponents removes the definitions, shared parameters and shared
// responses nothing references (the default error's google.rpc.Status,
// the conditional-request parts of an API without etags): unused
// components only confuse readers.
func pruneComponents(doc obj) {
	sections := []string{"definitions", "parameters", "responses"}
	for {
		used := map[string]bool{}
		walk(doc, func(o obj) {
			if r, ok := o["$ref"].(string); ok {
				used[r] = true
			}
		})
		removed := false
		for _, section := range sections {
			components := objAt(doc, section)
			for name := range components {
				if !used["#/"+section+"/"+name] {
					delete(components, name)
					removed = true
				}
			}
		}
		if !removed {
			return
		}
	}
}

// errorDefinition is the schema of every REST error body, the gateway's
// rest.Error.
func errorDefinition() obj {
	return obj{
		"type":        "object",
		"description": "The body of every REST error: a google.rpc.Status plus the gRPC code's name and the request's correlation id.",
		"required":    []any{"code", "status", "message", "details", "correlationId"},
		"properties": obj{
			"code": obj{"type": "integer", "format": "int32", "example": 3,
				"description": "The numeric gRPC code (google.rpc.Code), e.g. 3 for INVALID_ARGUMENT."},
			"status": obj{"type": "string", "example": "INVALID_ARGUMENT",
				"description": "The gRPC code's name, e.g. `INVALID_ARGUMENT` or `NOT_FOUND` (google.rpc.Code's names, but `CANCELED`)."},
			"message": obj{"type": "string", "description": "English text for humans; do not parse it."},
			"details": obj{"type": "array", "items": ref("definitions", anySchema),
				"description": "google.rpc detail messages, each with its `@type`: always one google.rpc.ErrorInfo (branch on its `reason`), " +
					"a google.rpc.BadRequest for invalid input, a google.rpc.RetryInfo when a retry delay is known."},
			"correlationId": obj{"type": "string", "description": "The request's correlation id, also in the `X-Correlation-Id` header."},
		},
	}
}

func etagHeader() obj {
	return obj{"type": "string", "description": "The resource's `etag` field as a strong entity tag (in double quotes): " +
		"send it back in `If-None-Match` to revalidate a copy, or in `If-Match` to change the resource only if it is unchanged."}
}

func correlationHeader() obj {
	return obj{"type": "string", "description": "The request's correlation id (its own when it sent a valid one, else a new one)."}
}

func ref(section, name string) obj { return obj{"$ref": "#/" + section + "/" + name} }

// resolve follows s's local $ref, if any.
func resolve(doc obj, s obj) obj {
	r, ok := s["$ref"].(string)
	if !ok {
		return s
	}
	name, ok := strings.CutPrefix(r, "#/definitions/")
	if !ok {
		return nil
	}
	return objAt(objAt(doc, "definitions"), name)
}

// walk calls f on every object in v, depth first, parents before children.
func walk(v any, f func(obj)) {
	switch t := v.(type) {
	case obj:
		f(t)
		for _, k := range sortedKeys(t) {
			walk(t[k], f)
		}
	case []any:
		for _, e := range t {
			walk(e, f)
		}
	}
}

func objAt(o obj, key string) obj {
	v, _ := o[key].(obj)
	return v
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func sortedKeys(o obj) []string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func readJSON(path string) (obj, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc obj
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc, nil
}

// marshal is the documents' one JSON form: sorted keys, two-space indent,
// no HTML escaping (descriptions keep their `<` and `&`), final newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return buf.Bytes(), nil
}
