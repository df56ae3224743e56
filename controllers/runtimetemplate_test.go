package controllers

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// TestRuntimeTemplateRecordRoundTrip: the record gives back the very template it
// was built from, with its image and digest; a record whose content does not match
// its digest gives nothing.
func TestRuntimeTemplateRecordRoundTrip(t *testing.T) {
	in := testInputs(testElection("t", "v", "u"))
	tpl := buildPodTemplate(in)
	rec, err := buildRuntimeTemplateRecord(in, &tpl)
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := podTemplateHash(&tpl)
	if rec.Name != RuntimeTemplateName || rec.Annotations[RuntimeImageAnnotation] != in.Options.RuntimeImage || rec.Annotations[TemplateHashAnnotation] != hash {
		t.Fatalf("record %s, annotations %v; want image %s, digest %s", rec.Name, rec.Annotations, in.Options.RuntimeImage, hash)
	}
	got := readRuntimeTemplateRecord(rec)
	if got == nil || !equality.Semantic.DeepEqual(*got, tpl) {
		t.Fatalf("the record gave back %+v", got)
	}
	rec.Data[runtimeTemplateKey] = strings.Replace(rec.Data[runtimeTemplateKey], in.Options.RuntimeImage, "evil:latest", 1)
	if readRuntimeTemplateRecord(rec) != nil {
		t.Fatal("a record edited by hand was trusted")
	}
}

// TestPodTemplateHashFollowsTheManager: whatever a manager upgrade can change in
// the pods changes the digest; the settings' hash (the tenant's) does not, nor
// does the election's upgrade policy.
func TestPodTemplateHashFollowsTheManager(t *testing.T) {
	base := testInputs(testElection("t", "v", "u"))
	hashOf := func(in *Inputs) string {
		tpl := buildPodTemplate(in)
		h, err := podTemplateHash(&tpl)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	want := hashOf(base)
	if hashOf(base) != want {
		t.Fatal("the digest of one template is not stable")
	}
	changes := map[string]struct {
		change func(in *Inputs)
		same   bool
	}{
		"runtime image":         {func(in *Inputs) { in.Options.RuntimeImage = "scrutin.dev/voting-runtime:def" }, false},
		"client address header": {func(in *Inputs) { in.Options.ClientIPHeader = "X-Forwarded-For" }, false},
		"upgrade policy": {func(in *Inputs) {
			in.Election.Spec.Runtime = &scrutinv1.RuntimeSpec{UpgradePolicy: scrutinv1.UpgradeImmediate}
		}, true},
		"delivery settings": {func(in *Inputs) { in.Delivery = map[string][]byte{"smtp.host": []byte("192.0.2.99")} }, true},
	}
	for name, tc := range changes {
		t.Run(name, func(t *testing.T) {
			in := testInputs(testElection("t", "v", "u"))
			in.Keys = base.Keys
			tc.change(in)
			if got := hashOf(in); (got == want) != tc.same {
				t.Errorf("digest %s (base %s); want same=%v", got, want, tc.same)
			}
		})
	}
}

// TestDeploymentKeepsTheDecidedTemplate: given a template (one applied by an
// older manager, with its own image, flags and probes), the Deployment carries it
// whole, with only this reconcile's settings' hash added.
func TestDeploymentKeepsTheDecidedTemplate(t *testing.T) {
	in := testInputs(testElection("t", "v", "u"))
	old := buildPodTemplate(in)
	c := &old.Spec.Containers[0]
	c.Image = "scrutin.dev/voting-runtime:old"
	c.Args = append(c.Args[:len(c.Args)-1:len(c.Args)-1], "--flag-of-an-older-release")
	c.LivenessProbe.PeriodSeconds = 30
	in.RuntimeTemplate = &old
	d := buildDeployment(in, "cafe")
	got := d.Spec.Template.DeepCopy()
	if got.Annotations[ConfigHashAnnotation] != "cafe" {
		t.Fatalf("settings' hash %q, want cafe", got.Annotations[ConfigHashAnnotation])
	}
	delete(got.Annotations, ConfigHashAnnotation)
	if len(got.Annotations) == 0 {
		got.Annotations = nil
	}
	if !equality.Semantic.DeepEqual(*got, old) {
		t.Fatalf("the Deployment's template is not the one decided:\n%+v\nwant\n%+v", got, old)
	}
	if in.RuntimeTemplate.Annotations[ConfigHashAnnotation] != "" {
		t.Fatal("building the Deployment wrote into the decided template")
	}
}

// TestElectionFileLeavesOutRuntime: the runtime's election file, which an older
// runtime reads strictly, never carries spec.runtime; nor does the settings' hash
// move with it.
func TestElectionFileLeavesOutRuntime(t *testing.T) {
	in := testInputs(testElection("t", "v", "u"))
	cm, err := buildConfigMap(in)
	if err != nil {
		t.Fatal(err)
	}
	without := in.configHash(cm.Data)
	in.Election.Spec.Runtime = &scrutinv1.RuntimeSpec{UpgradePolicy: scrutinv1.UpgradeImmediate}
	cm2, err := buildConfigMap(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cm2.Data[ElectionFileKey], "runtime") || strings.Contains(cm2.Data[ElectionFileKey], "upgradePolicy") {
		t.Fatalf("the election file carries spec.runtime:\n%s", cm2.Data[ElectionFileKey])
	}
	if cm2.Data[ElectionFileKey] != cm.Data[ElectionFileKey] || in.configHash(cm2.Data) != without {
		t.Fatal("spec.runtime changed the election file or the settings' hash")
	}
	if in.Election.Spec.Runtime == nil {
		t.Fatal("building the file changed the Election")
	}
}

// TestHoldReason: when the manager's template may replace the one applied.
func TestHoldReason(t *testing.T) {
	opens := time.Date(2030, 5, 1, 8, 0, 0, 0, time.UTC)
	before, during, after := opens.Add(-time.Minute), opens.Add(time.Minute), opens.Add(2*time.Hour)
	tests := map[string]struct {
		phase  scrutinv1.Phase
		policy scrutinv1.UpgradePolicy
		now    time.Time
		want   string
	}{
		"scheduled":                          {scrutinv1.PhaseScheduled, "", before, ""},
		"provisioning":                       {scrutinv1.PhaseProvisioning, "", before, ""},
		"open":                               {scrutinv1.PhaseOpen, "", during, scrutinv1.ReasonUpgradeHeldWhileOpen},
		"open, policy written out":           {scrutinv1.PhaseOpen, scrutinv1.UpgradeWhenNotOpen, during, scrutinv1.ReasonUpgradeHeldWhileOpen},
		"scheduled, opensAt passed":          {scrutinv1.PhaseScheduled, "", during, scrutinv1.ReasonUpgradeHeldWhileOpen},
		"open, Immediate":                    {scrutinv1.PhaseOpen, scrutinv1.UpgradeImmediate, during, ""},
		"closed":                             {scrutinv1.PhaseClosed, "", during, scrutinv1.ReasonKeptAfterClose},
		"open, closesAt passed":              {scrutinv1.PhaseOpen, "", after, scrutinv1.ReasonKeptAfterClose},
		"open, Immediate, closesAt passed":   {scrutinv1.PhaseOpen, scrutinv1.UpgradeImmediate, after, scrutinv1.ReasonKeptAfterClose},
		"tallied":                            {scrutinv1.PhaseTallied, "", during, scrutinv1.ReasonKeptAfterClose},
		"tallied, Immediate":                 {scrutinv1.PhaseTallied, scrutinv1.UpgradeImmediate, during, scrutinv1.ReasonKeptAfterClose},
		"failed (never opened): no ballots":  {scrutinv1.PhaseFailed, "", during, ""},
		"scheduled, Immediate, opensAt past": {scrutinv1.PhaseScheduled, scrutinv1.UpgradeImmediate, during, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := testElection("t", "v", "u")
			e.Status.Phase = tc.phase
			if tc.policy != "" {
				e.Spec.Runtime = &scrutinv1.RuntimeSpec{UpgradePolicy: tc.policy}
			}
			if got := holdReason(e, &Inputs{Now: tc.now}); got != tc.want {
				t.Errorf("holdReason %q, want %q", got, tc.want)
			}
		})
	}
}

// TestQuotaAdmitsTheHeldTemplate: a template held back from a release whose pods
// asked for more keeps fitting the namespace's quota (its pods are re-created when
// a node goes); one that asked for less leaves this manager's share.
func TestQuotaAdmitsTheHeldTemplate(t *testing.T) {
	for name, tc := range map[string]struct {
		heldLimit resource.Quantity
		perPod    resource.Quantity
	}{
		"held asks for more": {resource.MustParse("1Gi"), resource.MustParse("1Gi")},
		"held asks for less": {resource.MustParse("256Mi"), runtimeMemoryLimit},
	} {
		t.Run(name, func(t *testing.T) {
			e := testElection("t", "v", "u")
			e.Spec.Scaling.MaxReplicas = 3
			in := testInputs(e)
			held := buildPodTemplate(in)
			held.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory] = tc.heldLimit
			in.RuntimeTemplate = &held
			q := buildResourceQuota(in)
			if got := q.Spec.Hard[corev1.ResourceLimitsMemory]; got.Cmp(*resourceTimes(tc.perPod, 4)) != 0 {
				t.Errorf("limits.memory %s, want 4 x %s", got.String(), tc.perPod.String())
			}
			if got := q.Spec.Hard[corev1.ResourceRequestsCPU]; got.Cmp(*resourceTimes(runtimeCPURequest, 4)) != 0 {
				t.Errorf("requests.cpu %s, want 4 x %s", got.String(), runtimeCPURequest.String())
			}
		})
	}
}

// unreachableReader fails every read, as an API server that cannot be reached.
type unreachableReader struct{ client.Reader }

func (unreachableReader) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return errors.New("the API server is unreachable")
}

// TestSettledRuntimeIsNotReadAgain: an election whose last decision was the
// manager's own template, with nothing held, decides again without reading the
// template's record from the API server; one with a new template to apply, or
// one whose upgrade is held, reads it.
func TestSettledRuntimeIsNotReadAgain(t *testing.T) {
	r := &ElectionReconciler{APIReader: unreachableReader{}, Options: testOpt}
	e := testElection("tenant", "board", "uid-1")
	in := testInputs(e)
	in.Now = e.Spec.Schedule.OpensAt.Add(-time.Hour)
	rendered := buildPodTemplate(in)
	hash, err := podTemplateHash(&rendered)
	if err != nil {
		t.Fatal(err)
	}
	e.Status.Runtime = &scrutinv1.RuntimeState{Image: templateImage(&rendered), TemplateHash: hash}
	if err := r.decideRuntime(context.Background(), in); err != nil {
		t.Fatalf("a settled election read the API server: %v", err)
	}
	if in.RuntimeTemplate == nil || templateImage(in.RuntimeTemplate) != in.Options.RuntimeImage {
		t.Fatalf("decided template %v, want the manager's", in.RuntimeTemplate)
	}
	if c := meta.FindStatusCondition(e.Status.Conditions, scrutinv1.ConditionRuntimeUpToDate); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("RuntimeUpToDate %+v, want True", c)
	}

	for name, status := range map[string]*scrutinv1.RuntimeState{
		"another template decided last": {Image: "scrutin.dev/voting-runtime:old", TemplateHash: "old"},
		"an upgrade held":               {Image: "scrutin.dev/voting-runtime:old", TemplateHash: hash, PendingImage: "x", PendingTemplateHash: "new"},
		"no decision yet":               nil,
	} {
		e.Status.Runtime = status
		if err := r.decideRuntime(context.Background(), in); err == nil {
			t.Errorf("%s: decided without reading the applied template", name)
		}
	}
}
