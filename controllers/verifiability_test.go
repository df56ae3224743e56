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
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
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

// TestTrusteeKeyIsAScalar: the platform trustee's key is a decimal scalar in
// [1, q) of BELENIOS-2048, fresh each time; anything else is refused when read
// back; the election's other keys never hold it.
func TestTrusteeKeyIsAScalar(t *testing.T) {
	a, err := specs.NewTrusteeKey()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := specs.NewTrusteeKey()
	if !isScalarString(a) || !isScalarString(b) {
		t.Fatalf("trustee keys %q, %q: want decimal scalars in [1, q)", a, b)
	}
	if a == b {
		t.Fatal("trustee keys repeat")
	}
	if err := specs.CheckTrusteeKey(a); err != nil {
		t.Errorf("a fresh key refused: %v", err)
	}
	q := belenios.Belenios2048().Q
	for _, bad := range []string{"", "0", "-5", "0012", "abc", q.String(), new(big.Int).Add(q, big.NewInt(1)).String()} {
		if err := specs.CheckTrusteeKey(bad); err == nil {
			t.Errorf("trustee key %q accepted", bad)
		}
	}
	k, err := specs.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	if _, in := k.SecretData()[specs.KeyTrustee]; in || k.TrusteeKey != "" {
		t.Error("the election's keys Secret holds a trustee key")
	}
}

// TestTrusteeKeyInConfigHash: the trustee key is in the config hash (pods roll if
// it is ever made again), and no key hashes apart from any key.
func TestTrusteeKeyInConfigHash(t *testing.T) {
	in := testInputs(testElection("t", "v", "u"))
	without := in.ConfigHash(nil)
	in.Keys.TrusteeKey = "12345"
	with := in.ConfigHash(nil)
	in.Keys.TrusteeKey = "12346"
	if in.ConfigHash(nil) == with || with == without {
		t.Error("the trustee key is not in the config hash")
	}
}

// TestKeysVolumeProjectsTheTrusteeKey: with a trustee key, the keys directory
// holds the keys Secret and, beside it, the trustee key's Secret as
// belenios-trustee-key; without, the keys Secret alone, as before.
func TestKeysVolumeProjectsTheTrusteeKey(t *testing.T) {
	in := testInputs(testElection("t", "v", "u"))
	if v := specs.KeysVolume(&in.Inputs); v.Secret == nil || v.Secret.SecretName != specs.KeysSecretName {
		t.Fatalf("without a trustee key: %+v", v.VolumeSource)
	}
	in.Keys.TrusteeKey = "12345"
	v := specs.KeysVolume(&in.Inputs)
	if v.Projected == nil || len(v.Projected.Sources) != 2 {
		t.Fatalf("with a trustee key: %+v", v.VolumeSource)
	}
	keys, trustee := v.Projected.Sources[0].Secret, v.Projected.Sources[1].Secret
	if keys == nil || keys.Name != specs.KeysSecretName || len(keys.Items) != 0 {
		t.Errorf("first source %+v, want the whole keys Secret", keys)
	}
	if trustee == nil || trustee.Name != specs.TrusteeKeySecretName || len(trustee.Items) != 1 ||
		trustee.Items[0].Key != specs.KeyTrustee || trustee.Items[0].Path != specs.KeyTrustee {
		t.Errorf("second source %+v, want %s's %s as %s", trustee, specs.TrusteeKeySecretName, specs.KeyTrustee, specs.KeyTrustee)
	}
	if m := v.Projected.DefaultMode; m == nil || *m != 0o440 {
		t.Errorf("mode %v, want 0440", m)
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
		copy  *specs.CredentialsCopy
		want  bool
		empty bool
	}{
		"plain":                {nil, nil, false, false},
		"platform credentials": {&scrutinv1.Verifiability{}, nil, false, false},
		"external, no copy":    {&scrutinv1.Verifiability{CredentialAuthority: scrutinv1.CredentialAuthorityExternal, PublicCredentials: &scrutinv1.SecretReference{Name: "pc"}}, nil, true, true},
		"external":             {&scrutinv1.Verifiability{CredentialAuthority: scrutinv1.CredentialAuthorityExternal, PublicCredentials: &scrutinv1.SecretReference{Name: "pc"}}, &specs.CredentialsCopy{SHA256: "ab"}, true, false},
	} {
		t.Run(name, func(t *testing.T) {
			e := testElection("t", "v", "u")
			if c.v != nil {
				verifiable(e, *c.v)
			}
			in := testInputs(e)
			in.Credentials = c.copy
			d := specs.Deployment(&in.Inputs, "h")
			hasFlag := slices.Contains(runtimeArgs(d), "--credentials-dir="+specs.CredentialsDir)
			vol := volumeNamed(d, "credentials")
			mounted := slices.ContainsFunc(d.Spec.Template.Spec.Containers[0].VolumeMounts, func(m corev1.VolumeMount) bool {
				return m.Name == "credentials" && m.MountPath == specs.CredentialsDir && m.ReadOnly
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
			case !c.empty && (vol.Secret == nil || vol.Secret.SecretName != specs.CredentialsSecretName):
				t.Errorf("the volume is %+v, want Secret %s", vol.VolumeSource, specs.CredentialsSecretName)
			}
			if !c.empty {
				h := in.ConfigHash(nil)
				in.Credentials = &specs.CredentialsCopy{SHA256: "cd"}
				if in.ConfigHash(nil) == h {
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
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: specs.RuntimeName}, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

func trusteeKeySecret(t *testing.T, ns string) (*corev1.Secret, error) {
	t.Helper()
	var s corev1.Secret
	err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: specs.TrusteeKeySecretName}, &s)
	return &s, err
}

// TestVerifiableElectionGetsATrusteeKey: the smallest verifiable election gets the
// platform trustee's key in an immutable Secret of its own (not in election-keys,
// which the hotline reads), projected into the keys directory; no credentials
// directory (Platform credentials). Turned off and on again before the opening,
// the key stays the same. A plain election, and one whose trustees exclude the
// platform, get none.
func TestVerifiableElectionGetsATrusteeKey(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	e := create(t, newVerifiableElection(t, ns, "platform", time.Hour, scrutinv1.Verifiability{}))
	cur := waitPhase(t, e, scrutinv1.PhaseScheduled, 20*time.Second)
	ts, err := trusteeKeySecret(t, cur.Status.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	key := string(ts.Data[specs.KeyTrustee])
	if !isScalarString(key) || ts.Immutable == nil || !*ts.Immutable || len(ts.Data) != 1 {
		t.Fatalf("the trustee key Secret holds %d keys, %s %q, immutable %v", len(ts.Data), specs.KeyTrustee, key, ts.Immutable)
	}
	var keys corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.KeysSecretName}, &keys); err != nil {
		t.Fatal(err)
	}
	if _, in := keys.Data[specs.KeyTrustee]; in {
		t.Error("election-keys holds the trustee key")
	}
	d := getDeployment(t, cur.Status.Namespace)
	v := volumeNamed(d, "keys")
	if v == nil || v.Projected == nil || len(v.Projected.Sources) != 2 || v.Projected.Sources[1].Secret == nil ||
		v.Projected.Sources[1].Secret.Name != specs.TrusteeKeySecretName {
		t.Fatalf("the keys volume is %+v, want election-keys and the trustee key projected", v)
	}
	if !slices.Contains(runtimeArgs(d), "--keys-dir="+specs.KeysDir) {
		t.Errorf("the runtime is not given the keys directory: %v", runtimeArgs(d))
	}
	if slices.ContainsFunc(runtimeArgs(d), func(a string) bool { return strings.HasPrefix(a, "--credentials-dir") }) || volumeNamed(d, "credentials") != nil {
		t.Errorf("a Platform election is given a credentials directory: %v", runtimeArgs(d))
	}
	var cm corev1.ConfigMap
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.ConfigMapName}, &cm); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cm.Data[specs.ElectionFileKey], "mode: Belenios") {
		t.Errorf("the runtime's election file does not carry the mode:\n%s", cm.Data[specs.ElectionFileKey])
	}

	// off, then on again: the same key, kept all along
	setMode := func(mode scrutinv1.VerifiabilityMode) {
		t.Helper()
		updateElection(t, e, func(cur *scrutinv1.Election) { cur.Spec.Verifiability.Mode = mode })
	}
	setMode(scrutinv1.VerifiabilityNone)
	waitFor(t, "the keys volume without the trustee key", 20*time.Second, func() (bool, string) {
		v := volumeNamed(getDeployment(t, cur.Status.Namespace), "keys")
		return v != nil && v.Secret != nil && v.Secret.SecretName == specs.KeysSecretName, fmt.Sprintf("%+v", v)
	})
	if ts, err := trusteeKeySecret(t, cur.Status.Namespace); err != nil || string(ts.Data[specs.KeyTrustee]) != key {
		t.Fatalf("the trustee key did not stay (err=%v)", err)
	}
	setMode(scrutinv1.VerifiabilityBelenios)
	waitFor(t, "the trustee key mounted again", 20*time.Second, func() (bool, string) {
		v := volumeNamed(getDeployment(t, cur.Status.Namespace), "keys")
		return v != nil && v.Projected != nil, fmt.Sprintf("%+v", v)
	})
	if ts, err := trusteeKeySecret(t, cur.Status.Namespace); err != nil || string(ts.Data[specs.KeyTrustee]) != key {
		t.Fatalf("the trustee key changed (err=%v)", err)
	}

	// none where the platform is no trustee
	singles, _ := beleniosTrustees(t)
	for name, x := range map[string]*scrutinv1.Election{
		"plain": newElection(t, ns, "plain", time.Hour, 2*time.Hour),
		"external": newVerifiableElection(t, ns, "external-trustees", time.Hour, scrutinv1.Verifiability{Trustees: &scrutinv1.Trustees{
			External: []scrutinv1.ExternalTrustee{{Name: "alice", PublicKey: singles[0]}}}}),
	} {
		cur := waitPhase(t, create(t, x), scrutinv1.PhaseScheduled, 20*time.Second)
		if _, err := trusteeKeySecret(t, cur.Status.Namespace); !isNotFound(err) {
			t.Errorf("%s: a trustee key Secret exists (err=%v)", name, err)
		}
		if v := volumeNamed(getDeployment(t, cur.Status.Namespace), "keys"); v == nil || v.Secret == nil {
			t.Errorf("%s: the keys volume is %+v, want election-keys alone", name, v)
		}
	}
}

// TestExternalCredentialsCopiedAndMounted: the tenant's public credentials Secret
// is copied byte for byte into the election's namespace, annotated with its
// SHA-256, mounted and given by --credentials-dir; a copy edited by hand is put
// back; an edit of the tenant's Secret before the opening is copied again;
// switching to Platform removes the copy.
func TestExternalCredentialsCopiedAndMounted(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	createSecret(t, ns, "pubcreds", map[string]string{"uuid": testUUID, "public-credentials": testPubcreds})
	e := create(t, newVerifiableElection(t, ns, "external", time.Hour, externalCredentials("pubcreds")))
	cur := waitPhase(t, e, scrutinv1.PhaseScheduled, 20*time.Second)
	copyKey := client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.CredentialsSecretName}
	assertCopy := func(creds string) {
		t.Helper()
		waitFor(t, "the copy of the public credentials", 20*time.Second, func() (bool, string) {
			var s corev1.Secret
			if err := k8s.Get(ctx, copyKey, &s); err != nil {
				return false, err.Error()
			}
			want := credentialsSHA256([]byte(testUUID), []byte(creds))
			return string(s.Data["uuid"]) == testUUID && string(s.Data["public-credentials"]) == creds &&
					s.Annotations[specs.CredentialsSHA256Annotation] == want && len(s.Data) == 2,
				fmt.Sprintf("copy holds %d keys, uuid %q, annotation %q", len(s.Data), s.Data["uuid"], s.Annotations[specs.CredentialsSHA256Annotation])
		})
		d := getDeployment(t, cur.Status.Namespace)
		if v := volumeNamed(d, "credentials"); v == nil || v.Secret == nil || v.Secret.SecretName != specs.CredentialsSecretName {
			t.Fatalf("the credentials volume is %+v, want Secret %s", v, specs.CredentialsSecretName)
		}
		if !slices.Contains(runtimeArgs(d), "--credentials-dir="+specs.CredentialsDir) {
			t.Fatalf("the runtime is not given --credentials-dir: %v", runtimeArgs(d))
		}
	}
	assertCopy(testPubcreds)
	hash := getDeployment(t, cur.Status.Namespace).Spec.Template.Annotations[specs.ConfigHashAnnotation]

	// a copy edited in the election's namespace (its annotation kept) is put back
	var cp corev1.Secret
	if err := k8s.Get(ctx, copyKey, &cp); err != nil {
		t.Fatal(err)
	}
	cp.Data["public-credentials"] = []byte("999,1,A-1\n")
	if err := k8s.Update(ctx, &cp); err != nil {
		t.Fatal(err)
	}
	assertCopy(testPubcreds)

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
		h := getDeployment(t, cur.Status.Namespace).Spec.Template.Annotations[specs.ConfigHashAnnotation]
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
			waitEvent(t, e, c.reason)
			d := getDeployment(t, cur.Status.Namespace)
			if v := volumeNamed(d, "credentials"); v == nil || v.EmptyDir == nil {
				t.Errorf("without valid credentials the volume is %+v, want an empty directory", v)
			}
			var s corev1.Secret
			if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.CredentialsSecretName}, &s); !isNotFound(err) {
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
		return slices.Contains(eventReasons(t, e), scrutinv1.EventPublicCredentialsChangedAfterOpening), fmt.Sprintf("events %v", eventReasons(t, e))
	})
	var cp corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.CredentialsSecretName}, &cp); err != nil {
		t.Fatal(err)
	}
	if string(cp.Data["public-credentials"]) != testPubcreds {
		t.Error("the edit of an open election's public credentials was copied")
	}
	d := getDeployment(t, cur.Status.Namespace)
	if v := volumeNamed(d, "credentials"); v == nil || v.Secret == nil || v.Secret.SecretName != specs.CredentialsSecretName {
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
// Pedersen entry with a changed commitment and a Single entry given as the
// threshold are each refused naming the field.
func TestTrusteesChecked(t *testing.T) {
	singles, pedersen := beleniosTrustees(t)
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
		reason   string
		field    string
	}{
		"platform alone":            {nil, "", ""},
		"belenios-tool keys":        {&scrutinv1.Trustees{External: ext(singles...)}, "", ""},
		"keys and threshold":        {&scrutinv1.Trustees{Platform: ptr.To(true), External: ext(singles...), Threshold: &scrutinv1.ThresholdTrustees{Trustees: pedersen}}, "", ""},
		"changed proof":             {&scrutinv1.Trustees{External: ext(singles[0], badProof)}, "TrusteesInvalid", "spec.verifiability.trustees.external[bob].publicKey"},
		"not a key":                 {&scrutinv1.Trustees{External: ext(`{"public_key":"12"}`)}, "TrusteesInvalid", "spec.verifiability.trustees.external[alice].publicKey"},
		"one key, two names":        {&scrutinv1.Trustees{External: ext(singles[0], singles[1], singles[0])}, "TrusteesInvalid", "spec.verifiability.trustees.external[carol].publicKey: the same key as trustee alice"},
		"changed commitment":        {&scrutinv1.Trustees{Threshold: &scrutinv1.ThresholdTrustees{Trustees: badPedersen}}, "TrusteesInvalid", "spec.verifiability.trustees.threshold.trustees"},
		"single given as threshold": {&scrutinv1.Trustees{Threshold: &scrutinv1.ThresholdTrustees{Trustees: `["Single",` + single + `]`}}, "TrusteesInvalid", "spec.verifiability.trustees.threshold.trustees: not a Pedersen entry"},
	} {
		t.Run(name, func(t *testing.T) {
			e := verifiable(testElection("t", "v", "u"), scrutinv1.Verifiability{Trustees: c.trustees})
			p := checkTrustees(e)
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
	if p := checkTrustees(testElection("t", "v", "u")); p != nil {
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
	waitEvent(t, e, "TrusteesInvalid")
	cur := getElection(t, e)
	cur.Spec.Verifiability.Trustees.External[0].PublicKey = singles[0]
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, e, scrutinv1.PhaseScheduled, 20*time.Second)
}

// TestHotlineCannotReadTheTrusteeKey: a person bound to election-hotline in a
// verifiable election's namespace reads election-keys (the control token), as
// kubectl scrutin voter needs, but not the platform trustee's key, which would
// decrypt any ballot of the public board.
func TestHotlineCannotReadTheTrusteeKey(t *testing.T) {
	ctx := context.Background()
	if out, err := env.Kubectl("apply", "-f", filepath.Join(env.Root, "config", "rbac", "tenant_roles.yaml")); err != nil {
		t.Fatalf("installing the tenant roles: %v\n%s", err, out)
	}
	ns := newTenant(t)
	cur := waitPhase(t, create(t, newVerifiableElection(t, ns, "hotline", time.Hour, scrutinv1.Verifiability{})), scrutinv1.PhaseScheduled, 20*time.Second)
	if _, err := trusteeKeySecret(t, cur.Status.Namespace); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: cur.Status.Namespace, Name: "hotline"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "election-hotline"},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "hotline-agent"}},
	}
	if err := k8s.Create(ctx, rb); err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "hotline-agent"}
	agent, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hotline to read election-keys", 15*time.Second, func() (bool, string) {
		var s corev1.Secret
		err := agent.Get(ctx, client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.KeysSecretName}, &s)
		return err == nil, fmt.Sprint(err)
	})
	var s corev1.Secret
	if err := agent.Get(ctx, client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.TrusteeKeySecretName}, &s); !apierrors.IsForbidden(err) {
		t.Fatalf("the hotline reading the trustee key: %v, want Forbidden", err)
	}
}
