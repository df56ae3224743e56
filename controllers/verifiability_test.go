package controllers

// The controller's side of the verifiable mode: the platform trustee's key among
// the election's keys, the tenant's public credentials copied, checked and
// mounted (credentialAuthority External), and frozen once the election is open.

import (
	"context"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/belenios"
)

// pubcreds stands for a .pubcreds file: the controller copies it byte for byte,
// the runtime parses it.
const (
	testUUID     = "YzpLWKroyZAVnF"
	testPubcreds = "123456789,1,A-1\n234567891,1,A-2\n345678912,1,A-3\n"
)

func isScalarString(s string) bool {
	x, ok := new(big.Int).SetString(s, 10)
	return ok && x.String() == s && x.Sign() > 0 && belenios.Belenios2048().IsScalar(x)
}

// TestTrusteeKeyGeneratedWithTheKeys: every set of keys has a platform trustee key,
// a decimal scalar in [1, q) of BELENIOS-2048, fresh each time, that round-trips
// through the keys Secret; keys made before it (no such key) still load, and a
// malformed one is refused.
func TestTrusteeKeyGeneratedWithTheKeys(t *testing.T) {
	a, err := NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewKeys()
	if !isScalarString(a.TrusteeKey) || !isScalarString(b.TrusteeKey) {
		t.Fatalf("trustee keys %q, %q: want decimal scalars in [1, q)", a.TrusteeKey, b.TrusteeKey)
	}
	if a.TrusteeKey == b.TrusteeKey {
		t.Fatal("trustee keys repeat")
	}
	data := a.secretData()
	if string(data[KeyTrustee]) != a.TrusteeKey {
		t.Fatalf("the keys Secret holds %q under %s", data[KeyTrustee], KeyTrustee)
	}
	back, err := KeysFromSecret(&corev1.Secret{Data: data})
	if err != nil || back.TrusteeKey != a.TrusteeKey {
		t.Fatalf("the trustee key does not round-trip: %q, %v", back.TrusteeKey, err)
	}
	old := a.secretData()
	delete(old, KeyTrustee)
	if k, err := KeysFromSecret(&corev1.Secret{Data: old}); err != nil || k.TrusteeKey != "" {
		t.Errorf("keys made before the trustee key: %v (trustee key %q)", err, k.TrusteeKey)
	}
	q := belenios.Belenios2048().Q
	for _, bad := range []string{"0", "-5", "0012", "abc", q.String(), new(big.Int).Add(q, big.NewInt(1)).String()} {
		d := a.secretData()
		d[KeyTrustee] = []byte(bad)
		if _, err := KeysFromSecret(&corev1.Secret{Data: d}); err == nil || !strings.Contains(err.Error(), KeyTrustee) {
			t.Errorf("trustee key %q accepted (err=%v)", bad, err)
		}
	}
}

// TestTrusteeKeyInConfigHash: the trustee key is in the config hash (pods roll if
// the keys Secret is ever made again), and no key hashes apart from any key.
func TestTrusteeKeyInConfigHash(t *testing.T) {
	in := testInputs(testElection("t", "v", "u"))
	with := in.configHash(nil)
	in.Keys.TrusteeKey = "12345"
	if in.configHash(nil) == with {
		t.Error("another trustee key leaves the config hash unchanged")
	}
	in.Keys.TrusteeKey = ""
	without := in.configHash(nil)
	if without == with {
		t.Error("no trustee key and a trustee key hash alike")
	}
}

func verifiable(e *scrutinv1.Election, v scrutinv1.Verifiability) *scrutinv1.Election {
	if v.Mode == "" {
		v.Mode = scrutinv1.VerifiabilityBelenios
	}
	if v.Group == "" {
		v.Group = scrutinv1.GroupBelenios2048
	}
	if v.CredentialAuthority == "" {
		v.CredentialAuthority = scrutinv1.CredentialAuthorityPlatform
	}
	e.Spec.Verifiability = &v
	return e
}

func runtimeArgs(d *appsv1.Deployment) []string { return d.Spec.Template.Spec.Containers[0].Args }

func volumeNamed(d *appsv1.Deployment, name string) *corev1.Volume {
	for i, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return &d.Spec.Template.Spec.Volumes[i]
		}
	}
	return nil
}

// TestDeploymentCredentialsDir: only an External verifiable election has the
// credentials volume, mounted read-only and given by --credentials-dir; the copy
// once it exists, an empty directory before; its SHA-256 is in the config hash.
func TestDeploymentCredentialsDir(t *testing.T) {
	for name, c := range map[string]struct {
		v     *scrutinv1.Verifiability
		copy  *CredentialsCopy
		want  bool
		empty bool
	}{
		"plain":                {nil, nil, false, false},
		"platform credentials": {&scrutinv1.Verifiability{}, nil, false, false},
		"external, no copy":    {&scrutinv1.Verifiability{CredentialAuthority: scrutinv1.CredentialAuthorityExternal, PublicCredentials: &scrutinv1.SecretReference{Name: "pc"}}, nil, true, true},
		"external":             {&scrutinv1.Verifiability{CredentialAuthority: scrutinv1.CredentialAuthorityExternal, PublicCredentials: &scrutinv1.SecretReference{Name: "pc"}}, &CredentialsCopy{SHA256: "ab"}, true, false},
	} {
		t.Run(name, func(t *testing.T) {
			e := testElection("t", "v", "u")
			if c.v != nil {
				verifiable(e, *c.v)
			}
			in := testInputs(e)
			in.Credentials = c.copy
			d := buildDeployment(in, "h")
			hasFlag := slices.Contains(runtimeArgs(d), "--credentials-dir="+credentialsDir)
			vol := volumeNamed(d, "credentials")
			mounted := slices.ContainsFunc(d.Spec.Template.Spec.Containers[0].VolumeMounts, func(m corev1.VolumeMount) bool {
				return m.Name == "credentials" && m.MountPath == credentialsDir && m.ReadOnly
			})
			if hasFlag != c.want || (vol != nil) != c.want || mounted != c.want {
				t.Fatalf("flag %v, volume %v, mounted %v; want all %v", hasFlag, vol != nil, mounted, c.want)
			}
			if !c.want {
				return
			}
			switch {
			case c.empty && vol.EmptyDir == nil:
				t.Errorf("without a copy the volume is %+v, want an empty directory", vol.VolumeSource)
			case !c.empty && (vol.Secret == nil || vol.Secret.SecretName != CredentialsSecretName):
				t.Errorf("the volume is %+v, want Secret %s", vol.VolumeSource, CredentialsSecretName)
			}
			if !c.empty {
				h := in.configHash(nil)
				in.Credentials = &CredentialsCopy{SHA256: "cd"}
				if in.configHash(nil) == h {
					t.Error("other public credentials leave the config hash unchanged")
				}
			}
		})
	}
}

// newVerifiableElection is newElection without its Ranked question (refused in
// this mode) and with the given verifiability.
func newVerifiableElection(t *testing.T, ns, name string, opensIn time.Duration, v scrutinv1.Verifiability) *scrutinv1.Election {
	t.Helper()
	e := newElection(t, ns, name, opensIn, opensIn+time.Hour)
	e.Spec.Questions = e.Spec.Questions[:1]
	return verifiable(e, v)
}

func externalCredentials(secret string) scrutinv1.Verifiability {
	return scrutinv1.Verifiability{CredentialAuthority: scrutinv1.CredentialAuthorityExternal,
		PublicCredentials: &scrutinv1.SecretReference{Name: secret}}
}

func getDeployment(t *testing.T, ns string) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: RuntimeName}, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

// TestVerifiableElectionKeysHoldTheTrusteeKey: the smallest verifiable election is
// provisioned; its keys Secret holds the platform trustee's key, mounted with the
// other keys; no credentials directory is given (Platform credentials).
func TestVerifiableElectionKeysHoldTheTrusteeKey(t *testing.T) {
	ns := newTenant(t)
	e := create(t, newVerifiableElection(t, ns, "platform", time.Hour, scrutinv1.Verifiability{}))
	cur := waitPhase(t, e, scrutinv1.PhaseScheduled, 20*time.Second)
	var keys corev1.Secret
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: cur.Status.Namespace, Name: KeysSecretName}, &keys); err != nil {
		t.Fatal(err)
	}
	if !isScalarString(string(keys.Data[KeyTrustee])) {
		t.Fatalf("the keys Secret's %s is %q, want a decimal scalar of BELENIOS-2048", KeyTrustee, keys.Data[KeyTrustee])
	}
	d := getDeployment(t, cur.Status.Namespace)
	if v := volumeNamed(d, "keys"); v == nil || v.Secret == nil || v.Secret.SecretName != KeysSecretName || len(v.Secret.Items) != 0 {
		t.Errorf("the keys volume is %+v, want the whole keys Secret", v)
	}
	if !slices.Contains(runtimeArgs(d), "--keys-dir="+keysDir) {
		t.Errorf("the runtime is not given the keys directory: %v", runtimeArgs(d))
	}
	if slices.ContainsFunc(runtimeArgs(d), func(a string) bool { return strings.HasPrefix(a, "--credentials-dir") }) || volumeNamed(d, "credentials") != nil {
		t.Errorf("a Platform election is given a credentials directory: %v", runtimeArgs(d))
	}
	var cm corev1.ConfigMap
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: cur.Status.Namespace, Name: ConfigMapName}, &cm); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cm.Data[ElectionFileKey], "mode: Belenios") {
		t.Errorf("the runtime's election file does not carry the mode:\n%s", cm.Data[ElectionFileKey])
	}
}

// TestExternalCredentialsCopiedAndMounted: the tenant's public credentials Secret
// is copied byte for byte into the election's namespace, annotated with its
// SHA-256, mounted and given by --credentials-dir; an edit before the opening is
// copied again; switching to Platform removes the copy.
func TestExternalCredentialsCopiedAndMounted(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	createSecret(t, ns, "pubcreds", map[string]string{"uuid": testUUID, "public-credentials": testPubcreds})
	e := create(t, newVerifiableElection(t, ns, "external", time.Hour, externalCredentials("pubcreds")))
	cur := waitPhase(t, e, scrutinv1.PhaseScheduled, 20*time.Second)
	copyKey := client.ObjectKey{Namespace: cur.Status.Namespace, Name: CredentialsSecretName}
	assertCopy := func(creds string) {
		t.Helper()
		waitFor(t, "the copy of the public credentials", 20*time.Second, func() (bool, string) {
			var s corev1.Secret
			if err := k8s.Get(ctx, copyKey, &s); err != nil {
				return false, err.Error()
			}
			want := credentialsSHA256([]byte(testUUID), []byte(creds))
			return string(s.Data["uuid"]) == testUUID && string(s.Data["public-credentials"]) == creds &&
					s.Annotations[CredentialsSHA256Annotation] == want && len(s.Data) == 2,
				fmt.Sprintf("copy holds %d keys, uuid %q, annotation %q", len(s.Data), s.Data["uuid"], s.Annotations[CredentialsSHA256Annotation])
		})
		d := getDeployment(t, cur.Status.Namespace)
		if v := volumeNamed(d, "credentials"); v == nil || v.Secret == nil || v.Secret.SecretName != CredentialsSecretName {
			t.Fatalf("the credentials volume is %+v, want Secret %s", v, CredentialsSecretName)
		}
		if !slices.Contains(runtimeArgs(d), "--credentials-dir="+credentialsDir) {
			t.Fatalf("the runtime is not given --credentials-dir: %v", runtimeArgs(d))
		}
	}
	assertCopy(testPubcreds)
	hash := getDeployment(t, cur.Status.Namespace).Spec.Template.Annotations[ConfigHashAnnotation]

	// before the opening, an edit is copied and rolls the pods
	edited := testPubcreds + "456789123,1,A-4\n"
	var s corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pubcreds"}, &s); err != nil {
		t.Fatal(err)
	}
	s.Data["public-credentials"] = []byte(edited)
	if err := k8s.Update(ctx, &s); err != nil {
		t.Fatal(err)
	}
	assertCopy(edited)
	waitFor(t, "the pods to roll", 20*time.Second, func() (bool, string) {
		h := getDeployment(t, cur.Status.Namespace).Spec.Template.Annotations[ConfigHashAnnotation]
		return h != hash, "config hash unchanged"
	})

	// Platform credentials: the copy goes, and so do the volume and the flag
	cur = getElection(t, e)
	cur.Spec.Verifiability = &scrutinv1.Verifiability{Mode: scrutinv1.VerifiabilityBelenios}
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the copy removed", 20*time.Second, func() (bool, string) {
		var s corev1.Secret
		err := k8s.Get(ctx, copyKey, &s)
		d := getDeployment(t, cur.Status.Namespace)
		return isNotFound(err) && volumeNamed(d, "credentials") == nil, fmt.Sprintf("copy: %v, args %v", err, runtimeArgs(d))
	})
}

// TestExternalCredentialsRefused: a missing Secret, a missing key, a malformed
// uuid or empty credentials keep the election from being Ready, the condition
// naming the Secret and what is wrong; the runtime then has an empty credentials
// directory. Once the tenant fixes the Secret, the election is provisioned.
func TestExternalCredentialsRefused(t *testing.T) {
	ns := newTenant(t)
	for name, c := range map[string]struct {
		data         map[string]string // nil: no Secret
		reason, want string
	}{
		"secret-missing": {nil, "PublicCredentialsSecretMissing", "Secret pc-secret-missing not found in namespace " + ns},
		"no-uuid":        {map[string]string{"public-credentials": testPubcreds}, "PublicCredentialsKeyMissing", `Secret pc-no-uuid has no key "uuid"`},
		"no-credentials": {map[string]string{"uuid": testUUID}, "PublicCredentialsKeyMissing", `Secret pc-no-credentials has no key "public-credentials"`},
		"bad-uuid":       {map[string]string{"uuid": "not a uuid!", "public-credentials": testPubcreds}, "PublicCredentialsInvalid", `Secret pc-bad-uuid, key "uuid": not a Belenios election uuid`},
		"empty":          {map[string]string{"uuid": testUUID, "public-credentials": ""}, "PublicCredentialsInvalid", `Secret pc-empty, key "public-credentials" is empty`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			secret := "pc-" + name
			if c.data != nil {
				createSecret(t, ns, secret, c.data)
			}
			e := create(t, newVerifiableElection(t, ns, name, time.Hour, externalCredentials(secret)))
			var cur *scrutinv1.Election
			waitFor(t, "the refusal", 20*time.Second, func() (bool, string) {
				cur = getElection(t, e)
				r := condition(cur, scrutinv1.ConditionReady)
				return r.Status == metav1.ConditionFalse && r.Reason == c.reason && strings.Contains(r.Message, c.want) &&
					strings.Contains(r.Message, "spec.verifiability.publicCredentials"), fmt.Sprintf("Ready %+v", r)
			})
			if !slices.Contains(eventReasons(t, e), c.reason) {
				t.Errorf("no %s event: %v", c.reason, eventReasons(t, e))
			}
			d := getDeployment(t, cur.Status.Namespace)
			if v := volumeNamed(d, "credentials"); v == nil || v.EmptyDir == nil {
				t.Errorf("without valid credentials the volume is %+v, want an empty directory", v)
			}
			var s corev1.Secret
			if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: cur.Status.Namespace, Name: CredentialsSecretName}, &s); !isNotFound(err) {
				t.Errorf("a copy exists for refused credentials (err=%v)", err)
			}
			// fixed by the tenant
			fixed := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: secret},
				StringData: map[string]string{"uuid": testUUID, "public-credentials": testPubcreds}}
			if c.data == nil {
				if err := k8s.Create(context.Background(), fixed); err != nil {
					t.Fatal(err)
				}
			} else {
				fixed.Data = map[string][]byte{"uuid": []byte(testUUID), "public-credentials": []byte(testPubcreds)}
				fixed.StringData = nil
				if err := k8s.Update(context.Background(), fixed); err != nil {
					t.Fatal(err)
				}
			}
			waitPhase(t, e, scrutinv1.PhaseScheduled, 20*time.Second)
		})
	}
}

// TestExternalCredentialsFrozenOnceOpen: after the opening an edit of the tenant's
// Secret is not copied: the copy the election opened with stays, and a Warning
// event says so.
func TestExternalCredentialsFrozenOnceOpen(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	createSecret(t, ns, "pubcreds", map[string]string{"uuid": testUUID, "public-credentials": testPubcreds})
	e := create(t, newVerifiableElection(t, ns, "frozen", time.Second, externalCredentials("pubcreds")))
	cur := waitPhase(t, e, scrutinv1.PhaseOpen, 20*time.Second)
	var s corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pubcreds"}, &s); err != nil {
		t.Fatal(err)
	}
	s.Data["public-credentials"] = []byte(testPubcreds + "456789123,1,A-4\n")
	if err := k8s.Update(ctx, &s); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the edit reported", 20*time.Second, func() (bool, string) {
		return slices.Contains(eventReasons(t, e), "PublicCredentialsChangedAfterOpening"), fmt.Sprintf("events %v", eventReasons(t, e))
	})
	var cp corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: cur.Status.Namespace, Name: CredentialsSecretName}, &cp); err != nil {
		t.Fatal(err)
	}
	if string(cp.Data["public-credentials"]) != testPubcreds {
		t.Error("the edit of an open election's public credentials was copied")
	}
	d := getDeployment(t, cur.Status.Namespace)
	if v := volumeNamed(d, "credentials"); v == nil || v.Secret == nil || v.Secret.SecretName != CredentialsSecretName {
		t.Errorf("the credentials volume is %+v after the edit", v)
	}
}

// beleniosTrustees reads the trustees lists belenios-tool 2.0 made (two Single
// keys; two Single keys and a 2-of-3 Pedersen entry): the external trustees' keys
// as a tenant pastes them, and the Pedersen entry.
func beleniosTrustees(t *testing.T) (singles []string, pedersen string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "voting-runtime", "belenios", "testdata", "trustees", "singles-pedersen.json"))
	if err != nil {
		t.Fatal(err)
	}
	list, err := belenios.ParseTrustees(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		switch {
		case e.Single != nil:
			b, err := belenios.Marshal(e.Single)
			if err != nil {
				t.Fatal(err)
			}
			singles = append(singles, string(b))
		case e.Pedersen != nil:
			b, err := belenios.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			pedersen = string(b)
		}
	}
	if len(singles) != 2 || pedersen == "" {
		t.Fatalf("the reference list has %d Single keys and Pedersen %v", len(singles), pedersen != "")
	}
	return singles, pedersen
}

// TestTrusteesChecked: keys and a Pedersen entry made by belenios-tool pass; a key
// whose proof is changed, a key that is not one, one key under two names, a
// Pedersen entry with a changed commitment, a Single entry given as the threshold,
// and a platform trustee without a key (keys made before the verifiable mode) are
// each refused naming the field.
func TestTrusteesChecked(t *testing.T) {
	singles, pedersen := beleniosTrustees(t)
	keys, err := NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	ext := func(keys ...string) []scrutinv1.ExternalTrustee {
		var out []scrutinv1.ExternalTrustee
		for i, k := range keys {
			out = append(out, scrutinv1.ExternalTrustee{Name: []string{"alice", "bob", "carol"}[i], PublicKey: k})
		}
		return out
	}
	badProof := strings.Replace(singles[0], `"challenge":"`, `"challenge":"1`, 1)
	badPedersen := strings.Replace(pedersen, `"coefexps":[{"message":"{\"coefexps\":[\"`, `"coefexps":[{"message":"{\"coefexps\":[\"1`, 1)
	if badPedersen == pedersen {
		t.Fatal("the Pedersen entry was not tampered with")
	}
	single := singles[1]
	for name, c := range map[string]struct {
		trustees *scrutinv1.Trustees
		noKey    bool
		reason   string
		field    string
	}{
		"platform alone":             {nil, false, "", ""},
		"belenios-tool keys":         {&scrutinv1.Trustees{External: ext(singles...)}, false, "", ""},
		"keys and threshold":         {&scrutinv1.Trustees{Platform: ptr.To(true), External: ext(singles...), Threshold: &scrutinv1.ThresholdTrustees{Trustees: pedersen}}, false, "", ""},
		"old keys, external only":    {&scrutinv1.Trustees{External: ext(singles...)}, true, "", ""},
		"changed proof":              {&scrutinv1.Trustees{External: ext(singles[0], badProof)}, false, "TrusteesInvalid", "spec.verifiability.trustees.external[bob].publicKey"},
		"not a key":                  {&scrutinv1.Trustees{External: ext(`{"public_key":"12"}`)}, false, "TrusteesInvalid", "spec.verifiability.trustees.external[alice].publicKey"},
		"one key, two names":         {&scrutinv1.Trustees{External: ext(singles[0], singles[1], singles[0])}, false, "TrusteesInvalid", "spec.verifiability.trustees.external[carol].publicKey: the same key as trustee alice"},
		"changed commitment":         {&scrutinv1.Trustees{Threshold: &scrutinv1.ThresholdTrustees{Trustees: badPedersen}}, false, "TrusteesInvalid", "spec.verifiability.trustees.threshold.trustees"},
		"single given as threshold":  {&scrutinv1.Trustees{Threshold: &scrutinv1.ThresholdTrustees{Trustees: `["Single",` + single + `]`}}, false, "TrusteesInvalid", "spec.verifiability.trustees.threshold.trustees: not a Pedersen entry"},
		"old keys, platform trustee": {nil, true, "TrusteeKeyMissing", "trustees.platform: false"},
	} {
		t.Run(name, func(t *testing.T) {
			e := verifiable(testElection("t", "v", "u"), scrutinv1.Verifiability{Trustees: c.trustees})
			k := keys
			if c.noKey {
				k.TrusteeKey = ""
			}
			p := checkTrustees(e, k)
			switch {
			case c.reason == "" && p != nil:
				t.Fatalf("refused: %s: %s", p.reason, p.message)
			case c.reason == "":
				return
			case p == nil:
				t.Fatalf("accepted; want %s naming %s", c.reason, c.field)
			case p.reason != c.reason || !strings.Contains(p.message, c.field):
				t.Fatalf("%s: %s; want %s naming %s", p.reason, p.message, c.reason, c.field)
			}
		})
	}
	// a plain election is not checked at all
	if p := checkTrustees(testElection("t", "v", "u"), Keys{}); p != nil {
		t.Errorf("a plain election: %+v", p)
	}
}

// TestTrusteeWithBadProofKeepsElectionFromReady: through the reconciler, an
// external trustee whose proof fails keeps the election from being Ready, naming
// the trustee's field, with a Warning event; a right key then lets it be Scheduled.
func TestTrusteeWithBadProofKeepsElectionFromReady(t *testing.T) {
	ctx := context.Background()
	singles, _ := beleniosTrustees(t)
	ns := newTenant(t)
	bad := strings.Replace(singles[0], `"response":"`, `"response":"2`, 1)
	e := create(t, newVerifiableElection(t, ns, "trustees", time.Hour, scrutinv1.Verifiability{Trustees: &scrutinv1.Trustees{
		External: []scrutinv1.ExternalTrustee{{Name: "alice", PublicKey: bad}, {Name: "bob", PublicKey: singles[1]}}}}))
	waitFor(t, "the refusal", 20*time.Second, func() (bool, string) {
		r := condition(getElection(t, e), scrutinv1.ConditionReady)
		return r.Status == metav1.ConditionFalse && r.Reason == "TrusteesInvalid" &&
			strings.Contains(r.Message, "spec.verifiability.trustees.external[alice].publicKey"), fmt.Sprintf("Ready %+v", r)
	})
	if !slices.Contains(eventReasons(t, e), "TrusteesInvalid") {
		t.Errorf("no TrusteesInvalid event: %v", eventReasons(t, e))
	}
	cur := getElection(t, e)
	cur.Spec.Verifiability.Trustees.External[0].PublicKey = singles[0]
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, e, scrutinv1.PhaseScheduled, 20*time.Second)
}
