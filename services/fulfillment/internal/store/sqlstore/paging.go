package sqlstore

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// Page sizes (AIP-158): 0 means DefaultPageSize, at most MaxPageSize.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

func pageSize(n int) int {
	switch {
	case n <= 0:
		return DefaultPageSize
	case n > MaxPageSize:
		return MaxPageSize
	default:
		return n
	}
}

// pageToken is the decoded form of an opaque page token: the sort key and
// id of the last row returned, and a fingerprint of the listing's filter so
// a token cannot be replayed against another query.
type pageToken struct {
	Filter string `json:"f"`
	Key    int64  `json:"k"`
	ID     string `json:"i"`
}

func fingerprint(parts ...any) string {
	sum := sha256.Sum256(fmt.Append(nil, parts...))
	return hex.EncodeToString(sum[:8])
}

func encodeToken(fp string, key int64, id string) string {
	b, _ := json.Marshal(pageToken{Filter: fp, Key: key, ID: id})
	return base64.RawURLEncoding.EncodeToString(b)
}

type page struct{ dir string }

// startPage adds the keyset condition of token to where/args.
func startPage(token, fp string, desc bool, column string, where *[]string, args *[]any) (page, error) {
	p := page{dir: "ASC"}
	cmp := ">"
	if desc {
		p.dir, cmp = "DESC", "<"
	}
	if token == "" {
		return p, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return p, fulfillment.ErrInvalidPageToken
	}
	var t pageToken
	if err := json.Unmarshal(raw, &t); err != nil || t.Filter != fp || t.ID == "" {
		return p, fulfillment.ErrInvalidPageToken
	}
	*where = append(*where, fmt.Sprintf("(%s %s ? OR (%s = ? AND id %s ?))", column, cmp, column, cmp))
	*args = append(*args, t.Key, t.Key, t.ID)
	return p, nil
}
