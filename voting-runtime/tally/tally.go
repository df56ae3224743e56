// Package tally counts the ballots of an Election, question by question, into
// the results the Election's status publishes.
//
// SingleChoice and MultipleChoice questions are counted by adding up the
// weights of the ballots choosing each option. Ranked questions are counted
// with the Schulze method exactly as its author defines it (Markus Schulze,
// "A new monotonic, clone-independent, reversal symmetric, and
// Condorcet-consistent single-winner election method", Social Choice and
// Welfare 36 (2011) 267–303): the strength of a link is the pair of its
// winning and opposing votes, compared by his order ≻D (more winning votes,
// or as many and fewer opposing votes). TestSchulzeMatchesBelenios checks the
// count against an independent implementation, Debian's belenios-tool.
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
//   - RankingGroups is every option, grouped by votes, most first: the
//     options of a group have the same number of votes, in option order;
//   - Ranking is the options of RankingGroups one group after the other:
//     every option by votes, most first, ties in option order.
//
// For Ranked questions (Schulze method):
//   - d[x][y] is the total weight of the ballots ranking x above y: an option
//     ranked is above every option left unranked, and options left unranked
//     are tied with one another; blank answers do not count;
//   - there is a link x→y when d[x][y] > d[y][x], of strength the pair
//     (d[x][y], d[y][x]), winning and opposing votes; strengths compare by
//     ≻D: (a, b) ≻D (c, d) when a > c, or a = c and b < d;
//   - p[x][y] is the strength of the strongest path from x to y under ≻D, a
//     path being as strong as its weakest link, and none at all weaker than
//     any (computed by the widest-path Floyd–Warshall algorithm);
//   - x beats y when p[x][y] ≻D p[y][x]; this relation is transitive;
//   - RankingGroups is the Schulze ranking with its ties: first the options
//     no option beats, then the options no option left beats, and so on;
//     options in one group beat none of one another, each group in option
//     order;
//   - Winners are the first group, the options no other option beats: one
//     option, or several on a tie, in option order; none when no ballot
//     ranks any option (RankingGroups is then one group of every option);
//   - Ranking is the options of RankingGroups one group after the other,
//     the Winners first, ties in option order: whenever x beats y, x comes
//     before y;
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
	return FromCounts(q, votes, blank)
}

// FromCounts is the result of a SingleChoice or MultipleChoice question whose
// options got votes (in option order) and blank answers blank, as Count makes
// it: Winners, RankingGroups and Ranking by votes, ties in option order. The
// verifiable mode's decrypted tally is turned into results through it.
func FromCounts(q *scrutinv1.Question, votes []int64, blank int64) scrutinv1.QuestionResult {
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
	order := make([]int, len(votes))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return votes[order[a]] > votes[order[b]] })
	var groups [][]int
	for i, x := range order {
		if i == 0 || votes[x] != votes[order[i-1]] {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], x)
	}
	return result(q, votes, blank, winners, groups)
}

// result assembles a QuestionResult from the ranking as groups of tied
// option positions, best first, each in option order: Ranking lists the
// groups one after the other.
func result(q *scrutinv1.Question, votes []int64, blank int64, winners []string, groups [][]int) scrutinv1.QuestionResult {
	r := scrutinv1.QuestionResult{
		QuestionID:    q.ID,
		Options:       make([]scrutinv1.OptionResult, len(q.Options)),
		Blank:         blank,
		Ranking:       make([]string, 0, len(q.Options)),
		RankingGroups: make([][]string, len(groups)),
		Winners:       winners,
	}
	for i, o := range q.Options {
		r.Options[i] = scrutinv1.OptionResult{ID: o.ID, Votes: votes[i]}
	}
	for g, group := range groups {
		r.RankingGroups[g] = make([]string, len(group))
		for j, i := range group {
			r.RankingGroups[g][j] = q.Options[i].ID
			r.Ranking = append(r.Ranking, q.Options[i].ID)
		}
	}
	return r
}
