package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

const rollHeader = "voter_id,name,email,phone\n"

// rollPartCSV is part i of a roll: n voters, each with an email and a phone.
func rollPartCSV(i, n int) string {
	var b strings.Builder
	b.WriteString(rollHeader)
	for j := 1; j <= n; j++ {
		fmt.Fprintf(&b, "P%d-%d,Voter %d %d,v%d.%d@example.org,+336%08d\n", i, j, i, j, i, j, i*1000+j)
	}
	return b.String()
}

// partsDigest is the digest spec.voterRoll.digest takes: sha256 over the parts'
// bytes, in order.
func partsDigest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// createPart creates a tenant Secret holding a roll part under roll.csv, with the
// given labels and roll-part annotation ("" for none).
func createPart(t *testing.T, ns, name, csv string, labels map[string]string, index string) {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Data:       map[string][]byte{"roll.csv": []byte(csv)},
	}
	if index != "" {
		s.Annotations = map[string]string{scrutinv1.RollPartAnnotation: index}
	}
	if err := k8s.Create(context.Background(), s); err != nil {
		t.Fatalf("while creating Secret %s/%s: %v", ns, name, err)
	}
}

// electionWithParts is newElection whose roll is the given parts, named in order.
func electionWithParts(t *testing.T, ns, name string, opensIn time.Duration, parts []string) *scrutinv1.Election {
	t.Helper()
	e := newElection(t, ns, name, opensIn, opensIn+time.Hour)
	e.Spec.VoterRoll = scrutinv1.VoterRoll{Key: "roll.csv"}
	for i, p := range parts {
		secret := fmt.Sprintf("%s-part-%d", name, i+1)
		createPart(t, ns, secret, p, nil, "")
		e.Spec.VoterRoll.Parts = append(e.Spec.VoterRoll.Parts, scrutinv1.SecretReference{Name: secret})
	}
	return e
}

// electionWithSelector is newElection whose roll is selected by label, with
// partCount and digest; no part is created.
func electionWithSelector(t *testing.T, ns, name string, count int32, digest string) *scrutinv1.Election {
	t.Helper()
	e := newElection(t, ns, name, time.Hour, 2*time.Hour)
	e.Spec.VoterRoll = scrutinv1.VoterRoll{
		Key:       "roll.csv",
		Selector:  &metav1.LabelSelector{MatchLabels: map[string]string{scrutinv1.RollLabel: name}},
		PartCount: count,
		Digest:    digest,
	}
	return e
}

// waitRollValid waits for RollValid to have this status and reason.
func waitRollValid(t *testing.T, e *scrutinv1.Election, status metav1.ConditionStatus, reason string) *scrutinv1.Election {
	t.Helper()
	var cur *scrutinv1.Election
	waitFor(t, fmt.Sprintf("RollValid %s %s", status, reason), 20*time.Second, func() (bool, string) {
		cur = getElection(t, e)
		c := condition(cur, scrutinv1.ConditionRollValid)
		return c.Status == status && c.Reason == reason, fmt.Sprintf("%+v", c)
	})
	return cur
}

// assertRollMounted checks the election's copy holds each part, byte for byte,
// with its SHA-256 annotated, and the runtime's pod mounts them all, in order, in
// one directory given to --roll.
func assertRollMounted(t *testing.T, cur *scrutinv1.Election, parts []string) {
	t.Helper()
	ctx := context.Background()
	for i, p := range parts {
		var s corev1.Secret
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.RollCopyName(i + 1)}, &s); err != nil {
			t.Fatalf("copy of part %d: %v", i+1, err)
		}
		if string(s.Data[specs.RollCopyKey]) != p {
			t.Errorf("copy of part %d differs from the tenant's part", i+1)
		}
		if got := s.Annotations[specs.RollPartSHA256Annotation]; got != sha256Hex([]byte(p)) {
			t.Errorf("copy of part %d annotated sha256 %q, want %q", i+1, got, sha256Hex([]byte(p)))
		}
	}
	var extra corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.RollCopyName(len(parts) + 1)}, &extra); !isNotFound(err) {
		t.Errorf("a copy beyond the last part exists (err=%v)", err)
	}
	var d appsv1.Deployment
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.RuntimeName}, &d); err != nil {
		t.Fatal(err)
	}
	pod := d.Spec.Template.Spec
	var vol *corev1.Volume
	for i := range pod.Volumes {
		if pod.Volumes[i].Name == "roll" {
			vol = &pod.Volumes[i]
		}
	}
	if vol == nil || vol.Projected == nil {
		t.Fatalf("the runtime's roll volume is not one projected volume: %+v", vol)
	}
	if len(vol.Projected.Sources) != len(parts) {
		t.Fatalf("the roll volume projects %d Secrets, want %d", len(vol.Projected.Sources), len(parts))
	}
	for i, src := range vol.Projected.Sources {
		want := fmt.Sprintf("part-%04d.csv", i+1)
		if src.Secret == nil || src.Secret.Name != specs.RollCopyName(i+1) || len(src.Secret.Items) != 1 ||
			src.Secret.Items[0].Key != specs.RollCopyKey || src.Secret.Items[0].Path != want {
			t.Errorf("roll source %d is %+v, want Secret %s key %s as %s", i, src.Secret, specs.RollCopyName(i+1), specs.RollCopyKey, want)
		}
	}
	c := pod.Containers[0]
	if !slices.Contains(c.Args, "--roll="+specs.RollDir) {
		t.Errorf("the runtime is not given the roll directory: %v", c.Args)
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		mounted = mounted || (m.Name == "roll" && m.MountPath == specs.RollDir)
	}
	if !mounted {
		t.Errorf("the roll volume is not mounted at %s: %+v", specs.RollDir, c.VolumeMounts)
	}
}

// TestRollInPartsAccepted: a roll named as a list of parts is read, counted,
// copied part by part into the election's namespace and mounted in the runtime's
// pod; the election reaches Scheduled.
func TestRollInPartsAccepted(t *testing.T) {
	ns := newTenant(t)
	parts := []string{rollPartCSV(1, 5), rollPartCSV(2, 4), rollPartCSV(3, 3)}
	e := create(t, electionWithParts(t, ns, "parts", time.Hour, parts))
	cur := waitPhase(t, e, scrutinv1.PhaseScheduled, 20*time.Second)
	if cur.Status.Voters != 12 {
		t.Errorf("status.voters %d, want 12", cur.Status.Voters)
	}
	if r := cur.Status.Roll; r == nil || r.Parts != 3 || !strings.HasPrefix(r.Digest, "sha256:") || r.Unreachable != 0 {
		t.Errorf("status.roll %+v, want 3 parts, a digest, 0 unreachable", r)
	}
	if c := condition(cur, scrutinv1.ConditionRollValid); !strings.Contains(c.Message, "12 voters") || !strings.Contains(c.Message, "3 parts") {
		t.Errorf("RollValid message %q", c.Message)
	}
	assertRollMounted(t, cur, parts)
	assertNamespaceIsBuilt(t, cur)

	// a copy edited in the election's namespace (its annotation kept) is put back
	ctx := context.Background()
	var cp corev1.Secret
	key := client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.RollCopyName(2)}
	if err := k8s.Get(ctx, key, &cp); err != nil {
		t.Fatal(err)
	}
	cp.Data[specs.RollCopyKey] = []byte(rollPartCSV(2, 1))
	if err := k8s.Update(ctx, &cp); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the edited copy put back", 20*time.Second, func() (bool, string) {
		if err := k8s.Get(ctx, key, &cp); err != nil {
			return false, err.Error()
		}
		return string(cp.Data[specs.RollCopyKey]) == parts[1], "still edited"
	})
}

// TestRollSelectorAccepted: a roll selected by label, with partCount and digest, is
// read in the order of its parts' annotations (not their names), and a fourth part
// added with partCount and digest following it is copied and mounted too.
func TestRollSelectorAccepted(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	parts := []string{rollPartCSV(1, 3), rollPartCSV(2, 3), rollPartCSV(3, 2)}
	labels := map[string]string{scrutinv1.RollLabel: "sel"}
	// names in the reverse order of the parts: the annotation decides
	createPart(t, ns, "sel-c", parts[0], labels, "1")
	createPart(t, ns, "sel-b", parts[1], labels, "2")
	createPart(t, ns, "sel-a", parts[2], labels, "3")
	e := create(t, electionWithSelector(t, ns, "sel", 3, partsDigest(parts...)))
	cur := waitPhase(t, e, scrutinv1.PhaseScheduled, 20*time.Second)
	if cur.Status.Voters != 8 || cur.Status.Roll == nil || cur.Status.Roll.Parts != 3 {
		t.Errorf("status.voters %d, status.roll %+v; want 8 voters in 3 parts", cur.Status.Voters, cur.Status.Roll)
	}
	assertRollMounted(t, cur, parts)

	parts = append(parts, rollPartCSV(4, 2))
	createPart(t, ns, "sel-d", parts[3], labels, "4")
	cur.Spec.VoterRoll.PartCount = 4
	cur.Spec.VoterRoll.Digest = partsDigest(parts...)
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the fourth part counted", 20*time.Second, func() (bool, string) {
		cur = getElection(t, e)
		return cur.Status.Voters == 10 && cur.Status.Roll != nil && cur.Status.Roll.Parts == 4,
			fmt.Sprintf("voters %d roll %+v", cur.Status.Voters, cur.Status.Roll)
	})
	assertRollMounted(t, cur, parts)
}

// TestRollPartMissing: a selector that finds part 1 and 3 of 3 refuses the roll,
// naming the missing part; creating it makes the roll valid (its creation is
// watched through the selector).
func TestRollPartMissing(t *testing.T) {
	ns := newTenant(t)
	parts := []string{rollPartCSV(1, 2), rollPartCSV(2, 2), rollPartCSV(3, 2)}
	labels := map[string]string{scrutinv1.RollLabel: "missing"}
	createPart(t, ns, "missing-1", parts[0], labels, "1")
	createPart(t, ns, "missing-3", parts[2], labels, "3")
	e := create(t, electionWithSelector(t, ns, "missing", 3, partsDigest(parts...)))
	cur := waitRollValid(t, e, metav1.ConditionFalse, "RollPartMissing")
	want := `part 2 of 3 is missing: no Secret matching the selector has annotation scrutin.dev/roll-part: "2"`
	if c := condition(cur, scrutinv1.ConditionRollValid); !strings.Contains(c.Message, want) {
		t.Errorf("RollValid message %q does not say %q", c.Message, want)
	}
	if cur.Status.Phase == scrutinv1.PhaseScheduled {
		t.Error("an election with a part missing is Scheduled")
	}
	createPart(t, ns, "missing-2", parts[1], labels, "2")
	cur = waitPhase(t, e, scrutinv1.PhaseScheduled, 20*time.Second)
	if cur.Status.Voters != 6 {
		t.Errorf("status.voters %d, want 6", cur.Status.Voters)
	}
}

// TestRollPartMissingFromList: a list of parts naming a Secret that does not
// exist says which part and which Secret.
func TestRollPartMissingFromList(t *testing.T) {
	ns := newTenant(t)
	e := electionWithParts(t, ns, "listmissing", time.Hour, []string{rollPartCSV(1, 2), rollPartCSV(2, 2)})
	e.Spec.VoterRoll.Parts = append(e.Spec.VoterRoll.Parts, scrutinv1.SecretReference{Name: "listmissing-part-3"})
	create(t, e)
	cur := waitRollValid(t, e, metav1.ConditionFalse, "RollPartMissing")
	want := "part 3 of 3 is missing: Secret listmissing-part-3 not found in namespace " + ns
	if c := condition(cur, scrutinv1.ConditionRollValid); !strings.Contains(c.Message, want) {
		t.Errorf("RollValid message %q does not say %q", c.Message, want)
	}
}

// TestRollPartExtra: a Secret the selector matches beyond partCount, or without
// a part annotation, refuses the roll, naming it.
func TestRollPartExtra(t *testing.T) {
	ns := newTenant(t)
	parts := []string{rollPartCSV(1, 2), rollPartCSV(2, 2)}
	labels := map[string]string{scrutinv1.RollLabel: "extra"}
	createPart(t, ns, "extra-1", parts[0], labels, "1")
	createPart(t, ns, "extra-2", parts[1], labels, "2")
	createPart(t, ns, "extra-3", rollPartCSV(3, 2), labels, "3")
	createPart(t, ns, "extra-unnumbered", rollPartCSV(4, 2), labels, "")
	e := create(t, electionWithSelector(t, ns, "extra", 2, partsDigest(parts...)))
	cur := waitRollValid(t, e, metav1.ConditionFalse, "RollPartExtra")
	msg := condition(cur, scrutinv1.ConditionRollValid).Message
	for _, want := range []string{
		"Secret extra-3 claims part 3, beyond partCount 2",
		"Secret extra-unnumbered matches the selector but has no annotation scrutin.dev/roll-part",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("RollValid message %q does not say %q", msg, want)
		}
	}
	// the extra Secrets relabelled out of the roll: valid
	for _, name := range []string{"extra-3", "extra-unnumbered"} {
		var s corev1.Secret
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
			t.Fatal(err)
		}
		s.Labels = nil
		if err := k8s.Update(context.Background(), &s); err != nil {
			t.Fatal(err)
		}
	}
	waitPhase(t, e, scrutinv1.PhaseScheduled, 20*time.Second)
}

// TestRollPartsClaimingOneIndex: two Secrets annotated as the same part refuse
// the roll, naming both.
func TestRollPartsClaimingOneIndex(t *testing.T) {
	ns := newTenant(t)
	labels := map[string]string{scrutinv1.RollLabel: "dup"}
	createPart(t, ns, "dup-1", rollPartCSV(1, 2), labels, "1")
	createPart(t, ns, "dup-2a", rollPartCSV(2, 2), labels, "2")
	createPart(t, ns, "dup-2b", rollPartCSV(3, 2), labels, "2")
	e := create(t, electionWithSelector(t, ns, "dup", 2, partsDigest(rollPartCSV(1, 2), rollPartCSV(2, 2))))
	cur := waitRollValid(t, e, metav1.ConditionFalse, "RollPartDuplicate")
	want := `Secrets dup-2a and dup-2b both claim part 2`
	if c := condition(cur, scrutinv1.ConditionRollValid); !strings.Contains(c.Message, want) {
		t.Errorf("RollValid message %q does not say %q", c.Message, want)
	}
}

// TestRollDigestMismatch: parts whose bytes do not give spec.voterRoll.digest are
// refused, the message giving both digests.
func TestRollDigestMismatch(t *testing.T) {
	ns := newTenant(t)
	parts := []string{rollPartCSV(1, 2), rollPartCSV(2, 2)}
	labels := map[string]string{scrutinv1.RollLabel: "digest"}
	createPart(t, ns, "digest-1", parts[0], labels, "1")
	createPart(t, ns, "digest-2", parts[1], labels, "2")
	// the digest of the parts in the other order
	wrong := partsDigest(parts[1], parts[0])
	e := create(t, electionWithSelector(t, ns, "digest", 2, wrong))
	cur := waitRollValid(t, e, metav1.ConditionFalse, "RollDigestMismatch")
	msg := condition(cur, scrutinv1.ConditionRollValid).Message
	if !strings.Contains(msg, partsDigest(parts...)) || !strings.Contains(msg, "spec.voterRoll.digest says "+wrong) {
		t.Errorf("RollValid message %q does not give both digests", msg)
	}
	var s corev1.Secret
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.RollCopyName(1)}, &s); !isNotFound(err) {
		t.Errorf("a roll refused for its digest was copied (err=%v)", err)
	}
}

// TestRollBadLineInPart7: a bad email on line 3 of part 7 of 8 refuses the roll
// with a message naming the part, the line and the column, never the value.
func TestRollBadLineInPart7(t *testing.T) {
	ns := newTenant(t)
	var parts []string
	for i := 1; i <= 8; i++ {
		parts = append(parts, rollPartCSV(i, 3))
	}
	parts[6] = rollHeader + "P7-1,Voter,v71@example.org,+33600007001\n" + "P7-2,Voter,not-an-address,+33600007002\n"
	e := create(t, electionWithParts(t, ns, "badline", time.Hour, parts))
	cur := waitRollValid(t, e, metav1.ConditionFalse, "RollInvalid")
	msg := condition(cur, scrutinv1.ConditionRollValid).Message
	for _, want := range []string{"part 7", "badline-part-7", "line 3", "email"} {
		if !strings.Contains(msg, want) {
			t.Errorf("RollValid message %q does not name %q", msg, want)
		}
	}
	if strings.Contains(msg, "not-an-address") {
		t.Errorf("RollValid message shows the bad value: %q", msg)
	}
}

// TestRollPartEditedAfterOpening: once the election is open, an edit of a part is
// a Warning event and a RollValid message naming the part, never applied to the
// copy.
func TestRollPartEditedAfterOpening(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	parts := []string{rollPartCSV(1, 2), rollPartCSV(2, 2), rollPartCSV(3, 2)}
	e := create(t, electionWithParts(t, ns, "frozen", time.Second, parts))
	cur := waitPhase(t, e, scrutinv1.PhaseOpen, 20*time.Second)
	var s corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "frozen-part-2"}, &s); err != nil {
		t.Fatal(err)
	}
	s.Data["roll.csv"] = []byte(rollPartCSV(2, 3))
	if err := k8s.Update(ctx, &s); err != nil {
		t.Fatal(err)
	}
	want := "part 2 of 3 (Secret frozen-part-2)"
	waitFor(t, "the edit reported", 20*time.Second, func() (bool, string) {
		cur = getElection(t, e)
		c := condition(cur, scrutinv1.ConditionRollValid)
		return strings.Contains(c.Message, want) && slices.Contains(eventReasons(t, e), scrutinv1.EventRollChangedAfterOpening),
			fmt.Sprintf("RollValid %+v, events %v", c, eventReasons(t, e))
	})
	if c := condition(cur, scrutinv1.ConditionRollValid); c.Status != metav1.ConditionTrue {
		t.Errorf("RollValid turned %s after an edit of an open election's roll", c.Status)
	}
	if strings.Contains(condition(cur, scrutinv1.ConditionRollValid).Message, "part 1 of 3") {
		t.Error("an unchanged part is reported changed")
	}
	assertRollMounted(t, cur, parts)
}

// TestRollUnreachableCounted: voters without an email for an EmailCode election
// are counted in status.roll.unreachable with a warning; the roll stays valid
// and the election is Scheduled.
func TestRollUnreachableCounted(t *testing.T) {
	ns := newTenant(t)
	part := rollHeader + "U-1,With Mail,u1@example.org,+33600000001\n" +
		"U-2,Phone Only,,+33600000002\n" + "U-3,Nothing,,\n"
	e := create(t, electionWithParts(t, ns, "unreach", time.Hour, []string{rollPartCSV(1, 2), part}))
	cur := waitPhase(t, e, scrutinv1.PhaseScheduled, 20*time.Second)
	if r := cur.Status.Roll; r == nil || r.Unreachable != 2 || len(r.UnreachableLines) != 2 ||
		r.UnreachableLines[0].Line != 3 || r.UnreachableLines[1].Line != 4 ||
		r.UnreachableLines[0].Part != "unreach-part-2" || r.UnreachableLines[1].Part != "unreach-part-2" {
		t.Errorf("status.roll %+v, want 2 unreachable, lines 3 and 4 of the second part", r)
	}
	c := condition(cur, scrutinv1.ConditionRollValid)
	if c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "2 voter(s) cannot be reached") {
		t.Errorf("RollValid %+v does not warn of 2 unreachable voters", c)
	}
}

// TestVoterRollFormsRefused: the API server refuses a roll given in two forms, a
// selector without partCount or digest, and a fallback without both channels,
// each naming the field.
func TestVoterRollFormsRefused(t *testing.T) {
	ns := newTenant(t)
	base := newElection(t, ns, "forms", time.Hour, 2*time.Hour)
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{scrutinv1.RollLabel: "forms"}}
	digest := partsDigest("x")
	cases := map[string]struct {
		edit func(e *scrutinv1.Election)
		want string
	}{
		"secretRef and parts": {func(e *scrutinv1.Election) {
			e.Spec.VoterRoll.Parts = []scrutinv1.SecretReference{{Name: "p1"}}
		}, "give exactly one of secretRef"},
		"selector without partCount": {func(e *scrutinv1.Election) {
			e.Spec.VoterRoll = scrutinv1.VoterRoll{Selector: sel, Digest: digest}
		}, "spec.voterRoll.partCount"},
		"selector without digest": {func(e *scrutinv1.Election) {
			e.Spec.VoterRoll = scrutinv1.VoterRoll{Selector: sel, PartCount: 2}
		}, "spec.voterRoll.digest"},
		"fallback without sms": {func(e *scrutinv1.Election) {
			e.Spec.Delivery.Fallback = true
		}, "spec.delivery.fallback"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := base.DeepCopy()
			e.Name = "forms-" + strings.ReplaceAll(name, " ", "-")
			tc.edit(e)
			err := k8s.Create(context.Background(), e)
			if err == nil {
				t.Fatal("the API server accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("refused with %q, which does not name %q", err, tc.want)
			}
		})
	}
}

// TestDeliveredCondition: the runtime's delivery counts reach status.delivery, and
// Delivered follows them: Sending while messages wait, SomeFailed with the counts,
// AllSent once everything left.
func TestDeliveredCondition(t *testing.T) {
	ns := newTenant(t)
	e := create(t, newElection(t, ns, "delivery", time.Second, time.Hour))
	cur := waitPhase(t, e, scrutinv1.PhaseOpen, 20*time.Second)
	queuedAt := metav1.NewTime(time.Now().Add(-time.Minute).Truncate(time.Second))
	steps := []struct {
		d      scrutinv1.DeliveryStatus
		status metav1.ConditionStatus
		reason string
		says   string
	}{
		{scrutinv1.DeliveryStatus{Channels: []scrutinv1.ChannelDelivery{{Channel: "mail", Queued: 5, Sent: 3}}, OldestQueuedAt: &queuedAt},
			metav1.ConditionFalse, "Sending", "5 message(s) waiting"},
		{scrutinv1.DeliveryStatus{Channels: []scrutinv1.ChannelDelivery{{Channel: "mail", Sent: 6, Failed: 2}}},
			metav1.ConditionFalse, "SomeFailed", "2 message(s) failed"},
		{scrutinv1.DeliveryStatus{Channels: []scrutinv1.ChannelDelivery{{Channel: "mail", Sent: 8, Delivered: 7}}},
			metav1.ConditionTrue, "AllSent", "mail: 0 queued, 8 sent, 0 failed, 7 delivered"},
	}
	for _, s := range steps {
		double.setDelivery(cur.Status.Namespace, &s.d)
		// a change of the spec brings a reconcile at once
		touch(t, e)
		waitFor(t, "Delivered "+s.reason, 20*time.Second, func() (bool, string) {
			cur = getElection(t, e)
			c := condition(cur, scrutinv1.ConditionDelivered)
			return c.Status == s.status && c.Reason == s.reason && strings.Contains(c.Message, s.says) &&
					cur.Status.Delivery != nil && cur.Status.Delivery.Channels[0] == s.d.Channels[0],
				fmt.Sprintf("Delivered %+v, status.delivery %+v", c, cur.Status.Delivery)
		})
		// the manager's gauges follow status.delivery
		waitFor(t, "the delivery gauges", 10*time.Second, func() (bool, string) {
			queued := gauge(t, "scrutin_election_delivery_messages", map[string]string{
				"election_namespace": ns, "election_name": e.Name, "channel": "mail", "state": "queued"})
			sent := gauge(t, "scrutin_election_delivery_messages", map[string]string{
				"election_namespace": ns, "election_name": e.Name, "channel": "mail", "state": "sent"})
			oldest := gauge(t, "scrutin_election_delivery_oldest_queued_seconds", map[string]string{
				"election_namespace": ns, "election_name": e.Name})
			okOldest := (s.d.Channels[0].Queued > 0) == (oldest >= 60)
			return queued == float64(s.d.Channels[0].Queued) && sent == float64(s.d.Channels[0].Sent) && okOldest,
				fmt.Sprintf("queued %v sent %v oldest %v", queued, sent, oldest)
		})
	}
}

// gauge sums the manager's gauges of that name whose labels include these.
func gauge(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			match := true
			for k, v := range labels {
				match = match && got[k] == v
			}
			if match {
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// touch changes the Election's title, for a reconcile now.
func touch(t *testing.T, e *scrutinv1.Election) {
	t.Helper()
	updateElection(t, e, func(cur *scrutinv1.Election) { cur.Spec.Title = fmt.Sprintf("Vote %d", time.Now().UnixNano()) })
}

// countingReader counts the whole Secrets read through it; with fail, every Get
// fails as an unreachable API server would.
type countingReader struct {
	client.Reader
	secrets int
	fail    bool
	// failFrom, when above 0, fails the whole-Secret reads from that count on
	failFrom int
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, o client.Object, opts ...client.GetOption) error {
	if c.fail {
		return fmt.Errorf("the API server is unreachable")
	}
	if _, ok := o.(*corev1.Secret); ok {
		if c.failFrom > 0 && c.secrets+1 >= c.failFrom {
			return fmt.Errorf("the API server is unreachable")
		}
		c.secrets++
	}
	return c.Reader.Get(ctx, key, o, opts...)
}

// TestUnchangedRollIsNotReadAgain: a roll whose parts did not change is not read
// again at the next reconcile; an edited part is; the memory of an Election goes
// with it.
func TestUnchangedRollIsNotReadAgain(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	parts := []string{rollPartCSV(1, 2), rollPartCSV(2, 2)}
	e := electionWithParts(t, ns, "memo", time.Hour, parts)
	e.UID = types.UID("memo-" + ns)
	reader := &countingReader{Reader: k8s}
	r := &ElectionReconciler{Client: k8s, APIReader: reader, Options: testOpt}
	in := &Inputs{Inputs: specs.Inputs{Election: e, Namespace: specs.NamespaceName(e), Options: testOpt, Now: time.Now()}}
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: in.Namespace}}); err != nil {
		t.Fatal(err)
	}
	load := func() {
		t.Helper()
		in.Roll = nil
		if err := r.loadRoll(ctx, in); err != nil {
			t.Fatal(err)
		}
		if in.Roll == nil || len(in.Roll.Parts) != 2 {
			t.Fatalf("roll %+v, conditions %+v", in.Roll, e.Status.Conditions)
		}
	}
	load()
	first := reader.secrets
	if first < 2 {
		t.Fatalf("the first validation read %d Secrets, want at least the 2 parts", first)
	}
	load()
	if reader.secrets != first {
		t.Errorf("an unchanged roll was read again: %d whole Secrets read, %d before", reader.secrets, first)
	}
	var s corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "memo-part-2"}, &s); err != nil {
		t.Fatal(err)
	}
	s.Data["roll.csv"] = []byte(rollPartCSV(2, 5))
	if err := k8s.Update(ctx, &s); err != nil {
		t.Fatal(err)
	}
	load()
	if reader.secrets == first {
		t.Error("an edited part was not read again")
	}
	if e.Status.Voters != 7 {
		t.Errorf("status.voters %d after the edit, want 7", e.Status.Voters)
	}
	var copy2 corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: specs.RollCopyName(2)}, &copy2); err != nil {
		t.Fatal(err)
	}
	if string(copy2.Data[specs.RollCopyKey]) != rollPartCSV(2, 5) {
		t.Error("the edited part's copy was not rewritten")
	}
	if r.rollMemos.len() != 1 {
		t.Errorf("%d roll memories for one Election", r.rollMemos.len())
	}
	// the roll cannot be read for a moment: the pods keep the copy last validated
	reader.fail = true
	in.Roll = nil
	if err := r.loadRoll(ctx, in); err == nil {
		t.Error("loadRoll hid an unreachable API server")
	}
	if in.Roll == nil || len(in.Roll.Parts) != 2 || in.Roll.Parts[1].SHA256 != sha256Hex([]byte(rollPartCSV(2, 5))) {
		t.Errorf("after a passing error the pods would mount %+v, not the copy last validated", in.Roll)
	}
	reader.fail = false
	// the Election is gone: its memory too
	if _, err := r.Reconcile(ctx, reconcileRequest(e)); err != nil {
		t.Fatal(err)
	}
	if r.rollMemos.len() != 0 {
		t.Errorf("%d roll memories after the Election went", r.rollMemos.len())
	}
}

func reconcileRequest(e *scrutinv1.Election) ctrl.Request {
	return ctrl.Request{NamespacedName: types.NamespacedName{Namespace: e.Namespace, Name: e.Name}}
}

// TestHalfCopiedRollIsNotMounted: a new roll whose copy fails half-way (part 1
// copied, part 2 not) is not mounted: neither the half-new copy nor the old one.
func TestHalfCopiedRollIsNotMounted(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	e := electionWithParts(t, ns, "half", time.Hour, []string{rollPartCSV(1, 2), rollPartCSV(2, 2)})
	e.UID = types.UID("half-" + ns)
	reader := &countingReader{Reader: k8s}
	r := &ElectionReconciler{Client: k8s, APIReader: reader, Options: testOpt}
	in := &Inputs{Inputs: specs.Inputs{Election: e, Namespace: specs.NamespaceName(e), Options: testOpt, Now: time.Now()}}
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: in.Namespace}}); err != nil {
		t.Fatal(err)
	}
	if err := r.loadRoll(ctx, in); err != nil || in.Roll == nil {
		t.Fatalf("the first roll: %v, %+v", err, in.Roll)
	}
	for i := 1; i <= 2; i++ {
		var s corev1.Secret
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("half-part-%d", i)}, &s); err != nil {
			t.Fatal(err)
		}
		s.Data["roll.csv"] = []byte(rollPartCSV(i, 3))
		if err := k8s.Update(ctx, &s); err != nil {
			t.Fatal(err)
		}
	}
	// validation reads the 2 parts, the copy reads part 1, then part 2 fails
	reader.failFrom = reader.secrets + 4
	in.Roll = nil
	if err := r.loadRoll(ctx, in); err == nil {
		t.Fatal("loadRoll hid the failed copy")
	}
	var first corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: specs.RollCopyName(1)}, &first); err != nil {
		t.Fatal(err)
	}
	if string(first.Data[specs.RollCopyKey]) != rollPartCSV(1, 3) {
		t.Fatal("the test did not fail the copy half-way: part 1 was not rewritten")
	}
	if in.Roll != nil {
		t.Errorf("a half-copied roll would be mounted: %+v", in.Roll)
	}
	reader.failFrom = 0
	in.Roll = nil
	if err := r.loadRoll(ctx, in); err != nil || in.Roll == nil || e.Status.Voters != 6 {
		t.Errorf("after the error, the roll: %v, %+v, %d voters", err, in.Roll, e.Status.Voters)
	}
}
