package main

import (
	"context"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/controlplane"
)

// TestFiveElections runs the whole harness on five Elections: the fake nodes run
// their pods on bound claims, and the table holds every figure.
func TestFiveElections(t *testing.T) {
	root, err := controlplane.Root()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := findBinaries(root); err != nil {
		t.Skipf("the scale harness needs kwok, kube-controller-manager and kube-scheduler: %v", err)
	}
	if _, err := os.Stat(controlplane.AssetsDir(root)); err != nil {
		t.Skipf("no envtest binaries: %v", err)
	}
	res, err := Run(context.Background(), Config{
		Elections: 5, Tenants: 2, Nodes: 2, Workers: 2, Concurrency: 2, Checkpoint: 2,
		Rest: time.Second, Timeout: 90 * time.Second, Drain: time.Minute, MemoryLimit: 768 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.AllScheduled <= 0 || res.Reconciles < 5 {
		t.Errorf("all Scheduled after %s with %d reconciles", res.AllScheduled, res.Reconciles)
	}
	if res.Pods < 5 || res.PodsRunning != res.Pods || res.Claims != 5 || res.ClaimsBound != 5 || res.AllRunning <= 0 {
		t.Errorf("%d of %d pods Running, %d of %d claims Bound; %s", res.PodsRunning, res.Pods, res.ClaimsBound, res.Claims, res.Waiting)
	}
	if res.Burst <= 0 || res.P50 <= 0 || res.P99 < res.P50 {
		t.Errorf("burst %.1f requests/s, reconcile p50 %.3fs p99 %.3fs", res.Burst, res.P50, res.P99)
	}
	// checkpoints at 0, 2, 4, 5 Scheduled and after the rest
	if got := len(res.Checkpoints); got != 5 {
		t.Errorf("%d checkpoints, want 5: %+v", got, res.Checkpoints)
	}
	for _, cp := range res.Checkpoints {
		if cp.RSSMiB <= 0 || cp.HeapMiB <= 0 {
			t.Errorf("checkpoint without memory: %+v", cp)
		}
	}
	if res.LiveHeapMiB <= 0 || res.GCShare <= 0 || res.GCShare >= 1 {
		t.Errorf("live heap %.1f MiB, the collector's CPU share %.3f", res.LiveHeapMiB, res.GCShare)
	}
	if got := debug.SetMemoryLimit(-1); got == 768<<20 {
		t.Errorf("the run left its memory limit (%d bytes) in place", got)
	}
	table := res.Table()
	for _, want := range []string{"| all Scheduled |", "5 (after the rest)", "| Go soft memory limit (GOMEMLIMIT) | 768 MiB |", "| live heap after a forced collection, at the end |"} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}
}
