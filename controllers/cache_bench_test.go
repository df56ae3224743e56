package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// BenchmarkSecretCache measures the heap a cache of roll-part Secrets keeps, as
// the manager could cache them: whole (typed), metadata only as the watch of
// Secrets had it, and metadata only trimmed by trimCachedSecret. Half of the
// Secrets are created plainly, half as `kubectl apply` leaves them (a copy of the
// data in an annotation). SCRUTIN_BENCH_SECRETS sets how many (default 1,000, of
// 16 kB each):
//
//	go test ./controllers -run '^$' -bench SecretCache -benchtime 1x
func BenchmarkSecretCache(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("SCRUTIN_BENCH_SECRETS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	ns, err := env.Namespace(ctx, "cache-bench")
	if err != nil {
		b.Fatal(err)
	}
	part := []byte(strings.Repeat("A-0001,Camille Martin,camille@example.org,+33612345678\n", 16_000/55))
	for i := range n {
		s := &corev1.Secret{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("roll-%05d", i),
				Labels:      map[string]string{scrutinv1.RollLabel: "bench"},
				Annotations: map[string]string{scrutinv1.RollPartAnnotation: strconv.Itoa(i + 1)}},
			Data: map[string][]byte{"roll.csv": part},
		}
		if i%2 == 1 {
			last, err := json.Marshal(s)
			if err != nil {
				b.Fatal(err)
			}
			s.Annotations[lastAppliedAnnotation] = string(last)
		}
		if err := k8s.Create(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	secretMeta := &metav1.PartialObjectMetadata{}
	secretMeta.SetGroupVersionKind(secretGVK)
	for _, c := range []struct {
		name      string
		obj       client.Object
		transform toolscache.TransformFunc
	}{
		{"typed", &corev1.Secret{}, nil},
		{"metadata", secretMeta, nil},
		{"metadata-trimmed", secretMeta, trimCachedSecret},
	} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				heap := cachedHeap(b, ns, c.obj, c.transform, n)
				b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
				b.ReportMetric(float64(heap)/float64(n), "B/secret")
			}
		})
	}
}

// cachedHeap starts a cache of obj's kind in namespace ns, waits for its n objects
// and returns the heap it added.
func cachedHeap(b *testing.B, ns string, obj client.Object, transform toolscache.TransformFunc, n int) int64 {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	c, err := cache.New(env.Config, cache.Options{
		Scheme:            env.Scheme,
		DefaultNamespaces: map[string]cache.Config{ns: {}},
		ByObject:          map[client.Object]cache.ByObject{&corev1.Secret{}: {Transform: transform}},
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.GetInformer(ctx, obj); err != nil {
		b.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		b.Fatal("the cache did not sync")
	}
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	if _, typed := obj.(*corev1.Secret); typed {
		var l corev1.SecretList
		if err := c.List(ctx, &l); err != nil || len(l.Items) < n {
			b.Fatalf("%d Secrets cached (%v), want %d", len(l.Items), err, n)
		}
	} else if err := c.List(ctx, list); err != nil || len(list.Items) < n {
		b.Fatalf("%d Secrets cached (%v), want %d", len(list.Items), err, n)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(c)
	return int64(ms.HeapAlloc) - int64(before)
}
