// Package launcher starts the whole Transload mesh on one machine as
// separate processes: an embedded NATS JetStream node, the ERP and WMS
// simulators, the four process services, the gateway and the ops service. `make run` and the
// end-to-end suite both use it, so what the tests drive is what a newcomer
// runs.
package launcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Names of the processes the mesh runs, in start order.
const (
	NATS        = "nats"
	ERPSim      = "erpsim"
	WMSSim      = "wmssim"
	Catalog     = "catalog-pricing"
	Inventory   = "inventory"
	Order       = "order"
	Fulfillment = "fulfillment"
	Gateway     = "gateway"
	Ops         = "ops"
)

// StartOrder lists the processes in dependency order; Stop goes in reverse.
// The ops service comes last so the fixed ports of the others keep their
// place in the port plan (ops is 9008/9108); the gateway reaches it lazily.
var StartOrder = []string{NATS, ERPSim, WMSSim, Catalog, Inventory, Order, Fulfillment, Gateway, Ops}

// binaries maps a process to the binary `make build` puts into bin/.
var binaries = map[string]string{
	NATS:        "transload-nats",
	ERPSim:      "erpsim",
	WMSSim:      "wmssim",
	Catalog:     "catalog-pricing",
	Inventory:   "inventory",
	Order:       "order",
	Fulfillment: "fulfillment",
	Gateway:     "gateway",
	Ops:         "ops",
}

// DefaultBasePort is where `make run` starts numbering ports: process i gets
// gRPC base+i and admin base+100+i; the gateway's REST port is DefaultRESTPort.
const (
	DefaultBasePort = 9000
	DefaultRESTPort = 8080
)

// DemoAPIKey is the storefront key `make run` configures for channel "web",
// not bound to a customer. DemoCustomerAPIKey is bound to customer C0001.
// DemoOperatorAPIKey is an operator key (role operator: read and act on the
// ops API and console); DemoViewerAPIKey may only read it.
const (
	DemoAPIKey         = "demo-web-key"
	DemoCustomerAPIKey = "demo-c0001-key"
	DemoOperatorAPIKey = "demo-admin-key"
	DemoViewerAPIKey   = "demo-viewer-key"
)

// Config says where binaries and data live and how ports are chosen.
type Config struct {
	// BinDir holds the built binaries (make build).
	BinDir string
	// DataDir holds one SQLite file per service, the NATS store and the logs.
	DataDir string
	// FreePorts picks free loopback ports instead of the fixed defaults
	// (tests run several meshes and must not collide with `make run`).
	FreePorts bool
	// RedisAddr is used by the services for caching when set; empty means
	// each service uses its in-process cache.
	RedisAddr string
	// ExtraEnv adds or overrides environment variables per process name.
	ExtraEnv map[string][]string
	// ReadyTimeout bounds the wait for each process to become ready.
	ReadyTimeout time.Duration
	// Log receives the launcher's progress lines; nil discards them.
	Log io.Writer
}

// Proc is one process of the mesh.
type Proc struct {
	Name      string
	GRPCAddr  string
	AdminAddr string
	// HTTPAddr is set for the gateway (REST) only.
	HTTPAddr string
	LogPath  string

	env []string
	mu  sync.Mutex
	cmd *exec.Cmd
	// done is closed when the current process has exited.
	done chan struct{}
}

// Mesh is a running set of processes.
type Mesh struct {
	cfg   Config
	procs map[string]*Proc
	env   []string
}

// Proc returns the named process; it panics on an unknown name, which is a
// programming error in the caller.
func (m *Mesh) Proc(name string) *Proc {
	p, ok := m.procs[name]
	if !ok {
		panic("launcher: unknown process " + name)
	}
	return p
}

// RESTURL is the storefront REST base URL, e.g. http://127.0.0.1:8080.
func (m *Mesh) RESTURL() string { return "http://" + m.procs[Gateway].HTTPAddr }

// Start launches every process in dependency order and waits for each to be
// ready. On error it stops what it started.
func Start(ctx context.Context, cfg Config) (*Mesh, error) {
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 60 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	for _, name := range StartOrder {
		if _, err := os.Stat(filepath.Join(cfg.BinDir, binaries[name])); err != nil {
			return nil, fmt.Errorf("launcher: binary for %s missing (run `make build`): %w", name, err)
		}
	}
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("launcher: %w", err)
	}
	m := &Mesh{cfg: cfg, procs: map[string]*Proc{}}
	if err := m.assignPorts(); err != nil {
		return nil, err
	}
	m.env = m.sharedEnv()
	for _, name := range StartOrder {
		if err := m.start(ctx, name); err != nil {
			m.Stop()
			return nil, err
		}
		fmt.Fprintf(cfg.Log, "launcher: %-16s ready  grpc=%s admin=%s\n", name, m.procs[name].GRPCAddr, m.procs[name].AdminAddr)
	}
	return m, nil
}

func (m *Mesh) assignPorts() error {
	// Every free port of the mesh in one call: freePorts holds each
	// listener until it has them all, so no two processes get the same
	// port (separate calls could hand a released port out again).
	var free []int
	if m.cfg.FreePorts {
		var err error
		if free, err = freePorts(3 * len(StartOrder)); err != nil {
			return err
		}
	}
	for i, name := range StartOrder {
		p := &Proc{Name: name, LogPath: filepath.Join(m.cfg.DataDir, "logs", name+".log")}
		if m.cfg.FreePorts {
			ports := free[3*i : 3*i+3]
			p.GRPCAddr, p.AdminAddr = loopback(ports[0]), loopback(ports[1])
			if name == Gateway {
				p.HTTPAddr = loopback(ports[2])
			}
		} else {
			p.GRPCAddr = loopback(DefaultBasePort + i)
			p.AdminAddr = loopback(DefaultBasePort + 100 + i)
			if name == NATS {
				p.GRPCAddr = loopback(4222)
			}
			if name == Gateway {
				p.HTTPAddr = loopback(DefaultRESTPort)
			}
		}
		m.procs[name] = p
	}
	return nil
}

// sharedEnv is the environment every process gets: the addresses of all its
// possible neighbours. Each process reads only what it needs.
func (m *Mesh) sharedEnv() []string {
	env := []string{
		"NATS_URL=nats://" + m.procs[NATS].GRPCAddr,
		"ERP_ADDR=" + m.procs[ERPSim].GRPCAddr,
		"WMS_ADDR=" + m.procs[WMSSim].GRPCAddr,
		"CATALOG_ADDR=" + m.procs[Catalog].GRPCAddr,
		"INVENTORY_ADDR=" + m.procs[Inventory].GRPCAddr,
		"ORDER_ADDR=" + m.procs[Order].GRPCAddr,
		"FULFILLMENT_ADDR=" + m.procs[Fulfillment].GRPCAddr,
		"OPS_ADDR=" + m.procs[Ops].GRPCAddr,
		"METRICS_TARGETS=" + m.metricsTargets(),
		"REDIS_ADDR=" + m.cfg.RedisAddr,
		"API_KEYS=" + DemoAPIKey + ":web," + DemoCustomerAPIKey + ":web:C0001," +
			DemoOperatorAPIKey + ":ops:operator," + DemoViewerAPIKey + ":ops:viewer",
		"LOG_LEVEL=info",
		"GRPC_REFLECTION=true", // grpcurl and buf curl work against every port of make run
	}
	return env
}

// metricsTargets lists every service's metrics endpoint for the ops
// service's KPI scrape, as METRICS_TARGETS wants it: service=URL, comma
// separated.
func (m *Mesh) metricsTargets() string {
	var ts []string
	for _, name := range StartOrder {
		if name == NATS {
			continue
		}
		ts = append(ts, name+"=http://"+m.procs[name].AdminAddr+"/metrics")
	}
	return strings.Join(ts, ",")
}

// ConsoleURL is the ops console's address on the gateway.
func (m *Mesh) ConsoleURL() string { return m.RESTURL() + "/console/" }

func (m *Mesh) start(ctx context.Context, name string) error {
	p := m.procs[name]
	env := append(os.Environ(), m.env...)
	env = append(env,
		"SERVICE_NAME="+name,
		"GRPC_ADDR="+p.GRPCAddr,
		"ADMIN_ADDR="+p.AdminAddr,
		"DATABASE_URL=sqlite://"+filepath.Join(m.cfg.DataDir, name+".db"),
	)
	if name == NATS {
		env = append(env, "NATS_STORE_DIR="+filepath.Join(m.cfg.DataDir, "nats"))
	}
	if p.HTTPAddr != "" {
		env = append(env, "HTTP_ADDR="+p.HTTPAddr)
	}
	env = append(env, m.cfg.ExtraEnv[name]...)
	p.env = env
	if err := p.spawn(filepath.Join(m.cfg.BinDir, binaries[name])); err != nil {
		return err
	}
	return p.waitReady(ctx, m.cfg.ReadyTimeout)
}

func (p *Proc) spawn(bin string) error {
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("launcher: %s log: %w", p.Name, err)
	}
	cmd := exec.Command(bin)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group: Ctrl-C reaches the launcher only, which stops the
	// mesh in reverse dependency order. Pdeathsig stops a child whose
	// launcher died without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("launcher: start %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	return nil
}

// waitReady polls the admin /readyz endpoint (a TCP connect for NATS) until
// it answers 200, the process exits, or the timeout passes.
func (p *Proc) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		if p.ready(ctx, client) {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("launcher: %s exited during start; see %s", p.Name, p.LogPath)
		case <-ctx.Done():
			return fmt.Errorf("launcher: %s not ready after %s; see %s", p.Name, timeout, p.LogPath)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (p *Proc) ready(ctx context.Context, client *http.Client) bool {
	if p.Name == NATS {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", p.GRPCAddr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.AdminAddr+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Kill sends SIGKILL to the named process and waits until it is gone (crash
// tests).
func (m *Mesh) Kill(name string) {
	p := m.Proc(name)
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Restart starts the named process again with the same ports, data and
// environment, and waits until it is ready. env, when given, is added to the
// process's environment from now on (a later entry of a variable wins), as
// an operator changing a deployment's configuration would.
func (m *Mesh) Restart(ctx context.Context, name string, env ...string) error {
	p := m.Proc(name)
	p.mu.Lock()
	p.env = append(p.env, env...)
	p.mu.Unlock()
	if err := p.spawn(filepath.Join(m.cfg.BinDir, binaries[name])); err != nil {
		return err
	}
	return p.waitReady(ctx, m.cfg.ReadyTimeout)
}

// Stop terminates every process in reverse start order: SIGTERM, then
// SIGKILL for a process still running after 15 seconds.
func (m *Mesh) Stop() {
	for i := len(StartOrder) - 1; i >= 0; i-- {
		p, ok := m.procs[StartOrder[i]]
		if !ok {
			continue
		}
		p.mu.Lock()
		cmd, done := p.cmd, p.done
		p.mu.Unlock()
		if cmd == nil {
			continue
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
		}
	}
}

// Names returns the process names in a stable order.
func (m *Mesh) Names() []string {
	names := make([]string, 0, len(m.procs))
	for n := range m.procs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// freePorts reserves n distinct free loopback ports by listening on port 0
// and releasing them together.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, errors.Join(errors.New("launcher: no free port"), err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Binaries lists the service binaries the mesh runs (NATS excluded), by
// process name.
func Binaries() map[string]string {
	out := make(map[string]string, len(binaries)-1)
	for name, bin := range binaries {
		if name != NATS {
			out[name] = bin
		}
	}
	return out
}

// RepoRoot returns the folder holding go.work, searched from the working
// directory upwards: tests run from inside a module of the workspace.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("launcher: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("launcher: go.work not found above the working directory")
		}
		dir = parent
	}
}

// Build builds every cmd/ of every workspace module into dir, so that a
// test always runs the code under test rather than a stale bin/.
func Build(ctx context.Context, dir string) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	list := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}")
	list.Dir = root
	out, err := list.Output()
	if err != nil {
		return fmt.Errorf("launcher: go list -m: %w", err)
	}
	for _, mod := range strings.Fields(string(out)) {
		if _, err := os.Stat(filepath.Join(mod, "cmd")); err != nil {
			continue
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(os.PathSeparator), "./cmd/...")
		cmd.Dir = mod
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("launcher: build %s: %w\n%s", mod, err, b)
		}
	}
	return nil
}
