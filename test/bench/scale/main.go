// Command scale measures one control plane serving many Elections: a real
// kube-apiserver and etcd, kube-controller-manager and kube-scheduler, and kwok
// faking the nodes, so that every election's pods are scheduled and "run" without
// containers; Scrutin's manager runs in this process, as main.go sets it up. It
// applies N Elections over M tenant namespaces and reports the time until all are
// Scheduled, the reconcile p50/p99, the API requests per second the manager sends
// at rest and during the burst, and the process's heap and RSS at checkpoints.
// Run it with `make bench-scale`; see test/bench/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/controlplane"
)

// Config is one run of the bench.
type Config struct {
	Elections, Tenants, Nodes, Workers, Concurrency, Checkpoint int
	Rest                                                        time.Duration // how long the manager is watched at rest
	Profiles                                                    string        // a directory for a heap profile at every checkpoint, or ""
	Drain                                                       time.Duration // how long the reconciles that follow the pods' start may take
	Timeout                                                     time.Duration // for every Election to be Scheduled
	MemoryLimit                                                 int64         // the Go soft memory limit in bytes (GOMEMLIMIT), 0: none
}

// Checkpoint is the state when a number of Elections were Scheduled.
type Checkpoint struct {
	Scheduled        int
	At               time.Duration // since the first apply
	HeapMiB, RSSMiB  float64
	ManagerRequests  int64
	ReconcileSamples uint64
}

// Result is what a run measured.
type Result struct {
	Config                       Config
	Applied, AllScheduled        time.Duration
	AllRunning                   time.Duration // every voting pod Running, every claim Bound; 0: not within the timeout
	RestBefore, Burst, RestAfter float64       // the manager's API requests per second
	PodsStarting                 float64       // the same from all Scheduled until every pod runs
	P50, P99                     float64       // reconcile seconds
	Reconciles                   uint64
	Checkpoints                  []Checkpoint
	PodsRunning, Pods            int
	ClaimsBound, Claims          int
	Waiting                      string  // one pod not Running, and why
	RestAfterKinds               string  // the requests most sent at rest after, by verb and resource
	Undrained                    string  // the reconciles had not stopped within -drain
	LiveHeapMiB                  float64 // the heap still reachable after a forced collection, at the end
	GCShare                      float64 // the garbage collector's share of the process's CPU, first apply to end
}

func main() {
	var c Config
	flag.IntVar(&c.Elections, "elections", 10000, "Elections applied at once")
	flag.IntVar(&c.Tenants, "tenants", 500, "tenant namespaces they are spread over")
	flag.IntVar(&c.Nodes, "nodes", 10, "fake nodes kwok runs")
	flag.IntVar(&c.Workers, "workers", 16, "concurrent clients applying the burst")
	flag.IntVar(&c.Concurrency, "max-concurrent-reconciles", 4, "the manager's --max-concurrent-reconciles")
	flag.IntVar(&c.Checkpoint, "checkpoint", 1000, "record memory every this many Scheduled Elections")
	flag.DurationVar(&c.Rest, "rest", 30*time.Second, "how long the idle manager's requests are counted, before and after the burst")
	flag.DurationVar(&c.Timeout, "timeout", 60*time.Minute, "how long every Election has to be Scheduled")
	flag.DurationVar(&c.Drain, "drain", 10*time.Minute, "how long to wait, once every pod runs, for the manager's reconciles to stop before the rest")
	flag.StringVar(&c.Profiles, "heap-profiles", "", "write a heap profile (go tool pprof) at every checkpoint into this directory")
	memLimit := flag.String("memory-limit", "768Mi", "the Go soft memory limit (GOMEMLIMIT) the manager runs under, as the manager Deployment's GOMEMLIMIT sets it; 0: none")
	flag.Parse()
	if q, err := resource.ParseQuantity(*memLimit); err != nil {
		fmt.Fprintln(os.Stderr, "bench: -memory-limit:", err)
		os.Exit(2)
	} else {
		c.MemoryLimit = q.Value()
	}
	res, err := Run(context.Background(), c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	table := res.Table()
	fmt.Print("\n" + table)
	root, _ := controlplane.Root()
	out := filepath.Join(root, "_output", "bench", "scale.txt")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err == nil {
		if err := os.WriteFile(out, []byte(table), 0o644); err == nil {
			fmt.Println("figures:", out)
		}
	}
}

// Run starts the control plane, the fake nodes and the manager, applies the
// Elections and measures.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ctrl.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel)))
	if cfg.MemoryLimit > 0 {
		// as the manager's Deployment sets GOMEMLIMIT (manager.goMemLimit in the chart)
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(cfg.MemoryLimit))
	}
	root, err := controlplane.Root()
	if err != nil {
		return nil, err
	}
	bins, err := findBinaries(root)
	if err != nil {
		return nil, err
	}
	env, err := controlplane.Start()
	if err != nil {
		return nil, err
	}
	defer env.Stop()
	dir, err := os.MkdirTemp("", "scrutin-scale-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		return nil, err
	}
	logDir := filepath.Join(root, "_output", "bench")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	stopCluster, err := startCluster(bins, kubeconfig, logDir)
	if err != nil {
		return nil, err
	}
	defer stopCluster()

	bcfg := rest.CopyConfig(env.Config)
	bcfg.QPS, bcfg.Burst = -1, 0
	c, err := client.NewWithWatch(bcfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		return nil, err
	}
	fmt.Printf("Preparing %d fake nodes, %d PersistentVolumes, %d tenant namespaces with %d rolls...\n", cfg.Nodes, cfg.Elections, cfg.Tenants, cfg.Elections)
	if err := createNodes(ctx, c, cfg.Nodes, cfg.Elections/cfg.Nodes+110); err != nil {
		return nil, err
	}
	if err := createVolumes(ctx, c, cfg.Elections); err != nil {
		return nil, err
	}
	for _, ns := range []string{"scrutin-system", "kube-system"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !strings.Contains(err.Error(), "already exists") {
			return nil, err
		}
	}
	for i := range cfg.Tenants {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenant(i, cfg.Tenants)}}); err != nil {
			return nil, err
		}
	}
	for i := range cfg.Elections {
		ns := tenant(i, cfg.Tenants)
		roll := fmt.Sprintf("voter_id,name,email,phone\nV%d-1,Voter One,one-%d@example.org,\nV%d-2,Voter Two,two-%d@example.org,\n", i, i, i, i)
		for name, d := range map[string]map[string]string{
			fmt.Sprintf("roll-%05d", i): {"roll.csv": roll},
			fmt.Sprintf("smtp-%05d", i): {"host": "192.0.2.25", "port": "2525"},
		} {
			if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: d}); err != nil {
				return nil, err
			}
		}
	}

	var requests requestCounter
	if err := startManager(ctx, env.Config, cfg.Concurrency, &requests); err != nil {
		return nil, err
	}
	// the manager stops before the control plane does (deferred calls run last
	// first), so that no reconcile logs a refused connection at the end
	defer cancel()
	res := &Result{Config: cfg}
	// at rest with no Election: what the caches' watches and resyncs cost
	time.Sleep(5 * time.Second) // the caches sync
	res.RestBefore = rate(&requests, cfg.Rest)

	var (
		mu          sync.Mutex
		scheduled   = map[string]bool{}
		allDone     = make(chan struct{})
		checkpoints []Checkpoint
		start       time.Time
	)
	checkpoint := func(n int) {
		heap, rss := memory()
		p50, samples := reconcileQuantile(0.5)
		p99, _ := reconcileQuantile(0.99)
		cp := Checkpoint{Scheduled: n, At: time.Since(start), HeapMiB: heap, RSSMiB: rss,
			ManagerRequests: requests.n.Load(), ReconcileSamples: samples}
		checkpoints = append(checkpoints, cp)
		// as it comes, for a run of an hour
		fmt.Printf("%s  %d Scheduled, heap %.0f MiB, RSS %.0f MiB, %d manager requests, %d reconciles (p50 %s, p99 %s so far)\n",
			cp.At.Round(time.Second), n, heap, rss, cp.ManagerRequests, samples, seconds(p50), seconds(p99))
		if cfg.Profiles != "" {
			if err := writeHeapProfile(cfg.Profiles, n); err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
			}
		}
	}
	startRequests, startCPU := requests.n.Load(), cpuSeconds()
	mu.Lock()
	start = time.Now()
	checkpoint(0)
	mu.Unlock()
	seen := func(e *scrutinv1.Election) {
		if e.Status.Phase != scrutinv1.PhaseScheduled {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if key := e.Namespace + "/" + e.Name; !scheduled[key] {
			scheduled[key] = true
			n := len(scheduled)
			if n%cfg.Checkpoint == 0 || n == cfg.Elections {
				checkpoint(n)
			}
			if n == cfg.Elections {
				close(allDone)
			}
		}
	}
	go followElections(ctx, c, seen)

	fmt.Printf("Applying %d Elections over %d tenants (%d clients), --max-concurrent-reconciles=%d...\n",
		cfg.Elections, cfg.Tenants, cfg.Workers, cfg.Concurrency)
	opens := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second) // stays Scheduled
	jobs := make(chan int)
	var wg sync.WaitGroup
	var createErr atomic.Value
	for range cfg.Workers {
		wg.Go(func() {
			for i := range jobs {
				if err := c.Create(ctx, election(i, cfg.Tenants, opens)); err != nil {
					createErr.Store(err)
				}
			}
		})
	}
	for i := range cfg.Elections {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err, ok := createErr.Load().(error); ok {
		return nil, fmt.Errorf("while applying Elections: %w", err)
	}
	res.Applied = time.Since(start)
	select {
	case <-allDone:
	case <-time.After(cfg.Timeout):
		mu.Lock()
		n := len(scheduled)
		mu.Unlock()
		return nil, fmt.Errorf("only %d of %d Elections were Scheduled after %s", n, cfg.Elections, cfg.Timeout)
	}
	res.AllScheduled = time.Since(start)
	res.Burst = float64(requests.n.Load()-startRequests) / res.AllScheduled.Seconds()
	res.P50, res.Reconciles = reconcileQuantile(0.5)
	res.P99, _ = reconcileQuantile(0.99)
	mu.Lock()
	res.Checkpoints = checkpoints
	mu.Unlock()

	// then until kwok runs every voting pod on a bound claim (each Deployment
	// that becomes available brings its Election back to the controller)
	scheduledRequests, scheduledAt := requests.n.Load(), time.Now()
	for {
		if err := res.countWorkloads(ctx, c); err != nil {
			return nil, err
		}
		if res.Pods >= cfg.Elections && res.PodsRunning == res.Pods && res.ClaimsBound == cfg.Elections { // one pod each at least
			res.AllRunning = time.Since(start)
			break
		}
		if time.Since(start) > cfg.Timeout {
			break // the table says how many run
		}
		time.Sleep(5 * time.Second)
	}
	res.PodsStarting = float64(requests.n.Load()-scheduledRequests) / time.Since(scheduledAt).Seconds()
	// at rest with every Election Scheduled: their pods run (kwok) and each one
	// waits for its opening, a month away
	// the pods' availability brings each Election back once more (Ready): the
	// rest begins when no reconcile has run for 10 seconds
	// (at most -drain: a manager that cannot keep up is a finding, not a hang)
	drainStart := time.Now()
	_, drainFrom := reconcileQuantile(0.5)
	fmt.Printf("%s  every voting pod runs; waiting for the manager's reconciles to stop\n", time.Since(start).Round(time.Second))
	for quiet, last := 0, uint64(0); quiet < 10; quiet++ {
		if _, n := reconcileQuantile(0.5); n != last {
			quiet, last = 0, n
		}
		if time.Since(drainStart) > cfg.Drain {
			_, n := reconcileQuantile(0.5)
			res.Undrained = fmt.Sprintf("%d reconciles in the %s after every pod ran (%.1f/s), still running", n-drainFrom, cfg.Drain,
				float64(n-drainFrom)/cfg.Drain.Seconds())
			break
		}
		time.Sleep(time.Second)
	}
	before := requests.snapshot()
	res.RestAfter = rate(&requests, cfg.Rest)
	res.RestAfterKinds = topKinds(before, requests.snapshot(), 6)
	_, res.Reconciles = reconcileQuantile(0.5)
	heap, rss := memory()
	res.Checkpoints = append(res.Checkpoints, Checkpoint{Scheduled: cfg.Elections, At: time.Since(start), HeapMiB: heap, RSSMiB: rss,
		ManagerRequests: requests.n.Load(), ReconcileSamples: res.Reconciles})
	if end := cpuSeconds(); end.total > startCPU.total {
		res.GCShare = (end.gc - startCPU.gc) / (end.total - startCPU.total)
	}
	res.LiveHeapMiB = liveHeapMiB()
	return res, nil
}

// followElections calls seen with every Election as it changes. The API server
// closes a watch that falls behind a burst (and at its timeout): the watch is then
// made again from the last version seen, or from a fresh list when that version
// is gone, so that no transition is missed.
func followElections(ctx context.Context, c client.WithWatch, seen func(*scrutinv1.Election)) {
	rv := ""
	for ctx.Err() == nil {
		if rv == "" {
			var list scrutinv1.ElectionList
			if err := c.List(ctx, &list); err != nil {
				time.Sleep(time.Second)
				continue
			}
			for i := range list.Items {
				seen(&list.Items[i])
			}
			rv = list.ResourceVersion
		}
		w, err := c.Watch(ctx, &scrutinv1.ElectionList{}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv}})
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		began, events := time.Now(), 0
		for ev := range w.ResultChan() {
			events++
			if ev.Type == watch.Error {
				if st, ok := ev.Object.(*metav1.Status); !ok || st.Code != http.StatusGone {
					fmt.Printf("(the Elections' watch: %v)\n", apierrors.FromObject(ev.Object))
				}
				rv = "" // list again
				break
			}
			if e, ok := ev.Object.(*scrutinv1.Election); ok && ev.Type != watch.Deleted {
				rv = e.ResourceVersion
				seen(e)
			}
		}
		w.Stop()
		if ctx.Err() == nil {
			fmt.Printf("(the Elections' watch ended after %s and %d events: made again)\n", time.Since(began).Round(time.Millisecond), events)
		}
	}
}

// topKinds names the n kinds of request sent most between two snapshots.
func topKinds(before, after map[string]int64, n int) string {
	type kc struct {
		kind string
		n    int64
	}
	var all []kc
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			all = append(all, kc{k, d})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n || all[i].n == all[j].n && all[i].kind < all[j].kind })
	var out []string
	for i := 0; i < len(all) && i < n; i++ {
		out = append(out, fmt.Sprintf("%s %d", all[i].kind, all[i].n))
	}
	return strings.Join(out, ", ")
}

// rate counts the manager's requests per second over d.
func rate(c *requestCounter, d time.Duration) float64 {
	before := c.n.Load()
	time.Sleep(d)
	return float64(c.n.Load()-before) / d.Seconds()
}

// countWorkloads counts the voting pods kwok runs and the claims bound.
func (r *Result) countWorkloads(ctx context.Context, c client.Client) error {
	r.Pods, r.PodsRunning, r.Claims, r.ClaimsBound, r.Waiting = 0, 0, 0, 0, ""
	var pods corev1.PodList
	if err := c.List(ctx, &pods); err != nil {
		return err
	}
	for _, p := range pods.Items {
		r.Pods++
		if p.Status.Phase == corev1.PodRunning {
			r.PodsRunning++
		} else if r.Waiting == "" {
			r.Waiting = fmt.Sprintf("%s/%s on node %q: %s", p.Namespace, p.Name, p.Spec.NodeName, p.Status.Phase)
			for _, c := range p.Status.Conditions {
				if c.Status != corev1.ConditionTrue {
					r.Waiting += fmt.Sprintf(", %s %s: %s", c.Type, c.Reason, c.Message)
				}
			}
		}
	}
	var claims corev1.PersistentVolumeClaimList
	if err := c.List(ctx, &claims); err != nil {
		return err
	}
	for _, pvc := range claims.Items {
		r.Claims++
		if pvc.Status.Phase == corev1.ClaimBound {
			r.ClaimsBound++
		}
	}
	return nil
}

func tenant(i, tenants int) string { return fmt.Sprintf("tenant-%03d", i%tenants) }

func election(i, tenants int, opens time.Time) *scrutinv1.Election {
	return &scrutinv1.Election{
		ObjectMeta: metav1.ObjectMeta{Namespace: tenant(i, tenants), Name: fmt.Sprintf("vote-%05d", i)},
		Spec: scrutinv1.ElectionSpec{
			Title: fmt.Sprintf("Vote %d", i), Organization: "Bench",
			Schedule:  scrutinv1.Schedule{OpensAt: metav1.NewTime(opens), ClosesAt: metav1.NewTime(opens.Add(time.Hour))},
			Questions: []scrutinv1.Question{{ID: "q", Prompt: "?", Options: []scrutinv1.Option{{ID: "a", Label: "A"}, {ID: "b", Label: "B"}}}},
			VoterRoll: scrutinv1.VoterRoll{SecretRef: &scrutinv1.SecretReference{Name: fmt.Sprintf("roll-%05d", i)}},
			Delivery:  scrutinv1.Delivery{SMTP: &scrutinv1.DeliveryChannel{SecretRef: scrutinv1.SecretReference{Name: fmt.Sprintf("smtp-%05d", i)}}},
		},
	}
}

// Table is the run's figures as a Markdown table.
func (r *Result) Table() string {
	var b strings.Builder
	c := r.Config
	fmt.Fprintf(&b, "## Scale benchmark (%s)\n\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "| measure | value |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| Elections applied at once | %d over %d tenants, %d clients, %d kwok nodes |\n", c.Elections, c.Tenants, c.Workers, c.Nodes)
	fmt.Fprintf(&b, "| manager --max-concurrent-reconciles | %d |\n", c.Concurrency)
	fmt.Fprintf(&b, "| all applied (API server accepted) | %s |\n", r.Applied.Round(time.Millisecond))
	fmt.Fprintf(&b, "| all Scheduled | %s (%.1f Elections/s) |\n", r.AllScheduled.Round(time.Millisecond), float64(c.Elections)/r.AllScheduled.Seconds())
	fmt.Fprintf(&b, "| reconcile p50 / p99 until all Scheduled (from the histogram) | %s / %s |\n", seconds(r.P50), seconds(r.P99))
	fmt.Fprintf(&b, "| reconciles in all, at the end | %d |\n", r.Reconciles)
	fmt.Fprintf(&b, "| manager API requests/s: at rest before, during the burst, while the pods start, at rest after (%s windows at rest; after, once no reconcile ran for 10 s) | %.1f / %.1f / %.1f / %.1f |\n",
		c.Rest, r.RestBefore, r.Burst, r.PodsStarting, r.RestAfter)
	if r.Undrained != "" {
		fmt.Fprintf(&b, "| not at rest after | %s |\n", r.Undrained)
	}
	if r.RestAfterKinds != "" {
		fmt.Fprintf(&b, "| requests most sent at rest after | %s |\n", r.RestAfterKinds)
	}
	fmt.Fprintf(&b, "| voting pods Running (kwok) | %d of %d |\n", r.PodsRunning, r.Pods)
	if r.Waiting != "" {
		fmt.Fprintf(&b, "| a pod not Running | %s |\n", r.Waiting)
	}
	if r.AllRunning > 0 {
		fmt.Fprintf(&b, "| all voting pods Running on Bound claims | %s after the first apply |\n", r.AllRunning.Round(time.Second))
	}
	fmt.Fprintf(&b, "| store claims Bound | %d of %d |\n", r.ClaimsBound, r.Claims)
	if c.MemoryLimit > 0 {
		fmt.Fprintf(&b, "| Go soft memory limit (GOMEMLIMIT) | %.0f MiB |\n", float64(c.MemoryLimit)/(1<<20))
	} else {
		fmt.Fprintf(&b, "| Go soft memory limit (GOMEMLIMIT) | none |\n")
	}
	fmt.Fprintf(&b, "| live heap after a forced collection, at the end | %.0f MiB |\n", r.LiveHeapMiB)
	fmt.Fprintf(&b, "| garbage collector's share of the process's CPU, first apply to end | %.1f %% |\n", 100*r.GCShare)
	fmt.Fprintf(&b, "\n| Scheduled | at | heap MiB | RSS MiB | manager requests | reconciles |\n| ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for i, cp := range r.Checkpoints {
		label := fmt.Sprint(cp.Scheduled)
		if i == len(r.Checkpoints)-1 {
			label += " (after the rest)"
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f | %d | %d |\n", label, cp.At.Round(time.Second), cp.HeapMiB, cp.RSSMiB, cp.ManagerRequests, cp.ReconcileSamples)
	}
	return b.String()
}

// seconds prints a duration in seconds; "-" when there is none (no reconcile yet).
func seconds(s float64) string {
	if math.IsNaN(s) {
		return "-"
	}
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}
