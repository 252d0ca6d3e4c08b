package auth

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
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
