// Command demo starts a local control plane (a real kube-apiserver and etcd), installs
// Scrutin's API, runs its controller, applies the sample Election in a tenant
// namespace and shows what the controller made of it: the Election's status and its
// dedicated namespace. The control plane has no kubelet, so no voting pod runs yet.
// It stays up until Ctrl-C, so kubectl can be pointed at it; --exit returns at once
// (tests, CI).
//
// Run it with `make demo`, which builds what it needs first.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/controllers"
	"scrutin.dev/scrutin/internal/controlplane"
)

func main() {
	exit := flag.Bool("exit", false, "stop the control plane after printing, instead of waiting for Ctrl-C")
	tenant := flag.String("tenant", "demo-association", "the tenant namespace the sample goes into")
	flag.Parse()
	if err := run(*tenant, *exit); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(tenant string, exit bool) error {
	start := time.Now()
	step("Starting a local control plane (kube-apiserver and etcd from bin/)")
	env, err := controlplane.Start()
	if err != nil {
		return err
	}
	defer func() {
		step("Stopping the control plane")
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: while stopping:", err)
		}
	}()
	fmt.Printf("   ready in %s, with the Election CRD and admission policies installed\n", time.Since(start).Round(100*time.Millisecond))

	out := filepath.Join(env.Root, "_output", "demo")
	if err := os.MkdirAll(out, 0o700); err != nil {
		return err
	}
	kubeconfig := filepath.Join(out, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		return err
	}

	step("Starting Scrutin's controller")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped, err := startController(ctx, env)
	if err != nil {
		return err
	}
	defer func() { cancel(); <-stopped }()

	step("Creating the tenant namespace " + tenant)
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenant}}); err != nil {
		return fmt.Errorf("while creating namespace %s: %w", tenant, err)
	}
	step("Applying the sample: kubectl apply -n " + tenant + " -k config/samples")
	if err := kubectl(env, "apply", "-n", tenant, "-k", filepath.Join(env.Root, "config", "samples")); err != nil {
		return err
	}
	step("Waiting for the controller to provision the election")
	e, err := waitScheduled(ctx, env, tenant, "board-2027")
	if err != nil {
		return err
	}
	if err := kubectl(env, "get", "-n", tenant, "elections", "-o", "wide"); err != nil {
		return err
	}
	step("kubectl describe: the spec with its defaults, the status and the events")
	if err := kubectl(env, "describe", "-n", tenant, "election", "board-2027"); err != nil {
		return err
	}
	step("Its dedicated namespace " + e.Status.Namespace)
	if err := kubectl(env, "get", "-n", e.Status.Namespace,
		"deployments,services,hpa,pdb,networkpolicies,resourcequotas,limitranges,configmaps,secrets,serviceaccounts,pvc"); err != nil {
		return err
	}
	step("An invalid Election is refused by the API server, naming the field")
	bad := filepath.Join(env.Root, "config", "samples", "invalid", "20-noon-collapse-session.yaml")
	if err := kubectl(env, "apply", "-n", tenant, "-f", bad); err == nil {
		return fmt.Errorf("the API server accepted %s", bad)
	}

	kubectlPath := filepath.Join(controlplane.AssetsDir(env.Root), "kubectl")
	fmt.Printf("\nThe control plane is up. In another terminal:\n\n")
	fmt.Printf("  export KUBECONFIG=%s\n", kubeconfig)
	fmt.Printf("  %s get elections -A -w\n\n", kubectlPath)
	if exit {
		return nil
	}
	fmt.Println("Press Ctrl-C to stop it.")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}

func step(msg string) { fmt.Printf("==> %s\n", msg) }

// startController runs the Election controller in this process, as the manager
// would in a cluster.
func startController(ctx context.Context, env *controlplane.Env) (<-chan struct{}, error) {
	ctrl.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel)))
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: env.Scheme, Cache: controllers.CacheOptions(), Client: controllers.ClientOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
	})
	if err != nil {
		return nil, err
	}
	r := controllers.NewElectionReconciler(mgr, controllers.Options{
		RuntimeImage: "scrutin.dev/voting-runtime:dev", OperatorNamespace: "scrutin-system",
		DNSNamespace: "kube-system", DNSPodLabels: map[string]string{"k8s-app": "kube-dns"},
	})
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, err
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "demo: controller:", err)
		}
	}()
	return stopped, nil
}

// waitScheduled waits until the controller has provisioned the Election.
func waitScheduled(ctx context.Context, env *controlplane.Env, ns, name string) (*scrutinv1.Election, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var e scrutinv1.Election
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &e); err != nil {
			return nil, err
		}
		if e.Status.Phase == scrutinv1.PhaseScheduled {
			return &e, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("election %s/%s is %q after 30s: %+v", ns, name, e.Status.Phase, e.Status.Conditions)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func kubectl(env *controlplane.Env, args ...string) error {
	out, err := env.Kubectl(args...)
	fmt.Print(out)
	return err
}
