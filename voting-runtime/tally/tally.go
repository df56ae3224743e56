// Package tally counts the ballots of an Election, question by question, into
// the results the Election's status publishes.
//
// SingleChoice and MultipleChoice questions are counted by adding up the
// weights of the ballots choosing each option. Ranked questions are counted
// with the Schulze method (Markus Schulze, "The Schulze Method of Voting",
// https://arxiv.org/abs/1804.02973), strengths measured in winning votes.
//
// Every count is exact, in int64: the total weight of all ballots must fit in
// an int64, and every sum is at most that total.
package tally

import (
	"fmt"
	"math"
	"sort"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/ballot"
)

// WeightedBallot is one ballot of the box with its voter's weight.
type WeightedBallot struct {
	Answers ballot.Answers
	Weight  int64
}

// Count counts ballots and returns one result per question, in question
// order, with the options in question order.
//
// For SingleChoice and MultipleChoice questions:
//   - Options[].Votes is the total weight of the ballots choosing the option;
//   - Blank is the total weight of blank answers;
//   - Winners are the options with the most votes, all of them on a tie, in
//     option order, and none when no option has a vote;
//   - Ranking is every option, by votes, most first, ties in option order.
//
// For Ranked questions (Schulze method):
//   - d[x][y] is the total weight of the ballots ranking x above y: an option
//     ranked is above every option left unranked, and options left unranked
//     are tied with one another; blank answers do not count;
//   - p[x][y] is the strength of the strongest path from x to y, a link x→y
//     having strength d[x][y] when d[x][y] > d[y][x] (winning votes) and no
//     link otherwise, a path being as strong as its weakest link (computed by
//     the widest-path Floyd–Warshall algorithm);
//   - x beats y when p[x][y] > p[y][x]; this relation is transitive;
//   - Winners are the options no other option beats, that is with
//     p[x][y] >= p[y][x] for every y: one option, or several on a tie, in
//     option order; none when no ballot ranks any option;
//   - Ranking is every option, the Winners first, then by the number of
//     options each beats, most first, ties in option order: whenever x beats
//     y, x comes before y;
//   - Options[].Votes is the total weight of the ballots ranking the option
//     first (first preferences), for information: it does not decide;
//   - Blank is the total weight of blank answers.
//
// Every ballot is checked with ballot.Validate first, and its weight must be
// positive: any invalid ballot makes Count fail with an error naming its
// index in ballots, and no results. (The box holds only ballots validated
// when cast, so this means the box or the Election is not what it was.)
//
// Count takes O(questions × ballots × k²) time, k being the number of options
// a ballot ranks (at most the number of options n), plus O(n³) per Ranked
// question, and O(n²) memory; the order of ballots does not matter.
func Count(qs []scrutinv1.Question, ballots []WeightedBallot) ([]scrutinv1.QuestionResult, error) {
	for i := range qs {
		switch qs[i].Kind {
		case "", scrutinv1.SingleChoice, scrutinv1.MultipleChoice, scrutinv1.Ranked:
		default:
			return nil, fmt.Errorf("tally: question %s: unknown kind %q", qs[i].ID, qs[i].Kind)
		}
	}
	v := ballot.NewValidator(qs)
	var total int64
	for i := range ballots {
		b := &ballots[i]
		if b.Weight < 1 {
			return nil, fmt.Errorf("tally: ballot %d: weight %d is not positive", i, b.Weight)
		}
		if b.Weight > math.MaxInt64-total {
			return nil, fmt.Errorf("tally: ballot %d: the total weight of the ballots overflows", i)
		}
		total += b.Weight
		if err := v.Validate(b.Answers); err != nil {
			return nil, fmt.Errorf("tally: ballot %d: %w", i, err)
		}
	}
	results := make([]scrutinv1.QuestionResult, len(qs))
	for i := range qs {
		q := &qs[i]
		if q.Kind == scrutinv1.Ranked {
			results[i] = countRanked(q, ballots)
		} else {
			results[i] = countChoices(q, ballots)
		}
	}
	return results, nil
}

// optionIndex maps each option id of q to its position.
func optionIndex(q *scrutinv1.Question) map[string]int {
	index := make(map[string]int, len(q.Options))
	for i, o := range q.Options {
		if _, dup := index[o.ID]; !dup {
			index[o.ID] = i
		}
	}
	return index
}

// countChoices counts a SingleChoice or MultipleChoice question.
func countChoices(q *scrutinv1.Question, ballots []WeightedBallot) scrutinv1.QuestionResult {
	index := optionIndex(q)
	votes := make([]int64, len(q.Options))
	var blank int64
	for i := range ballots {
		b := &ballots[i]
		answer := b.Answers[q.ID]
		if len(answer) == 0 {
			blank += b.Weight
			continue
		}
		for _, id := range answer {
			votes[index[id]] += b.Weight
		}
	}
	var most int64
	for _, n := range votes {
		most = max(most, n)
	}
	var winners []string
	if most > 0 {
		for i, n := range votes {
			if n == most {
				winners = append(winners, q.Options[i].ID)
			}
		}
	}
	return result(q, votes, blank, winners, func(i, j int) bool { return votes[i] > votes[j] })
}

// result assembles a QuestionResult, ranking the options with the stable
// order before (ties kept in option order).
func result(q *scrutinv1.Question, votes []int64, blank int64, winners []string, before func(i, j int) bool) scrutinv1.QuestionResult {
	r := scrutinv1.QuestionResult{
		QuestionID: q.ID,
		Options:    make([]scrutinv1.OptionResult, len(q.Options)),
		Blank:      blank,
		Ranking:    make([]string, len(q.Options)),
		Winners:    winners,
	}
	order := make([]int, len(q.Options))
	for i, o := range q.Options {
		r.Options[i] = scrutinv1.OptionResult{ID: o.ID, Votes: votes[i]}
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return before(order[a], order[b]) })
	for place, i := range order {
		r.Ranking[place] = q.Options[i].ID
	}
	return r
}
