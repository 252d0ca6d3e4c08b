package launcher

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

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
		m.closeListeners()
	}
}

// builtDir is the folder binDir built into, removed by TestMain.
var builtDir string

// binDir builds the binaries once per test run, for the tests that start
// a mesh: they run the code under test, never a stale bin/.
var binDir = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "transload-launcher-bin-")
	if err != nil {
		return "", err
	}
	builtDir = dir
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	return dir, BuildMesh(ctx, dir)
})

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

func bins(t *testing.T) string {
	t.Helper()
	dir, err := binDir()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return dir
}

// meshStarts is how many consecutive starts TestMeshStartsRepeatedly
// wants: TRANSLOAD_MESH_STARTS (make chaos sets 20), else 3.
func meshStarts(t *testing.T) int {
	v := os.Getenv("TRANSLOAD_MESH_STARTS")
	if v == "" {
		return 3
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("TRANSLOAD_MESH_STARTS=%q: want a positive number", v)
	}
	return n
}

// TestMeshStartsRepeatedly starts the whole mesh on free ports again and
// again; every start must succeed (picking ports and releasing them before
// the processes bound them failed about one start in fifteen). Config.Env
// reaches every process: each serves /debug/pprof/ with PPROF_ENABLED.
func TestMeshStartsRepeatedly(t *testing.T) {
	bin := bins(t)
	n := meshStarts(t)
	for i := range n {
		began := time.Now()
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		m, err := Start(ctx, Config{
			BinDir: bin, DataDir: t.TempDir(), FreePorts: true,
			Env: []string{"PPROF_ENABLED=true"},
		})
		cancel()
		if err != nil {
			t.Fatalf("start %d of %d: %v", i+1, n, err)
		}
		took := time.Since(began)
		if i == 0 {
			for _, name := range StartOrder {
				if name == NATS {
					continue
				}
				url := "http://" + m.Proc(name).AdminAddr + "/debug/pprof/"
				if code := status(t, url); code != http.StatusOK {
					m.Stop()
					t.Fatalf("%s: GET %s = %d: Config.Env did not reach it", name, url, code)
				}
			}
		}
		m.Stop()
		t.Logf("start %d of %d: ready in %s", i+1, n, took.Round(time.Millisecond))
	}
}

// TestTakenPortsCannotBreakTheStart: once the launcher has bound the
// mesh's ports, nobody else can take them, and the processes still start
// on exactly those ports (they can only be serving the sockets the
// launcher handed over: it still holds every one, so a process binding
// its address anew would fail). NATS, which binds its own port, moves to
// another one when its port is taken before it starts. A service killed
// and restarted serves the same socket again, which nobody could take
// while it was down.
func TestTakenPortsCannotBreakTheStart(t *testing.T) {
	bin := bins(t)
	m, err := prepare(Config{BinDir: bin, DataDir: t.TempDir(), FreePorts: true})
	if err != nil {
		t.Fatal(err)
	}
	var foreign []net.Listener
	defer func() {
		for _, l := range foreign {
			l.Close()
		}
	}()
	want := map[string][3]string{}
	for _, name := range StartOrder {
		p := m.Proc(name)
		want[name] = [3]string{p.GRPCAddr, p.AdminAddr, p.HTTPAddr}
		if name == NATS {
			continue
		}
		for _, addr := range []string{p.GRPCAddr, p.AdminAddr, p.HTTPAddr} {
			if addr == "" {
				continue
			}
			if l, err := net.Listen("tcp", addr); err == nil {
				foreign = append(foreign, l)
				m.closeListeners()
				t.Fatalf("someone else bound %s's %s before the mesh started", name, addr)
			}
		}
	}
	// NATS's port is lost between its release and the NATS start.
	nats := m.Proc(NATS)
	lost := nats.GRPCAddr
	nats.hold.Close()
	thief, err := net.Listen("tcp", lost)
	if err != nil {
		m.closeListeners()
		t.Fatal(err)
	}
	foreign = append(foreign, thief)

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if err := m.startAll(ctx); err != nil {
		m.Stop()
		t.Fatalf("start with NATS's port taken: %v", err)
	}
	defer m.Stop()
	if nats.GRPCAddr == lost {
		t.Fatalf("NATS reported ready on %s, which a foreign listener holds", lost)
	}
	for _, name := range StartOrder {
		p := m.Proc(name)
		if name != NATS && [3]string{p.GRPCAddr, p.AdminAddr, p.HTTPAddr} != want[name] {
			t.Errorf("%s moved from %v to %v", name, want[name], [3]string{p.GRPCAddr, p.AdminAddr, p.HTTPAddr})
		}
	}
	if code := status(t, m.RESTURL()+"/healthz"); code == 0 {
		t.Error("the gateway's REST listener does not answer")
	}

	m.Kill(Order)
	order := m.Proc(Order)
	for _, addr := range []string{order.GRPCAddr, order.AdminAddr} {
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			t.Fatalf("%s was free while order was down", addr)
		}
	}
	if err := m.Restart(ctx, Order); err != nil {
		t.Fatalf("restart after kill: %v", err)
	}
	if code := status(t, "http://"+order.AdminAddr+"/readyz"); code != http.StatusOK {
		t.Fatalf("order after restart: /readyz = %d", code)
	}
}

// status is the HTTP status of GET url, 0 when nothing answers.
func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Logf("GET %s: %v", url, err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestEnvReachesEveryProcess: Config.Env goes to every process, before
// the per-process ExtraEnv, which wins.
func TestEnvReachesEveryProcess(t *testing.T) {
	m := &Mesh{cfg: Config{
		FreePorts: true, DataDir: t.TempDir(),
		Env:      []string{"PPROF_ENABLED=true", "LOG_LEVEL=debug"},
		ExtraEnv: map[string][]string{Order: {"LOG_LEVEL=warn"}},
	}, procs: map[string]*Proc{}}
	if err := m.assignPorts(); err != nil {
		t.Fatal(err)
	}
	defer m.closeListeners()
	m.env = m.sharedEnv()
	for _, name := range StartOrder {
		env := m.processEnv(name)
		if last(env, "PPROF_ENABLED") != "true" {
			t.Errorf("%s: PPROF_ENABLED=%q", name, last(env, "PPROF_ENABLED"))
		}
		wantLevel := "debug"
		if name == Order {
			wantLevel = "warn"
		}
		if got := last(env, "LOG_LEVEL"); got != wantLevel {
			t.Errorf("%s: LOG_LEVEL=%q, want %q", name, got, wantLevel)
		}
		if name == NATS {
			continue
		}
		p := m.Proc(name)
		fds := last(env, "TRANSLOAD_LISTEN_FDS")
		wantFDs := fmt.Sprintf("%s=3,%s=4", p.GRPCAddr, p.AdminAddr)
		if name == Gateway {
			wantFDs += fmt.Sprintf(",%s=5", p.HTTPAddr)
		}
		if fds != wantFDs || len(p.listeners) != strings.Count(fds, "=") {
			t.Errorf("%s: TRANSLOAD_LISTEN_FDS=%q with %d sockets, want %q", name, fds, len(p.listeners), wantFDs)
		}
	}
}

// last is the value the last KEY= entry of env gives key, as exec does.
func last(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}
