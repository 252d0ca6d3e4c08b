// Package signing signs webhook deliveries per the Standard Webhooks
// convention (https://www.standardwebhooks.com): headers `webhook-id`,
// `webhook-timestamp` and `webhook-signature`, the signature being `v1,`
// followed by the standard base64 HMAC-SHA256 of `id.timestamp.body`,
// keyed with the base64-decoded part of the secret after `whsec_`.
//
// Secrets are generated here (32 random bytes). A Secret's String and
// LogValue never show the key, so a secret that reaches a log line by
// mistake prints as "whsec_[redacted]".
package signing

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of the Standard Webhooks convention.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Prefix starts every secret.
const Prefix = "whsec_"

// KeyBytes is the length of a generated key.
const KeyBytes = 32

// Secret is a signing secret in its `whsec_<base64>` form.
type Secret string

// String hides the key.
func (Secret) String() string { return Prefix + "[redacted]" }

// LogValue hides the key from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Reveal returns the secret itself, for the one answer that shows it to
// its owner and for storage.
func (s Secret) Reveal() string { return string(s) }

// NewSecret returns a fresh secret of KeyBytes random bytes.
func NewSecret() (Secret, error) {
	b := make([]byte, KeyBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("signing: random: %w", err)
	}
	return Secret(Prefix + base64.StdEncoding.EncodeToString(b)), nil
}

// ErrBadSecret is returned for a secret that is not `whsec_` + base64.
var ErrBadSecret = errors.New("signing: secret is not whsec_ followed by base64")

// key returns the HMAC key of s: the base64 after the prefix decoded.
func (s Secret) key() ([]byte, error) {
	raw, ok := strings.CutPrefix(string(s), Prefix)
	if !ok {
		return nil, ErrBadSecret
	}
	k, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(k) == 0 {
		return nil, ErrBadSecret
	}
	return k, nil
}

// Sign returns `v1,<base64 HMAC-SHA256(id.timestamp.body)>`.
func (s Secret) Sign(id string, ts time.Time, body []byte) (string, error) {
	k, err := s.key()
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(k, id, ts.Unix(), body)), nil
}

func mac(key []byte, id string, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(strconv.FormatInt(unix, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// SetHeaders sets the three Standard Webhooks headers on h, signing with
// every secret given (the current one first; during a rotation's grace
// period the old one too), space-separated.
func SetHeaders(h http.Header, id string, ts time.Time, body []byte, secrets ...Secret) error {
	if len(secrets) == 0 {
		return errors.New("signing: no secret")
	}
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := s.Sign(id, ts, body)
		if err != nil {
			return err
		}
		sigs = append(sigs, sig)
	}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, strings.Join(sigs, " "))
	return nil
}

// Verification errors.
var (
	ErrMissingHeaders = errors.New("signing: missing webhook headers")
	ErrStale          = errors.New("signing: timestamp outside the tolerance")
	ErrNoMatch        = errors.New("signing: no matching signature")
)

// Verify checks a received delivery as a receiver does: headers present,
// timestamp within tolerance of now, and one `v1` signature of the header
// matching (constant-time compare). The e2e receivers and the README
// example use it.
func Verify(h http.Header, body []byte, secret Secret, now time.Time, tolerance time.Duration) error {
	id, tsRaw, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsRaw == "" || sigs == "" {
		return ErrMissingHeaders
	}
	unix, err := strconv.ParseInt(tsRaw, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrMissingHeaders, tsRaw)
	}
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	k, err := secret.key()
	if err != nil {
		return err
	}
	want := mac(k, id, unix, body)
	for sig := range strings.FieldsSeq(sigs) {
		v, b64, ok := strings.Cut(sig, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && subtle.ConstantTimeCompare(got, want) == 1 {
			return nil
		}
	}
	return ErrNoMatch
}
