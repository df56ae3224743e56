package engine

import (
	"bytes"
	"errors"
	"fmt"

	"scrutin.dev/scrutin/voting-runtime/belenios"
	"scrutin.dev/scrutin/voting-runtime/roll"
)

// pubcredsIndex is the tenant's public credentials (External credential
// authority) by voter, as the roll import checks them: every voter of the roll
// exactly once, with the roll's weight. line is an entry's position in the
// file's list.
type pubcredsIndex struct {
	byVoter map[string]pubcred
	seen    int
}

type pubcred struct {
	credential string
	weight     int64
	line       int
	seen       bool
}

// readPubcreds reads a .pubcreds file (a JSON list of "credential,weight,
// voter_id" strings, the weight empty for 1); a bad or repeated entry is named
// by its position in the list.
func readPubcreds(data []byte) (*pubcredsIndex, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("public-credentials: an External credential authority needs the public credentials (--credentials-dir)")
	}
	pcs, err := belenios.ReadPubcreds(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("public-credentials: %w", err)
	}
	idx := &pubcredsIndex{byVoter: make(map[string]pubcred, len(pcs))}
	for i, pc := range pcs {
		n := i + 1
		if first, dup := idx.byVoter[pc.VoterID]; dup {
			return nil, fmt.Errorf("public-credentials: public credential %d: voter %s has public credential %d already", n, pc.VoterID, first.line)
		}
		idx.byVoter[pc.VoterID] = pubcred{credential: pc.Credential.String(), weight: pc.Weight, line: n}
	}
	return idx, nil
}

// check is called with every voter of the roll (the first pass): the voter
// must have a public credential of the roll's weight, not given twice.
func (p *pubcredsIndex) check(v roll.Voter) error {
	pc, ok := p.byVoter[v.ID]
	switch {
	case !ok:
		return fmt.Errorf("voter %s has no public credential in public-credentials", v.ID)
	case pc.seen:
		return fmt.Errorf("voter %s is twice on the roll", v.ID)
	case pc.weight != v.Weight:
		return fmt.Errorf("public-credentials: public credential %d: voter %s has weight %d there and %d on the roll", pc.line, v.ID, pc.weight, v.Weight)
	}
	pc.seen = true
	p.byVoter[v.ID] = pc
	p.seen++
	return nil
}

// complete: every public credential belongs to a voter of the roll.
func (p *pubcredsIndex) complete() error {
	if p.seen == len(p.byVoter) {
		return nil
	}
	first := 0
	var who string
	for id, pc := range p.byVoter {
		if !pc.seen && (first == 0 || pc.line < first) {
			first, who = pc.line, id
		}
	}
	return fmt.Errorf("public-credentials: public credential %d: voter %s is not on the roll (%d public credentials for voters not on the roll)",
		first, who, len(p.byVoter)-p.seen)
}
