package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	dto "github.com/prometheus/client_model/go"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/controllers"
	"scrutin.dev/scrutin/internal/controlplane"
	"scrutin.dev/scrutin/internal/specs"
)

// requestCounter counts the HTTP requests a rest.Config's clients send, in all
// and by verb and resource.
type requestCounter struct {
	n      atomic.Int64
	mu     sync.Mutex
	byKind map[string]int64
}

func (c *requestCounter) wrap(cfg *rest.Config) {
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			c.n.Add(1)
			kind := requestKind(r)
			c.mu.Lock()
			if c.byKind == nil {
				c.byKind = map[string]int64{}
			}
			c.byKind[kind]++
			c.mu.Unlock()
			return rt.RoundTrip(r)
		})
	})
}

// snapshot is a copy of the counts by verb and resource.
func (c *requestCounter) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.byKind)
}

// requestKind is a request's verb and resource: "GET secrets", "PATCH
// elections/status", "WATCH deployments"...
func requestKind(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// /api/v1/..., /apis/group/version/...
	if len(parts) > 0 && parts[0] == "apis" && len(parts) > 2 {
		parts = parts[3:]
	} else if len(parts) > 1 {
		parts = parts[2:]
	}
	if len(parts) >= 2 && parts[0] == "namespaces" && len(parts) > 2 {
		parts = parts[2:]
	}
	resource := ""
	if len(parts) > 0 {
		resource = parts[0]
	}
	if len(parts) > 2 {
		resource += "/" + parts[2]
	}
	verb := r.Method
	if r.URL.Query().Get("watch") == "true" {
		verb = "WATCH"
	} else if r.Method == http.MethodGet && len(parts) == 1 {
		verb = "LIST"
	}
	return verb + " " + resource
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// healthyRuntime answers the controller as a healthy voting-runtime would before
// its opening: kwok's pods run no container, so no runtime serves the control API.
// It keeps the schedule version each election was last sent, and reports its
// letters sent (the bench's rolls hold 2 voters), counts that never move again.
type healthyRuntime struct{ versions sync.Map } // namespace -> int64

func (h *healthyRuntime) Status(_ context.Context, t controllers.RuntimeTarget) (*controllers.RuntimeStatus, error) {
	v, _ := h.versions.Load(t.Namespace)
	version, _ := v.(int64)
	return &controllers.RuntimeStatus{ScheduleVersion: version, Voters: 2, Delivery: &scrutinv1.DeliveryStatus{
		Channels: []scrutinv1.ChannelDelivery{{Channel: "mail", Sent: 2}},
	}}, nil
}

func (h *healthyRuntime) SetSchedule(_ context.Context, t controllers.RuntimeTarget, s controllers.RuntimeSchedule) error {
	h.versions.Store(t.Namespace, s.Version)
	return nil
}

func (*healthyRuntime) Open(context.Context, controllers.RuntimeTarget) error  { return nil }
func (*healthyRuntime) Close(context.Context, controllers.RuntimeTarget) error { return nil }

func (*healthyRuntime) Results(context.Context, controllers.RuntimeTarget) (*controllers.RuntimeResults, error) {
	return nil, controllers.ErrNotTallied
}

func (*healthyRuntime) Records(context.Context, controllers.RuntimeTarget, io.Writer) error {
	return controllers.ErrNotTallied
}

// startManager runs Scrutin's manager in this process as main.go sets it up (its
// cache and client options, the Election controller), with the stub runtime and
// every request it sends to the API server counted.
func startManager(ctx context.Context, base *rest.Config, concurrency int, count *requestCounter) error {
	cfg := rest.CopyConfig(base)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side limit: the API server's fairness decides
	count.wrap(cfg)
	opts := specs.Options{
		RuntimeImage:      "scrutin.dev/voting-runtime:bench",
		OperatorNamespace: "scrutin-system",
		DNSNamespace:      "kube-system",
		DNSPodLabels:      map[string]string{"k8s-app": "kube-dns"},
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 controlplane.Scheme(),
		Cache:                  controllers.CacheOptions(opts.Route),
		Client:                 controllers.ClientOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		return fmt.Errorf("while creating the manager: %w", err)
	}
	r := controllers.NewElectionReconciler(mgr, opts)
	r.Runtime = &healthyRuntime{}
	r.MaxConcurrentReconciles = concurrency
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("while setting up the Election controller: %w", err)
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "bench: the manager stopped:", err)
		}
	}()
	return nil
}

// reconcileQuantile estimates a quantile of the Election controller's reconcile
// durations from controller-runtime's histogram (linear within a bucket).
func reconcileQuantile(q float64) (float64, uint64) {
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		return math.NaN(), 0
	}
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_time_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabel(m, "controller", "election") {
				continue
			}
			h := m.GetHistogram()
			total := h.GetSampleCount()
			if total == 0 {
				return math.NaN(), 0
			}
			rank := q * float64(total)
			var prevCount uint64
			prevBound := 0.0
			for _, b := range h.GetBucket() {
				if float64(b.GetCumulativeCount()) >= rank {
					in := float64(b.GetCumulativeCount() - prevCount)
					if in == 0 {
						return b.GetUpperBound(), total
					}
					return prevBound + (b.GetUpperBound()-prevBound)*(rank-float64(prevCount))/in, total
				}
				prevCount, prevBound = b.GetCumulativeCount(), b.GetUpperBound()
			}
			return math.Inf(1), total
		}
	}
	return math.NaN(), 0
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// memory is the process's Go heap in use and its resident set, in MiB.
func memory() (heapMiB, rssMiB float64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20), float64(vmRSSKiB()) / 1024
}

// liveHeapMiB is the heap still reachable after a forced collection, in MiB:
// what the process needs, whatever the collector's pace left in HeapAlloc.
func liveHeapMiB() float64 {
	runtime.GC()
	heap, _ := memory()
	return heap
}

// cpuTimes is the process's CPU time so far, in all and spent by the garbage
// collector (runtime/metrics' estimates).
type cpuTimes struct{ total, gc float64 }

func cpuSeconds() cpuTimes {
	s := []metrics.Sample{{Name: "/cpu/classes/total:cpu-seconds"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	var t cpuTimes
	if s[0].Value.Kind() == metrics.KindFloat64 {
		t.total = s[0].Value.Float64()
	}
	if s[1].Value.Kind() == metrics.KindFloat64 {
		t.gc = s[1].Value.Float64()
	}
	return t
}

// vmRSSKiB reads VmRSS from /proc/self/status.
func vmRSSKiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kib
		}
	}
	return 0
}

// writeHeapProfile writes the live heap as of the last collection, after one
// more, to dir/heap-<n>.pprof (go tool pprof -sample_index=inuse_space).
func writeHeapProfile(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("heap-%05d.pprof", n)))
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
