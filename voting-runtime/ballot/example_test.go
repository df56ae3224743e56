package ballot_test

import (
	"fmt"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/ballot"
)

func Example() {
	qs := []scrutinv1.Question{
		{ID: "mayor", Kind: scrutinv1.SingleChoice, MinChoices: 1, AllowBlank: true,
			Options: []scrutinv1.Option{{ID: "alice", Label: "Alice"}, {ID: "bob", Label: "Bob"}}},
		{ID: "budget", Kind: scrutinv1.Ranked, MinChoices: 1,
			Options: []scrutinv1.Option{{ID: "roads", Label: "Roads"}, {ID: "parks", Label: "Parks"}, {ID: "schools", Label: "Schools"}}},
	}

	a, err := ballot.Decode([]byte(`{"mayor": [], "budget": ["schools", "roads"]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := ballot.Validate(qs, a); err != nil {
		fmt.Println(err)
		return
	}
	payload := ballot.Encode(a)
	fmt.Printf("%s\n", payload)

	tracker, err := ballot.NewTracker(payload)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(tracker), len(ballot.ShortTracker(tracker)))

	a["budget"] = []string{"schools", "schools"}
	fmt.Println(ballot.Validate(qs, a))
	a["budget"] = []string{"<script>"}
	fmt.Println(ballot.Validate(qs, a))
	// Output:
	// {"budget":["schools","roads"],"mayor":[]}
	// 64 14
	// question budget: option schools is ranked more than once
	// question budget: unknown option: the answer names an option that this question does not have
}
