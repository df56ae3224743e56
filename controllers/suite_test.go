package controllers

// The controller's tests run its real reconcile loop in a manager against a real
// kube-apiserver and etcd (envtest, no kubelet: no pod runs), and a real PostgreSQL
// for the elections that use one. Voting runtimes are stood in for by runtimeDouble,
// a local HTTP server speaking the runtime's control API.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap/zapcore"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/contract"
	"scrutin.dev/scrutin/internal/controlplane"
	"scrutin.dev/scrutin/internal/pgtest"
	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/internal/specs/specstest"
)

var (
	env    *controlplane.Env
	k8s    client.Client // the administrator's, uncached
	pg     *pgtest.Server
	double *runtimeDouble
	// reconciler is the manager's, its writes recorded in writes
	reconciler *ElectionReconciler
	writes     = newWriteLog()
	testOpt    = specs.Options{
		RuntimeImage:           "scrutin.dev/voting-runtime:test",
		OperatorNamespace:      "scrutin-system",
		IngressNamespaceLabels: map[string]string{"scrutin.dev/ingress": "true"},
		DNSNamespace:           "kube-system",
		DNSPodLabels:           map[string]string{"k8s-app": "kube-dns"},
		BaseDomain:             "vote.test",
		Route: specs.RouteOptions{
			Gateway:    specs.GatewayRef{Namespace: "gateway-system", Name: "voters", SectionName: "https"},
			CertIssuer: specs.IssuerRef{Kind: "ClusterIssuer", Name: "platform-ca"},
		},
	}
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	ctx := context.Background()
	root, err := controlplane.Root()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	routeCRDs, err := controlplane.RouteCRDs(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if env, err = controlplane.Start(routeCRDs...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop()
	k8s = env.Client
	if pg, err = pgtest.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pg.Stop()
	double = newRuntimeDouble(k8s)
	defer double.srv.Close()

	// The controller's own logs, with SCRUTIN_TEST_LOGS=1; errors only otherwise.
	level := zapcore.ErrorLevel
	if os.Getenv("SCRUTIN_TEST_LOGS") == "1" {
		level = zapcore.InfoLevel
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(level)))
	if err := startManager(testOpt); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := RegisterMetrics(managerReader{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if err := stopManager(); err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		code = 1
	}
	return code
}

// The manager running the controller under test. A test may stop it and start
// another with other options, as an upgrade of the platform does.
var suiteManager struct {
	mu     sync.Mutex
	mgr    ctrl.Manager
	cancel context.CancelFunc
	done   chan error
}

// startManager starts a manager running the Election controller with opts.
func startManager(opts specs.Options) error {
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 env.Scheme,
		Cache:                  CacheOptions(testOpt.Route),
		Client:                 ClientOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// each manager registers its controller under the same name
		Controller: ctrlconfig.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return err
	}
	r := NewElectionReconciler(mgr, opts)
	r.Client = writes.wrap(r.Client)
	reconciler = r
	r.Runtime = &HTTPRuntimeClient{BaseURL: double.baseURL}
	archives = newArchiveDouble()
	r.Archives = archives
	r.Resolver = staticResolver{"smtp.tenant-a.test": {"192.0.2.25"}}
	r.Clock = clocks.now
	r.DeliveryWatchEvery = 2 * time.Second
	if err := r.SetupWithManager(mgr); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	// its caches synced, so that stopping it right after is clean
	syncCtx, cancelSync := context.WithTimeout(ctx, time.Minute)
	defer cancelSync()
	if !mgr.GetCache().WaitForCacheSync(syncCtx) {
		cancel()
		return fmt.Errorf("the manager's caches did not sync: %w", <-done)
	}
	suiteManager.mu.Lock()
	suiteManager.mgr, suiteManager.cancel, suiteManager.done = mgr, cancel, done
	suiteManager.mu.Unlock()
	return nil
}

// stopManager stops the running manager and waits until it has.
func stopManager() error {
	suiteManager.mu.Lock()
	cancel, done := suiteManager.cancel, suiteManager.done
	suiteManager.mu.Unlock()
	cancel()
	return <-done
}

// restartManager replaces the running manager with one running opts, as an
// upgrade of the platform does.
func restartManager(t *testing.T, opts specs.Options) {
	t.Helper()
	if err := stopManager(); err != nil {
		t.Fatalf("while stopping the manager: %v", err)
	}
	if err := startManager(opts); err != nil {
		t.Fatalf("while starting the manager: %v", err)
	}
}

// managerReader reads through the running manager's client, for the metrics.
type managerReader struct{}

func (managerReader) client() client.Client {
	suiteManager.mu.Lock()
	defer suiteManager.mu.Unlock()
	return suiteManager.mgr.GetClient()
}

func (m managerReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return m.client().Get(ctx, key, obj, opts...)
}

func (m managerReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return m.client().List(ctx, list, opts...)
}

// clocks are the Elections' clocks: the real time, moved for an Election by the
// offset moveClock gave it. A test that only waits on the controller's schedule
// moves its own Election's clock instead of sleeping; the others sharing the
// manager keep the real time. (TestLifecycle and the announced peak of
// TestPreScaling keep the real clock: they check the controller wakes by itself
// at the schedule's transitions.)
var clocks testClocks

type testClocks struct{ offsets sync.Map } // types.NamespacedName -> time.Duration

func (c *testClocks) now(key types.NamespacedName) time.Time {
	if d, ok := c.offsets.Load(key); ok {
		return time.Now().Add(d.(time.Duration))
	}
	return time.Now()
}

// electionNow is the time on e's clock.
func electionNow(e *scrutinv1.Election) time.Time {
	return clocks.now(types.NamespacedName{Namespace: e.Namespace, Name: e.Name})
}

// moveClock sets e's clock to read to now, and has e reconciled at once (an
// annotation change, which the controller watches). The time then runs on from
// there.
func moveClock(t *testing.T, e *scrutinv1.Election, to time.Time) {
	t.Helper()
	clocks.offsets.Store(types.NamespacedName{Namespace: e.Namespace, Name: e.Name}, time.Until(to))
	updateElection(t, e, func(cur *scrutinv1.Election) {
		metav1.SetMetaDataAnnotation(&cur.ObjectMeta, "test.scrutin.dev/clock", to.UTC().Format(time.RFC3339Nano))
	})
}

type staticResolver map[string][]string

func (r staticResolver) LookupHost(_ context.Context, host string) ([]string, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("no such host %s", host)
}

// runtimeDouble answers the control API for every election namespace, checking the
// election's own control token, and records the calls.
type runtimeDouble struct {
	srv   *httptest.Server
	k8s   client.Client
	mu    sync.Mutex
	calls map[string][]string // namespace -> operations
	// schedules are the schedules pushed, by namespace, last last
	schedules map[string][]RuntimeSchedule
	// delivery is what the status reports of delivery, by namespace (none when nil)
	delivery map[string]*scrutinv1.DeliveryStatus
	// ran are the namespaces whose runtime opened, closed and counted by itself,
	// on its schedule, unasked
	ran map[string]bool
}

func newRuntimeDouble(c client.Client) *runtimeDouble {
	d := &runtimeDouble{k8s: c, calls: map[string][]string{}, schedules: map[string][]RuntimeSchedule{}, delivery: map[string]*scrutinv1.DeliveryStatus{},
		ran: map[string]bool{}}
	d.srv = httptest.NewServer(http.HandlerFunc(d.serve))
	return d
}

func (d *runtimeDouble) baseURL(namespace string) string { return d.srv.URL + "/ns/" + namespace }

func (d *runtimeDouble) serve(w http.ResponseWriter, req *http.Request) {
	rest, _ := strings.CutPrefix(req.URL.Path, "/ns/")
	ns, op, _ := strings.Cut(rest, contract.ControlPrefix)
	var keys corev1.Secret
	if err := d.k8s.Get(req.Context(), client.ObjectKey{Namespace: ns, Name: specs.KeysSecretName}, &keys); err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if req.Header.Get("Authorization") != "Bearer "+string(keys.Data[contract.KeyControlToken]) {
		http.Error(w, "wrong control token", http.StatusUnauthorized)
		return
	}
	var pushed RuntimeSchedule
	if op == "schedule" {
		if err := json.NewDecoder(req.Body).Decode(&pushed); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	d.mu.Lock()
	d.calls[ns] = append(d.calls[ns], op)
	opened, closed := d.ran[ns], d.ran[ns]
	for _, c := range d.calls[ns] {
		opened = opened || c == "open"
		closed = closed || c == "close"
	}
	if op == "schedule" && !closed {
		d.schedules[ns] = append(d.schedules[ns], pushed)
	}
	var version int64
	if n := len(d.schedules[ns]); n > 0 {
		version = d.schedules[ns][n-1].Version
	}
	delivery := d.delivery[ns]
	d.mu.Unlock()
	switch op {
	case "schedule":
		if closed {
			http.Error(w, "closed", http.StatusConflict)
			return
		}
		w.WriteHeader(http.StatusOK)
	case "records":
		if !closed {
			http.Error(w, "not tallied", http.StatusConflict)
			return
		}
		_, _ = w.Write(recordsOf(ns))
	case "open", "close":
		w.WriteHeader(http.StatusNoContent)
	case "status":
		_ = json.NewEncoder(w).Encode(RuntimeStatus{Open: !closed, Opened: opened, Closed: closed, Tallied: closed, Voters: 4, BallotsCast: 3, AuditHead: "sha256:double", ScheduleVersion: version, Delivery: delivery})
	case "results":
		if !closed {
			http.Error(w, "not closed", http.StatusConflict)
			return
		}
		var nsObj corev1.Namespace
		_ = d.k8s.Get(req.Context(), client.ObjectKey{Name: ns}, &nsObj)
		var e scrutinv1.Election
		_ = d.k8s.Get(req.Context(), client.ObjectKey{Namespace: nsObj.Labels[scrutinv1.LabelElectionNamespace], Name: nsObj.Labels[scrutinv1.LabelElectionName]}, &e)
		res := RuntimeResults{Voters: 4, BallotsCast: 3, AuditHead: "sha256:tallied"}
		for _, q := range e.Spec.Questions {
			qr := scrutinv1.QuestionResult{QuestionID: q.ID, Blank: 1, Winners: []string{q.Options[0].ID}}
			for i, o := range q.Options {
				qr.Options = append(qr.Options, scrutinv1.OptionResult{ID: o.ID, Votes: int64(max(0, 2-i))})
				qr.Ranking = append(qr.Ranking, o.ID)
			}
			qr.RankingGroups = [][]string{qr.Ranking[:1], qr.Ranking[1:]}
			res.Results = append(res.Results, qr)
		}
		_ = json.NewEncoder(w).Encode(res)
	default:
		http.NotFound(w, req)
	}
}

// runBySchedule makes the runtime of namespace ns say it opened, closed and
// counted by itself, as a runtime does on its schedule when no controller asks.
func (d *runtimeDouble) runBySchedule(ns string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ran[ns] = true
}

// setDelivery makes the runtime of namespace ns report these delivery counts.
func (d *runtimeDouble) setDelivery(ns string, s *scrutinv1.DeliveryStatus) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.delivery[ns] = s
}

func (d *runtimeDouble) schedulesTo(ns string) []RuntimeSchedule {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]RuntimeSchedule(nil), d.schedules[ns]...)
}

func (d *runtimeDouble) callsTo(ns string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls[ns]...)
}

// --- helpers ---

func newTenant(t *testing.T) string {
	t.Helper()
	ns, err := env.Namespace(context.Background(), "tenant")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

const goodRoll = "voter_id,name,email,phone\n" +
	"A-1,Camille Martin,camille@example.org,+33612345678\n" +
	"A-2,Jean Dupont,jean@example.org,+33698765432\n" +
	"A-3,Amina Diallo,amina@example.org,+33756781234\n"

func createSecret(t *testing.T, ns, name string, data map[string]string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data}
	if err := k8s.Create(context.Background(), s); err != nil {
		t.Fatalf("while creating Secret %s/%s: %v", ns, name, err)
	}
}

// newElection is an Election of tenant ns with its roll and mail Secrets created,
// opening and closing at the given offsets from now.
func newElection(t *testing.T, ns, name string, opensIn, closesIn time.Duration) *scrutinv1.Election {
	t.Helper()
	return newElectionWithRoll(t, ns, name, opensIn, closesIn, goodRoll,
		map[string]string{"host": "192.0.2.25", "port": "2525", "password": "smtp-" + ns + "-" + name})
}

// newElectionWithRoll is newElection with the given roll and mail settings.
func newElectionWithRoll(t *testing.T, ns, name string, opensIn, closesIn time.Duration, roll string, smtp map[string]string) *scrutinv1.Election {
	t.Helper()
	createSecret(t, ns, name+"-roll", map[string]string{"roll.csv": roll})
	createSecret(t, ns, name+"-smtp", smtp)
	now := time.Now().Truncate(time.Second)
	return &scrutinv1.Election{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: scrutinv1.ElectionSpec{
			Title: "Vote " + name, Organization: "Tenant " + ns,
			Schedule: scrutinv1.Schedule{OpensAt: metav1.NewTime(now.Add(opensIn)), ClosesAt: metav1.NewTime(now.Add(closesIn))},
			Questions: []scrutinv1.Question{
				{ID: "chair", Prompt: "Chair?", Options: []scrutinv1.Option{{ID: "alice", Label: "Alice"}, {ID: "bob", Label: "Bob"}}, AllowBlank: true},
				{ID: "motions", Prompt: "Rank", Kind: scrutinv1.Ranked, Options: []scrutinv1.Option{{ID: "m1", Label: "M1"}, {ID: "m2", Label: "M2"}, {ID: "m3", Label: "M3"}}},
			},
			VoterRoll: scrutinv1.VoterRoll{SecretRef: &scrutinv1.SecretReference{Name: name + "-roll"}},
			Delivery:  scrutinv1.Delivery{SMTP: &scrutinv1.DeliveryChannel{SecretRef: scrutinv1.SecretReference{Name: name + "-smtp"}}},
		},
	}
}

func create(t *testing.T, e *scrutinv1.Election) *scrutinv1.Election {
	t.Helper()
	if err := k8s.Create(context.Background(), e); err != nil {
		t.Fatalf("while creating Election %s/%s: %v", e.Namespace, e.Name, err)
	}
	return e
}

func getElection(t *testing.T, e *scrutinv1.Election) *scrutinv1.Election {
	t.Helper()
	var cur scrutinv1.Election
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(e), &cur); err != nil {
		t.Fatalf("while reading Election %s/%s: %v", e.Namespace, e.Name, err)
	}
	return &cur
}

// updateElection applies change to the latest Election and updates it, again when
// the controller wrote the status between the read and the update.
func updateElection(t *testing.T, e *scrutinv1.Election, change func(*scrutinv1.Election)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := getElection(t, e)
		change(cur)
		return k8s.Update(context.Background(), cur)
	})
	if err != nil {
		t.Fatalf("while updating Election %s/%s: %v", e.Namespace, e.Name, err)
	}
}

// waitFor polls cond until it holds or timeout passes; the last reason is reported.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %s", timeout, what, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitPhase(t *testing.T, e *scrutinv1.Election, phase scrutinv1.Phase, timeout time.Duration) *scrutinv1.Election {
	t.Helper()
	var cur *scrutinv1.Election
	waitFor(t, fmt.Sprintf("%s/%s to be %s", e.Namespace, e.Name, phase), timeout, func() (bool, string) {
		cur = getElection(t, e)
		return cur.Status.Phase == phase, fmt.Sprintf("phase %q, conditions %+v", cur.Status.Phase, cur.Status.Conditions)
	})
	return cur
}

func condition(e *scrutinv1.Election, typ string) metav1.Condition {
	if c := meta.FindStatusCondition(e.Status.Conditions, typ); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// markRuntimeAvailable plays the kube-controller-manager, which envtest does not
// run: the voting Deployment of namespace ns has one available pod.
func markRuntimeAvailable(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	var d appsv1.Deployment
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: specs.RuntimeName}, &d); err != nil {
		t.Fatal(err)
	}
	d.Status = appsv1.DeploymentStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, Conditions: []appsv1.DeploymentCondition{{
		Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", LastTransitionTime: metav1.Now(),
	}}}
	if err := k8s.Status().Update(ctx, &d); err != nil {
		t.Fatal(err)
	}
}

// waitEvent waits for an Event of that reason about e: Events follow the status
// write that announces them, through the recorder's queue.
func waitEvent(t *testing.T, e *scrutinv1.Election, reason string) {
	t.Helper()
	waitFor(t, "a "+reason+" event", 10*time.Second, func() (bool, string) {
		reasons := eventReasons(t, e)
		return slices.Contains(reasons, reason), fmt.Sprint(reasons)
	})
}

// eventReasons lists the reasons of the Events recorded about an Election.
func eventReasons(t *testing.T, e *scrutinv1.Election) []string {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(e.Namespace)); err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, ev := range list.Items {
		if ev.Regarding.Name == e.Name && ev.Regarding.Kind == "Election" {
			reasons = append(reasons, ev.Reason)
		}
	}
	return reasons
}

// pgURL is the test server's admin connection as the postgres:// URL tenants give.
func pgURL(t *testing.T) string {
	t.Helper()
	cfg, err := pgconn.ParseConfig(pg.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(cfg.User, cfg.Password),
		Host: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port), Path: "/" + cfg.Database, RawQuery: "sslmode=disable"}
	return u.String()
}

// inputsFromCluster rebuilds the builders' inputs for an Election from what the
// cluster holds: its keys, its tenant's Secrets, its database Secret.
func inputsFromCluster(t *testing.T, e *scrutinv1.Election) *Inputs {
	t.Helper()
	ctx := context.Background()
	in := &Inputs{Inputs: specs.Inputs{Election: e, Namespace: specs.NamespaceName(e), Options: testOpt, Now: time.Now()}}
	if in.Host = servedHost(e); in.Host != "" {
		in.PublicURL = e.Status.URL
	}
	var keys corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: specs.KeysSecretName}, &keys); err != nil {
		t.Fatalf("keys of %s: %v", e.Name, err)
	}
	var err error
	if in.Keys, err = specs.KeysFromSecret(&keys); err != nil {
		t.Fatal(err)
	}
	var copies corev1.SecretList
	if err := k8s.List(ctx, &copies, client.InNamespace(in.Namespace)); err != nil {
		t.Fatal(err)
	}
	for _, s := range copies.Items {
		if isRollCopyName(s.Name) {
			if in.Roll == nil {
				in.Roll = &specs.RollCopy{}
			}
			in.Roll.Parts = append(in.Roll.Parts, specs.RollCopyPart{Name: s.Name, Key: specs.RollCopyKey, SHA256: sha256Hex(s.Data[specs.RollCopyKey])})
		}
	}
	in.Delivery = map[string][]byte{}
	for prefix, ch := range map[string]*scrutinv1.DeliveryChannel{"smtp.": e.Spec.Delivery.SMTP, "sms.": e.Spec.Delivery.SMS} {
		if ch == nil {
			continue
		}
		var s corev1.Secret
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: e.Namespace, Name: ch.SecretRef.Name}, &s); err != nil {
			t.Fatal(err)
		}
		for k, v := range s.Data {
			in.Delivery[prefix+k] = v
		}
	}
	if e.Spec.Store.Type == scrutinv1.StorePostgreSQL {
		var db corev1.Secret
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: specs.DatabaseSecretName}, &db); err != nil {
			t.Fatal(err)
		}
		in.Database = &specs.DatabaseInfo{DSN: string(db.Data["dsn"])}
	}
	r := &ElectionReconciler{Resolver: staticResolver{"smtp.tenant-a.test": {"192.0.2.25"}}}
	in.Egress = r.egressEndpoints(ctx, in)
	return in
}

// assertNamespaceIsBuilt checks that every object in the election's namespace is
// exactly what the builders produce from its own Election (each desired field is
// live, with its value), and that nothing else of the managed kinds is there.
func assertNamespaceIsBuilt(t *testing.T, e *scrutinv1.Election) {
	t.Helper()
	ctx := context.Background()
	in := inputsFromCluster(t, e)
	desired, err := specs.DesiredObjects(&in.Inputs)
	if err != nil {
		t.Fatal(err)
	}
	desired = append(desired, specs.Namespace(&in.Inputs))
	want := map[string]bool{}
	if in.Roll != nil {
		for _, p := range in.Roll.Parts {
			want["Secret/"+p.Name] = true
		}
	}
	for _, d := range desired {
		gvk := d.GetObjectKind().GroupVersionKind()
		want[gvk.Kind+"/"+d.GetName()] = true
		du, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
		if err != nil {
			t.Fatal(err)
		}
		delete(du, "status")
		unstructured.RemoveNestedField(du, "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(du, "spec", "template", "metadata", "creationTimestamp")
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(gvk)
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(d), live); err != nil {
			t.Errorf("%s %s/%s: %v", gvk.Kind, d.GetNamespace(), d.GetName(), err)
			continue
		}
		if path, ok := contains(live.Object, du, gvk.Kind+"/"+d.GetName()); !ok {
			t.Errorf("live object differs from the builder's at %s", path)
		}
	}
	gvks := append(append([]schema.GroupVersionKind{}, prunable...), specs.RouteKinds(testOpt.Route)...)
	for _, o := range managedKinds() {
		gvk, err := apiutil.GVKForObject(o, env.Scheme)
		if err != nil {
			t.Fatal(err)
		}
		if gvk.Kind != "Namespace" && gvk.Kind != "NetworkPolicy" {
			gvks = append(gvks, gvk)
		}
	}
	for _, gvk := range gvks {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := k8s.List(ctx, list, client.InNamespace(in.Namespace)); err != nil {
			t.Fatal(err)
		}
		for _, item := range list.Items {
			if item.Name == "kube-root-ca.crt" || item.Name == "default" {
				continue // created by Kubernetes in every namespace
			}
			if !want[gvk.Kind+"/"+item.Name] {
				t.Errorf("unexpected %s %s/%s in the election's namespace", gvk.Kind, item.Namespace, item.Name)
			}
		}
	}
}

// contains reports whether every field of want is in got with the same value.
func contains(got, want any, path string) (string, bool) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path, false
		}
		for k, wv := range w {
			if p, ok := contains(g[k], wv, path+"."+k); !ok {
				return p, false
			}
		}
		return "", true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s (got %v, want %v)", path, got, want), false
		}
		for i := range w {
			if p, ok := contains(g[i], w[i], fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
		return "", true
	default:
		if !reflect.DeepEqual(got, want) && fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Sprintf("%s (got %v, want %v)", path, got, want), false
		}
		return "", true
	}
}

func debugEvents(t *testing.T, e *scrutinv1.Election) string {
	var list eventsv1.EventList
	_ = k8s.List(context.Background(), &list, client.InNamespace(e.Namespace))
	var b strings.Builder
	for _, ev := range list.Items {
		fmt.Fprintf(&b, "\n%s %s %s %s %q", ev.Regarding.Kind, ev.Regarding.Name, ev.Reason, ev.Action, ev.Note)
	}
	return b.String()
}

// recordsOf is the records archive the runtime double gives for namespace ns.
func recordsOf(ns string) []byte { return []byte("records of the election of " + ns) }

// archiveDouble is a bucket in memory: it checks what it is given against its
// digest, and fails the next uploads when told to.
type archiveDouble struct {
	mu      sync.Mutex
	objects map[string][]byte // bucket/key -> bytes
	fail    map[string]int    // bucket/key -> uploads still to fail
	puts    map[string]int    // bucket/key -> uploads tried
}

var archives *archiveDouble

func newArchiveDouble() *archiveDouble {
	return &archiveDouble{objects: map[string][]byte{}, fail: map[string]int{}, puts: map[string]int{}}
}

func (a *archiveDouble) Put(_ context.Context, dest *scrutinv1.S3Archive, secret map[string][]byte, key string, r io.Reader, size int64, digest string) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if string(secret["accessKeyID"]) == "" {
		return fmt.Errorf("no access key")
	}
	sum := sha256.Sum256(data)
	if int64(len(data)) != size || "sha256:"+hex.EncodeToString(sum[:]) != digest {
		return fmt.Errorf("the upload does not match its size and digest")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	k := dest.Bucket + "/" + key
	a.puts[k]++
	if a.fail[k] > 0 {
		a.fail[k]--
		return fmt.Errorf("the bucket answered 503 Slow Down")
	}
	if old, ok := a.objects[k]; ok && string(old) != string(data) {
		return fmt.Errorf("another archive stands under %s", k)
	}
	a.objects[k] = data
	return nil
}

func (a *archiveDouble) Delete(_ context.Context, dest *scrutinv1.S3Archive, _ map[string][]byte, key string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.objects, dest.Bucket+"/"+key)
	return nil
}

func (a *archiveDouble) get(k string) ([]byte, bool, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	d, ok := a.objects[k]
	return d, ok, a.puts[k]
}

func (a *archiveDouble) failNext(k string, n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fail[k] = n
}

// testElection is a small Election opening in 2030, built by no API server.
func testElection(ns, name, uid string) *scrutinv1.Election { return specstest.Election(ns, name, uid) }

// testInputs are e's inputs as a reconcile would give them (specstest.Inputs).
func testInputs(e *scrutinv1.Election) *Inputs { return &Inputs{Inputs: *specstest.Inputs(e)} }
