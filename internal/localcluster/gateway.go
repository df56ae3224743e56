package localcluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Gateway is the local cluster's Gateway (the add-on `gateway` of
// hack/local-cluster/addons.sh: Traefik serving scrutin-gateway/voters), as its
// gateway.env describes it. Voters' host names (<election>.<tenant>.<base domain>)
// are in no resolver: a client sends every connection for the base domain to
// Address and trusts the local cluster's CA.
type Gateway struct {
	// Namespace and Name of the Gateway, and its Listener the routes attach to.
	Namespace, Name, Listener string
	// Address is host:port the host reaches the Gateway at (its Service's ClusterIP).
	Address string
	// BaseDomain is the domain of the listener's wildcard certificate.
	BaseDomain string
	// Roots holds the local cluster's CA, which signed the listeners' certificates.
	Roots *x509.CertPool
	// CAFile and CAKeyFile are the local CA's certificate and key (AddTenant).
	CAFile, CAKeyFile string
}

// LoadGateway reads STATE/gateway.env (STATE: the cluster's state directory,
// _output/local-cluster), which the add-on writes once the Gateway is Programmed.
func LoadGateway(state string) (*Gateway, error) {
	path := filepath.Join(state, "gateway.env")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("while reading the local cluster's Gateway (is the add-on gateway up?): %w", err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("while reading %s: %w", path, err)
	}
	g := &Gateway{Address: env["GATEWAY_ADDRESS"], BaseDomain: env["GATEWAY_BASE_DOMAIN"], Listener: env["GATEWAY_LISTENER"],
		Roots: x509.NewCertPool(), CAFile: env["GATEWAY_CA"], CAKeyFile: env["GATEWAY_CA_KEY"]}
	g.Namespace, g.Name, _ = strings.Cut(env["GATEWAY"], "/")
	if g.Address == "" || g.BaseDomain == "" || g.CAFile == "" {
		return nil, fmt.Errorf("%s lacks GATEWAY_ADDRESS, GATEWAY_BASE_DOMAIN or GATEWAY_CA", path)
	}
	ca, err := os.ReadFile(g.CAFile)
	if err != nil {
		return nil, fmt.Errorf("while reading the Gateway's CA: %w", err)
	}
	if !g.Roots.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("no certificate in %s", env["GATEWAY_CA"])
	}
	return g, nil
}

// Serves says whether host (a name, without port) is under the Gateway's domain.
func (g *Gateway) Serves(host string) bool {
	return strings.HasSuffix(strings.ToLower(host), "."+strings.ToLower(g.BaseDomain))
}

// DialContext dials with d, sending every connection for a host of the
// Gateway's domain to the Gateway, and any other as asked.
func (g *Gateway) DialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, _, err := net.SplitHostPort(addr); err == nil && g.Serves(host) {
			addr = g.Address
		}
		return d.DialContext(ctx, network, addr)
	}
}

// TLSConfig trusts the local cluster's CA (and nothing else): the Gateway's
// certificates are signed by it.
func (g *Gateway) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: g.Roots}
}

// Transport is an HTTP transport that reaches the Gateway's hosts through the
// Gateway (DialContext) and checks their certificates against the local CA
// (TLSConfig), with TLS's usual name check: an election's host needs its
// tenant's certificate (AddTenant).
func (g *Gateway) Transport() *http.Transport {
	return &http.Transport{
		DialContext:         g.DialContext(&net.Dialer{Timeout: 10 * time.Second}),
		TLSClientConfig:     g.TLSConfig(),
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
}
