package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/ballot"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// TestVotersFromMemoryOnceTheRollIsFrozen: until a ballot is cast, every read of
// a voter goes to the store, so a roll replaced before the first ballot is
// followed at once (the code goes to the new address); once a ballot is in the
// box the roll cannot change, and a voter's journey reads them from the store
// once (an unknown id every time), with their weight counted as the roll says.
func TestVotersFromMemoryOnceTheRollIsFrozen(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, scrutinv1.EmailCode)
	f.clock.Add(time.Hour) // open

	f.codeFor(t, "V-1", "camille@example.org")
	if _, err := f.en.ImportRoll(ctx, strings.NewReader(strings.Replace(testRoll, "camille@example.org", "camille@new.example.org", 1))); err != nil {
		t.Fatalf("replacing the roll before any ballot: %v", err)
	}
	f.clock.Add(5 * time.Minute) // past the resend cooldown
	f.codeFor(t, "V-1", "camille@new.example.org")
	if got := f.store.readsOf("V-1"); got != 2 {
		t.Errorf("voter reads before any ballot: %d, want 2 (one per sign-in, none kept)", got)
	}

	// V-3's ballot freezes the roll.
	if _, err := f.en.Cast(ctx, "V-3", ballot.Answers{"chair": {"alice"}, "motions": {"m1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.en.ImportRoll(ctx, strings.NewReader(testRoll)); !errors.Is(err, store.ErrRollLocked) {
		t.Fatalf("replacing the roll after a ballot: %v, want ErrRollLocked", err)
	}
	before := f.store.readsOf("V-2")
	f.clock.Add(5 * time.Minute)
	code := f.codeFor(t, "V-2", "jean@example.org")
	if _, _, err := f.en.CompleteSignIn(ctx, "V-2", code); err != nil {
		t.Fatal(err)
	}
	if _, err := f.en.Cast(ctx, "V-2", ballot.Answers{"chair": {"bob"}, "motions": {"m2"}}); err != nil {
		t.Fatal(err)
	}
	if got := f.store.readsOf("V-2") - before; got != 1 {
		t.Errorf("voter reads of a journey once the roll is frozen: %d, want 1", got)
	}
	for range 2 {
		if _, err := f.en.StartSignIn(ctx, "nobody"); !errors.Is(err, ErrUnknownVoter) {
			t.Fatalf("an unknown voter: %v", err)
		}
	}
	if got := f.store.readsOf("nobody"); got != 2 {
		t.Errorf("reads of an unknown id: %d, want 2 (an unknown id is never kept)", got)
	}

	f.clock.Add(10 * time.Hour)
	if err := f.en.Close(ctx); err != nil {
		t.Fatal(err)
	}
	results, err := f.en.Results(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if chair := results[0]; chair.Options[0].Votes != 1 || chair.Options[1].Votes != 2 {
		t.Errorf("chair: %+v, want alice 1 and bob 2 (V-2, read from memory, weighs 2)", chair)
	}
}

// TestReissuedCredentialReadFromTheStore: a voter's credential is checked
// against the store's hash even once the roll is frozen and the voter has been
// read: after a re-issue the old credential no longer signs in, the new one does.
func TestReissuedCredentialReadFromTheStore(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, scrutinv1.Credential)
	f.clock.Add(time.Hour) // open
	letter, err := f.smtp.WaitFor("jean@example.org", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	old := sink.CredentialIn(letter.Body)
	if _, err := f.en.Cast(ctx, "V-3", ballot.Answers{"chair": {"alice"}, "motions": {"m1"}}); err != nil {
		t.Fatal(err) // the roll is frozen
	}
	if _, _, err := f.en.CompleteSignIn(ctx, "V-2", old); err != nil {
		t.Fatalf("the letter's credential: %v", err)
	}
	if _, err := f.en.Resend(ctx, "V-2", "hotline-agent"); err != nil {
		t.Fatalf("re-issuing V-2's credential: %v", err)
	}
	var reissued string
	deadline := time.Now().Add(10 * time.Second)
	for reissued == "" || reissued == old {
		if time.Now().After(deadline) {
			t.Fatal("no second letter for V-2")
		}
		ms := f.smtp.Messages()
		for _, m := range ms {
			if c := sink.CredentialIn(m.Body); len(m.To) == 1 && m.To[0] == "jean@example.org" && c != old && c != "" {
				reissued = c
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, _, err := f.en.CompleteSignIn(ctx, "V-2", old); err == nil {
		t.Error("the re-issued credential's predecessor still signs in")
	}
	if _, _, err := f.en.CompleteSignIn(ctx, "V-2", reissued); err != nil {
		t.Errorf("the new credential: %v", err)
	}
}
