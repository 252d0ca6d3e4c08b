package launcher

import "testing"

// TestFreePortsAreDistinctAcrossTheMesh: with FreePorts every address of
// every process differs. Ports picked process by process could repeat (a
// port released after one pick is free again for the next), and two
// processes then fight over one port at start-up.
func TestFreePortsAreDistinctAcrossTheMesh(t *testing.T) {
	for range 20 {
		m := &Mesh{cfg: Config{FreePorts: true, DataDir: t.TempDir()}, procs: map[string]*Proc{}}
		if err := m.assignPorts(); err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		for name, p := range m.procs {
			for _, addr := range []string{p.GRPCAddr, p.AdminAddr, p.HTTPAddr} {
				if addr == "" {
					continue
				}
				if other, dup := seen[addr]; dup {
					t.Fatalf("%s is given to both %s and %s", addr, other, name)
				}
				seen[addr] = name
			}
		}
	}
}
