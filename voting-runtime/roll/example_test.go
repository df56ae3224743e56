package roll_test

import (
	"errors"
	"fmt"
	"strings"

	"scrutin.dev/scrutin/voting-runtime/roll"
)

func ExampleParse() {
	const csv = "voter_id,name,email,phone,weight\n" +
		"A-001,\"Dupont, Jeanne\",jeanne@Example.ORG,+33 6 12 34 56 78,2\n" +
		"A-002,Kofi Mensah,,+233 24 123 4567,\n"
	r, err := roll.Parse(strings.NewReader(csv), roll.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range r.Voters {
		fmt.Printf("%s %q %q %s %d\n", v.ID, v.Name, v.Email, v.Phone, v.Weight)
	}
	// Output:
	// A-001 "Dupont, Jeanne" "jeanne@example.org" +33612345678 2
	// A-002 "Kofi Mensah" "" +233241234567 1
}

func ExampleParse_errors() {
	const csv = "voter_id,name,email,phone\n" +
		"A-001,Jeanne Dupont,Jeanne <jeanne@example.org>,06 12 34 56 78\n" +
		"A-001,Kofi Mensah,,\n"
	_, err := roll.Parse(strings.NewReader(csv), roll.Options{Require: roll.Requirements{Phone: true}})
	var errs *roll.Errors
	if errors.As(err, &errs) {
		for _, e := range errs.Lines {
			fmt.Println(e)
		}
	}
	// Output:
	// line 2: email: must be a bare address, without a display name or angle brackets
	// line 2: phone: not in E.164 form: start with + and the country code
	// line 3: voter_id: duplicate voter_id, first seen on line 2
}
