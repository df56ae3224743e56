// Package monitoring keeps Scrutin's monitoring honest: the alerts of
// config/prometheus, the Grafana dashboard of config/grafana and the runbooks of
// docs/runbooks.md are checked against each other and against the metrics the code
// really exports: a voting-runtime binary is started and scraped after a voter's
// whole journey, and the manager's registry is filled by the controller's own
// collector and a real controller-runtime controller.
package monitoring

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"text/template"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	"sigs.k8s.io/yaml"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/controllers"
	"scrutin.dev/scrutin/internal/controlplane"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

var runtimeBin string

func TestMain(m *testing.M) { os.Exit(runtimetest.Main(m, &runtimeBin)) }

const (
	alertsFile    = "config/prometheus/base/alerts.yaml"
	dashboardFile = "config/grafana/scrutin-dashboard.json"
	runbooksFile  = "docs/runbooks.md"
	managerMon    = "config/prometheus/base/manager_monitor.yaml"
	runtimeMon    = "config/prometheus/base/runtime_monitor.yaml"
	ksmConfig     = "config/prometheus/kube-state-metrics-elections.yaml"

	dsUID = "${DS_PROMETHEUS}"
)

// Labels Prometheus adds to every series (target labels, and the PodMonitor's
// relabelings): a matcher on them is about where a series comes from, not about
// what the code exports.
var targetLabels = map[string]bool{
	"namespace": true, "pod": true, "job": true, "instance": true, "container": true,
	"endpoint": true, "service": true, "election_namespace": true, "election_name": true,
}

// ourPrefixes are the metric names the code must export.
func ours(name string) bool {
	return strings.HasPrefix(name, "scrutin_") || strings.HasPrefix(name, "controller_runtime_")
}

func root(t *testing.T) string {
	t.Helper()
	r, err := controlplane.Root()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func read(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// --- the files ----------------------------------------------------------------

type promRule struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []rule `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

type rule struct {
	Alert       string            `json:"alert"`
	Record      string            `json:"record"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func loadRules(t *testing.T) (promRule, []rule) {
	t.Helper()
	var pr promRule
	// strict: a misspelt field (annotation:, expresion:) is an error, not a rule
	// that silently never fires or has no runbook
	if err := yaml.UnmarshalStrict(read(t, alertsFile), &pr); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	var rules []rule
	for _, g := range pr.Spec.Groups {
		rules = append(rules, g.Rules...)
	}
	return pr, rules
}

type dashboard struct {
	Title         string  `json:"title"`
	UID           string  `json:"uid"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasource     `json:"datasource"`
			Multi      bool            `json:"multi"`
			IncludeAll bool            `json:"includeAll"`
		} `json:"list"`
	} `json:"templating"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource *datasource              `json:"datasource"`
	GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
	Targets    []struct {
		Expr       string      `json:"expr"`
		RefID      string      `json:"refId"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal(read(t, dashboardFile), &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// allPanels flattens rows.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// expression is one PromQL expression and where it is.
type expression struct{ where, expr string }

func expressions(t *testing.T) []expression {
	t.Helper()
	var out []expression
	_, rules := loadRules(t)
	for _, r := range rules {
		out = append(out, expression{alertsFile + ": " + r.Alert, r.Expr})
	}
	for _, p := range allPanels(loadDashboard(t).Panels) {
		for _, tg := range p.Targets {
			out = append(out, expression{fmt.Sprintf("%s: panel %q, query %s", dashboardFile, p.Title, tg.RefID), tg.Expr})
		}
	}
	return out
}

// --- the metrics the code exports ------------------------------------------------

// inventory is what a scrape shows: for each series name (a histogram's _bucket,
// _sum and _count each), its label names and the values seen.
type inventory map[string]map[string]map[string]bool

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+\S+`)
var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// parseExposition reads Prometheus's text format.
func parseExposition(text string) inventory {
	inv := inventory{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		labels := inv[m[1]]
		if labels == nil {
			labels = map[string]map[string]bool{}
			inv[m[1]] = labels
		}
		for _, kv := range labelPair.FindAllStringSubmatch(m[3], -1) {
			if labels[kv[1]] == nil {
				labels[kv[1]] = map[string]bool{}
			}
			labels[kv[1]][kv[2]] = true
		}
	}
	return inv
}

// runtimeMetrics starts the voting-runtime binary, walks one voter through sign-in,
// code, cast and a second cast (refused: already voted), and scrapes /metrics.
func runtimeMetrics(t *testing.T) inventory {
	t.Helper()
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	rt := runtimetest.Start(t, runtimeBin, nil,
		"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), ""),
		"--roll", runtimetest.RollFile(t, dir, 2), "--store", "embedded:"+filepath.Join(dir, "election.db"),
		"--smtp", smtp.Addr())
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	call := func(path string, body any, want int) {
		t.Helper()
		data, _ := json.Marshal(body)
		resp, err := hc.Post(rt.URL+path, "application/json", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("POST %s: %d %s, want %d\n%s", path, resp.StatusCode, answer, want, rt.Logs)
		}
	}
	voter := runtimetest.VoterID(1)
	call("/api/v1/sign-in", map[string]string{"voterId": voter}, http.StatusAccepted)
	mail, err := smtp.WaitFor(runtimetest.VoterEmail(1), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	call("/api/v1/sign-in/code", map[string]string{"voterId": voter, "code": sink.CodeIn(mail.Body)}, http.StatusOK)
	ballot := map[string]any{"answers": map[string][]string{"chair": {"alice"}, "motions": {"m2", "m1"}}}
	call("/api/v1/ballot", ballot, http.StatusCreated)
	call("/api/v1/ballot", ballot, http.StatusConflict)

	resp, err := http.Get(rt.OpsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d\n%s", resp.StatusCode, text)
	}
	return parseExposition(string(text))
}

// electionsReader lists one Election in each phase, for the controller's collector.
type electionsReader struct{}

func (electionsReader) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return errors.New("not used")
}

func (electionsReader) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	l, ok := list.(*scrutinv1.ElectionList)
	if !ok {
		return fmt.Errorf("unexpected list %T", list)
	}
	l.Items = nil
	for _, p := range []scrutinv1.Phase{scrutinv1.PhasePending, scrutinv1.PhaseProvisioning, scrutinv1.PhaseScheduled,
		scrutinv1.PhaseOpen, scrutinv1.PhaseClosed, scrutinv1.PhaseTallied, scrutinv1.PhaseFailed} {
		l.Items = append(l.Items, scrutinv1.Election{Status: scrutinv1.ElectionStatus{Phase: p}})
	}
	// one Election sending its letters before it opens: the delivery gauges
	queuedAt := metav1.NewTime(time.Now().Add(-20 * time.Minute))
	l.Items = append(l.Items, scrutinv1.Election{
		ObjectMeta: metav1.ObjectMeta{Namespace: "tenant", Name: "congress"},
		Spec:       scrutinv1.ElectionSpec{Schedule: scrutinv1.Schedule{OpensAt: metav1.NewTime(time.Now().Add(30 * time.Minute))}},
		Status: scrutinv1.ElectionStatus{Phase: scrutinv1.PhaseScheduled, Delivery: &scrutinv1.DeliveryStatus{
			Channels:       []scrutinv1.ChannelDelivery{{Channel: "mail", Queued: 10, Sent: 5, Failed: 1}, {Channel: "sms", Sent: 2}},
			OldestQueuedAt: &queuedAt,
		}},
	})
	return nil
}

// managerMetrics fills controller-runtime's registry as the manager does (main.go):
// scrutin_elections from controllers.RegisterMetrics, and the reconcile metrics from
// a real controller with the manager's controller name, which reconciles once with
// an error and once without; then scrapes it.
func managerMetrics(t *testing.T) inventory {
	t.Helper()
	// the controller's name, as the manager's is set (controllers/watches.go)
	if !bytes.Contains(read(t, "controllers/watches.go"), []byte(`Named("election")`)) {
		t.Fatal(`controllers/watches.go no longer names its controller "election": update this test, the alerts and the dashboard`)
	}
	logf.SetLogger(logr.Discard())
	if err := controllers.RegisterMetrics(electionsReader{}); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	done := make(chan struct{})
	c, err := controller.NewUnmanaged("election", controller.Options{
		SkipNameValidation: ptr.To(true),
		Reconciler: reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) {
			if calls.Add(1) == 1 {
				return reconcile.Result{}, errors.New("the first reconcile fails")
			}
			close(done)
			return reconcile.Result{}, nil
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Watch(source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "tenant", Name: "board"}})
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- c.Start(ctx) }()
	defer func() { cancel(); <-stopped }()
	select {
	case <-done:
	case err := <-stopped:
		t.Fatalf("the controller stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the controller did not reconcile twice in 30 s")
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(ctrlmetrics.Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("the manager's registry: %d\n%s", rec.Code, rec.Body)
	}
	return parseExposition(rec.Body.String())
}

// codeLiterals are the string literals of the code that exports metrics: a label
// value not seen in a scrape (a rejection reason no test voter met) must at least be
// one the code writes.
func codeLiterals(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	lit := regexp.MustCompile(`"((?:[^"\\\n]|\\.)*)"`)
	for _, dir := range []string{"voting-runtime", "controllers", "api"} {
		err := filepath.WalkDir(filepath.Join(root(t), dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range lit.FindAllSubmatch(data, -1) {
				out[string(m[1])] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// --- the tests ---------------------------------------------------------------------

// managerTotals are the manager's metrics that count over every election.
var managerTotals = map[string]bool{
	"scrutin_elections": true, "scrutin_election_reconcile_errors_total": true, "scrutin_applies_total": true,
}

// TestEveryMetricExists: every scrutin_ and controller_runtime_ name used by an alert
// or a panel is exported by the code (histograms through their _bucket, _sum and
// _count series), every label it matches on is one the series carry, and every label
// value it names is one the code writes.
func TestEveryMetricExists(t *testing.T) {
	rtInv := runtimeMetrics(t)
	mgrInv := managerMetrics(t)
	literals := codeLiterals(t)

	// sanity: the scrape saw the journey
	for _, name := range []string{"scrutin_signins_total", "scrutin_ballots_cast_total", "scrutin_ballot_rejections_total", "scrutin_code_delivery_seconds_bucket"} {
		if rtInv[name] == nil {
			t.Fatalf("the runtime's scrape has no %s after a voter's journey", name)
		}
	}
	if mgrInv["scrutin_elections"] == nil || mgrInv["controller_runtime_reconcile_errors_total"] == nil {
		t.Fatal("the manager's registry has neither scrutin_elections nor controller-runtime's reconcile metrics")
	}
	jobs := monitorJobs(t)

	used := map[string]bool{}
	for _, e := range expressions(t) {
		sels, err := selectors(e.expr)
		if err != nil {
			t.Errorf("%s: %v", e.where, err)
			continue
		}
		for _, s := range sels {
			for _, m := range s.Matchers {
				if m.Label == "job" && m.Op == "=" && !jobs[m.Value] {
					t.Errorf("%s: %s{job=%q}: no monitor of config/prometheus sets that job (%v)", e.where, s.Metric, m.Value, keys(jobs))
				}
			}
			if !ours(s.Metric) {
				continue
			}
			used[s.Metric] = true
			labels, ok := rtInv[s.Metric]
			if !ok {
				labels, ok = mgrInv[s.Metric]
			}
			if !ok {
				t.Errorf("%s: %s is exported neither by the voting-runtime nor by the manager", e.where, s.Metric)
				continue
			}
			for _, m := range s.Matchers {
				if targetLabels[m.Label] {
					continue
				}
				values, ok := labels[m.Label]
				if !ok {
					t.Errorf("%s: %s has no label %q (it has %v)", e.where, s.Metric, m.Label, keys(labels))
					continue
				}
				for _, v := range literalValues(m) {
					if !values[v] && !literals[v] {
						t.Errorf("%s: %s{%s%s%q}: %q is neither seen in a scrape (%v) nor written by the code", e.where, s.Metric, m.Label, m.Op, m.Value, v, keys(values))
					}
				}
			}
		}
	}
	t.Logf("%d metric names checked: %v", len(used), keys(used))
}

// monitorJobs are the job names the monitors give their targets.
func monitorJobs(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	re := regexp.MustCompile(`(?m)- targetLabel: job\n\s+replacement: (\S+)`)
	for _, f := range []string{managerMon, runtimeMon} {
		m := re.FindSubmatch(read(t, f))
		if m == nil {
			t.Fatalf("%s sets no job label", f)
		}
		out[string(m[1])] = true
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestAlerts: the PrometheusRule is well-formed; every alert has a severity, a
// summary, a description and a runbook_url whose section exists in docs/runbooks.md,
// templates that parse and use only labels the expression keeps.
func TestAlerts(t *testing.T) {
	pr, rules := loadRules(t)
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" {
		t.Errorf("%s is a %s %s, want a monitoring.coreos.com/v1 PrometheusRule", alertsFile, pr.APIVersion, pr.Kind)
	}
	if len(rules) == 0 {
		t.Fatal("no rule")
	}
	anchors := markdownAnchors(string(read(t, runbooksFile)))
	seen := map[string]bool{}
	groups := map[string]bool{}
	for _, g := range pr.Spec.Groups {
		if g.Name == "" || groups[g.Name] || len(g.Rules) == 0 {
			t.Errorf("group %q: empty, unnamed or duplicated", g.Name)
		}
		groups[g.Name] = true
	}
	var prefix string
	for _, r := range rules {
		if r.Alert == "" {
			t.Errorf("a rule is not an alert (record %q): this file holds alerts only", r.Record)
			continue
		}
		if seen[r.Alert] {
			t.Errorf("%s: defined twice", r.Alert)
		}
		seen[r.Alert] = true
		if strings.TrimSpace(r.Expr) == "" {
			t.Errorf("%s: no expr", r.Alert)
		}
		if r.For != "" {
			if d, err := time.ParseDuration(r.For); err != nil || d <= 0 {
				t.Errorf("%s: for %q is not a duration", r.Alert, r.For)
			}
		}
		if s := r.Labels["severity"]; s != "warning" && s != "critical" {
			t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("%s: no %s annotation", r.Alert, a)
			}
		}
		// runbook_url: docs/runbooks.md#<the alert, lower case>, an existing section
		u, err := url.Parse(r.Annotations["runbook_url"])
		switch {
		case err != nil || u.Scheme != "https" || !strings.HasSuffix(u.Path, "/docs/runbooks.md"):
			t.Errorf("%s: runbook_url %q is not an https URL of docs/runbooks.md", r.Alert, r.Annotations["runbook_url"])
		case !anchors[u.Fragment]:
			t.Errorf("%s: runbook_url's #%s is no section of %s", r.Alert, u.Fragment, runbooksFile)
		case u.Fragment != strings.ToLower(r.Alert):
			t.Errorf("%s: runbook_url points at #%s, not at its own section #%s", r.Alert, u.Fragment, strings.ToLower(r.Alert))
		}
		if base, _, _ := strings.Cut(r.Annotations["runbook_url"], "#"); prefix == "" {
			prefix = base
		} else if base != prefix {
			t.Errorf("%s: runbook_url %s, the others %s", r.Alert, base, prefix)
		}
		// annotations are Go templates, run by Prometheus with $labels and $value
		kept := byLabels(r.Expr)
		for name, text := range r.Annotations {
			checkTemplate(t, r.Alert+" "+name, text, kept)
		}
	}
	// every runbook section is an alert's
	for _, h := range regexp.MustCompile(`(?m)^## (Scrutin\w+)\s*$`).FindAllStringSubmatch(string(read(t, runbooksFile)), -1) {
		if !seen[h[1]] {
			t.Errorf("%s has a section %s, but no such alert exists", runbooksFile, h[1])
		}
	}
	t.Logf("%d alerts: %v", len(seen), keys(seen))
}

var labelRef = regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)

// checkTemplate parses and runs an annotation as Prometheus does, and checks each
// $labels.X it uses is kept by the expression's aggregations.
func checkTemplate(t *testing.T, where, text string, kept map[string]bool) {
	t.Helper()
	str := func(v any) string { return fmt.Sprint(v) }
	funcs := template.FuncMap{
		"humanize": str, "humanize1024": str, "humanizeDuration": str, "humanizePercentage": str,
		"humanizeTimestamp": str, "toUpper": strings.ToUpper, "toLower": strings.ToLower,
		"printf": fmt.Sprintf, "reReplaceAll": func(a, b, c string) string { return c },
	}
	tmpl, err := template.New(where).Funcs(funcs).Option("missingkey=zero").Parse(
		"{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$value := .Value}}" + text)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	data := struct {
		Labels, ExternalLabels map[string]string
		Value                  float64
	}{map[string]string{}, map[string]string{}, 0.5}
	if err := tmpl.Execute(io.Discard, data); err != nil {
		t.Errorf("%s: %v", where, err)
	}
	for _, m := range labelRef.FindAllStringSubmatch(text, -1) {
		if !kept[m[1]] {
			t.Errorf("%s: uses $labels.%s, which the expression's aggregations drop (by %v)", where, m[1], keys(kept))
		}
	}
}

// markdownAnchors are the anchors GitHub gives a Markdown file's headings.
func markdownAnchors(md string) map[string]bool {
	out := map[string]bool{}
	inCode := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, c := range strings.ToLower(h) {
			switch {
			case c == ' ':
				b.WriteByte('-')
			case c == '-' || c == '_' || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c > 127:
				b.WriteRune(c)
			}
		}
		out[b.String()] = true
	}
	return out
}

// TestRunbookLinks: the links between sections of docs/runbooks.md lead somewhere.
func TestRunbookLinks(t *testing.T) {
	md := string(read(t, runbooksFile))
	anchors := markdownAnchors(md)
	for _, m := range regexp.MustCompile(`\]\(#([^)]+)\)`).FindAllStringSubmatch(md, -1) {
		if !anchors[m[1]] {
			t.Errorf("%s links to #%s, which is no section", runbooksFile, m[1])
		}
	}
}

// TestDashboard: the dashboard is a well-formed Grafana dashboard on the
// ${DS_PROMETHEUS} data source, with the election namespace variable applied to every
// runtime query, and the panels the SRE needs.
func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.Title == "" || d.UID == "" {
		t.Error("no title or uid")
	}
	if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
		t.Errorf("schemaVersion %d, want a Grafana 10-11 dashboard (36-41)", d.SchemaVersion)
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		switch v.Name {
		case "DS_PROMETHEUS":
			if v.Type != "datasource" || string(v.Query) != `"prometheus"` {
				t.Errorf("variable DS_PROMETHEUS: type %s query %s, want a prometheus datasource variable", v.Type, v.Query)
			}
		case "namespace":
			if v.Type != "query" || v.Datasource == nil || v.Datasource.UID != dsUID || !strings.Contains(string(v.Query), "scrutin_") {
				t.Errorf("variable namespace: type %s, datasource %v, query %s: want a query of a scrutin_ metric on %s", v.Type, v.Datasource, v.Query, dsUID)
			}
		}
	}
	for _, v := range []string{"DS_PROMETHEUS", "namespace"} {
		if !vars[v] {
			t.Errorf("no template variable %s", v)
		}
	}

	ids := map[int]bool{}
	metrics := map[string]bool{}
	for _, p := range allPanels(d.Panels) {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W < 1 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H < 1 {
			t.Errorf("panel %q: gridPos %+v outside the 24 columns", p.Title, p.GridPos)
		}
		if p.Type == "row" || p.Type == "text" {
			continue
		}
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if p.Datasource == nil || p.Datasource.UID != dsUID || p.Datasource.Type != "prometheus" {
			t.Errorf("panel %q: datasource %v, want prometheus %s", p.Title, p.Datasource, dsUID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q: no query", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: refId %q empty or repeated", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if tg.Datasource != nil && tg.Datasource.UID != dsUID {
				t.Errorf("panel %q query %s: datasource %v", p.Title, tg.RefID, tg.Datasource)
			}
			sels, err := selectors(tg.Expr)
			if err != nil {
				t.Errorf("panel %q query %s: %v", p.Title, tg.RefID, err)
				continue
			}
			for _, s := range sels {
				metrics[s.Metric] = true
				// every series of an election is filtered by the variable (the
				// manager's own totals are no election's)
				if strings.HasPrefix(s.Metric, "scrutin_") && !managerTotals[s.Metric] || strings.HasPrefix(s.Metric, "kube_") {
					label := "namespace"
					if strings.HasPrefix(s.Metric, "kube_scrutin_election_") {
						label = "runtime_namespace"
					}
					if !slices.Contains(s.Matchers, matcher{label, "=~", "$namespace"}) {
						t.Errorf("panel %q query %s: %s is not filtered by %s=~\"$namespace\"", p.Title, tg.RefID, s.Metric, label)
					}
				}
			}
		}
	}
	// the panels the SRE asked for, by the metric each one shows
	for _, m := range []string{
		"kube_scrutin_election_ballots_cast", "kube_scrutin_election_voters", // turnout
		"scrutin_ballots_cast_total", "scrutin_signins_total", "scrutin_code_delivery_seconds_bucket",
		"scrutin_codes_sent_total", "scrutin_delivery_backlog", "scrutin_requests_shed_total",
		"scrutin_rate_limited_total", "scrutin_runtime_inflight_requests", "kube_deployment_status_replicas", "up",
		"scrutin_elections", "scrutin_election_reconcile_errors_total",
	} {
		if !metrics[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
	// the turnout's metrics are the ones kube-state-metrics-elections.yaml defines
	ksm := string(read(t, ksmConfig))
	for m := range metrics {
		if name, ok := strings.CutPrefix(m, "kube_scrutin_election_"); ok {
			if !strings.Contains(ksm, "metricNamePrefix: kube_scrutin_election") || !regexp.MustCompile(`(?m)- name: `+name+`$`).MatchString(ksm) {
				t.Errorf("%s is not defined by %s", m, ksmConfig)
			}
		}
	}
	if !strings.Contains(ksm, "runtime_namespace: [status, namespace]") {
		t.Errorf("%s does not label its metrics with runtime_namespace", ksmConfig)
	}
}

// TestMonitorsSelectTheTargets: the ServiceMonitor selects the manager's metrics
// Service on its HTTPS port, and the PodMonitor selects the pods the controller
// builds, on a port they have, with relabelings from labels they carry.
func TestMonitorsSelectTheTargets(t *testing.T) {
	type monitor struct {
		Kind string `json:"kind"`
		Spec struct {
			NamespaceSelector struct {
				Any bool `json:"any"`
			} `json:"namespaceSelector"`
			Selector  metav1.LabelSelector `json:"selector"`
			Endpoints []struct {
				Port            string `json:"port"`
				Path            string `json:"path"`
				Scheme          string `json:"scheme"`
				BearerTokenFile string `json:"bearerTokenFile"`
			} `json:"endpoints"`
			PodMetricsEndpoints []struct {
				Port        string `json:"port"`
				Path        string `json:"path"`
				Relabelings []struct {
					SourceLabels []string `json:"sourceLabels"`
					TargetLabel  string   `json:"targetLabel"`
				} `json:"relabelings"`
			} `json:"podMetricsEndpoints"`
		} `json:"spec"`
	}
	load := func(f string) monitor {
		var m monitor
		if err := yaml.Unmarshal(read(t, f), &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		return m
	}
	subset := func(sel, labels map[string]string) bool {
		for k, v := range sel {
			if labels[k] != v {
				return false
			}
		}
		return len(sel) > 0
	}

	// the manager: config/manager's Service
	sm := load(managerMon)
	var svc corev1.Service
	for _, doc := range strings.Split(string(read(t, "config/manager/manager.yaml")), "\n---\n") {
		var o corev1.Service
		if err := yaml.Unmarshal([]byte(doc), &o); err == nil && o.Kind == "Service" {
			svc = o
		}
	}
	if sm.Kind != "ServiceMonitor" || !subset(sm.Spec.Selector.MatchLabels, svc.Labels) {
		t.Errorf("%s selects %v; the manager's Service is labelled %v", managerMon, sm.Spec.Selector.MatchLabels, svc.Labels)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("%s: %d endpoints", managerMon, len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) ||
		ep.Scheme != "https" || ep.Path != "/metrics" || ep.BearerTokenFile == "" {
		t.Errorf("%s: endpoint %+v; want https /metrics with a bearer token on a port of %v", managerMon, ep, svc.Spec.Ports)
	}

	// the runtime: the Deployment the controller builds
	pm := load(runtimeMon)
	e := &scrutinv1.Election{
		ObjectMeta: metav1.ObjectMeta{Namespace: "tenant", Name: "board", UID: "u1"},
		Spec: scrutinv1.ElectionSpec{
			Schedule: scrutinv1.Schedule{OpensAt: metav1.Now(), ClosesAt: metav1.NewTime(time.Now().Add(time.Hour))},
			Questions: []scrutinv1.Question{{ID: "q", Prompt: "?", Kind: scrutinv1.SingleChoice,
				Options: []scrutinv1.Option{{ID: "a", Label: "A"}, {ID: "b", Label: "B"}}}},
			VoterRoll:      scrutinv1.VoterRoll{SecretRef: &scrutinv1.SecretReference{Name: "roll"}, Key: "roll.csv"},
			Authentication: scrutinv1.Authentication{Method: scrutinv1.EmailCode},
			Scaling:        scrutinv1.Scaling{MinReplicas: 1, MaxReplicas: 1, MaxInFlightRequestsPerPod: 256},
			Store:          scrutinv1.Store{Type: scrutinv1.StoreEmbedded},
		},
	}
	electionKeys, err := specs.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := specs.DesiredObjects(&specs.Inputs{
		Election: e, Namespace: specs.NamespaceName(e), Keys: electionKeys,
		Roll:     &specs.RollCopy{Parts: []specs.RollCopyPart{{Name: specs.RollCopyName(1), Key: "part.csv", SHA256: "00"}}},
		Delivery: map[string][]byte{"smtp.host": []byte("192.0.2.10")},
		Options:  specs.Options{RuntimeImage: "scrutin.dev/voting-runtime:dev", OperatorNamespace: "scrutin-system"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var dep *appsv1.Deployment
	for _, o := range objs {
		if d, ok := o.(*appsv1.Deployment); ok {
			dep = d
		}
	}
	if dep == nil {
		t.Fatal("the controller builds no Deployment")
	}
	podLabels := dep.Spec.Template.Labels
	if pm.Kind != "PodMonitor" || !pm.Spec.NamespaceSelector.Any || !subset(pm.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("%s selects %v in any namespace (%v); the voting pods are labelled %v", runtimeMon, pm.Spec.Selector.MatchLabels, pm.Spec.NamespaceSelector.Any, podLabels)
	}
	if len(pm.Spec.PodMetricsEndpoints) != 1 {
		t.Fatalf("%s: %d endpoints", runtimeMon, len(pm.Spec.PodMetricsEndpoints))
	}
	pep := pm.Spec.PodMetricsEndpoints[0]
	hasPort := slices.ContainsFunc(dep.Spec.Template.Spec.Containers, func(c corev1.Container) bool {
		return slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == pep.Port })
	})
	if !hasPort || pep.Path != "/metrics" {
		t.Errorf("%s scrapes port %q path %s; the voting pods' ports: %v", runtimeMon, pep.Port, pep.Path, dep.Spec.Template.Spec.Containers[0].Ports)
	}
	sanitize := regexp.MustCompile(`[^a-zA-Z0-9_]`)
	metaLabels := map[string]bool{}
	for k := range podLabels {
		metaLabels["__meta_kubernetes_pod_label_"+sanitize.ReplaceAllString(k, "_")] = true
	}
	targets := map[string]bool{}
	for _, r := range pep.Relabelings {
		for _, s := range r.SourceLabels {
			if strings.HasPrefix(s, "__meta_kubernetes_pod_label_") && !metaLabels[s] {
				t.Errorf("%s relabels from %s; the voting pods have no such label (%v)", runtimeMon, s, keys(podLabels))
			}
		}
		targets[r.TargetLabel] = true
	}
	for _, l := range []string{"election_namespace", "election_name", "job"} {
		if !targets[l] {
			t.Errorf("%s does not set the label %s the alerts and the dashboard use", runtimeMon, l)
		}
	}
	for _, l := range []string{scrutinv1.LabelElectionNamespace, scrutinv1.LabelElectionName} {
		if podLabels[l] == "" {
			t.Errorf("the voting pods have no label %s", l)
		}
	}
}

// TestKustomizations: config/prometheus builds on its own and from config/default, and
// grants Prometheus the metrics-reader role config/default installs, by its installed name.
func TestKustomizations(t *testing.T) {
	r := root(t)
	kubectl := filepath.Join(controlplane.AssetsDir(r), "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		t.Fatalf("kubectl is missing (%v): run `make tools`", err)
	}
	build := func(dir string) []map[string]any {
		t.Helper()
		cmd := exec.Command(kubectl, "kustomize", dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
		}
		var objs []map[string]any
		for _, doc := range strings.Split(string(out), "\n---\n") {
			var o map[string]any
			if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
				t.Fatalf("%s: %v", dir, err)
			}
			objs = append(objs, o)
		}
		return objs
	}
	named := func(objs []map[string]any) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, o := range objs {
			md, _ := o["metadata"].(map[string]any)
			out[fmt.Sprintf("%s/%v", o["kind"], md["name"])] = o
		}
		return out
	}

	def := named(build(filepath.Join(r, "config/default")))
	alone := named(build(filepath.Join(r, "config/prometheus")))
	for _, want := range []string{"ServiceMonitor/scrutin-manager", "PodMonitor/scrutin-voting-runtime", "PrometheusRule/scrutin-alerts",
		"ClusterRoleBinding/scrutin-prometheus-metrics-reader", "ClusterRole/scrutin-prometheus-discovery", "ClusterRoleBinding/scrutin-prometheus-discovery"} {
		o, ok := alone[want]
		if !ok {
			t.Errorf("config/prometheus does not build %s (it builds %v)", want, keys(alone))
			continue
		}
		md := o["metadata"].(map[string]any)
		if ns, namespaced := md["namespace"]; namespaced && ns != "scrutin-system" {
			t.Errorf("%s in namespace %v, want scrutin-system", want, ns)
		}
	}
	crb, ok := alone["ClusterRoleBinding/scrutin-prometheus-metrics-reader"]
	if ok {
		ref := crb["roleRef"].(map[string]any)["name"]
		if _, exists := def[fmt.Sprintf("ClusterRole/%v", ref)]; !exists {
			t.Errorf("config/prometheus binds Prometheus to ClusterRole %v, which config/default does not install", ref)
		}
	}

	// config/default with `- ../prometheus/base` (README) builds the same objects
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	if err := os.CopyFS(cfg, os.DirFS(filepath.Join(r, "config"))); err != nil {
		t.Fatal(err)
	}
	k := filepath.Join(cfg, "default", "kustomization.yaml")
	data, err := os.ReadFile(k)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte("- ../manager\n"), []byte("- ../manager\n- ../prometheus/base\n"), 1)
	if err := os.WriteFile(k, data, 0o644); err != nil {
		t.Fatal(err)
	}
	with := named(build(filepath.Join(cfg, "default")))
	for name, o := range alone {
		got, ok := with[name]
		if !ok {
			t.Errorf("config/default with ../prometheus/base does not build %s", name)
			continue
		}
		a, _ := json.Marshal(o)
		b, _ := json.Marshal(got)
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between config/prometheus and config/default with ../prometheus/base:\n%s\n%s", name, a, b)
		}
	}
}
