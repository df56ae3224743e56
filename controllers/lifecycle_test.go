package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// TestLifecycle follows one Election from creation to its results on a schedule a
// few seconds long: every object built, phases, conditions and events in order.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newTenant(t)
	e := create(t, newElection(t, ns, "board", 4*time.Second, 8*time.Second))

	cur := waitPhase(t, e, scrutinv1.PhaseScheduled, 15*time.Second)
	if cur.Status.Namespace != specs.NamespaceName(cur) {
		t.Errorf("status.namespace %q, want %q", cur.Status.Namespace, specs.NamespaceName(cur))
	}
	if c := condition(cur, scrutinv1.ConditionRollValid); c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "3 voters") {
		t.Errorf("RollValid: %+v", c)
	}
	if cur.Status.Voters != 3 || cur.Status.ObservedGeneration != cur.Generation {
		t.Errorf("voters %d, observedGeneration %d (generation %d)", cur.Status.Voters, cur.Status.ObservedGeneration, cur.Generation)
	}
	if c := condition(cur, scrutinv1.ConditionReady); c.Status != metav1.ConditionFalse || c.Reason != "RuntimeStarting" {
		t.Errorf("Ready before the pods run: %+v", c)
	}
	assertNamespaceIsBuilt(t, cur)
	var scrutineers corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: specs.ScrutineerSecretName(cur)}, &scrutineers); err != nil {
		t.Fatalf("the tenant has no scrutineers' Secret: %v", err)
	}
	if keys := inputsFromCluster(t, cur).Keys; string(scrutineers.Data["token"]) != keys.ScrutineerToken ||
		len(scrutineers.OwnerReferences) != 1 || scrutineers.OwnerReferences[0].UID != cur.UID {
		t.Errorf("scrutineers' Secret: token matches=%v, owners %+v", string(scrutineers.Data["token"]) == keys.ScrutineerToken, scrutineers.OwnerReferences)
	}

	// the Deployment becomes available
	markRuntimeAvailable(t, cur.Status.Namespace)
	waitFor(t, "Ready", 10*time.Second, func() (bool, string) {
		c := condition(getElection(t, e), scrutinv1.ConditionReady)
		return c.Status == metav1.ConditionTrue, c.Reason + ": " + c.Message
	})

	cur = waitPhase(t, e, scrutinv1.PhaseOpen, 10*time.Second)
	if c := condition(cur, scrutinv1.ConditionOpen); c.Status != metav1.ConditionTrue {
		t.Errorf("Open condition: %+v", c)
	}
	cur = waitPhase(t, e, scrutinv1.PhaseTallied, 15*time.Second)
	if !slices.Contains(double.callsTo(cur.Status.Namespace), "open") || !slices.Contains(double.callsTo(cur.Status.Namespace), "close") {
		t.Errorf("the runtime was not told to open and close: %v", double.callsTo(cur.Status.Namespace))
	}
	if len(cur.Status.Results) != 2 || cur.Status.Results[0].QuestionID != "chair" || cur.Status.Results[0].Options[0].Votes != 2 {
		t.Errorf("results: %+v", cur.Status.Results)
	} else if r := cur.Status.Results[0]; len(r.RankingGroups) != 2 || len(r.RankingGroups[0]) != 1 || r.RankingGroups[0][0] != r.Ranking[0] ||
		len(r.RankingGroups[1]) != len(r.Ranking)-1 {
		t.Errorf("the ranking groups did not reach the status: %+v", r)
	}
	if cur.Status.Turnout != "75.0%" || cur.Status.BallotsCast != 3 || cur.Status.AuditHead != "sha256:tallied" {
		t.Errorf("turnout %q, ballots %d, audit head %q", cur.Status.Turnout, cur.Status.BallotsCast, cur.Status.AuditHead)
	}
	if c := condition(cur, scrutinv1.ConditionTallied); c.Status != metav1.ConditionTrue || c.ObservedGeneration != cur.Generation {
		t.Errorf("Tallied: %+v", c)
	}
	waitFor(t, "an event for each transition", 5*time.Second, func() (bool, string) {
		reasons := eventReasons(t, e)
		for _, want := range []string{"Pending", "Provisioned", "RuntimeAvailable", "Opened", "Closed", "Tallied"} {
			if !slices.Contains(reasons, want) {
				return false, "missing " + want + " in " + strings.Join(reasons, ",") + debugEvents(t, e)
			}
		}
		return true, ""
	})
}

// TestRollErrorsReportLineNumbers: every bad line is named with its number and
// reason; the election neither gets the roll nor opens, until the roll is fixed.
func TestRollErrorsReportLineNumbers(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	e := newElection(t, ns, "roll", 3*time.Second, time.Hour)
	var roll corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "roll-roll"}, &roll); err != nil {
		t.Fatal(err)
	}
	roll.Data = map[string][]byte{"roll.csv": []byte("voter_id,name,email,phone\n" +
		"A-1,Camille Martin,camille@example.org,+33612345678\n" +
		"A-2,Jean Dupont,not-an-email,+33698765432\n" + // line 3
		"A-3,Amina Diallo,amina@example.org,0612345678\n" + // line 4: phone not E.164
		"A-1,Someone Else,else@example.org,\n" + // line 5: duplicate id
		"A-5,,nobody@example.org,\n")} // line 6: no name
	if err := k8s.Update(ctx, &roll); err != nil {
		t.Fatal(err)
	}
	create(t, e)

	var cur *scrutinv1.Election
	waitFor(t, "RollValid=False", 10*time.Second, func() (bool, string) {
		cur = getElection(t, e)
		c := condition(cur, scrutinv1.ConditionRollValid)
		return c.Status == metav1.ConditionFalse, c.Message
	})
	msg := condition(cur, scrutinv1.ConditionRollValid).Message
	for _, want := range []string{"line 3: email", "line 4: phone", "line 5: voter_id", "line 6: name"} {
		if !strings.Contains(msg, want) {
			t.Errorf("RollValid message lacks %q:\n%s", want, msg)
		}
	}
	for _, leaked := range []string{"not-an-email", "0612345678", "Someone Else"} {
		if strings.Contains(msg, leaked) {
			t.Errorf("RollValid message shows a roll value %q", leaked)
		}
	}
	// Past opensAt, it still does not open.
	time.Sleep(time.Until(e.Spec.Schedule.OpensAt.Time) + time.Second)
	cur = getElection(t, e)
	if cur.Status.Phase == scrutinv1.PhaseOpen || cur.Status.Phase == scrutinv1.PhaseScheduled {
		t.Fatalf("an election with a bad roll reached phase %s", cur.Status.Phase)
	}
	if c := condition(cur, scrutinv1.ConditionOpen); c.Status != metav1.ConditionFalse || c.Reason != "RollInvalid" {
		t.Errorf("Open condition: %+v", c)
	}
	var copied corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.RollCopyName(1)}, &copied); !isNotFound(err) {
		t.Errorf("an invalid roll was copied to the election (err=%v)", err)
	}
	waitEvent(t, e, "RollInvalid")

	// Fixed: the roll is copied and the election opens.
	roll.Data = map[string][]byte{"roll.csv": []byte(goodRoll)}
	if err := k8s.Update(ctx, &roll); err != nil {
		t.Fatal(err)
	}
	cur = waitPhase(t, e, scrutinv1.PhaseOpen, 10*time.Second)
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.RollCopyName(1)}, &copied); err != nil {
		t.Errorf("the fixed roll was not copied: %v", err)
	}
}

// TestRollValidWarnsFormulaCells: a roll whose voter ids, names or emails start
// like a spreadsheet formula (=, +, -, @) is valid, and RollValid says which
// lines and columns, never what they hold; phones (E.164, all +) do not warn.
func TestRollValidWarnsFormulaCells(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	e := newElection(t, ns, "formula", time.Hour, 2*time.Hour)
	var roll corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "formula-roll"}, &roll); err != nil {
		t.Fatal(err)
	}
	roll.Data = map[string][]byte{"roll.csv": []byte("voter_id,name,email,phone\n" +
		"A-1,Camille Martin,camille@example.org,+33612345678\n" +
		"A-2,\"=HYPERLINK(\"\"https://attacker.example\"\",\"\"x\"\")\",jean@example.org,\n" + // line 3: name
		"@A-3,Amina Diallo,-amina@example.org,\n")} // line 4: voter_id, email
	if err := k8s.Update(ctx, &roll); err != nil {
		t.Fatal(err)
	}
	create(t, e)
	var msg string
	waitFor(t, "RollValid=True", 10*time.Second, func() (bool, string) {
		c := condition(getElection(t, e), scrutinv1.ConditionRollValid)
		msg = c.Message
		return c.Status == metav1.ConditionTrue, c.Message
	})
	for _, want := range []string{"3 voters on the roll", "3 field(s) start like a spreadsheet formula", "line 3: name", "line 4: voter_id", "line 4: email"} {
		if !strings.Contains(msg, want) {
			t.Errorf("RollValid message lacks %q:\n%s", want, msg)
		}
	}
	for _, leaked := range []string{"HYPERLINK", "@A-3", "-amina", "line 2"} {
		if strings.Contains(msg, leaked) {
			t.Errorf("RollValid message holds %q:\n%s", leaked, msg)
		}
	}
}

// TestDriftRepair: objects of an election's namespace edited or deleted by hand come
// back as the builders make them.
func TestDriftRepair(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	e := waitPhase(t, create(t, newElection(t, ns, "drift", time.Hour, 2*time.Hour)), scrutinv1.PhaseScheduled, 15*time.Second)
	ens := e.Status.Namespace
	key := func(name string) client.ObjectKey { return client.ObjectKey{Namespace: ens, Name: name} }

	var cm corev1.ConfigMap
	if err := k8s.Get(ctx, key(specs.ConfigMapName), &cm); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, &cm); err != nil {
		t.Fatal(err)
	}
	var svc corev1.Service
	if err := k8s.Get(ctx, key(specs.RuntimeName), &svc); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, &svc); err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := k8s.Get(ctx, key(specs.RuntimeName), &d); err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Image = "attacker.example/runtime:evil"
	d.Spec.Template.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = ptr.To(true)
	if err := k8s.Update(ctx, &d); err != nil {
		t.Fatal(err)
	}
	var np networkingv1.NetworkPolicy
	if err := k8s.Get(ctx, key("default-deny"), &np); err != nil {
		t.Fatal(err)
	}
	np.Spec.PolicyTypes = np.Spec.PolicyTypes[:1] // egress no longer denied
	if err := k8s.Update(ctx, &np); err != nil {
		t.Fatal(err)
	}

	waitFor(t, "drift repaired", 10*time.Second, func() (bool, string) {
		if err := k8s.Get(ctx, key(specs.ConfigMapName), &cm); err != nil {
			return false, "configmap: " + err.Error()
		}
		if err := k8s.Get(ctx, key(specs.RuntimeName), &svc); err != nil {
			return false, "service: " + err.Error()
		}
		if err := k8s.Get(ctx, key(specs.RuntimeName), &d); err != nil || d.Spec.Template.Spec.Containers[0].Image != testOpt.RuntimeImage ||
			*d.Spec.Template.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation {
			return false, "deployment not restored"
		}
		if err := k8s.Get(ctx, key("default-deny"), &np); err != nil || len(np.Spec.PolicyTypes) != 2 {
			return false, "default-deny not restored"
		}
		return true, ""
	})
	assertNamespaceIsBuilt(t, getElection(t, e))
}

// TestDeliverySecretMissing: an Election whose mail Secret does not exist says so
// in Ready, with a reason a person reads as such, naming the Secret.
func TestDeliverySecretMissing(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	e := newElection(t, ns, "nomail", time.Hour, 2*time.Hour)
	if err := k8s.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nomail-smtp"}}); err != nil {
		t.Fatal(err)
	}
	create(t, e)
	waitFor(t, "Ready=False DeliverySMTPSecretMissing", 10*time.Second, func() (bool, string) {
		c := condition(getElection(t, e), scrutinv1.ConditionReady)
		return c.Status == metav1.ConditionFalse && c.Reason == "DeliverySMTPSecretMissing" && strings.Contains(c.Message, "nomail-smtp"),
			fmt.Sprintf("%+v", c)
	})
}
