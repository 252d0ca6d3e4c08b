// Package launcher starts the whole Transload mesh on one machine as
// separate processes: an embedded NATS JetStream node, the ERP and WMS
// simulators, the four process services, the gateway and the ops service. `make run` and the
// end-to-end suite both use it, so what the tests drive is what a newcomer
// runs.
//
// The launcher binds every listener of the services itself before it
// starts anything — each gRPC and admin listener and the gateway's REST
// listener, on free ports (Config.FreePorts) or the fixed port plan — and
// hands each process its sockets (exec.Cmd.ExtraFiles, named by address in
// TRANSLOAD_LISTEN_FDS; platform/listen takes them on the other side). A
// port picked for a process therefore cannot be taken by anyone else
// before the process binds it, which made about one mesh start in fifteen
// fail. The launcher keeps its copy of every socket until Stop, so a
// process killed and restarted (Kill, Restart) serves the same socket
// again; while it is down, connections to its ports wait in the socket's
// backlog instead of being refused. NATS binds its own client port
// (nats-server cannot take a socket): the launcher holds that port until
// it spawns NATS, checks that the NATS protocol answers there, and with
// FreePorts moves NATS to another port when it lost the one picked.
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
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/transload/transload/platform/listen"
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
	Notify      = "notify"
)

// StartOrder lists the processes in dependency order; Stop goes in reverse.
// The ops and notify services come last so the fixed ports of the others
// keep their place in the port plan (ops is 9008/9108, notify 9009/9109);
// the gateway reaches both lazily.
var StartOrder = []string{NATS, ERPSim, WMSSim, Catalog, Inventory, Order, Fulfillment, Gateway, Ops, Notify}

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
	Notify:      "notify",
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
	// DemoB2BAPIKey is a key of channel "b2b", not bound to a customer;
	// DemoC0011APIKey and DemoC0012APIKey are b2b keys bound to customers
	// C0011 and C0012 (the e2e BOLA matrix's customers A and B).
	DemoB2BAPIKey   = "demo-b2b-key"
	DemoC0011APIKey = "demo-c0011-key"
	DemoC0012APIKey = "demo-c0012-key"
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
	// Env adds or overrides environment variables of every process
	// (KEY=value), e.g. PPROF_ENABLED=true for the benchmark's profiles.
	Env []string
	// ExtraEnv adds or overrides environment variables per process name;
	// it comes after Env, so it wins over it.
	ExtraEnv map[string][]string
	// ReadyTimeout bounds the wait for each process to become ready.
	ReadyTimeout time.Duration
	// Log receives the launcher's progress lines; nil discards them.
	Log io.Writer
	// Scale runs the scale topology (scale.go): three NATS nodes in a
	// JetStream cluster, streams with three replicas, and two replicas
	// of each process in Replicated. Replicas share their service's
	// database, so it needs PostgresEnv in ExtraEnv.
	Scale bool
	// Proxy, when set, is asked while the mesh starts for the address at
	// which process caller reaches process target (a service replica's
	// gRPC address, or a NATS node's client address), given the address
	// target listens on: it returns addr to connect directly, or the
	// address of a proxy in front of target (the scale suite's toxiproxy
	// proxies, through which it injects latency and partitions). Each
	// caller then gets its own neighbour addresses and NATS_URL.
	Proxy func(caller, target, addr string) string
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
	// listeners are the sockets of GRPCAddr, AdminAddr and HTTPAddr the
	// launcher bound, in that order; every spawn hands them over as fds
	// 3, 4, ... and the launcher keeps them open until Stop.
	listeners []*os.File
	// hold keeps NATS's client port taken until NATS is spawned and
	// binds it itself.
	hold net.Listener
	// RouteAddr is a NATS node's cluster (route) listener in the scale
	// topology; routeHold keeps it taken until the node is spawned.
	RouteAddr string
	routeHold net.Listener
	mu        sync.Mutex
	cmd       *exec.Cmd
	// done is closed when the current process has exited.
	done chan struct{}
}

// Mesh is a running set of processes.
type Mesh struct {
	cfg   Config
	procs map[string]*Proc
	env   []string
	// order lists the processes in start order: StartOrder, with the
	// scale topology's extra NATS nodes and replicas (processes).
	order []string
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

// Start binds the listeners of every process, launches the processes in
// dependency order and waits for each to be ready. On error it stops what
// it started and releases the ports.
func Start(ctx context.Context, cfg Config) (*Mesh, error) {
	m, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	if err := m.startAll(ctx); err != nil {
		m.Stop()
		return nil, err
	}
	return m, nil
}

// prepare checks the binaries, makes the data folders and binds every
// port of the mesh; nothing runs yet.
func prepare(cfg Config) (*Mesh, error) {
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
	cfg, err := meshTLS(cfg, os.Getenv) // meshtls.go: MESH_TLS_DIR or MESH_PLAINTEXT for every process
	if err != nil {
		return nil, err
	}
	m := &Mesh{cfg: cfg, procs: map[string]*Proc{}, order: processes(cfg)}
	if err := m.assignPorts(); err != nil {
		m.closeListeners()
		return nil, err
	}
	return m, nil
}

// startAll starts every process in StartOrder and waits for each.
func (m *Mesh) startAll(ctx context.Context) error {
	for _, name := range m.order {
		var err error
		if name == NATS {
			err = m.startNATS(ctx)
		} else {
			err = m.start(ctx, name)
		}
		if err != nil {
			return err
		}
		if Service(name) == NATS { // no admin listener
			fmt.Fprintf(m.cfg.Log, "launcher: %-16s ready  client=%s\n", name, m.procs[name].GRPCAddr)
			continue
		}
		fmt.Fprintf(m.cfg.Log, "launcher: %-16s ready  grpc=%s admin=%s\n", name, m.procs[name].GRPCAddr, m.procs[name].AdminAddr)
	}
	return nil
}

// natsAttempts bounds how often NATS is moved to another free port when
// the one picked was taken before it could bind.
const natsAttempts = 5

// startNATS starts NATS first of all, so that when its port was lost
// nothing knows the old address yet: the shared environment is made
// again for each attempt.
func (m *Mesh) startNATS(ctx context.Context) error {
	p := m.procs[NATS]
	for attempt := 1; ; attempt++ {
		m.env = m.sharedEnv()
		err := m.start(ctx, NATS)
		if err == nil || !m.cfg.FreePorts || attempt == natsAttempts || !errors.Is(err, errExited) {
			return err
		}
		fmt.Fprintf(m.cfg.Log, "launcher: nats could not serve on %s (%v); trying another port\n", p.GRPCAddr, err)
		if p.hold, err = net.Listen("tcp", loopback(0)); err != nil {
			return fmt.Errorf("launcher: nats port: %w", err)
		}
		p.GRPCAddr = p.hold.Addr().String()
	}
}

// assignPorts binds every listener of the mesh: loopback port 0 for each
// with FreePorts (the kernel picks distinct free ports, and since all stay
// bound, none is handed out twice), else the fixed port plan, where a
// port in use is reported now, naming its process.
func (m *Mesh) assignPorts() error {
	if m.order == nil {
		m.order = processes(m.cfg)
	}
	for _, name := range m.order {
		p := &Proc{Name: name, LogPath: filepath.Join(m.cfg.DataDir, "logs", name+".log")}
		m.procs[name] = p
		grpcAddr, adminAddr, httpAddr := loopback(0), loopback(0), loopback(0)
		if !m.cfg.FreePorts {
			grpcAddr, adminAddr, httpAddr = fixedPorts(name)
		}
		if Service(name) == NATS {
			if err := m.holdNATSPorts(p, grpcAddr); err != nil {
				return err
			}
			continue
		}
		var err error
		if p.GRPCAddr, err = p.bind(grpcAddr, "grpc"); err != nil {
			return err
		}
		if p.AdminAddr, err = p.bind(adminAddr, "admin"); err != nil {
			return err
		}
		if Service(name) == Gateway {
			if p.HTTPAddr, err = p.bind(httpAddr, "rest"); err != nil {
				return err
			}
		}
	}
	return nil
}

// bind listens on addr and keeps the socket as p's next listener,
// returning its address.
func (p *Proc) bind(addr, what string) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("launcher: %s %s listener: %w", p.Name, what, err)
	}
	defer l.Close() // the dup below keeps the socket
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		return "", fmt.Errorf("launcher: %s %s listener: %w", p.Name, what, err)
	}
	p.listeners = append(p.listeners, f)
	return l.Addr().String(), nil
}

// listenFDs is TRANSLOAD_LISTEN_FDS for p: each listener's address and
// the fd it has in the child (ExtraFiles start at 3).
func (p *Proc) listenFDs() string {
	addrs := slices.DeleteFunc([]string{p.GRPCAddr, p.AdminAddr, p.HTTPAddr}, func(a string) bool { return a == "" })
	pairs := make([]string, len(addrs))
	for i, a := range addrs {
		pairs[i] = a + "=" + strconv.Itoa(3+i)
	}
	return strings.Join(pairs, ",")
}

// closeListeners releases every port the launcher holds.
func (m *Mesh) closeListeners() {
	for _, p := range m.procs {
		for _, f := range p.listeners {
			_ = f.Close()
		}
		p.listeners = nil
		if p.hold != nil {
			_ = p.hold.Close()
			p.hold = nil
		}
		if p.routeHold != nil {
			_ = p.routeHold.Close()
			p.routeHold = nil
		}
	}
}

// sharedEnv is the environment every process gets: the addresses of all its
// possible neighbours. Each process reads only what it needs.
func (m *Mesh) sharedEnv() []string {
	env := append(m.neighbourEnv(""), []string{
		// A developer's local webhook receiver (http://127.0.0.1:PORT/...)
		// works out of the box; production manifests leave it false.
		"WEBHOOK_ALLOW_LOCAL_TARGETS=true",
		"METRICS_TARGETS=" + m.metricsTargets(),
		"REDIS_ADDR=" + m.cfg.RedisAddr,
		"API_KEYS=" + DemoAPIKey + ":web," + DemoCustomerAPIKey + ":web:C0001," +
			DemoOperatorAPIKey + ":ops:operator," + DemoViewerAPIKey + ":ops:viewer," +
			DemoB2BAPIKey + ":b2b," + DemoC0011APIKey + ":b2b:C0011," + DemoC0012APIKey + ":b2b:C0012",
		"LOG_LEVEL=info",
		"GRPC_REFLECTION=true", // grpcurl and buf curl work against every port of make run
	}...)
	if m.cfg.Scale {
		env = append(env, "NATS_STREAM_REPLICAS="+strconv.Itoa(len(natsNodes)))
	}
	return env
}

// neighbourEnv names every neighbour's address and the NATS nodes as
// caller reaches them (through Config.Proxy; "" is every process without
// a proxy).
func (m *Mesh) neighbourEnv(caller string) []string {
	return []string{
		"NATS_URL=" + m.natsURL(caller),
		"ERP_ADDR=" + m.target(caller, ERPSim),
		"WMS_ADDR=" + m.target(caller, WMSSim),
		"CATALOG_ADDR=" + m.target(caller, Catalog),
		"INVENTORY_ADDR=" + m.target(caller, Inventory),
		"ORDER_ADDR=" + m.target(caller, Order),
		"FULFILLMENT_ADDR=" + m.target(caller, Fulfillment),
		"OPS_ADDR=" + m.target(caller, Ops),
		"NOTIFY_ADDR=" + m.target(caller, Notify),
	}
}

// metricsTargets lists every service's metrics endpoint for the ops
// service's KPI scrape, as METRICS_TARGETS wants it: service=URL, comma
// separated.
func (m *Mesh) metricsTargets() string {
	var ts []string
	for _, name := range m.order {
		if Service(name) == NATS {
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
	p.env = m.processEnv(name)
	if p.hold != nil {
		// NATS binds the port itself: free it at the last moment.
		_ = p.hold.Close()
		p.hold = nil
	}
	if p.routeHold != nil {
		_ = p.routeHold.Close()
		p.routeHold = nil
	}
	if err := p.spawn(filepath.Join(m.cfg.BinDir, binaries[Service(name)])); err != nil {
		return err
	}
	return p.waitReady(ctx, m.cfg.ReadyTimeout)
}

// processEnv is the environment of the named process: the launcher's own,
// the shared neighbours, the process's addresses and data, Config.Env,
// its ExtraEnv, and last the sockets handed over (TRANSLOAD_LISTEN_FDS),
// which nothing may override.
func (m *Mesh) processEnv(name string) []string {
	p := m.procs[name]
	env := append(os.Environ(), m.env...)
	if m.cfg.Proxy != nil && Service(name) != NATS {
		env = append(env, m.neighbourEnv(name)...)
	}
	// A replica is its service under the service's name (durable
	// consumers, metrics and traces are named after it) on the service's
	// database; a NATS node keeps its own name and store.
	svc := Service(name)
	if svc == NATS {
		svc = name
	}
	env = append(env,
		"SERVICE_NAME="+svc,
		"GRPC_ADDR="+p.GRPCAddr,
		"ADMIN_ADDR="+p.AdminAddr,
		"DATABASE_URL=sqlite://"+filepath.Join(m.cfg.DataDir, svc+".db"),
	)
	if Service(name) == NATS {
		env = append(env, "NATS_STORE_DIR="+filepath.Join(m.cfg.DataDir, name))
		env = append(env, m.natsClusterEnv(p)...)
	}
	if p.HTTPAddr != "" {
		env = append(env, "HTTP_ADDR="+p.HTTPAddr)
	}
	env = append(env, m.cfg.Env...)
	if svc != name && Service(name) != NATS {
		env = append(env, m.cfg.ExtraEnv[svc]...)
	}
	env = append(env, m.cfg.ExtraEnv[name]...)
	if len(p.listeners) > 0 {
		env = append(env, listen.EnvVar+"="+p.listenFDs())
	}
	return env
}

func (p *Proc) spawn(bin string) error {
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("launcher: %s log: %w", p.Name, err)
	}
	cmd := exec.Command(bin)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = p.listeners // fds 3, 4, ... as listenFDs names them
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

// errExited is the cause of waitReady's error for a process that exited
// before it was ready.
var errExited = errors.New("exited during start")

// waitReady polls the admin /readyz endpoint (the NATS greeting for NATS)
// until it answers 200, the process exits, or the timeout passes.
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
			return fmt.Errorf("launcher: %s %w; see %s", p.Name, errExited, p.LogPath)
		case <-ctx.Done():
			return fmt.Errorf("launcher: %s not ready after %s; see %s", p.Name, timeout, p.LogPath)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (p *Proc) ready(ctx context.Context, client *http.Client) bool {
	if Service(p.Name) == NATS {
		return natsGreets(ctx, p.GRPCAddr)
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

// natsGreets reports whether a NATS server answers on addr: it sends its
// INFO line first. A bare TCP connect would also succeed against whatever
// else took the port.
func natsGreets(ctx context.Context, addr string) bool {
	c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 5)
	_, err = io.ReadFull(c, buf)
	return err == nil && string(buf) == "INFO "
}

// Kill sends SIGKILL to the named process and waits until it is gone (crash
// tests).
func (m *Mesh) Kill(name string) {
	cmd, done := m.Proc(name).current()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// current is the process's running (or last) command and the channel
// closed when it exits; nil before its first start.
func (p *Proc) current() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done
}

// Restart starts the named process again with the same ports, data and
// environment, and waits until it is ready. A service gets the same
// listening sockets again (the launcher kept them); NATS binds its port
// anew. env, when given, is added to the
// process's environment from now on (a later entry of a variable wins), as
// an operator changing a deployment's configuration would.
func (m *Mesh) Restart(ctx context.Context, name string, env ...string) error {
	p := m.Proc(name)
	p.mu.Lock()
	p.env = append(p.env, env...)
	p.mu.Unlock()
	if err := p.spawn(filepath.Join(m.cfg.BinDir, binaries[Service(name)])); err != nil {
		return err
	}
	return p.waitReady(ctx, m.cfg.ReadyTimeout)
}

// Terminate stops the named process as an orchestrator does (SIGTERM:
// it drains and exits; SIGKILL after 15 seconds) and waits until it is
// gone; Restart starts it again (a rolling restart).
func (m *Mesh) Terminate(name string) { m.Proc(name).terminate() }

// Stop terminates every process in reverse start order (Terminate); then
// it releases the ports the launcher held.
func (m *Mesh) Stop() {
	defer m.closeListeners()
	for i := len(m.order) - 1; i >= 0; i-- {
		if p, ok := m.procs[m.order[i]]; ok {
			p.terminate()
		}
	}
}

// terminate sends SIGTERM to the current process, SIGKILL when it still
// runs 15 seconds later, and waits for it to exit.
func (p *Proc) terminate() {
	cmd, done := p.current()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
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
func Build(ctx context.Context, dir string) error { return build(ctx, dir, nil) }

// BuildMesh builds only the binaries the mesh runs into dir: what a test
// of the launcher itself needs, without the other commands of the
// workspace.
func BuildMesh(ctx context.Context, dir string) error {
	want := map[string]bool{}
	for _, bin := range binaries {
		want[bin] = true
	}
	return build(ctx, dir, want)
}

// build builds the cmd/ packages of every workspace module into dir: all
// of them when only is nil, else those whose folder name only holds.
func build(ctx context.Context, dir string, only map[string]bool) error {
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
		cmds, err := os.ReadDir(filepath.Join(mod, "cmd"))
		if err != nil {
			continue
		}
		pkgs := []string{"./cmd/..."}
		if only != nil {
			pkgs = pkgs[:0]
			for _, c := range cmds {
				if c.IsDir() && only[c.Name()] {
					pkgs = append(pkgs, "./cmd/"+c.Name())
				}
			}
			if len(pkgs) == 0 {
				continue
			}
		}
		cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-o", dir + string(os.PathSeparator)}, pkgs...)...)
		cmd.Dir = mod
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("launcher: build %s: %w\n%s", mod, err, b)
		}
	}
	return nil
}
