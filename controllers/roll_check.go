package controllers

import (
	"fmt"
	"io"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/roll"
)

// rollSummary is what the controller keeps of a valid roll.
type rollSummary struct {
	Voters       int64
	Digest       string // of the voters, as the audit log records it
	Warnings     []roll.LineError
	WarningCount int
	// Unreachable: voters the method (with its fallback) cannot reach.
	Unreachable      int64
	UnreachableLines []roll.LineError
}

// rollCheck validates a roll part after part, streaming: it never holds more than
// the part being read.
type rollCheck struct {
	e     *scrutinv1.Election
	count int
	parts []string // Secret names, for the messages
	v     *perPartValidator
}

func newRollCheck(e *scrutinv1.Election, count int) *rollCheck {
	return &rollCheck{e: e, count: count, v: &perPartValidator{e: e}}
}

// part reads part index (from 1) of the roll, held by Secret name.
func (c *rollCheck) part(name string, index int, r io.Reader) error {
	c.parts = append(c.parts, name)
	return c.v.readPart(name, index, c.count, r)
}

// finish is the roll's summary, or a *roll.Errors naming each bad line.
func (c *rollCheck) finish() (*rollSummary, error) {
	return c.v.finish()
}

// perPartValidator checks each part on its own.
type perPartValidator struct {
	e       *scrutinv1.Election
	errs    roll.Errors
	sum     rollSummary
	digests []string
}

func (v *perPartValidator) readPart(name string, index, count int, r io.Reader) error {
	parsed, err := roll.Parse(r, roll.Options{MaxErrors: maxRollErrorsInStatus})
	prefix := fmt.Sprintf("part %d of %d (Secret %s)", index, count, name)
	if count == 1 {
		prefix = ""
	}
	if le, ok := err.(*roll.Errors); ok {
		for _, l := range le.Lines {
			if len(v.errs.Lines) < maxRollErrorsInStatus {
				l.Column = prefixColumn(prefix, l.Column)
				v.errs.Lines = append(v.errs.Lines, l)
			}
		}
		v.errs.Total += le.Total
		return nil
	}
	if err != nil {
		return err
	}
	v.sum.Voters += int64(len(parsed.Voters))
	v.sum.WarningCount += parsed.WarningCount
	v.sum.Warnings = append(v.sum.Warnings, parsed.Warnings...)
	v.digests = append(v.digests, parsed.Digest)
	for _, voter := range parsed.Voters {
		if !reachable(v.e, voter.Email != "", voter.Phone != "") {
			v.sum.Unreachable++
		}
	}
	return nil
}

func prefixColumn(prefix, column string) string {
	if prefix == "" || column == "" {
		return prefix + column
	}
	return prefix + ": " + column
}

func (v *perPartValidator) finish() (*rollSummary, error) {
	if v.errs.Total > 0 {
		return nil, &v.errs
	}
	if len(v.digests) == 1 {
		v.sum.Digest = v.digests[0]
	}
	return &v.sum, nil
}

// reachable: whether a voter with (or without) an email and a phone can get the
// election's codes or letters, by the method's channel or its fallback.
func reachable(e *scrutinv1.Election, email, phone bool) bool {
	own, other := email, phone
	if e.Spec.Authentication.Method == scrutinv1.SMSCode {
		own, other = phone, email
	}
	return own || (e.Spec.Delivery.Fallback && other)
}
