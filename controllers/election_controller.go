package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// ElectionReconciler keeps each Election's namespace converged and moves the Election
// through its phases on schedule. Each concern lives in its own file:
// election_provision.go (namespace, keys, objects), election_roll.go,
// election_database.go, election_lifecycle.go (schedule, runtime, results),
// election_status.go and election_delete.go.
type ElectionReconciler struct {
	// Client reads from the cache, which holds only Scrutin's own objects (and no
	// Secret at all: Secrets are read from the API server).
	client.Client
	// APIReader reads from the API server: tenant Secrets and the election's keys.
	APIReader client.Reader
	// Cache reads the manager's caches directly, for the Secrets' metadata (the
	// Client sends typed Secret reads to the API server). Nil: Secrets are always
	// applied.
	Cache    client.Reader
	Recorder events.EventRecorder
	Options  specs.Options
	// Runtime talks to each election's voting-runtime.
	Runtime RuntimeClient
	// Archives writes tallied elections' records archives to their buckets.
	Archives ArchiveStore
	// Databases creates and drops elections' own PostgreSQL databases.
	Databases Databases
	// Resolver turns the election's mail, SMS and database hosts into addresses for
	// its egress NetworkPolicy.
	Resolver Resolver
	// Clock tells the time an Election is reconciled at; time.Now for every
	// Election when nil. It is read once per reconcile (specs.Inputs.Now). Each
	// Election may have a clock of its own: the tests move one Election's time
	// without touching the others that share the manager.
	Clock func(election types.NamespacedName) time.Time
	// MaxConcurrentReconciles is how many Elections are reconciled at once (1 when 0).
	MaxConcurrentReconciles int
	// DeliveryWatchEvery is how often the delivery watch reads the runtime of
	// each Election waiting for its opening (deliveryWatchEvery when 0).
	DeliveryWatchEvery time.Duration

	// deliveries is the delivery watch (delivery_watch.go), made by
	// SetupWithManager.
	deliveries *deliveryWatch

	// rollMemos remember, per Election, the last validation of its roll.
	rollMemos rollMemos
	// credentialsSeen remembers, per open Election, the version of the tenant's
	// public credentials Secret last compared with the copy it opened with.
	credentialsSeen sync.Map // types.NamespacedName -> string
	// credentialsCopies remember, per Election, the resourceVersion of its copy of
	// the public credentials as last written or checked.
	credentialsCopies sync.Map // types.NamespacedName -> string
	// proxyChecks remember, per Election, the organiser's list of proxies
	// checked against its roll (proxyCheck), by the two's digests.
	proxyChecks sync.Map // types.NamespacedName -> *proxyCheck
	// trusteeChecks remember, per Election, the last check of its trustees.
	trusteeChecks trusteeChecks
	// backoff spaces the retries of an Election whose reconciles fail.
	backoff     workqueue.TypedRateLimiter[types.NamespacedName]
	backoffOnce sync.Once
	// archiveAttempts count failed archive uploads, per Election, for the backoff.
	archiveAttempts archiveAttempts
	// routesApplied remember the resourceVersion each route object (HTTPRoute,
	// Ingress, Certificate) had right after the controller's last apply of it, with
	// that apply's record: see upToDate.
	routesApplied sync.Map // string (kind/namespace/name) -> appliedRoute
}

// NewElectionReconciler is the reconciler with its production parts: the manager's
// clients and event recorder, the runtime's control API over HTTP, real PostgreSQL
// servers and the system's DNS resolver.
func NewElectionReconciler(mgr ctrl.Manager, opts specs.Options) *ElectionReconciler {
	return &ElectionReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Cache:     mgr.GetCache(),
		Recorder:  mgr.GetEventRecorder("scrutin-controller"),
		Options:   opts,
		Runtime:   &HTTPRuntimeClient{HTTP: &http.Client{Timeout: 10 * time.Second}},
		Databases: PostgreSQL{},
		Archives:  S3Archives{},
		Resolver:  net.DefaultResolver,
	}
}

// +kubebuilder:rbac:groups=core,resources=namespaces,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=core,resources=secrets;configmaps;services;serviceaccounts;persistentvolumeclaims;resourcequotas;limitranges,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies;ingresses,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificates,verbs=get;list;watch;create;update;patch;delete

// Reconcile brings one Election's namespace and status to what its spec and the
// clock say.
func (r *ElectionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	// Read live, not from the cache: a stale copy of an Election that was just
	// finalized and removed must never provision its namespace again.
	var e scrutinv1.Election
	if err := r.APIReader.Get(ctx, req.NamespacedName, &e); err != nil {
		if isNotFound(err) {
			r.rollMemos.drop(req.NamespacedName)
			r.credentialsSeen.Delete(req.NamespacedName)
			r.proxyChecks.Delete(req.NamespacedName)
			r.credentialsCopies.Delete(req.NamespacedName)
			r.trusteeChecks.drop(req.NamespacedName)
			r.errorBackoff().Forget(req.NamespacedName)
			r.archiveAttempts.drop(req.NamespacedName)
			r.deliveries.forget(req.NamespacedName)
			return ctrl.Result{}, r.deleteOrphanNamespaces(ctx, req.Namespace, req.Name, "")
		}
		return ctrl.Result{}, err
	}
	if !e.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, &e)
	}
	if !controllerutil.ContainsFinalizer(&e, Finalizer) {
		patch := client.MergeFrom(e.DeepCopy())
		controllerutil.AddFinalizer(&e, Finalizer)
		if err := r.Patch(ctx, &e, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("while adding the finalizer: %w", err)
		}
	}

	if e.Status.Phase == "" {
		// accepted: written and announced before anything is provisioned
		before := e.Status.DeepCopy()
		var moves []phaseNote
		setPhase(&e, &moves, scrutinv1.PhasePending, "Pending", "Election accepted; provisioning its namespace")
		if err := r.writeStatus(ctx, &e, before, moves); err != nil {
			return r.retryOnError(ctx, &e, ctrl.Result{}, err), nil
		}
	}
	before := e.Status.DeepCopy()
	result, moves, err := r.reconcileElection(ctx, &e)
	if serr := r.writeStatus(ctx, &e, before, moves); serr != nil {
		err = errors.Join(err, serr)
	}
	return r.retryOnError(ctx, &e, result, err), nil
}

// retryOnError is the Result of a reconcile that met err. controller-runtime drops
// the Result of a Reconcile that returns an error and retries with its own backoff,
// which grows to minutes: an error would push the opening or the closing past its
// time. So an error is never returned: the Election is queued again at the earlier
// of its next scheduled step and its own exponential backoff, and the error is
// logged and counted (the Ready condition names what failed to provision).
func (r *ElectionReconciler) retryOnError(ctx context.Context, e *scrutinv1.Election, result ctrl.Result, err error) ctrl.Result {
	key := client.ObjectKeyFromObject(e)
	if err == nil {
		r.errorBackoff().Forget(key)
		return result
	}
	reconcileErrorsTotal.Inc()
	retry := r.errorBackoff().When(key)
	if result.RequeueAfter > 0 && result.RequeueAfter < retry {
		retry = result.RequeueAfter
	}
	logf.FromContext(ctx).Error(err, "Reconciled Election with errors", "phase", e.Status.Phase, "retryIn", retry.String())
	return ctrl.Result{RequeueAfter: retry}
}

// errorBackoff is the delay before each retry of an Election whose reconciles keep
// failing: 5 ms, doubling up to 1,000 s, as controller-runtime's own.
func (r *ElectionReconciler) errorBackoff() workqueue.TypedRateLimiter[types.NamespacedName] {
	r.backoffOnce.Do(func() {
		r.backoff = workqueue.NewTypedItemExponentialFailureRateLimiter[types.NamespacedName](5*time.Millisecond, 1000*time.Second)
	})
	return r.backoff
}

// reconcileElection provisions, then follows the schedule. It only changes e.Status,
// and returns the moves of its phase; writeStatus persists and announces them.
func (r *ElectionReconciler) reconcileElection(ctx context.Context, e *scrutinv1.Election) (ctrl.Result, []phaseNote, error) {
	if e.Status.Phase == scrutinv1.PhasePending {
		e.Status.Phase = scrutinv1.PhaseProvisioning // a step on the way to Scheduled, not announced
	}
	in, err := r.provision(ctx, e)
	if errors.Is(err, errConflict) {
		// Something we do not own stands where the election's objects go: never
		// overwrite it, say so (Ready), and wait for a person.
		setObserved(e, in.observed)
		c := readyCondition(readyObserved{problems: in.problems})
		setCondition(e, c.Type, c.Status, c.Reason, c.Message)
		setPhase(e, &in.moves, scrutinv1.PhaseFailed, c.Reason, c.Message)
		return ctrl.Result{}, in.moves, nil
	}
	result, err := r.followSchedule(ctx, e, in, err)
	return result, in.moves, err
}

// SetupWithManager registers the controller and what it watches: Elections, and the
// objects of their namespaces, mapped back to their Election by label.
func (r *ElectionReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = func(types.NamespacedName) time.Time { return time.Now() }
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &scrutinv1.Election{}, secretRefIndex, indexSecretRefs); err != nil {
		return fmt.Errorf("while indexing Elections by Secret: %w", err)
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &scrutinv1.Election{}, rollSelectorIndex, indexRollSelector); err != nil {
		return fmt.Errorf("while indexing Elections by roll selector: %w", err)
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &scrutinv1.Election{}, hostIndex, r.indexHosts); err != nil {
		return fmt.Errorf("while indexing Elections by host: %w", err)
	}
	every := r.DeliveryWatchEvery
	if every == 0 {
		every = deliveryWatchEvery
	}
	r.deliveries = newDeliveryWatch(r.Runtime, every, deliveryWatchPerSecond)
	if err := mgr.Add(r.deliveries); err != nil {
		return fmt.Errorf("while adding the delivery watch: %w", err)
	}
	return r.setupWatches(mgr)
}

// event records a Kubernetes Event on the Election; its reason reuses the
// condition's where there is one.
func (r *ElectionReconciler) event(e *scrutinv1.Election, eventType, reason, action, note string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(e, nil, eventType, reason, action, "%s", note)
	}
}

// isNotFound reports whether err says an object does not exist.
func isNotFound(err error) bool { return apierrors.IsNotFound(err) }
