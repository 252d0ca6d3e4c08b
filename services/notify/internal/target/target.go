// Package target decides which webhook targets the notify service may
// call (SSRF rules) and makes the HTTP client that enforces them at
// delivery time.
//
// Rules: an absolute URI of at most 2048 bytes, scheme https (http only
// when the policy allows it), a host, no user info (credentials), no
// fragment, and a host whose every address is public: not loopback,
// private (RFC 1918, ULA), link-local, CGNAT, unspecified, multicast,
// broadcast or another special-purpose range. The address check runs when
// a subscription is created (on every address the name resolves to) and
// again on the address actually dialled by each delivery (the dialer's
// Control hook), so a name re-pointed to 127.0.0.1 after creation (DNS
// rebinding) is refused too. The client follows no redirects.
package target

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// MaxURILength bounds a target URI.
const MaxURILength = 2048

// Policy says what targets are allowed. The zero value is the production
// policy: https only, public addresses only.
type Policy struct {
	// AllowHTTP accepts plain http targets (local development).
	AllowHTTP bool
	// AllowPrivate accepts hosts resolving to loopback, private and
	// link-local addresses (local development).
	AllowPrivate bool
	// Resolver resolves host names (default net.DefaultResolver).
	Resolver interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	}
}

// Error is a refused target; Rule names the broken rule.
type Error struct {
	Rule   string
	Detail string
}

func (e *Error) Error() string { return "target refused (" + e.Rule + "): " + e.Detail }

// Rules of Error.Rule.
const (
	RuleSyntax      = "syntax"
	RuleScheme      = "scheme"
	RuleCredentials = "credentials"
	RuleFragment    = "fragment"
	RuleAddress     = "address"
	RuleResolve     = "resolve"
)

func refuse(rule, format string, args ...any) error {
	return &Error{Rule: rule, Detail: fmt.Sprintf(format, args...)}
}

// Parse checks the URI's form (everything but the addresses) and returns it
// parsed.
func (p Policy) Parse(raw string) (*url.URL, error) {
	if raw == "" || len(raw) > MaxURILength {
		return nil, refuse(RuleSyntax, "the URI must have 1..%d bytes", MaxURILength)
	}
	if strings.ContainsAny(raw, " \t\r\n\x00\\") {
		return nil, refuse(RuleSyntax, "the URI contains whitespace, NUL or backslash")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, refuse(RuleSyntax, "not a URI: %v", err)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowHTTP:
	default:
		return nil, refuse(RuleScheme, "scheme %q is not allowed (https only)", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return nil, refuse(RuleSyntax, "the URI needs a host")
	}
	if u.User != nil {
		return nil, refuse(RuleCredentials, "the URI must not carry user info")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, refuse(RuleFragment, "the URI must not carry a fragment")
	}
	if port := u.Port(); port != "" {
		if n, err := netip.ParseAddrPort("127.0.0.1:" + port); err != nil || n.Port() == 0 {
			return nil, refuse(RuleSyntax, "bad port %q", port)
		}
	}
	if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil {
		if err := p.CheckAddr(ip); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// Validate parses raw and checks every address its host resolves to.
func (p Policy) Validate(ctx context.Context, raw string) (*url.URL, error) {
	u, err := p.Parse(raw)
	if err != nil {
		return nil, err
	}
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err == nil {
		return u, nil // checked by Parse
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return nil, refuse(RuleResolve, "host %q does not resolve", host)
	}
	for _, a := range addrs {
		if err := p.CheckAddr(a); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// special are the special-purpose ranges that are not public besides
// what netip's predicates cover.
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001::/23"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("fec0::/10"),
}

// IsPublic reports whether a is a globally routable unicast address.
func IsPublic(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range special {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// CheckAddr refuses a non-public address unless the policy allows private
// targets.
func (p Policy) CheckAddr(a netip.Addr) error {
	if p.AllowPrivate || IsPublic(a) {
		return nil
	}
	return refuse(RuleAddress, "address %s is not public (loopback, private, link-local or reserved)", a.Unmap())
}

// control is the dialer hook: it refuses the connection when the address
// actually dialled is not allowed, whatever the name resolved to at
// creation time (DNS rebinding).
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refuse(RuleAddress, "cannot check dialled address %q", address)
	}
	return p.CheckAddr(ap.Addr())
}

// Client returns the HTTP client of deliveries: the per-attempt timeout,
// the address check on every connection, and no redirects followed (a 3xx
// is the answer, and fails the attempt as a non-2xx).
func (p Policy) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, Control: p.control}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us, bypassing the check
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// IsRefused reports whether err (from Client) is an address refusal.
func IsRefused(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
