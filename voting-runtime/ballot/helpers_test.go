package ballot

import (
	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

func ptr[T any](v T) *T { return &v }

func opts(ids ...string) []scrutinv1.Option {
	o := make([]scrutinv1.Option, len(ids))
	for i, id := range ids {
		o[i] = scrutinv1.Option{ID: id, Label: "Label of " + id}
	}
	return o
}

// testQuestions has one question of every kind:
//   - mayor: SingleChoice, blank allowed;
//   - motion: kind left empty (SingleChoice), MinChoices left 0 (1), no blank;
//   - council: MultipleChoice, 2 to 3 of 4, no blank;
//   - budget: Ranked, at least 2 of 4 (MaxChoices unset: all 4), blank allowed.
func testQuestions() []scrutinv1.Question {
	return []scrutinv1.Question{
		{ID: "mayor", Prompt: "Mayor?", Kind: scrutinv1.SingleChoice, Options: opts("alice", "bob", "carol"), MinChoices: 1, AllowBlank: true},
		{ID: "motion", Prompt: "Adopt the motion?", Options: opts("yes", "no")},
		{ID: "council", Prompt: "Council?", Kind: scrutinv1.MultipleChoice, Options: opts("ana", "ben", "cleo", "dan"), MinChoices: 2, MaxChoices: ptr(int32(3))},
		{ID: "budget", Prompt: "Budget priorities?", Kind: scrutinv1.Ranked, Options: opts("schools", "roads", "parks", "water"), MinChoices: 2, AllowBlank: true},
	}
}

// validAnswers answers every testQuestions question; each call returns a new map.
func validAnswers() Answers {
	return Answers{
		"mayor":   {"bob"},
		"motion":  {"yes"},
		"council": {"ana", "dan"},
		"budget":  {"water", "schools", "roads"},
	}
}
