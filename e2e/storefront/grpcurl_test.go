package storefront

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/transload/transload/deploy/local/launcher"
)

// The README's gRPC recipes, verbatim: they name `make run`'s addresses
// (every binary's gRPC port serves reflection there, GRPC_REFLECTION=true),
// and the test runs them against the mesh's addresses instead.

// cliRecipe is one command line the README shows and what its output
// must say.
type cliRecipe struct {
	name string
	// cmd is the command as the README prints it: words separated by
	// spaces, single quotes around a word that holds spaces.
	cmd string
	// wantExit is the exit status: 0, or the tool's status for a failed
	// call (grpcurl: 64 + the gRPC code; buf curl: 8 times the code).
	wantExit int
	// want are substrings of stdout and stderr together.
	want []string
	// wantNot must not appear (e.g. details left as raw bytes).
	wantNot []string
}

// Payloads of the recipes, as the REST examples send them.
const (
	availabilityJSON = `{"customerId":"C0001","currencyCode":"EUR","shipTo":{"regionCode":"DE","postalCode":"20457"},"lines":[{"sku":"SKU-00001","quantity":2}]}`
	missingOrderJSON = `{"name":"orders/does-not-exist"}`
)

var grpcurlRecipes = []cliRecipe{
	{
		name: "list the gateway's services",
		cmd:  `grpcurl -plaintext 127.0.0.1:9007 list`,
		want: []string{"transload.storefront.v1.StorefrontService\n", "transload.ops.v1.OpsService\n", "grpc.health.v1.Health\n"},
	},
	{
		name: "describe the storefront service",
		cmd:  `grpcurl -plaintext 127.0.0.1:9007 describe transload.storefront.v1.StorefrontService`,
		want: []string{"transload.storefront.v1.StorefrontService is a service:",
			"rpc CheckAvailability ( .transload.storefront.v1.CheckAvailabilityRequest ) returns ( .transload.storefront.v1.CheckAvailabilityResponse )"},
	},
	{
		name: "describe an error detail type",
		cmd:  `grpcurl -plaintext 127.0.0.1:9007 describe google.rpc.ErrorInfo`,
		want: []string{"google.rpc.ErrorInfo is a message:", "string reason = 1;"},
	},
	{
		name: "check availability with the API key in metadata",
		cmd:  `grpcurl -plaintext -H 'authorization: Bearer demo-web-key' -d '` + availabilityJSON + `' 127.0.0.1:9007 transload.storefront.v1.StorefrontService/CheckAvailability`,
		want: []string{`"sku": "SKU-00001"`, `"requestedQuantity": "2"`, `"availableQuantity": "`},
	},
	{
		name:     "a failed call prints its error details decoded",
		cmd:      `grpcurl -plaintext -H 'authorization: Bearer demo-web-key' -d '` + missingOrderJSON + `' 127.0.0.1:9007 transload.storefront.v1.StorefrontService/GetOrder`,
		wantExit: 64 + 5, // NotFound
		want: []string{"Code: NotFound", `"@type": "type.googleapis.com/google.rpc.ErrorInfo"`,
			`"reason": "ERROR_REASON_NOT_FOUND"`, `"domain": "transload.dev"`},
		wantNot: []string{`"value":`, "failed to"},
	},
	{
		name:     "without a key the call is refused",
		cmd:      `grpcurl -plaintext -d '` + availabilityJSON + `' 127.0.0.1:9007 transload.storefront.v1.StorefrontService/CheckAvailability`,
		wantExit: 64 + 16, // Unauthenticated
		want:     []string{"Code: Unauthenticated", `"@type": "type.googleapis.com/google.rpc.ErrorInfo"`},
		wantNot:  []string{`"value":`},
	},
	{
		name: "list a process service's port",
		cmd:  `grpcurl ` + operatorTLS + ` 127.0.0.1:9005 list`,
		want: []string{"transload.order.v1.OrderService\n", "grpc.health.v1.Health\n"},
	},
	{
		name: "check a process service's health",
		cmd:  `grpcurl ` + operatorTLS + ` -d '{"service":"transload.inventory.v1.InventoryService"}' 127.0.0.1:9004 grpc.health.v1.Health/Check`,
		want: []string{`"status": "SERVING"`},
	},
}

// operatorTLS are grpcurl's flags for an internal port of `make run`:
// mutual TLS as the operator identity the launcher issues under
// .data/mesh (runRecipe points them at the test mesh's folder).
const operatorTLS = `-cacert .data/mesh/ca.pem -cert .data/mesh/operator.pem -key .data/mesh/operator-key.pem`

// servicesByPort is what reflection lists on each `make run` gRPC port
// (besides grpc.health.v1.Health and the reflection services), the
// README's table.
var servicesByPort = []struct {
	port     int
	services []string
}{
	{9001, []string{"transload.erp.v1.ErpAdapterService"}},
	{9002, []string{"transload.wms.v1.WmsAdapterService"}},
	{9003, []string{"transload.catalog.v1.CatalogService", "transload.catalog.v1.PricingService"}},
	{9004, []string{"transload.inventory.v1.InventoryService"}},
	{9005, []string{"transload.order.v1.OrderService"}},
	{9006, []string{"transload.fulfillment.v1.FulfillmentService"}},
	{9007, []string{"transload.ops.v1.OpsService", "transload.storefront.v1.StorefrontService"}},
	{9008, []string{"transload.ops.v1.OpsService"}},
	{9009, []string{"transload.notify.v1.NotificationService"}},
}

var bufCurlRecipes = []cliRecipe{
	{
		name: "list the gateway's methods",
		cmd:  `buf curl --protocol grpc --http2-prior-knowledge --list-methods http://127.0.0.1:9007`,
		want: []string{"transload.storefront.v1.StorefrontService/CheckAvailability\n", "transload.ops.v1.OpsService/"},
	},
	{
		name: "check availability with the API key in a header",
		cmd:  `buf curl --protocol grpc --http2-prior-knowledge -H 'authorization: Bearer demo-web-key' -d '` + availabilityJSON + `' http://127.0.0.1:9007/transload.storefront.v1.StorefrontService/CheckAvailability`,
		want: []string{`"sku": "SKU-00001"`, `"requestedQuantity": "2"`, `"availableQuantity": "`},
	},
	{
		// buf curl decodes error details only of types linked into buf
		// itself (not google.rpc's), so it prints them as type and base64
		// value: use grpcurl to read them.
		name:     "a failed call prints its status and error detail types",
		cmd:      `buf curl --protocol grpc --http2-prior-knowledge -H 'authorization: Bearer demo-web-key' -d '` + missingOrderJSON + `' http://127.0.0.1:9007/transload.storefront.v1.StorefrontService/GetOrder`,
		wantExit: 5 * 8, // NotFound; buf exits with 8 times the code
		want:     []string{`"code": "not_found"`, `"message": "order not found"`, `"type": "google.rpc.ErrorInfo"`},
	},
	{
		name: "list an internal port's methods as the operator",
		cmd:  `buf curl --protocol grpc --cacert .data/mesh/ca.pem --cert .data/mesh/operator.pem --key .data/mesh/operator-key.pem --list-methods https://127.0.0.1:9005`,
		want: []string{"transload.order.v1.OrderService/GetOrder\n"},
	},
}

func TestGrpcurlRecipes(t *testing.T) {
	t.Run("grpcurl", func(t *testing.T) { runRecipes(t, grpcurlRecipes) })
	t.Run("buf curl", func(t *testing.T) { runRecipes(t, bufCurlRecipes) })
	t.Run("every port", func(t *testing.T) {
		var recipes []cliRecipe
		for _, p := range servicesByPort {
			want := []string{"grpc.health.v1.Health\n", "grpc.reflection.v1.ServerReflection\n"}
			for _, s := range p.services {
				want = append(want, s+"\n")
			}
			flags := operatorTLS // internal ports: mutual TLS
			if p.port == launcher.DefaultBasePort+slices.Index(launcher.StartOrder, launcher.Gateway) {
				flags = "-plaintext" // the public storefront API
			}
			recipes = append(recipes, cliRecipe{
				name: fmt.Sprint(p.port),
				cmd:  fmt.Sprintf("grpcurl %s 127.0.0.1:%d list", flags, p.port),
				want: want,
			})
		}
		runRecipes(t, recipes)
	})
}

func runRecipes(t *testing.T, recipes []cliRecipe) {
	for _, rc := range recipes {
		t.Run(rc.name, func(t *testing.T) {
			out, code := runRecipe(t, rc.cmd)
			if code != rc.wantExit {
				t.Errorf("exit status %d, want %d", code, rc.wantExit)
			}
			for _, w := range rc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			for _, w := range rc.wantNot {
				if strings.Contains(out, w) {
					t.Errorf("output has %q", w)
				}
			}
			t.Logf("$ %s\n%s", rc.cmd, out)
		})
	}
}

// runRecipe runs cmd (its tool from the repository's bin/, its `make run`
// addresses replaced by the mesh's) and returns stdout and stderr together
// and the exit status.
func runRecipe(t *testing.T, cmd string) (string, int) {
	t.Helper()
	args, err := splitWords(meshAddrs().Replace(cmd))
	if err != nil {
		t.Fatalf("recipe %q: %v", cmd, err)
	}
	return runCommand(t, repoTool(t, args[0]), args[1:]...)
}

// runCommand runs path with args for at most a minute and returns its
// stdout and stderr together and its exit status; failing to start it or
// the timeout fails the test.
func runCommand(t *testing.T, path string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, path, args...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit) && ctx.Err() == nil:
		return out.String(), exit.ExitCode()
	}
	t.Fatalf("%s %q: %v\n%s", filepath.Base(path), args, err, out.String())
	return "", 0
}

// meshAddrs replaces each `make run` gRPC address (the port plan's) with
// the mesh's address of the same process, and make run's mesh folder
// with the mesh's.
func meshAddrs() *strings.Replacer {
	pairs := []string{".data/mesh/", mesh.MeshDir() + "/"}
	for i, name := range launcher.StartOrder {
		if name == launcher.NATS {
			continue
		}
		pairs = append(pairs, fmt.Sprintf("127.0.0.1:%d", launcher.DefaultBasePort+i), mesh.Proc(name).GRPCAddr)
	}
	return strings.NewReplacer(pairs...)
}

// repoTool returns the path of the tool `make tools` builds into bin/. A
// missing tool fails the test: the recipes are what the README promises.
func repoTool(t *testing.T, name string) string {
	t.Helper()
	root, err := launcher.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "bin", name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s: %v (run `make tools`)", name, err)
	}
	return path
}

// splitWords splits a command line as a POSIX shell would for the
// recipes' subset: words separated by spaces, single-quoted parts taken
// literally. An unterminated quote is an error.
func splitWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case quoted && r == '\'':
			quoted = false
		case quoted:
			w.WriteRune(r)
		case r == '\'':
			quoted, inWord = true, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if inWord {
		words = append(words, w.String())
	}
	if len(words) == 0 {
		return nil, errors.New("empty command")
	}
	return words, nil
}

func TestGrpcurlRecipeWords(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: `grpcurl -plaintext 127.0.0.1:9007 list`, want: []string{"grpcurl", "-plaintext", "127.0.0.1:9007", "list"}},
		{in: `a -H 'x: y' -d '{"k": "v w"}'  b`, want: []string{"a", "-H", "x: y", "-d", `{"k": "v w"}`, "b"}},
		{in: `a ''`, want: []string{"a", ""}},
		{in: `a 'b`, wantErr: true},
		{in: `  `, wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := splitWords(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestGoExample builds the Go example client (e2e/examples/grpcclient)
// and runs it as the README shows against the mesh's gateway: it checks
// availability and places an order; the same request id again returns
// the same order; an unknown SKU fails with its status and details.
func TestGoExample(t *testing.T) {
	root, err := launcher.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "grpcclient")
	build := exec.CommandContext(t.Context(), goTool, "build", "-o", bin, "./examples/grpcclient")
	build.Dir = filepath.Join(root, "e2e")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/grpcclient: %v\n%s", err, out)
	}
	gateway := mesh.Proc(launcher.Gateway).GRPCAddr
	example := func(args ...string) (string, int) {
		t.Helper()
		return runCommand(t, bin, append([]string{"-addr", gateway, "-key", launcher.DemoAPIKey}, args...)...)
	}

	first, code := example("-request-id", "e2e-go-example-1")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, first)
	}
	name := orderNameIn(first)
	if !strings.Contains(first, "availability: SKU-00001 requested 2, available ") || name == "" {
		t.Fatalf("output lacks availability or the order:\n%s", first)
	}
	again, code := example("-request-id", "e2e-go-example-1")
	if code != 0 || orderNameIn(again) != name {
		t.Errorf("retry with the same request id: exit %d, order %q, want %q:\n%s", code, orderNameIn(again), name, again)
	}
	if got := call(t, "GET", "/v1/"+name, launcher.DemoAPIKey, nil); got.Status != 200 || got.str("customerId") != "C0001" {
		t.Errorf("GET /v1/%s: %d %s", name, got.Status, got.Raw)
	}

	bad, code := example("-sku", "SKU-99999", "-request-id", "e2e-go-example-bad")
	for _, want := range []string{
		"availability: SKU-99999 requested 2, available 0, unit price - (LINE_ISSUE_UNKNOWN_SKU)",
		"CreateOrder: rpc error: code = InvalidArgument",
		"reason ERROR_REASON_UNKNOWN_SKU",
		"violation order.lines[0].sku: ",
	} {
		if !strings.Contains(bad, want) {
			t.Errorf("unknown SKU: output lacks %q", want)
		}
	}
	if code != 1 {
		t.Errorf("unknown SKU: exit %d, want 1", code)
	}
	if t.Failed() {
		t.Logf("output:\n%s", bad)
	}
}

// orderNameIn returns the order name the example printed ("order:
// orders/... "), "" if none.
func orderNameIn(out string) string {
	for line := range strings.Lines(out) {
		if rest, ok := strings.CutPrefix(line, "order: "); ok {
			name, _, _ := strings.Cut(rest, " ")
			return name
		}
	}
	return ""
}

// TestREADMERecipesAreTested keeps the README honest: every grpcurl and
// buf curl command it shows in a code block is one of the recipes above,
// which TestGrpcurlRecipes runs against the mesh, so a README recipe that
// stops working, or one edited without its test, fails here.
func TestREADMERecipesAreTested(t *testing.T) {
	root, err := launcher.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	tested := map[string]bool{}
	for _, rc := range append(slices.Clone(grpcurlRecipes), bufCurlRecipes...) {
		tested[rc.cmd] = true
	}
	shown, inBlock := 0, false
	for line := range strings.Lines(string(readme)) {
		line = strings.TrimRight(line, "\n")
		if strings.HasPrefix(line, "```") {
			inBlock = !inBlock
			continue
		}
		cmd := strings.TrimPrefix(line, "$ ")
		isRecipe := strings.HasPrefix(cmd, "grpcurl ") || strings.HasPrefix(cmd, "buf curl ")
		if !inBlock || !isRecipe {
			continue
		}
		shown++
		if !tested[cmd] {
			t.Errorf("README shows a recipe no test runs (add it to grpcurlRecipes or bufCurlRecipes):\n%s", cmd)
		}
	}
	if shown < len(grpcurlRecipes)/2 {
		t.Errorf("found only %d grpcurl/buf curl commands in README.md's code blocks; did the section move?", shown)
	}
}
