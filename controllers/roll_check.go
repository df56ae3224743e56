package controllers

import (
	"fmt"
	"io"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/roll"
)

// rollSummary is what the controller keeps of a valid roll.
type rollSummary = roll.Summary

// rollCheck validates a roll part after part, streaming: it never holds more than
// the part being read.
type rollCheck struct {
	count int
	v     *roll.Validator
}

func newRollCheck(e *scrutinv1.Election, count int) *rollCheck {
	return &rollCheck{count: count, v: roll.NewValidator(roll.Options{
		Require: rollReach(e), MaxErrors: maxRollErrorsInStatus,
	})}
}

// part reads part index (from 1) of the roll, held by Secret name. Errors name
// the part by its place and Secret; a roll in one Secret has no part name.
func (c *rollCheck) part(secret string, index int, r io.Reader) error {
	return c.v.ReadPart(roll.Part{Name: partLabel(secret, index, c.count), Index: index - 1, Count: c.count}, r, nil)
}

// partLabel is how roll errors name part index (from 1) of count, held by Secret
// secret: "" for a roll in one Secret.
func partLabel(secret string, index, count int) string {
	if count <= 1 {
		return ""
	}
	return fmt.Sprintf("%d of %d (Secret %s)", index, count, secret)
}

// finish is the roll's summary, or a *roll.Errors naming each bad line.
func (c *rollCheck) finish() (*rollSummary, error) {
	s, err := c.v.Finish()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// rollReach says which channels reach the election's voters: the method's own,
// and with the fallback the other one.
func rollReach(e *scrutinv1.Election) roll.Requirements {
	sms := e.Spec.Authentication.Method == scrutinv1.SMSCode
	fallback := e.Spec.Delivery.Fallback && e.Spec.Authentication.Method != scrutinv1.Credential
	return roll.Requirements{Email: !sms || fallback, Phone: sms || fallback}
}
