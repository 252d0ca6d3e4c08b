//go:build !linux

package redistest

import "os/exec"

// setProcAttr has nothing to set outside Linux: there is no parent-death
// signal, so cleanup relies on t.Cleanup.
func setProcAttr(*exec.Cmd) {}
