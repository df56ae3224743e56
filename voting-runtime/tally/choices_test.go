package tally

import (
	"reflect"
	"testing"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// Hand-computed counts of SingleChoice and MultipleChoice questions.
func TestCountChoices(t *testing.T) {
	mayor := scrutinv1.Question{ID: "mayor", Kind: scrutinv1.SingleChoice, Options: opts("alice", "bob", "carol"), MinChoices: 1, AllowBlank: true}
	council := scrutinv1.Question{ID: "council", Kind: scrutinv1.MultipleChoice, Options: opts("ana", "ben", "cleo", "dan"), MinChoices: 1, MaxChoices: new(int32(3)), AllowBlank: true}
	motion := scrutinv1.Question{ID: "motion", Options: opts("yes", "no")} // kind left empty: SingleChoice

	tests := map[string]struct {
		q       scrutinv1.Question
		ballots []WeightedBallot
		want    scrutinv1.QuestionResult
	}{
		// alice 3, bob 1, carol 1: alice wins; bob and carol tie, in option order.
		"simple majority": {
			q: mayor,
			ballots: []WeightedBallot{
				vote(1, "mayor", "alice"), vote(1, "mayor", "bob"), vote(1, "mayor", "alice"),
				vote(1, "mayor", "carol"), vote(1, "mayor", "alice"),
			},
			want: scrutinv1.QuestionResult{
				QuestionID: "mayor", Options: optionResults("alice", 3, "bob", 1, "carol", 1),
				RankingGroups: groups("alice | bob carol"),
				Ranking:       []string{"alice", "bob", "carol"}, Winners: []string{"alice"},
			},
		},
		// Kind left empty counts as SingleChoice: yes 2, no 1.
		"default kind": {
			q:       motion,
			ballots: []WeightedBallot{vote(1, "motion", "no"), vote(1, "motion", "yes"), vote(1, "motion", "yes")},
			want: scrutinv1.QuestionResult{
				QuestionID: "motion", Options: optionResults("yes", 2, "no", 1),
				RankingGroups: groups("yes | no"),
				Ranking:       []string{"yes", "no"}, Winners: []string{"yes"},
			},
		},
		// alice 2, bob 2, carol 1: alice and bob both win, in option order.
		"tie for first": {
			q: mayor,
			ballots: []WeightedBallot{
				vote(1, "mayor", "bob"), vote(1, "mayor", "alice"), vote(1, "mayor", "carol"),
				vote(1, "mayor", "bob"), vote(1, "mayor", "alice"),
			},
			want: scrutinv1.QuestionResult{
				QuestionID: "mayor", Options: optionResults("alice", 2, "bob", 2, "carol", 1),
				RankingGroups: groups("alice bob | carol"),
				Ranking:       []string{"alice", "bob", "carol"}, Winners: []string{"alice", "bob"},
			},
		},
		// carol 2, alice 2, bob 0: winners and ranking follow option order, not
		// the order of the ballots (carol's came first).
		"tie in option order": {
			q:       mayor,
			ballots: []WeightedBallot{vote(1, "mayor", "carol"), vote(1, "mayor", "carol"), vote(1, "mayor", "alice"), vote(1, "mayor", "alice")},
			want: scrutinv1.QuestionResult{
				QuestionID: "mayor", Options: optionResults("alice", 2, "bob", 0, "carol", 2),
				RankingGroups: groups("alice carol | bob"),
				Ranking:       []string{"alice", "carol", "bob"}, Winners: []string{"alice", "carol"},
			},
		},
		// Three voters of weight 1 for alice (3) lose to one voter of weight 5
		// for bob (5); carol 2.
		"weights": {
			q: mayor,
			ballots: []WeightedBallot{
				vote(1, "mayor", "alice"), vote(5, "mayor", "bob"), vote(1, "mayor", "alice"),
				vote(2, "mayor", "carol"), vote(1, "mayor", "alice"),
			},
			want: scrutinv1.QuestionResult{
				QuestionID: "mayor", Options: optionResults("alice", 3, "bob", 5, "carol", 2),
				RankingGroups: groups("bob | alice | carol"),
				Ranking:       []string{"bob", "alice", "carol"}, Winners: []string{"bob"},
			},
		},
		// alice 2, bob 1, carol 0, blank 3+1 = 4: blank answers are counted
		// apart and never win.
		"blanks": {
			q: mayor,
			ballots: []WeightedBallot{
				vote(2, "mayor", "alice"), vote(3, "mayor"), vote(1, "mayor"), vote(1, "mayor", "bob"),
			},
			want: scrutinv1.QuestionResult{
				QuestionID: "mayor", Options: optionResults("alice", 2, "bob", 1, "carol", 0), Blank: 4,
				RankingGroups: groups("alice | bob | carol"),
				Ranking:       []string{"alice", "bob", "carol"}, Winners: []string{"alice"},
			},
		},
		// Only blank answers: no winner.
		"only blanks": {
			q:       mayor,
			ballots: []WeightedBallot{vote(1, "mayor"), vote(7, "mayor")},
			want: scrutinv1.QuestionResult{
				QuestionID: "mayor", Options: optionResults("alice", 0, "bob", 0, "carol", 0), Blank: 8,
				RankingGroups: groups("alice bob carol"),
				Ranking:       []string{"alice", "bob", "carol"},
			},
		},
		"no ballots": {
			q: mayor,
			want: scrutinv1.QuestionResult{
				QuestionID: "mayor", Options: optionResults("alice", 0, "bob", 0, "carol", 0),
				RankingGroups: groups("alice bob carol"),
				Ranking:       []string{"alice", "bob", "carol"},
			},
		},
		// ana 1+3 = 4, ben 1+2+1 = 4, cleo 2, dan 2+3 = 5, blank 4:
		// dan wins; ana and ben tie, in option order.
		"multiple choice": {
			q: council,
			ballots: []WeightedBallot{
				vote(1, "council", "ana", "ben"),
				vote(2, "council", "ben", "cleo", "dan"),
				vote(1, "council", "ben"),
				vote(3, "council", "dan", "ana"),
				vote(4, "council"),
			},
			want: scrutinv1.QuestionResult{
				QuestionID: "council", Options: optionResults("ana", 4, "ben", 4, "cleo", 2, "dan", 5), Blank: 4,
				RankingGroups: groups("dan | ana ben | cleo"),
				Ranking:       []string{"dan", "ana", "ben", "cleo"}, Winners: []string{"dan"},
			},
		},
		// ana 2, ben 0, cleo 2, dan 2: a three-way tie.
		"multiple choice tie": {
			q: council,
			ballots: []WeightedBallot{
				vote(1, "council", "dan", "cleo", "ana"),
				vote(1, "council", "ana", "cleo", "dan"),
			},
			want: scrutinv1.QuestionResult{
				QuestionID: "council", Options: optionResults("ana", 2, "ben", 0, "cleo", 2, "dan", 2),
				RankingGroups: groups("ana cleo dan | ben"),
				Ranking:       []string{"ana", "cleo", "dan", "ben"}, Winners: []string{"ana", "cleo", "dan"},
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

// TestCountSeveralQuestions: one result per question, in question order,
// each counted from its own answers.
func TestCountSeveralQuestions(t *testing.T) {
	qs := []scrutinv1.Question{
		{ID: "mayor", Kind: scrutinv1.SingleChoice, Options: opts("alice", "bob"), MinChoices: 1, AllowBlank: true},
		{ID: "council", Kind: scrutinv1.MultipleChoice, Options: opts("ana", "ben", "cleo"), MinChoices: 1},
		ranked("budget", "roads", "parks"),
	}
	ballots := []WeightedBallot{
		{Answers: map[string][]string{"mayor": {"bob"}, "council": {"cleo", "ana"}, "budget": {"parks"}}, Weight: 2},
		{Answers: map[string][]string{"mayor": {}, "council": {"ben"}, "budget": {"roads", "parks"}}, Weight: 1},
	}
	// mayor: bob 2, blank 1. council: ana 2, ben 1, cleo 2.
	// budget: parks above roads 2, roads above parks 1: parks wins.
	want := []scrutinv1.QuestionResult{
		{QuestionID: "mayor", Options: optionResults("alice", 0, "bob", 2), Blank: 1, Ranking: []string{"bob", "alice"}, RankingGroups: groups("bob | alice"), Winners: []string{"bob"}},
		{QuestionID: "council", Options: optionResults("ana", 2, "ben", 1, "cleo", 2), Ranking: []string{"ana", "cleo", "ben"}, RankingGroups: groups("ana cleo | ben"), Winners: []string{"ana", "cleo"}},
		{QuestionID: "budget", Options: optionResults("roads", 1, "parks", 2), Ranking: []string{"parks", "roads"}, RankingGroups: groups("parks | roads"), Winners: []string{"parks"}},
	}
	got, err := Count(qs, ballots)
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Count =\n %+v\nwant\n %+v", got, want)
	}
	if got, err := Count(nil, nil); err != nil || len(got) != 0 {
		t.Errorf("Count(nil, nil) = %v, %v", got, err)
	}
}
