package tally

import (
	"math/rand/v2"
	"strings"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/ballot"
)

func opts(ids ...string) []scrutinv1.Option {
	o := make([]scrutinv1.Option, len(ids))
	for i, id := range ids {
		o[i] = scrutinv1.Option{ID: id, Label: "Label of " + id}
	}
	return o
}

func ranked(id string, options ...string) scrutinv1.Question {
	return scrutinv1.Question{ID: id, Prompt: id + "?", Kind: scrutinv1.Ranked, Options: opts(options...), MinChoices: 1, AllowBlank: true}
}

// vote is one ballot answering question q with options (none: blank).
func vote(w int64, q string, options ...string) WeightedBallot {
	if options == nil {
		options = []string{}
	}
	return WeightedBallot{Answers: ballot.Answers{q: options}, Weight: w}
}

// times repeats a ballot n times, each with weight 1.
func times(n int, q string, options ...string) []WeightedBallot {
	out := make([]WeightedBallot, n)
	for i := range out {
		out[i] = vote(1, q, options...)
	}
	return out
}

func concat(groups ...[]WeightedBallot) []WeightedBallot {
	var out []WeightedBallot
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// letters splits "ACBED" into []string{"a","c","b","e","d"}.
func letters(s string) []string {
	out := make([]string, len(s))
	for i := range s {
		out[i] = string(rune(s[i] - 'A' + 'a'))
	}
	return out
}

func optionResults(idsAndVotes ...any) []scrutinv1.OptionResult {
	var out []scrutinv1.OptionResult
	for i := 0; i < len(idsAndVotes); i += 2 {
		out = append(out, scrutinv1.OptionResult{ID: idsAndVotes[i].(string), Votes: int64(idsAndVotes[i+1].(int))})
	}
	return out
}

// randomQuestions makes one question of each kind with random sizes.
func randomQuestions(r *rand.Rand) []scrutinv1.Question {
	var qs []scrutinv1.Question
	for i, kind := range []scrutinv1.QuestionKind{scrutinv1.SingleChoice, scrutinv1.MultipleChoice, scrutinv1.Ranked} {
		n := 2 + r.IntN(5)
		ids := make([]string, n)
		for j := range ids {
			ids[j] = string(rune('a' + j))
		}
		q := scrutinv1.Question{ID: string(rune('p' + i)), Kind: kind, Options: opts(ids...), MinChoices: 1, AllowBlank: r.IntN(2) == 0}
		if kind != scrutinv1.SingleChoice {
			q.MinChoices = int32(1 + r.IntN(2))
		}
		qs = append(qs, q)
	}
	return qs
}

// randomBallot answers qs validly at random, often with a blank where allowed.
func randomBallot(r *rand.Rand, qs []scrutinv1.Question, maxWeight int64) WeightedBallot {
	a := ballot.Answers{}
	for i := range qs {
		q := &qs[i]
		if q.AllowBlank && r.IntN(5) == 0 {
			a[q.ID] = []string{}
			continue
		}
		lo, hi := int(q.MinChoices), int(q.EffectiveMaxChoices())
		k := lo + r.IntN(hi-lo+1)
		perm := r.Perm(len(q.Options))
		answer := make([]string, k)
		for j := range answer {
			answer[j] = q.Options[perm[j]].ID
		}
		a[q.ID] = answer
	}
	return WeightedBallot{Answers: a, Weight: 1 + r.Int64N(maxWeight)}
}

// groups parses "alice | bob carol" into [][]string{{"alice"}, {"bob", "carol"}}:
// the ranking with its ties, best group first.
func groups(s string) [][]string {
	var out [][]string
	for _, g := range strings.Split(s, "|") {
		out = append(out, strings.Fields(g))
	}
	return out
}
