package aip

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// Query is what a page token is bound to: everything that decides which
// rows a list returns and in what order. A token made for one Query is
// rejected for any other, so a client cannot carry a cursor into another
// filter, ordering, parent or caller. page_size is not part of it: AIP-158
// lets it change between pages.
type Query struct {
	// Method names the list, e.g. "order.v1.ListOrders"; two lists never
	// share tokens even with equal filters.
	Method string
	// Caller is the authenticated principal the list is scoped to (API key
	// id, customer); "" when results do not depend on the caller.
	Caller string
	// Filter and OrderBy are the request fields as sent.
	Filter  string
	OrderBy string
	// Params are any other request fields that shape the result (parent,
	// a catalog version reference, a search text), in a fixed order.
	Params []string
}

// tokenDomain separates these digests from any other SHA-256 use.
const tokenDomain = "transload.aip.page_token"

func (q Query) digest() [digestLen]byte {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	write := func(s string) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	write(tokenDomain)
	write(q.Method)
	write(q.Caller)
	write(q.Filter)
	write(q.OrderBy)
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(q.Params)))])
	for _, p := range q.Params {
		write(p)
	}
	var d [digestLen]byte
	copy(d[:], h.Sum(nil))
	return d
}

// KeyValue lists the types a cursor key can hold.
type KeyValue interface {
	string | int | int32 | int64 | bool | time.Time
}

// Key is one value of a keyset cursor, e.g. the create time or the id of
// the last row of a page. Build it with KeyOf.
type Key struct {
	tag  byte
	s    string
	i    int64 // integer, bool (0/1), or Unix seconds of a time
	nsec int32 // nanoseconds of a time
}

// Key tags in the encoded token.
const (
	tagString byte = 's'
	tagInt    byte = 'i'
	tagBool   byte = 'b'
	tagTime   byte = 't'
)

// KeyOf makes a Key from v. A time keeps its instant to the nanosecond but
// not its location or monotonic reading; it decodes in UTC.
func KeyOf[V KeyValue](v V) Key {
	switch v := any(v).(type) {
	case string:
		return Key{tag: tagString, s: v}
	case int:
		return Key{tag: tagInt, i: int64(v)}
	case int32:
		return Key{tag: tagInt, i: int64(v)}
	case int64:
		return Key{tag: tagInt, i: v}
	case bool:
		k := Key{tag: tagBool}
		if v {
			k.i = 1
		}
		return k
	case time.Time:
		return Key{tag: tagTime, i: v.Unix(), nsec: int32(v.Nanosecond())}
	}
	// Unreachable: KeyValue is the closed set above. A zero Key encodes an
	// unknown tag, which DecodePageToken rejects rather than misreads.
	return Key{}
}

// Token format: base64url without padding of
//
//	version (1 byte) | query digest (8 bytes) | uvarint key count |
//	keys (tag byte, then uvarint length + bytes for a string, varint for
//	an integer, one byte for a bool, varint seconds + uvarint nanoseconds
//	for a time) | checksum (first 4 bytes of SHA-256 of all before it)
const (
	tokenVersion = 1
	digestLen    = 8
	checksumLen  = 4
	// MaxPageTokenLen is the longest token DecodePageToken reads; it is the
	// max_len of every page_token field in the contracts. Keep cursors well
	// under it: a time and a UUID make an 84-character token.
	MaxPageTokenLen = 1024
	maxKeys         = 16
)

// EncodePageToken returns the opaque token that resumes q after keys (at
// most 16 of them; DecodePageToken rejects more).
func EncodePageToken(q Query, keys ...Key) string {
	d := q.digest()
	buf := make([]byte, 0, 1+digestLen+1+16*len(keys)+checksumLen)
	buf = append(buf, tokenVersion)
	buf = append(buf, d[:]...)
	buf = binary.AppendUvarint(buf, uint64(len(keys)))
	for _, k := range keys {
		buf = append(buf, k.tag)
		switch k.tag {
		case tagString:
			buf = binary.AppendUvarint(buf, uint64(len(k.s)))
			buf = append(buf, k.s...)
		case tagInt:
			buf = binary.AppendVarint(buf, k.i)
		case tagBool:
			buf = append(buf, byte(k.i))
		case tagTime:
			buf = binary.AppendVarint(buf, k.i)
			buf = binary.AppendUvarint(buf, uint64(k.nsec))
		}
	}
	buf = append(buf, checksum(buf)...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

// checksum makes damaged and random tokens fail before any parsing.
func checksum(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:checksumLen]
}

// DecodePageToken checks that token was made by EncodePageToken for q and
// stores its keys in dst, which must be pointers matching the encoded keys
// in number and type: *string, *int, *int32, *int64, *bool or *time.Time.
// An empty token is the first page: dst is left untouched and the error is
// nil.
//
// Token errors are *PageTokenError (InvalidArgument on "page_token"). A dst
// of another type is the caller's bug and returns a plain error. The
// checksum catches damage, not forgery: key values come from the client,
// so the store must still apply the filter and caller scope on every page
// and treat keys only as a position.
func DecodePageToken(token string, q Query, dst ...any) error {
	if token == "" {
		return nil
	}
	keys, err := decodeKeys(token, q)
	if err != nil {
		return err
	}
	if len(keys) != len(dst) {
		return tokenError("the token does not fit this list")
	}
	for i, k := range keys {
		if err := k.store(dst[i]); err != nil {
			return err
		}
	}
	return nil
}

func decodeKeys(token string, q Query) ([]Key, error) {
	if len(token) > MaxPageTokenLen {
		return nil, tokenError("the token is longer than %d characters", MaxPageTokenLen)
	}
	for i := 0; i < len(token); i++ {
		// The decoder skips \r and \n; reject them so one token has one
		// spelling.
		if !isTokenChar(token[i]) {
			return nil, tokenError("the token is not one this service issued")
		}
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) < 1+digestLen+1+checksumLen {
		return nil, tokenError("the token is not one this service issued")
	}
	body, sum := raw[:len(raw)-checksumLen], raw[len(raw)-checksumLen:]
	if !bytes.Equal(sum, checksum(body)) {
		return nil, tokenError("the token is damaged; use next_page_token exactly as returned")
	}
	if body[0] != tokenVersion {
		return nil, tokenError("the token is from another version of this service; restart the listing")
	}
	if d := q.digest(); !bytes.Equal(body[1:1+digestLen], d[:]) {
		return nil, tokenError("the token belongs to another query; filter, order_by, parent and caller must not change between pages")
	}
	r := body[1+digestLen:]
	n, r, ok := uvarint(r)
	if !ok || n > maxKeys {
		return nil, tokenError("the token is malformed")
	}
	keys := make([]Key, 0, n)
	for range n {
		var k Key
		if k, r, ok = readKey(r); !ok {
			return nil, tokenError("the token is malformed")
		}
		keys = append(keys, k)
	}
	if len(r) != 0 {
		return nil, tokenError("the token is malformed")
	}
	return keys, nil
}

// isTokenChar reports whether c is in the base64url alphabet.
func isTokenChar(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

func uvarint(b []byte) (uint64, []byte, bool) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, b, false
	}
	return v, b[n:], true
}

func varint(b []byte) (int64, []byte, bool) {
	v, n := binary.Varint(b)
	if n <= 0 {
		return 0, b, false
	}
	return v, b[n:], true
}

func readKey(b []byte) (Key, []byte, bool) {
	if len(b) == 0 {
		return Key{}, b, false
	}
	k := Key{tag: b[0]}
	b = b[1:]
	var ok bool
	switch k.tag {
	case tagString:
		var n uint64
		if n, b, ok = uvarint(b); !ok || n > uint64(len(b)) {
			return Key{}, b, false
		}
		k.s, b = string(b[:n]), b[n:]
	case tagInt:
		if k.i, b, ok = varint(b); !ok {
			return Key{}, b, false
		}
	case tagBool:
		if len(b) == 0 || b[0] > 1 {
			return Key{}, b, false
		}
		k.i, b = int64(b[0]), b[1:]
	case tagTime:
		var ns uint64
		if k.i, b, ok = varint(b); !ok {
			return Key{}, b, false
		}
		if ns, b, ok = uvarint(b); !ok || ns >= uint64(time.Second) {
			return Key{}, b, false
		}
		k.nsec = int32(ns)
	default:
		return Key{}, b, false
	}
	return k, b, true
}

// store writes k into dst, a pointer of k's type.
func (k Key) store(dst any) error {
	mismatch := func() error { return tokenError("the token does not fit this list") }
	switch d := dst.(type) {
	case *string:
		if k.tag != tagString {
			return mismatch()
		}
		*d = k.s
	case *int64:
		if k.tag != tagInt {
			return mismatch()
		}
		*d = k.i
	case *int:
		if k.tag != tagInt || k.i < math.MinInt || k.i > math.MaxInt {
			return mismatch()
		}
		*d = int(k.i)
	case *int32:
		if k.tag != tagInt || k.i < math.MinInt32 || k.i > math.MaxInt32 {
			return mismatch()
		}
		*d = int32(k.i)
	case *bool:
		if k.tag != tagBool {
			return mismatch()
		}
		*d = k.i == 1
	case *time.Time:
		if k.tag != tagTime {
			return mismatch()
		}
		*d = time.Unix(k.i, int64(k.nsec)).UTC()
	default:
		return fmt.Errorf("aip: DecodePageToken: unsupported destination %T", dst)
	}
	return nil
}
