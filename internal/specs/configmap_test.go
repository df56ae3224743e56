package specs_test

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/internal/specs/specstest"
)

func TestConfigHashFollowsSettings(t *testing.T) {
	e := specstest.Election("t", "v", "u")
	base := specstest.Inputs(e)
	cm, _ := specs.ConfigMap(base)
	h := base.ConfigHash(cm.Data)
	if h2 := base.ConfigHash(cm.Data); h2 != h {
		t.Fatal("config hash is not stable")
	}
	changes := map[string]func(in *specs.Inputs){
		"roll": func(in *specs.Inputs) {
			in.Roll = &specs.RollCopy{Parts: []specs.RollCopyPart{{Name: specs.RollCopyName(1), Key: specs.RollCopyKey, SHA256: "2b"}}}
		},
		"roll part added": func(in *specs.Inputs) {
			in.Roll = &specs.RollCopy{Parts: []specs.RollCopyPart{{Name: specs.RollCopyName(1), Key: specs.RollCopyKey, SHA256: "1a"}, {Name: specs.RollCopyName(2), Key: specs.RollCopyKey, SHA256: "1a"}}}
		},
		"delivery": func(in *specs.Inputs) { in.Delivery = map[string][]byte{"smtp.host": []byte("192.0.2.11")} },
		"database": func(in *specs.Inputs) { in.Database = &specs.DatabaseInfo{DSN: "postgres://x"} },
		// regenerated keys (a deleted keys Secret) must reach every pod, or pods of
		// one election would hash and sign with different keys
		"session key":      func(in *specs.Inputs) { in.Keys.SessionKey = []byte("another session key") },
		"hash key":         func(in *specs.Inputs) { in.Keys.HashKey = []byte("another hash key") },
		"control token":    func(in *specs.Inputs) { in.Keys.ControlToken = "another control token" },
		"scrutineer token": func(in *specs.Inputs) { in.Keys.ScrutineerToken = "another scrutineer token" },
	}
	for name, change := range changes {
		in := *base
		change(&in)
		if in.ConfigHash(cm.Data) == h {
			t.Errorf("changing the %s does not change the config hash: pods would keep stale settings", name)
		}
	}
	e2 := e.DeepCopy()
	e2.Spec.Title = "Other"
	cm2, _ := specs.ConfigMap(&specs.Inputs{Election: e2, Namespace: base.Namespace})
	if base.ConfigHash(cm2.Data) == h {
		t.Error("changing the election does not change the config hash")
	}
}

// TestAutoscalingDoesNotRollPods: the autoscaler's settings are not the runtime's;
// announcing a peak or raising maxReplicas during the vote keeps the pods, while
// the in-flight bound, which the runtime reads, rolls them.
func TestAutoscalingDoesNotRollPods(t *testing.T) {
	e := specstest.Election("t", "v", "u")
	e.Spec.Scaling.MaxInFlightRequestsPerPod = 256
	in := specstest.Inputs(e)
	h := specstest.PodsConfigHash(t, in)
	e.Spec.Scaling.MinReplicas, e.Spec.Scaling.MaxReplicas = 3, 8
	e.Spec.Scaling.TargetCPUUtilizationPercentage = ptr.To(int32(50))
	e.Spec.Scaling.Peaks = []scrutinv1.Peak{{At: e.Spec.Schedule.OpensAt, MinReplicas: 6}}
	e.Spec.Scaling.PreScaleLead = &metav1.Duration{Duration: time.Minute}
	if h2 := specstest.PodsConfigHash(t, in); h2 != h {
		t.Error("changing the autoscaler's settings rolls the pods")
	}
	if cm, _ := specs.ConfigMap(in); !strings.Contains(cm.Data[specs.ElectionFileKey], "peaks:") {
		t.Error("the election file must still hold the whole spec")
	}
	e.Spec.Scaling.MaxInFlightRequestsPerPod = 128
	if specstest.PodsConfigHash(t, in) == h {
		t.Error("changing maxInFlightRequestsPerPod does not roll the pods")
	}
}

func TestConfigMapHoldsOnlyThisElection(t *testing.T) {
	e := specstest.Election("tenant-a", "vote", "uid-a")
	e.Spec.Scrutineers.ExportFields = []scrutinv1.ParticipationField{scrutinv1.FieldVoterID}
	cm, err := specs.ConfigMap(specstest.Inputs(e))
	if err != nil {
		t.Fatal(err)
	}
	var back scrutinv1.Election
	if err := yaml.UnmarshalStrict([]byte(cm.Data[specs.ElectionFileKey]), &back); err != nil {
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
