package controllers

import (
	"context"
	"sort"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// The delivery watch: the news of Elections that wait for their opening.
//
// Before the opening, an Election is reconciled again while its delivery counts
// move by themselves (decide: often while messages wait, every minute while the
// last read moved them). Once they hold still, nothing in the cluster changes
// when they move again: a hotline's resend, a bounce or a delivery report
// reaches only the runtime. Reconciling every waiting Election on a timer to
// find out keeps a manager of thousands of Elections busy for good (10,000 at
// one reconcile a minute is 167 a second, and each reconcile reads the tenant's
// Secrets from the API server). Instead, the delivery watch reads each waiting
// runtime's status itself, spread over a period and bounded per second, and
// brings an Election back only when its counts differ from those it last
// wrote: a read of the runtime, never of the API server.

const (
	// deliveryWatchEvery is how often each waiting Election's runtime is read.
	deliveryWatchEvery = 5 * time.Minute
	// deliveryWatchPerSecond bounds the reads (at 10,000 waiting Elections a
	// round then takes 10,000 / 20 = 500 s instead of deliveryWatchEvery).
	deliveryWatchPerSecond = 20
)

// deliveryWatch reads the runtimes of the Elections it follows and sends the key
// of each Election whose delivery counts moved on its channel, which the
// controller watches.
type deliveryWatch struct {
	runtime   RuntimeClient
	every     time.Duration
	perSecond float64
	changed   chan event.TypedGenericEvent[*scrutinv1.Election]

	mu       sync.Mutex
	followed map[types.NamespacedName]watchedRuntime
}

// watchedRuntime is how to reach a followed Election's runtime, and the delivery
// counts its status last showed.
type watchedRuntime struct {
	target RuntimeTarget
	shown  *scrutinv1.DeliveryStatus
}

func newDeliveryWatch(rt RuntimeClient, every time.Duration, perSecond float64) *deliveryWatch {
	return &deliveryWatch{
		runtime: rt, every: every, perSecond: perSecond,
		changed:  make(chan event.TypedGenericEvent[*scrutinv1.Election], 1024),
		followed: map[types.NamespacedName]watchedRuntime{},
	}
}

// follow starts or updates the following of an Election whose status shows
// these delivery counts.
func (w *deliveryWatch) follow(key types.NamespacedName, target RuntimeTarget, shown *scrutinv1.DeliveryStatus) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.followed[key] = watchedRuntime{target: target, shown: shown.DeepCopy()}
}

// forget stops following an Election (it opened, or is gone).
func (w *deliveryWatch) forget(key types.NamespacedName) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.followed, key)
}

// keys are the followed Elections, in a stable order.
func (w *deliveryWatch) keys() []types.NamespacedName {
	w.mu.Lock()
	defer w.mu.Unlock()
	keys := make([]types.NamespacedName, 0, len(w.followed))
	for k := range w.followed {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys
}

// check reads one followed Election's runtime and reports whether its delivery
// counts moved; a move is sent once, and the Election stays followed until its
// reconcile says otherwise. A runtime that does not answer is left to the
// reconciles.
func (w *deliveryWatch) check(ctx context.Context, key types.NamespacedName) bool {
	w.mu.Lock()
	f, ok := w.followed[key]
	w.mu.Unlock()
	if !ok {
		return false
	}
	st, err := w.runtime.Status(ctx, f.target)
	if err != nil || st.Delivery == nil || equality.Semantic.DeepEqual(st.Delivery, f.shown) {
		return false
	}
	w.mu.Lock()
	if cur, ok := w.followed[key]; ok && cur.target == f.target {
		cur.shown = st.Delivery.DeepCopy()
		w.followed[key] = cur
	}
	w.mu.Unlock()
	e := &scrutinv1.Election{}
	e.Namespace, e.Name = key.Namespace, key.Name
	select {
	case w.changed <- event.TypedGenericEvent[*scrutinv1.Election]{Object: e}:
	case <-ctx.Done():
	}
	return true
}

// Start reads every followed Election's runtime once per period, at most
// perSecond reads a second (so a round of many takes longer than the period, and
// the next starts at once), until ctx ends (a manager Runnable: it runs on the
// leader only).
func (w *deliveryWatch) Start(ctx context.Context) error {
	limit := rate.NewLimiter(rate.Limit(w.perSecond), 1)
	for {
		round := time.Now()
		for _, key := range w.keys() {
			if err := limit.Wait(ctx); err != nil {
				return nil
			}
			w.check(ctx, key)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(round.Add(w.every))): // at once when the round took longer
		}
	}
}
