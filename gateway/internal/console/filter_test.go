package console

import (
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/platform/aip"
)

func TestFilterBuilding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		build   func(url.Values) (string, error)
		query   url.Values
		want    string
		wantErr bool
	}{
		{"empty", exceptionFilter, url.Values{}, "", false},
		{"enums", exceptionFilter, url.Values{"state": {"STATE_OPEN"}, "severity": {"SEVERITY_HIGH"}, "domain": {"DOMAIN_ERP"}},
			`state = STATE_OPEN AND domain = DOMAIN_ERP AND severity = SEVERITY_HIGH`, false},
		{"quoted resource", exceptionFilter, url.Values{"resource": {`orders/"a\b AND kind = X`}},
			`resource = "orders/\"a\\b AND kind = X"`, false},
		{"unknown enum", exceptionFilter, url.Values{"kind": {"KIND_NOPE"}}, "", true},
		{"unspecified enum", exceptionFilter, url.Values{"state": {"STATE_UNSPECIFIED"}}, "", true},
		{"surrounding space trimmed", exceptionFilter, url.Values{"resource": {" orders/1\n"}}, `resource = "orders/1"`, false},
		{"too long", exceptionFilter, url.Values{"resource": {string(make([]byte, maxFieldLen+1))}}, "", true},
		{"dead letters", deadLetterFilter, url.Values{"consumer": {"fulfillment-order-confirmed"}, "state": {"STATE_PENDING"}},
			`consumer = "fulfillment-order-confirmed" AND state = STATE_PENDING`, false},
		{"audit", auditFilter, url.Values{
			"target": {"deadLetters/7"}, "action": {"dead_letter.replay"}, "actor_kind": {"operator"}, "actor_id": {"key-1"},
			"from": {"2026-11-26T10:00"}, "to": {"2026-11-27T00:00:00Z"},
		}, `target = "deadLetters/7" AND action = "dead_letter.replay" AND actor.kind = "operator" AND actor.id = "key-1" AND create_time >= "2026-11-26T10:00:00Z" AND create_time < "2026-11-27T00:00:00Z"`, false},
		{"audit bad time", auditFilter, url.Values{"from": {"yesterday"}}, "", true},
		{"audit bad actor kind", auditFilter, url.Values{"actor_kind": {"root"}}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.build(tt.query)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got filter %q, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("filter\n got %s\nwant %s", got, tt.want)
			}
			// What the console builds, the API's parser reads back to the
			// same values.
			parsed, err := aip.ParseFilter(got)
			if err != nil {
				t.Fatalf("aip.ParseFilter(%q): %v", got, err)
			}
			for _, term := range parsed.Terms {
				if term.Field == "resource" {
					if diff := cmp.Diff(strings.TrimSpace(tt.query.Get("resource")), term.Value.Text); diff != "" {
						t.Errorf("resource read back (-want +got):\n%s", diff)
					}
				}
			}
		})
	}
}

func TestFilterRejectsEmbeddedControlCharacters(t *testing.T) {
	t.Parallel()
	if f, err := exceptionFilter(url.Values{"resource": {"orders/1\x00x"}}); err == nil {
		t.Fatalf("got %q, want an error", f)
	}
}

func TestSafeBack(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/console/exceptions/x":  "/console/exceptions/x",
		"//evil.example/console": "/d",
		"https://evil.example/":  "/d",
		"/console/../admin":      "/d",
		"/console/\\evil":        "/d",
		"":                       "/d",
	} {
		if got := safeBack(in, "/d"); got != want {
			t.Errorf("safeBack(%q) = %q, want %q", in, got, want)
		}
	}
}
