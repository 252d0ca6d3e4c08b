package target

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func TestValidate(t *testing.T) {
	res := fakeResolver{
		"hooks.example.com": {netip.MustParseAddr("93.184.216.34")},
		"evil.example.com":  {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.0.0.5")},
		"local.example.com": {netip.MustParseAddr("127.0.0.1")},
		"meta.example.com":  {netip.MustParseAddr("169.254.169.254")},
		"v6.example.com":    {netip.MustParseAddr("::ffff:192.168.1.1")},
	}
	strict := Policy{Resolver: res}
	dev := Policy{Resolver: res, AllowHTTP: true, AllowPrivate: true}
	for _, c := range []struct {
		raw  string
		p    Policy
		rule string // "" = accepted
	}{
		{"https://hooks.example.com/wh", strict, ""},
		{"https://hooks.example.com:8443/wh?x=1", strict, ""},
		{"http://hooks.example.com/wh", strict, RuleScheme},
		{"ftp://hooks.example.com/wh", dev, RuleScheme},
		{"https://user:pw@hooks.example.com/wh", strict, RuleCredentials},
		{"https://user@hooks.example.com/wh", dev, RuleCredentials},
		{"https://hooks.example.com/wh#frag", strict, RuleFragment},
		{"https://hooks.example.com/wh#", strict, RuleFragment},
		{"https://evil.example.com/", strict, RuleAddress},
		{"https://local.example.com/", strict, RuleAddress},
		{"https://meta.example.com/", strict, RuleAddress},
		{"https://v6.example.com/", strict, RuleAddress},
		{"https://127.0.0.1/", strict, RuleAddress},
		{"https://[::1]/", strict, RuleAddress},
		{"https://10.1.2.3/", strict, RuleAddress},
		{"https://100.64.0.1/", strict, RuleAddress},
		{"https://0.0.0.0/", strict, RuleAddress},
		{"https://[fd00::1]/", strict, RuleAddress},
		{"https://[::ffff:127.0.0.1]/", strict, RuleAddress},
		{"https://nowhere.example.com/", strict, RuleResolve},
		{"https:///path", strict, RuleSyntax},
		{"/relative", strict, RuleScheme},
		{"https://hooks.example.com:0/", strict, RuleSyntax},
		{"http://127.0.0.1:8080/hook", dev, ""},
		{"https://local.example.com/", dev, ""},
	} {
		_, err := c.p.Validate(t.Context(), c.raw)
		var e *Error
		switch {
		case c.rule == "" && err != nil:
			t.Errorf("%s: refused: %v", c.raw, err)
		case c.rule != "" && !errors.As(err, &e):
			t.Errorf("%s: err = %v, want rule %s", c.raw, err, c.rule)
		case c.rule != "" && e.Rule != c.rule:
			t.Errorf("%s: rule = %s (%v), want %s", c.raw, e.Rule, err, c.rule)
		}
	}
}

// The client re-checks the dialled address: a loopback receiver is refused
// by the strict policy even though nothing validated the URL (a name that
// resolved publicly at creation and to 127.0.0.1 now looks the same).
func TestClientRefusesPrivateDialAndRedirects(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/final", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	_, err := Policy{}.Client(2*time.Second).Post(srv.URL+"/x", "application/json", nil)
	if !IsRefused(err) {
		t.Fatalf("strict client to loopback: err = %v, want an address refusal", err)
	}
	if hits != 0 {
		t.Fatalf("receiver got %d requests", hits)
	}
	resp, err := Policy{AllowPrivate: true, AllowHTTP: true}.Client(2*time.Second).Post(srv.URL+"/redirect", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound || hits != 1 {
		t.Fatalf("redirect: status %d after %d requests, want 302 after 1 (not followed)", resp.StatusCode, hits)
	}
}
