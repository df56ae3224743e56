package main

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// TestStatusExplainsRollInParts: `status` explains the RollValid and Delivered
// conditions of an Election whose roll is in parts (no secretRef), naming what to
// do, where it used to read spec.voterRoll.secretRef.
func TestStatusExplainsRollInParts(t *testing.T) {
	e := &scrutinv1.Election{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant", Name: "congress"}}
	e.Spec.VoterRoll = scrutinv1.VoterRoll{Key: "roll.csv", Parts: []scrutinv1.SecretReference{{Name: "congress-1"}, {Name: "congress-2"}}}
	cases := map[string]string{
		scrutinv1.ReasonRollPartMissing:    "kubectl scrutin roll split",
		scrutinv1.ReasonRollDigestMismatch: "kubectl scrutin roll split",
		scrutinv1.ReasonRollInvalid:        "the part named above",
		scrutinv1.ReasonSomeFailed:         "kubectl scrutin delivery congress -n tenant",
	}
	for reason, want := range cases {
		v := explainCondition(e, metav1.Condition{Type: scrutinv1.ConditionRollValid, Status: metav1.ConditionFalse, Reason: reason, Message: "part 2 of 2: something"})
		if !strings.Contains(v.ToDo, want) {
			t.Errorf("%s: to do %q, want it to say %q", reason, v.ToDo, want)
		}
	}
}
