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
	groups := schulzeGroups(p, n)
	var winners []string
	if ranked {
		for _, x := range groups[0] {
			winners = append(winners, q.Options[x].ID)
		}
	}
	return result(q, first, blank, winners, groups)
}

// strength is the strength of a link or of a path in Schulze's sense
// (Social Choice and Welfare 36, 2011, section 2.1): a link x→y exists when
// d[x][y] > d[y][x], and its strength is the pair (d[x][y], d[y][x]), the
// winning and the opposing votes. The zero strength stands for no link and
// no path: every link has at least one winning vote, so it is stronger.
type strength struct {
	win, lose int64
}

// stronger reports whether s ≻D t, Schulze's order on strengths: more
// winning votes, or as many winning votes and fewer opposing votes. Equal
// pairs are equally strong.
func (s strength) stronger(t strength) bool {
	return s.win > t.win || s.win == t.win && s.lose < t.lose
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
// strongest path from x to y (under ≻D) in the graph of links x→y of
// strength (d[x][y], d[y][x]), one for each pair with d[x][y] > d[y][x]; a
// path is as strong as its weakest link, and the zero strength means no path.
// This is the widest-path Floyd–Warshall algorithm of Schulze's paper,
// section 2.3, with ≻D as the order, in O(n³).
func strongestPaths(d []int64, n int) []strength {
	p := make([]strength, n*n)
	for x := range n {
		for y := range n {
			if x != y && d[x*n+y] > d[y*n+x] {
				p[x*n+y] = strength{win: d[x*n+y], lose: d[y*n+x]}
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
			if pik == (strength{}) {
				continue
			}
			rowI := p[i*n : (i+1)*n]
			for j := range n {
				if j == i || j == k {
					continue
				}
				s := pik // the weaker of p[i][k] and p[k][j]
				if s.stronger(rowK[j]) {
					s = rowK[j]
				}
				if s.stronger(rowI[j]) {
					rowI[j] = s
				}
			}
		}
	}
	return p
}

// schulzeGroups ranks the options from p, the strongest paths: x beats y
// when p[x][y] ≻D p[y][x], a strict partial order (Schulze 2011, section
// 4.1, proves it transitive). The first group is the options no option
// beats, the potential winners; each next group is the options beaten by no
// option left after the groups before. Options of a group beat none of one
// another: they are tied. Each group lists its options in option order. It
// takes O(n³) time.
func schulzeGroups(p []strength, n int) [][]int {
	beats := func(x, y int) bool { return p[x*n+y].stronger(p[y*n+x]) }
	placed := make([]bool, n)
	var groups [][]int
	for left := n; left > 0; {
		var group []int
		for x := range n {
			if placed[x] {
				continue
			}
			beaten := false
			for y := 0; y < n && !beaten; y++ {
				beaten = !placed[y] && beats(y, x)
			}
			if !beaten {
				group = append(group, x)
			}
		}
		if len(group) == 0 {
			// Unreachable while beats is transitive, as Schulze proved:
			// among the options left, one is beaten by none. Should it
			// not be, the options left are tied rather than looping.
			for x := range n {
				if !placed[x] {
					group = append(group, x)
				}
			}
		}
		for _, x := range group {
			placed[x] = true
		}
		left -= len(group)
		groups = append(groups, group)
	}
	return groups
}
