//go:build !linux

package pgtest

import "syscall"

// procAttr runs a server process as cred (nil: as this process). Outside
// Linux there is no parent-death signal: a cluster whose test process was
// killed keeps running until the next pgtest start sweeps it (see
// sweepStale) or it is stopped by hand.
func procAttr(cred *syscall.Credential, _ bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred}
}
