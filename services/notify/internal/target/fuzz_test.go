package target

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

type publicResolver struct{}

func (publicResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
}

// FuzzValidate checks that whatever the strict policy accepts is an https
// URI with a host, no user info, no fragment and no non-public literal
// address, and that nothing panics.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		"https://hooks.example.com/wh", "http://hooks.example.com/", "https://u:p@h.example/",
		"https://h.example/#f", "https://127.0.0.1/", "https://[::1]:443/", "https://[::ffff:10.0.0.1]/",
		"https://0x7f.1/", "https://2130706433/", "https://h.example:99999/", "https://h.example%2f@evil/",
		"HTTPS://H.EXAMPLE/", "https:h.example", "https://[fe80::1%25eth0]/", "//h.example/", "",
	} {
		f.Add(s)
	}
	p := Policy{Resolver: publicResolver{}}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := p.Validate(context.Background(), raw)
		if err != nil {
			return
		}
		if u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
			t.Fatalf("accepted %q: %+v", raw, u)
		}
		if a, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && !IsPublic(a) {
			t.Fatalf("accepted non-public literal %q", raw)
		}
	})
}
