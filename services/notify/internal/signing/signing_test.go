package signing

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The Standard Webhooks published test vector (standard-webhooks/
// standard-webhooks, libraries/go/webhook_test.go, TestWebhookSign).
const (
	vectorSecret    = Secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorUnix      = 1614265330
	vectorPayload   = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesPublishedVector(t *testing.T) {
	got, err := vectorSecret.Sign(vectorID, time.Unix(vectorUnix, 0), []byte(vectorPayload))
	if err != nil {
		t.Fatal(err)
	}
	if got != vectorSignature {
		t.Fatalf("Sign = %s, want %s", got, vectorSignature)
	}
}

func TestVerify(t *testing.T) {
	ts := time.Unix(vectorUnix, 0)
	h := http.Header{}
	other, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	// Rotation: both signatures, the old (vector) secret second.
	if err := SetHeaders(h, vectorID, ts, []byte(vectorPayload), other, vectorSecret); err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(h.Get(HeaderSignature))); n != 2 {
		t.Fatalf("signature header %q has %d signatures, want 2", h.Get(HeaderSignature), n)
	}
	if err := Verify(h, []byte(vectorPayload), vectorSecret, ts.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatalf("old secret during grace: %v", err)
	}
	if err := Verify(h, []byte(vectorPayload), other, ts, 5*time.Minute); err != nil {
		t.Fatalf("new secret: %v", err)
	}
	for name, c := range map[string]struct {
		body string
		now  time.Time
		want error
	}{
		"tampered body": {body: `{"test": 2432232315}`, now: ts, want: ErrNoMatch},
		"stale":         {body: vectorPayload, now: ts.Add(6 * time.Minute), want: ErrStale},
		"future":        {body: vectorPayload, now: ts.Add(-6 * time.Minute), want: ErrStale},
	} {
		if err := Verify(h, []byte(c.body), vectorSecret, c.now, 5*time.Minute); !errors.Is(err, c.want) {
			t.Errorf("%s: Verify = %v, want %v", name, err, c.want)
		}
	}
	third, _ := NewSecret()
	if err := Verify(h, []byte(vectorPayload), third, ts, 5*time.Minute); !errors.Is(err, ErrNoMatch) {
		t.Errorf("unrelated secret: %v", err)
	}
}

func TestNewSecretShapeAndRedaction(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if a == b {
		t.Fatal("two secrets are equal")
	}
	k, err := a.key()
	if err != nil || len(k) != KeyBytes {
		t.Fatalf("key of %d bytes (%v), want %d", len(k), err, KeyBytes)
	}
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("x", "secret", a)
	if out := sb.String() + fmt.Sprint(a) + fmt.Sprintf("%v", a); strings.Contains(out, a.Reveal()[len(Prefix):]) {
		t.Fatalf("secret leaked into output: %s", out)
	}
	if _, err := Secret("nope").Sign("x", time.Now(), nil); !errors.Is(err, ErrBadSecret) {
		t.Fatalf("bad secret: %v", err)
	}
}
