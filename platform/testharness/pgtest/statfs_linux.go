package pgtest

import "syscall"

// freeBytes returns the space available to unprivileged users in the file
// system holding dir, or 0 when it cannot tell.
func freeBytes(dir string) uint64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	return st.Bavail * uint64(st.Bsize)
}
