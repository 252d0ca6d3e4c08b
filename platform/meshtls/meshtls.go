// Package meshtls is internal service identity (issue #14,
// docs/architecture.md "Internal service identity"): a local certificate
// authority that `make run` keeps under its data folder, certificates it
// issues to each service with the service's name as identity, and TLS
// configurations for mutual TLS between services whose certificates and
// CA bundle are re-read from disk when they change, so a rotated
// certificate, or a rotated CA ([BeginCARotation], [FinishCARotation]), is
// used without a restart.
//
// Identity is the URI SAN spiffe://transload.local/<service> (also the
// certificate's common name and a DNS SAN, so a gRPC client may verify the
// host it dials by the service name). [Identity] reads it back from a
// verified peer certificate; platform/grpcserver authorizes each call by
// it against the service's caller table.
//
// Keys are ECDSA P-256; the CA key file is written with mode 0600 and never
// logged.
package meshtls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// TrustDomain is the authority of every identity URI.
const TrustDomain = "transload.local"

// File names inside a mesh folder.
const (
	CACertFile = "ca.pem"
	CAKeyFile  = "ca-key.pem"
)

// CertFile and KeyFile name a service's certificate and key in a mesh folder.
func CertFile(service string) string { return service + ".pem" }

// KeyFile names a service's private key in a mesh folder.
func KeyFile(service string) string { return service + "-key.pem" }

var servicePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// CA is a certificate authority: its certificate and signing key.
type CA struct {
	Cert *x509.Certificate
	key  crypto.Signer
}

// Pool returns a certificate pool holding only the CA, the roots every
// member of the mesh verifies its peers against.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// NewCA creates a self-signed CA valid from now for validity.
func NewCA(now time.Time, validity time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("meshtls: CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Transload local mesh CA", Organization: []string{"Transload"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("meshtls: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("meshtls: CA certificate: %w", err)
	}
	return &CA{Cert: cert, key: key}, nil
}

// EnsureCA loads the CA kept in dir, or creates one valid for validity and
// writes it there (certificate 0644, key 0600); created says which.
func EnsureCA(dir string, now time.Time, validity time.Duration) (ca *CA, created bool, err error) {
	ca, err = LoadCA(dir)
	if err == nil {
		return ca, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	if ca, err = NewCA(now, validity); err != nil {
		return nil, false, err
	}
	keyPEM, err := encodeKey(ca.key)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("meshtls: %w", err)
	}
	// The key first: a folder with a certificate but no key is not a CA.
	if err := writeFile(filepath.Join(dir, CAKeyFile), keyPEM, 0o600); err != nil {
		return nil, false, err
	}
	if err := writeFile(filepath.Join(dir, CACertFile), encodeCert(ca.Cert.Raw), 0o644); err != nil {
		return nil, false, err
	}
	return ca, true, nil
}

// LoadCA reads the CA kept in dir; a missing file is an error wrapping
// os.ErrNotExist.
func LoadCA(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("meshtls: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("meshtls: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("meshtls: CA in %s: %w", dir, err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("meshtls: CA in %s: %w", dir, err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok || !cert.IsCA {
		return nil, fmt.Errorf("meshtls: %s does not hold a CA certificate and its key", dir)
	}
	return &CA{Cert: cert, key: signer}, nil
}

// IdentityURI is the identity of service: spiffe://transload.local/<service>.
func IdentityURI(service string) *url.URL {
	return &url.URL{Scheme: "spiffe", Host: TrustDomain, Path: "/" + service}
}

// Issue returns a certificate and key (PEM) for service, valid from now
// for validity, for both ends of a connection (server and client auth):
// common name, DNS SAN and identity URI name the service; localhost and
// the loopback addresses are SANs too, so a process of `make run` can be
// dialled by address.
func (ca *CA) Issue(service string, now time.Time, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if !servicePattern.MatchString(service) {
		return nil, nil, fmt.Errorf("meshtls: service name %q must match %s", service, servicePattern)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("meshtls: key of %s: %w", service, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: service, Organization: []string{"Transload"}},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{service, "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		URIs:         []*url.URL{IdentityURI(service)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("meshtls: certificate of %s: %w", service, err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return encodeCert(der), keyPEM, nil
}

// WriteServiceCert issues a certificate for service and writes it and its
// key into dir (CertFile, KeyFile; key 0600), each file replaced
// atomically, so a [Reloader] never reads half a file.
func (ca *CA) WriteServiceCert(dir, service string, now time.Time, validity time.Duration) error {
	certPEM, keyPEM, err := ca.Issue(service, now, validity)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, KeyFile(service)), keyPEM, 0o600); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, CertFile(service)), certPEM, 0o644)
}

// Identity returns the service name a verified peer certificate carries in
// its identity URI (spiffe://transload.local/<service>).
func Identity(cert *x509.Certificate) (string, error) {
	for _, u := range cert.URIs {
		if u.Scheme == "spiffe" && u.Host == TrustDomain {
			if s := strings.TrimPrefix(u.Path, "/"); servicePattern.MatchString(s) {
				return s, nil
			}
		}
	}
	return "", fmt.Errorf("meshtls: certificate %q carries no %s identity", cert.Subject.CommonName, TrustDomain)
}

// Reloader serves a certificate and key read from files and reads them
// again when either file's modification time changes (looked at no more
// than once per CheckEvery), so a rotated certificate is used by new
// handshakes without a restart. A file that no longer parses keeps the
// last good certificate in use.
type Reloader struct {
	certFile, keyFile string
	// CheckEvery bounds how often the files' times are looked at
	// (default one second).
	CheckEvery time.Duration
	now        func() time.Time

	mu        sync.Mutex
	cur       *tls.Certificate
	stamp     [2]time.Time
	checkedAt time.Time
}

// NewReloader loads certFile and keyFile; they must parse now.
func NewReloader(certFile, keyFile string) (*Reloader, error) {
	r := &Reloader{certFile: certFile, keyFile: keyFile, CheckEvery: time.Second, now: time.Now}
	stamp, err := r.stamps()
	if err != nil {
		return nil, err
	}
	if err := r.load(stamp); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Reloader) stamps() ([2]time.Time, error) {
	var out [2]time.Time
	for i, f := range []string{r.certFile, r.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return out, fmt.Errorf("meshtls: %w", err)
		}
		out[i] = st.ModTime()
	}
	return out, nil
}

func (r *Reloader) load(stamp [2]time.Time) error {
	pair, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("meshtls: %s: %w", r.certFile, err)
	}
	r.cur, r.stamp = &pair, stamp
	return nil
}

// Certificate returns the current certificate, reloading it first when
// its files changed.
func (r *Reloader) Certificate() *tls.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !due(r.now(), &r.checkedAt, r.CheckEvery) {
		return r.cur
	}
	if stamp, err := r.stamps(); err == nil && stamp != r.stamp {
		_ = r.load(stamp) // a bad file keeps the last good certificate
	}
	return r.cur
}

// due reports whether files looked at no more than once per every should
// be looked at now, recording now in last when they should.
func due(now time.Time, last *time.Time, every time.Duration) bool {
	if now.Sub(*last) < every {
		return false
	}
	*last = now
	return true
}

// ServerConfig is a TLS 1.3 server configuration that presents r's
// certificate and requires a client certificate issued by roots.
func ServerConfig(r *Reloader, roots *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		ClientAuth:     tls.RequireAndVerifyClientCert,
		ClientCAs:      roots,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.Certificate(), nil },
	}
}

// ClientConfig is a TLS 1.3 client configuration that presents r's
// certificate and verifies the server against roots and serverName (the
// service name it dials).
func ClientConfig(r *Reloader, roots *x509.CertPool, serverName string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    roots,
		ServerName: serverName,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return r.Certificate(), nil
		},
	}
}

// ALPNProtocol is gRPC's application protocol, which the server
// configuration [Member.ServerConfig] chooses per handshake must offer
// itself: it replaces the configuration credentials.NewTLS added it to.
const ALPNProtocol = "h2"

// reloadingServerConfig is [ServerConfig] whose client CAs are trust's
// pool at each handshake (GetConfigForClient), so the standard
// verification (and the verified chains the server's authorization reads)
// uses a CA bundle rotated since the listener started.
func reloadingServerConfig(r *Reloader, trust *Trust) *tls.Config {
	cfg := ServerConfig(r, trust.Pool())
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		c := ServerConfig(r, trust.Pool())
		c.NextProtos = []string{ALPNProtocol}
		return c, nil
	}
	return cfg
}

// reloadingClientConfig is [ClientConfig] verifying the server against
// trust's pool at each handshake: crypto/tls has no per-handshake root
// pool for clients, so the standard check is replaced (InsecureSkipVerify)
// by VerifyConnection doing the same verification, chain to a trusted
// CA, server authentication usage and the name serverName, with the
// current pool. Nothing is skipped: a handshake whose chain does not
// verify fails.
func reloadingClientConfig(r *Reloader, trust *Trust, serverName string) *tls.Config {
	cfg := ClientConfig(r, nil, serverName)
	cfg.InsecureSkipVerify = true // verified below, against the current CA bundle
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("meshtls: server presented no certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
			Roots: trust.Pool(), Intermediates: inter, DNSName: serverName,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			return fmt.Errorf("meshtls: server certificate: %w", err)
		}
		return nil
	}
	return cfg
}

// Trust is the CA bundle a member verifies its peers against, read from a
// PEM file (ca.pem) that may hold several CA certificates, and read again
// when the file changes (looked at no more than once per CheckEvery), the
// way a [Reloader] re-reads a leaf certificate. Rotating the CA without a
// restart is therefore: [BeginCARotation] (the bundle trusts the old and
// the new CA, which signs from now on), reissue every certificate, and
// [FinishCARotation] (the bundle trusts the new CA only) once every member
// serves its new certificate. A file that no longer parses, or holds no
// certificate, keeps the last good pool.
type Trust struct {
	file string
	// CheckEvery bounds how often the file's time is looked at (default
	// one second).
	CheckEvery time.Duration
	now        func() time.Time

	mu        sync.Mutex
	pool      *x509.CertPool
	stamp     time.Time
	checkedAt time.Time
}

// NewTrust loads the CA bundle in file; it must hold a certificate now.
func NewTrust(file string) (*Trust, error) {
	t := &Trust{file: file, CheckEvery: time.Second, now: time.Now}
	st, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("meshtls: %w", err)
	}
	if err := t.load(st.ModTime()); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Trust) load(stamp time.Time) error {
	data, err := os.ReadFile(t.file)
	if err != nil {
		return fmt.Errorf("meshtls: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return fmt.Errorf("meshtls: %s holds no PEM certificate", t.file)
	}
	t.pool, t.stamp = pool, stamp
	return nil
}

// Pool returns the current CA pool, reloading the bundle first when its
// file changed.
func (t *Trust) Pool() *x509.CertPool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !due(t.now(), &t.checkedAt, t.CheckEvery) {
		return t.pool
	}
	if st, err := os.Stat(t.file); err == nil && !st.ModTime().Equal(t.stamp) {
		_ = t.load(st.ModTime()) // a bad file keeps the last good pool
	}
	return t.pool
}

// BeginCARotation starts replacing the CA kept in dir: a new CA valid for
// validity becomes the signer (ca-key.pem, first in ca.pem) and ca.pem
// keeps trusting the CAs it held, so members whose certificates the old CA
// issued and members with certificates of the new one accept each other
// while certificates are reissued ([CA.WriteServiceCert] with the
// returned CA). Running members pick the bundle up within a second.
func BeginCARotation(dir string, now time.Time, validity time.Duration) (*CA, error) {
	old, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("meshtls: %w", err)
	}
	if _, err := LoadCA(dir); err != nil {
		return nil, err
	}
	ca, err := NewCA(now, validity)
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKey(ca.key)
	if err != nil {
		return nil, err
	}
	// The bundle first, so the new CA is trusted before anything it signs
	// exists; then the key, which LoadCA pairs with the bundle's first
	// certificate.
	bundle := append(encodeCert(ca.Cert.Raw), old...)
	if err := writeFile(filepath.Join(dir, CACertFile), bundle, 0o644); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, CAKeyFile), keyPEM, 0o600); err != nil {
		return nil, err
	}
	return ca, nil
}

// FinishCARotation ends a rotation begun by [BeginCARotation]: ca.pem
// trusts only the current CA (the one ca-key.pem signs with), so a
// certificate the old CA issued is refused from the members' next check
// of the bundle on. Call it once every member serves a reissued
// certificate.
func FinishCARotation(dir string) error {
	ca, err := LoadCA(dir)
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, CACertFile), encodeCert(ca.Cert.Raw), 0o644)
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("meshtls: serial: %w", err)
	}
	return n, nil
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func encodeKey(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("meshtls: key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// writeFile replaces path atomically with data (a temporary file in the
// same folder, synced, then renamed).
func writeFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("meshtls: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("meshtls: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("meshtls: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("meshtls: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("meshtls: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("meshtls: %w", err)
	}
	return nil
}

// Member is one mesh member's view of the mesh, loaded from a mesh
// folder: its own certificate (re-read when rotated) and the CA it trusts.
// Its configurations are what the wiring (platform/grpcserver WithMesh,
// platform/grpcclient WithMeshTLS) hands to gRPC.
type Member struct {
	// Service is the member's own identity.
	Service string
	cert    *Reloader
	trust   *Trust
}

// LoadMember reads dir's CA bundle (ca.pem: the CA key is not needed,
// and a service's folder need not hold it) and service's certificate and
// key. Both are re-read when their files change ([Trust], [Reloader]), so
// a rotated certificate or CA is used without a restart. Errors name the
// missing or broken file.
func LoadMember(dir, service string) (*Member, error) {
	if !servicePattern.MatchString(service) {
		return nil, fmt.Errorf("meshtls: service name %q must match %s", service, servicePattern)
	}
	trust, err := NewTrust(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, err
	}
	r, err := NewReloader(filepath.Join(dir, CertFile(service)), filepath.Join(dir, KeyFile(service)))
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(r.Certificate().Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("meshtls: %s: %w", CertFile(service), err)
	}
	if id, err := Identity(leaf); err != nil || id != service {
		return nil, fmt.Errorf("meshtls: %s is not a certificate of %s (identity %q)", CertFile(service), service, id)
	}
	return &Member{Service: service, cert: r, trust: trust}, nil
}

// ServerConfig is the member's TLS 1.3 server configuration: it presents
// the member's certificate and admits only clients with a certificate a
// CA of the current bundle issued (see the package's ServerConfig; each
// handshake uses the bundle as it is then, and offers ALPN "h2").
func (m *Member) ServerConfig() *tls.Config { return reloadingServerConfig(m.cert, m.trust) }

// ClientConfig is the member's TLS 1.3 client configuration for calling
// peer: it presents the member's certificate and accepts the server only
// when a CA of the current bundle issued its certificate to peer (chain,
// DNS name and identity URI all checked), so an address answered by
// another member, or by anything outside the mesh, fails the handshake.
func (m *Member) ClientConfig(peer string) *tls.Config {
	cfg := reloadingClientConfig(m.cert, m.trust, peer)
	verify := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if err := verify(cs); err != nil {
			return err
		}
		id, err := Identity(cs.PeerCertificates[0])
		if err != nil {
			return err
		}
		if id != peer {
			return fmt.Errorf("meshtls: dialled %s but the server is %s", peer, id)
		}
		return nil
	}
	return cfg
}

// EnsureMesh makes dir a mesh folder for services: the CA (created when
// missing, see [EnsureCA]) and a fresh certificate for each service, valid
// for validity. The launcher calls it before starting the processes.
func EnsureMesh(dir string, services []string, now time.Time, validity time.Duration) error {
	ca, _, err := EnsureCA(dir, now, validity)
	if err != nil {
		return err
	}
	for _, s := range services {
		if err := ca.WriteServiceCert(dir, s, now, validity); err != nil {
			return err
		}
	}
	return nil
}
