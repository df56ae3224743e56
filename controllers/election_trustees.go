package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/belenios"
)

// checkTrustees is what keeps a verifiable election's trustees from working, in
// words for the tenant naming the field (nil when nothing does): an external
// trustee's public key that is not one, whose proof of knowledge fails, or that
// another trustee listed already; a threshold entry that is not a Pedersen entry
// or whose certificates, commitments or keys do not check; a platform trustee
// without a key (keys made before the verifiable mode). These are the checks
// belenios-tool's verifier makes of the board's trustees: caught here, before the
// opening, rather than by the runtime's setup or an auditor.
func checkTrustees(e *scrutinv1.Election, keys Keys) *problem {
	if !e.Spec.IsVerifiable() {
		return nil
	}
	v := e.Spec.Verifiability
	g, err := belenios.GroupByName(string(v.Group))
	if err != nil {
		return &problem{"TrusteesInvalid", "spec.verifiability.group: " + err.Error()}
	}
	if v.PlatformTrustee() && keys.TrusteeKey == "" {
		return &problem{"TrusteeKeyMissing", fmt.Sprintf("the election's keys (Secret %s) were made before the verifiable mode and hold no platform trustee key: "+
			"list external or threshold trustees with spec.verifiability.trustees.platform: false, or create the Election again", KeysSecretName)}
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
			return &problem{"TrusteesInvalid", fmt.Sprintf("%s: not a trustee public key (the JSON kubectl scrutin trustee keygen prints): %v", field, err)}
		}
		if err := (belenios.Trustees{{Single: &k}}).Verify(g); err != nil {
			return &problem{"TrusteesInvalid", fmt.Sprintf("%s: does not check (a key of group %s with its proof of knowledge): %v", field, g.Name, err)}
		}
		y := k.PublicKey.Big().String()
		if other, dup := seen[y]; dup {
			return &problem{"TrusteesInvalid", fmt.Sprintf("%s: the same key as trustee %s: each trustee needs a key of their own", field, other)}
		}
		seen[y] = t.Name
	}
	if th := v.Trustees.Threshold; th != nil {
		const field = "spec.verifiability.trustees.threshold.trustees"
		entry, err := belenios.ParseTrusteeEntry([]byte(th.Trustees))
		if err != nil {
			return &problem{"TrusteesInvalid", fmt.Sprintf("%s: not a trustees entry (what kubectl scrutin trustee ceremony prints): %v", field, err)}
		}
		if entry.Pedersen == nil {
			return &problem{"TrusteesInvalid", field + ": not a Pedersen entry"}
		}
		if err := (belenios.Trustees{entry}).Verify(g); err != nil {
			return &problem{"TrusteesInvalid", fmt.Sprintf("%s: does not check: %v", field, err)}
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

func trusteesFingerprint(e *scrutinv1.Election, keys Keys) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%t\x00", e.UID, keys.TrusteeKey != "")
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
	fp := trusteesFingerprint(e, in.Keys)
	r.trusteeChecks.mu.Lock()
	last, ok := r.trusteeChecks.m[key]
	r.trusteeChecks.mu.Unlock()
	if !ok || last.fingerprint != fp {
		last = trusteeCheck{fingerprint: fp, problem: checkTrustees(e, in.Keys)}
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
