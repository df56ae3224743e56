// Command provision measures how the controller provisions many Elections at once on
// a local control plane (a real kube-apiserver and etcd): the time until every one is
// Scheduled with all its objects, the controller's peak memory, and the latency of a
// single Election from apply to provisioned. The manager runs as its own process, so
// its memory is its own. Run it with `make bench-provision`; see test/bench/README.md.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/controlplane"
)

func main() {
	n := flag.Int("elections", 500, "Elections applied at once")
	tenants := flag.Int("tenants", 50, "tenant namespaces they are spread over")
	single := flag.Int("single", 50, "Elections applied one at a time afterwards, for the single-Election latency")
	workers := flag.Int("workers", 16, "concurrent clients applying the burst")
	concurrency := flag.Int("max-concurrent-reconciles", 4, "the manager's --max-concurrent-reconciles")
	flag.Parse()
	if err := run(*n, *tenants, *single, *workers, *concurrency); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n, tenants, single, workers, concurrency int) error {
	ctx := context.Background()
	env, err := controlplane.Start()
	if err != nil {
		return err
	}
	defer env.Stop()
	dir, err := os.MkdirTemp("", "scrutin-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		return err
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = -1, 0 // the API server's fairness, as for the manager
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		return err
	}

	managerBin := filepath.Join(dir, "manager")
	build := exec.Command("go", "build", "-o", managerBin, ".")
	build.Dir, build.Stdout, build.Stderr = env.Root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("while building the manager: %w", err)
	}
	outDir := filepath.Join(env.Root, "_output", "bench")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	logPath := filepath.Join(outDir, "provision-manager.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	mgr := exec.Command(managerBin, "--metrics-bind-address=0", "--health-probe-bind-address=0",
		"--max-concurrent-reconciles="+strconv.Itoa(concurrency), "--zap-log-level=error")
	mgr.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "POD_NAMESPACE=scrutin-system")
	mgr.Stdout, mgr.Stderr = logFile, logFile
	if err := mgr.Start(); err != nil {
		return err
	}
	defer func() { _ = mgr.Process.Signal(syscall.SIGTERM); _ = mgr.Wait() }()

	fmt.Printf("Preparing %d tenant namespaces with %d rolls...\n", tenants, n+single)
	opens := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	for i := range tenants {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("tenant-%03d", i)}}); err != nil {
			return err
		}
	}
	for i := range n + single {
		ns := fmt.Sprintf("tenant-%03d", i%tenants)
		roll := fmt.Sprintf("voter_id,name,email,phone\nV%d-1,Voter One,one-%d@example.org,\nV%d-2,Voter Two,two-%d@example.org,\n", i, i, i, i)
		for name, d := range map[string]map[string]string{
			fmt.Sprintf("roll-%04d", i): {"roll.csv": roll},
			fmt.Sprintf("smtp-%04d", i): {"host": "192.0.2.25", "port": "2525"},
		} {
			if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: d}); err != nil {
				return err
			}
		}
	}

	// Watch phases from the start.
	w, err := c.Watch(ctx, &scrutinv1.ElectionList{})
	if err != nil {
		return err
	}
	defer w.Stop()
	var mu sync.Mutex
	created, scheduled := map[string]time.Time{}, map[string]time.Time{}
	allScheduled := make(chan struct{})
	target := int64(n)
	var count atomic.Int64
	go func() {
		for ev := range w.ResultChan() {
			e, ok := ev.Object.(*scrutinv1.Election)
			if !ok || ev.Type == watch.Deleted || e.Status.Phase != scrutinv1.PhaseScheduled {
				continue
			}
			key := e.Namespace + "/" + e.Name
			mu.Lock()
			if _, done := scheduled[key]; !done {
				scheduled[key] = time.Now()
				if count.Add(1) == target {
					close(allScheduled)
				}
			}
			mu.Unlock()
		}
	}()

	// Peak memory of the manager, from the kernel's own high-water mark.
	peak := func() string { return procStatus(mgr.Process.Pid, "VmHWM") }

	fmt.Printf("Applying %d Elections at once (%d clients), manager --max-concurrent-reconciles=%d...\n", n, workers, concurrency)
	start := time.Now()
	jobs := make(chan int)
	var wg sync.WaitGroup
	var createErr atomic.Value
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				e := election(i, tenants, opens)
				if err := c.Create(ctx, e); err != nil {
					createErr.Store(err)
					continue
				}
				mu.Lock()
				created[e.Namespace+"/"+e.Name] = time.Now()
				mu.Unlock()
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err, ok := createErr.Load().(error); ok {
		return err
	}
	applied := time.Since(start)
	select {
	case <-allScheduled:
	case <-time.After(30 * time.Minute):
		return fmt.Errorf("only %d of %d Elections were Scheduled after 30 minutes", count.Load(), n)
	}
	total := time.Since(start)
	mu.Lock()
	var burst []time.Duration
	for k, s := range scheduled {
		burst = append(burst, s.Sub(created[k]))
	}
	mu.Unlock()
	burstPeak := peak()

	if err := checkObjects(ctx, c); err != nil {
		return err
	}

	fmt.Printf("Applying %d more Elections one at a time...\n", single)
	var one []time.Duration
	for i := n; i < n+single; i++ {
		e := election(i, tenants, opens)
		t0 := time.Now()
		if err := c.Create(ctx, e); err != nil {
			return err
		}
		for {
			var cur scrutinv1.Election
			if err := c.Get(ctx, client.ObjectKeyFromObject(e), &cur); err != nil {
				return err
			}
			if cur.Status.Phase == scrutinv1.PhaseScheduled {
				one = append(one, time.Since(t0))
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	fmt.Printf("\n## Provisioning benchmark (%s)\n\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Printf("| measure | value |\n| --- | --- |\n")
	fmt.Printf("| Elections applied at once | %d over %d tenants, %d clients |\n", n, tenants, workers)
	fmt.Printf("| manager --max-concurrent-reconciles | %d |\n", concurrency)
	fmt.Printf("| all %d applied (API server accepted) | %s |\n", n, applied.Round(time.Millisecond))
	fmt.Printf("| all %d Scheduled with every object | %s (%.1f Elections/s) |\n", n, total.Round(time.Millisecond), float64(n)/total.Seconds())
	fmt.Printf("| apply-to-Scheduled during the burst, p50 / p99 / max | %s / %s / %s |\n", pct(burst, 50), pct(burst, 99), pct(burst, 100))
	fmt.Printf("| single Election apply-to-Scheduled (quiet, n=%d), p50 / p99 | %s / %s |\n", len(one), pct(one, 50), pct(one, 99))
	fmt.Printf("| manager peak RSS (VmHWM) after the burst | %s |\n", burstPeak)
	fmt.Printf("| manager RSS at the end | %s |\n", procStatus(mgr.Process.Pid, "VmRSS"))
	logData, _ := os.ReadFile(logPath)
	fmt.Printf("| reconcile errors logged by the manager | %d (log: %s) |\n", strings.Count(string(logData), `"msg":"Reconciler error"`), logPath)
	return nil
}

func election(i, tenants int, opens time.Time) *scrutinv1.Election {
	return &scrutinv1.Election{
		ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("tenant-%03d", i%tenants), Name: fmt.Sprintf("vote-%04d", i)},
		Spec: scrutinv1.ElectionSpec{
			Title: fmt.Sprintf("Vote %d", i), Organization: "Bench",
			Schedule:  scrutinv1.Schedule{OpensAt: metav1.NewTime(opens), ClosesAt: metav1.NewTime(opens.Add(time.Hour))},
			Questions: []scrutinv1.Question{{ID: "q", Prompt: "?", Options: []scrutinv1.Option{{ID: "a", Label: "A"}, {ID: "b", Label: "B"}}}},
			VoterRoll: scrutinv1.VoterRoll{SecretRef: &scrutinv1.SecretReference{Name: fmt.Sprintf("roll-%04d", i)}},
			Delivery:  scrutinv1.Delivery{SMTP: &scrutinv1.DeliveryChannel{SecretRef: scrutinv1.SecretReference{Name: fmt.Sprintf("smtp-%04d", i)}}},
		},
	}
}

// checkObjects verifies every Scheduled Election's namespace holds all its objects.
func checkObjects(ctx context.Context, c client.Client) error {
	var list scrutinv1.ElectionList
	if err := c.List(ctx, &list); err != nil {
		return err
	}
	for _, e := range list.Items {
		var deploys, secrets, policies metav1.PartialObjectMetadataList
		deploys.SetGroupVersionKind(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DeploymentList"})
		secrets.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "SecretList"})
		policies.SetGroupVersionKind(schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicyList"})
		for _, l := range []*metav1.PartialObjectMetadataList{&deploys, &secrets, &policies} {
			if err := c.List(ctx, l, client.InNamespace(e.Status.Namespace), client.MatchingLabels{scrutinv1.LabelElectionUID: string(e.UID)}); err != nil {
				return err
			}
		}
		if len(deploys.Items) != 1 || len(secrets.Items) != 3 || len(policies.Items) != 3 {
			return fmt.Errorf("%s/%s is Scheduled with %d Deployments, %d Secrets, %d NetworkPolicies", e.Namespace, e.Name,
				len(deploys.Items), len(secrets.Items), len(policies.Items))
		}
	}
	return nil
}

func pct(d []time.Duration, p int) string {
	if len(d) == 0 {
		return "-"
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	i = min(max(i-1, 0), len(s)-1)
	return s[i].Round(time.Millisecond).String()
}

// procStatus reads one field of /proc/PID/status ("VmHWM", "VmRSS").
func procStatus(pid int, field string) string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strings.TrimSpace(rest)
		}
	}
	return "?"
}
