package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/auth"
	"scrutin.dev/scrutin/voting-runtime/delivery"
	"scrutin.dev/scrutin/voting-runtime/roll"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// maxRollBytes bounds a roll part (a 1M-voter roll is about 100 MB).
const maxRollBytes = 512 << 20

// RollImport is what an import found.
type RollImport struct {
	// Parts read, in order (one for a single file).
	Parts  int
	Voters int
	Digest string
	// Imported: this call imported the roll (false: it was already in the store,
	// imported by an earlier start or another replica).
	Imported bool
	// Warnings: lines worth a look (see roll.Roll.Warnings), naming their part.
	Warnings     []string
	WarningCount int
}

// rollPart is one part of a roll: a name for messages, and how to read it.
type rollPart struct {
	name string
	open func() (io.ReadCloser, error)
}

// RollParts lists the parts of the roll at path: the file itself, or, for a
// directory (the controller mounts part-0001.csv, part-0002.csv ...), its *.csv
// files in lexical order.
func RollParts(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	names, err := filepath.Glob(filepath.Join(path, "*.csv"))
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("the roll directory %s holds no *.csv part", path)
	}
	return names, nil
}

// ImportRollPath imports the roll at path, a file or a directory of parts (see
// RollParts).
func (en *Engine) ImportRollPath(ctx context.Context, path string) (*RollImport, error) {
	names, err := RollParts(path)
	if err != nil {
		return nil, err
	}
	parts := make([]rollPart, len(names))
	for i, n := range names {
		parts[i] = rollPart{name: filepath.Base(n), open: func() (io.ReadCloser, error) { return os.Open(n) }}
	}
	return en.importRoll(ctx, parts)
}

// ImportRoll imports a roll read from r (one part).
func (en *Engine) ImportRoll(ctx context.Context, r io.Reader) (*RollImport, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxRollBytes))
	if err != nil {
		return nil, err
	}
	return en.importRoll(ctx, []rollPart{{name: "roll", open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}})
}

// importRoll checks every line of every part, then, unless the store already
// holds this roll, imports it whole or not at all. With the Credential method
// each voter gets a fresh credential, kept as a keyed hash, and a sealed letter
// queued in the outbox in the import's own transaction: a restart during the
// import, or a second replica, imports once and sends no letter twice, and a
// letter is never lost. Importing the same roll again does nothing; a different
// roll after the first ballot is refused.
func (en *Engine) importRoll(ctx context.Context, parts []rollPart) (*RollImport, error) {
	req := roll.Requirements{}
	if !en.e.Spec.Delivery.Fallback {
		req = roll.Requirements{Email: true}
		if en.authn().Method == scrutinv1.SMSCode {
			req = roll.Requirements{Phone: true}
		}
	}
	// Pass 1: check every part, naming the part of a bad line.
	sum := &RollImport{Parts: len(parts)}
	var voters []roll.Voter
	hasWeight := false
	for i, p := range parts {
		parsed, err := parsePart(p, req)
		if err != nil {
			if len(parts) > 1 {
				return nil, fmt.Errorf("roll part %s: %w", p.name, err)
			}
			return nil, err
		}
		if i > 0 && parsed.HasWeight != hasWeight {
			return nil, fmt.Errorf("roll part %s: its columns differ from the first part's (weight)", p.name)
		}
		hasWeight = parsed.HasWeight
		voters = append(voters, parsed.Voters...)
		sum.WarningCount += parsed.WarningCount
		for _, w := range parsed.Warnings {
			sum.Warnings = append(sum.Warnings, p.name+": "+w.Error())
		}
	}
	if len(parts) > 1 {
		if err := distinctIDs(voters); err != nil {
			return nil, err
		}
	}
	sum.Voters = len(voters)
	sum.Digest = roll.ComputeDigest(voters, hasWeight)
	if digest, err := en.st.RollDigest(ctx); err != nil {
		return nil, errorf("reading the roll digest", err)
	} else if digest == sum.Digest {
		return sum, nil
	}
	credential := en.authn().Method == scrutinv1.Credential
	if credential && en.outbox == nil {
		return nil, errors.New("the Credential method needs mail delivery")
	}
	closes := en.e.Spec.Schedule.ClosesAt.Time
	// Pass 2: stream the voters into the store's transaction, each with their
	// credential and sealed letter made on the fly.
	entries := func(yield func(store.RollEntry, error) bool) {
		for _, v := range voters {
			e := store.RollEntry{Voter: store.Voter{ID: v.ID, Name: v.Name, Email: v.Email, Phone: v.Phone, Weight: v.Weight}}
			if credential {
				c, err := auth.NewCredential()
				if err != nil {
					yield(e, err)
					return
				}
				e.Voter.CredentialHash = en.hasher.Sum(auth.DomainCredential, v.ID, c)
				if ch, to := en.letterChannel(e.Voter); ch != "" {
					m := en.credentialMessage(e.Voter, c)
					m.To = to
					row, err := en.outbox.Seal(v.ID, store.KindCredential, ch, m, closes)
					if err != nil {
						yield(e, err)
						return
					}
					e.Letter = &row
				}
			}
			if !yield(e, nil) {
				return
			}
		}
	}
	imported, err := en.st.ImportRoll(ctx, sum.Digest, entries)
	if err != nil {
		return nil, errorf("importing the roll", err)
	}
	sum.Imported = imported
	if !imported {
		return sum, nil // another replica imported it
	}
	if _, err := en.st.AppendAudit(ctx, store.AuditRecord{Kind: "roll-imported", Data: jsonData(map[string]any{
		"digest": sum.Digest, "voters": sum.Voters, "parts": sum.Parts,
	})}); err != nil {
		return nil, errorf("auditing the import", err)
	}
	if credential {
		en.outbox.Wake(store.ChannelMail)
		en.outbox.Wake(store.ChannelSMS)
	}
	return sum, nil
}

// parsePart parses one part.
func parsePart(p rollPart, req roll.Requirements) (*roll.Roll, error) {
	rc, err := p.open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return roll.Parse(io.LimitReader(rc, maxRollBytes), roll.Options{Require: req})
}

// distinctIDs refuses a voter id repeated across parts.
func distinctIDs(voters []roll.Voter) error {
	seen := make(map[string]struct{}, len(voters))
	for i, v := range voters {
		if _, ok := seen[v.ID]; ok {
			return fmt.Errorf("roll: the voter on line %d of the whole roll repeats an earlier voter_id", i+2)
		}
		seen[v.ID] = struct{}{}
	}
	return nil
}

// letterChannel is where a voter's credential letter goes: by mail, or, with
// spec.delivery.fallback, by SMS to a voter with a phone and no email; "" when
// the voter cannot be reached.
func (en *Engine) letterChannel(v store.Voter) (string, string) {
	if v.Email != "" && en.outbox.Has(store.ChannelMail) {
		return store.ChannelMail, v.Email
	}
	if v.Phone != "" && en.e.Spec.Delivery.Fallback && en.outbox.Has(store.ChannelSMS) {
		return store.ChannelSMS, v.Phone
	}
	return "", ""
}

// credentialMessage is a voter's credential letter, Belenios-style.
func (en *Engine) credentialMessage(v store.Voter, credential string) delivery.Message {
	s := en.e.Spec
	body := fmt.Sprintf("%s — %s\n\nVotre identifiant : %s\nVotre code de vote personnel : %s\n\n"+
		"Gardez ce code secret : il vous permet de voter une fois, du %s au %s (UTC).\n\n"+
		"Your voter id: %s\nYour personal voting credential: %s\n\nKeep it secret: it lets you vote once.",
		s.Organization, s.Title, v.ID, credential,
		s.Schedule.OpensAt.UTC().Format("02/01/2006 15:04"), s.Schedule.ClosesAt.UTC().Format("02/01/2006 15:04"),
		v.ID, credential)
	return delivery.Message{VoterID: v.ID, To: v.Email, Subject: s.Title + " — code de vote / voting credential", Body: body}
}
