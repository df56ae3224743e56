package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// randomElection draws an Election with its own Secrets: method, export, scaling and
// store vary; names repeat across tenants on purpose.
func randomElection(t *testing.T, rng *rand.Rand, ns string, i int) *scrutinv1.Election {
	t.Helper()
	names := []string{"vote", "board", "congress"}
	name := names[rng.IntN(len(names))]
	for _, taken := range usedNames[ns] {
		if taken == name {
			name = fmt.Sprintf("%s-%d", name, i)
		}
	}
	usedNames[ns] = append(usedNames[ns], name)

	uniq := fmt.Sprintf("%s-%s-%d", ns, name, i)
	e := newElectionWithRoll(t, ns, name, time.Hour, 2*time.Hour,
		"voter_id,name,email,phone\n"+uniq+"-1,Voter One,one@"+uniq+".example.org,+33612345678\n"+uniq+"-2,Voter Two,two@"+uniq+".example.org,+33698765432\n",
		map[string]string{"host": fmt.Sprintf("192.0.2.%d", 10+i), "port": strconv.Itoa(2000 + i), "password": "smtp-password-" + uniq})

	switch rng.IntN(3) {
	case 0:
		e.Spec.Authentication.Method = scrutinv1.EmailCode
	case 1:
		e.Spec.Authentication.Method = scrutinv1.SMSCode
		createSecret(t, ns, name+"-sms", map[string]string{"url": fmt.Sprintf("https://198.51.100.%d/send", 10+i), "token": "sms-token-" + uniq})
		e.Spec.Delivery.SMS = &scrutinv1.DeliveryChannel{SecretRef: scrutinv1.SecretReference{Name: name + "-sms"}}
	case 2:
		e.Spec.Authentication.Method = scrutinv1.Credential
	}
	all := []scrutinv1.ParticipationField{scrutinv1.FieldVoterID, scrutinv1.FieldName, scrutinv1.FieldEmail, scrutinv1.FieldPhone, scrutinv1.FieldWeight, scrutinv1.FieldVoted}
	rng.Shuffle(len(all), func(a, b int) { all[a], all[b] = all[b], all[a] })
	e.Spec.Scrutineers.ExportFields = all[:1+rng.IntN(len(all))]
	if rng.IntN(3) == 0 {
		createSecret(t, ns, name+"-pg", map[string]string{AdminDSNKey: pgURL(t)})
		e.Spec.Store = scrutinv1.Store{Type: scrutinv1.StorePostgreSQL, PostgreSQL: &scrutinv1.PostgreSQLStore{
			AdminSecretRef: scrutinv1.SecretReference{Name: name + "-pg"}}}
		minR := int32(1 + rng.IntN(3))
		e.Spec.Scaling = scrutinv1.Scaling{MinReplicas: minR, MaxReplicas: minR + int32(rng.IntN(4)),
			TargetCPUUtilizationPercentage: ptr.To(int32(40 + rng.IntN(50)))}
		if rng.IntN(2) == 0 {
			e.Spec.Scaling.TargetInFlightRequestsPerPod = ptr.To(int32(10 + rng.IntN(100)))
		}
	}
	return e
}

var usedNames = map[string][]string{}

// TestIsolationProperty: every object of every election's namespace is exactly what
// the builders make from that election's own spec; no Secret value is in two
// namespaces; no object names another election; changing one election changes
// nothing anywhere else. SCRUTIN_ISOLATION_SEED replays a run.
func TestIsolationProperty(t *testing.T) {
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SCRUTIN_ISOLATION_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (SCRUTIN_ISOLATION_SEED replays it)", seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x5c2))

	tenants := []string{newTenant(t), newTenant(t), newTenant(t), newTenant(t)}
	var elections []*scrutinv1.Election
	for i := range 12 {
		elections = append(elections, create(t, randomElection(t, rng, tenants[i%len(tenants)], i)))
	}
	for i, e := range elections {
		elections[i] = waitPhase(t, e, scrutinv1.PhaseScheduled, 60*time.Second)
	}

	seenValue := map[string]string{} // secret value -> election namespace
	for _, e := range elections {
		assertNamespaceIsBuilt(t, e)
		var secrets corev1.SecretList
		if err := k8s.List(ctx, &secrets, client.InNamespace(e.Status.Namespace)); err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets.Items {
			for k, v := range s.Data {
				if len(v) < 8 {
					continue
				}
				if other, ok := seenValue[string(v)]; ok && other != e.Status.Namespace {
					t.Errorf("the value of %s/%s[%s] is also in %s", e.Status.Namespace, s.Name, k, other)
				}
				seenValue[string(v)] = e.Status.Namespace
			}
		}
		// Nothing in this namespace names another election.
		dump := dumpNamespace(t, e.Status.Namespace)
		for _, other := range elections {
			if other.UID == e.UID {
				continue
			}
			for _, mark := range []string{other.Status.Namespace, string(other.UID), specs.DatabaseName(other)} {
				if strings.Contains(dump, mark) {
					t.Errorf("namespace %s holds %q of election %s/%s", e.Status.Namespace, mark, other.Namespace, other.Name)
				}
			}
		}
	}

	// Change one election: nothing else moves.
	before := map[string]string{}
	for _, e := range elections[1:] {
		for k, v := range resourceVersions(t, e.Status.Namespace) {
			before[k] = v
		}
	}
	changed := getElection(t, elections[0])
	changed.Spec.Title = "Changed title"
	changed.Spec.Scrutineers.ExportFields = []scrutinv1.ParticipationField{scrutinv1.FieldVoted}
	if err := k8s.Update(ctx, changed); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the changed election's ConfigMap to follow", 10*time.Second, func() (bool, string) {
		var cm corev1.ConfigMap
		err := k8s.Get(ctx, client.ObjectKey{Namespace: changed.Status.Namespace, Name: specs.ConfigMapName}, &cm)
		return err == nil && strings.Contains(cm.Data[specs.ElectionFileKey], "Changed title"), fmt.Sprint(err)
	})
	time.Sleep(2 * time.Second) // room for any wrong reconcile to show
	assertNamespaceIsBuilt(t, getElection(t, changed))
	after := map[string]string{}
	for _, e := range elections[1:] {
		for k, v := range resourceVersions(t, e.Status.Namespace) {
			after[k] = v
		}
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed (resourceVersion %s -> %s) when another election changed", k, v, after[k])
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d objects in the other namespaces before, %d after", len(before), len(after))
	}
}

// namespacedGVKs are the kinds an election's namespace holds.
func namespacedGVKs(t *testing.T) []schema.GroupVersionKind {
	gvks := []schema.GroupVersionKind{{Version: "v1", Kind: "Secret"}}
	for _, o := range managedKinds() {
		gvk, err := apiutil.GVKForObject(o, env.Scheme)
		if err != nil {
			t.Fatal(err)
		}
		if gvk.Kind != "Namespace" {
			gvks = append(gvks, gvk)
		}
	}
	return gvks
}

// dumpNamespace is every object of a namespace as JSON, Secret values decoded.
func dumpNamespace(t *testing.T, ns string) string {
	t.Helper()
	var b strings.Builder
	for _, gvk := range namespacedGVKs(t) {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := k8s.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, item := range list.Items {
			data, _ := json.Marshal(item.Object)
			b.Write(data)
		}
	}
	var secrets corev1.SecretList
	if err := k8s.List(context.Background(), &secrets, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		for _, v := range s.Data {
			b.Write(v)
		}
	}
	return b.String()
}

func resourceVersions(t *testing.T, ns string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, gvk := range namespacedGVKs(t) {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := k8s.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, item := range list.Items {
			out[gvk.Kind+"/"+ns+"/"+item.Name] = item.ResourceVersion
		}
	}
	return out
}
