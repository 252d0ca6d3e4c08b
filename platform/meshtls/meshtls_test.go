package meshtls

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func TestEnsureCACreatesOnceThenLoads(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "mesh")
	ca, created, err := EnsureCA(dir, now, 24*time.Hour)
	if err != nil || !created {
		t.Fatalf("first EnsureCA: created=%v err=%v", created, err)
	}
	st, err := os.Stat(filepath.Join(dir, CAKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("CA key file: %v mode %v, want 0600", err, st.Mode().Perm())
	}
	again, created, err := EnsureCA(dir, now, 24*time.Hour)
	if err != nil || created || !bytes.Equal(again.Cert.Raw, ca.Cert.Raw) {
		t.Fatalf("second EnsureCA: created=%v err=%v, want the same CA loaded", created, err)
	}
	if _, err := LoadCA(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadCA of an empty folder: %v, want ErrNotExist", err)
	}
}

func TestIssuedCertificateCarriesTheServiceIdentity(t *testing.T) {
	t.Parallel()
	ca, err := NewCA(now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue("order", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	opts := x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := leaf.Verify(opts); err != nil {
		t.Fatalf("verify against the mesh CA: %v", err)
	}
	if id, err := Identity(leaf); err != nil || id != "order" {
		t.Errorf("Identity = %q, %v; want order", id, err)
	}
	other, _ := NewCA(now, 24*time.Hour)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: other.Pool(), CurrentTime: now}); err == nil {
		t.Error("a certificate of one mesh verifies against another mesh's CA")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: now.Add(2 * time.Hour)}); err == nil {
		t.Error("an expired certificate verifies")
	}
	for _, bad := range []string{"", "Order", "../order", "order/x"} {
		if _, _, err := ca.Issue(bad, now, time.Hour); err == nil {
			t.Errorf("Issue(%q) succeeded", bad)
		}
	}
}

// meshPair writes the CA and the certificates of services into a folder
// and returns it with the CA.
func meshPair(t *testing.T, services ...string) (string, *CA) {
	t.Helper()
	dir := t.TempDir()
	ca, _, err := EnsureCA(dir, time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range services {
		if err := ca.WriteServiceCert(dir, s, time.Now(), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	return dir, ca
}

func reloader(t *testing.T, dir, service string) *Reloader {
	t.Helper()
	r, err := NewReloader(filepath.Join(dir, CertFile(service)), filepath.Join(dir, KeyFile(service)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// handshake runs one mutual TLS handshake over a pipe and returns the
// identity the server saw and each side's error.
func handshake(t *testing.T, server, client *tls.Config) (peer string, serr, cerr error) {
	t.Helper()
	// Loopback TCP, not net.Pipe: TLS alerts need a buffered transport.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	b, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	_ = a.SetDeadline(deadline)
	_ = b.SetDeadline(deadline)
	done := make(chan error, 1)
	srv := tls.Server(a, server)
	go func() {
		defer a.Close() // a refused client's write or read ends too
		err := srv.Handshake()
		if err == nil {
			_, err = io.ReadFull(srv, make([]byte, 1)) // the client's byte: its side finished too
		}
		if err == nil {
			_, err = srv.Write([]byte{1})
		}
		done <- err
	}()
	cl := tls.Client(b, client)
	cerr = cl.Handshake()
	if cerr == nil {
		// In TLS 1.3 the client finishes before the server has checked
		// its certificate: a refusal shows on the first exchange.
		if _, cerr = cl.Write([]byte{1}); cerr == nil {
			_, cerr = io.ReadFull(cl, make([]byte, 1))
		}
	}
	b.Close()
	serr = <-done
	if serr == nil {
		peer, serr = Identity(srv.ConnectionState().PeerCertificates[0])
	}
	return peer, serr, cerr
}

func TestMutualTLSBetweenMeshMembers(t *testing.T) {
	t.Parallel()
	dir, ca := meshPair(t, "inventory", "order")
	server := ServerConfig(reloader(t, dir, "inventory"), ca.Pool())

	peer, serr, cerr := handshake(t, server, ClientConfig(reloader(t, dir, "order"), ca.Pool(), "inventory"))
	if serr != nil || cerr != nil || peer != "order" {
		t.Fatalf("order -> inventory: peer %q, server %v, client %v; want the server to see order", peer, serr, cerr)
	}

	// A client without a certificate, one from another mesh, and a client
	// that expects another service behind the address are all refused.
	noCert := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: ca.Pool(), ServerName: "inventory"}
	if _, serr, _ := handshake(t, server, noCert); serr == nil {
		t.Error("a client without a certificate was accepted")
	}
	strangerDir, strangerCA := meshPair(t, "order")
	stranger := ClientConfig(reloader(t, strangerDir, "order"), strangerCA.Pool(), "inventory")
	if _, serr, cerr := handshake(t, server, stranger); serr == nil || cerr == nil {
		t.Errorf("a client of another mesh: server %v, client %v; want both to fail", serr, cerr)
	}
	if _, _, cerr := handshake(t, server, ClientConfig(reloader(t, dir, "order"), ca.Pool(), "fulfillment")); cerr == nil {
		t.Error("the client accepted inventory's certificate for fulfillment")
	}
}

func TestReloaderPicksUpARotatedCertificate(t *testing.T) {
	t.Parallel()
	dir, ca := meshPair(t, "order")
	r := reloader(t, dir, "order")
	clock := time.Now()
	r.now = func() time.Time { return clock }
	first := r.Certificate().Certificate[0]

	if err := ca.WriteServiceCert(dir, "order", time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute) // a distinct modification time on any file system
	for _, f := range []string{CertFile("order"), KeyFile("order")} {
		if err := os.Chtimes(filepath.Join(dir, f), later, later); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.Certificate().Certificate[0]; !bytes.Equal(got, first) {
		t.Fatal("reloaded before CheckEvery passed")
	}
	clock = clock.Add(2 * time.Second)
	if got := r.Certificate().Certificate[0]; bytes.Equal(got, first) {
		t.Fatal("the rotated certificate was not picked up")
	}

	// A broken file keeps the last good certificate.
	good := r.Certificate().Certificate[0]
	if err := os.WriteFile(filepath.Join(dir, CertFile("order")), []byte("not pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(filepath.Join(dir, CertFile("order")), later.Add(time.Minute), later.Add(time.Minute))
	clock = clock.Add(2 * time.Second)
	if got := r.Certificate().Certificate[0]; !bytes.Equal(got, good) {
		t.Error("a broken certificate file replaced the good one")
	}
}

// TestMemberPicksUpARotatedCertificate: a member's server and client
// configurations serve the certificate now in its files (what the
// launcher's next start, or an operator, writes), without a reload call.
func TestMemberPicksUpARotatedCertificate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "mesh")
	if err := EnsureMesh(dir, []string{"inventory"}, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	m, err := LoadMember(dir, "inventory")
	if err != nil {
		t.Fatal(err)
	}
	m.cert.CheckEvery = 0
	first, _ := m.ServerConfig().GetCertificate(nil)
	// A different modification time even on coarse file systems.
	time.Sleep(10 * time.Millisecond)
	ca, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteServiceCert(dir, "inventory", time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Second)
	for _, f := range []string{CertFile("inventory"), KeyFile("inventory")} {
		if err := os.Chtimes(filepath.Join(dir, f), later, later); err != nil {
			t.Fatal(err)
		}
	}
	second, _ := m.ServerConfig().GetCertificate(nil)
	client, _ := m.ClientConfig("order").GetClientCertificate(nil)
	if bytes.Equal(first.Certificate[0], second.Certificate[0]) || !bytes.Equal(second.Certificate[0], client.Certificate[0]) {
		t.Fatal("the rotated certificate is not served by the member's configurations")
	}
	if _, err := LoadMember(dir, "order"); err == nil {
		t.Error("LoadMember of a service without a certificate succeeded")
	}
}

// TestMembersFollowACARotation: members loaded before a CA rotation
// accept certificates of the new CA once BeginCARotation has added it to
// the bundle, old and new certificates work side by side during the
// overlap, and after FinishCARotation a certificate of the old CA is
// refused, both by a server and by a client, all without reloading the
// members (their Trust re-reads ca.pem as their Reloader re-reads
// certificates).
func TestMembersFollowACARotation(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "mesh")
	if err := EnsureMesh(dir, []string{"inventory", "order", "fulfillment"}, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	members := map[string]*Member{}
	for _, s := range []string{"inventory", "order", "fulfillment"} {
		m, err := LoadMember(dir, s)
		if err != nil {
			t.Fatal(err)
		}
		m.cert.CheckEvery, m.trust.CheckEvery = 0, 0
		members[s] = m
	}
	stamp := time.Now()
	// touch gives the files a modification time no earlier write had, on
	// any file system's time granularity.
	touch := func(files ...string) {
		t.Helper()
		stamp = stamp.Add(time.Minute)
		for _, f := range files {
			if err := os.Chtimes(filepath.Join(dir, f), stamp, stamp); err != nil {
				t.Fatal(err)
			}
		}
	}
	call := func(client, server string) (serr, cerr error) {
		t.Helper()
		peer, serr, cerr := handshake(t, members[server].ServerConfig(), members[client].ClientConfig(server))
		if serr == nil && cerr == nil && peer != client {
			t.Fatalf("%s -> %s: the server saw %q", client, server, peer)
		}
		return serr, cerr
	}
	if serr, cerr := call("order", "inventory"); serr != nil || cerr != nil {
		t.Fatalf("before the rotation: server %v, client %v", serr, cerr)
	}

	ca2, err := BeginCARotation(dir, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	touch(CACertFile, CAKeyFile)
	if got, err := LoadCA(dir); err != nil || !got.Cert.Equal(ca2.Cert) {
		t.Fatalf("LoadCA after BeginCARotation: %v, want the new CA as signer", err)
	}
	// order gets a certificate of the new CA; inventory, still on the old
	// one, admits it (its bundle now holds the new CA), and order accepts
	// inventory's old certificate (its bundle still holds the old CA).
	if err := ca2.WriteServiceCert(dir, "order", time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	touch(CertFile("order"), KeyFile("order"))
	if serr, cerr := call("order", "inventory"); serr != nil || cerr != nil {
		t.Fatalf("overlap, new client certificate -> old server certificate: server %v, client %v", serr, cerr)
	}
	if err := ca2.WriteServiceCert(dir, "inventory", time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	touch(CertFile("inventory"), KeyFile("inventory"))
	if serr, cerr := call("fulfillment", "inventory"); serr != nil || cerr != nil {
		t.Fatalf("overlap, old client certificate -> new server certificate: server %v, client %v", serr, cerr)
	}

	// fulfillment was never reissued: once the rotation finishes, its old
	// certificate is refused as a client and as a server.
	if err := FinishCARotation(dir); err != nil {
		t.Fatal(err)
	}
	touch(CACertFile)
	if serr, cerr := call("order", "inventory"); serr != nil || cerr != nil {
		t.Fatalf("after the rotation, both reissued: server %v, client %v", serr, cerr)
	}
	if serr, _ := call("fulfillment", "inventory"); serr == nil {
		t.Error("after the rotation, inventory admitted a client certificate of the old CA")
	}
	if _, cerr := call("inventory", "fulfillment"); cerr == nil {
		t.Error("after the rotation, inventory accepted a server certificate of the old CA")
	}
}

// TestTrustKeepsTheLastGoodBundle: a CA bundle file that no longer
// parses leaves the pool as it was.
func TestTrustKeepsTheLastGoodBundle(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "mesh")
	if err := EnsureMesh(dir, nil, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrust(filepath.Join(dir, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	tr.CheckEvery = 0
	good := tr.Pool()
	if err := os.WriteFile(filepath.Join(dir, CACertFile), []byte("not pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	_ = os.Chtimes(filepath.Join(dir, CACertFile), later, later)
	if tr.Pool() != good {
		t.Error("a broken bundle replaced the pool")
	}
	if _, err := NewTrust(filepath.Join(dir, CACertFile)); err == nil {
		t.Error("NewTrust of a broken bundle: no error")
	}
}
