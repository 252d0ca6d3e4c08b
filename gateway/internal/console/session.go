package console

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// cookieName names the session cookie. The __Host- prefix would need
// Path=/, and the console's cookie must not travel to the REST API.
const cookieName = "transload_console"

// cookiePath scopes the cookie to the console.
const cookiePath = "/console/"

// Session lifetimes: a signed-in operator is asked for the key again after
// a working day; the anonymous session that only carries the sign-in
// form's CSRF token is short.
const (
	signedInTTL  = 8 * time.Hour
	anonymousTTL = time.Hour
)

// SessionKeySize is the length of Options.SessionKey.
const SessionKeySize = 32

// session is what the sealed cookie holds. Key is the operator API key,
// empty before sign-in; it never leaves the cookie except as the bearer
// credential of the console's own calls.
type session struct {
	ID      string    `json:"i"`
	Key     string    `json:"k,omitempty"`
	Expires time.Time `json:"e"`
}

func (s *session) signedIn() bool { return s != nil && s.Key != "" }

// errBadCookie covers every reason a cookie is refused: not ours, tampered
// with, sealed under another key, or expired. The caller treats them alike.
var errBadCookie = errors.New("console: session cookie invalid or expired")

// sealer seals sessions into cookie values with AES-256-GCM and derives
// CSRF tokens from session ids with HMAC-SHA256, each with its own key
// derived from the session key.
type sealer struct {
	aead    cipher.AEAD
	csrfKey []byte
}

func newSealer(secret []byte) (*sealer, error) {
	if len(secret) == 0 {
		secret = make([]byte, SessionKeySize)
		rand.Read(secret) // crypto/rand.Read never fails (Go 1.24+)
	}
	if len(secret) != SessionKeySize {
		return nil, fmt.Errorf("console: session key is %d bytes, want %d", len(secret), SessionKeySize)
	}
	encKey, err := hkdf.Key(sha256.New, secret, nil, "transload console cookie v1", 32)
	if err != nil {
		return nil, fmt.Errorf("console: derive cookie key: %w", err)
	}
	csrfKey, err := hkdf.Key(sha256.New, secret, nil, "transload console csrf v1", 32)
	if err != nil {
		return nil, fmt.Errorf("console: derive csrf key: %w", err)
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, fmt.Errorf("console: cookie cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("console: cookie cipher: %w", err)
	}
	return &sealer{aead: aead, csrfKey: csrfKey}, nil
}

// seal returns the cookie value for s: base64url(nonce | ciphertext), with
// the cookie name as additional data so the value is bound to this cookie.
func (z *sealer) seal(s session) (string, error) {
	plain, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("console: encode session: %w", err)
	}
	nonce := make([]byte, z.aead.NonceSize(), z.aead.NonceSize()+len(plain)+z.aead.Overhead())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(z.aead.Seal(nonce, nonce, plain, []byte(cookieName))), nil
}

// open returns the session sealed in value, or errBadCookie.
func (z *sealer) open(value string, now time.Time) (*session, error) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < z.aead.NonceSize() {
		return nil, errBadCookie
	}
	n := z.aead.NonceSize()
	plain, err := z.aead.Open(nil, raw[:n], raw[n:], []byte(cookieName))
	if err != nil {
		return nil, errBadCookie
	}
	var s session
	if err := json.Unmarshal(plain, &s); err != nil || s.ID == "" {
		return nil, errBadCookie
	}
	if !now.Before(s.Expires) {
		return nil, errBadCookie
	}
	return &s, nil
}

// csrfToken is the CSRF token of the session with id: an HMAC of the id,
// so a token stolen from one session is worthless in another.
func (z *sealer) csrfToken(id string) string {
	m := hmac.New(sha256.New, z.csrfKey)
	m.Write([]byte("csrf:" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF reports whether token is the session's CSRF token, in
// constant time.
func (z *sealer) checkCSRF(s *session, token string) bool {
	if s == nil || token == "" {
		return false
	}
	return hmac.Equal([]byte(token), []byte(z.csrfToken(s.ID)))
}

// newSessionID returns 128 random bits, base64url.
func newSessionID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// setCookie seals s into the session cookie of the response. The cookie
// itself has no expiry (it ends with the browser session); the sealed
// Expires bounds it, read on the server's clock.
func (z *sealer) setCookie(w http.ResponseWriter, r *http.Request, s session) error {
	v, err := z.seal(s)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName,
		Value:    v,
		Path:     cookiePath,
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	return nil
}

// clearCookie removes the session cookie.
func clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName,
		Value:    "",
		Path:     cookiePath,
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
}

// sessionFrom returns the request's valid session, or nil.
func (z *sealer) sessionFrom(r *http.Request, now time.Time) *session {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	s, err := z.open(c.Value, now)
	if err != nil {
		return nil
	}
	return s
}
