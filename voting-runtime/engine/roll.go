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
	"strings"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/auth"
	"scrutin.dev/scrutin/voting-runtime/belenios"
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
	// Unreachable voters: no channel of the election reaches them (no email
	// for mail codes or letters, no phone for SMS codes); the first lines.
	Unreachable      int64
	UnreachableLines []string
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
//
// The parts are read twice, streaming, so that memory stays bounded whatever
// the roll's size: a first pass checks them and computes the digest, keeping no
// voter; a second, only when the store's digest differs, feeds the voters to the
// store's transaction one by one.
func (en *Engine) importRoll(ctx context.Context, parts []rollPart) (*RollImport, error) {
	opts := roll.Options{Require: en.rollRequirements()}
	var pubcreds *pubcredsIndex
	var check func(roll.Voter) error
	if en.externalCredentials() {
		var err error
		if pubcreds, err = readPubcreds(en.vf.cfg.Pubcreds); err != nil {
			return nil, err
		}
		check = pubcreds.check
	}
	// Pass 1: check every part (a bad line names its part and line).
	v := roll.NewValidator(opts)
	for i, p := range parts {
		if err := readPart(v, p, i, len(parts), check); err != nil {
			return nil, err
		}
	}
	summary, err := v.Finish()
	if err != nil {
		return nil, err
	}
	if pubcreds != nil {
		if err := pubcreds.complete(); err != nil {
			return nil, err
		}
	}
	sum := &RollImport{Parts: summary.Parts, Voters: int(summary.Voters), Digest: summary.Digest,
		WarningCount: summary.WarningCount, Unreachable: summary.Unreachable}
	for _, w := range summary.Warnings {
		sum.Warnings = append(sum.Warnings, w.Error())
	}
	for _, u := range summary.UnreachableLines {
		sum.UnreachableLines = append(sum.UnreachableLines, u.Error())
	}
	if digest, err := en.st.RollDigest(ctx); err != nil {
		return nil, errorf("reading the roll digest", err)
	} else if digest == sum.Digest {
		return sum, nil
	}
	if en.Verifiable() {
		// the public credentials are on the board from the opening: another roll
		// would leave its voters without a credential the board knows
		if _, err := en.st.BoardSetup(ctx); err == nil {
			return nil, fmt.Errorf("the board of this verifiable election is set up with the roll imported before: %w", store.ErrRollLocked)
		} else if !errors.Is(err, store.ErrNoBoard) {
			return nil, errorf("reading the board's setup", err)
		}
	}
	credential := en.authn().Method == scrutinv1.Credential
	if (credential || en.platformCredentials()) && en.outbox == nil {
		return nil, errors.New("the Credential method and the platform's Belenios credentials need mail delivery")
	}
	var uuid string
	if en.platformCredentials() {
		if uuid, err = en.beleniosUUID(ctx); err != nil {
			return nil, errorf("reading the election's uuid", err)
		}
	}
	// Pass 2: stream the voters into the store's transaction, each with their
	// credential and sealed letter made on the fly.
	errStop := errors.New("stopped by the store")
	entries := func(yield func(store.RollEntry, error) bool) {
		again := roll.NewValidator(opts)
		for i, p := range parts {
			err := readPart(again, p, i, len(parts), func(rv roll.Voter) error {
				e, err := en.rollEntry(rv, credential, uuid, pubcreds)
				if err != nil {
					return err
				}
				if !yield(e, nil) {
					return errStop
				}
				return nil
			})
			if errors.Is(err, errStop) {
				return
			}
			if err != nil {
				yield(store.RollEntry{}, err)
				return
			}
		}
		if s, err := again.Finish(); err != nil || s.Digest != sum.Digest {
			yield(store.RollEntry{}, errors.New("the roll changed while it was being imported"))
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
	if credential || en.platformCredentials() {
		en.outbox.Wake(store.ChannelMail)
		en.outbox.Wake(store.ChannelSMS)
	}
	return sum, nil
}

// rollRequirements are the channels that reach a voter: the method's, and with
// spec.delivery.fallback the other one too. A voter none reaches is counted
// unreachable (a warning, not an error).
func (en *Engine) rollRequirements() roll.Requirements {
	if en.e.Spec.Delivery.Fallback {
		return roll.Requirements{Email: true, Phone: true}
	}
	if en.authn().Method == scrutinv1.SMSCode {
		return roll.Requirements{Phone: true}
	}
	return roll.Requirements{Email: true}
}

// readPart reads part i of n through v, calling each for every good voter.
func readPart(v *roll.Validator, p rollPart, i, n int, each func(roll.Voter) error) error {
	rc, err := p.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	name := p.name
	if n == 1 {
		name = "" // one file: its lines are the roll's
	}
	return v.ReadPart(roll.Part{Name: name, Index: i, Count: n}, io.LimitReader(rc, maxRollBytes), each)
}

// rollEntry is one voter to import, with their fresh credential's hash under
// the Credential method, their public Belenios credential in the verifiable
// mode (made here with a Platform credential authority: uuid is set; read from
// pubcreds with an External one), and the sealed letter that carries the
// private ones.
func (en *Engine) rollEntry(rv roll.Voter, credential bool, uuid string, pubcreds *pubcredsIndex) (store.RollEntry, error) {
	e := store.RollEntry{Voter: store.Voter{ID: rv.ID, Name: rv.Name, Email: rv.Email, Phone: rv.Phone, Weight: rv.Weight}}
	if pubcreds != nil {
		e.Voter.PublicCredential = pubcreds.byVoter[rv.ID].credential
	}
	var c, bc string
	var err error
	if credential {
		if c, err = auth.NewCredential(); err != nil {
			return e, err
		}
		e.Voter.CredentialHash = en.hasher.Sum(auth.DomainCredential, rv.ID, c)
	}
	if uuid != "" {
		if bc, err = belenios.NewCredential(); err != nil {
			return e, err
		}
		g, err := en.group()
		if err != nil {
			return e, err
		}
		e.Voter.PublicCredential = belenios.PublicCredentialOf(g, bc, uuid).String()
	}
	if c == "" && bc == "" {
		return e, nil
	}
	if ch, to := en.letterChannel(e.Voter); ch != "" {
		m := en.letter(e.Voter, c, bc)
		m.To = to
		row, err := en.outbox.Seal(rv.ID, store.KindCredential, ch, m, en.e.Spec.Schedule.ClosesAt.Time)
		if err != nil {
			return e, err
		}
		e.Letter = &row
	}
	return e, nil
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

// letter is a voter's letter: their sign-in credential (the Credential
// method), their Belenios credential (the verifiable mode's, with a Platform
// credential authority), or both; with the address to vote at, when the
// runtime knows its public URL.
func (en *Engine) letter(v store.Voter, credential, beleniosCredential string) delivery.Message {
	m := en.letterBody(v, credential, beleniosCredential)
	if en.publicURL != "" {
		m.Body += fmt.Sprintf("\n\nPour voter / To vote: %s\n", en.publicURL)
	}
	return m
}

func (en *Engine) letterBody(v store.Voter, credential, beleniosCredential string) delivery.Message {
	if beleniosCredential == "" {
		return en.credentialMessage(v, credential)
	}
	s := en.e.Spec
	opens, closes := s.Schedule.OpensAt.UTC().Format("02/01/2006 15:04"), s.Schedule.ClosesAt.UTC().Format("02/01/2006 15:04")
	var fr, en_ strings.Builder
	fmt.Fprintf(&fr, "%s — %s\n\nVotre identifiant : %s\n", s.Organization, s.Title, v.ID)
	fmt.Fprintf(&en_, "Your voter id: %s\n", v.ID)
	if credential != "" {
		fmt.Fprintf(&fr, "Votre code de vote personnel : %s\n\nGardez ce code secret : il vous permet de voter une fois, du %s au %s (UTC).\n",
			credential, opens, closes)
		fmt.Fprintf(&en_, "Your personal voting credential: %s\n\nKeep it secret: it lets you vote once.\n", credential)
	}
	if beleniosCredential != "" {
		fmt.Fprintf(&fr, "\nVotre code de signature Belenios : %s\n\nCe scrutin est vérifiable : votre bulletin est chiffré sur votre appareil et signé avec ce code, "+
			"du %s au %s (UTC). Gardez-le secret ; vous pouvez voter à nouveau avec lui, seul votre dernier bulletin compte.\n",
			beleniosCredential, opens, closes)
		fmt.Fprintf(&en_, "\nYour Belenios signing credential: %s\n\nThis vote is verifiable: your ballot is encrypted on your device and signed "+
			"with this credential. Keep it secret; you may vote again with it, only your last ballot counts.\n", beleniosCredential)
	}
	subject := s.Title + " — code de vote / voting credential"
	return delivery.Message{VoterID: v.ID, To: v.Email, Subject: subject, Body: fr.String() + "\n" + en_.String()}
}
