package ballot

import (
	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// Validate checks answers against the questions of an Election:
//   - every question is answered, and the ballot answers no other question;
//   - every option id is one of that question's options, and none is given
//     twice in one answer;
//   - a non-blank answer chooses (or, for Ranked, ranks) between MinChoices
//     and EffectiveMaxChoices options (a MinChoices below 1 counts as 1);
//   - a blank answer (an empty list) is given only where AllowBlank.
//
// Questions are checked in order and the first problem is returned, as an
// *Error; an answer to a question the Election does not have comes last,
// reported as an unknown question (without its id). Validate(qs, a) is
// NewValidator(qs).Validate(a).
func Validate(qs []scrutinv1.Question, a Answers) error {
	return NewValidator(qs).Validate(a)
}

// Validator is Validate with the questions indexed once, for checking many
// ballots against the same Election. It is safe for concurrent use.
type Validator struct {
	questions []question
	known     map[string]struct{}
}

type question struct {
	id         string
	kind       scrutinv1.QuestionKind
	options    map[string]int // option id → position
	min, max   int
	allowBlank bool
}

// NewValidator indexes the questions. It keeps nothing of qs: the Election
// may change afterwards without affecting the Validator.
func NewValidator(qs []scrutinv1.Question) *Validator {
	v := &Validator{questions: make([]question, len(qs)), known: make(map[string]struct{}, len(qs))}
	for i := range qs {
		q := &qs[i]
		kind := q.Kind
		if kind == "" {
			kind = scrutinv1.SingleChoice
		}
		vq := question{
			id:         q.ID,
			kind:       kind,
			options:    make(map[string]int, len(q.Options)),
			min:        max(1, int(q.MinChoices)),
			max:        int(q.EffectiveMaxChoices()),
			allowBlank: q.AllowBlank,
		}
		for j, o := range q.Options {
			if _, dup := vq.options[o.ID]; !dup {
				vq.options[o.ID] = j
			}
		}
		v.questions[i] = vq
		v.known[q.ID] = struct{}{}
	}
	return v
}

// Validate checks answers as the package-level Validate does.
func (v *Validator) Validate(a Answers) error {
	for i := range v.questions {
		q := &v.questions[i]
		answer, ok := a[q.id]
		if !ok {
			return &Error{Question: q.id, Reason: reasonNotAnswered}
		}
		if reason := q.check(answer); reason != "" {
			return &Error{Question: q.id, Reason: reason}
		}
	}
	for id := range a {
		if _, ok := v.known[id]; !ok {
			return &Error{Reason: reasonUnknownQuestion}
		}
	}
	return nil
}

// check returns the reason why answer is not acceptable, or "".
func (q *question) check(answer []string) string {
	switch q.kind {
	case scrutinv1.SingleChoice, scrutinv1.MultipleChoice, scrutinv1.Ranked:
	default:
		return reasonUnknownKind
	}
	if len(answer) == 0 {
		if q.allowBlank {
			return ""
		}
		return reasonBlankNotAllowed
	}
	seen := make([]bool, len(q.options))
	for _, id := range answer {
		j, ok := q.options[id]
		if !ok {
			return reasonUnknownOption
		}
		if seen[j] {
			// id is the option's own id: it came out of the Election.
			return reasonDuplicateOption(q.kind, id)
		}
		seen[j] = true
	}
	switch {
	case len(answer) < q.min:
		return reasonTooFew(q.kind, q.min)
	case len(answer) > q.max:
		return reasonTooMany(q.kind, q.max)
	}
	return ""
}
