package grpcapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/apierr"
)

const (
	defaultPageSize = 50
	maxPageSize     = 500
)

func pageSize(n int32) int {
	switch {
	case n <= 0:
		return defaultPageSize
	case n > maxPageSize:
		return maxPageSize
	}
	return int(n)
}

// pageToken is the decoded form of an opaque page token. Scope binds it
// to the request (method, parent and filter) that produced it.
type pageToken struct {
	Scope  string `json:"s"`
	Offset int    `json:"o,omitempty"`
	SKU    string `json:"k,omitempty"`
	WH     string `json:"w,omitempty"`
	// ID and Micros are the keyset of reservations (id, create time).
	ID     string `json:"i,omitempty"`
	Micros int64  `json:"t,omitempty"`
}

func scope(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:8])
}

func encodeToken(t pageToken) string {
	b, _ := json.Marshal(t) // plain struct: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(raw, wantScope string) (pageToken, error) {
	var t pageToken
	if raw == "" {
		return pageToken{Scope: wantScope}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Scope != wantScope || t.Offset < 0 {
		return t, badToken()
	}
	return t, nil
}

// keysetPage trims items fetched with limit size+1 to one page and, when a
// further page exists, returns the token that resumes after the page's last
// item (its id and create time). Shared by every keyset-paged list.
func keysetPage[T any](tok pageToken, size int, items []T, key func(T) (string, time.Time)) ([]T, string) {
	if len(items) <= size {
		return items, ""
	}
	items = items[:size]
	id, created := key(items[size-1])
	tok.ID, tok.Micros = id, created.UnixMicro()
	return items, encodeToken(tok)
}

// filterState parses a `state = X` filter value (with or without the
// STATE_ prefix) against a generated State enum's value map.
func filterState(values map[string]int32, raw string) (int32, error) {
	v, ok := values["STATE_"+strings.TrimPrefix(raw, "STATE_")]
	if !ok || v == 0 {
		return 0, badFilter("unknown state " + strconv.Quote(raw))
	}
	return v, nil
}

func badToken() error {
	return apierr.Error(codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_INVALID_PAGE_TOKEN,
		"page_token is invalid or belongs to another request", nil)
}

// filterTerm is one `field op value` term of an AIP-160 filter.
type filterTerm struct {
	Field, Op, Value string
}

var (
	andSplit = regexp.MustCompile(`\s+AND\s+`)
	termRe   = regexp.MustCompile(`^([a-z_]+)\s*(=|>)\s*(.+)$`)
)

// parseFilter parses the fixed subset of AIP-160 the list methods accept:
// terms `field = value` or `field > value` joined with AND; string values
// are double-quoted.
func parseFilter(filter string) ([]filterTerm, error) {
	filter = strings.TrimSpace(filter)
	if filter == "" {
		return nil, nil
	}
	var out []filterTerm
	for _, raw := range andSplit.Split(filter, -1) {
		m := termRe.FindStringSubmatch(strings.TrimSpace(raw))
		if m == nil {
			return nil, badFilter("cannot parse term " + strconv.Quote(raw))
		}
		v := strings.TrimSpace(m[3])
		if strings.HasPrefix(v, `"`) {
			uq, err := strconv.Unquote(v)
			if err != nil {
				return nil, badFilter("bad string value in " + strconv.Quote(raw))
			}
			v = uq
		}
		out = append(out, filterTerm{Field: m[1], Op: m[2], Value: v})
	}
	return out, nil
}

func badFilter(desc string) error {
	return apierr.InvalidArgument("filter is invalid: "+desc,
		apierr.FieldViolation{Field: "filter", Description: desc, Reason: "FILTER_INVALID"})
}
