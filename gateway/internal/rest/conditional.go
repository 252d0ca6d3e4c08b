package rest

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// errNotModified ends a GET whose If-None-Match matched: the error
// handler answers 304 without a body.
var errNotModified = errors.New("not modified")

// etagOf returns the resource's etag field (a top-level string named
// "etag"); lists and other answers have none.
func etagOf(m proto.Message) string {
	if m == nil {
		return ""
	}
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByName("etag")
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() {
		return ""
	}
	return r.Get(fd).String()
}

// quoteETag makes an entity tag from an etag value: a strong tag in
// quotes, or "" when the value holds characters an entity tag cannot.
func quoteETag(v string) string {
	if v == "" {
		return ""
	}
	for _, c := range []byte(v) {
		if c == '"' || c < 0x21 || c == 0x7f {
			return ""
		}
	}
	return `"` + v + `"`
}

// etagListMatches reports whether header (an If-Match or If-None-Match
// list, or "*") names tag. weak compares W/"x" and "x" as equal, as
// If-None-Match does; If-Match compares strongly.
func etagListMatches(header, tag string, weak bool) bool {
	header = strings.TrimSpace(header)
	if header == "" || tag == "" {
		return false
	}
	if header == "*" {
		return true
	}
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if strings.HasPrefix(t, "W/") {
			if !weak {
				continue
			}
			t = t[2:]
		}
		if t == tag {
			return true
		}
	}
	return false
}

// etagResponse is the ForwardResponseOption that puts a single resource's
// etag in the ETag header of a GET and turns a matching If-None-Match
// into 304.
func etagResponse(ctx context.Context, w http.ResponseWriter, m proto.Message) error {
	st := stateFrom(ctx)
	if st.method != http.MethodGet {
		return nil
	}
	tag := quoteETag(etagOf(m))
	if tag == "" {
		return nil
	}
	w.Header().Set("ETag", tag)
	if etagListMatches(st.ifNoneMatch, tag, true) {
		return errNotModified
	}
	return nil
}
