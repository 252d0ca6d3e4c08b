package catalog

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Filter selects products in ListProducts; zero fields match everything.
type Filter struct {
	Channel  string `json:"c,omitempty"`
	Status   Status `json:"s,omitempty"`
	Category string `json:"g,omitempty"`
	Brand    string `json:"b,omitempty"`
}

// Matches reports whether p passes the filter (used by tests and by
// engines that filter in Go).
func (f Filter) Matches(p Product) bool {
	switch {
	case f.Channel != "" && !containsString(p.Channels, f.Channel):
		return false
	case f.Status != StatusUnspecified && p.Status != f.Status:
		return false
	case f.Category != "" && !p.InCategory(f.Category):
		return false
	case f.Brand != "" && p.Brand != f.Brand:
		return false
	}
	return true
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

var termPattern = regexp.MustCompile(`^\s*([a-z_]+)\s*=\s*("(?:[^"\\]|\\.)*"|[A-Za-z0-9_./-]+)\s*$`)

// ParseFilter parses the AIP-160 subset ListProducts accepts: terms
// `field = value` joined with AND over channel, status, category and brand.
// Values may be quoted ("web") or bare (ACTIVE). Errors wrap
// ErrInvalidFilter in a *FieldError for field "filter".
func ParseFilter(s string) (Filter, error) {
	var f Filter
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	bad := func(msg string) error {
		return fmt.Errorf("%w: %w", ErrInvalidFilter, &FieldError{Field: "filter", Message: msg})
	}
	seen := map[string]bool{}
	for _, term := range splitAnd(s) {
		m := termPattern.FindStringSubmatch(term)
		if m == nil {
			return Filter{}, bad(fmt.Sprintf("cannot parse term %q; use field = value joined with AND", strings.TrimSpace(term)))
		}
		field, value := m[1], m[2]
		if strings.HasPrefix(value, `"`) {
			v, err := strconv.Unquote(value)
			if err != nil {
				return Filter{}, bad(fmt.Sprintf("bad quoted value %s", value))
			}
			value = v
		}
		if seen[field] {
			return Filter{}, bad("field " + field + " appears twice")
		}
		seen[field] = true
		switch field {
		case "channel":
			if !ValidChannel(value) {
				return Filter{}, bad("channel must be a channel code")
			}
			f.Channel = value
		case "status":
			st, ok := ParseStatus(strings.TrimPrefix(value, "PRODUCT_STATUS_"))
			if !ok {
				return Filter{}, bad("status must be DRAFT, ACTIVE, ON_HOLD or DISCONTINUED")
			}
			f.Status = st
		case "category":
			if value == "" || !categoryPattern.MatchString(value) {
				return Filter{}, bad("category must be a category path")
			}
			f.Category = value
		case "brand":
			if value == "" {
				return Filter{}, bad("brand must not be empty")
			}
			f.Brand = value
		default:
			return Filter{}, bad("unknown field " + field + "; use channel, status, category or brand")
		}
	}
	return f, nil
}

// splitAnd splits s at the keyword AND outside quotes.
func splitAnd(s string) []string {
	var terms []string
	inQuote, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && inQuote:
			i++
		case s[i] == '"':
			inQuote = !inQuote
		case !inQuote && i+5 <= len(s) && s[i:i+5] == " AND ":
			terms = append(terms, s[start:i])
			start = i + 5
			i += 4
		}
	}
	return append(terms, s[start:])
}

// pageToken is the decoded form of an opaque ListProducts page token: it
// pins the resolved version and the filter so a token cannot be replayed
// against another query, and records where the previous page ended.
type pageToken struct {
	Version int64  `json:"v"`
	Filter  Filter `json:"f"`
	After   string `json:"a"`
}

func encodeToken(t pageToken) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string) (pageToken, error) {
	var t pageToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return t, ErrInvalidPageToken
	}
	if err := json.Unmarshal(b, &t); err != nil || t.After == "" {
		return t, ErrInvalidPageToken
	}
	return t, nil
}

// EncodeAfterToken and DecodeAfterToken are the opaque "continue after key"
// tokens of lists that are not bound to a catalog version (versions list).
func EncodeAfterToken(kind string, after int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strconv.FormatInt(after, 10)))
}

// DecodeAfterToken decodes a token made by EncodeAfterToken for kind.
func DecodeAfterToken(kind, token string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, ErrInvalidPageToken
	}
	rest, ok := strings.CutPrefix(string(b), kind+":")
	if !ok {
		return 0, ErrInvalidPageToken
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	if err != nil {
		return 0, ErrInvalidPageToken
	}
	return n, nil
}
