// Command demo starts a local control plane (a real kube-apiserver and etcd), installs
// Scrutin's API, applies the sample Election in a tenant namespace and prints it back
// as the API server stored it. It stays up until Ctrl-C, so kubectl can be pointed at
// it; --exit returns at once (tests, CI).
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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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

	ctx := context.Background()
	step("Creating the tenant namespace " + tenant)
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenant}}); err != nil {
		return fmt.Errorf("while creating namespace %s: %w", tenant, err)
	}
	step("Applying the sample: kubectl apply -n " + tenant + " -k config/samples")
	if err := kubectl(env, "apply", "-n", tenant, "-k", filepath.Join(env.Root, "config", "samples")); err != nil {
		return err
	}
	step("The Election as the API server stored it, defaults filled in")
	if err := kubectl(env, "get", "-n", tenant, "elections", "-o", "wide"); err != nil {
		return err
	}
	if err := kubectl(env, "get", "-n", tenant, "election", "board-2027", "-o", "yaml"); err != nil {
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

func kubectl(env *controlplane.Env, args ...string) error {
	out, err := env.Kubectl(args...)
	fmt.Print(out)
	return err
}
