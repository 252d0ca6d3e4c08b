package rest

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Route is one REST binding of a gRPC method, read from its
// google.api.http option: the HTTP method, the path template and which
// request fields the path and the body fill.
type Route struct {
	// Method is the HTTP method, e.g. "GET".
	Method string
	// Template is the path template, e.g. "/v1/{name=orders/*}:cancel".
	Template string
	// Body is the body field ("*" for the whole request, "" for none).
	Body string
	// RPC is the gRPC method the route calls.
	RPC protoreflect.MethodDescriptor

	segments []segment
	verb     string
	// bound are the proto field paths the path and the body fill; query
	// parameters may name any other field.
	bound [][]string
}

// segment is one path segment of a template: a literal, or a wildcard
// ("*" one segment, "**" the rest).
type segment struct {
	literal string
	wild    string
}

// Routes reads the REST routes of services from their google.api.http
// options, in declaration order. Additional bindings are routes too.
func Routes(services ...protoreflect.ServiceDescriptor) ([]Route, error) {
	var out []Route
	for _, sd := range services {
		for i := range sd.Methods().Len() {
			md := sd.Methods().Get(i)
			rule, ok := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
			if !ok || rule == nil {
				continue
			}
			for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
				route, err := newRoute(md, r)
				if err != nil {
					return nil, fmt.Errorf("rest: %s: %w", md.FullName(), err)
				}
				out = append(out, route)
			}
		}
	}
	return out, nil
}

func newRoute(md protoreflect.MethodDescriptor, rule *annotations.HttpRule) (Route, error) {
	r := Route{RPC: md, Body: rule.GetBody()}
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		r.Method, r.Template = "GET", p.Get
	case *annotations.HttpRule_Post:
		r.Method, r.Template = "POST", p.Post
	case *annotations.HttpRule_Put:
		r.Method, r.Template = "PUT", p.Put
	case *annotations.HttpRule_Patch:
		r.Method, r.Template = "PATCH", p.Patch
	case *annotations.HttpRule_Delete:
		r.Method, r.Template = "DELETE", p.Delete
	case *annotations.HttpRule_Custom:
		r.Method, r.Template = p.Custom.GetKind(), p.Custom.GetPath()
	default:
		return Route{}, fmt.Errorf("http rule without a pattern")
	}
	if err := r.parseTemplate(); err != nil {
		return Route{}, err
	}
	switch r.Body {
	case "", "*":
	default:
		r.bound = append(r.bound, strings.Split(r.Body, "."))
	}
	return r, nil
}

// parseTemplate reads the path template grammar of google.api.http:
// "/" segments [":" verb], where a segment is a literal, "*", "**" or a
// variable "{field.path[=segments]}".
func (r *Route) parseTemplate() error {
	t, ok := strings.CutPrefix(r.Template, "/")
	if !ok {
		return fmt.Errorf("template %q does not start with /", r.Template)
	}
	// The verb follows the last ':' outside a variable.
	if i := strings.LastIndex(t, ":"); i >= 0 && !strings.Contains(t[i:], "}") {
		t, r.verb = t[:i], t[i+1:]
	}
	for t != "" {
		var part string
		if strings.HasPrefix(t, "{") {
			end := strings.Index(t, "}")
			if end < 0 {
				return fmt.Errorf("template %q: unclosed variable", r.Template)
			}
			field, pattern, hasPattern := strings.Cut(t[1:end], "=")
			if !hasPattern {
				pattern = "*"
			}
			r.bound = append(r.bound, strings.Split(field, "."))
			for p := range strings.SplitSeq(pattern, "/") {
				r.segments = append(r.segments, toSegment(p))
			}
			t = strings.TrimPrefix(t[end+1:], "/")
			continue
		}
		part, t, _ = strings.Cut(t, "/")
		r.segments = append(r.segments, toSegment(part))
	}
	return nil
}

func toSegment(s string) segment {
	if s == "*" || s == "**" {
		return segment{wild: s}
	}
	return segment{literal: s}
}

// pathParts splits a path into its segments, once per request for all
// routes; ok is false when it does not start with "/".
func pathParts(path string) (parts []string, ok bool) {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return nil, false
	}
	return strings.Split(rest, "/"), true
}

// match reports whether a path, split by pathParts (unescaped, as in
// URL.Path), fits the route's template, whatever the method. The verb,
// which the grammar keeps free of "/", ends the last segment.
func (r *Route) match(parts []string) bool {
	last := len(parts) - 1
	lastPart := parts[last]
	if r.verb != "" {
		var ok bool
		if lastPart, ok = strings.CutSuffix(lastPart, ":"+r.verb); !ok {
			return false
		}
	}
	for i, s := range r.segments {
		if s.wild == "**" {
			return true
		}
		if i > last {
			return false
		}
		p := parts[i]
		if i == last {
			p = lastPart
		}
		if p == "" || (s.wild == "" && p != s.literal) {
			return false
		}
	}
	return len(parts) == len(r.segments)
}

// QueryField resolves a query parameter key the way grpc-gateway does
// (dot-separated field names, proto or JSON spelling) and reports the
// proto field path it sets; ok is false when the key names no field, or
// a field the path or the body already fills, so grpc-gateway would drop
// it silently.
func (r *Route) QueryField(key string) (path []string, ok bool) {
	if r.Body == "*" {
		return nil, false
	}
	msg := r.RPC.Input()
	names := strings.Split(key, ".")
	for i, name := range names {
		if msg == nil {
			return nil, false
		}
		fd := msg.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			fd = msg.Fields().ByJSONName(name)
		}
		if fd == nil || fd.IsMap() || (i < len(names)-1 && (fd.Message() == nil || fd.IsList())) {
			return nil, false
		}
		path = append(path, string(fd.Name()))
		msg = fd.Message()
	}
	for _, b := range r.bound {
		n := min(len(b), len(path))
		if slices.Equal(b[:n], path[:n]) {
			return nil, false
		}
	}
	return path, true
}

// QueryFields lists the query parameters the route accepts, by their
// JSON names with nested fields joined by dots (well-known types such
// as Timestamp count as one value, as grpc-gateway parses them).
func (r *Route) QueryFields() []string {
	if r.Body == "*" {
		return nil
	}
	var out []string
	var walk func(md protoreflect.MessageDescriptor, prefix string, depth int)
	walk = func(md protoreflect.MessageDescriptor, prefix string, depth int) {
		for i := range md.Fields().Len() {
			fd := md.Fields().Get(i)
			key := prefix + fd.JSONName()
			if _, ok := r.QueryField(key); !ok {
				continue
			}
			if m := fd.Message(); m != nil && !fd.IsList() && !isWellKnown(m) && depth < 4 {
				walk(m, key+".", depth+1)
				continue
			}
			out = append(out, key)
		}
	}
	walk(r.RPC.Input(), "", 0)
	return out
}

func isWellKnown(md protoreflect.MessageDescriptor) bool {
	return md.ParentFile().Package() == "google.protobuf"
}

// routeTable finds the routes of a request path.
type routeTable []Route

// forPath returns the routes whose template fits path, any method. A
// custom method's path ("/v1/orders/x:cancel") is its own: the routes
// of the resource, whose last variable would also take "x:cancel", are
// left out, so GET on it is 405 rather than a read of a resource named
// "x:cancel".
func (t routeTable) forPath(path string) []*Route {
	parts, ok := pathParts(path)
	if !ok {
		return nil
	}
	var out, verbs []*Route
	for i := range t {
		if t[i].match(parts) {
			out = append(out, &t[i])
			if t[i].verb != "" {
				verbs = append(verbs, &t[i])
			}
		}
	}
	if len(verbs) > 0 {
		return verbs
	}
	return out
}

// methods lists the HTTP methods of routes, each once, in the order
// GET, POST, PUT, PATCH, DELETE, then others.
func methods(routes []*Route) []string {
	var out []string
	for _, r := range routes {
		if !slices.Contains(out, r.Method) {
			out = append(out, r.Method)
		}
	}
	order := []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	rank := func(m string) int {
		if i := slices.Index(order, m); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(out, func(a, b string) int { return rank(a) - rank(b) })
	return out
}
