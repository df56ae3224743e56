package localcluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA is a CA that signs server certificates for names.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

func (ca *testCA) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

func (ca *testCA) serverCert(t *testing.T, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// gatewayServer is a TLS server standing for the Gateway, with cert, answering
// every request with the Host it was sent.
func gatewayServer(t *testing.T, cert tls.Certificate) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Host)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// writeGatewayEnv writes gateway.env as the add-on does, and loads it.
func writeGatewayEnv(t *testing.T, address string, ca []byte) *Gateway {
	t.Helper()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	env := "GATEWAY=scrutin-gateway/voters\nGATEWAY_LISTENER=websecure\nGATEWAY_BASE_DOMAIN=scrutin.test\n" +
		"GATEWAY_ADDRESS=" + address + "\nGATEWAY_CA=" + caFile + "\n"
	if err := os.WriteFile(filepath.Join(dir, "gateway.env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := LoadGateway(dir)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGatewayTransport: a client of the Gateway sends an election's host (two
// labels under the base domain) to the Gateway's address, with that host as SNI
// and Host, and checks the certificate against the local CA by TLS's usual
// rules: its tenant's wildcard passes; the base domain's wildcard does not (it
// covers one label, hence AddTenant), nor another CA's certificate.
func TestGatewayTransport(t *testing.T) {
	ca := newTestCA(t)
	cases := map[string]struct {
		signer  *testCA
		names   []string
		wantErr string
	}{
		"the tenant's wildcard from the local CA": {signer: ca, names: []string{"*.demo-association.scrutin.test"}},
		"the base domain's wildcard":              {signer: ca, names: []string{"*.scrutin.test"}, wantErr: "not board-2027.demo-association.scrutin.test"},
		"another CA's certificate":                {signer: newTestCA(t), names: []string{"*.demo-association.scrutin.test"}, wantErr: "unknown authority"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := gatewayServer(t, tc.signer.serverCert(t, tc.names...))
			g := writeGatewayEnv(t, strings.TrimPrefix(srv.URL, "https://"), ca.pem())
			client := &http.Client{Transport: g.Transport(), Timeout: 10 * time.Second}
			resp, err := client.Get("https://board-2027.demo-association.scrutin.test/healthz")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if got := string(body); got != "board-2027.demo-association.scrutin.test" {
				t.Errorf("the Gateway got Host %q", got)
			}
			if sni := resp.TLS.ServerName; sni != "board-2027.demo-association.scrutin.test" {
				t.Errorf("SNI %q", sni)
			}
		})
	}
}

// TestGatewayOtherHosts: hosts outside the base domain are dialed as asked.
func TestGatewayOtherHosts(t *testing.T) {
	ca := newTestCA(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "direct") }))
	t.Cleanup(srv.Close)
	g := writeGatewayEnv(t, "192.0.2.1:443", ca.pem())
	client := &http.Client{Transport: g.Transport(), Timeout: 10 * time.Second}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatalf("%s, not under scrutin.test, was not dialed as asked: %v", srv.URL, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "direct" {
		t.Fatalf("got %q", body)
	}
	if g.Serves("scrutin.test.example") || !g.Serves("a.b.SCRUTIN.test") {
		t.Error("Serves matches the wrong hosts")
	}
}

// TestLoadGatewayIncomplete: an env file without the CA is refused with a
// message naming what is missing.
func TestLoadGatewayIncomplete(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gateway.env"), []byte("GATEWAY_ADDRESS=10.96.0.20:443\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadGateway(dir); err == nil || !strings.Contains(err.Error(), "GATEWAY_CA") {
		t.Fatalf("got %v", err)
	}
	if _, err := LoadGateway(t.TempDir()); err == nil || !strings.Contains(err.Error(), "add-on gateway") {
		t.Fatalf("got %v", err)
	}
}
