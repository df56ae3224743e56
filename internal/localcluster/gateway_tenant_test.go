package localcluster

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"scrutin.dev/scrutin/internal/controlplane"
)

// TestAddTenant, against a real API server with the Gateway API's CRDs: each
// tenant gets one listener on the Gateway, for *.<tenant>.<base domain>, on the
// port, protocol and allowed routes of the Gateway's own listener, whose
// certificate (a Secret beside the Gateway) is signed by the local CA for that
// wildcard; adding a tenant again changes nothing, and the Gateway's own
// listener stays first and unchanged.
func TestAddTenant(t *testing.T) {
	root, err := controlplane.Root()
	if err != nil {
		t.Fatal(err)
	}
	crds, err := controlplane.RouteCRDs(root)
	if err != nil {
		t.Fatal(err)
	}
	env, err := controlplane.Start(crds...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, ctx := env.Client, t.Context()

	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "scrutin-gateway"}}); err != nil {
		t.Fatal(err)
	}
	gw := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"namespace": "scrutin-gateway", "name": "voters"},
		"spec": map[string]any{
			"gatewayClassName": "traefik",
			"listeners": []any{map[string]any{
				"name": "websecure", "port": int64(8443), "protocol": "HTTPS", "hostname": "*.scrutin.test",
				"tls":           map[string]any{"mode": "Terminate", "certificateRefs": []any{map[string]any{"kind": "Secret", "name": "voters-tls"}}},
				"allowedRoutes": map[string]any{"namespaces": map[string]any{"from": "All"}},
			}},
		},
	}}
	gw.SetGroupVersionKind(gatewayGVK)
	if err := c.Create(ctx, gw); err != nil {
		t.Fatal(err)
	}

	ca := newTestCA(t)
	dir := t.TempDir()
	key, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		t.Fatal(err)
	}
	g := &Gateway{Namespace: "scrutin-gateway", Name: "voters", Listener: "websecure", BaseDomain: "scrutin.test",
		CAFile: filepath.Join(dir, "ca.crt"), CAKeyFile: filepath.Join(dir, "ca.key")}
	if err := os.WriteFile(g.CAFile, ca.pem(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(g.CAKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{"tenant-a", "tenant-b", "tenant-a"} {
		if err := g.AddTenant(ctx, c, tenant); err != nil {
			t.Fatalf("%s: %v", tenant, err)
		}
	}

	if err := c.Get(ctx, client.ObjectKeyFromObject(gw), gw); err != nil {
		t.Fatal(err)
	}
	listeners, _, _ := unstructured.NestedSlice(gw.Object, "spec", "listeners")
	var names []string
	for _, l := range listeners {
		names = append(names, l.(map[string]any)["name"].(string))
	}
	if len(names) != 3 || names[0] != "websecure" || names[1] != "tenant-tenant-a" || names[2] != "tenant-tenant-b" {
		t.Fatalf("listeners %v, want websecure, tenant-tenant-a, tenant-tenant-b", names)
	}
	l := listener(gw, "tenant-tenant-a")
	if l["hostname"] != "*.tenant-a.scrutin.test" || l["port"] != int64(8443) || l["protocol"] != "HTTPS" {
		t.Errorf("listener %v", l)
	}
	if from, _, _ := unstructured.NestedString(l, "allowedRoutes", "namespaces", "from"); from != "All" {
		t.Errorf("allowed routes from %q, want the Gateway listener's All", from)
	}
	refs, _, _ := unstructured.NestedSlice(l, "tls", "certificateRefs")
	if len(refs) != 1 || refs[0].(map[string]any)["name"] != "tenant-tenant-a-tls" {
		t.Fatalf("certificate refs %v", refs)
	}

	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: "scrutin-gateway", Name: "tenant-tenant-a-tls"}, &s); err != nil {
		t.Fatal(err)
	}
	if s.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret type %s", s.Type)
	}
	b, _ := pem.Decode(s.Data[corev1.TLSCertKey])
	if b == nil {
		t.Fatal("no certificate in the Secret")
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "board-2027.tenant-a.scrutin.test"}); err != nil {
		t.Errorf("the tenant's certificate: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "board-2027.tenant-b.scrutin.test"}); err == nil {
		t.Error("tenant-a's certificate serves tenant-b's hosts")
	}
}
