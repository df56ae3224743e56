package tally

import (
	"fmt"
	"math/rand/v2"
	"testing"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/ballot"
)

// rankedElection is one Ranked question of n options and ballots ranking
// every option, in random order, each of weight 1.
func rankedElection(n, ballots int) ([]scrutinv1.Question, []WeightedBallot) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("option-%d", i)
	}
	qs := []scrutinv1.Question{ranked("q", ids...)}
	r := rand.New(rand.NewPCG(9, 10))
	bs := make([]WeightedBallot, ballots)
	for i := range bs {
		order := make([]string, n)
		for j, k := range r.Perm(n) {
			order[j] = ids[k]
		}
		bs[i] = WeightedBallot{Answers: ballot.Answers{"q": order}, Weight: 1}
	}
	return qs, bs
}

// BenchmarkCountRanked: 100,000 ballots ranking all of 10 options.
func BenchmarkCountRanked(b *testing.B) {
	qs, ballots := rankedElection(10, 100_000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Count(qs, ballots); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCountRanked200Options: 2,000 ballots ranking all of 200 options
// (the most a question can have).
func BenchmarkCountRanked200Options(b *testing.B) {
	qs, ballots := rankedElection(200, 2_000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Count(qs, ballots); err != nil {
			b.Fatal(err)
		}
	}
}
