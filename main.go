// Command manager runs Scrutin's controller: it watches Elections and gives each one
// its own isolated namespace with its voting-runtime.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/controllers"
	"scrutin.dev/scrutin/internal/specs"
)

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(scrutinv1.AddToScheme(scheme))
	utilruntime.Must(gatewayv1.Install(scheme))
	utilruntime.Must(cmapi.AddToScheme(scheme))
}

func main() {
	var (
		metricsAddr   string
		probeAddr     string
		secureMetrics bool
		leaderElect   bool
		opts          specs.Options
		ingressLabels string
		promNSLabels  string
		promPodLabels string
		dnsLabels     string
		concurrency   int
		gateway       string
		gatewayNS     string
		gatewaySect   string
		issuer        string
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443", "Address of the metrics endpoint (HTTPS with authentication unless --metrics-secure=false); 0 disables it.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS, to authenticated and authorized clients only.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the health and readiness probes.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader, so that only one manager reconciles at a time.")
	flag.StringVar(&opts.RuntimeImage, "runtime-image", "scrutin.dev/voting-runtime:dev", "Image of the voting-runtime (by digest or content tag).")
	flag.StringVar(&ingressLabels, "ingress-namespace-labels", "", "Labels (k=v,k=v) of the namespaces of the ingress path allowed to reach voting pods.")
	flag.StringVar(&promNSLabels, "prometheus-namespace-labels", "", "Labels (k=v,k=v) of the namespaces of the Prometheus allowed to scrape the voting pods' operations port (/metrics); empty: none.")
	flag.StringVar(&promPodLabels, "prometheus-pod-labels", "", "Labels (k=v,k=v) of those Prometheus pods, within the namespaces of --prometheus-namespace-labels; empty: any pod there.")
	flag.StringVar(&opts.DNSNamespace, "dns-namespace", "kube-system", "Namespace of the cluster DNS the voting pods may query.")
	flag.StringVar(&dnsLabels, "dns-pod-labels", "k8s-app=kube-dns", "Labels (k=v,k=v) of the cluster DNS pods.")
	flag.IntVar(&concurrency, "max-concurrent-reconciles", 4, "How many Elections are reconciled at once.")
	flag.StringVar(&opts.BaseDomain, "base-domain", "", "When set, an election's host is <election>.<its namespace>.<base-domain> (or its spec.hostname) and its voter URL https://<host>/.")
	flag.StringVar(&gateway, "gateway", "", "Gateway (namespace/name, or name with --gateway-namespace) each election's HTTPRoute attaches to; empty: no HTTPRoute.")
	flag.StringVar(&gatewayNS, "gateway-namespace", "", "Namespace of --gateway when it names no namespace (default: the manager's own).")
	flag.StringVar(&gatewaySect, "gateway-listener", "", "Listener (sectionName) of --gateway the routes attach to; empty: any listener that admits them.")
	flag.StringVar(&opts.Route.IngressClass, "ingress-class", "", "IngressClass of each election's Ingress, where the cluster has no Gateway API; empty: no Ingress. Not with --gateway.")
	flag.StringVar(&issuer, "cert-manager-issuer", "", "cert-manager issuer (ClusterIssuer/name, Issuer/name, or name for a ClusterIssuer) of one Certificate per election host; empty: the Gateway's or the ingress class's own certificate serves the hosts.")
	flag.StringVar(&opts.ClientIPHeader, "runtime-client-ip-header", "", "Header in which the cluster's ingress passes the voter's address (e.g. X-Forwarded-For), for the runtimes' per-address sign-in limit; empty: the connection's address. Set it only behind an ingress that sets it.")
	flag.StringVar(&opts.ClientIPTrustedProxies, "runtime-client-ip-trusted-proxies", "", "Addresses or CIDRs (comma-separated) of proxies in front of the ingress, such as a load balancer, whose entries in --runtime-client-ip-header the runtimes skip to find the voter's address; only with --runtime-client-ip-header.")
	zopts := zap.Options{}
	zopts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zopts)))
	log := ctrl.Log.WithName("setup")
	opts.OperatorNamespace = os.Getenv("POD_NAMESPACE")
	if opts.OperatorNamespace == "" {
		opts.OperatorNamespace = "scrutin-system"
	}
	var err error
	if opts.IngressNamespaceLabels, err = parseLabels(ingressLabels); err != nil {
		log.Error(err, "Invalid --ingress-namespace-labels")
		os.Exit(2)
	}
	if opts.ClientIPTrustedProxies != "" && opts.ClientIPHeader == "" {
		log.Error(nil, "--runtime-client-ip-trusted-proxies needs --runtime-client-ip-header")
		os.Exit(2)
	}
	for _, p := range strings.Split(opts.ClientIPTrustedProxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				log.Error(nil, "Invalid --runtime-client-ip-trusted-proxies: neither an address nor a CIDR", "entry", p)
				os.Exit(2)
			}
		}
	}
	if gateway != "" && opts.Route.IngressClass != "" {
		log.Error(nil, "--gateway and --ingress-class exclude each other")
		os.Exit(2)
	}
	if gateway != "" {
		if gatewayNS == "" {
			gatewayNS = opts.OperatorNamespace
		}
		if opts.Route.Gateway, err = specs.ParseGateway(gateway, gatewayNS, gatewaySect); err != nil {
			log.Error(err, "Invalid --gateway")
			os.Exit(2)
		}
	}
	if issuer != "" {
		if opts.Route.CertIssuer, err = specs.ParseIssuer(issuer); err != nil {
			log.Error(err, "Invalid --cert-manager-issuer")
			os.Exit(2)
		}
	}
	opts.AdmitGatewayNamespace()
	if opts.Route.Enabled() && opts.BaseDomain == "" {
		log.Info("No --base-domain: only Elections with a spec.hostname get a route")
	}
	if opts.Route.IngressClass != "" && len(opts.IngressNamespaceLabels) == 0 {
		log.Info("No --ingress-namespace-labels: the network policies admit no ingress controller to the voting pods")
	}
	if opts.PrometheusNamespaceLabels, err = parseLabels(promNSLabels); err != nil {
		log.Error(err, "Invalid --prometheus-namespace-labels")
		os.Exit(2)
	}
	if opts.PrometheusPodLabels, err = parseLabels(promPodLabels); err != nil {
		log.Error(err, "Invalid --prometheus-pod-labels")
		os.Exit(2)
	}
	if opts.DNSPodLabels, err = parseLabels(dnsLabels); err != nil {
		log.Error(err, "Invalid --dns-pod-labels")
		os.Exit(2)
	}

	metricsOpts := metricsserver.Options{
		BindAddress:   metricsAddr,
		SecureServing: secureMetrics,
		// HTTP/2 is off: it exposes the Rapid Reset and Stream Cancellation attacks.
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}
	if secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme,
		Cache:                  controllers.CacheOptions(opts.Route),
		Client:                 controllers.ClientOptions(),
		Metrics:                metricsOpts,
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         leaderElect,
		LeaderElectionID:       "manager.elections.scrutin.dev",
		// main ends as soon as the manager stops, so handing the lease over at once
		// is safe: an upgrade's new pod leads without waiting for the lease to expire
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		log.Error(err, "Failed to create the manager")
		os.Exit(1)
	}
	reconciler := controllers.NewElectionReconciler(mgr, opts)
	reconciler.MaxConcurrentReconciles = concurrency
	if err := reconciler.SetupWithManager(mgr); err != nil {
		log.Error(err, "Failed to set up the Election controller")
		os.Exit(1)
	}
	if err := controllers.RegisterMetrics(mgr.GetClient()); err != nil {
		log.Error(err, "Failed to register metrics")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "Failed to set up the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		log.Error(err, "Failed to set up the readiness check")
		os.Exit(1)
	}
	log.Info("Starting the manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "Manager stopped with an error")
		os.Exit(1)
	}
}

// parseLabels reads "k=v,k=v".
func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}
