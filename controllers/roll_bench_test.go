package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/roll"
	"scrutin.dev/scrutin/voting-runtime/roll/synthetic"
)

// congressVoters is the size of the roll BenchmarkCongressRollValidation reads
// (SCRUTIN_BENCH_VOTERS overrides it, e.g. 140000).
const congressVoters = 1_000_000

// BenchmarkCongressRollValidation: the controller's own code path (list the
// parts by selector, read them one at a time from the API server, validate
// streaming) over a synthetic 1,000,000-voter roll cut into about 110 Secrets of
// a real kube-apiserver. It reports the process's peak RSS (VmHWM) from the start
// of the validation, and the Go heap. Run by `make bench-congress`:
//
//	go test ./controllers -run '^$' -bench CongressRollValidation -benchtime 1x
func BenchmarkCongressRollValidation(b *testing.B) {
	voters := congressVoters
	if v, err := strconv.Atoi(os.Getenv("SCRUTIN_BENCH_VOTERS")); err == nil && v > 0 {
		voters = v
	}
	ctx := context.Background()
	ns, err := env.Namespace(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	labels := map[string]string{scrutinv1.RollLabel: "congress"}
	// the parts' digest, written as they are made: nothing of the roll is kept
	// once its parts are in the API server
	digest := sha256.New()
	count := 0
	// ~640 kB parts: a 1,000,000-voter roll in about 110 Secrets
	err = roll.Split(synthetic.Reader(synthetic.Options{Voters: voters, Seed: 15}), 640_000, func(i int, p []byte) error {
		digest.Write(p)
		count = i
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("congress-%04d", i), Labels: labels,
				Annotations: map[string]string{scrutinv1.RollPartAnnotation: strconv.Itoa(i)}},
			Data: map[string][]byte{"roll.csv": p},
		}
		return k8s.Create(ctx, s)
	})
	if err != nil {
		b.Fatal(err)
	}
	e := &scrutinv1.Election{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "congress"}}
	e.Spec.Authentication.Method = scrutinv1.EmailCode
	e.Spec.VoterRoll = scrutinv1.VoterRoll{
		Key: "roll.csv", Selector: &metav1.LabelSelector{MatchLabels: labels},
		PartCount: int32(count), Digest: "sha256:" + hex.EncodeToString(digest.Sum(nil)),
	}
	r := &ElectionReconciler{Client: k8s, APIReader: k8s, Options: testOpt}

	// the peak counts from here: the setup's garbage returned to the system first
	debug.FreeOSMemory()
	resetPeakRSS(b)
	var ms runtime.MemStats
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		list, problem, err := r.listRollParts(ctx, e)
		if err != nil || problem != nil {
			b.Fatalf("listing the parts: %v %+v", err, problem)
		}
		memo, err := r.validateRoll(ctx, e, list)
		if err != nil {
			b.Fatal(err)
		}
		if memo.problem != nil {
			b.Fatalf("%s: %s", memo.problem.reason, memo.problem.message)
		}
		if memo.summary.Voters != int64(voters) {
			b.Fatalf("%d voters, want %d", memo.summary.Voters, voters)
		}
		if i == 0 {
			b.ReportMetric(float64(len(list)), "parts")
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(voters)*float64(b.N)/time.Since(start).Seconds(), "voters/s")
	b.ReportMetric(float64(peakRSS(b))/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heap-sys-MiB")
}

// resetPeakRSS resets the kernel's VmHWM of this process (clear_refs 5).
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset the peak RSS (%v): it counts from the process's start", err)
	}
}

// peakRSS is VmHWM from /proc/self/status, in bytes.
func peakRSS(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
