// Command congress-roll writes the synthetic voter roll of the party-congress
// sample (config/samples/party-congress.yaml): made-up members, the same for
// the same flags, with French mobile numbers, addresses under
// congress.example.org, and one member in 500 without a phone (unreachable by
// SMS codes, reached by email with the delivery fallback).
//
//	go run ./hack/congress-roll > congress.csv
//	go run ./hack/congress-roll -voters 1000000 -seed 7 > million.csv
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"scrutin.dev/scrutin/voting-runtime/roll/synthetic"
)

// Defaults: the roll whose parts config/samples/party-congress.yaml names.
const (
	defaultVoters = 140_000
	defaultSeed   = 1
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "congress-roll:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("congress-roll", flag.ContinueOnError)
	fs.SetOutput(stderr)
	voters := fs.Int("voters", defaultVoters, "number of members on the roll (1 to 1000000)")
	seed := fs.Uint64("seed", defaultSeed, "seed of the names and numbers: the same seed gives the same roll")
	noPhone := fs.Int("no-phone-every", synthetic.DefaultNoPhoneEvery, "one member in this many has no phone (0: none)")
	noEmail := fs.Int("no-email-every", 0, "one member in this many has no email (0: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: the roll goes to standard output", fs.Arg(0))
	}
	if *voters < 1 || *voters > 1_000_000 {
		return fmt.Errorf("-voters %d: give from 1 to 1000000", *voters)
	}
	if *noPhone == 0 {
		*noPhone = -1
	}
	return synthetic.Write(stdout, synthetic.Options{Voters: *voters, Seed: *seed, NoPhoneEvery: *noPhone, NoEmailEvery: *noEmail})
}
