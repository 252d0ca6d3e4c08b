// Package meshtls_test starts the mesh with mutual TLS between its
// processes (the launcher's default, issue #14) and checks that the
// storefront flow works through it and that the internal gRPC ports admit
// only mesh members, each only to the methods its callers table opens;
// and that the explicit development flag (TRANSLOAD_MESH_PLAINTEXT=1)
// gives a plaintext mesh.
package meshtls_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/transload/transload/deploy/local/launcher"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/meshtls"
	"github.com/transload/transload/platform/testharness/wait"
)

func TestMeshTLSDeliversAnOrderAndAdmitsOnlyMembers(t *testing.T) {
	work := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	bin := filepath.Join(work, "bin")
	if err := launcher.BuildMesh(ctx, bin); err != nil {
		t.Fatalf("build: %v", err)
	}
	data := filepath.Join(work, "data")
	// No switch: mutual TLS is the default, even when the developer's
	// shell asks for plaintext (Config.Env wins over it).
	m, err := launcher.Start(ctx, launcher.Config{
		BinDir: bin, DataDir: data, FreePorts: true,
		Env:      []string{launcher.MeshPlaintextEnv + "=0"},
		ExtraEnv: map[string][]string{launcher.WMSSim: {"WMSSIM_STEP=150ms"}},
	})
	if err != nil {
		t.Fatalf("start the mesh with mutual TLS: %v (logs in %s)", err, filepath.Join(data, "logs"))
	}
	t.Cleanup(m.Stop)
	if !m.MeshTLS() {
		t.Fatal("the launcher's default mesh is not mutual TLS")
	}

	// A storefront order through REST reaches DELIVERED: the gateway, order,
	// catalog-pricing, inventory, the ERP, fulfillment and the WMS talk over
	// mutual TLS, each call admitted by its callee's table.
	base := "http://" + m.Proc(launcher.Gateway).HTTPAddr
	// The gateway's own hops: a quote (catalog-pricing, which the gateway
	// names "catalog") and an availability check (inventory).
	lines := []map[string]any{{"sku": "SKU-00021", "quantity": 1}}
	if q := rest(t, http.MethodPost, base+"/v1/prices:quote", "", map[string]any{
		"customerId": "C0001", "currencyCode": "EUR", "lines": lines,
	}); q["lines"] == nil {
		t.Fatalf("quote over mutual TLS: %v", q)
	}
	if a := rest(t, http.MethodPost, base+"/v1/availability:check", "", map[string]any{
		"customerId": "C0001", "currencyCode": "EUR", "lines": lines,
		"shipTo": map[string]any{"regionCode": "DE", "postalCode": "20457"},
	}); len(a) == 0 {
		t.Fatalf("availability over mutual TLS: %v", a)
	}
	order := rest(t, http.MethodPost, base+"/v1/orders", "e2e-meshtls-1", map[string]any{
		"customerId": "C0001", "currencyCode": "EUR",
		"shipTo": map[string]any{
			"recipient": "Demo GmbH", "lines": []string{"Hafenstr. 1"},
			"locality": "Hamburg", "postalCode": "20457", "regionCode": "DE",
		},
		"lines": lines,
	})
	name, _ := order["name"].(string)
	if name == "" {
		t.Fatalf("create order answered %v", order)
	}
	wait.Eventually(t, 90*time.Second, "order delivered over mutual TLS", func() error {
		got := rest(t, http.MethodGet, base+"/v1/"+name, "", nil)
		return wait.Check(got["state"] == "STATE_DELIVERED", "state %v", got["state"])
	})

	// Every internal port refuses a plaintext client before any handler.
	for _, p := range launcher.StartOrder {
		if p == launcher.NATS || p == launcher.Gateway {
			continue
		}
		conn, err := grpc.NewClient(m.Proc(p).GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{})
		ccancel()
		conn.Close()
		if status.Code(err) != codes.Unavailable {
			t.Errorf("%s: plaintext health check answered %v, want UNAVAILABLE (refused handshake)", p, err)
		}
	}
	// The gateway's own gRPC listener is the public storefront API: still
	// plaintext, behind API keys.
	gw, err := grpc.NewClient(m.Proc(launcher.Gateway).GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	if _, err := healthpb.NewHealthClient(gw).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("gateway's public gRPC listener: %v", err)
	}

	// A member's certificate is admitted, and its table decides: the
	// gateway may not reserve stock; the operator (the identity every tool
	// dials with, launcher.Mesh.Dial) may read it but not reserve it.
	inventory := m.Proc(launcher.Inventory).GRPCAddr
	asGateway := inventoryv1.NewInventoryServiceClient(dialAs(t, data, launcher.Gateway, inventory))
	_, err = asGateway.ReserveStock(ctx, &inventoryv1.ReserveStockRequest{})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("gateway ReserveStock: %v, want PERMISSION_DENIED", err)
	}
	opConn, err := m.Dial(launcher.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	defer opConn.Close()
	asOperator := inventoryv1.NewInventoryServiceClient(opConn)
	if _, err := asOperator.ListWarehouses(ctx, &inventoryv1.ListWarehousesRequest{}); err != nil {
		t.Errorf("operator ListWarehouses: %v", err)
	}
	if _, err := asOperator.ReserveStock(ctx, &inventoryv1.ReserveStockRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("operator ReserveStock: %v, want PERMISSION_DENIED", err)
	}
	// The operator's credentials expect the callee's identity: dialling
	// order's port as if it were inventory fails the handshake.
	wrong, err := m.DialOptions(launcher.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	wconn, err := grpc.NewClient(m.Proc(launcher.Order).GRPCAddr, wrong...)
	if err != nil {
		t.Fatal(err)
	}
	defer wconn.Close()
	if _, err := healthpb.NewHealthClient(wconn).Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("order's port dialled as inventory: %v, want UNAVAILABLE", err)
	}

	// The explicit development flag gives a plaintext mesh, which a
	// plaintext client reaches (and Mesh.Dial follows).
	pdata := filepath.Join(work, "plain")
	pm, err := launcher.Start(ctx, launcher.Config{
		BinDir: bin, DataDir: pdata, FreePorts: true,
		Env: []string{launcher.MeshPlaintextEnv + "=1"},
	})
	if err != nil {
		t.Fatalf("start the mesh with the plaintext flag: %v (logs in %s)", err, filepath.Join(pdata, "logs"))
	}
	t.Cleanup(pm.Stop)
	if pm.MeshTLS() || pm.MeshDir() != "" {
		t.Errorf("plaintext mesh: MeshTLS() = %v, MeshDir() = %q", pm.MeshTLS(), pm.MeshDir())
	}
	plain, err := grpc.NewClient(pm.Proc(launcher.Inventory).GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := inventoryv1.NewInventoryServiceClient(plain).ListWarehouses(ctx, &inventoryv1.ListWarehousesRequest{}); err != nil {
		t.Errorf("plaintext mesh, plaintext client: %v", err)
	}

	// A binary started with neither MESH_TLS_DIR nor MESH_PLAINTEXT=true
	// (a deployment that forgot its certificates) refuses to start and
	// names both variables, instead of serving plaintext.
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "inventory"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=sqlite://" + filepath.Join(work, "refused.db")}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "MESH_TLS_DIR") || !strings.Contains(string(out), "MESH_PLAINTEXT=true") {
		t.Errorf("inventory without a mesh mode: err %v, output %s; want a refusal naming MESH_TLS_DIR and MESH_PLAINTEXT=true", err, out)
	}
	viaDial, err := pm.Dial(launcher.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	defer viaDial.Close()
	if _, err := inventoryv1.NewInventoryServiceClient(viaDial).ListWarehouses(ctx, &inventoryv1.ListWarehousesRequest{}); err != nil {
		t.Errorf("plaintext mesh through Mesh.Dial: %v", err)
	}
}

// dialAs connects to inventory's address with member's certificate.
func dialAs(t *testing.T, data, member, addr string) *grpc.ClientConn {
	t.Helper()
	mm, err := meshtls.LoadMember(launcher.MeshDir(data), member)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpcclient.Dial(addr, grpcclient.WithMeshTLS(mm), grpcclient.WithDependency(launcher.Inventory), grpcclient.WithoutBreaker())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// rest calls the storefront REST API with the demo key and decodes the
// JSON answer; a non-200 answer fails the test.
func rest(t *testing.T, method, url, idem string, body any) map[string]any {
	t.Helper()
	var in bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&in).Encode(body); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, &in)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+launcher.DemoAPIKey)
	req.Header.Set("Content-Type", "application/json")
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %v %v", method, url, resp.StatusCode, out, err)
	}
	return out
}
