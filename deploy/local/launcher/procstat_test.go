package launcher

import (
	"os/exec"
	"testing"
)

// TestPIDs: a started process reports its operating-system id, one never
// started is left out (its /proc entry would be some other process).
func TestPIDs(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	m := &Mesh{procs: map[string]*Proc{
		Order:   {Name: Order, cmd: cmd},
		Gateway: {Name: Gateway},
	}}
	got := m.PIDs()
	if len(got) != 1 || got[Order] != cmd.Process.Pid {
		t.Fatalf("PIDs() = %v, want only %s=%d", got, Order, cmd.Process.Pid)
	}
	if pid := m.Proc(Gateway).PID(); pid != 0 {
		t.Errorf("PID of a process never started = %d, want 0", pid)
	}
}
