package manifests

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Container is one container of a manifest (a compose service or a
// container of a Kubernetes pod template) that runs a binary of the
// image.
type Container struct {
	// Where names it in errors, e.g. "prod: Deployment/order".
	Where string
	// Workload is the name the network checks use for the pods or
	// containers running it.
	Workload string
	// Command is the container's command (entrypoint) as written.
	Command []string
	// Env maps each variable the manifest sets to its literal value; a
	// value taken from a Secret or a field is in FromRef instead.
	Env map[string]string
	// FromRef holds the variables set from a Secret, ConfigMap or field.
	FromRef map[string]bool
	// Ports are the declared container ports by name ("" for unnamed
	// ones); nil when the manifest format declares none (compose).
	Ports map[string]int
}

// Target is what a host name of a neighbour address reaches.
type Target struct {
	// Workload is the workload behind the name.
	Workload string
	// Binary is the Transload binary the workload runs ("" for a
	// third-party image: NATS, Redis, PostgreSQL).
	Binary string
	// Ports are the ports the name serves.
	Ports []int
}

// Resolver returns what a host name reaches in the manifest's network.
type Resolver func(host string) (Target, bool)

// Call is one documented call of the mesh: the From workload connects to
// the To workload on Port, because a variable of From names it.
type Call struct {
	From, To string
	Port     int
	// Var is the variable that documents the call.
	Var string
}

// CheckContainer checks one container against the binary it runs: the
// command names a binary the Dockerfile builds, every variable set is one
// the binary reads, every listen address is on the binary's port and not
// on loopback, no variable whose default is a loopback address is left
// unset, every neighbour address (*_ADDR, NATS_URL,
// METRICS_TARGETS) names a host of the manifest on a port it serves (the
// neighbour binary's gRPC port; its admin port for metrics), and the
// declared container ports are the binary's. It returns the calls the
// container's variables document.
func CheckContainer(c Container, r *Repo, built []string, resolve Resolver) ([]Call, error) {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{c.Where}, args...)...))
	}
	if len(c.Command) == 0 {
		fail("no command: name the binary (%s/<binary>), the image has no default per service", BinDir)
		return nil, errors.Join(errs...)
	}
	name, ok := strings.CutPrefix(c.Command[0], BinDir+"/")
	if !ok || !slices.Contains(built, name) {
		fail("command %q is not a binary the Dockerfile builds into %s (%s)", c.Command[0], BinDir, strings.Join(built, ", "))
		return nil, errors.Join(errs...)
	}
	b, ok := r.Binaries[name]
	if !ok {
		fail("binary %s is not a cmd/ folder of a go.work module", name)
		return nil, errors.Join(errs...)
	}
	set := func(v string) bool { _, lit := c.Env[v]; return lit || c.FromRef[v] }
	for _, v := range sortedKeys(c.Env, c.FromRef) {
		if !b.Reads(v) {
			fail("sets %s, which %s does not read (its configuration: %s)", v, name, cmp.Or(b.ConfigDir, "none, it reads flags only"))
		}
	}
	// Listen addresses.
	for _, v := range sortedKeys(b.Ports(), nil) {
		want, _ := b.ListenPort(v)
		if !set(v) {
			fail("does not set %s: %s's default %q listens on loopback only", v, name, b.Env[v])
			continue
		}
		val, lit := c.Env[v]
		if !lit {
			continue
		}
		host, port, err := splitPort(val)
		if err != nil {
			fail("%s=%q: %v", v, val, err)
			continue
		}
		if port != want {
			fail("%s=%q: %s listens on %d in the port plan", v, val, name, want)
		}
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			fail("%s=%q listens on loopback: nothing outside the container reaches it", v, val)
		}
	}
	// Neighbours left at a loopback default: nothing is there in a
	// container or pod.
	for _, v := range sortedKeys(b.Env, nil) {
		if def := b.Env[v]; !isListenVar(v) && !set(v) && mentionsLoopback(def) {
			fail("does not set %s: %s's default %q is loopback, where no neighbour runs in a container", v, name, def)
		}
	}
	// Declared container ports.
	if c.Ports != nil {
		ports := b.Ports()
		declared := map[int]bool{}
		for pname, p := range c.Ports {
			declared[p] = true
			if !slices.Contains(mapValues(ports), p) {
				fail("declares port %d (%q), which %s does not listen on (%v)", p, pname, name, ports)
			}
			if v, ok := portNameVar[pname]; ok && ports[v] != p {
				fail("port %q is %d; %s's %s is %d", pname, p, name, v, ports[v])
			}
		}
		for _, v := range sortedKeys(ports, nil) {
			if !declared[ports[v]] {
				fail("does not declare %s's %s port %d", name, v, ports[v])
			}
		}
	}
	// Neighbours.
	var calls []Call
	call := func(v, raw string, wantAdmin bool) {
		host, port, err := splitPort(raw)
		if err != nil {
			fail("%s: %q: %v", v, raw, err)
			return
		}
		t, ok := resolve(host)
		if !ok {
			fail("%s: host %q is not a service of the manifest", v, host)
			return
		}
		if !slices.Contains(t.Ports, port) {
			fail("%s: %s serves %v, not %d", v, host, t.Ports, port)
			return
		}
		if nb, ok := r.Binaries[t.Binary]; ok {
			want := nb.GRPCPort
			if wantAdmin {
				want = nb.AdminPort
			}
			if port != want {
				fail("%s: %s runs %s, whose port for this is %d, not %d", v, host, t.Binary, want, port)
				return
			}
		}
		calls = append(calls, Call{From: c.Workload, To: t.Workload, Port: port, Var: v})
	}
	for _, v := range sortedKeys(c.Env, nil) {
		val := c.Env[v]
		switch {
		case val == "" || isListenVar(v) || !b.Reads(v):
		case v == "NATS_URL":
			for u := range strings.SplitSeq(val, ",") {
				call(v, strings.TrimSpace(u), false)
			}
		case v == "METRICS_TARGETS":
			for entry := range strings.SplitSeq(val, ",") {
				svc, u, ok := strings.Cut(strings.TrimSpace(entry), "=")
				if !ok {
					fail("%s: entry %q is not name=URL", v, entry)
					continue
				}
				host, _, _ := splitPort(u)
				if t, ok := resolve(host); ok && t.Binary != "" && t.Binary != svc {
					fail("%s: %s= points at %s, which runs %s", v, svc, host, t.Binary)
				}
				call(v, u, true)
			}
		case strings.HasSuffix(v, "_ADDR"):
			call(v, val, false)
		}
	}
	return calls, errors.Join(errs...)
}

// portNameVar is the listen variable a container port name stands for.
var portNameVar = map[string]string{"grpc": "GRPC_ADDR", "admin": "ADMIN_ADDR", "http": "HTTP_ADDR"}

// splitPort reads host and port from host:port, a gRPC target
// (dns:///host:port) or a URL (nats://host:port, http://host:port/path).
func splitPort(s string) (string, int, error) {
	switch {
	case strings.HasPrefix(s, "dns:"):
		// dns:[//authority]/host:port
		rest := strings.TrimPrefix(s, "dns:")
		if strings.HasPrefix(rest, "//") {
			_, after, _ := strings.Cut(rest[2:], "/")
			rest = after
		}
		s = strings.TrimPrefix(rest, "/")
	case strings.Contains(s, "://"):
		u, err := url.Parse(s)
		if err != nil {
			return "", 0, err
		}
		s = u.Host
	}
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("port %q is not a number", p)
	}
	return host, port, nil
}

func sortedKeys[V any](a map[string]V, b map[string]bool) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, dup := a[k]; !dup {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func mapValues(m map[string]int) []int {
	var vs []int
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}

// mentionsLoopback reports whether an address or list of addresses names
// the loopback interface.
func mentionsLoopback(s string) bool {
	return strings.Contains(s, "127.0.0.1") || strings.Contains(s, "localhost") || strings.Contains(s, "[::1]")
}
