package localcluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var gatewayGVK = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "Gateway"}

// TenantListener is the name of the Gateway's listener holding tenant's certificate.
func TenantListener(tenant string) string { return "tenant-" + tenant }

// AddTenant gives the Gateway what serves the hosts of a tenant's elections
// (<election>.<tenant>.<base domain>) with a certificate TLS accepts: a wildcard
// covers one label only, so the Gateway's own *.<base domain> does not. As a
// platform does for each tenant, it adds a listener for *.<tenant>.<base domain>
// (on the port, protocol and allowed routes of the Gateway's listener) whose
// certificate, in the Secret tenant-<tenant>-tls beside the Gateway, is signed
// by the local CA. Routes still attach to the Gateway's listener (the manager's
// --gateway-listener); Traefik picks the certificate by the host the client
// names. Nothing is done again for a tenant that has its listener.
func (g *Gateway) AddTenant(ctx context.Context, c client.Client, tenant string) error {
	if g.Name == "" || g.Namespace == "" || g.Listener == "" || g.CAKeyFile == "" {
		return errors.New("the Gateway's name, listener or CA key is unknown (GATEWAY, GATEWAY_LISTENER, GATEWAY_CA_KEY in gateway.env)")
	}
	name := TenantListener(tenant)
	gw := &unstructured.Unstructured{}
	gw.SetGroupVersionKind(gatewayGVK)
	if err := c.Get(ctx, client.ObjectKey{Namespace: g.Namespace, Name: g.Name}, gw); err != nil {
		return fmt.Errorf("while reading the Gateway %s/%s: %w", g.Namespace, g.Name, err)
	}
	if listener(gw, name) != nil {
		return nil
	}
	secret := name + "-tls"
	certPEM, keyPEM, err := g.signWildcard("*." + tenant + "." + g.BaseDomain)
	if err != nil {
		return err
	}
	s := &corev1.Secret{Type: corev1.SecretTypeTLS, Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}}
	s.Namespace, s.Name = g.Namespace, secret
	if err := c.Create(ctx, s); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("while creating the Secret %s/%s: %w", g.Namespace, secret, err)
	}
	// The listeners are one atomic list: read, add, write, again on a conflict
	// (another tenant added at the same time).
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.Get(ctx, client.ObjectKey{Namespace: g.Namespace, Name: g.Name}, gw); err != nil {
			return err
		}
		if listener(gw, name) != nil {
			return nil
		}
		base := listener(gw, g.Listener)
		if base == nil {
			return fmt.Errorf("the Gateway %s/%s has no listener %s", g.Namespace, g.Name, g.Listener)
		}
		l := map[string]any{
			"name":     name,
			"hostname": "*." + tenant + "." + g.BaseDomain,
			"port":     base["port"],
			"protocol": base["protocol"],
			"tls": map[string]any{
				"mode":            "Terminate",
				"certificateRefs": []any{map[string]any{"kind": "Secret", "name": secret}},
			},
		}
		if r, ok := base["allowedRoutes"]; ok {
			l["allowedRoutes"] = r
		}
		listeners, _, _ := unstructured.NestedSlice(gw.Object, "spec", "listeners")
		if err := unstructured.SetNestedSlice(gw.Object, append(listeners, l), "spec", "listeners"); err != nil {
			return err
		}
		return c.Update(ctx, gw)
	})
	if err != nil {
		return fmt.Errorf("while adding the listener %s to the Gateway %s/%s: %w", name, g.Namespace, g.Name, err)
	}
	return nil
}

// listener is the Gateway's listener of that name, or nil.
func listener(gw *unstructured.Unstructured, name string) map[string]any {
	listeners, _, _ := unstructured.NestedSlice(gw.Object, "spec", "listeners")
	for _, l := range listeners {
		if m, ok := l.(map[string]any); ok && m["name"] == name {
			return m
		}
	}
	return nil
}

// signWildcard makes a key and a server certificate for host, signed by the
// local CA, both PEM.
func (g *Gateway) signWildcard(host string) (certPEM, keyPEM []byte, err error) {
	ca, caKey, err := g.loadCA()
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("while signing a certificate for %s: %w", host, err)
	}
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k}), nil
}

// loadCA reads the local CA's certificate and key (openssl's PKCS #8 or SEC 1).
func (g *Gateway) loadCA() (*x509.Certificate, any, error) {
	certPEM, err := os.ReadFile(g.CAFile)
	if err != nil {
		return nil, nil, fmt.Errorf("while reading the local CA: %w", err)
	}
	keyPEM, err := os.ReadFile(g.CAKeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("while reading the local CA's key: %w", err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("no PEM block in %s or %s", g.CAFile, g.CAKeyFile)
	}
	ca, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("while parsing the local CA: %w", err)
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		if key, err = x509.ParseECPrivateKey(kb.Bytes); err != nil {
			return nil, nil, fmt.Errorf("while parsing the local CA's key: %w", err)
		}
	}
	return ca, key, nil
}
