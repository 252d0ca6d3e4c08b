package leakcheck

import (
	"testing"

	"go.uber.org/goleak"
)

// TestOptionsSeeALeak: a goroutine a test leaves running is found with the
// package's options, and not once it has stopped.
func TestOptionsSeeALeak(t *testing.T) {
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-release
	}()
	if err := goleak.Find(Options()...); err == nil {
		t.Error("a blocked goroutine was not reported")
	}
	close(release)
	<-done
	if err := goleak.Find(Options()...); err != nil {
		t.Errorf("reported after it stopped: %v", err)
	}
}
