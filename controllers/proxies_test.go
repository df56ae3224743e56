package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// TestOrganiserProxiesCopiedAndMounted: the organiser's list is copied into
// the election's namespace and given to the runtime (--proxies); a missing
// Secret, a missing key or a file that is not a list keeps the election from
// Ready, the condition naming the field and the line, never a value of it; once
// the tenant fixes it, the election is provisioned.
func TestOrganiserProxiesCopiedAndMounted(t *testing.T) {
	ns := newTenant(t)
	for name, c := range map[string]struct {
		data         map[string]string // nil: no Secret
		reason, want string
	}{
		"good":       {map[string]string{"proxies.csv": "grantor,holder\nA-1,A-2\n"}, "", ""},
		"missing":    {nil, scrutinv1.ReasonProxiesSecretMissing, "Secret px-missing not found in namespace " + ns},
		"no-key":     {map[string]string{"list.csv": "grantor,holder\n"}, scrutinv1.ReasonProxiesKeyMissing, `Secret px-no-key has no key "proxies.csv"`},
		"bad-line":   {map[string]string{"proxies.csv": "grantor,holder\nv1,v2\nsecret-id-42\n"}, scrutinv1.ReasonProxiesInvalid, "line 3"},
		"bad-header": {map[string]string{"proxies.csv": "member,proxy\nv1,v2\n"}, scrutinv1.ReasonProxiesInvalid, "line 1: the header must name the columns grantor and holder"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			secret := "px-" + name
			if c.data != nil {
				createSecret(t, ns, secret, c.data)
			}
			e := newElection(t, ns, "px-"+name, time.Hour, 2*time.Hour)
			e.Spec.Proxies = &scrutinv1.Proxies{MaxPerHolder: 2, SecretRef: &scrutinv1.SecretReference{Name: secret}}
			e = create(t, e)
			if c.reason == "" {
				var cur *scrutinv1.Election
				waitFor(t, "the copy", 20*time.Second, func() (bool, string) {
					cur = getElection(t, e)
					if cur.Status.Namespace == "" {
						return false, "no namespace yet"
					}
					var s corev1.Secret
					err := k8s.Get(context.Background(), client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.ProxiesSecretName}, &s)
					return err == nil && string(s.Data["proxies.csv"]) == c.data["proxies.csv"], fmt.Sprintf("copy: %v", err)
				})
				waitFor(t, "the pods given the copy", 20*time.Second, func() (bool, string) {
					d := getDeployment(t, cur.Status.Namespace)
					v := volumeNamed(d, "proxies")
					return v != nil && v.Secret != nil && slices.Contains(runtimeArgs(d), "--proxies="+specs.ProxiesDir+"/proxies.csv"),
						fmt.Sprintf("volume %+v, args %v", v, runtimeArgs(d))
				})
				waitFor(t, "ProxiesValid", 20*time.Second, func() (bool, string) {
					c := condition(getElection(t, e), scrutinv1.ConditionProxiesValid)
					return c.Status == metav1.ConditionTrue && c.Reason == scrutinv1.ReasonProxiesAccepted && strings.Contains(c.Message, "the 1 proxies"),
						fmt.Sprintf("%+v", c)
				})
				return
			}
			var cur *scrutinv1.Election
			waitFor(t, "the refusal", 20*time.Second, func() (bool, string) {
				cur = getElection(t, e)
				r := condition(cur, scrutinv1.ConditionReady)
				return r.Status == metav1.ConditionFalse && r.Reason == c.reason && strings.Contains(r.Message, c.want) &&
					strings.Contains(r.Message, "spec.proxies.secretRef"), fmt.Sprintf("Ready %+v", r)
			})
			if strings.Contains(condition(cur, scrutinv1.ConditionReady).Message, "secret-id-42") {
				t.Errorf("the condition shows a value of the list: %s", condition(cur, scrutinv1.ConditionReady).Message)
			}
			fixed := map[string][]byte{"proxies.csv": []byte("grantor,holder\nA-1,A-2\n")}
			if c.data == nil {
				createSecret(t, ns, secret, map[string]string{"proxies.csv": string(fixed["proxies.csv"])})
			} else {
				var s corev1.Secret
				if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: secret}, &s); err != nil {
					t.Fatal(err)
				}
				s.Data = fixed
				if err := k8s.Update(context.Background(), &s); err != nil {
					t.Fatal(err)
				}
			}
			waitPhase(t, e, scrutinv1.PhaseScheduled, 20*time.Second)
		})
	}
}

// TestOrganiserProxiesCheckedAgainstTheRoll: the controller checks each line
// of the organiser's list against the roll as the runtime will (an id not on
// the roll, a chain, a second proxy of a grantor, a holder over the cap):
// ProxiesValid names each refused line by its number and reason, never by its
// ids, and the election is provisioned all the same (the other proxies stand);
// once the tenant fixes the list, ProxiesValid is True.
func TestOrganiserProxiesCheckedAgainstTheRoll(t *testing.T) {
	ns := newTenant(t)
	createSecret(t, ns, "ga-proxies", map[string]string{"proxies.csv": "grantor,holder\n" +
		"A-1,A-2\n" + // 2: kept
		"A-3,A-2\n" + // 3: over the cap of 1
		"A-2,A-3\n" + // 4: A-2 holds: a chain
		"A-1,A-3\n" + // 5: A-1 gave on line 2
		"A-3,ZZ-404\n"}) // 6: not on the roll
	e := newElection(t, ns, "ga", time.Hour, 2*time.Hour)
	e.Spec.Proxies = &scrutinv1.Proxies{MaxPerHolder: 1, SecretRef: &scrutinv1.SecretReference{Name: "ga-proxies"}}
	e = create(t, e)
	want := []string{"1 proxies kept, 4 lines refused", "line 3 (the holder already holds spec.proxies.maxPerHolder proxies)",
		"line 4 (a chain", "line 5 (the grantor already gives a proxy on an earlier line)", "line 6 (a voter id not on the roll)"}
	waitFor(t, "ProxiesValid", 20*time.Second, func() (bool, string) {
		c := condition(getElection(t, e), scrutinv1.ConditionProxiesValid)
		ok := c.Status == metav1.ConditionFalse && c.Reason == scrutinv1.ReasonProxiesRefused
		for _, w := range want {
			ok = ok && strings.Contains(c.Message, w)
		}
		return ok, fmt.Sprintf("%+v", c)
	})
	if c := condition(getElection(t, e), scrutinv1.ConditionProxiesValid); strings.Contains(c.Message, "ZZ-404") || strings.Contains(c.Message, "A-3") {
		t.Errorf("ProxiesValid names a voter id: %s", c.Message)
	}
	waitPhase(t, e, scrutinv1.PhaseScheduled, 20*time.Second)

	var s corev1.Secret
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "ga-proxies"}, &s); err != nil {
		t.Fatal(err)
	}
	s.Data = map[string][]byte{"proxies.csv": []byte("grantor,holder\nA-3,A-1\n")}
	if err := k8s.Update(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ProxiesValid once fixed", 20*time.Second, func() (bool, string) {
		c := condition(getElection(t, e), scrutinv1.ConditionProxiesValid)
		return c.Status == metav1.ConditionTrue && strings.Contains(c.Message, "the 1 proxies"), fmt.Sprintf("%+v", c)
	})
}
