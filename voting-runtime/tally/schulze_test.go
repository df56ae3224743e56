package tally

import (
	"reflect"
	"testing"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// wikipedia is the example of the Wikipedia article "Schulze method": 45
// voters, candidates A to E.
//
//	5 ACBED   5 ADECB   8 BEDAC   3 CABED   7 CAEBD   2 CBADE   7 DCEBA   8 EBADC
func wikipedia() []WeightedBallot {
	return concat(
		times(5, "q", letters("ACBED")...),
		times(5, "q", letters("ADECB")...),
		times(8, "q", letters("BEDAC")...),
		times(3, "q", letters("CABED")...),
		times(7, "q", letters("CAEBD")...),
		times(2, "q", letters("CBADE")...),
		times(7, "q", letters("DCEBA")...),
		times(8, "q", letters("EBADC")...),
	)
}

// The pairwise preferences of the Wikipedia example, d[x][y] = voters ranking
// x above y. For instance d[A][B] = 5 (ACBED) + 5 (ADECB) + 3 (CABED) +
// 7 (CAEBD) = 20, and d[B][A] = 8 + 2 + 7 + 8 = 25 = 45 - 20.
var wikipediaD = []int64{
	//  A   B   C   D   E
	0, 20, 26, 30, 22, // A
	25, 0, 16, 33, 18, // B
	19, 29, 0, 17, 24, // C
	15, 12, 28, 0, 14, // D
	23, 27, 21, 31, 0, // E
}

// The strongest paths of the Wikipedia example. Links (winning votes), one
// per pair, from the larger of d[x][y] and d[y][x]:
//
//	A→C 26  A→D 30  B→A 25  B→D 33  C→B 29
//	C→E 24  D→C 28  E→A 23  E→B 27  E→D 31
//
// For instance p[E][A] = 25 through E→D→C→B→A = min(31, 28, 29, 25),
// stronger than the direct link of 23, and p[A][E] = 24 through A→D→C→E =
// min(30, 28, 24). So E beats A (25 > 24), and E beats every other option:
//
//	E beats A 25:24, B 28:24, C 28:24, D 31:24                → 4
//	A beats B 28:25, C 28:25, D 30:25                         → 3
//	C beats B 29:28, D 29:28                                  → 2
//	B beats D 33:28                                           → 1
//	D                                                          → 0
//
// Winner E; ranking E > A > C > B > D.
var wikipediaP = []int64{
	//  A   B   C   D   E
	0, 28, 28, 30, 24, // A
	25, 0, 28, 33, 24, // B
	25, 29, 0, 29, 24, // C
	25, 28, 28, 0, 24, // D
	25, 28, 28, 31, 0, // E
}

func TestSchulzeWikipediaMatrices(t *testing.T) {
	q := ranked("q", "a", "b", "c", "d", "e")
	index := optionIndex(&q)
	pw := newPairwise(5)
	for _, b := range wikipedia() {
		var order []int
		for _, id := range b.Answers["q"] {
			order = append(order, index[id])
		}
		pw.add(order, b.Weight)
	}
	d := pw.matrix()
	if !reflect.DeepEqual(d, wikipediaD) {
		t.Errorf("d =\n%v\nwant\n%v", grid(d, 5), grid(wikipediaD, 5))
	}
	// Every voter ranks every option: a link of w winning votes has 45 - w
	// opposing votes, and so has the path it is the weakest link of.
	want := make([]strength, len(wikipediaP))
	for i, w := range wikipediaP {
		if w > 0 {
			want[i] = strength{win: w, lose: 45 - w}
		}
	}
	if p := strongestPaths(wikipediaD, 5); !reflect.DeepEqual(p, want) {
		t.Errorf("p =\n%v\nwant\n%v", grid(p, 5), grid(want, 5))
	}
}

func grid[T any](m []T, n int) [][]T {
	out := make([][]T, n)
	for i := range out {
		out[i] = m[i*n : (i+1)*n]
	}
	return out
}

// Hand-computed Schulze counts.
func TestCountSchulze(t *testing.T) {
	abc := ranked("q", "a", "b", "c")
	tests := map[string]struct {
		q       scrutinv1.Question
		ballots []WeightedBallot
		want    scrutinv1.QuestionResult
	}{
		// See wikipediaP. First preferences: A 5+5, B 8, C 3+7+2, D 7, E 8.
		"Wikipedia example": {
			q:       ranked("q", "a", "b", "c", "d", "e"),
			ballots: wikipedia(),
			want: scrutinv1.QuestionResult{
				QuestionID: "q", Options: optionResults("a", 10, "b", 8, "c", 12, "d", 7, "e", 8),
				RankingGroups: groups("e | a | c | b | d"),
				Ranking:       []string{"e", "a", "c", "b", "d"}, Winners: []string{"e"},
			},
		},
		// The same 45 voters as 8 ballots weighing as many voters.
		"Wikipedia example, weighted": {
			q: ranked("q", "a", "b", "c", "d", "e"),
			ballots: []WeightedBallot{
				vote(5, "q", letters("ACBED")...), vote(5, "q", letters("ADECB")...),
				vote(8, "q", letters("BEDAC")...), vote(3, "q", letters("CABED")...),
				vote(7, "q", letters("CAEBD")...), vote(2, "q", letters("CBADE")...),
				vote(7, "q", letters("DCEBA")...), vote(8, "q", letters("EBADC")...),
			},
			want: scrutinv1.QuestionResult{
				QuestionID: "q", Options: optionResults("a", 10, "b", 8, "c", 12, "d", 7, "e", 8),
				RankingGroups: groups("e | a | c | b | d"),
				Ranking:       []string{"e", "a", "c", "b", "d"}, Winners: []string{"e"},
			},
		},
		// 5 A>B>C, 4 B>C>A, 2 C>B>A.
		// d[A][B] = 5, d[B][A] = 6; d[A][C] = 5, d[C][A] = 6; d[B][C] = 9, d[C][B] = 2.
		// B beats both others head to head: B is the Condorcet winner, although
		// A has the most first preferences (5, against 4 and 2).
		// Links B→A 6, C→A 6, B→C 9; A has none: p[A][*] = 0, p[C][B] = 0.
		// B beats A and C, C beats A: B > C > A.
		"Condorcet winner": {
			q: abc,
			ballots: concat(
				times(5, "q", "a", "b", "c"),
				times(4, "q", "b", "c", "a"),
				times(2, "q", "c", "b", "a"),
			),
			want: scrutinv1.QuestionResult{
				QuestionID: "q", Options: optionResults("a", 5, "b", 4, "c", 2),
				RankingGroups: groups("b | c | a"),
				Ranking:       []string{"b", "c", "a"}, Winners: []string{"b"},
			},
		},
		// 4 A>B>C, 3 B>C>A, 2 C>A>B: a cycle, A beats B 6:3, B beats C 7:2,
		// C beats A 5:4. Links A→B 6, B→C 7, C→A 5.
		// p[A][B] = 6, p[B][A] = min(7, 5) = 5; p[A][C] = min(6, 7) = 6,
		// p[C][A] = 5; p[B][C] = 7, p[C][B] = min(5, 6) = 5.
		// The weakest link, C→A, is what gives way: A > B > C.
		"three-way cycle": {
			q: abc,
			ballots: concat(
				times(4, "q", "a", "b", "c"),
				times(3, "q", "b", "c", "a"),
				times(2, "q", "c", "a", "b"),
			),
			want: scrutinv1.QuestionResult{
				QuestionID: "q", Options: optionResults("a", 4, "b", 3, "c", 2),
				RankingGroups: groups("a | b | c"),
				Ranking:       []string{"a", "b", "c"}, Winners: []string{"a"},
			},
		},
		// 2 A>B>C, 2 B>A>C: d[A][B] = d[B][A] = 2, no link either way, and no
		// path through C (C has no link out): p[A][B] = p[B][A] = 0. Both beat
		// C 4:0. A and B both win; C last.
		"exact tie of two": {
			q: abc,
			ballots: concat(
				times(2, "q", "a", "b", "c"),
				times(2, "q", "b", "a", "c"),
			),
			want: scrutinv1.QuestionResult{
				QuestionID: "q", Options: optionResults("a", 2, "b", 2, "c", 0),
				RankingGroups: groups("a b | c"),
				Ranking:       []string{"a", "b", "c"}, Winners: []string{"a", "b"},
			},
		},
		// The same tie with the options listed C, B, A: winners and ranking in
		// option order.
		"exact tie in option order": {
			q: ranked("q", "c", "b", "a"),
			ballots: concat(
				times(2, "q", "a", "b", "c"),
				times(2, "q", "b", "a", "c"),
			),
			want: scrutinv1.QuestionResult{
				QuestionID: "q", Options: optionResults("c", 0, "b", 2, "a", 2),
				RankingGroups: groups("b a | c"),
				Ranking:       []string{"b", "a", "c"}, Winners: []string{"b", "a"},
			},
		},
		// A>B>C, B>C>A, C>A>B once each: A→B, B→C, C→A all 2:1, so every
		// strongest path is 2 both ways. All three win.
		"symmetric cycle": {
			q: abc,
			ballots: []WeightedBallot{
				vote(1, "q", "a", "b", "c"), vote(1, "q", "b", "c", "a"), vote(1, "q", "c", "a", "b"),
			},
			want: scrutinv1.QuestionResult{
				QuestionID: "q", Options: optionResults("a", 1, "b", 1, "c", 1),
				RankingGroups: groups("a b c"),
				Ranking:       []string{"a", "b", "c"}, Winners: []string{"a", "b", "c"},
			},
		},
		// Partial rankings: 3 [A], 2 [B C], 2 [C B], 1 [D C]. A ranked option
		// is above every unranked one, unranked options are tied.
		// d[A][B] = 3, d[B][A] = 2+2+1 = 5; d[A][C] = 3, d[C][A] = 5;
		// d[A][D] = 3, d[D][A] = 1; d[B][C] = 2, d[C][B] = 2+1 = 3;
		// d[B][D] = 4, d[D][B] = 1; d[C][D] = 4, d[D][C] = 1.
		// Links B→A 5, C→A 5, A→D 3, C→B 3, B→D 4, C→D 4. Nothing reaches C;
		// from B only A and D. C beats B, A, D; B beats A, D; A beats D.
		// C > B > A > D, although A has the most first preferences.
		"partial rankings": {
			q: ranked("q", "a", "b", "c", "d"),
			ballots: concat(
				times(3, "q", "a"),
				times(2, "q", "b", "c"),
				times(2, "q", "c", "b"),
				times(1, "q", "d", "c"),
			),
			want: scrutinv1.QuestionResult{
				QuestionID: "q", Options: optionResults("a", 3, "b", 2, "c", 2, "d", 1),
				RankingGroups: groups("c | b | a | d"),
				Ranking:       []string{"c", "b", "a", "d"}, Winners: []string{"c"},
			},
		},
		// The Condorcet case above with 10 blank answers (weights 4 and 6):
		// they are counted apart and change nothing else.
		"blanks": {
			q: abc,
			ballots: concat(
				[]WeightedBallot{vote(4, "q")},
				times(5, "q", "a", "b", "c"),
				times(4, "q", "b", "c", "a"),
				[]WeightedBallot{vote(6, "q")},
				times(2, "q", "c", "b", "a"),
			),
			want: scrutinv1.QuestionResult{
				QuestionID: "q", Options: optionResults("a", 5, "b", 4, "c", 2), Blank: 10,
				RankingGroups: groups("b | c | a"),
				Ranking:       []string{"b", "c", "a"}, Winners: []string{"b"},
			},
		},
		// Weights decide: 1 A>B>C of weight 5 against 2 ballots B>C>A and 1
		// C>A>B of weight 1. d[A][B] = 5+1 = 6, d[B][A] = 2; d[B][C] = 5+2 = 7,
		// d[C][B] = 1; d[A][C] = 5, d[C][A] = 3. A beats both: A > B > C.
		"weights": {
			q: abc,
			ballots: []WeightedBallot{
				vote(1, "q", "b", "c", "a"), vote(5, "q", "a", "b", "c"),
				vote(1, "q", "b", "c", "a"), vote(1, "q", "c", "a", "b"),
			},
			want: scrutinv1.QuestionResult{
				QuestionID: "q", Options: optionResults("a", 5, "b", 2, "c", 1),
				RankingGroups: groups("a | b | c"),
				Ranking:       []string{"a", "b", "c"}, Winners: []string{"a"},
			},
		},
		// 1 [A C B], 2 [B A C], 2 [C B A], 1 [A], 1 [C]:
		// d[A][B] = 1+1 = 2, d[B][A] = 2+2 = 4; d[A][C] = 1+2+1 = 4,
		// d[C][A] = 2+1 = 3; d[B][C] = 2, d[C][B] = 1+2+1 = 4.
		// Links B→A (4, 2), A→C (4, 3), C→B (4, 2): a cycle of links of 4
		// winning votes each, which winning votes alone cannot order (every
		// strongest path is 4 both ways: a three-way tie). By ≻D the links
		// with fewer opposing votes are stronger:
		// p[B][A] = (4,2), p[A][B] = min((4,3), (4,2)) = (4,3): B beats A;
		// p[C][B] = (4,2), p[B][C] = min((4,2), (4,3)) = (4,3): C beats B;
		// p[C][A] = min((4,2), (4,2)) = (4,2), p[A][C] = (4,3): C beats A.
		// C > B > A, C the only winner.
		"opposing votes break a tie of winning votes": {
			q: abc,
			ballots: []WeightedBallot{
				vote(1, "q", "a", "c", "b"), vote(2, "q", "b", "a", "c"), vote(2, "q", "c", "b", "a"),
				vote(1, "q", "a"), vote(1, "q", "c"),
			},
			want: scrutinv1.QuestionResult{
				QuestionID: "q", Options: optionResults("a", 2, "b", 2, "c", 3),
				RankingGroups: groups("c | b | a"),
				Ranking:       []string{"c", "b", "a"}, Winners: []string{"c"},
			},
		},
		// Only blanks, or no ballot: no winner.
		"only blanks": {
			q:       abc,
			ballots: []WeightedBallot{vote(3, "q")},
			want: scrutinv1.QuestionResult{
				QuestionID: "q", Options: optionResults("a", 0, "b", 0, "c", 0), Blank: 3,
				RankingGroups: groups("a b c"),
				Ranking:       []string{"a", "b", "c"},
			},
		},
		"no ballots": {
			q: abc,
			want: scrutinv1.QuestionResult{
				QuestionID: "q", Options: optionResults("a", 0, "b", 0, "c", 0),
				RankingGroups: groups("a b c"),
				Ranking:       []string{"a", "b", "c"},
			},
		},
		// 1 [X Y] and 1 [W]: d[X][Y] = 1 > d[Y][X] = 0, every other pair 1:1.
		// The only link is X→Y: X beats Y, W is beaten by nobody and beats
		// nobody. Winners X and W; W, a winner with no win, is ranked before
		// Y, which X beats, although Y comes first in option order.
		"winners ranked first": {
			q:       ranked("q", "x", "y", "w"),
			ballots: []WeightedBallot{vote(1, "q", "x", "y"), vote(1, "q", "w")},
			want: scrutinv1.QuestionResult{
				QuestionID: "q", Options: optionResults("x", 1, "y", 0, "w", 1),
				RankingGroups: groups("x w | y"),
				Ranking:       []string{"x", "w", "y"}, Winners: []string{"x", "w"},
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Count([]scrutinv1.Question{tt.q}, tt.ballots)
			if err != nil {
				t.Fatalf("Count: %v", err)
			}
			if len(got) != 1 || !reflect.DeepEqual(got[0], tt.want) {
				t.Errorf("Count =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

// TestSchulzePublishedExamples counts the worked examples Markus Schulze
// publishes with his method (examples 1 to 4 of his Electowiki article
// "Schulze method"; example 1 is also the Wikipedia example above), and
// checks the Schulze ranking he gives for each, with its ties.
func TestSchulzePublishedExamples(t *testing.T) {
	type group struct {
		voters int
		order  string
	}
	tests := []struct {
		name    string
		options string
		ballots []group
		want    string // the ranking, groups of tied options apart
	}{
		{"example 1: 45 voters, 5 candidates", "ABCDE", []group{
			{5, "ACBED"}, {5, "ADECB"}, {8, "BEDAC"}, {3, "CABED"}, {7, "CAEBD"},
			{2, "CBADE"}, {7, "DCEBA"}, {8, "EBADC"},
		}, "e | a | c | b | d"},
		{"example 2: 30 voters, 4 candidates", "ABCD", []group{
			{5, "ACBD"}, {2, "ACDB"}, {3, "ADCB"}, {4, "BACD"}, {3, "CBDA"},
			{3, "CDBA"}, {1, "DACB"}, {5, "DBAC"}, {4, "DCBA"},
		}, "d | a | c | b"},
		{"example 3: 30 voters, 5 candidates", "ABCDE", []group{
			{3, "ABDEC"}, {5, "ADEBC"}, {1, "ADECB"}, {2, "BADEC"}, {2, "BDECA"},
			{4, "CABDE"}, {6, "CBADE"}, {2, "DBECA"}, {5, "DECAB"},
		}, "b | a | d | e | c"},
		// B and D are both potential winners: a tie the method leaves.
		{"example 4: 9 voters, 4 candidates", "ABCD", []group{
			{3, "ABCD"}, {2, "DABC"}, {2, "DBCA"}, {2, "CBDA"},
		}, "b d | a c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := ranked("q", letters(tt.options)...)
			var ballots []WeightedBallot
			for _, g := range tt.ballots {
				ballots = append(ballots, times(g.voters, "q", letters(g.order)...)...)
			}
			got, err := Count([]scrutinv1.Question{q}, ballots)
			if err != nil {
				t.Fatalf("Count: %v", err)
			}
			want := groups(tt.want)
			if !reflect.DeepEqual(got[0].RankingGroups, want) || !reflect.DeepEqual(got[0].Winners, want[0]) {
				t.Errorf("ranking %v, winners %v; want %v", got[0].RankingGroups, got[0].Winners, want)
			}
		})
	}
}
