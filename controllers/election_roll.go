package controllers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/voting-runtime/roll"
)

// maxRollErrorsInStatus bounds how many bad lines the RollValid condition lists.
const maxRollErrorsInStatus = 50

// maxListedInStatus bounds how many missing, extra or changed parts, or unreachable
// voters' lines, a message names.
const maxListedInStatus = 10

// tenantPart is one part of the tenant's roll, as listed (metadata only).
type tenantPart struct {
	Index           int // from 1
	Secret          string
	UID             types.UID
	ResourceVersion string
}

// rollProblem is a roll the controller refuses, with its reason and message.
type rollProblem struct{ reason, message string }

// rollMemo is what the last validation of an Election's roll found, for the parts'
// fingerprint it read: an unchanged roll is not read again at every reconcile.
type rollMemo struct {
	uid         types.UID
	fingerprint string
	problem     *rollProblem
	summary     *rollSummary
	shas        []string // per part, hex
	// changed is, once the election is open, the tenant parts that differ from
	// the copy it opened with ("" when none), for that fingerprint.
	changed string
	// copyVersions are the resourceVersions of the copies as last written or
	// checked: a copy edited since (its annotation kept) is written again.
	copyVersions map[string]string
}

// rollMemos holds one rollMemo per Election, dropped when it goes. A memo of an
// earlier Election of the same name (another UID) is never used.
type rollMemos struct {
	mu sync.Mutex
	m  map[types.NamespacedName]*rollMemo
}

func (m *rollMemos) get(e *scrutinv1.Election) *rollMemo {
	m.mu.Lock()
	defer m.mu.Unlock()
	if memo := m.m[client.ObjectKeyFromObject(e)]; memo != nil && memo.uid == e.UID {
		return memo
	}
	return nil
}

func (m *rollMemos) put(e *scrutinv1.Election, memo *rollMemo) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[types.NamespacedName]*rollMemo{}
	}
	memo.uid = e.UID
	m.m[client.ObjectKeyFromObject(e)] = memo
}

func (m *rollMemos) drop(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, key)
}

func (m *rollMemos) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}

// loadRoll reads the tenant's roll, part after part, checks every line and sets
// RollValid, status.voters and status.roll. Only a valid roll is copied into the
// election's namespace. Once the election is Open the copy is frozen: later edits
// of the tenant's Secrets are reported, never applied.
func (r *ElectionReconciler) loadRoll(ctx context.Context, in *Inputs) error {
	e := in.Election
	if phaseAtLeast(e.Status.Phase, scrutinv1.PhaseOpen) {
		return r.keepFrozenRoll(ctx, in)
	}
	err := r.readRoll(ctx, in)
	if err != nil && in.Roll == nil {
		// The roll could not be read this time (the API server, or a part that
		// changed while it was read): the pods keep the copy they have if it is
		// whole and the last one validated, so a passing error neither restarts
		// them without a roll nor gives them half of a new one.
		in.Roll = r.lastValidatedCopy(ctx, in)
	}
	return err
}

// lastValidatedCopy is the copy standing in the election's namespace when it is
// exactly the roll last validated (every part, each with its SHA-256); nil
// otherwise.
func (r *ElectionReconciler) lastValidatedCopy(ctx context.Context, in *Inputs) *specs.RollCopy {
	memo := r.rollMemos.get(in.Election)
	if memo == nil || memo.summary == nil || memo.problem != nil {
		return nil
	}
	existing, err := r.rollCopies(ctx, in)
	if err != nil || len(existing) != len(memo.shas) {
		return nil
	}
	c := &specs.RollCopy{}
	for i, sha := range memo.shas {
		name := specs.RollCopyName(i + 1)
		if existing[name] != sha {
			return nil
		}
		c.Parts = append(c.Parts, specs.RollCopyPart{Name: name, Key: specs.RollCopyKey, SHA256: sha})
	}
	return c
}

// readRoll reads, validates and copies the roll of an election not yet open.
func (r *ElectionReconciler) readRoll(ctx context.Context, in *Inputs) error {
	e := in.Election
	// until the roll is read again, keep whatever copy stands (a failed read
	// must not delete it)
	in.keepRollCopies = true
	parts, problem, err := r.listRollParts(ctx, e)
	if err != nil {
		return err
	}
	if problem != nil {
		r.refuseRoll(in, problem)
		r.rollMemos.drop(client.ObjectKeyFromObject(e))
		in.keepRollCopies = false
		return nil
	}
	fp := rollFingerprint(e, parts)
	memo := r.rollMemos.get(e)
	if memo == nil || memo.fingerprint != fp {
		memo, err = r.validateRoll(ctx, e, parts)
		if err != nil {
			return err
		}
		memo.fingerprint = fp
		r.rollMemos.put(e, memo)
	}
	in.keepRollCopies = false
	if memo.problem != nil {
		r.refuseRoll(in, memo.problem)
		return nil
	}
	s := memo.summary
	e.Status.Voters = s.Voters
	e.Status.Roll = &scrutinv1.RollStatus{Parts: int32(len(parts)), Digest: s.Digest, Unreachable: s.Unreachable,
		UnreachableLines: unreachableLines(s, parts)}
	msg := fmt.Sprintf("%d voters on the roll (%s)", s.Voters, s.Digest)
	if len(parts) > 1 {
		msg = fmt.Sprintf("%d voters on the roll, in %d parts (%s)", s.Voters, len(parts), s.Digest)
	}
	r.setRollValid(in, metav1.ConditionTrue, scrutinv1.ReasonRollValid, msg+describeRollWarnings(s)+describeUnreachable(e, s))
	copies, err := r.copyRoll(ctx, in, parts, memo)
	if err != nil {
		// a copy left half-written is never mounted
		in.Roll = nil
		in.keepRollCopies = true
		return err
	}
	in.Roll = copies
	return nil
}

// refuseRoll records a roll that cannot be used.
func (r *ElectionReconciler) refuseRoll(in *Inputs, p *rollProblem) {
	in.Election.Status.Voters = 0
	in.Election.Status.Roll = nil
	r.setRollValid(in, metav1.ConditionFalse, p.reason, p.message)
}

// listRollParts lists the tenant's parts, in order, from their metadata alone, or
// says what is wrong with the set: a missing part, an extra one, two Secrets
// claiming one place.
func (r *ElectionReconciler) listRollParts(ctx context.Context, e *scrutinv1.Election) ([]tenantPart, *rollProblem, error) {
	vr := e.Spec.VoterRoll
	get := func(name string) (*metav1.PartialObjectMetadata, error) {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: e.Namespace, Name: name}, m)
		if isNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("while reading Secret %s/%s: %w", e.Namespace, name, err)
		}
		return m, nil
	}
	switch {
	case vr.SecretRef != nil:
		m, err := get(vr.SecretRef.Name)
		if err != nil || m == nil {
			return nil, missingSecret(e, vr.SecretRef.Name), err
		}
		return []tenantPart{{Index: 1, Secret: m.Name, UID: m.UID, ResourceVersion: m.ResourceVersion}}, nil, nil

	case len(vr.Parts) > 0:
		parts := make([]tenantPart, 0, len(vr.Parts))
		var missing []string
		for i, ref := range vr.Parts {
			m, err := get(ref.Name)
			if err != nil {
				return nil, nil, err
			}
			if m == nil {
				missing = append(missing, fmt.Sprintf("part %d of %d is missing: Secret %s not found in namespace %s", i+1, len(vr.Parts), ref.Name, e.Namespace))
				continue
			}
			parts = append(parts, tenantPart{Index: i + 1, Secret: m.Name, UID: m.UID, ResourceVersion: m.ResourceVersion})
		}
		if len(missing) > 0 {
			return nil, &rollProblem{scrutinv1.ReasonRollPartMissing, listed(missing)}, nil
		}
		return parts, nil, nil

	case vr.Selector != nil:
		return r.selectRollParts(ctx, e)
	}
	return nil, &rollProblem{scrutinv1.ReasonRollInvalid, "spec.voterRoll names no Secret: give secretRef, parts or selector"}, nil
}

// selectRollParts lists the Secrets the selector matches and orders them by their
// scrutin.dev/roll-part annotation, checking there are exactly partCount of them,
// one per place.
func (r *ElectionReconciler) selectRollParts(ctx context.Context, e *scrutinv1.Election) ([]tenantPart, *rollProblem, error) {
	vr := e.Spec.VoterRoll
	sel, err := metav1.LabelSelectorAsSelector(vr.Selector)
	if err != nil {
		return nil, &rollProblem{scrutinv1.ReasonRollSelectorInvalid, "spec.voterRoll.selector: " + err.Error()}, nil
	}
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	if err := r.APIReader.List(ctx, list, client.InNamespace(e.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, nil, fmt.Errorf("while listing the roll's parts: %w", err)
	}
	n := int(vr.PartCount)
	byIndex := make(map[int]tenantPart, n)
	var extra, dup []string
	items := list.Items
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	for _, m := range items {
		a, ok := m.Annotations[scrutinv1.RollPartAnnotation]
		idx, err := strconv.Atoi(strings.TrimSpace(a))
		switch {
		case !ok:
			extra = append(extra, fmt.Sprintf("Secret %s matches the selector but has no annotation %s", m.Name, scrutinv1.RollPartAnnotation))
			continue
		case err != nil || idx < 1:
			extra = append(extra, fmt.Sprintf("Secret %s has annotation %s: %q, not a part number from 1 to %d", m.Name, scrutinv1.RollPartAnnotation, a, n))
			continue
		case idx > n:
			extra = append(extra, fmt.Sprintf("Secret %s claims part %d, beyond partCount %d: an extra part", m.Name, idx, n))
			continue
		}
		if other, seen := byIndex[idx]; seen {
			dup = append(dup, fmt.Sprintf("Secrets %s and %s both claim part %d (annotation %s: %q)", other.Secret, m.Name, idx, scrutinv1.RollPartAnnotation, strconv.Itoa(idx)))
			continue
		}
		byIndex[idx] = tenantPart{Index: idx, Secret: m.Name, UID: m.UID, ResourceVersion: m.ResourceVersion}
	}
	var missing []string
	parts := make([]tenantPart, 0, n)
	for i := 1; i <= n; i++ {
		p, ok := byIndex[i]
		if !ok {
			missing = append(missing, fmt.Sprintf("part %d of %d is missing: no Secret matching the selector has annotation %s: %q", i, n, scrutinv1.RollPartAnnotation, strconv.Itoa(i)))
			continue
		}
		parts = append(parts, p)
	}
	switch {
	case len(dup) > 0:
		return nil, &rollProblem{scrutinv1.ReasonRollPartDuplicate, listed(append(dup, append(missing, extra...)...))}, nil
	case len(missing) > 0:
		return nil, &rollProblem{scrutinv1.ReasonRollPartMissing, listed(append(missing, extra...))}, nil
	case len(extra) > 0:
		return nil, &rollProblem{scrutinv1.ReasonRollPartExtra, listed(extra)}, nil
	}
	return parts, nil, nil
}

func missingSecret(e *scrutinv1.Election, name string) *rollProblem {
	return &rollProblem{scrutinv1.ReasonRollSecretMissing, fmt.Sprintf("Secret %s not found in namespace %s", name, e.Namespace)}
}

// listed joins at most maxListedInStatus lines, and says how many more there are.
func listed(lines []string) string {
	if len(lines) <= maxListedInStatus {
		return strings.Join(lines, "\n")
	}
	return strings.Join(lines[:maxListedInStatus], "\n") + fmt.Sprintf("\nand %d more", len(lines)-maxListedInStatus)
}

// rollFingerprint identifies what a validation read: every part's Secret (name,
// uid, resourceVersion), the key, the expected digest and what decides which
// voters are reachable.
func rollFingerprint(e *scrutinv1.Election, parts []tenantPart) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%t\x00", e.Spec.VoterRoll.Key, e.Spec.VoterRoll.Digest, e.Spec.Authentication.Method, e.Spec.Delivery.Fallback)
	for _, p := range parts {
		fmt.Fprintf(h, "%d\x00%s\x00%s\x00%s\x00", p.Index, p.Secret, p.UID, p.ResourceVersion)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// readPart reads one tenant part's bytes, checking it is still the version listed.
func (r *ElectionReconciler) readPart(ctx context.Context, e *scrutinv1.Election, p tenantPart) ([]byte, *rollProblem, error) {
	var s corev1.Secret
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: e.Namespace, Name: p.Secret}, &s)
	if err != nil {
		return nil, nil, fmt.Errorf("while reading the roll's part %d, Secret %s/%s: %w", p.Index, e.Namespace, p.Secret, err)
	}
	if s.UID != p.UID || s.ResourceVersion != p.ResourceVersion {
		return nil, nil, fmt.Errorf("the roll's part %d, Secret %s/%s, changed while it was read; reading it again", p.Index, e.Namespace, p.Secret)
	}
	data, ok := s.Data[e.Spec.VoterRoll.Key]
	if !ok {
		msg := fmt.Sprintf("Secret %s has no key %q", p.Secret, e.Spec.VoterRoll.Key)
		if e.Spec.VoterRoll.SecretRef == nil {
			msg = fmt.Sprintf("part %d (Secret %s) has no key %q", p.Index, p.Secret, e.Spec.VoterRoll.Key)
		}
		return nil, &rollProblem{scrutinv1.ReasonRollKeyMissing, msg}, nil
	}
	return data, nil, nil
}

// validateRoll reads the parts one at a time (never holding more than one part's
// bytes), checks every line, the parts' digest and each part's SHA-256.
func (r *ElectionReconciler) validateRoll(ctx context.Context, e *scrutinv1.Election, parts []tenantPart) (*rollMemo, error) {
	check := newRollCheck(e, len(parts))
	all := sha256.New()
	memo := &rollMemo{shas: make([]string, len(parts))}
	for i, p := range parts {
		data, problem, err := r.readPart(ctx, e, p)
		if err != nil {
			return nil, err
		}
		if problem != nil {
			memo.problem = problem
			return memo, nil
		}
		one := sha256.New()
		tee := io.TeeReader(bytes.NewReader(data), io.MultiWriter(all, one))
		if err := check.part(p.Secret, p.Index, tee); err != nil {
			return nil, fmt.Errorf("while reading the roll's part %d: %w", p.Index, err)
		}
		// whatever the validator left unread still counts in the digests
		if _, err := io.Copy(io.Discard, tee); err != nil {
			return nil, err
		}
		memo.shas[i] = hexSum(one)
	}
	digest := "sha256:" + hexSum(all)
	if want := e.Spec.VoterRoll.Digest; want != "" && want != digest {
		memo.problem = &rollProblem{scrutinv1.ReasonRollDigestMismatch, fmt.Sprintf(
			"the %d parts' digest is %s, spec.voterRoll.digest says %s: a part is missing, extra, out of order or changed "+
				"(the digest is `cat part-*.csv | sha256sum` over the parts in order)", len(parts), digest, want)}
		return memo, nil
	}
	summary, err := check.finish()
	var lineErrs *roll.Errors
	switch {
	case errors.As(err, &lineErrs):
		memo.problem = &rollProblem{scrutinv1.ReasonRollInvalid, describeRollErrors(lineErrs)}
		return memo, nil
	case err != nil:
		memo.problem = &rollProblem{scrutinv1.ReasonRollInvalid, err.Error()}
		return memo, nil
	}
	memo.summary = summary
	return memo, nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// copyRoll copies the validated parts into the election's namespace, writing only
// those whose copy differs (by its SHA-256 annotation, or edited since it was
// last written or checked), and returns the copy. It raises the namespace's Secret
// quota first, so a roll of many parts fits.
func (r *ElectionReconciler) copyRoll(ctx context.Context, in *Inputs, parts []tenantPart, memo *rollMemo) (*specs.RollCopy, error) {
	existing, versions, err := r.listRollCopies(ctx, in)
	if err != nil {
		return nil, err
	}
	c := &specs.RollCopy{}
	for i, p := range parts {
		c.Parts = append(c.Parts, specs.RollCopyPart{Name: specs.RollCopyName(p.Index), Key: specs.RollCopyKey, SHA256: memo.shas[i]})
	}
	if err := r.apply(ctx, specs.ResourceQuota(&in.Inputs)); err != nil {
		return nil, fmt.Errorf("while raising the Secret quota for the roll's copy: %w", err)
	}
	wrote := false
	for i, p := range parts {
		cp := c.Parts[i]
		known := memo.copyVersions[cp.Name]
		if existing[cp.Name] == cp.SHA256 && (known == "" || known == versions[cp.Name]) {
			continue
		}
		data, problem, err := r.readPart(ctx, in.Election, p)
		if err == nil && problem == nil && sha256Hex(data) != cp.SHA256 {
			err = fmt.Errorf("the roll's part %d, Secret %s, changed while it was copied; reading it again", p.Index, p.Secret)
		}
		if err == nil && problem != nil {
			err = errors.New(problem.message)
		}
		if err != nil {
			return nil, err
		}
		s := specs.SecretOf(&in.Inputs, cp.Name, map[string][]byte{specs.RollCopyKey: data})
		s.Annotations = map[string]string{specs.RollPartSHA256Annotation: cp.SHA256, scrutinv1.RollPartAnnotation: strconv.Itoa(p.Index)}
		if err := r.apply(ctx, s); err != nil {
			return nil, fmt.Errorf("while copying the roll's part %d: %w", p.Index, err)
		}
		wrote = true
	}
	if wrote || memo.copyVersions == nil {
		if _, versions, err = r.listRollCopies(ctx, in); err != nil {
			return nil, err
		}
	}
	memo.copyVersions = versions
	return c, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// rollCopies lists the election's copied parts (name -> SHA-256 annotation), from
// their metadata.
func (r *ElectionReconciler) rollCopies(ctx context.Context, in *Inputs) (map[string]string, error) {
	shas, _, err := r.listRollCopies(ctx, in)
	return shas, err
}

// listRollCopies lists the election's copied parts: name -> SHA-256 annotation,
// and name -> resourceVersion.
func (r *ElectionReconciler) listRollCopies(ctx context.Context, in *Inputs) (shas, versions map[string]string, err error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	if err := r.APIReader.List(ctx, list, client.InNamespace(in.Namespace),
		client.MatchingLabels{scrutinv1.LabelElectionUID: string(in.Election.UID)}); err != nil {
		return nil, nil, fmt.Errorf("while listing the roll's copy: %w", err)
	}
	shas, versions = map[string]string{}, map[string]string{}
	for _, m := range list.Items {
		if isRollCopyName(m.Name) {
			shas[m.Name] = m.Annotations[specs.RollPartSHA256Annotation]
			versions[m.Name] = m.ResourceVersion
		}
	}
	return shas, versions, nil
}

// isRollCopyName: voter-roll-NNNN.
func isRollCopyName(name string) bool {
	rest, ok := strings.CutPrefix(name, specs.RollSecretName+"-")
	if !ok || len(rest) < 4 {
		return false
	}
	_, err := strconv.Atoi(rest)
	return err == nil
}

// keepFrozenRoll keeps the roll the election opened with, and reports each tenant
// part changed since (by Secret name and place), never applying it.
func (r *ElectionReconciler) keepFrozenRoll(ctx context.Context, in *Inputs) error {
	e := in.Election
	in.keepRollCopies = true
	copies, err := r.rollCopies(ctx, in)
	if err != nil {
		return err
	}
	c := &specs.RollCopy{}
	for _, name := range specs.SortedKeys(copies) {
		c.Parts = append(c.Parts, specs.RollCopyPart{Name: name, Key: specs.RollCopyKey, SHA256: copies[name]})
	}
	if len(c.Parts) == 0 {
		// an election opened before rolls came in parts: its one copy
		var s metav1.PartialObjectMetadata
		s.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: specs.RollSecretName}, &s); err != nil {
			return fmt.Errorf("while reading the election's roll: %w", err)
		}
		c.Parts = []specs.RollCopyPart{{Name: specs.RollSecretName, Key: "roll.csv"}}
	}
	in.Roll = c

	changed, err := r.changedSinceOpening(ctx, e, c)
	if err != nil {
		return err
	}
	in.observed.roll = &rollObserved{changedSinceOpening: &changed}
	return nil
}

// changedSinceOpening names the tenant's parts that differ from the copy the
// election opened with ("" when none), with a Warning event when that list changes.
func (r *ElectionReconciler) changedSinceOpening(ctx context.Context, e *scrutinv1.Election, c *specs.RollCopy) (string, error) {
	parts, problem, err := r.listRollParts(ctx, e)
	if err != nil {
		return "", err
	}
	fp := "problem"
	if problem == nil {
		fp = rollFingerprint(e, parts)
	} else {
		fp += problem.message
	}
	memo := r.rollMemos.get(e)
	if memo != nil && memo.fingerprint == fp {
		return memo.changed, nil
	}
	var changed []string
	switch {
	case problem != nil:
		changed = append(changed, problem.message)
	case len(c.Parts) == 1 && c.Parts[0].SHA256 == "":
		// the one copy of an election opened before parts: compare its bytes
		data, p, err := r.readPart(ctx, e, parts[0])
		if err != nil {
			return "", err
		}
		var s corev1.Secret
		if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: specs.NamespaceName(e), Name: specs.RollSecretName}, &s); err != nil {
			return "", err
		}
		if p != nil || len(parts) != 1 || !bytes.Equal(data, s.Data["roll.csv"]) {
			changed = append(changed, fmt.Sprintf("part 1 (Secret %s)", parts[0].Secret))
		}
	default:
		for i, p := range parts {
			data, prob, err := r.readPart(ctx, e, p)
			if err != nil {
				return "", err
			}
			if prob != nil || i >= len(c.Parts) || sha256Hex(data) != c.Parts[i].SHA256 {
				changed = append(changed, fmt.Sprintf("part %d of %d (Secret %s)", p.Index, len(parts), p.Secret))
			}
		}
		if len(parts) < len(c.Parts) {
			changed = append(changed, fmt.Sprintf("the roll has %d parts, it opened with %d", len(parts), len(c.Parts)))
		}
	}
	msg := ""
	if len(changed) > 0 {
		msg = strings.ReplaceAll(listed(changed), "\n", "; ")
	}
	if msg != "" && (memo == nil || memo.changed != msg) {
		r.event(e, corev1.EventTypeWarning, scrutinv1.EventRollChangedAfterOpening, "Provision",
			"The roll changed after the election opened; the roll it opened with is kept: "+msg)
	}
	r.rollMemos.put(e, &rollMemo{fingerprint: fp, changed: msg})
	return msg, nil
}

// describeRollWarnings lists a valid roll's warnings (lines whose voter_id, name
// or email starts like a spreadsheet formula), each with its line and column,
// never the value; "" when there are none.
func describeRollWarnings(s *rollSummary) string {
	if s.WarningCount == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "; warning: %d field(s) start like a spreadsheet formula (=, +, - or @); "+
		"the participation export writes them behind a single quote; check each is what you meant:", s.WarningCount)
	for _, w := range s.Warnings {
		b.WriteString("\n")
		b.WriteString(w.Error())
	}
	if more := s.WarningCount - len(s.Warnings); more > 0 {
		fmt.Fprintf(&b, "\nand %d more", more)
	}
	return b.String()
}

// maxUnreachableLines bounds status.roll.unreachableLines (the API's MaxItems).
const maxUnreachableLines = 100

// unreachableLines names the first unreachable voters' lines, for status.roll:
// each by the Secret holding it and its line there.
func unreachableLines(s *rollSummary, parts []tenantPart) []scrutinv1.RollLine {
	secrets := make(map[string]string, len(parts))
	for _, p := range parts {
		secrets[partLabel(p.Secret, p.Index, len(parts))] = p.Secret
	}
	var out []scrutinv1.RollLine
	for _, l := range s.UnreachableLines {
		if len(out) == maxUnreachableLines {
			break
		}
		out = append(out, scrutinv1.RollLine{Part: secrets[l.Part], Line: int32(l.Line)})
	}
	return out
}

// describeUnreachable warns of the voters the method (with its fallback) cannot
// reach; "" when there are none. It does not block the election.
func describeUnreachable(e *scrutinv1.Election, s *rollSummary) string {
	if s.Unreachable == 0 {
		return ""
	}
	what := "no email"
	if e.Spec.Authentication.Method == scrutinv1.SMSCode {
		what = "no phone"
	}
	if e.Spec.Delivery.Fallback {
		what = "neither phone nor email"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "; warning: %d voter(s) cannot be reached (%s): they get no code or letter; "+
		"`kubectl scrutin roll check` and `kubectl scrutin delivery` list their lines", s.Unreachable, what)
	for i, l := range s.UnreachableLines {
		if i == maxListedInStatus {
			break
		}
		b.WriteString("\n")
		b.WriteString(l.Error())
	}
	return b.String()
}

// describeRollErrors lists the bad lines, each with its part, number and reason.
func describeRollErrors(errs *roll.Errors) string {
	var b strings.Builder
	noun := "problems"
	if errs.Total == 1 {
		noun = "problem"
	}
	fmt.Fprintf(&b, "%d %s in the roll; the election cannot open until the roll is fixed:", errs.Total, noun)
	for _, le := range errs.Lines {
		b.WriteString("\n")
		b.WriteString(le.Error())
	}
	if more := errs.Total - len(errs.Lines); more > 0 {
		fmt.Fprintf(&b, "\nand %d more", more)
	}
	return b.String()
}

// setRollValid notes the roll's verdict for RollValid (rollCondition); a roll
// refused keeps the election from being Ready.
func (r *ElectionReconciler) setRollValid(in *Inputs, status metav1.ConditionStatus, reason, message string) {
	in.observed.roll = &rollObserved{verdict: &verdict{status: status, reason: reason, message: message}}
	if status != metav1.ConditionTrue {
		in.addProblem(reason, message)
	}
}
