package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/transload/transload/platform/apierr"
)

func TestParseKeys(t *testing.T) {
	t.Parallel()
	k, err := ParseKeys([]string{"web-key-123:web", "c1-key-1234:web:C0001", " adm-key-1234:ops:admin ", "b2b-key-1234:b2b"})
	if err != nil {
		t.Fatal(err)
	}
	if k.Len() != 4 {
		t.Fatalf("len %d", k.Len())
	}
	for key, want := range map[string]Principal{
		"web-key-123":  {Channel: "web"},
		"c1-key-1234":  {Channel: "web", CustomerID: "C0001"},
		"adm-key-1234": {Admin: true},
		"b2b-key-1234": {Channel: "b2b"},
	} {
		got, ok := k.Lookup(key)
		if !ok {
			t.Fatalf("%s not found", key)
		}
		if got.Channel != want.Channel || got.CustomerID != want.CustomerID || got.Admin != want.Admin {
			t.Errorf("%s: got %+v, want %+v", key, got, want)
		}
		if !strings.HasPrefix(got.KeyID, "key-") || strings.Contains(got.KeyID, key) {
			t.Errorf("%s: KeyID %q must be a digest, not the key", key, got.KeyID)
		}
	}
	if _, ok := k.Lookup("unknown-key"); ok {
		t.Error("unknown key found")
	}
}

func TestParseKeysRejectsBadEntriesWithoutEchoingKeys(t *testing.T) {
	t.Parallel()
	for name, spec := range map[string]string{
		"no channel":     "secret-key-1",
		"short key":      "sh0rt:web",
		"bad channel":    "secret-key-1:Web Shop",
		"bad customer":   "secret-key-1:web:C 1",
		"too many parts": "secret-key-1:web:C1:x",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseKeys([]string{spec})
			if err == nil {
				t.Fatal("accepted")
			}
			if key, _, _ := strings.Cut(spec, ":"); strings.Contains(err.Error(), key) {
				t.Errorf("error echoes the key: %v", err)
			}
		})
	}
	if _, err := ParseKeys([]string{"same-key-123:web", "same-key-123:b2b"}); err == nil {
		t.Error("duplicate key accepted")
	}
}

func TestAuthFunc(t *testing.T) {
	t.Parallel()
	k, err := ParseKeys([]string{"web-key-123:web:C0001", "adm-key-1234:ops:admin"})
	if err != nil {
		t.Fatal(err)
	}
	auth := k.AuthFunc()
	const sf = "/transload.storefront.v1.StorefrontService/GetOrder"
	const ops = "/transload.ops.v1.OpsService/ListExceptions"
	for name, tc := range map[string]struct {
		md     []string
		method string
		code   codes.Code
	}{
		"bearer":          {[]string{"authorization", "Bearer web-key-123"}, sf, codes.OK},
		"x-api-key":       {[]string{"x-api-key", "web-key-123"}, sf, codes.OK},
		"missing":         {nil, sf, codes.Unauthenticated},
		"unknown":         {[]string{"authorization", "Bearer nope-nope-nope"}, sf, codes.Unauthenticated},
		"empty bearer":    {[]string{"authorization", "Bearer "}, sf, codes.Unauthenticated},
		"admin on sf":     {[]string{"authorization", "Bearer adm-key-1234"}, sf, codes.PermissionDenied},
		"channel on ops":  {[]string{"authorization", "Bearer web-key-123"}, ops, codes.PermissionDenied},
		"admin on ops":    {[]string{"authorization", "Bearer adm-key-1234"}, ops, codes.OK},
		"basic is not ok": {[]string{"authorization", "Basic web-key-123"}, sf, codes.Unauthenticated},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(tc.md...))
			got, err := auth(ctx, tc.method)
			if status.Code(err) != tc.code {
				t.Fatalf("code %v, want %v (%v)", status.Code(err), tc.code, err)
			}
			if err != nil {
				return
			}
			p, ok := FromContext(got)
			if !ok || p.KeyID == "" {
				t.Fatalf("no principal in the context")
			}
			if tc.method == sf && p.CustomerID != "C0001" {
				t.Errorf("principal %+v", p)
			}
		})
	}
}

func TestRateLimiter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := NewRateLimiter(2, 3, func() time.Time { return now })
	for i := range 3 {
		if ok, _ := r.Allow("key-a"); !ok {
			t.Fatalf("call %d within the burst refused", i)
		}
	}
	ok, wait := r.Allow("key-a")
	if ok || wait <= 0 || wait > 500*time.Millisecond {
		t.Fatalf("4th call: allowed %v wait %v, want refused with a wait of at most 500ms", ok, wait)
	}
	if ok, _ := r.Allow("key-b"); !ok {
		t.Error("another key shares the bucket")
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := r.Allow("key-a"); !ok {
		t.Error("no token back after 500ms at 2/s")
	}
	if ok, _ := NewRateLimiter(0, 0, nil).Allow("x"); !ok {
		t.Error("a zero rate must disable limiting")
	}

	k, _ := ParseKeys([]string{"web-key-123:web"})
	auth := NewRateLimiter(1, 1, func() time.Time { return now }).Limit(k.AuthFunc())
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer web-key-123"))
	if _, err := auth(ctx, "/transload.storefront.v1.StorefrontService/GetOrder"); err != nil {
		t.Fatal(err)
	}
	_, err := auth(ctx, "/transload.storefront.v1.StorefrontService/GetOrder")
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("over the limit: %v", err)
	}
	if d, ok := apierr.RetryDelay(err); !ok || d <= 0 {
		t.Errorf("no RetryInfo: %v", err)
	}
}
