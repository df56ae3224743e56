package tally

import (
	"math/rand/v2"
	"reflect"
	"testing"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// TestWeightEqualsCopies: a ballot of weight w counts as w ballots of weight
// 1, for every kind of question.
func TestWeightEqualsCopies(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		qs := randomQuestions(r)
		weighted := make([]WeightedBallot, r.IntN(30))
		var copies []WeightedBallot
		for i := range weighted {
			weighted[i] = randomBallot(r, qs, 5)
			for range weighted[i].Weight {
				copies = append(copies, WeightedBallot{Answers: weighted[i].Answers, Weight: 1})
			}
		}
		want, err := Count(qs, copies)
		if err != nil {
			t.Fatalf("round %d: Count(copies): %v", round, err)
		}
		got, err := Count(qs, weighted)
		if err != nil {
			t.Fatalf("round %d: Count(weighted): %v", round, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: weighted ballots\n %+v\ncount as\n %+v\nbut their copies as\n %+v", round, weighted, got, want)
		}
	}
}

// TestOrderDoesNotMatter: shuffling the ballots never changes the result.
func TestOrderDoesNotMatter(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 300 {
		qs := randomQuestions(r)
		ballots := make([]WeightedBallot, r.IntN(40))
		for i := range ballots {
			ballots[i] = randomBallot(r, qs, 3)
		}
		want, err := Count(qs, ballots)
		if err != nil {
			t.Fatalf("round %d: Count: %v", round, err)
		}
		for range 3 {
			r.Shuffle(len(ballots), func(i, j int) { ballots[i], ballots[j] = ballots[j], ballots[i] })
			got, err := Count(qs, ballots)
			if err != nil {
				t.Fatalf("round %d: Count: %v", round, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d: shuffled ballots count as\n %+v\nnot\n %+v", round, got, want)
			}
		}
	}
}

// TestStrongestPathsBruteForce compares the Floyd–Warshall strongest paths
// with the strongest of all simple paths, enumerated one by one.
func TestStrongestPathsBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for round := range 500 {
		n := 2 + r.IntN(5)
		d := make([]int64, n*n)
		for x := range n {
			for y := range n {
				if x != y {
					d[x*n+y] = r.Int64N(6) // many ties, as in small elections
				}
			}
		}
		got := strongestPaths(d, n)
		for x := range n {
			for y := range n {
				if x == y {
					continue
				}
				if want := widestPath(d, n, x, y); got[x*n+y] != want {
					t.Fatalf("round %d: d = %v: p[%d][%d] = %v, brute force %v", round, grid(d, n), x, y, got[x*n+y], want)
				}
			}
		}
	}
}

// widestPath is the strength of the strongest simple path from x to y, by
// trying every one, links and paths compared by ≻D.
func widestPath(d []int64, n, x, y int) strength {
	link := func(a, b int) strength {
		if d[a*n+b] > d[b*n+a] {
			return strength{win: d[a*n+b], lose: d[b*n+a]}
		}
		return strength{}
	}
	visited := make([]bool, n)
	var best strength
	var walk func(at int, s strength)
	walk = func(at int, s strength) {
		if at == y {
			if s.stronger(best) {
				best = s
			}
			return
		}
		visited[at] = true
		for next := range n {
			if l := link(at, next); !visited[next] && l != (strength{}) {
				if s.stronger(l) {
					walk(next, l)
				} else {
					walk(next, s)
				}
			}
		}
		visited[at] = false
	}
	walk(x, strength{win: 1 << 62})
	return best
}

// TestSchulzeProperties checks, on random elections, what Schulze proved and
// what Count promises: the beats relation is transitive, there is always a
// winner when a ballot ranks something, the winners are exactly the
// unbeaten options, the ranking lists the winners first and puts x before y
// whenever x beats y, a Condorcet winner wins alone, and the groups of tied
// options are the layers of the beats relation.
func TestSchulzeProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for round := range 500 {
		n := 2 + r.IntN(6)
		ids := make([]string, n)
		for i := range ids {
			ids[i] = string(rune('a' + i))
		}
		q := ranked("q", ids...)
		qs := []scrutinv1.Question{q}
		ballots := make([]WeightedBallot, 1+r.IntN(12))
		for i := range ballots {
			ballots[i] = randomBallot(r, qs, 4)
		}
		got, err := Count(qs, ballots)
		if err != nil {
			t.Fatalf("round %d: Count: %v", round, err)
		}
		res := got[0]

		// Recompute d and p as the test sees them.
		index := optionIndex(&q)
		pw := newPairwise(n)
		someRanked := false
		for _, b := range ballots {
			var order []int
			for _, id := range b.Answers["q"] {
				order = append(order, index[id])
			}
			if len(order) > 0 {
				someRanked = true
				pw.add(order, b.Weight)
			}
		}
		d := pw.matrix()
		p := strongestPaths(d, n)
		beats := func(x, y int) bool { return p[x*n+y].stronger(p[y*n+x]) }
		for x := range n {
			for y := range n {
				for z := range n {
					if beats(x, y) && beats(y, z) && !beats(x, z) {
						t.Fatalf("round %d: not transitive: %d beats %d beats %d", round, x, y, z)
					}
				}
			}
		}
		var unbeaten []string
		for x := range n {
			beaten := false
			for y := range n {
				beaten = beaten || beats(y, x)
			}
			if !beaten {
				unbeaten = append(unbeaten, ids[x])
			}
		}
		if !someRanked {
			if res.Winners != nil {
				t.Fatalf("round %d: winners %v without a ranked ballot", round, res.Winners)
			}
		} else if len(res.Winners) == 0 || !reflect.DeepEqual(res.Winners, unbeaten) {
			t.Fatalf("round %d: winners %v, unbeaten options %v", round, res.Winners, unbeaten)
		}
		place := map[string]int{}
		for i, id := range res.Ranking {
			place[id] = i
		}
		if len(place) != n {
			t.Fatalf("round %d: ranking %v does not list every option once", round, res.Ranking)
		}
		for _, id := range res.Winners {
			if place[id] >= len(res.Winners) {
				t.Fatalf("round %d: winners %v not first in ranking %v", round, res.Winners, res.Ranking)
			}
		}
		for x := range n {
			for y := range n {
				if beats(x, y) && place[ids[x]] > place[ids[y]] {
					t.Fatalf("round %d: %s beats %s but is ranked after it: %v", round, ids[x], ids[y], res.Ranking)
				}
			}
		}
		for x := range n {
			condorcet := true
			for y := range n {
				condorcet = condorcet && (x == y || d[x*n+y] > d[y*n+x])
			}
			if condorcet && !reflect.DeepEqual(res.Winners, []string{ids[x]}) {
				t.Fatalf("round %d: %s is the Condorcet winner, winners %v", round, ids[x], res.Winners)
			}
		}

		// The groups: Ranking is their concatenation, the first is the
		// unbeaten options, no option beats another of its group or of a
		// group before, and every option after the first group is beaten by
		// one of the group just before it.
		var flat []string
		group := map[string]int{}
		for g, ids := range res.RankingGroups {
			if len(ids) == 0 {
				t.Fatalf("round %d: empty group in %v", round, res.RankingGroups)
			}
			flat = append(flat, ids...)
			for _, id := range ids {
				group[id] = g
			}
		}
		if !reflect.DeepEqual(flat, res.Ranking) {
			t.Fatalf("round %d: groups %v, ranking %v", round, res.RankingGroups, res.Ranking)
		}
		if !reflect.DeepEqual(res.RankingGroups[0], unbeaten) {
			t.Fatalf("round %d: first group %v, unbeaten options %v", round, res.RankingGroups[0], unbeaten)
		}
		for x := range n {
			beatenByPrevious := group[ids[x]] == 0
			for y := range n {
				if beats(y, x) && group[ids[y]] >= group[ids[x]] {
					t.Fatalf("round %d: %s beats %s but is not in a group before it: %v", round, ids[y], ids[x], res.RankingGroups)
				}
				beatenByPrevious = beatenByPrevious || beats(y, x) && group[ids[y]] == group[ids[x]]-1
			}
			if !beatenByPrevious {
				t.Fatalf("round %d: nothing in the group before %s beats it: %v", round, ids[x], res.RankingGroups)
			}
		}
	}
}
