package engine

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"

	"scrutin.dev/scrutin/voting-runtime/belenios"
	"scrutin.dev/scrutin/voting-runtime/roll"
)

// pubcredsIndex is the tenant's public credentials (External credential
// authority) by voter, as the roll import checks them: every voter of the roll
// exactly once, with the roll's weight.
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

// readPubcreds reads a .pubcreds file ("credential,weight,voter_id" lines, the
// weight perhaps empty); a bad or repeated line is named.
func readPubcreds(data []byte) (*pubcredsIndex, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("public-credentials: an External credential authority needs the public credentials (--credentials-dir)")
	}
	idx := &pubcredsIndex{byVoter: map[string]pubcred{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	g := belenios.Belenios2048()
	creds := map[string]int{}
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		pcs, err := belenios.ReadPubcreds(strings.NewReader(line + "\n"))
		if err != nil || len(pcs) != 1 {
			return nil, fmt.Errorf("public-credentials line %d: not a public credential line (credential,weight,voter_id): %v", n, err)
		}
		pc := pcs[0]
		if pc.VoterID == "" {
			return nil, fmt.Errorf("public-credentials line %d: no voter id", n)
		}
		if !g.IsElement(pc.Credential) {
			return nil, fmt.Errorf("public-credentials line %d (voter %s): the credential is not an element of the group", n, pc.VoterID)
		}
		if first, dup := idx.byVoter[pc.VoterID]; dup {
			return nil, fmt.Errorf("public-credentials line %d: voter %s is on line %d already", n, pc.VoterID, first.line)
		}
		c := pc.Credential.String()
		if first, dup := creds[c]; dup {
			return nil, fmt.Errorf("public-credentials line %d (voter %s): the same credential as line %d", n, pc.VoterID, first)
		}
		creds[c] = n
		w := pc.Weight
		if w == 0 {
			w = 1
		}
		idx.byVoter[pc.VoterID] = pubcred{credential: c, weight: w, line: n}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("public-credentials: %w", err)
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
		return fmt.Errorf("public-credentials line %d: voter %s has weight %d there and %d on the roll", pc.line, v.ID, pc.weight, v.Weight)
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
	return fmt.Errorf("public-credentials line %d: voter %s is not on the roll (%d public credentials for voters not on the roll)",
		first, who, len(p.byVoter)-p.seen)
}
