package pgtest

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// policyTB records how LookBinary ends a test instead of ending this one.
type policyTB struct {
	testing.TB
	skipped, failed string
}

func (p *policyTB) Helper() {}

func (p *policyTB) Skipf(format string, args ...any) {
	p.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (p *policyTB) Fatalf(format string, args ...any) {
	p.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestMissingBinariesPolicy(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	nowhere := func(name string) []string { return []string{empty + "/*/bin/" + name} }

	for _, tt := range []struct {
		ci       string
		wantFail bool
	}{{"true", true}, {"", false}} {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			p := &policyTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				lookBinaries(p, nowhere)
				t.Error("lookBinaries returned although initdb is missing")
			}()
			<-done
			msg := p.skipped
			if tt.wantFail {
				msg = p.failed
				if p.skipped != "" {
					t.Errorf("skipped in CI: %s", p.skipped)
				}
			} else if p.failed != "" {
				t.Errorf("failed outside CI: %s", p.failed)
			}
			if !strings.Contains(msg, "initdb") || !strings.Contains(msg, InstallHint) {
				t.Errorf("message %q does not name initdb and the install hint", msg)
			}
		})
	}
}
