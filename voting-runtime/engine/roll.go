package engine

import (
	"context"
	"fmt"
	"io"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/auth"
	"scrutin.dev/scrutin/voting-runtime/delivery"
	"scrutin.dev/scrutin/voting-runtime/roll"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// maxRollBytes bounds a roll file (a 1M-voter roll is about 100 MB).
const maxRollBytes = 512 << 20

// ImportRoll reads a roll, checks every line and imports it whole, or not at all.
// With the Credential method, each voter gets a fresh credential, kept as a keyed
// hash and sent by mail once the import is done. Importing the same roll again does
// nothing; a different roll after the first ballot is refused.
func (en *Engine) ImportRoll(ctx context.Context, r io.Reader) (*roll.Roll, error) {
	req := roll.Requirements{Email: true}
	if en.authn().Method == scrutinv1.SMSCode {
		req = roll.Requirements{Phone: true}
	}
	parsed, err := roll.Parse(io.LimitReader(r, maxRollBytes), roll.Options{Require: req})
	if err != nil {
		return nil, err
	}
	if digest, err := en.st.RollDigest(ctx); err != nil {
		return nil, errorf("reading the roll digest", err)
	} else if digest == parsed.Digest {
		return parsed, nil
	}
	voters := make([]store.Voter, len(parsed.Voters))
	credentials := map[string]string{}
	for i, v := range parsed.Voters {
		voters[i] = store.Voter{ID: v.ID, Name: v.Name, Email: v.Email, Phone: v.Phone, Weight: v.Weight}
		if en.authn().Method == scrutinv1.Credential {
			c, err := auth.NewCredential()
			if err != nil {
				return nil, err
			}
			credentials[v.ID] = c
			voters[i].CredentialHash = en.hasher.Sum(auth.DomainCredential, v.ID, c)
		}
	}
	imported, err := en.st.ImportRoll(ctx, parsed.Digest, func(yield func(store.RollEntry, error) bool) {
		for _, v := range voters {
			if !yield(store.RollEntry{Voter: v}, nil) {
				return
			}
		}
	})
	if err != nil {
		return nil, errorf("importing the roll", err)
	}
	if !imported {
		return parsed, nil // another replica imported it
	}
	if _, err := en.st.AppendAudit(ctx, store.AuditRecord{Kind: "roll-imported", Data: jsonData(map[string]any{
		"digest": parsed.Digest, "voters": len(voters),
	})}); err != nil {
		return nil, errorf("auditing the import", err)
	}
	for _, v := range voters {
		c, ok := credentials[v.ID]
		if !ok {
			continue
		}
		if en.mail == nil {
			return nil, fmt.Errorf("the Credential method needs mail delivery")
		}
		// Waits for room in the queue: a roll of 140,000 letters is more than it holds.
		if err := en.mail.EnqueueWait(ctx, en.credentialMessage(v, c), en.e.Spec.Schedule.ClosesAt.Time); err != nil {
			return nil, errorf("queueing a credential letter", err)
		}
	}
	return parsed, nil
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
