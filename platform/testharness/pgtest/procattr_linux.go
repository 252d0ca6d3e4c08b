package pgtest

import "syscall"

// procAttr runs a server process as cred (nil: as this process). With
// deathSig the kernel sends the process SIGQUIT (PostgreSQL's immediate
// shutdown) when the OS thread that started it exits, which includes the
// death of the test process; the caller keeps that thread locked.
func procAttr(cred *syscall.Credential, deathSig bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Credential: cred}
	if deathSig {
		a.Pdeathsig = syscall.SIGQUIT
	}
	return a
}
