package launcher

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// The scale topology (Config.Scale, `make run-scale`) runs what the prod
// overlay deploys, on loopback: NATS as a three-node JetStream cluster
// (the "nats", "nats-2" and "nats-3" processes of transload-nats, joined
// by routes, every stream kept on all three: NATS_STREAM_REPLICAS=3),
// and two replicas of each process of Replicated ("inventory" and
// "inventory-2", ...). A replica is its service under the service's
// SERVICE_NAME, on the service's database and ExtraEnv; its neighbours
// reach both replicas through one static:/// target (grpcclient), spread
// round robin behind one breaker per dependency, and every service gets
// all three NATS URLs, between which the client fails over.

// Names of the extra NATS nodes of the scale topology.
const (
	NATS2 = "nats-2"
	NATS3 = "nats-3"
)

// natsNodes are the NATS processes of the scale topology.
var natsNodes = []string{NATS, NATS2, NATS3}

// Replicated are the processes the scale topology runs twice.
var Replicated = []string{Catalog, Inventory, Order, Fulfillment, Gateway}

// Replicas is how many of each Replicated process the scale topology runs.
const Replicas = 2

// ReplicaName is the process name of replica n (1-based) of process
// name: the name itself for 1, "<name>-<n>" after.
func ReplicaName(name string, n int) string {
	if n <= 1 {
		return name
	}
	return name + "-" + strconv.Itoa(n)
}

// Service is the process a replica or NATS node belongs to
// ("inventory-2" -> "inventory", "nats-3" -> "nats"); other names are
// returned as they are.
func Service(proc string) string {
	i := strings.LastIndexByte(proc, '-')
	if i < 0 {
		return proc
	}
	if n, err := strconv.Atoi(proc[i+1:]); err != nil || n < 2 {
		return proc
	}
	if _, ok := binaries[proc[:i]]; ok {
		return proc[:i]
	}
	return proc
}

// processes lists the processes cfg runs in start order: StartOrder, and
// in the scale topology the other NATS nodes right after the first and
// each replica right after its first.
func processes(cfg Config) []string {
	if !cfg.Scale {
		return slices.Clone(StartOrder)
	}
	var out []string
	for _, name := range StartOrder {
		out = append(out, name)
		switch {
		case name == NATS:
			out = append(out, natsNodes[1:]...)
		case slices.Contains(Replicated, name):
			for n := 2; n <= Replicas; n++ {
				out = append(out, ReplicaName(name, n))
			}
		}
	}
	return out
}

// Replicas returns the processes of service in start order: the service
// alone outside the scale topology.
func (m *Mesh) Replicas(service string) []string {
	var out []string
	for _, name := range m.order {
		if Service(name) == service {
			out = append(out, name)
		}
	}
	return out
}

// RESTURLs are the storefront REST base URLs of every gateway replica.
func (m *Mesh) RESTURLs() []string {
	var out []string
	for _, name := range m.Replicas(Gateway) {
		out = append(out, "http://"+m.procs[name].HTTPAddr)
	}
	return out
}

// target is the Dial target of service for caller: its address, or a
// static:/// list of its replicas' addresses, each through Config.Proxy
// (caller "": directly).
func (m *Mesh) target(caller, service string) string {
	var addrs []string
	for _, name := range m.Replicas(service) {
		addrs = append(addrs, m.reach(caller, name, m.procs[name].GRPCAddr))
	}
	if len(addrs) == 1 {
		return addrs[0]
	}
	// grpcclient.StaticTarget, spelled out: the launcher does not link
	// gRPC for one string.
	return "static:///" + strings.Join(addrs, ",")
}

// natsURL is NATS_URL for caller: every NATS node, comma separated, each
// through Config.Proxy (caller "": directly).
func (m *Mesh) natsURL(caller string) string {
	var urls []string
	for _, name := range m.Replicas(NATS) {
		urls = append(urls, "nats://"+m.reach(caller, name, m.procs[name].GRPCAddr))
	}
	return strings.Join(urls, ",")
}

// reach is the address caller reaches process target at, listening on
// addr: Config.Proxy's answer, or addr itself.
func (m *Mesh) reach(caller, target, addr string) string {
	if caller == "" || m.cfg.Proxy == nil {
		return addr
	}
	return m.cfg.Proxy(caller, target, addr)
}

// natsClusterEnv is the cluster environment of NATS node p in the scale
// topology (transload-nats): its route listener, every node's route and
// its server name; nothing for the single node.
func (m *Mesh) natsClusterEnv(p *Proc) []string {
	if !m.cfg.Scale {
		return nil
	}
	var routes []string
	for _, name := range m.Replicas(NATS) {
		routes = append(routes, "nats://"+m.procs[name].RouteAddr)
	}
	return []string{"NATS_CLUSTER_ADDR=" + p.RouteAddr, "NATS_ROUTES=" + strings.Join(routes, ",")}
}

// holdNATSPorts binds NATS node p's client port (and in the scale
// topology its route port) and keeps them until the node is spawned.
func (m *Mesh) holdNATSPorts(p *Proc, clientAddr string) error {
	l, err := net.Listen("tcp", clientAddr)
	if err != nil {
		return fmt.Errorf("launcher: %s client port: %w", p.Name, err)
	}
	p.hold, p.GRPCAddr = l, l.Addr().String()
	if !m.cfg.Scale {
		return nil
	}
	routeAddr := loopback(0)
	if !m.cfg.FreePorts {
		routeAddr = loopback(6222 + slices.Index(natsNodes, p.Name))
	}
	r, err := net.Listen("tcp", routeAddr)
	if err != nil {
		return fmt.Errorf("launcher: %s route port: %w", p.Name, err)
	}
	p.routeHold, p.RouteAddr = r, r.Addr().String()
	return nil
}

// fixedPorts is the port plan of `make run` and `make run-scale`: process
// i of StartOrder gets gRPC DefaultBasePort+i and admin
// DefaultBasePort+100+i, the gateway REST DefaultRESTPort; replica n of
// it gets those plus 200·(n-1), the second gateway REST DefaultRESTPort+1;
// NATS node n has client port 4221+n and route port 6221+n.
func fixedPorts(name string) (grpcAddr, adminAddr, httpAddr string) {
	svc := Service(name)
	if svc == NATS {
		return loopback(4222 + slices.Index(natsNodes, name)), "", ""
	}
	i := slices.Index(StartOrder, svc)
	n := 1
	if svc != name {
		n, _ = strconv.Atoi(name[len(svc)+1:])
	}
	shift := 200 * (n - 1)
	return loopback(DefaultBasePort + i + shift), loopback(DefaultBasePort + 100 + i + shift), loopback(DefaultRESTPort + n - 1)
}
