package v1alpha1_test

// spec.verifiability against the real API server: what it accepts, the defaults it
// fills, and the lock once the election is Open. The refusals are samples of
// config/samples/invalid (40 and after), checked by TestInvalidSamplesRefused.

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "scrutin.dev/scrutin/api/v1alpha1"
)

const aliceKey = `{"pok":{"challenge":"1","response":"2"},"public_key":"3"}`

// TestSmallestVerifiableElectionAccepted: `verifiability: {mode: Belenios,
// credentialAuthority: Platform}` added to an ordinary spec is accepted, comes back
// with the group BELENIOS-2048, and the platform's trustee alone holds the key.
func TestSmallestVerifiableElectionAccepted(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	e := minimalElection(ns, "verifiable")
	e.Spec.Verifiability = &v1.Verifiability{Mode: v1.VerifiabilityBelenios, CredentialAuthority: v1.CredentialAuthorityPlatform}
	if err := env.Client.Create(ctx, e); err != nil {
		t.Fatalf("the smallest verifiable Election was refused: %v", err)
	}
	var got v1.Election
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(e), &got); err != nil {
		t.Fatal(err)
	}
	v := got.Spec.Verifiability
	if v == nil {
		t.Fatal("verifiability read back unset")
	}
	if v.Group != v1.GroupBelenios2048 || v.Mode != v1.VerifiabilityBelenios || v.CredentialAuthority != v1.CredentialAuthorityPlatform {
		t.Errorf("read back %+v, want mode Belenios, group BELENIOS-2048, Platform", *v)
	}
	if !got.Spec.IsVerifiable() || got.Spec.ExternalCredentials() || !v.PlatformTrustee() {
		t.Errorf("verifiable=%v external=%v platformTrustee=%v, want true false true", got.Spec.IsVerifiable(), got.Spec.ExternalCredentials(), v.PlatformTrustee())
	}
}

// TestVerifiabilityDefaults: the mode defaults to None and the authority to
// Platform, and the Go defaults (local runs) agree with the API server's.
func TestVerifiabilityDefaults(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	for name, v := range map[string]*v1.Verifiability{
		"empty":    {},
		"belenios": {Mode: v1.VerifiabilityBelenios},
		"external": {Mode: v1.VerifiabilityBelenios, CredentialAuthority: v1.CredentialAuthorityExternal, PublicCredentials: &v1.SecretReference{Name: "pubcreds"}},
	} {
		t.Run(name, func(t *testing.T) {
			e := minimalElection(ns, "vdefaults-"+name)
			e.Spec.Verifiability = v
			local := e.DeepCopy()
			local.Default()
			if err := env.Client.Create(ctx, e); err != nil {
				t.Fatal(err)
			}
			var server v1.Election
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(e), &server); err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(local.Spec, server.Spec) {
				t.Errorf("Go defaults differ from the API server's:\nGo:     %+v\nserver: %+v", *local.Spec.Verifiability, *server.Spec.Verifiability)
			}
			sv := server.Spec.Verifiability
			if sv.Group != v1.GroupBelenios2048 {
				t.Errorf("group %q, want BELENIOS-2048", sv.Group)
			}
			if v.Mode == "" && (sv.Mode != v1.VerifiabilityNone || server.Spec.IsVerifiable()) {
				t.Errorf("mode %q (verifiable=%v), want None", sv.Mode, server.Spec.IsVerifiable())
			}
			if v.CredentialAuthority == "" && sv.CredentialAuthority != v1.CredentialAuthorityPlatform {
				t.Errorf("credentialAuthority %q, want Platform", sv.CredentialAuthority)
			}
		})
	}
}

// TestVerifiableTrusteeFormsAccepted: external trustees, a threshold group, with
// and without the platform's own trustee, and which of them hold a share of the
// key when platform is unset.
func TestVerifiableTrusteeFormsAccepted(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	pedersen := `["Pedersen",{"threshold":2,"certs":[],"coefexps":[],"verification_keys":[]}]`
	for name, c := range map[string]struct {
		trustees *v1.Trustees
		platform bool
	}{
		"unset":                     {nil, true},
		"empty":                     {&v1.Trustees{}, true},
		"external":                  {&v1.Trustees{External: []v1.ExternalTrustee{{Name: "alice", PublicKey: aliceKey}, {Name: "bob", PublicKey: aliceKey}}}, false},
		"external-and-platform":     {&v1.Trustees{Platform: ptr.To(true), External: []v1.ExternalTrustee{{Name: "alice", PublicKey: aliceKey}}}, true},
		"threshold":                 {&v1.Trustees{Threshold: &v1.ThresholdTrustees{Trustees: pedersen}}, false},
		"threshold-platform-false":  {&v1.Trustees{Platform: ptr.To(false), Threshold: &v1.ThresholdTrustees{Trustees: pedersen}}, false},
		"external-platform-false":   {&v1.Trustees{Platform: ptr.To(false), External: []v1.ExternalTrustee{{Name: "alice", PublicKey: aliceKey}}}, false},
		"platform-only-set-to-true": {&v1.Trustees{Platform: ptr.To(true)}, true},
	} {
		t.Run(name, func(t *testing.T) {
			e := minimalElection(ns, "trustees-"+name)
			e.Spec.Verifiability = &v1.Verifiability{Mode: v1.VerifiabilityBelenios, Trustees: c.trustees}
			if err := env.Client.Create(ctx, e); err != nil {
				t.Fatalf("refused: %v", err)
			}
			var got v1.Election
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(e), &got); err != nil {
				t.Fatal(err)
			}
			if p := got.Spec.Verifiability.PlatformTrustee(); p != c.platform {
				t.Errorf("PlatformTrustee() = %v, want %v", p, c.platform)
			}
		})
	}
}

// TestVerifiabilityLockedOnceOpen: before the opening the mode can be set, changed
// or removed; once Open, adding, removing or changing any of it is refused naming
// spec.verifiability, and the rest of what stays editable still is.
func TestVerifiabilityLockedOnceOpen(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	plain := minimalElection(ns, "plain")
	if err := env.Client.Create(ctx, plain); err != nil {
		t.Fatal(err)
	}
	e := minimalElection(ns, "verifiable")
	e.Spec.Verifiability = &v1.Verifiability{Mode: v1.VerifiabilityBelenios}
	if err := env.Client.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	// Before the opening, it can change.
	e.Spec.Verifiability.Trustees = &v1.Trustees{External: []v1.ExternalTrustee{{Name: "alice", PublicKey: aliceKey}}}
	if err := env.Client.Update(ctx, e); err != nil {
		t.Fatalf("a Scheduled election's trustees must be editable: %v", err)
	}
	setPhase(t, plain, v1.PhaseOpen)
	setPhase(t, e, v1.PhaseOpen)

	edits := map[string]struct {
		obj  *v1.Election
		edit func(*v1.Election)
	}{
		"add to a plain election": {plain, func(x *v1.Election) {
			x.Spec.Verifiability = &v1.Verifiability{Mode: v1.VerifiabilityBelenios}
		}},
		"remove": {e, func(x *v1.Election) { x.Spec.Verifiability = nil }},
		"mode": {e, func(x *v1.Election) {
			x.Spec.Verifiability.Mode = v1.VerifiabilityNone
			x.Spec.Verifiability.Trustees = nil
		}},
		"credential authority": {e, func(x *v1.Election) {
			x.Spec.Verifiability.CredentialAuthority = v1.CredentialAuthorityExternal
			x.Spec.Verifiability.PublicCredentials = &v1.SecretReference{Name: "pubcreds"}
		}},
		"trustee key": {e, func(x *v1.Election) {
			x.Spec.Verifiability.Trustees.External[0].PublicKey = `{"pok":{"challenge":"7","response":"8"},"public_key":"9"}`
		}},
		"add a trustee": {e, func(x *v1.Election) {
			x.Spec.Verifiability.Trustees.External = append(x.Spec.Verifiability.Trustees.External, v1.ExternalTrustee{Name: "bob", PublicKey: aliceKey})
		}},
	}
	for name, c := range edits {
		t.Run(name, func(t *testing.T) {
			eventually(t, "want a refusal naming spec.verifiability", func() error {
				var cur v1.Election
				if err := env.Client.Get(ctx, client.ObjectKeyFromObject(c.obj), &cur); err != nil {
					return err
				}
				c.edit(&cur)
				err := env.Client.Update(ctx, &cur)
				switch {
				case err == nil:
					return fmt.Errorf("the edit was accepted")
				case !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err):
					return fmt.Errorf("unexpected error %v", err)
				case !strings.Contains(err.Error(), "spec.verifiability"):
					return fmt.Errorf("refusal does not name spec.verifiability: %v", err)
				}
				return nil
			})
		})
	}
	// What is not frozen still moves, in both.
	for _, x := range []*v1.Election{plain, e} {
		var cur v1.Election
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(x), &cur); err != nil {
			t.Fatal(err)
		}
		cur.Spec.Title = "Board election (extended)"
		if err := env.Client.Update(ctx, &cur); err != nil {
			t.Errorf("%s: editing the title of an Open election must be allowed: %v", x.Name, err)
		}
	}
}
