package tally

import (
	"errors"
	"math"
	"strings"
	"testing"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/ballot"
)

func TestCountErrors(t *testing.T) {
	qs := []scrutinv1.Question{
		{ID: "mayor", Kind: scrutinv1.SingleChoice, Options: opts("alice", "bob"), MinChoices: 1},
		ranked("budget", "roads", "parks"),
	}
	good := WeightedBallot{Answers: ballot.Answers{"mayor": {"bob"}, "budget": {"parks", "roads"}}, Weight: 1}
	with := func(change func(b *WeightedBallot)) WeightedBallot {
		b := WeightedBallot{Answers: ballot.Answers{}, Weight: good.Weight}
		for q, a := range good.Answers {
			b.Answers[q] = a
		}
		change(&b)
		return b
	}
	tests := map[string]struct {
		qs      []scrutinv1.Question
		ballots []WeightedBallot
		want    string
		invalid bool // the error wraps a *ballot.Error
	}{
		"unknown option": {
			qs:      qs,
			ballots: []WeightedBallot{good, good, with(func(b *WeightedBallot) { b.Answers["mayor"] = []string{"carol"} })},
			want:    "tally: ballot 2: question mayor: " + "unknown option", invalid: true,
		},
		"duplicate in a ranking": {
			qs:      qs,
			ballots: []WeightedBallot{with(func(b *WeightedBallot) { b.Answers["budget"] = []string{"parks", "parks"} }), good},
			want:    "tally: ballot 0: question budget: option parks is ranked more than once", invalid: true,
		},
		"blank not allowed": {
			qs:      qs,
			ballots: []WeightedBallot{good, with(func(b *WeightedBallot) { b.Answers["mayor"] = nil })},
			want:    "tally: ballot 1: question mayor: an answer is required", invalid: true,
		},
		"missing question": {
			qs:      qs,
			ballots: []WeightedBallot{good, good, good, with(func(b *WeightedBallot) { delete(b.Answers, "budget") })},
			want:    "tally: ballot 3: question budget: not answered", invalid: true,
		},
		"unknown question": {
			qs:      qs,
			ballots: []WeightedBallot{with(func(b *WeightedBallot) { b.Answers["other"] = nil })},
			want:    "tally: ballot 0: unknown question", invalid: true,
		},
		"nil answers": {
			qs:      qs,
			ballots: []WeightedBallot{good, {Weight: 1}},
			want:    "tally: ballot 1: question mayor: not answered", invalid: true,
		},
		"zero weight": {
			qs:      qs,
			ballots: []WeightedBallot{good, with(func(b *WeightedBallot) { b.Weight = 0 })},
			want:    "tally: ballot 1: weight 0 is not positive",
		},
		"negative weight": {
			qs:      qs,
			ballots: []WeightedBallot{with(func(b *WeightedBallot) { b.Weight = -3 })},
			want:    "tally: ballot 0: weight -3 is not positive",
		},
		"total weight overflows": {
			qs: qs,
			ballots: []WeightedBallot{
				with(func(b *WeightedBallot) { b.Weight = math.MaxInt64 / 2 }),
				with(func(b *WeightedBallot) { b.Weight = math.MaxInt64 / 2 }),
				with(func(b *WeightedBallot) { b.Weight = 2 }),
			},
			want: "tally: ballot 2: the total weight of the ballots overflows",
		},
		"unknown kind": {
			qs:      []scrutinv1.Question{{ID: "q", Kind: "Approval", Options: opts("a", "b"), MinChoices: 1}},
			ballots: nil,
			want:    `tally: question q: unknown kind "Approval"`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Count(tt.qs, tt.ballots)
			if err == nil {
				t.Fatalf("Count = %+v, want an error", got)
			}
			if got != nil {
				t.Errorf("Count returned results with its error: %+v", got)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to start with %q", err, tt.want)
			}
			var e *ballot.Error
			if errors.As(err, &e) != tt.invalid {
				t.Errorf("error wraps a *ballot.Error: %v, want %v", !tt.invalid, tt.invalid)
			}
		})
	}
}

// TestCountLargestWeights: the largest total weight that fits is counted exactly.
func TestCountLargestWeights(t *testing.T) {
	qs := []scrutinv1.Question{ranked("q", "a", "b")}
	half := int64(math.MaxInt64 / 2)
	got, err := Count(qs, []WeightedBallot{vote(half, "q", "a"), vote(half, "q", "b", "a"), vote(1, "q")})
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	// d[A][B] = d[B][A] = half: a tie.
	if r := got[0]; r.Options[0].Votes != half || r.Options[1].Votes != half || r.Blank != 1 || len(r.Winners) != 2 {
		t.Errorf("Count = %+v", got)
	}
}
