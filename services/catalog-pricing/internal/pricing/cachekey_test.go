package pricing

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/transload/transload/platform/fingerprint"
)

// cacheKeyReference is cacheKey as it was written before it was built in
// one buffer (session 7): the keys of the shared quote cache must not
// change.
func cacheKeyReference(req QuoteRequest, catalogVersion, priceVersion int64) string {
	var b strings.Builder
	b.WriteString("cv=" + strconv.FormatInt(catalogVersion, 10))
	b.WriteString("|pv=" + strconv.FormatInt(priceVersion, 10))
	b.WriteString("|cust=" + req.CustomerID + "|ch=" + req.Channel + "|cur=" + req.Currency)
	if req.CustomerGroup != "" {
		b.WriteString("|grp=" + req.CustomerGroup)
	}
	if !req.PriceTime.IsZero() {
		b.WriteString("|t=" + req.PriceTime.UTC().Format(time.RFC3339Nano))
	}
	codes := make([]string, len(req.PromotionCodes))
	for i, c := range req.PromotionCodes {
		codes[i] = strings.ToUpper(c)
	}
	sort.Strings(codes)
	b.WriteString("|codes=" + strings.Join(codes, ","))
	b.WriteString("|partial=" + strconv.FormatBool(req.AllowPartial))
	for _, l := range req.Lines {
		b.WriteString("|" + l.SKU + "*" + strconv.FormatInt(l.Quantity, 10))
	}
	return fmt.Sprintf("v%d.%d:%s", catalogVersion, priceVersion, fingerprint.Bytes([]byte(b.String())))
}

// TestCacheKeyMatchesReference: for any request and versions, cacheKey
// gives the key the reference gives (and so every replica and release
// shares cached quotes, and no two requests that differ share a key
// unless they did before).
func TestCacheKeyMatchesReference(t *testing.T) {
	str := rapid.StringOfN(rapid.SampledFrom([]rune("aB9-._*|,=é")), 0, 12, -1)
	rapid.Check(t, func(t *rapid.T) {
		req := QuoteRequest{
			CustomerID: str.Draw(t, "customer"), CustomerGroup: str.Draw(t, "group"),
			Channel: str.Draw(t, "channel"), Currency: str.Draw(t, "currency"),
			AllowPartial: rapid.Bool().Draw(t, "partial"),
		}
		if rapid.Bool().Draw(t, "at") {
			req.PriceTime = time.Unix(rapid.Int64Range(-1e10, 1e10).Draw(t, "sec"), rapid.Int64Range(0, 999_999_999).Draw(t, "nsec")).
				In(time.FixedZone("X", rapid.IntRange(-43200, 43200).Draw(t, "zone")))
		}
		req.PromotionCodes = rapid.SliceOfN(str, 0, 4).Draw(t, "codes")
		for range rapid.IntRange(0, 30).Draw(t, "lines") {
			req.Lines = append(req.Lines, QuoteRequestLine{SKU: str.Draw(t, "sku"), Quantity: rapid.Int64().Draw(t, "qty")})
		}
		cv, pv := rapid.Int64().Draw(t, "cv"), rapid.Int64().Draw(t, "pv")
		if got, want := cacheKey(req, cv, pv), cacheKeyReference(req, cv, pv); got != want {
			t.Fatalf("cacheKey = %s, reference %s for %+v", got, want, req)
		}
	})
}
