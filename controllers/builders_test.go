package controllers

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

func testElection(ns, name, uid string) *scrutinv1.Election {
	opens := time.Date(2030, 5, 1, 8, 0, 0, 0, time.UTC)
	return &scrutinv1.Election{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(uid), Generation: 1},
		Spec: scrutinv1.ElectionSpec{
			Title: "Board", Organization: "Org",
			Schedule: scrutinv1.Schedule{OpensAt: metav1.NewTime(opens), ClosesAt: metav1.NewTime(opens.Add(time.Hour))},
			Questions: []scrutinv1.Question{{ID: "q", Prompt: "?", Kind: scrutinv1.SingleChoice, MinChoices: 1,
				Options: []scrutinv1.Option{{ID: "a", Label: "A"}, {ID: "b", Label: "B"}}}},
			VoterRoll:      scrutinv1.VoterRoll{SecretRef: &scrutinv1.SecretReference{Name: "roll"}, Key: "roll.csv"},
			Authentication: scrutinv1.Authentication{Method: scrutinv1.EmailCode},
			Scaling:        scrutinv1.Scaling{MinReplicas: 1, MaxReplicas: 1, TargetCPUUtilizationPercentage: ptr.To(int32(70))},
			Store:          scrutinv1.Store{Type: scrutinv1.StoreEmbedded},
		},
	}
}

func testInputs(e *scrutinv1.Election) *Inputs {
	keys, err := NewKeys()
	if err != nil {
		panic(err)
	}
	return &Inputs{
		Election: e, Namespace: NamespaceName(e), Keys: keys,
		Roll:     &RollCopy{Parts: []RollCopyPart{{Name: RollCopyName(1), Key: rollCopyKey, SHA256: "1a"}}},
		Delivery: map[string][]byte{"smtp.host": []byte("192.0.2.10")},
		Egress:   []Endpoint{{CIDR: "192.0.2.10/32", Port: 587}},
		Options: Options{
			RuntimeImage: "scrutin.dev/voting-runtime:abc", OperatorNamespace: "scrutin-system",
			IngressNamespaceLabels:    map[string]string{"ingress": "true"},
			PrometheusNamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"},
			PrometheusPodLabels:       map[string]string{"app.kubernetes.io/name": "prometheus"},
			DNSNamespace:              "kube-system", DNSPodLabels: map[string]string{"k8s-app": "kube-dns"},
		},
	}
}

func TestNamespaceName(t *testing.T) {
	tests := map[string]struct {
		a, b     *scrutinv1.Election
		sameName bool
	}{
		"same election, same name":         {testElection("t1", "vote", "u1"), testElection("t1", "vote", "u1"), true},
		"same name in two tenants":         {testElection("t1", "vote", "u1"), testElection("t2", "vote", "u2"), false},
		"re-created with the same name":    {testElection("t1", "vote", "u1"), testElection("t1", "vote", "u2"), false},
		"names that concatenate the same":  {testElection("a-b", "c", "u1"), testElection("a", "b-c", "u1"), false},
		"long names, same 38-char prefix":  {testElection("t", strings.Repeat("x", 60)+"1", "u"), testElection("t", strings.Repeat("x", 60)+"2", "u"), false},
		"dotted name":                      {testElection("t", "vote.2027", "u"), testElection("t", "vote-2027", "u"), false},
		"same uid, other tenant namespace": {testElection("t1", "v", "u"), testElection("t2", "v", "u"), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			na, nb := NamespaceName(tc.a), NamespaceName(tc.b)
			for _, n := range []string{na, nb} {
				if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
					t.Errorf("%q is not a valid namespace name: %v", n, errs)
				}
			}
			if (na == nb) != tc.sameName {
				t.Errorf("NamespaceName: %q vs %q, want same=%v", na, nb, tc.sameName)
			}
			if (DatabaseName(tc.a) == DatabaseName(tc.b)) != tc.sameName {
				t.Errorf("DatabaseName: %q vs %q, want same=%v", DatabaseName(tc.a), DatabaseName(tc.b), tc.sameName)
			}
		})
	}
}

func TestDesiredObjectsAreTheElections(t *testing.T) {
	e := testElection("tenant", "vote", "uid-1")
	in := testInputs(e)
	objs, err := DesiredObjects(in)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetObjectKind().GroupVersionKind().Kind]++
		if o.GetNamespace() != in.Namespace {
			t.Errorf("%T %s is in namespace %q, want %q", o, o.GetName(), o.GetNamespace(), in.Namespace)
		}
		if o.GetLabels()[LabelElectionUID] != "uid-1" || o.GetLabels()[LabelManagedBy] != ManagedBy {
			t.Errorf("%T %s is not labelled as the election's: %v", o, o.GetName(), o.GetLabels())
		}
	}
	// Secrets: the keys and the delivery settings; the roll's copy, part by part,
	// is written by loadRoll. ConfigMaps: the runtime's settings and the record of
	// its pod template.
	want := map[string]int{
		"ServiceAccount": 1, "NetworkPolicy": 4, "ResourceQuota": 1, "LimitRange": 1, "Secret": 2,
		"ConfigMap": 2, "PersistentVolumeClaim": 1, "Service": 2, "Deployment": 1,
		"HorizontalPodAutoscaler": 1, "PodDisruptionBudget": 1,
	}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s, want %d", kinds[k], k, n)
		}
	}
	ns := buildNamespace(in)
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" || ns.Labels[LabelElectionUID] != "uid-1" {
		t.Errorf("namespace labels: %v", ns.Labels)
	}
}

func TestDeployment(t *testing.T) {
	tests := map[string]struct {
		store        scrutinv1.StoreType
		strategy     appsv1.DeploymentStrategyType
		volume       string
		storeArgPref string
	}{
		"embedded":   {scrutinv1.StoreEmbedded, appsv1.RecreateDeploymentStrategyType, "data", "--store=embedded:"},
		"postgresql": {scrutinv1.StorePostgreSQL, appsv1.RollingUpdateDeploymentStrategyType, "database", "--store=postgres-file:"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := testElection("t", "v", "u")
			e.Spec.Store.Type = tc.store
			in := testInputs(e)
			if tc.store == scrutinv1.StorePostgreSQL {
				in.Database = &DatabaseInfo{DSN: "postgres://r:p@192.0.2.5:5432/d"}
			}
			d := buildDeployment(in, "hash")
			pod := d.Spec.Template.Spec
			c := pod.Containers[0]
			if d.Spec.Replicas != nil {
				t.Error("replicas must be left to the HPA")
			}
			if d.Spec.Strategy.Type != tc.strategy {
				t.Errorf("strategy %s, want %s", d.Spec.Strategy.Type, tc.strategy)
			}
			if tc.strategy == appsv1.RollingUpdateDeploymentStrategyType && d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
				t.Error("a rollout must never take a pod away before its replacement is ready")
			}
			sc := c.SecurityContext
			if !*pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault ||
				!*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
				t.Errorf("security context is not restricted: pod %+v container %+v", pod.SecurityContext, sc)
			}
			if *pod.AutomountServiceAccountToken {
				t.Error("the runtime needs no API token")
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Error("requests and limits are required")
			}
			if c.ReadinessProbe == nil || c.LivenessProbe == nil {
				t.Fatal("readiness and liveness probes are required")
			}
			if p := c.ReadinessProbe.HTTPGet; p.Path != "/readyz" || p.Port.String() != "ops" {
				t.Errorf("readiness probe %s on port %s; /readyz is served on the operations port alone", p.Path, p.Port.String())
			}
			if p := c.LivenessProbe.HTTPGet; p.Path != "/healthz" || p.Port.String() != "http" {
				t.Errorf("liveness probe %s on port %s; want /healthz on the voters' port", p.Path, p.Port.String())
			}
			// the roll's import may take minutes: the startup probe gives it an
			// hour before liveness may restart the pod
			if sp := c.StartupProbe; sp == nil || sp.HTTPGet == nil || sp.HTTPGet.Path != "/readyz" || sp.HTTPGet.Port.String() != "ops" ||
				sp.PeriodSeconds != 5 || sp.FailureThreshold != 720 {
				t.Errorf("startup probe %+v; want /readyz on the operations port, every 5 s, 720 failures", sp)
			}
			if c.Resources.Limits.Memory().Cmp(resource.MustParse("512Mi")) < 0 {
				t.Errorf("memory limit %s; a 1,000,000-voter import needs 512Mi", c.Resources.Limits.Memory())
			}
			ports := map[string]int32{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			if len(ports) != 2 || ports["http"] != RuntimePort || ports["ops"] != OpsPort ||
				!slices.Contains(c.Args, fmt.Sprintf("--listen=:%d", RuntimePort)) || !slices.Contains(c.Args, fmt.Sprintf("--ops-listen=:%d", OpsPort)) {
				t.Errorf("ports %v, args %v; want http %d and ops %d, served at --listen and --ops-listen", ports, c.Args, RuntimePort, OpsPort)
			}
			if c.Image != in.Options.RuntimeImage || c.ImagePullPolicy != corev1.PullIfNotPresent {
				t.Errorf("image %s %s", c.Image, c.ImagePullPolicy)
			}
			var hasVolume, hasStoreArg bool
			for _, v := range pod.Volumes {
				hasVolume = hasVolume || v.Name == tc.volume
			}
			for _, a := range c.Args {
				hasStoreArg = hasStoreArg || strings.HasPrefix(a, tc.storeArgPref)
				if strings.Contains(a, "postgres://") {
					t.Errorf("a connection string is in the pod's arguments: %s", a)
				}
			}
			if !hasVolume || !hasStoreArg {
				t.Errorf("volume %s present=%v, store argument present=%v", tc.volume, hasVolume, hasStoreArg)
			}
		})
	}
}

// TestClientIPHeaderPassedOn: the ingress's client-address header, a manager
// option, reaches every runtime's arguments; without it, none is trusted.
func TestClientIPHeaderPassedOn(t *testing.T) {
	in := testInputs(testElection("t", "v", "u"))
	has := func(d *appsv1.Deployment) bool {
		for _, a := range d.Spec.Template.Spec.Containers[0].Args {
			if strings.HasPrefix(a, "--client-ip-header") {
				return a == "--client-ip-header=X-Forwarded-For"
			}
		}
		return false
	}
	if has(buildDeployment(in, "h")) {
		t.Fatal("a client address header trusted without the option")
	}
	in.Options.ClientIPHeader = "X-Forwarded-For"
	if !has(buildDeployment(in, "h")) {
		t.Fatal("the option does not reach the runtime")
	}
	trusts := func(d *appsv1.Deployment) string {
		for _, a := range d.Spec.Template.Spec.Containers[0].Args {
			if v, ok := strings.CutPrefix(a, "--client-ip-trusted-proxies="); ok {
				return v
			}
		}
		return ""
	}
	if got := trusts(buildDeployment(in, "h")); got != "" {
		t.Fatalf("trusted proxies %q without the option", got)
	}
	in.Options.ClientIPTrustedProxies = "10.10.0.1/32"
	if got := trusts(buildDeployment(in, "h")); got != "10.10.0.1/32" {
		t.Fatalf("trusted proxies %q, want 10.10.0.1/32", got)
	}
}

func TestConfigHashFollowsSettings(t *testing.T) {
	e := testElection("t", "v", "u")
	base := testInputs(e)
	cm, _ := buildConfigMap(base)
	h := base.configHash(cm.Data)
	if h2 := base.configHash(cm.Data); h2 != h {
		t.Fatal("config hash is not stable")
	}
	changes := map[string]func(in *Inputs){
		"roll": func(in *Inputs) {
			in.Roll = &RollCopy{Parts: []RollCopyPart{{Name: RollCopyName(1), Key: rollCopyKey, SHA256: "2b"}}}
		},
		"roll part added": func(in *Inputs) {
			in.Roll = &RollCopy{Parts: []RollCopyPart{{Name: RollCopyName(1), Key: rollCopyKey, SHA256: "1a"}, {Name: RollCopyName(2), Key: rollCopyKey, SHA256: "1a"}}}
		},
		"delivery": func(in *Inputs) { in.Delivery = map[string][]byte{"smtp.host": []byte("192.0.2.11")} },
		"database": func(in *Inputs) { in.Database = &DatabaseInfo{DSN: "postgres://x"} },
		// regenerated keys (a deleted keys Secret) must reach every pod, or pods of
		// one election would hash and sign with different keys
		"session key":      func(in *Inputs) { in.Keys.SessionKey = []byte("another session key") },
		"hash key":         func(in *Inputs) { in.Keys.HashKey = []byte("another hash key") },
		"control token":    func(in *Inputs) { in.Keys.ControlToken = "another control token" },
		"scrutineer token": func(in *Inputs) { in.Keys.ScrutineerToken = "another scrutineer token" },
	}
	for name, change := range changes {
		in := *base
		change(&in)
		if in.configHash(cm.Data) == h {
			t.Errorf("changing the %s does not change the config hash: pods would keep stale settings", name)
		}
	}
	e2 := e.DeepCopy()
	e2.Spec.Title = "Other"
	cm2, _ := buildConfigMap(&Inputs{Election: e2, Namespace: base.Namespace})
	if base.configHash(cm2.Data) == h {
		t.Error("changing the election does not change the config hash")
	}
}

// TestAutoscalingDoesNotRollPods: the autoscaler's settings are not the runtime's;
// announcing a peak or raising maxReplicas during the vote keeps the pods, while
// the in-flight bound, which the runtime reads, rolls them.
func TestAutoscalingDoesNotRollPods(t *testing.T) {
	e := testElection("t", "v", "u")
	e.Spec.Scaling.MaxInFlightRequestsPerPod = 256
	in := testInputs(e)
	hash := func(in *Inputs) string {
		objs, err := DesiredObjects(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if d, ok := o.(*appsv1.Deployment); ok {
				return d.Spec.Template.Annotations[ConfigHashAnnotation]
			}
		}
		t.Fatal("no Deployment")
		return ""
	}
	h := hash(in)
	e.Spec.Scaling.MinReplicas, e.Spec.Scaling.MaxReplicas = 3, 8
	e.Spec.Scaling.TargetCPUUtilizationPercentage = ptr.To(int32(50))
	e.Spec.Scaling.Peaks = []scrutinv1.Peak{{At: e.Spec.Schedule.OpensAt, MinReplicas: 6}}
	e.Spec.Scaling.PreScaleLead = &metav1.Duration{Duration: time.Minute}
	if h2 := hash(in); h2 != h {
		t.Error("changing the autoscaler's settings rolls the pods")
	}
	if cm, _ := buildConfigMap(in); !strings.Contains(cm.Data[ElectionFileKey], "peaks:") {
		t.Error("the election file must still hold the whole spec")
	}
	e.Spec.Scaling.MaxInFlightRequestsPerPod = 128
	if hash(in) == h {
		t.Error("changing maxInFlightRequestsPerPod does not roll the pods")
	}
}

func TestConfigMapHoldsOnlyThisElection(t *testing.T) {
	e := testElection("tenant-a", "vote", "uid-a")
	e.Spec.Scrutineers.ExportFields = []scrutinv1.ParticipationField{scrutinv1.FieldVoterID}
	cm, err := buildConfigMap(testInputs(e))
	if err != nil {
		t.Fatal(err)
	}
	var back scrutinv1.Election
	if err := yaml.UnmarshalStrict([]byte(cm.Data[ElectionFileKey]), &back); err != nil {
		t.Fatal(err)
	}
	if back.Name != "vote" || back.Namespace != "tenant-a" || back.UID != "uid-a" || back.Spec.Title != e.Spec.Title ||
		len(back.Spec.Scrutineers.ExportFields) != 1 {
		t.Errorf("election file does not round-trip: %+v", back)
	}
	if back.Status.Phase != "" || len(back.Annotations) > 0 {
		t.Error("the election file must hold only identity and spec")
	}
}

func TestSecrets(t *testing.T) {
	tests := map[string]struct {
		database *DatabaseInfo
		want     []string
	}{
		"embedded":   {nil, []string{KeysSecretName, DeliverySecretName}},
		"postgresql": {&DatabaseInfo{DSN: "d"}, []string{KeysSecretName, DeliverySecretName, DatabaseSecretName}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := testInputs(testElection("t", "v", "u"))
			in.Database = tc.database
			var got []string
			for _, s := range buildSecrets(in) {
				got = append(got, s.Name)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("secrets %v, want %v", got, tc.want)
			}
			if keys := buildSecrets(in)[0]; keys.Immutable == nil || !*keys.Immutable {
				t.Error("the keys Secret must be immutable")
			}
		})
	}
}

func TestKeysAreFreshAndComplete(t *testing.T) {
	a, err := NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewKeys()
	if string(a.SessionKey) == string(b.SessionKey) || string(a.HashKey) == string(b.HashKey) ||
		a.ControlToken == b.ControlToken || a.DatabasePassword == b.DatabasePassword || string(a.SessionKey) == string(a.HashKey) {
		t.Fatal("keys repeat")
	}
	back, err := KeysFromSecret(&corev1.Secret{Data: a.secretData()})
	if err != nil || string(back.HashKey) != string(a.HashKey) || back.ControlToken != a.ControlToken {
		t.Fatalf("keys do not round-trip: %v", err)
	}
	if _, err := KeysFromSecret(&corev1.Secret{Data: map[string][]byte{keySession: a.SessionKey}}); err == nil {
		t.Error("incomplete keys accepted")
	}
}

func TestNetworkPolicies(t *testing.T) {
	in := testInputs(testElection("t", "v", "u"))
	nps := buildNetworkPolicies(in)
	byName := map[string]*networkingv1.NetworkPolicy{}
	for _, np := range nps {
		byName[np.Name] = np
	}
	deny := byName["default-deny"]
	if deny == nil || len(deny.Spec.PodSelector.MatchLabels) != 0 || len(deny.Spec.PolicyTypes) != 2 || deny.Spec.Ingress != nil || deny.Spec.Egress != nil {
		t.Fatalf("default-deny must select every pod and deny both directions: %+v", deny)
	}
	ingress := byName["allow-ingress"].Spec.Ingress
	if len(ingress) != 1 || len(ingress[0].From) != 2 || len(ingress[0].Ports) != 1 || ingress[0].Ports[0].Port.IntValue() != RuntimePort {
		t.Errorf("ingress rule: %+v", ingress)
	}
	egress := byName["allow-egress"].Spec.Egress
	if len(egress) != 2 {
		t.Fatalf("want DNS and one endpoint, got %d rules", len(egress))
	}
	if ip := egress[1].To[0].IPBlock; ip == nil || ip.CIDR != "192.0.2.10/32" || egress[1].Ports[0].Port.IntValue() != 587 {
		t.Errorf("endpoint rule: %+v", egress[1])
	}
}

func TestHPA(t *testing.T) {
	tests := map[string]struct {
		scaling     scrutinv1.Scaling
		wantMetrics int
	}{
		"cpu only":         {scrutinv1.Scaling{MinReplicas: 2, MaxReplicas: 10, TargetCPUUtilizationPercentage: ptr.To(int32(60))}, 1},
		"cpu and inflight": {scrutinv1.Scaling{MinReplicas: 2, MaxReplicas: 10, TargetCPUUtilizationPercentage: ptr.To(int32(60)), TargetInFlightRequestsPerPod: ptr.To(int32(50))}, 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := testElection("t", "v", "u")
			e.Spec.Scaling = tc.scaling
			h := buildHPA(testInputs(e))
			if *h.Spec.MinReplicas != 2 || h.Spec.MaxReplicas != 10 || *h.Spec.Metrics[0].Resource.Target.AverageUtilization != 60 {
				t.Errorf("bounds: %+v", h.Spec)
			}
			if len(h.Spec.Metrics) != tc.wantMetrics {
				t.Errorf("%d metrics, want %d", len(h.Spec.Metrics), tc.wantMetrics)
			}
			if tc.wantMetrics == 2 && (h.Spec.Metrics[1].Pods.Metric.Name != InFlightMetric || h.Spec.Metrics[1].Pods.Target.AverageValue.Value() != 50) {
				t.Errorf("in-flight metric: %+v", h.Spec.Metrics[1])
			}
		})
	}
}

// TestHPAFloorFollowsPeaks: the HPA's minReplicas is the floor at Inputs.Now.
func TestHPAFloorFollowsPeaks(t *testing.T) {
	e := testElection("t", "v", "u")
	opens := e.Spec.Schedule.OpensAt.Time
	e.Spec.Scaling = scrutinv1.Scaling{MinReplicas: 2, MaxReplicas: 10, OpeningMinReplicas: ptr.To(int32(5)),
		PreScaleLead: &metav1.Duration{Duration: 10 * time.Minute},
		Peaks:        []scrutinv1.Peak{{At: metav1.NewTime(opens.Add(30 * time.Minute)), Duration: &metav1.Duration{Duration: time.Hour}, MinReplicas: 7}}}
	for _, tc := range []struct {
		now  time.Time
		want int32
	}{
		{opens.Add(-11 * time.Minute), 2},
		{opens.Add(-10 * time.Minute), 5},
		{opens.Add(20 * time.Minute), 7},
		{opens.Add(90 * time.Minute), 2},
	} {
		in := testInputs(e)
		in.Now = tc.now
		if h := buildHPA(in); *h.Spec.MinReplicas != tc.want || h.Spec.MaxReplicas != 10 {
			t.Errorf("at opensAt%+v: minReplicas %d, maxReplicas %d; want %d, 10", tc.now.Sub(opens), *h.Spec.MinReplicas, h.Spec.MaxReplicas, tc.want)
		}
	}
}

func TestEgressEndpointsTrimSecretValues(t *testing.T) {
	in := testInputs(testElection("t", "v", "u"))
	in.Delivery = map[string][]byte{"smtp.host": []byte("192.0.2.7\n"), "smtp.port": []byte("2525\n"), "sms.url": []byte("https://198.51.100.3:8443/send\n")}
	eps := (&ElectionReconciler{Resolver: net.DefaultResolver}).egressEndpoints(context.Background(), in)
	want := []Endpoint{{CIDR: "192.0.2.7/32", Port: 2525}, {CIDR: "198.51.100.3/32", Port: 8443}}
	if fmt.Sprint(eps) != fmt.Sprint(want) {
		t.Errorf("endpoints %v, want %v (a Secret value ending in a newline is common)", eps, want)
	}
}

func TestResourceQuotaFollowsMaxReplicas(t *testing.T) {
	e := testElection("t", "v", "u")
	e.Spec.Scaling.MaxReplicas = 9
	q := buildResourceQuota(testInputs(e))
	if got := q.Spec.Hard.Pods().Value(); got != 10 {
		t.Errorf("pods %d, want maxReplicas+1 = 10", got)
	}
	if got := q.Spec.Hard.Name(corev1.ResourceLimitsMemory, ""); got.Cmp(*resourceTimes(runtimeMemoryLimit, 10)) != 0 {
		t.Errorf("limits.memory %s", got.String())
	}
	if lb := q.Spec.Hard[corev1.ResourceServicesLoadBalancers]; !lb.IsZero() {
		t.Error("no load balancer may be created in an election namespace")
	}
}

// TestOpsPortNotExposedToVoters: the control API, readiness and metrics are on
// the operations port, which the voters' Service (the ingress's backend) does not
// expose, and which the NetworkPolicies admit only from the operator's namespace
// and the Prometheus pods (by their own namespace and pod labels), never from the
// ingress path.
func TestOpsPortNotExposedToVoters(t *testing.T) {
	in := testInputs(testElection("t", "v", "u"))
	voters, ops := buildService(in), buildOpsService(in)
	if len(voters.Spec.Ports) != 1 || voters.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("the voters' Service exposes %+v; want the voters' port alone", voters.Spec.Ports)
	}
	for _, p := range voters.Spec.Ports {
		if p.Port == OpsPort || p.TargetPort.String() == "ops" || p.TargetPort.IntValue() == OpsPort {
			t.Errorf("the voters' Service exposes the operations port: %+v", p)
		}
	}
	if ops.Name == voters.Name || len(ops.Spec.Ports) != 1 || ops.Spec.Ports[0].TargetPort.String() != "ops" || ops.Spec.Ports[0].Port != OpsPort {
		t.Errorf("ops Service %s: %+v", ops.Name, ops.Spec.Ports)
	}

	// the election's own quota holds both Services
	objs, err := DesiredObjects(in)
	if err != nil {
		t.Fatal(err)
	}
	var services int64
	for _, o := range objs {
		if _, ok := o.(*corev1.Service); ok {
			services++
		}
	}
	if q := buildResourceQuota(in).Spec.Hard[corev1.ResourceServices]; q.Value() != services {
		t.Errorf("the namespace's quota allows %d Services; the election has %d", q.Value(), services)
	}

	// every rule admitting the operations port, and who it admits
	var opsPeers []networkingv1.NetworkPolicyPeer
	for _, np := range buildNetworkPolicies(in) {
		for _, rule := range np.Spec.Ingress {
			for _, p := range rule.Ports {
				if p.Port == nil || p.Port.IntValue() == OpsPort || p.Port.String() == "ops" {
					if len(rule.From) == 0 {
						t.Fatalf("%s admits the operations port from anywhere: %+v", np.Name, rule)
					}
					opsPeers = append(opsPeers, rule.From...)
				}
			}
		}
	}
	operator := networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{namespaceNameLabel: "scrutin-system"}}}
	prometheus := networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: in.Options.PrometheusNamespaceLabels},
		PodSelector:       &metav1.LabelSelector{MatchLabels: in.Options.PrometheusPodLabels},
	}
	if len(opsPeers) != 2 || !equality.Semantic.DeepEqual(opsPeers[0], operator) || !equality.Semantic.DeepEqual(opsPeers[1], prometheus) {
		t.Errorf("the operations port is admitted from %+v; want the operator's namespace and the Prometheus pods alone", opsPeers)
	}

	// without Prometheus labels, the operator alone
	in.Options.PrometheusNamespaceLabels, in.Options.PrometheusPodLabels = nil, nil
	for _, np := range buildNetworkPolicies(in) {
		if np.Name == "allow-ops" && (len(np.Spec.Ingress) != 1 || !equality.Semantic.DeepEqual(np.Spec.Ingress[0].From, []networkingv1.NetworkPolicyPeer{operator})) {
			t.Errorf("allow-ops without Prometheus: %+v", np.Spec.Ingress)
		}
	}
}
