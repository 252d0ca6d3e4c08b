package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// page is one API's reference page: the API and its OpenAPI 3 document.
type page struct {
	API api
	Doc []byte
}

//go:embed reference.html.tmpl
var referenceTemplate string

//go:embed style.css
var referenceCSS []byte

// The reference is plain HTML and one stylesheet, no script: the gateway
// serves it under a CSP that allows nothing else, and no Node runs at
// build or run time to render it.
var tmpl = template.Must(template.New("reference").Funcs(template.FuncMap{
	"schemaType": schemaType,
	"lower":      strings.ToLower,
	"deref":      func(s *string) string { return *s },
	"sorted":     sortedSchemaNames,
	"propNames":  propNames,
	"has":        slices.Contains[[]string],
	"statuses":   statuses,
	"params":     params,
	"headerName": sortedHeaderNames,
	"readOnly":   isReadOnly,
	"describe":   describe,
}).Parse(referenceTemplate))

// operationView is an operation with where it lives, for the template.
type operationView struct {
	Method, Path string
	Op           *openapi3.Operation
}

// referencePages renders docs/index.html, docs/<id>.html per API and
// docs/style.css, keyed by their path under gen/openapi3.
func referencePages(pages []page) (map[string][]byte, error) {
	out := map[string][]byte{"docs/style.css": referenceCSS}
	type entry struct {
		ID, Title, Version, Intro string
	}
	var index []entry
	for _, p := range pages {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(p.Doc)
		if err != nil {
			return nil, fmt.Errorf("%s: read the OpenAPI 3 document: %w", p.API.ID, err)
		}
		if err := doc.Validate(context.Background()); err != nil {
			return nil, fmt.Errorf("%s: %w", p.API.ID, err)
		}
		var ops []operationView
		paths := doc.Paths.Keys()
		sort.Strings(paths)
		for _, path := range paths {
			item := doc.Paths.Value(path)
			for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
				if op := item.GetOperation(m); op != nil {
					ops = append(ops, operationView{Method: m, Path: path, Op: op})
				}
			}
		}
		var buf bytes.Buffer
		if err := tmpl.ExecuteTemplate(&buf, "api", map[string]any{"API": p.API, "Doc": doc, "Ops": ops}); err != nil {
			return nil, fmt.Errorf("%s: render the reference: %w", p.API.ID, err)
		}
		out["docs/"+p.API.ID+".html"] = buf.Bytes()
		index = append(index, entry{ID: p.API.ID, Title: doc.Info.Title, Version: doc.Info.Version, Intro: p.API.Intro})
	}
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, "index", index); err != nil {
		return nil, fmt.Errorf("render the reference index: %w", err)
	}
	out["docs/index.html"] = buf.Bytes()
	return out, nil
}

// schemaType renders a schema's type for people: a link to a named schema,
// "array of X", "map of X", or the type and format.
func schemaType(s *openapi3.SchemaRef) template.HTML {
	if s == nil {
		return ""
	}
	if s.Ref != "" {
		name := strings.TrimPrefix(s.Ref, "#/components/schemas/")
		return template.HTML(fmt.Sprintf(`<a href="#schema-%s">%s</a>`, template.HTMLEscapeString(name), template.HTMLEscapeString(name)))
	}
	v := s.Value
	if v == nil {
		return ""
	}
	if len(v.AllOf) == 1 {
		return schemaType(v.AllOf[0])
	}
	switch {
	case v.Type.Is("array"):
		return "array of " + schemaType(v.Items)
	case v.Type.Is("object") && v.AdditionalProperties.Schema != nil:
		return "map of " + schemaType(v.AdditionalProperties.Schema)
	}
	t := template.HTMLEscapeString(strings.Join(v.Type.Slice(), ", "))
	if t == "" {
		t = "any"
	}
	if v.Format != "" {
		t += " (" + template.HTMLEscapeString(v.Format) + ")"
	}
	return template.HTML(t)
}

// describe is a schema's description, its own or the one of the schema
// its allOf wraps.
func describe(s *openapi3.SchemaRef) string {
	if s == nil || s.Value == nil {
		return ""
	}
	return s.Value.Description
}

func isReadOnly(s *openapi3.SchemaRef) bool { return s != nil && s.Value != nil && s.Value.ReadOnly }

func sortedSchemaNames(s openapi3.Schemas) []string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func propNames(s *openapi3.Schema) []string { return sortedSchemaNames(s.Properties) }

func statuses(r *openapi3.Responses) []string {
	keys := make([]string, 0, r.Len())
	for k := range r.Map() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// params resolves op's parameters (the components' ones included).
func params(op *openapi3.Operation) []*openapi3.Parameter {
	out := make([]*openapi3.Parameter, 0, len(op.Parameters))
	for _, p := range op.Parameters {
		if p.Value != nil {
			out = append(out, p.Value)
		}
	}
	return out
}

func sortedHeaderNames(h openapi3.Headers) []string {
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
