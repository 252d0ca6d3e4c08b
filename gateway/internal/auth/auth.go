// Package auth authenticates gateway callers by API key and carries the
// resulting Principal in the request context.
//
// Keys are configured as `key:channel[:customer]` (a storefront key bound
// to a sales channel and optionally to one customer) or `key:ops:<role>`
// (an operator key for ops.v1 with the role viewer, operator, or admin, an
// alias of operator). Callers present them as `Authorization: Bearer <key>`
// (gRPC metadata `authorization`) or `X-Api-Key: <key>`. Keys are held only
// as SHA-256 digests; the Principal carries a short digest-based KeyID that
// is safe to log. The key itself is never logged.
//
// Who may call what ([Keyring.AuthFunc]): storefront keys call
// storefront.v1 only; operator keys call ops.v1 only, a viewer its read
// methods ([OpsRead]) and an operator every method.
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/grpcserver"
)

// Principal is an authenticated caller.
type Principal struct {
	// KeyID identifies the API key without revealing it ("key-" + 12 hex
	// digits of its SHA-256); safe for logs and audit records.
	KeyID string
	// Channel is the sales channel of a storefront key, e.g. "web"; empty
	// for operator keys.
	Channel string
	// CustomerID is set when the key is bound to one customer.
	CustomerID string
	// Role is the role of an operator key (ops.v1); empty for storefront
	// keys.
	Role Role
}

// CustomerBound reports whether the key acts for exactly one customer.
func (p Principal) CustomerBound() bool { return p.CustomerID != "" }

// Operator reports whether the key is an operator key (any role).
func (p Principal) Operator() bool { return p.Role != "" }

// Role is what an operator key may do on ops.v1.
type Role string

// Operator roles. The zero Role is a storefront key's.
const (
	// RoleViewer may call the read methods of ops.v1 ([OpsRead]).
	RoleViewer Role = "viewer"
	// RoleOperator may call every method of ops.v1.
	RoleOperator Role = "operator"
)

// opsChannel is the reserved second field of an operator key entry,
// `key:ops:<role>`; no storefront channel may be called "ops".
const opsChannel = "ops"

// roleNames maps the role field of `key:ops:<role>` to its Role. "admin"
// is kept as an alias of operator for configurations written before roles.
var roleNames = map[string]Role{
	"viewer":   RoleViewer,
	"operator": RoleOperator,
	"admin":    RoleOperator,
}

// MinKeyLength is the shortest accepted API key.
const MinKeyLength = 8

var (
	channelPattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	customerPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// Keyring maps API keys (by digest) to principals.
type Keyring struct {
	byDigest map[[sha256.Size]byte]Principal
}

// ParseKeys parses API_KEYS entries. Errors name the entry by position,
// never by its key.
func ParseKeys(specs []string) (*Keyring, error) {
	k := &Keyring{byDigest: map[[sha256.Size]byte]Principal{}}
	var errs []error
	for i, spec := range specs {
		parts := strings.Split(strings.TrimSpace(spec), ":")
		if len(parts) < 2 || len(parts) > 3 {
			errs = append(errs, fmt.Errorf("entry %d: want key:channel[:customer] or key:ops:viewer|operator|admin", i+1))
			continue
		}
		key := parts[0]
		if len(key) < MinKeyLength {
			errs = append(errs, fmt.Errorf("entry %d: key shorter than %d characters", i+1, MinKeyLength))
			continue
		}
		d := sha256.Sum256([]byte(key))
		p := Principal{KeyID: "key-" + hex.EncodeToString(d[:6])}
		switch {
		case parts[1] == opsChannel:
			role, ok := roleNames[parts[len(parts)-1]]
			if len(parts) != 3 || !ok {
				errs = append(errs, fmt.Errorf("entry %d: an operator key is key:ops:viewer, key:ops:operator or key:ops:admin (%q is reserved, not a channel)", i+1, opsChannel))
				continue
			}
			p.Role = role
		case !channelPattern.MatchString(parts[1]):
			errs = append(errs, fmt.Errorf("entry %d: channel must match %s", i+1, channelPattern))
			continue
		default:
			p.Channel = parts[1]
			if len(parts) == 3 {
				if !customerPattern.MatchString(parts[2]) {
					errs = append(errs, fmt.Errorf("entry %d: customer must match %s", i+1, customerPattern))
					continue
				}
				p.CustomerID = parts[2]
			}
		}
		if _, dup := k.byDigest[d]; dup {
			errs = append(errs, fmt.Errorf("entry %d: key configured twice", i+1))
			continue
		}
		k.byDigest[d] = p
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return k, nil
}

// Len returns the number of configured keys.
func (k *Keyring) Len() int { return len(k.byDigest) }

// Lookup returns the principal of key.
func (k *Keyring) Lookup(key string) (Principal, bool) {
	p, ok := k.byDigest[sha256.Sum256([]byte(key))]
	return p, ok
}

// Metadata keys the credentials arrive in.
const (
	MetadataAuthorization = "authorization"
	MetadataAPIKey        = "x-api-key"
)

// keyFromMetadata extracts the presented key: "Bearer <key>" in
// authorization, else x-api-key.
func keyFromMetadata(md metadata.MD) (string, bool) {
	for _, v := range md.Get(MetadataAuthorization) {
		scheme, token, ok := strings.Cut(strings.TrimSpace(v), " ")
		if ok && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(token) != "" {
			return strings.TrimSpace(token), true
		}
	}
	for _, v := range md.Get(MetadataAPIKey) {
		if v = strings.TrimSpace(v); v != "" {
			return v, true
		}
	}
	return "", false
}

// Service name prefixes the AuthFunc distinguishes.
const (
	storefrontPrefix = "/transload.storefront.v1."
	opsPrefix        = "/transload.ops.v1."
)

// OpsRead reports whether fullMethod ("/transload.ops.v1.OpsService/X") is
// one of the read methods a viewer may call: the ops.v1 methods whose name
// starts with Get or List. The contract names every read that way and
// every mutation otherwise (the tests pin each method's class, so a new
// method is classified on purpose).
func OpsRead(fullMethod string) bool {
	rest, ok := strings.CutPrefix(fullMethod, opsPrefix)
	if !ok {
		return false
	}
	_, method, ok := strings.Cut(rest, "/")
	return ok && (strings.HasPrefix(method, "Get") || strings.HasPrefix(method, "List"))
}

// allowed says why p may not call fullMethod, or "" when it may.
func allowed(p Principal, fullMethod string) string {
	switch {
	case strings.HasPrefix(fullMethod, opsPrefix):
		switch p.Role {
		case RoleOperator:
			return ""
		case RoleViewer:
			if OpsRead(fullMethod) {
				return ""
			}
			return "the viewer role may only read; this method needs an operator key with the operator role"
		}
		return "the operator API needs an operator key"
	case strings.HasPrefix(fullMethod, storefrontPrefix):
		if p.Operator() {
			return "operator keys cannot call the storefront API"
		}
		return ""
	}
	// The gateway serves nothing else; a service registered later gets
	// no caller until its rule is written here.
	return "no API key may call this method"
}

// AuthFunc returns the grpcserver authentication hook: missing or unknown
// keys fail with UNAUTHENTICATED; storefront keys may only call
// storefront.v1, operator keys only ops.v1 and viewers only its reads
// (PERMISSION_DENIED otherwise).
func (k *Keyring) AuthFunc() grpcserver.AuthFunc {
	return func(ctx context.Context, fullMethod string) (context.Context, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		key, ok := keyFromMetadata(md)
		if !ok {
			return nil, apierr.Unauthenticated("missing API key: send Authorization: Bearer <api key>")
		}
		p, ok := k.Lookup(key)
		if !ok {
			return nil, apierr.Unauthenticated("invalid API key")
		}
		if why := allowed(p, fullMethod); why != "" {
			return nil, apierr.PermissionDenied(why)
		}
		return WithPrincipal(ctx, p), nil
	}
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal stored by the AuthFunc.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}
