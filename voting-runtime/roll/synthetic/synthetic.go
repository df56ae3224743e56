// Package synthetic writes made-up voter rolls, the same for the same
// options, for tests, benchmarks and samples: a party congress of any size,
// with French mobile numbers (+33 6), addresses under congress.example.org (a domain
// reserved for examples) and a few members without a phone or an email.
package synthetic

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
)

// Options says what roll to write.
type Options struct {
	// Voters is how many members the roll lists.
	Voters int
	// Seed picks the names and numbers; the same seed gives the same roll.
	Seed uint64
	// NoPhoneEvery leaves the phone out of every n-th member (an SMS code
	// cannot reach them); 0 means DefaultNoPhoneEvery, less than 0 never.
	NoPhoneEvery int
	// NoEmailEvery leaves the email out of every n-th member (counted from
	// a different start than phones, so nobody lacks both); 0 or less never.
	NoEmailEvery int
}

// DefaultNoPhoneEvery: one member in 500 has no phone.
const DefaultNoPhoneEvery = 500

var (
	firstNames = []string{"Jeanne", "Kofi", "Amina", "Lucas", "Chloé", "Mamadou", "Inès", "Hugo", "Léa", "Karim",
		"Sofia", "Théo", "Fatou", "Louis", "Camille", "Yanis", "Manon", "Nathan", "Aïcha", "Jules",
		"Zoé", "Rayan", "Emma", "Gabriel", "Nour", "Arthur", "Lina", "Adam", "Rose", "Malik"}
	lastNames = []string{"Dupont", "Mensah", "Martin", "Bernard", "Diallo", "Petit", "Durand", "Leroy", "Moreau", "Nguyen",
		"Fournier", "Girard", "Haddad", "Lambert", "Bonnet", "François", "Mercier", "Traoré", "Blanc", "Garnier",
		"Faure", "Rousseau", "Benali", "Chevalier", "Robin", "Masson", "Sanchez", "Muller", "Lefèvre", "Da Silva"}
)

// Write writes the roll as CSV: the header voter_id,name,email,phone, then
// one line per member, ids M-000001 and up.
func Write(w io.Writer, o Options) error {
	noPhone := o.NoPhoneEvery
	if noPhone == 0 {
		noPhone = DefaultNoPhoneEvery
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x5c807171))
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := io.WriteString(bw, "voter_id,name,email,phone\n"); err != nil {
		return err
	}
	for i := 1; i <= o.Voters; i++ {
		first := firstNames[rng.IntN(len(firstNames))]
		last := lastNames[rng.IntN(len(lastNames))]
		// French mobile numbers: +33 6, then 8 digits, the first not 3 or 9
		// (of +33 63 and 69, only some blocks are allotted).
		digits := int("01245678"[rng.IntN(8)]-'0')*10_000_000 + rng.IntN(10_000_000)
		email := fmt.Sprintf("member%06d@congress.example.org", i)
		if o.NoEmailEvery > 0 && i%o.NoEmailEvery == o.NoEmailEvery/2 {
			email = ""
		}
		var err error
		if noPhone > 0 && i%noPhone == 0 {
			_, err = fmt.Fprintf(bw, "M-%06d,%s %s,%s,\n", i, first, last, email)
		} else {
			_, err = fmt.Fprintf(bw, "M-%06d,%s %s,%s,+33 6 %02d %02d %02d %02d\n", i, first, last, email,
				digits/1_000_000, digits/10_000%100, digits/100%100, digits%100)
		}
		if err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Reader returns the roll as a stream, written as it is read.
func Reader(o Options) io.Reader {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(Write(pw, o)) }()
	return pr
}
