package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// statusOnly is a RuntimeClient whose runtimes answer only their status, from a
// map by namespace (no entry: unreachable); it counts the reads.
type statusOnly struct {
	RuntimeClient
	mu     sync.Mutex
	status map[string]*RuntimeStatus
	reads  int
}

func (s *statusOnly) Status(_ context.Context, t RuntimeTarget) (*RuntimeStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	st, ok := s.status[t.Namespace]
	if !ok {
		return nil, errors.New("unreachable")
	}
	c := *st
	c.Delivery = st.Delivery.DeepCopy()
	return &c, nil
}

func (s *statusOnly) set(ns string, d *scrutinv1.DeliveryStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status[ns] = &RuntimeStatus{Voters: 4, Delivery: d}
}

func mail(sent, bounced int64) *scrutinv1.DeliveryStatus {
	return &scrutinv1.DeliveryStatus{Channels: []scrutinv1.ChannelDelivery{{Channel: "mail", Sent: sent, Bounced: bounced}}}
}

// TestDeliveryWatch: the watch brings back, once, the followed Election whose
// runtime's delivery counts differ from those its status shows, and no other: not
// one whose counts are as shown, not one whose runtime does not answer, not one
// forgotten.
func TestDeliveryWatch(t *testing.T) {
	rt := &statusOnly{status: map[string]*RuntimeStatus{}}
	w := newDeliveryWatch(rt, time.Hour, 1000)
	still, moved, silent, gone := types.NamespacedName{Namespace: "t", Name: "still"}, types.NamespacedName{Namespace: "t", Name: "moved"},
		types.NamespacedName{Namespace: "t", Name: "silent"}, types.NamespacedName{Namespace: "t", Name: "gone"}
	rt.set("ns-still", mail(4, 0))
	rt.set("ns-moved", mail(4, 1)) // a bounce reported since the status was written
	rt.set("ns-gone", mail(9, 9))
	w.follow(still, RuntimeTarget{Namespace: "ns-still"}, mail(4, 0))
	w.follow(moved, RuntimeTarget{Namespace: "ns-moved"}, mail(4, 0))
	w.follow(silent, RuntimeTarget{Namespace: "ns-silent"}, mail(4, 0))
	w.follow(gone, RuntimeTarget{Namespace: "ns-gone"}, mail(4, 0))
	w.forget(gone)

	ctx := context.Background()
	var brought []types.NamespacedName
	for _, k := range w.keys() {
		if w.check(ctx, k) {
			brought = append(brought, k)
		}
	}
	if len(brought) != 1 || brought[0] != moved {
		t.Fatalf("brought back %v, want only %v", brought, moved)
	}
	if ev := <-w.changed; ev.Object.Namespace != "t" || ev.Object.Name != "moved" {
		t.Errorf("the event names %s/%s", ev.Object.Namespace, ev.Object.Name)
	}
	if w.check(ctx, moved) {
		t.Error("the same move was sent twice")
	}
	if w.check(ctx, gone) || rt.reads != 4 {
		t.Errorf("a forgotten Election's runtime was read (%d reads, want 4)", rt.reads)
	}
}

// TestDeliveryWatchRounds: running, the watch reads each followed runtime once per
// period, and a move made between two rounds comes back within a round.
func TestDeliveryWatchRounds(t *testing.T) {
	rt := &statusOnly{status: map[string]*RuntimeStatus{}}
	w := newDeliveryWatch(rt, 300*time.Millisecond, 1000)
	key := types.NamespacedName{Namespace: "t", Name: "board"}
	rt.set("ns", mail(4, 0))
	w.follow(key, RuntimeTarget{Namespace: "ns"}, mail(4, 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	time.Sleep(time.Second) // rounds at about 0, 0.3, 0.6 and 0.9 s
	rt.mu.Lock()
	reads := rt.reads
	rt.mu.Unlock()
	if reads < 2 || reads > 5 {
		t.Errorf("%d reads of one runtime in a second, with a period of 300 ms", reads)
	}
	select {
	case ev := <-w.changed:
		t.Fatalf("brought back %s with nothing moved", ev.Object.Name)
	default:
	}
	rt.set("ns", mail(4, 2))
	select {
	case ev := <-w.changed:
		if ev.Object.Name != "board" {
			t.Errorf("brought back %s", ev.Object.Name)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a move was not brought back within 5 s")
	}
}

// TestDeliveryNewsBeforeTheOpening: an Election waiting for its opening, whose
// runtime's delivery counts are those its status shows, has no wake-up before its
// opening an hour away; a bounce its runtime reports afterwards still reaches
// status.delivery within seconds, through the delivery watch.
func TestDeliveryNewsBeforeTheOpening(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	e := create(t, newElection(t, ns, "letters-news", time.Hour, 2*time.Hour))
	cur := waitPhase(t, e, scrutinv1.PhaseScheduled, 20*time.Second)
	sent := mail(4, 0)
	sent.Channels[0].Delivered = 3
	double.setDelivery(cur.Status.Namespace, sent)
	// the status already shows them (as a restarted manager finds it)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur = getElection(t, e)
		cur.Status.Delivery = sent.DeepCopy()
		return k8s.Status().Update(ctx, cur)
	}); err != nil {
		t.Fatal(err)
	}

	// the pods become available: the runtime is read from then on, and its
	// counts are as shown
	markRuntimeAvailable(t, cur.Status.Namespace)
	waitFor(t, "Ready, the runtime read", 20*time.Second, func() (bool, string) {
		c := condition(getElection(t, e), scrutinv1.ConditionReady)
		return c.Status == metav1.ConditionTrue && slices.Contains(double.callsTo(cur.Status.Namespace), "status"), c.Reason + ": " + c.Message
	})

	bounced := mail(4, 1)
	bounced.Channels[0].Delivered = 3
	double.setDelivery(cur.Status.Namespace, bounced)
	waitFor(t, "the bounce in status.delivery", 15*time.Second, func() (bool, string) {
		cur = getElection(t, e)
		return cur.Status.Delivery != nil && equality.Semantic.DeepEqual(cur.Status.Delivery, bounced), fmt.Sprintf("%+v", cur.Status.Delivery)
	})
}
