package rest

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// CORS header values: the request headers a browser storefront may send,
// and the response headers its script may read.
var (
	corsAllowHeaders  = strings.Join([]string{"Authorization", HeaderAPIKey, "Content-Type", HeaderIdempotencyKey, HeaderCorrelationID, "If-Match", "If-None-Match"}, ", ")
	corsExposeHeaders = strings.Join([]string{HeaderCorrelationID, HeaderReplayed, "Retry-After", "ETag"}, ", ")
)

// corsMaxAge is how long a browser may cache a preflight answer (Chromium
// caps it at two hours; ten minutes lets a changed origin list apply soon).
const corsMaxAge = 10 * time.Minute

// ParseOrigin checks that s is a browser origin, scheme://host[:port]
// with http or https and nothing else, and returns it in the lower-case
// form browsers send in the Origin header.
func ParseOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("origin %q: %w", s, err)
	}
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "http" && scheme != "https") || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "/") {
		return "", fmt.Errorf("origin %q: want scheme://host[:port] (http or https, no path, no trailing slash)", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("origin %q: bad port", s)
		}
	}
	return scheme + "://" + strings.ToLower(u.Host), nil
}

// corsPolicy answers preflights and marks actual responses for the
// configured origins; with none it adds nothing.
type corsPolicy struct {
	origins map[string]bool
}

func newCORSPolicy(origins []string) (corsPolicy, error) {
	p := corsPolicy{origins: map[string]bool{}}
	for _, o := range origins {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		norm, err := ParseOrigin(o)
		if err != nil {
			return corsPolicy{}, err
		}
		p.origins[norm] = true
	}
	return p, nil
}

func (p corsPolicy) enabled() bool { return len(p.origins) > 0 }

// allowed returns the request's Origin when it is configured.
func (p corsPolicy) allowed(r *http.Request) (string, bool) {
	origin := r.Header.Get("Origin")
	if origin == "" || !p.enabled() {
		return "", false
	}
	return origin, p.origins[strings.ToLower(origin)]
}

// vary records that answers depend on the Origin, so a shared cache does
// not hand one origin's CORS headers to another.
func (p corsPolicy) vary(w http.ResponseWriter) {
	if p.enabled() {
		w.Header().Add("Vary", "Origin")
	}
}

// options answers OPTIONS on a known path: 204 with Allow, plus the CORS
// preflight headers when the origin is allowed. A disallowed origin gets
// no CORS headers, so the browser refuses the actual request.
func (p corsPolicy) options(w http.ResponseWriter, r *http.Request, methods []string) {
	allow := strings.Join(append(methods, http.MethodOptions), ", ")
	h := w.Header()
	h.Set("Allow", allow)
	if origin, ok := p.allowed(r); ok && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", strconv.Itoa(int(corsMaxAge.Seconds())))
	}
	w.WriteHeader(http.StatusNoContent)
}

// actual marks a response to an allowed origin's actual request.
func (p corsPolicy) actual(w http.ResponseWriter, r *http.Request) {
	if origin, ok := p.allowed(r); ok {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Expose-Headers", corsExposeHeaders)
	}
}
