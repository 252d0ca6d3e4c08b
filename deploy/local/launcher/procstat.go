package launcher

// PID is the operating-system process id of the process's current run, 0
// before it was started. After a Kill it names the exited process until a
// Restart; /proc readers see it gone.
func (p *Proc) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// PIDs returns the process id of every started process of the mesh by
// process name (the load harness reads their CPU time from /proc).
func (m *Mesh) PIDs() map[string]int {
	out := make(map[string]int, len(m.procs))
	for name, p := range m.procs {
		if pid := p.PID(); pid != 0 {
			out[name] = pid
		}
	}
	return out
}
