package ballot

import (
	"errors"
	"testing"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

func TestValidate(t *testing.T) {
	// Each case changes validAnswers (one answer to each of testQuestions).
	// An empty reason means the answers are valid.
	tests := map[string]struct {
		change   func(a Answers)
		question string
		reason   string
	}{
		"all kinds valid": {change: func(Answers) {}},

		// SingleChoice (mayor: blank allowed; motion: kind and MinChoices left empty, no blank).
		"single: each option":                {change: func(a Answers) { a["mayor"] = []string{"carol"}; a["motion"] = []string{"no"} }},
		"single: blank where allowed":        {change: func(a Answers) { a["mayor"] = []string{} }},
		"single: nil is blank":               {change: func(a Answers) { a["mayor"] = nil }},
		"single: blank where not allowed":    {change: func(a Answers) { a["motion"] = []string{} }, question: "motion", reason: reasonBlankNotAllowed},
		"single: two options":                {change: func(a Answers) { a["mayor"] = []string{"alice", "bob"} }, question: "mayor", reason: "choose only one option"},
		"single, default kind: two":          {change: func(a Answers) { a["motion"] = []string{"yes", "no"} }, question: "motion", reason: "choose only one option"},
		"single: unknown option":             {change: func(a Answers) { a["mayor"] = []string{"mallory"} }, question: "mayor", reason: reasonUnknownOption},
		"single: option of another question": {change: func(a Answers) { a["mayor"] = []string{"yes"} }, question: "mayor", reason: reasonUnknownOption},
		"single: same option twice":          {change: func(a Answers) { a["mayor"] = []string{"bob", "bob"} }, question: "mayor", reason: "option bob is chosen more than once"},
		"single: option id with other case":  {change: func(a Answers) { a["mayor"] = []string{"Bob"} }, question: "mayor", reason: reasonUnknownOption},
		"single: empty option id":            {change: func(a Answers) { a["mayor"] = []string{""} }, question: "mayor", reason: reasonUnknownOption},
		"single: missing":                    {change: func(a Answers) { delete(a, "motion") }, question: "motion", reason: reasonNotAnswered},

		// MultipleChoice (council: 2 to 3 of ana, ben, cleo, dan; no blank).
		"multiple: minimum":      {change: func(a Answers) { a["council"] = []string{"cleo", "ben"} }},
		"multiple: maximum":      {change: func(a Answers) { a["council"] = []string{"ana", "ben", "cleo"} }},
		"multiple: too few":      {change: func(a Answers) { a["council"] = []string{"ana"} }, question: "council", reason: "choose at least 2 options"},
		"multiple: too many":     {change: func(a Answers) { a["council"] = []string{"ana", "ben", "cleo", "dan"} }, question: "council", reason: "choose at most 3 options"},
		"multiple: blank":        {change: func(a Answers) { a["council"] = []string{} }, question: "council", reason: reasonBlankNotAllowed},
		"multiple: duplicate":    {change: func(a Answers) { a["council"] = []string{"ana", "ben", "ana"} }, question: "council", reason: "option ana is chosen more than once"},
		"multiple: unknown":      {change: func(a Answers) { a["council"] = []string{"ana", "eve"} }, question: "council", reason: reasonUnknownOption},
		"multiple: many repeats": {change: func(a Answers) { a["council"] = []string{"ana", "ana", "ana", "ana", "ana"} }, question: "council", reason: "option ana is chosen more than once"},
		"multiple: missing":      {change: func(a Answers) { delete(a, "council") }, question: "council", reason: reasonNotAnswered},

		// Ranked (budget: at least 2 of schools, roads, parks, water; blank allowed).
		"ranked: minimum":      {change: func(a Answers) { a["budget"] = []string{"parks", "roads"} }},
		"ranked: every option": {change: func(a Answers) { a["budget"] = []string{"parks", "roads", "water", "schools"} }},
		"ranked: blank":        {change: func(a Answers) { a["budget"] = []string{} }},
		"ranked: too few":      {change: func(a Answers) { a["budget"] = []string{"parks"} }, question: "budget", reason: "rank at least 2 options"},
		"ranked: duplicate":    {change: func(a Answers) { a["budget"] = []string{"parks", "roads", "parks"} }, question: "budget", reason: "option parks is ranked more than once"},
		"ranked: unknown":      {change: func(a Answers) { a["budget"] = []string{"parks", "<script>"} }, question: "budget", reason: reasonUnknownOption},
		"ranked: five of four": {change: func(a Answers) { a["budget"] = []string{"parks", "roads", "water", "schools", "other"} }, question: "budget", reason: reasonUnknownOption},
		"ranked: missing":      {change: func(a Answers) { delete(a, "budget") }, question: "budget", reason: reasonNotAnswered},

		// The ballot as a whole.
		"unknown question":            {change: func(a Answers) { a["secret-question"] = []string{"bob"} }, reason: reasonUnknownQuestion},
		"unknown blank question":      {change: func(a Answers) { a["x"] = nil }, reason: reasonUnknownQuestion},
		"question id with other case": {change: func(a Answers) { a["Mayor"] = a["mayor"]; delete(a, "mayor") }, question: "mayor", reason: reasonNotAnswered},
		"empty ballot":                {change: func(a Answers) { clear(a) }, question: "mayor", reason: reasonNotAnswered},
		"first problem in question order": {
			change:   func(a Answers) { delete(a, "budget"); a["council"] = nil; a["zzz"] = nil },
			question: "council", reason: reasonBlankNotAllowed,
		},
	}
	qs := testQuestions()
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			a := validAnswers()
			tt.change(a)
			err := Validate(qs, a)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Validate = %v (%T), want an *Error", err, err)
			}
			want := Error{Question: tt.question, Reason: tt.reason}
			if *e != want {
				t.Errorf("Validate = %+v, want %+v", *e, want)
			}
		})
	}
}

func TestValidateNilAnswers(t *testing.T) {
	err := Validate(testQuestions(), nil)
	if e, ok := err.(*Error); !ok || *e != (Error{Question: "mayor", Reason: reasonNotAnswered}) {
		t.Errorf("Validate(nil) = %v, want mayor not answered", err)
	}
	if err := Validate(nil, Answers{}); err != nil {
		t.Errorf("no questions, no answers: %v", err)
	}
	if err := Validate(nil, Answers{"mayor": {"bob"}}); err == nil || err.Error() != reasonUnknownQuestion {
		t.Errorf("no questions, one answer: %v", err)
	}
}

func TestValidateQuestionSettings(t *testing.T) {
	q := func(kind scrutinv1.QuestionKind, min int32, max *int32, blank bool) []scrutinv1.Question {
		return []scrutinv1.Question{{ID: "q", Kind: kind, Options: opts("a", "b", "c"), MinChoices: min, MaxChoices: max, AllowBlank: blank}}
	}
	tests := map[string]struct {
		qs     []scrutinv1.Question
		answer []string
		reason string
	}{
		"multiple, max unset: every option":   {qs: q(scrutinv1.MultipleChoice, 1, nil, false), answer: []string{"a", "b", "c"}},
		"multiple, min 0 counts as 1":         {qs: q(scrutinv1.MultipleChoice, 0, nil, false), answer: []string{}, reason: reasonBlankNotAllowed},
		"multiple, exactly 2: one":            {qs: q(scrutinv1.MultipleChoice, 2, ptr(int32(2)), true), answer: []string{"a"}, reason: "choose at least 2 options"},
		"multiple, exactly 2: three":          {qs: q(scrutinv1.MultipleChoice, 2, ptr(int32(2)), true), answer: []string{"a", "b", "c"}, reason: "choose at most 2 options"},
		"multiple, max 1":                     {qs: q(scrutinv1.MultipleChoice, 1, ptr(int32(1)), true), answer: []string{"a", "b"}, reason: "choose only one option"},
		"ranked, max unset: every option":     {qs: q(scrutinv1.Ranked, 1, nil, false), answer: []string{"c", "a", "b"}},
		"ranked, one option":                  {qs: q(scrutinv1.Ranked, 1, nil, false), answer: []string{"b"}},
		"ranked, max 2":                       {qs: q(scrutinv1.Ranked, 1, ptr(int32(2)), false), answer: []string{"c", "a", "b"}, reason: "rank at most 2 options"},
		"ranked, max 1":                       {qs: q(scrutinv1.Ranked, 1, ptr(int32(1)), false), answer: []string{"c", "a"}, reason: "rank only one option"},
		"ranked, min 3":                       {qs: q(scrutinv1.Ranked, 3, nil, false), answer: []string{"c", "a"}, reason: "rank at least 3 options"},
		"ranked, min 1 and blank not allowed": {qs: q(scrutinv1.Ranked, 1, nil, false), answer: nil, reason: reasonBlankNotAllowed},
		"unknown kind":                        {qs: q("Approval", 1, nil, true), answer: []string{"a"}, reason: reasonUnknownKind},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := Validate(tt.qs, Answers{"q": tt.answer})
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if e, ok := err.(*Error); !ok || *e != (Error{Question: "q", Reason: tt.reason}) {
				t.Errorf("Validate = %#v, want reason %q", err, tt.reason)
			}
		})
	}
}

func TestValidatorKeepsNothingOfQuestions(t *testing.T) {
	qs := testQuestions()
	v := NewValidator(qs)
	qs[0].ID = "changed"
	qs[0].Options[1].ID = "changed"
	qs[0].AllowBlank = false
	if err := v.Validate(validAnswers()); err != nil {
		t.Fatalf("Validate after the questions changed: %v", err)
	}
	a := validAnswers()
	a["mayor"] = nil
	if err := v.Validate(a); err != nil {
		t.Fatalf("Validate after the questions changed: %v", err)
	}
}

func TestErrorString(t *testing.T) {
	tests := map[string]struct {
		err  Error
		want string
	}{
		"question": {err: Error{Question: "council", Reason: "choose at most 3 options"}, want: "question council: choose at most 3 options"},
		"ballot":   {err: Error{Reason: reasonUnknownQuestion}, want: reasonUnknownQuestion},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}
