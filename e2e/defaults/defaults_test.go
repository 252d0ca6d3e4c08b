// Package defaults proves that every Transload binary starts from its
// defaults and the one setting it requires: MESH_TLS_DIR, the mesh
// certificates (issue #14; with no environment variable at all each binary
// refuses to start, naming MESH_TLS_DIR and the MESH_PLAINTEXT development
// flag). All side by side on the distinct default ports
// docs/configuration.md lists, each logging its configuration and serving
// its health endpoints (internal gRPC over mutual TLS, answering the
// operator identity), and each stopping cleanly on SIGTERM.
package defaults

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/transload/transload/deploy/local/launcher"
	"github.com/transload/transload/platform/meshtls"
	"github.com/transload/transload/platform/testharness/harness"
	"github.com/transload/transload/platform/testharness/wait"
)

// defaults is the port table of docs/configuration.md: the specification
// this test holds every binary to.
var defaults = []struct {
	name        string
	grpc, admin int
	http        int // gateway only
}{
	{launcher.ERPSim, 9001, 9101, 0},
	{launcher.WMSSim, 9002, 9102, 0},
	{launcher.Catalog, 9003, 9103, 0},
	{launcher.Inventory, 9004, 9104, 0},
	{launcher.Order, 9005, 9105, 0},
	{launcher.Fulfillment, 9006, 9106, 0},
	{launcher.Gateway, 9007, 9107, 8080},
	{launcher.Ops, 9008, 9108, 0},
	{launcher.Notify, 9009, 9109, 0},
}

func TestEveryBinaryStartsWithDefaultsAlone(t *testing.T) {
	if len(defaults) != len(launcher.Binaries()) {
		t.Fatalf("the table covers %d binaries, the mesh runs %d", len(defaults), len(launcher.Binaries()))
	}
	for _, d := range defaults {
		for _, p := range []int{d.grpc, d.admin, d.http} {
			if p != 0 && !portFree(p) {
				t.Fatalf("port %d (default of %s) is in use on this machine: stop whatever holds it (make run?)", p, d.name)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bin := t.TempDir()
	if err := launcher.Build(ctx, bin); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir() // the working directory: default SQLite files land here

	// Without MESH_TLS_DIR or MESH_PLAINTEXT=true a binary refuses to start.
	for _, d := range defaults {
		p, err := startBare(filepath.Join(bin, launcher.Binaries()[d.name]), work)
		if err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			p.kill()
			t.Fatalf("%s: still running without mesh certificates or the plaintext flag", d.name)
		}
		if out := p.output(); p.err == nil || !strings.Contains(out, "MESH_TLS_DIR") || !strings.Contains(out, "MESH_PLAINTEXT=true") {
			t.Errorf("%s without MESH_TLS_DIR: exit %v, output %q; want a failure naming MESH_TLS_DIR and MESH_PLAINTEXT=true", d.name, p.err, out)
		}
	}

	meshDir := filepath.Join(work, "mesh")
	if err := meshtls.EnsureMesh(meshDir, launcher.MeshMembers(), time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	procs := make([]*proc, len(defaults))
	for i, d := range defaults {
		p, err := startBare(filepath.Join(bin, launcher.Binaries()[d.name]), work, "MESH_TLS_DIR="+meshDir)
		if err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		procs[i] = p
		t.Cleanup(p.kill)
	}
	for i, d := range defaults {
		p := procs[i]
		t.Run(d.name, func(t *testing.T) {
			admin := "http://" + loopback(d.admin)
			wait.Eventually(t, 60*time.Second, d.name+" /healthz on its default admin port", func() error {
				if p.exited() {
					return fmt.Errorf("exited early; output:\n%s", p.output())
				}
				return httpStatus(admin+"/healthz", http.StatusOK)
			})
			if err := grpcAnswers(ctx, meshDir, d.name, loopback(d.grpc)); err != nil {
				t.Errorf("gRPC on its default port %d: %v", d.grpc, err)
			}
			if d.http != 0 {
				// An unauthenticated REST call is refused, which proves the
				// REST listener is there.
				if err := httpStatus("http://"+loopback(d.http)+"/v1/products", http.StatusUnauthorized); err != nil {
					t.Errorf("REST on its default port %d: %v", d.http, err)
				}
			}
			if err := loggedConfig(p.output(), d.name); err != nil {
				t.Errorf("start-up log: %v\noutput:\n%s", err, p.output())
			}
		})
	}
	for i, d := range defaults {
		if err := procs[i].stop(30 * time.Second); err != nil {
			t.Errorf("%s: SIGTERM: %v\noutput:\n%s", d.name, err, procs[i].output())
		}
	}
}

// proc is a binary started with an environment of env alone.
type proc struct {
	cmd  *exec.Cmd
	out  harness.Buffer
	done chan struct{}
	err  error
}

func startBare(bin, dir string, env ...string) (*proc, error) {
	p := &proc{cmd: exec.Command(bin), done: make(chan struct{})}
	p.cmd.Env = append([]string{}, env...) // not nil: nil would inherit this process's environment
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) output() string { return p.out.String() }

// stop sends SIGTERM and wants a clean exit (status 0) within timeout.
func (p *proc) stop(timeout time.Duration) error {
	if p.exited() {
		if p.err != nil {
			return fmt.Errorf("had already exited: %w", p.err)
		}
		return errors.New("had already exited (status 0)")
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("still running %s after SIGTERM", timeout)
	}
}

func (p *proc) kill() {
	if !p.exited() {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// loggedConfig checks the binary's first JSON log lines: one of them must
// carry its configuration (masked by svcmain) under its service name.
func loggedConfig(out, name string) error {
	sc := bufio.NewScanner(bytes.NewBufferString(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		if _, ok := rec["config"].(map[string]any); !ok {
			continue
		}
		if rec["service"] != name {
			return fmt.Errorf("configuration logged under service %v, want %s", rec["service"], name)
		}
		return nil
	}
	return errors.New("no JSON log line with a \"config\" attribute")
}

func httpStatus(url string, want int) error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("GET %s: %d, want %d", url, resp.StatusCode, want)
	}
	return nil
}

// grpcAnswers calls the standard health service of binary name at addr,
// as the operator over mutual TLS (the gateway's public listener in
// plaintext): any answer (SERVING or not: neighbours are absent) proves the
// gRPC listener and server run.
func grpcAnswers(ctx context.Context, meshDir, name, addr string) error {
	creds := insecure.NewCredentials()
	if name != launcher.Gateway {
		var err error
		if creds, err = launcher.OperatorCredentials(meshDir, name); err != nil {
			return err
		}
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", loopback(port))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
