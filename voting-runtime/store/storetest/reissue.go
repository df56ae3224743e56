package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// Reissue checks ReissueCredential, the hotline's re-issue of a credential
// letter, on a new store open gives: in one transaction the voter's hash is
// replaced, their queued letters withdrawn and erased (a sent one is left as it
// is), their sessions ended and the new letter queued; a voter who voted, or
// one not on the roll, changes nothing. Each store's tests call it.
func Reissue(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	importRoll(t, s, voters(3), "reissue")
	OpenBox(t, s)

	// v0002 has a letter sent and one still queued (a retry), and a session.
	letters := enqueue(t, s, message("v0002", store.KindCredential, store.ChannelMail), message("v0002", store.KindCredential, store.ChannelMail),
		message("v0002", store.KindCode, store.ChannelMail), message("v0003", store.KindCredential, store.ChannelMail))
	claimed := claim(t, s, store.ChannelMail, 1, time.Minute)
	if len(claimed) != 1 || claimed[0].ID != letters[0] || !finish(t, s, letters[0], 1, sent) {
		t.Fatalf("sending the first letter: %+v", claimed)
	}
	session := store.Session{IDHash: []byte("session-of-v0002"), VoterID: "v0002", CreatedAt: at(0), LastSeenAt: at(0)}
	if err := s.CreateSession(ctx, session); err != nil {
		t.Fatal(err)
	}
	other := store.Session{IDHash: []byte("session-of-v0003"), VoterID: "v0003", CreatedAt: at(0), LastSeenAt: at(0)}
	if err := s.CreateSession(ctx, other); err != nil {
		t.Fatal(err)
	}

	hash := []byte("the-new-credential-hash")
	letter := message("v0002", store.KindCredential, store.ChannelMail)
	withdrawn, id, err := s.ReissueCredential(ctx, "v0002", hash, letter)
	if err != nil || withdrawn != 1 || id <= letters[3] {
		t.Fatalf("ReissueCredential: withdrawn %d, id %d, %v; want 1 withdrawn and a new id", withdrawn, id, err)
	}
	if v, err := s.Voter(ctx, "v0002"); err != nil || !bytes.Equal(v.CredentialHash, hash) {
		t.Errorf("the voter's hash after the re-issue: %q, %v", v.CredentialHash, err)
	}
	if d := delivery(t, s, "v0002", letters[0]); d.State != store.DeliverySent {
		t.Errorf("the letter already sent: %s, want sent", d.State)
	}
	if d := delivery(t, s, "v0002", letters[1]); d.State != store.DeliveryWithdrawn {
		t.Errorf("the letter still queued: %s, want withdrawn", d.State)
	}
	if d := delivery(t, s, "v0002", letters[2]); d.State != store.DeliveryQueued {
		t.Errorf("the voter's code: %s, want queued (a re-issue withdraws letters only)", d.State)
	}
	if d := delivery(t, s, "v0003", letters[3]); d.State != store.DeliveryQueued {
		t.Errorf("another voter's letter: %s, want queued", d.State)
	}
	if d := delivery(t, s, "v0002", id); d.State != store.DeliveryQueued || d.Kind != store.KindCredential {
		t.Errorf("the new letter: %+v", d)
	}
	if _, err := s.Session(ctx, session.IDHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the voter's session after the re-issue: %v, want ErrNotFound", err)
	}
	if _, err := s.Session(ctx, other.IDHash); err != nil {
		t.Errorf("another voter's session: %v", err)
	}
	// The withdrawn letter is never claimed; the new one is, with its content.
	var got []store.OutboxMessage
	for _, m := range claim(t, s, store.ChannelMail, 10, time.Minute) {
		if m.VoterID == "v0002" && m.Kind == store.KindCredential {
			got = append(got, m)
		}
	}
	if len(got) != 1 || got[0].ID != id || !bytes.Equal(got[0].Sealed, letter.Sealed) {
		t.Errorf("claimed letters of v0002 after the re-issue: %+v, want the new one alone", got)
	}

	// Voted: refused, nothing changed.
	if err := s.Cast(ctx, "v0003", ballot("tracker-v0003")); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Voter(ctx, "v0003")
	if _, _, err := s.ReissueCredential(ctx, "v0003", []byte("another-hash"), message("v0003", store.KindCredential, store.ChannelMail)); !errors.Is(err, store.ErrAlreadyVoted) {
		t.Errorf("ReissueCredential after a cast: %v, want ErrAlreadyVoted", err)
	}
	if v, _ := s.Voter(ctx, "v0003"); !bytes.Equal(v.CredentialHash, before.CredentialHash) {
		t.Errorf("a refused re-issue changed the hash")
	}
	if d := delivery(t, s, "v0003", letters[3]); d.State != store.DeliveryQueued {
		t.Errorf("a refused re-issue changed the queued letter: %s", d.State)
	}
	if ms, err := s.Deliveries(ctx, "v0003", 100); err != nil || len(ms) != 1 {
		t.Errorf("a refused re-issue queued a letter: %d messages, %v", len(ms), err)
	}
	if _, _, err := s.ReissueCredential(ctx, "nobody", hash, message("nobody", store.KindCredential, store.ChannelMail)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReissueCredential of a voter not on the roll: %v, want ErrNotFound", err)
	}
}

// Unreached checks Unreached, the voters not reached, on a new store open
// gives: failed and bounced messages, newest first, unless a later message of
// the same voter and kind is queued, sent or delivered; without content.
func Unreached(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	importRoll(t, s, voters(4), "unreached")
	// send claims every due mail and records outcome for the ids in fail (else sent).
	send := func(fail map[int64]bool) {
		t.Helper()
		for _, m := range claim(t, s, store.ChannelMail, 100, time.Minute) {
			o := sent
			if fail[m.ID] {
				o = store.OutboxOutcome{State: store.DeliveryFailed, Reason: "smtp-5xx-mailbox"}
			}
			if !finish(t, s, m.ID, m.Attempts, o) {
				t.Fatalf("finish %d", m.ID)
			}
		}
	}
	first := enqueue(t, s,
		message("v0001", store.KindCode, store.ChannelMail),       // failed, then a code sent: reached
		message("v0002", store.KindCredential, store.ChannelMail), // sent, then bounced
		message("v0003", store.KindCode, store.ChannelMail),       // failed
		message("v0003", store.KindCredential, store.ChannelMail), // sent: another kind
		message("v0004", store.KindCode, store.ChannelMail))       // failed, then a later one withdrawn
	send(map[int64]bool{first[0]: true, first[2]: true, first[4]: true})
	if err := s.Report(ctx, first[1], store.DeliveryBounced, "bounced-mailbox"); err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, message("v0001", store.KindCode, store.ChannelMail), message("v0004", store.KindCode, store.ChannelMail))
	if n, err := s.Withdraw(ctx, "v0004", store.KindCode); err != nil || n != 1 {
		t.Fatalf("Withdraw: %d, %v", n, err)
	}
	// v0001's later code is still queued: it hides the failed one already.
	got, err := s.Unreached(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, m := range got {
		ids = append(ids, m.ID)
		if m.Sealed != nil {
			t.Errorf("Unreached shows message %d's content", m.ID)
		}
	}
	want := []int64{first[4], first[2], first[1]}
	if !slices.Equal(ids, want) {
		t.Errorf("Unreached: %v, want %v (newest first: v0004's failed code, v0003's failed code, v0002's bounced letter)", ids, want)
	}
	if len(got) == 3 && (got[2].State != store.DeliveryBounced || got[2].Reason != "bounced-mailbox" || got[1].Reason != "smtp-5xx-mailbox") {
		t.Errorf("Unreached: %+v", got)
	}
	send(nil) // v0001's later code sent
	if got, err := s.Unreached(ctx, 1); err != nil || len(got) != 1 || got[0].ID != first[4] {
		t.Errorf("Unreached(limit 1): %+v, %v", got, err)
	}
}
