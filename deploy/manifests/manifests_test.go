package manifests

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// root is the repository root, seen from this package's folder.
const root = "../.."

var loadRepo = sync.OnceValues(func() (*Repo, error) { return LoadRepo(root) })

func repo(t *testing.T) *Repo {
	t.Helper()
	r, err := loadRepo()
	if err != nil {
		t.Fatalf("LoadRepo: %v", err)
	}
	return r
}

// built returns the binaries the repository's Dockerfile builds.
func built(t *testing.T) []string {
	t.Helper()
	d, err := ParseDockerfile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return d.Binaries()
}

// wantErrs fails unless err mentions every fragment.
func wantErrs(t *testing.T, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want errors mentioning %q", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error does not mention %q:\n%v", f, err)
		}
	}
}

// TestRepoReadsBinariesFromSource pins what the source derivation finds,
// so a change in how the services read their configuration (a moved
// config package, a new embedding) cannot empty the sets the manifest
// checks compare against and let every variable through.
func TestRepoReadsBinariesFromSource(t *testing.T) {
	t.Parallel()
	r := repo(t)
	for _, name := range []string{"erpsim", "wmssim", "catalog-pricing", "inventory", "order", "fulfillment", "ops", "gateway", "transload-nats", "transload-run"} {
		if _, ok := r.Binaries[name]; !ok {
			t.Errorf("binary %s not found (have %v)", name, r.BinaryNames())
		}
	}
	order := r.Binaries["order"]
	// Its own field, svcmain.Base, svcmain.Database, tracing.Settings
	// nested in Base.
	for _, v := range []string{"ORDER_QUEUE_CONCURRENCY", "ERP_ADDR", "GRPC_ADDR", "ADMIN_ADDR", "DATABASE_URL", "LOG_LEVEL", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if !order.Reads(v) {
			t.Errorf("order does not read %s according to the source walk", v)
		}
	}
	for _, v := range []string{"REDIS_ADDR", "HTTP_ADDR", "API_KEYS"} {
		if order.Reads(v) {
			t.Errorf("order reads %s according to the source walk; its configuration has no such field", v)
		}
	}
	if order.GRPCPort != 9005 || order.AdminPort != 9105 {
		t.Errorf("order ports %d/%d, want 9005/9105 (port plan)", order.GRPCPort, order.AdminPort)
	}
	gw := r.Binaries["gateway"]
	if !gw.Reads("REDIS_ADDR") || !gw.Reads("API_KEYS") || gw.Reads("DATABASE_URL") {
		t.Errorf("gateway: REDIS_ADDR %v API_KEYS %v DATABASE_URL %v; want true true false",
			gw.Reads("REDIS_ADDR"), gw.Reads("API_KEYS"), gw.Reads("DATABASE_URL"))
	}
	if p, ok := gw.ListenPort("HTTP_ADDR"); !ok || p != 8080 {
		t.Errorf("gateway HTTP_ADDR port %d %v, want 8080 from its default", p, ok)
	}
	if nats := r.Binaries["transload-nats"]; !nats.Reads("NATS_STORE_DIR") {
		t.Errorf("transload-nats (Config in its main package) does not read NATS_STORE_DIR")
	}
	if run := r.Binaries["transload-run"]; len(run.Env) != 0 {
		t.Errorf("transload-run reads flags only, got env %v", run.Env)
	}
}

func TestDockerfileBuildsEveryBinary(t *testing.T) {
	t.Parallel()
	d, err := ParseDockerfile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckDockerfile(d, repo(t)); err != nil {
		t.Fatal(err)
	}
}

func TestDockerfileCheckFailsOnMissingBinary(t *testing.T) {
	t.Parallel()
	d, err := ParseDockerfile("testdata/Dockerfile.missing")
	if err != nil {
		t.Fatal(err)
	}
	wantErrs(t, CheckDockerfile(d, repo(t)),
		"does not build inventory",
		"builds gateway from ./services/order/cmd/gateway")
}

func TestComposeFile(t *testing.T) {
	t.Parallel()
	c, err := ParseCompose(filepath.Join(root, "deploy", "compose", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckCompose(c, repo(t), built(t)); err != nil {
		t.Fatal(err)
	}
	// The mesh and the stores the issue names are all there.
	for _, s := range []string{"postgres", "nats-1", "nats-2", "nats-3", "redis", "gateway", "order", "inventory"} {
		if _, ok := c.Services[s]; !ok {
			t.Errorf("compose has no service %s", s)
		}
	}
	// The anchors resolved: order got the shared NATS cluster URLs.
	if got := c.Services["order"].Environment["NATS_URL"]; strings.Count(got, "nats://") != 3 {
		t.Errorf("order NATS_URL %q: want the three nodes", got)
	}
}

func TestComposeCheckFailsOnBrokenFile(t *testing.T) {
	t.Parallel()
	c, err := ParseCompose("testdata/compose-broken.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wantErrs(t, CheckCompose(c, repo(t), built(t)),
		"order depends on postgres, which is not a service",
		"sets ORDER_QUEUE_WORKERS, which order does not read",
		`GRPC_ADDR="0.0.0.0:9015": order listens on 9005`,
		`ADMIN_ADDR="127.0.0.1:9105" listens on loopback`,
		`INVENTORY_ADDR: host "inventory" is not a service`,
		`does not set ERP_ADDR: order's default "127.0.0.1:9001" is loopback`,
		`command "/usr/local/bin/stock" is not a binary the Dockerfile builds`,
		`cache runs image "memcached:1"`)
}

func TestOverlays(t *testing.T) {
	t.Parallel()
	for _, overlay := range []string{"dev", "prod"} {
		t.Run(overlay, func(t *testing.T) {
			t.Parallel()
			r, err := Render(filepath.Join(root, "deploy", "kubernetes", "overlays", overlay))
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckRendered(r, repo(t), built(t)); err != nil {
				t.Fatal(err)
			}
			// Every binary of the port plan runs in the overlay.
			var running []string
			for _, d := range r.Deployments {
				running = append(running, d.Name)
			}
			for _, name := range repo(t).BinaryNames() {
				if repo(t).Binaries[name].GRPCPort != 0 && !slices.Contains(running, name) {
					t.Errorf("%s: no Deployment runs %s", overlay, name)
				}
			}
			switch overlay {
			case "dev":
				for _, d := range r.Deployments {
					if *d.Spec.Replicas != 1 {
						t.Errorf("dev: %s has %d replicas, want 1", d.Name, *d.Spec.Replicas)
					}
				}
			case "prod":
				if err := CheckProduction(r, repo(t)); err != nil {
					t.Error(err)
				}
				if len(r.PDBs) == 0 || len(r.Policies) == 0 {
					t.Errorf("prod: %d PodDisruptionBudgets, %d NetworkPolicies; want both", len(r.PDBs), len(r.Policies))
				}
				for _, d := range r.Deployments {
					if slices.Contains([]string{"order", "inventory", "catalog-pricing", "fulfillment", "gateway"}, d.Name) && *d.Spec.Replicas < 2 {
						t.Errorf("prod: %s has %d replicas, want at least 2", d.Name, *d.Spec.Replicas)
					}
					for _, c := range d.Spec.Template.Spec.Containers {
						if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
							t.Errorf("prod: %s/%s has no CPU request or memory limit", d.Name, c.Name)
						}
					}
				}
			}
		})
	}
}

func TestRenderFailsOnUnknownField(t *testing.T) {
	t.Parallel()
	_, err := Render("testdata/unknown-field")
	wantErrs(t, err, "strict decode", `unknown field "spec.template.spec.containers[0].envv"`)
}

func TestOverlayCheckFailsOnBrokenProd(t *testing.T) {
	t.Parallel()
	r, err := Render("testdata/broken-prod")
	if err != nil {
		t.Fatal(err)
	}
	wantErrs(t, CheckRendered(r, repo(t), built(t)),
		"Deployment/order container order: sets ORDER_ADDRESS, which order does not read",
		`Deployment/inventory container inventory: GRPC_ADDR="0.0.0.0:9999": inventory listens on 9004`,
		"Deployment/gateway container gateway: readiness probe GET /readyz on port http; want /readyz on the admin port 9107",
		`WMS_ADDR: host "wms" is not a service`,
		"NetworkPolicies deny Deployment/catalog-pricing -> Deployment/erpsim:9001 (documented by ERP_ADDR of Deployment/catalog-pricing): allow it out of the caller",
		"NetworkPolicies deny Deployment/order -> Deployment/catalog-pricing:9003 (documented by CATALOG_ADDR of Deployment/order): allow it into the callee",
		"NetworkPolicy/wmssim-to-order lets Deployment/wmssim into Deployment/order:9005, a call no variable of Deployment/wmssim documents")
	wantErrs(t, CheckProduction(r, repo(t)),
		`Deployment/notify sets WEBHOOK_ALLOW_LOCAL_TARGETS="true": a development switch`,
		"Deployment/wmssim: DATABASE_URL must come from a Secret",
		`Deployment/ops sets MESH_PLAINTEXT="true": a development switch`,
		"Deployment/erpsim: MESH_TLS_DIR is not set")
}

func TestOverlayCheckFailsOnBrokenDev(t *testing.T) {
	t.Parallel()
	r, err := Render("testdata/broken-dev")
	if err != nil {
		t.Fatal(err)
	}
	wantErrs(t, CheckRendered(r, repo(t), built(t)),
		"Deployment/order volume data: no PersistentVolumeClaim orders-data",
		"Deployment/order: 2 replicas on SQLite (sqlite:///data/order.db): one writer per database file, so one replica")
}
