package controllers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/roll"
)

// maxRollErrorsInStatus bounds how many bad lines the RollValid condition lists.
const maxRollErrorsInStatus = 50

// loadRoll reads the tenant's roll, checks every line and sets RollValid. Only a
// valid roll is copied into the election's namespace. Once the election is Open the
// copy is frozen: later edits of the tenant's Secret are reported, never applied.
func (r *ElectionReconciler) loadRoll(ctx context.Context, in *Inputs) error {
	e := in.Election
	if phaseAtLeast(e.Status.Phase, scrutinv1.PhaseOpen) {
		return r.keepFrozenRoll(ctx, in)
	}
	ref := e.Spec.VoterRoll
	data, err := r.tenantSecret(ctx, in, ref.SecretRef.Name, "Roll")
	if err != nil {
		return err
	}
	if data == nil {
		r.setRollValid(in, metav1.ConditionFalse, "RollSecretMissing",
			fmt.Sprintf("Secret %s not found in namespace %s", ref.SecretRef.Name, e.Namespace))
		return nil
	}
	raw, ok := data[ref.Key]
	if !ok {
		r.setRollValid(in, metav1.ConditionFalse, "RollKeyMissing",
			fmt.Sprintf("Secret %s has no key %q", ref.SecretRef.Name, ref.Key))
		return nil
	}
	parsed, err := roll.Parse(bytes.NewReader(raw), roll.Options{Require: rollRequirements(e), MaxErrors: maxRollErrorsInStatus})
	var lineErrs *roll.Errors
	switch {
	case errors.As(err, &lineErrs):
		e.Status.Voters = 0
		r.setRollValid(in, metav1.ConditionFalse, "RollInvalid", describeRollErrors(lineErrs))
		return nil
	case err != nil:
		e.Status.Voters = 0
		r.setRollValid(in, metav1.ConditionFalse, "RollInvalid", err.Error())
		return nil
	}
	in.Roll = raw
	e.Status.Voters = int64(len(parsed.Voters))
	r.setRollValid(in, metav1.ConditionTrue, "RollValid",
		fmt.Sprintf("%d voters on the roll (%s)", len(parsed.Voters), parsed.Digest)+describeRollWarnings(parsed))
	return nil
}

// describeRollWarnings lists a valid roll's warnings (lines whose voter_id, name
// or email starts like a spreadsheet formula), each with its line and column,
// never the value; "" when there are none.
func describeRollWarnings(parsed *roll.Roll) string {
	if parsed.WarningCount == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "; warning: %d field(s) start like a spreadsheet formula (=, +, - or @); "+
		"the participation export writes them behind a single quote; check each is what you meant:", parsed.WarningCount)
	for _, w := range parsed.Warnings {
		b.WriteString("\n")
		b.WriteString(w.Error())
	}
	if more := parsed.WarningCount - len(parsed.Warnings); more > 0 {
		fmt.Fprintf(&b, "\nand %d more", more)
	}
	return b.String()
}

// keepFrozenRoll keeps the roll the election opened with.
func (r *ElectionReconciler) keepFrozenRoll(ctx context.Context, in *Inputs) error {
	var s corev1.Secret
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: RollSecretName}, &s)
	if err != nil {
		return fmt.Errorf("while reading the election's roll: %w", err)
	}
	in.Roll = s.Data["roll.csv"]
	if tenant, err := r.tenantSecret(ctx, &Inputs{Election: in.Election}, in.Election.Spec.VoterRoll.SecretRef.Name, "Roll"); err == nil &&
		tenant != nil && !bytes.Equal(tenant[in.Election.Spec.VoterRoll.Key], in.Roll) {
		r.event(in.Election, corev1.EventTypeWarning, "RollChangedAfterOpening", "Provision",
			"The roll Secret changed after the election opened; the roll it opened with is kept")
	}
	return nil
}

// rollRequirements: every voter must be reachable by the election's sign-in method.
func rollRequirements(e *scrutinv1.Election) roll.Requirements {
	if e.Spec.Authentication.Method == scrutinv1.SMSCode {
		return roll.Requirements{Phone: true}
	}
	return roll.Requirements{Email: true}
}

// describeRollErrors lists the bad lines, each with its number and reason.
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

// setRollValid sets RollValid, with an Event when it changes.
func (r *ElectionReconciler) setRollValid(in *Inputs, status metav1.ConditionStatus, reason, message string) {
	r.setConditionWithEvent(in.Election, scrutinv1.ConditionRollValid, status, reason, message)
	if status != metav1.ConditionTrue {
		in.addProblem(reason, message)
	}
}
