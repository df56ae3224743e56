package main

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// TestStatusExplainsByReason: `status` says what to do from a condition's
// reason, one of the API's, never from its message (here a message that says
// nothing useful).
func TestStatusExplainsByReason(t *testing.T) {
	opens := time.Date(2027, 3, 14, 8, 0, 0, 0, time.UTC)
	e := &scrutinv1.Election{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant", Name: "board"}}
	e.Spec.Schedule.OpensAt = metav1.NewTime(opens)
	e.Status.Namespace = "scrutin-board-0123abcd"
	cases := map[string]struct {
		typ, reason string
		state, says string
		todo        string
	}{
		"the SMTP Secret is missing": {typ: scrutinv1.ConditionReady, reason: scrutinv1.ReasonDeliverySMTPSecretMissing,
			state: "PROBLEM", todo: "create this Secret in namespace tenant"},
		"the SMS Secret is missing": {typ: scrutinv1.ConditionReady, reason: scrutinv1.ReasonDeliverySMSSecretMissing,
			state: "PROBLEM", todo: "create this Secret in namespace tenant"},
		"the database Secret is missing": {typ: scrutinv1.ConditionReady, reason: scrutinv1.ReasonDatabaseSecretMissing,
			state: "PROBLEM", todo: "create this Secret in namespace tenant"},
		"the credentials Secret is missing": {typ: scrutinv1.ConditionReady, reason: scrutinv1.ReasonPublicCredentialsSecretMissing,
			state: "PROBLEM", todo: "create this Secret in namespace tenant"},
		"lines of the proxies refused": {typ: scrutinv1.ConditionProxiesValid, reason: scrutinv1.ReasonProxiesRefused,
			state: "PROBLEM", todo: "kubectl scrutin proxies board -n tenant"},
		"the proxies' Secret is missing": {typ: scrutinv1.ConditionReady, reason: scrutinv1.ReasonProxiesSecretMissing,
			state: "PROBLEM", todo: "create this Secret in namespace tenant (see spec.proxies.secretRef)"},
		"the runtime does not answer": {typ: scrutinv1.ConditionReady, reason: scrutinv1.ReasonRuntimeUnreachable,
			state: "PROBLEM", todo: "check them in namespace scrutin-board-0123abcd"},
		"not open yet: the opening time comes from the spec": {typ: scrutinv1.ConditionOpen, reason: scrutinv1.ReasonNotYetOpen,
			state: "waiting", says: "not open yet: opens at 2027-03-14T08:00:00Z"},
		"a reason the plugin does not know": {typ: scrutinv1.ConditionReady, reason: "SomethingNew",
			state: "PROBLEM", todo: "see kubectl describe election board -n tenant"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			v := explainCondition(e, metav1.Condition{Type: c.typ, Status: metav1.ConditionFalse, Reason: c.reason, Message: "something"})
			if v.State != c.state {
				t.Errorf("state %q, want %q", v.State, c.state)
			}
			if c.says != "" && v.Says != c.says {
				t.Errorf("says %q, want %q", v.Says, c.says)
			}
			if !strings.Contains(v.ToDo, c.todo) {
				t.Errorf("to do %q, want it to say %q", v.ToDo, c.todo)
			}
		})
	}
}
