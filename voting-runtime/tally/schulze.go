package tally

import (
	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// countRanked counts a Ranked question with the Schulze method.
func countRanked(q *scrutinv1.Question, ballots []WeightedBallot) scrutinv1.QuestionResult {
	n := len(q.Options)
	index := optionIndex(q)
	first := make([]int64, n)
	var blank int64
	ranked := false
	pw := newPairwise(n)
	order := make([]int, 0, n)
	for i := range ballots {
		b := &ballots[i]
		answer := b.Answers[q.ID]
		if len(answer) == 0 {
			blank += b.Weight
			continue
		}
		order = order[:0]
		for _, id := range answer {
			order = append(order, index[id])
		}
		first[order[0]] += b.Weight
		pw.add(order, b.Weight)
		ranked = true
	}
	p := strongestPaths(pw.matrix(), n)
	beats := func(x, y int) bool { return p[x*n+y] > p[y*n+x] }

	wins := make([]int, n)
	winner := make([]bool, n)
	for x := range n {
		winner[x] = true
		for y := range n {
			switch {
			case x == y:
			case beats(x, y):
				wins[x]++
			case beats(y, x):
				winner[x] = false
			}
		}
	}
	var winners []string
	if ranked {
		for x := range n {
			if winner[x] {
				winners = append(winners, q.Options[x].ID)
			}
		}
	}
	return result(q, first, blank, winners, func(x, y int) bool {
		if winner[x] != winner[y] {
			return winner[x]
		}
		return wins[x] > wins[y]
	})
}

// pairwise accumulates d, the pairwise preferences, in O(k²) per ballot
// ranking k options rather than O(n²): a ballot ranking x in place i puts x
// above every option but those ranked before it (and x itself). So add
// counts the weight once for the whole row of x, in all[x], and takes it back
// from the cells of the options ranked before x; matrix adds the two.
type pairwise struct {
	n   int
	all []int64 // all[x]: weight to add to every cell of row x
	d   []int64 // d[x*n+y]: the corrections, then d itself
}

func newPairwise(n int) *pairwise {
	return &pairwise{n: n, all: make([]int64, n), d: make([]int64, n*n)}
}

// add counts one ballot ranking the options order (distinct positions, best
// first) with weight w.
func (pw *pairwise) add(order []int, w int64) {
	for i, x := range order {
		pw.all[x] += w
		row := pw.d[x*pw.n : (x+1)*pw.n]
		for _, above := range order[:i] {
			row[above] -= w
		}
	}
}

// matrix returns d, n×n row-major: d[x*n+y] is the weight of the ballots
// ranking x above y, 0 on the diagonal. The pairwise must not be used after.
func (pw *pairwise) matrix() []int64 {
	n := pw.n
	for x := range n {
		row := pw.d[x*n : (x+1)*n]
		for y := range row {
			row[y] += pw.all[x]
		}
		row[x] = 0
	}
	return pw.d
}

// strongestPaths returns p, n×n row-major: p[x*n+y] is the strength of the
// strongest path from x to y in the graph of links x→y of strength d[x][y],
// one for each pair with d[x][y] > d[y][x] (winning votes). 0 means no path;
// a link is at least 1, since d[x][y] > d[y][x] >= 0. This is the widest-path
// Floyd–Warshall algorithm of Schulze's paper, section 2.3, in O(n³).
func strongestPaths(d []int64, n int) []int64 {
	p := make([]int64, n*n)
	for x := range n {
		for y := range n {
			if x != y && d[x*n+y] > d[y*n+x] {
				p[x*n+y] = d[x*n+y]
			}
		}
	}
	for k := range n {
		rowK := p[k*n : (k+1)*n]
		for i := range n {
			if i == k {
				continue
			}
			pik := p[i*n+k]
			if pik == 0 {
				continue
			}
			rowI := p[i*n : (i+1)*n]
			for j := range n {
				if j == i || j == k {
					continue
				}
				if s := min(pik, rowK[j]); s > rowI[j] {
					rowI[j] = s
				}
			}
		}
	}
	return p
}
