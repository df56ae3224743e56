package specs_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/internal/specs/specstest"
)

// TestRuntimeTemplateRecordRoundTrip: the record gives back the very template it
// was built from, with its image and digest; a record whose content does not match
// its digest gives nothing.
func TestRuntimeTemplateRecordRoundTrip(t *testing.T) {
	in := specstest.Inputs(specstest.Election("t", "v", "u"))
	tpl := specs.PodTemplate(in)
	rec, err := specs.RuntimeTemplateRecord(in, &tpl)
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := specs.PodTemplateHash(&tpl)
	if rec.Name != specs.RuntimeTemplateName || rec.Annotations[specs.RuntimeImageAnnotation] != in.Options.RuntimeImage || rec.Annotations[specs.TemplateHashAnnotation] != hash {
		t.Fatalf("record %s, annotations %v; want image %s, digest %s", rec.Name, rec.Annotations, in.Options.RuntimeImage, hash)
	}
	got := specs.ReadRuntimeTemplateRecord(rec)
	if got == nil || !equality.Semantic.DeepEqual(*got, tpl) {
		t.Fatalf("the record gave back %+v", got)
	}
	rec.Data[specs.RuntimeTemplateKey] = strings.Replace(rec.Data[specs.RuntimeTemplateKey], in.Options.RuntimeImage, "evil:latest", 1)
	if specs.ReadRuntimeTemplateRecord(rec) != nil {
		t.Fatal("a record edited by hand was trusted")
	}
}

// TestPodTemplateHashFollowsTheManager: whatever a manager upgrade can change in
// the pods changes the digest; the settings' hash (the tenant's) does not, nor
// does the election's upgrade policy.
func TestPodTemplateHashFollowsTheManager(t *testing.T) {
	base := specstest.Inputs(specstest.Election("t", "v", "u"))
	hashOf := func(in *specs.Inputs) string {
		tpl := specs.PodTemplate(in)
		h, err := specs.PodTemplateHash(&tpl)
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
		change func(in *specs.Inputs)
		same   bool
	}{
		"runtime image":         {func(in *specs.Inputs) { in.Options.RuntimeImage = "scrutin.dev/voting-runtime:def" }, false},
		"client address header": {func(in *specs.Inputs) { in.Options.ClientIPHeader = "X-Forwarded-For" }, false},
		"upgrade policy": {func(in *specs.Inputs) {
			in.Election.Spec.Runtime = &scrutinv1.RuntimeSpec{UpgradePolicy: scrutinv1.UpgradeImmediate}
		}, true},
		"delivery settings": {func(in *specs.Inputs) { in.Delivery = map[string][]byte{"smtp.host": []byte("192.0.2.99")} }, true},
	}
	for name, tc := range changes {
		t.Run(name, func(t *testing.T) {
			in := specstest.Inputs(specstest.Election("t", "v", "u"))
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
	in := specstest.Inputs(specstest.Election("t", "v", "u"))
	old := specs.PodTemplate(in)
	c := &old.Spec.Containers[0]
	c.Image = "scrutin.dev/voting-runtime:old"
	c.Args = append(c.Args[:len(c.Args)-1:len(c.Args)-1], "--flag-of-an-older-release")
	c.LivenessProbe.PeriodSeconds = 30
	in.RuntimeTemplate = &old
	d := specs.Deployment(in, "cafe")
	got := d.Spec.Template.DeepCopy()
	if got.Annotations[specs.ConfigHashAnnotation] != "cafe" {
		t.Fatalf("settings' hash %q, want cafe", got.Annotations[specs.ConfigHashAnnotation])
	}
	delete(got.Annotations, specs.ConfigHashAnnotation)
	if len(got.Annotations) == 0 {
		got.Annotations = nil
	}
	if !equality.Semantic.DeepEqual(*got, old) {
		t.Fatalf("the Deployment's template is not the one decided:\n%+v\nwant\n%+v", got, old)
	}
	if in.RuntimeTemplate.Annotations[specs.ConfigHashAnnotation] != "" {
		t.Fatal("building the Deployment wrote into the decided template")
	}
}

// TestElectionFileLeavesOutRuntime: the runtime's election file, which an older
// runtime reads strictly, never carries spec.runtime; nor does the settings' hash
// move with it.
func TestElectionFileLeavesOutRuntime(t *testing.T) {
	in := specstest.Inputs(specstest.Election("t", "v", "u"))
	cm, err := specs.ConfigMap(in)
	if err != nil {
		t.Fatal(err)
	}
	without := in.ConfigHash(cm.Data)
	in.Election.Spec.Runtime = &scrutinv1.RuntimeSpec{UpgradePolicy: scrutinv1.UpgradeImmediate}
	cm2, err := specs.ConfigMap(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cm2.Data[specs.ElectionFileKey], "runtime") || strings.Contains(cm2.Data[specs.ElectionFileKey], "upgradePolicy") {
		t.Fatalf("the election file carries spec.runtime:\n%s", cm2.Data[specs.ElectionFileKey])
	}
	if cm2.Data[specs.ElectionFileKey] != cm.Data[specs.ElectionFileKey] || in.ConfigHash(cm2.Data) != without {
		t.Fatal("spec.runtime changed the election file or the settings' hash")
	}
	if in.Election.Spec.Runtime == nil {
		t.Fatal("building the file changed the Election")
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
		"held asks for less": {resource.MustParse("256Mi"), specs.RuntimeMemoryLimit},
	} {
		t.Run(name, func(t *testing.T) {
			e := specstest.Election("t", "v", "u")
			e.Spec.Scaling.MaxReplicas = 3
			in := specstest.Inputs(e)
			held := specs.PodTemplate(in)
			held.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory] = tc.heldLimit
			in.RuntimeTemplate = &held
			q := specs.ResourceQuota(in)
			if got := q.Spec.Hard[corev1.ResourceLimitsMemory]; got.Cmp(*specs.ResourceTimes(tc.perPod, 4)) != 0 {
				t.Errorf("limits.memory %s, want 4 x %s", got.String(), tc.perPod.String())
			}
			if got := q.Spec.Hard[corev1.ResourceRequestsCPU]; got.Cmp(*specs.ResourceTimes(specs.RuntimeCPURequest, 4)) != 0 {
				t.Errorf("requests.cpu %s, want 4 x %s", got.String(), specs.RuntimeCPURequest.String())
			}
		})
	}
}
