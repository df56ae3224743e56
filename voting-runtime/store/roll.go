package store

import "fmt"

// CheckRollEntry checks entry n (from 1) of a roll being imported, and returns it
// as a store keeps it: its letter, if any, addressed to its voter. A voter with no
// id, or a letter that Check refuses, fails the import. (A repeated voter id or
// public credential is the database's to find: each store's unique keys.)
func CheckRollEntry(n int, e RollEntry) (RollEntry, error) {
	if e.Voter.ID == "" {
		return e, fmt.Errorf("voter %d has no id", n)
	}
	if e.Letter != nil {
		l := *e.Letter
		l.VoterID = e.Voter.ID
		if err := l.Check(); err != nil {
			return e, fmt.Errorf("voter %d's letter: %w", n, err)
		}
		e.Letter = &l
	}
	return e, nil
}

// RollChange is the rule ImportRoll follows, inside the transaction that orders
// imports: it says whether to import the roll of digest, given the digest
// imported (current, when found). The roll already imported is never imported
// again, even once voting has started (nothing is read of its entries); another
// one replaces it unless a ballot is cast (anyCast, asked only then), when the
// roll is locked: ErrRollLocked.
func RollChange(current string, found bool, digest string, anyCast func() (bool, error)) (bool, error) {
	if found && current == digest {
		return false, nil
	}
	cast, err := anyCast()
	switch {
	case err != nil:
		return false, err
	case cast:
		return false, ErrRollLocked
	}
	return true, nil
}
