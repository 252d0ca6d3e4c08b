package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicksPerSecond is USER_HZ, the unit of utime and stime in
// /proc/<pid>/stat: sysconf(_SC_CLK_TCK), which Linux fixes at 100 on every
// architecture Go supports (the kernel converts from its own HZ). Go has no
// sysconf without cgo, so the harness takes the constant. One tick is 10ms,
// so a process's CPU over a measurement is exact to ±10ms.
const clockTicksPerSecond = 100

// harnessProc and redisProc name the two processes outside the mesh whose
// CPU the harness reports: its own (load generation, and the in-process
// servers of the baselines) and the Redis server it starts.
const (
	harnessProc = "harness"
	redisProc   = "redis"
)

// parseProcStat returns utime+stime in clock ticks from the contents of
// /proc/<pid>/stat. The command name (field 2) is in parentheses and may
// hold spaces or parentheses itself, so fields are counted after its last
// ')': utime and stime are fields 14 and 15 of the line.
func parseProcStat(s string) (int64, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("proc stat: no command name")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("proc stat: %d fields after the command name, want at least 13", len(f))
	}
	utime, err := strconv.ParseInt(f[14-3], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("proc stat utime: %w", err)
	}
	stime, err := strconv.ParseInt(f[15-3], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("proc stat stime: %w", err)
	}
	return utime + stime, nil
}

// parseVmHWM returns the peak resident set size (VmHWM) in bytes from the
// contents of /proc/<pid>/status.
func parseVmHWM(s string) (int64, error) {
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("proc status: VmHWM %q is not '<n> kB'", rest)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc status VmHWM: %w", err)
		}
		return kb * 1024, nil
	}
	return 0, errors.New("proc status: no VmHWM line")
}

// procCPU reads the CPU time pid has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	ticks, err := parseProcStat(string(b))
	if err != nil {
		return 0, fmt.Errorf("pid %d: %w", pid, err)
	}
	return time.Duration(ticks) * time.Second / clockTicksPerSecond, nil
}

// procPeakRSS reads pid's peak resident set size in bytes.
func procPeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmHWM(string(b))
}

// resetPeakRSS restarts pid's VmHWM at its current RSS (writing 5 to
// clear_refs, Linux 4.0+), so a later read is the peak of what happened in
// between.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// cpuSnapshot is the CPU time each watched process had used at one moment.
type cpuSnapshot map[string]time.Duration

// cpuWatch knows the processes whose CPU a measurement accounts and which
// of them count into its total.
type cpuWatch struct {
	pids map[string]int
	// counted names the processes summed into the total: for the mesh
	// scenarios Transload's processes and Redis (its cache), not the
	// simulators, which stand in for external systems, nor the harness,
	// which only generates load; for the in-process baselines the harness
	// (which is the server there) and Redis.
	counted map[string]bool
}

// snapshot reads every watched process's CPU time. A process that cannot be
// read (exited) is left out, so its share of a difference is unknown rather
// than wrong.
func (w cpuWatch) snapshot() cpuSnapshot {
	s := cpuSnapshot{}
	for name, pid := range w.pids {
		if d, err := procCPU(pid); err == nil {
			s[name] = d
		}
	}
	return s
}

// cpuDelta is the CPU each process used between two snapshots.
func cpuDelta(before, after cpuSnapshot) cpuSnapshot {
	out := cpuSnapshot{}
	for name, a := range after {
		if b, ok := before[name]; ok {
			out[name] = a - b
		}
	}
	return out
}

// cpuCost is CPU per unit of work (request or delivered order) by process,
// with the counted total and the harness's own share apart.
type cpuCost struct {
	PerProc map[string]time.Duration
	// Total is the counted processes' CPU per unit; Harness the harness's.
	Total, Harness time.Duration
	// Window is the counted processes' CPU over the whole measurement.
	Window time.Duration
	Units  int
}

// sum adds the per-unit CPU of the named processes that have a figure.
func (c cpuCost) sum(names ...string) time.Duration {
	var t time.Duration
	for _, n := range names {
		t += c.PerProc[n]
	}
	return t
}

// measured reports whether the cost has figures (units were done and
// processes were watched).
func (c cpuCost) measured() bool { return c.Units > 0 && len(c.PerProc) > 0 }

// perUnit divides each process's CPU over delta by units.
func (w cpuWatch) perUnit(delta cpuSnapshot, units int) cpuCost {
	c := cpuCost{PerProc: map[string]time.Duration{}, Units: units}
	for name, d := range delta {
		if w.counted[name] {
			c.Window += d
		}
		if units > 0 {
			c.PerProc[name] = d / time.Duration(units)
		}
	}
	if units > 0 {
		c.Total = c.Window / time.Duration(units)
		c.Harness = c.PerProc[harnessProc]
	}
	return c
}
