package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/voting-runtime/belenios"
)

// checkTrustees is what keeps a verifiable election's trustees from working, in
// words for the tenant naming the field (nil when nothing does): an external
// trustee's public key that is not one, whose proof of knowledge fails, or that
// another trustee listed already; a threshold entry that is not a Pedersen entry
// or whose certificates, commitments or keys do not check. These are the checks
// belenios-tool's verifier makes of the board's trustees: caught here, before the
// opening, rather than by the runtime's setup or an auditor.
func checkTrustees(e *scrutinv1.Election) *problem {
	if !e.Spec.IsVerifiable() {
		return nil
	}
	v := e.Spec.Verifiability
	g, err := belenios.GroupByName(string(v.Group))
	if err != nil {
		return &problem{scrutinv1.ReasonTrusteesInvalid, "spec.verifiability.group: " + err.Error()}
	}
	if v.Trustees == nil {
		return nil
	}
	seen := map[string]string{} // public key -> trustee name
	for _, t := range v.Trustees.External {
		field := fmt.Sprintf("spec.verifiability.trustees.external[%s].publicKey", t.Name)
		var k belenios.TrusteePublicKey
		if err := belenios.UnmarshalStrict([]byte(t.PublicKey), &k); err != nil || k.PublicKey == nil || k.PoK.Challenge == nil || k.PoK.Response == nil {
			if err == nil {
				err = fmt.Errorf("pok and public_key are required")
			}
			return &problem{scrutinv1.ReasonTrusteesInvalid, fmt.Sprintf("%s: not a trustee public key (the JSON kubectl scrutin trustee keygen prints): %v", field, err)}
		}
		if err := belenios.VerifyTrusteeKey(g, k); err != nil {
			return &problem{scrutinv1.ReasonTrusteesInvalid, fmt.Sprintf("%s: does not check (a key of group %s with its proof of knowledge): %v", field, g.Name, err)}
		}
		y := k.PublicKey.Big().String()
		if other, dup := seen[y]; dup {
			return &problem{scrutinv1.ReasonTrusteesInvalid, fmt.Sprintf("%s: the same key as trustee %s: each trustee needs a key of their own", field, other)}
		}
		seen[y] = t.Name
	}
	if th := v.Trustees.Threshold; th != nil {
		const field = "spec.verifiability.trustees.threshold.trustees"
		entry, err := belenios.ParseTrusteeEntry([]byte(th.Trustees))
		if err != nil {
			return &problem{scrutinv1.ReasonTrusteesInvalid, fmt.Sprintf("%s: not a trustees entry (what kubectl scrutin trustee ceremony prints): %v", field, err)}
		}
		if entry.Pedersen == nil {
			return &problem{scrutinv1.ReasonTrusteesInvalid, field + ": not a Pedersen entry"}
		}
		if err := (belenios.Trustees{entry}).Verify(g); err != nil {
			return &problem{scrutinv1.ReasonTrusteesInvalid, fmt.Sprintf("%s: does not check: %v", field, err)}
		}
	}
	return nil
}

// trusteeChecks remember, per Election, the last check of its trustees: the
// proofs are checked again only when the trustees (or the election) change.
type trusteeChecks struct {
	mu sync.Mutex
	m  map[types.NamespacedName]trusteeCheck
}

type trusteeCheck struct {
	fingerprint string
	problem     *problem
}

func trusteesFingerprint(e *scrutinv1.Election) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", e.UID)
	if v := e.Spec.Verifiability; v != nil {
		fmt.Fprintf(h, "%s\x00%s\x00%t\x00", v.Mode, v.Group, v.PlatformTrustee())
		if t := v.Trustees; t != nil {
			for _, x := range t.External {
				fmt.Fprintf(h, "%s\x00%s\x00", x.Name, x.PublicKey)
			}
			if t.Threshold != nil {
				fmt.Fprintf(h, "threshold\x00%s\x00", t.Threshold.Trustees)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkTrustees records the trustees' problem, if any (Ready says it, with a
// Warning event when it becomes the reason).
func (r *ElectionReconciler) checkTrustees(in *Inputs) {
	e := in.Election
	key := client.ObjectKeyFromObject(e)
	fp := trusteesFingerprint(e)
	r.trusteeChecks.mu.Lock()
	last, ok := r.trusteeChecks.m[key]
	r.trusteeChecks.mu.Unlock()
	if !ok || last.fingerprint != fp {
		last = trusteeCheck{fingerprint: fp, problem: checkTrustees(e)}
		r.trusteeChecks.mu.Lock()
		if r.trusteeChecks.m == nil {
			r.trusteeChecks.m = map[types.NamespacedName]trusteeCheck{}
		}
		r.trusteeChecks.m[key] = last
		r.trusteeChecks.mu.Unlock()
	}
	if last.problem != nil {
		in.addProblem(last.problem.reason, last.problem.message)
	}
}

func (c *trusteeChecks) drop(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

// needsTrusteeKey: a verifiable election whose trustees include the platform.
func needsTrusteeKey(e *scrutinv1.Election) bool {
	return e.Spec.IsVerifiable() && e.Spec.Verifiability.PlatformTrustee()
}

// ensureTrusteeKey reads the platform trustee's private key, making it the
// first time a verifiable election with the platform among its trustees needs
// it. Once made it is never pruned nor changed, even if the election stops
// needing it before it opens: the runtime may already have published the
// matching public key. A key made again after the opening cannot decrypt what
// was cast: a Warning event says so.
func (r *ElectionReconciler) ensureTrusteeKey(ctx context.Context, in *Inputs) error {
	e := in.Election
	if !needsTrusteeKey(e) {
		return nil
	}
	var s corev1.Secret
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: specs.TrusteeKeySecretName}, &s)
	switch {
	case err == nil:
		k := string(s.Data[specs.KeyTrustee])
		if err := specs.CheckTrusteeKey(k); err != nil {
			return fmt.Errorf("the platform trustee's key, Secret %s/%s, key %s: %w", in.Namespace, specs.TrusteeKeySecretName, specs.KeyTrustee, err)
		}
		in.Keys.TrusteeKey = k
		return nil
	case !isNotFound(err):
		return fmt.Errorf("while reading the platform trustee's key: %w", err)
	}
	k, err := specs.NewTrusteeKey()
	if err != nil {
		return err
	}
	ts := specs.SecretOf(&in.Inputs, specs.TrusteeKeySecretName, map[string][]byte{specs.KeyTrustee: []byte(k)})
	ts.Immutable = ptr.To(true)
	if err := r.apply(ctx, ts); err != nil {
		return fmt.Errorf("while storing the platform trustee's key: %w", err)
	}
	in.Keys.TrusteeKey = k
	if phaseAtLeast(e.Status.Phase, scrutinv1.PhaseOpen) {
		r.event(e, corev1.EventTypeWarning, scrutinv1.EventTrusteeKeyRegenerated, "Provision",
			"The platform trustee's key Secret was deleted and a new key was made: ballots cast under the old public key cannot be decrypted with it")
	}
	return nil
}
