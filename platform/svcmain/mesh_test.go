package svcmain

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/transload/transload/platform/config"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/grpcserver"
	"github.com/transload/transload/platform/grpcserver/grpcservertest"
	"github.com/transload/transload/platform/meshtls"
)

// Like the other tests calling Start, these do not run in parallel.

func TestMeshTLSDirWiresServersAndClients(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mesh")
	if err := meshtls.EnsureMesh(dir, []string{"order", "inventory"}, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	// "order" serves a table that lets order (itself) call Get only.
	rt := start(t, map[string]string{"MESH_TLS_DIR": dir}, io.Discard, &serviceConfig{})
	if rt.MeshIdentity() == nil || rt.MeshIdentity().Service != "order" {
		t.Fatalf("MeshIdentity = %v, want order's", rt.MeshIdentity())
	}
	srv, err := rt.NewServer(grpcserver.WithAddr("127.0.0.1:0"), grpcserver.WithAdminAddr("127.0.0.1:0"),
		rt.Mesh(grpcserver.Callers{grpcservertest.MethodGet: {"order"}}))
	if err != nil {
		t.Fatal(err)
	}
	grpcservertest.Register(srv, &grpcservertest.Probe{})
	go func() { _ = srv.Run(t.Context()) }()

	// rt's client options dial with order's certificate and expect order.
	conn, err := grpcclient.Dial(srv.Addr().String(), append(rt.ClientOptions(), grpcclient.WithDependency("order"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := grpcservertest.NewClient(conn)
	if _, err := c.Get(t.Context(), "x"); err != nil {
		t.Fatalf("Get over mesh TLS: %v", err)
	}
	if _, err := c.Create(t.Context(), "x"); status.Code(err) != codes.PermissionDenied {
		t.Errorf("Create, not in the table: %v, want PERMISSION_DENIED", err)
	}
	// The same client options expecting inventory refuse order's server.
	wrong, err := grpcclient.Dial(srv.Addr().String(), append(rt.ClientOptions(), grpcclient.WithDependency("inventory"), grpcclient.WithoutBreaker())...)
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	if _, err := grpcservertest.NewClient(wrong).Get(t.Context(), "x"); status.Code(err) != codes.Unavailable {
		t.Errorf("client expecting inventory: %v, want UNAVAILABLE", err)
	}
}

func TestWithoutMeshTLSDirServersStayPlaintext(t *testing.T) {
	rt := start(t, map[string]string{"MESH_PLAINTEXT": "true"}, io.Discard, &serviceConfig{})
	if rt.MeshIdentity() != nil {
		t.Fatal("MeshIdentity without MESH_TLS_DIR")
	}
	srv, err := rt.NewServer(grpcserver.WithAddr("127.0.0.1:0"), grpcserver.WithAdminAddr("127.0.0.1:0"),
		rt.Mesh(grpcserver.Callers{}))
	if err != nil {
		t.Fatal(err)
	}
	grpcservertest.Register(srv, &grpcservertest.Probe{})
	go func() { _ = srv.Run(t.Context()) }()
	conn, err := grpcclient.Dial(srv.Addr().String(), rt.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// An empty table would refuse everything if it were installed.
	if _, err := grpcservertest.NewClient(conn).Get(t.Context(), "x"); err != nil {
		t.Fatalf("plaintext Get: %v", err)
	}
}

// TestMeshSettingErrors runs as a binary does: without MESH_TLS_DIR or
// MESH_PLAINTEXT=true, Start refuses (ErrMeshModeUnset).
func TestMeshSettingErrors(t *testing.T) {
	meshModeRequired = true
	t.Cleanup(func() { meshModeRequired = false })
	dir := filepath.Join(t.TempDir(), "mesh")
	if err := meshtls.EnsureMesh(dir, []string{"inventory"}, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"both set", map[string]string{"MESH_TLS_DIR": dir, "MESH_PLAINTEXT": "true"}, "MESH_PLAINTEXT"},
		{"no certificate for this binary", map[string]string{"MESH_TLS_DIR": dir}, "MESH_TLS_DIR"},
		{"missing folder", map[string]string{"MESH_TLS_DIR": filepath.Join(dir, "nope")}, "MESH_TLS_DIR"},
		{"neither set", map[string]string{}, "MESH_TLS_DIR"},
		{"plaintext flag false", map[string]string{"MESH_PLAINTEXT": "false"}, "MESH_TLS_DIR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			rt, err := Start(t.Context(), "order", func(k string) string { return tc.env[k] }, &out, &serviceConfig{})
			var fe *config.FieldError
			if rt != nil || !errors.As(err, &fe) || fe.Var != tc.want {
				t.Fatalf("Start = %v, %v; want a *config.FieldError for %s", rt, err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("logged before failing: %s", out.String())
			}
			if len(tc.env) == 0 && (!errors.Is(err, ErrMeshModeUnset) || !strings.Contains(err.Error(), "MESH_PLAINTEXT=true")) {
				t.Errorf("neither set: %v, want ErrMeshModeUnset naming both variables", err)
			}
		})
	}
}
