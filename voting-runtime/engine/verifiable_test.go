package engine

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/belenios"
	"scrutin.dev/scrutin/voting-runtime/enginetest"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// externalEngine is an engine of a verifiable election whose public
// credentials are the tenant's (pubcreds), decrypted by one external trustee.
func externalEngine(t *testing.T, pubcreds []byte) (*Engine, store.Store) {
	t.Helper()
	return externalEngineOpening(t, pubcreds, time.Date(2030, 5, 1, 8, 0, 0, 0, time.UTC))
}

// externalEngineOpening is externalEngine opening at opens (for ten hours).
func externalEngineOpening(t *testing.T, pubcreds []byte, opens time.Time) (*Engine, store.Store) {
	t.Helper()
	uuid, err := belenios.NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	return externalEngineUUID(t, pubcreds, opens, uuid)
}

// externalEngineUUID is externalEngineOpening with the election's uuid.
func externalEngineUUID(t *testing.T, pubcreds []byte, opens time.Time, uuid string) (*Engine, store.Store) {
	t.Helper()
	g := belenios.Belenios2048()
	_, pub, err := belenios.NewTrusteeKey(g)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := belenios.Marshal(pub)
	if err != nil {
		t.Fatal(err)
	}
	e := &scrutinv1.Election{
		ObjectMeta: metav1.ObjectMeta{Namespace: "tenant", Name: "board"},
		Spec: scrutinv1.ElectionSpec{
			Title: "Board", Organization: "Association",
			Schedule: scrutinv1.Schedule{OpensAt: metav1.NewTime(opens), ClosesAt: metav1.NewTime(opens.Add(10 * time.Hour))},
			Questions: []scrutinv1.Question{
				{ID: "chair", Prompt: "Chair?", Options: []scrutinv1.Option{{ID: "alice", Label: "Alice"}, {ID: "bob", Label: "Bob"}}, AllowBlank: true},
			},
			Authentication: scrutinv1.Authentication{Method: scrutinv1.EmailCode},
			Verifiability: &scrutinv1.Verifiability{Mode: scrutinv1.VerifiabilityBelenios, CredentialAuthority: scrutinv1.CredentialAuthorityExternal,
				PublicCredentials: &scrutinv1.SecretReference{Name: "credentials"},
				Trustees:          &scrutinv1.Trustees{External: []scrutinv1.ExternalTrustee{{Name: "alice", PublicKey: string(pk)}}}},
		},
	}
	e.Default()
	st, h := enginetest.Store(t)
	en, err := New(Config{Election: e, Store: st, Hasher: h, Verifiable: Verifiable{UUID: uuid, Pubcreds: pubcreds}})
	if err != nil {
		t.Fatal(err)
	}
	return en, st
}

// pubcredsOf writes a .pubcreds file for voters (id → weight), each with a
// fresh credential.
func pubcredsOf(t *testing.T, voters []string, weights []int64) []byte {
	t.Helper()
	g := belenios.Belenios2048()
	var pcs []belenios.PublicCredential
	for i, id := range voters {
		c, err := belenios.NewCredential()
		if err != nil {
			t.Fatal(err)
		}
		pcs = append(pcs, belenios.PublicCredential{Credential: belenios.PublicCredentialOf(g, c, "123456789abcdef"), Weight: weights[i], VoterID: id})
	}
	var buf bytes.Buffer
	if err := belenios.WritePubcreds(&buf, pcs); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestExternalCredentialsImportRefusesAMismatchedRoll: with the tenant's
// public credentials, the roll is imported only when every voter has exactly
// one, of the roll's weight; otherwise nothing is imported and the error names
// the voter and the public credential's position.
func TestExternalCredentialsImportRefusesAMismatchedRoll(t *testing.T) {
	ctx := context.Background()
	voters := []string{"V-1", "V-2", "V-3"} // enginetest.Roll: V-2 has weight 2
	for _, c := range []struct {
		name     string
		pubcreds []byte
		want     string
	}{
		{"a voter without a credential", pubcredsOf(t, voters[:2], []int64{1, 2}), "voter V-3 has no public credential"},
		{"a credential for no voter of the roll", pubcredsOf(t, append(voters, "V-9"), []int64{1, 2, 1, 1}), "public credential 4: voter V-9 is not on the roll"},
		{"another weight", pubcredsOf(t, voters, []int64{1, 1, 1}), "public credential 2: voter V-2 has weight 1 there and 2 on the roll"},
		{"a voter twice", pubcredsOf(t, []string{"V-1", "V-2", "V-3", "V-1"}, []int64{1, 2, 1, 1}), "public credential 4: voter V-1 has public credential 1 already"},
		{"not a .pubcreds file", []byte("V-1 XXX\n"), "public-credentials"},
	} {
		t.Run(c.name, func(t *testing.T) {
			en, st := externalEngine(t, c.pubcreds)
			_, err := en.ImportRoll(ctx, strings.NewReader(enginetest.Roll))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("import: %v, want an error naming %q", err, c.want)
			}
			if d, err := st.RollDigest(ctx); err != nil || d != "" {
				t.Errorf("roll digest %q (%v) after a refused import: want none", d, err)
			}
		})
	}
	t.Run("the roll's voters, weights and all", func(t *testing.T) {
		pubcreds := pubcredsOf(t, voters, []int64{1, 2, 1})
		en, st := externalEngine(t, pubcreds)
		if _, err := en.ImportRoll(ctx, strings.NewReader(enginetest.Roll)); err != nil {
			t.Fatal(err)
		}
		pcs, err := belenios.ReadPubcreds(bytes.NewReader(pubcreds))
		if err != nil {
			t.Fatal(err)
		}
		for _, pc := range pcs {
			v, err := st.Voter(ctx, pc.VoterID)
			if err != nil || v.PublicCredential != pc.Credential.String() {
				t.Errorf("voter %s: public credential %q (%v), want the file's", pc.VoterID, v.PublicCredential, err)
			}
		}
	})
}

// TestVerifiableModeRefusesPlainAnswersAndReissues: in the verifiable mode a
// plain cast is refused (ErrEncryptedOnly) and stores nothing, and the hotline
// cannot re-issue a Platform Belenios credential (its public part is fixed).
func TestVerifiableModeRefusesPlainAnswersAndReissues(t *testing.T) {
	ctx := context.Background()
	en, st := externalEngine(t, pubcredsOf(t, []string{"V-1", "V-2", "V-3"}, []int64{1, 2, 1}))
	if _, err := en.ImportRoll(ctx, strings.NewReader(enginetest.Roll)); err != nil {
		t.Fatal(err)
	}
	if _, err := en.Cast(ctx, "V-1", map[string][]string{"chair": {"alice"}}); !errors.Is(err, ErrEncryptedOnly) {
		t.Fatalf("a plain cast: %v, want ErrEncryptedOnly", err)
	}
	if voted, err := st.HasVoted(ctx, "V-1"); err != nil || voted {
		t.Errorf("after a refused plain cast, the voter has voted: %v %v", voted, err)
	}
	en.e.Spec.Verifiability.CredentialAuthority = scrutinv1.CredentialAuthorityPlatform
	if _, err := en.Resend(ctx, "V-1", "hotline-agent"); !errors.Is(err, ErrCredentialFixed) {
		t.Errorf("a re-issue of a Platform Belenios credential: %v, want ErrCredentialFixed", err)
	}
}

// TestVerifiableBoardWaitsForTheOpening: before the opening the election
// record is not published (its bytes are fixed at the opening, with the
// public credentials), an encrypted cast is refused as not open, and no
// trustee can upload anything.
func TestVerifiableBoardWaitsForTheOpening(t *testing.T) {
	ctx := context.Background()
	en, st := externalEngine(t, pubcredsOf(t, []string{"V-1", "V-2", "V-3"}, []int64{1, 2, 1}))
	if _, err := en.ImportRoll(ctx, strings.NewReader(enginetest.Roll)); err != nil {
		t.Fatal(err)
	}
	if _, err := en.ElectionJSON(ctx); !errors.Is(err, ErrBoardNotReady) {
		t.Errorf("the election record before the opening: %v, want ErrBoardNotReady", err)
	}
	var notOpen *NotOpenYetError
	if _, err := en.CastEncrypted(ctx, "V-1", []byte(`{}`)); !errors.As(err, &notOpen) {
		t.Errorf("an encrypted cast before the opening: %v, want NotOpenYetError", err)
	}
	if err := en.SubmitPartialDecryption(ctx, 1, []byte(`{}`)); !errors.Is(err, ErrBoardNotReady) {
		t.Errorf("a partial decryption before the opening: %v, want ErrBoardNotReady", err)
	}
	if _, err := st.BoardSetup(ctx); !errors.Is(err, store.ErrNoBoard) {
		t.Errorf("the board's setup before the opening: %v, want none", err)
	}
}

// TestVerifiableOpeningFixesTheBoard: the opening records the board's setup
// (the tenant's uuid, the election record ballots will carry, every voter's
// public credential); afterwards another roll is refused, since its voters'
// credentials would not be on the board.
func TestVerifiableOpeningFixesTheBoard(t *testing.T) {
	ctx := context.Background()
	en, st := externalEngineOpening(t, pubcredsOf(t, []string{"V-1", "V-2", "V-3"}, []int64{1, 2, 1}), time.Now().Add(-time.Minute))
	if _, err := en.ImportRoll(ctx, strings.NewReader(enginetest.Roll)); err != nil {
		t.Fatal(err)
	}
	if err := en.Open(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := en.ElectionJSON(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := belenios.ParseElection(raw)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Election.UUID != en.vf.cfg.UUID || len(rec.Election.Questions) != 1 {
		t.Errorf("the election record: uuid %s (the tenant's %s), %d questions", rec.Election.UUID, en.vf.cfg.UUID, len(rec.Election.Questions))
	}
	setup, err := st.BoardSetup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := parseSetup(setup)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"V-1", "V-2", "V-3"} {
		v, err := st.Voter(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if w, ok := s.weights[v.PublicCredential]; !ok || w != v.Weight {
			t.Errorf("voter %s's public credential is on the board with weight %d (%v), want %d", id, w, ok, v.Weight)
		}
	}
	other := strings.Replace(enginetest.Roll, "Camille Martin", "Camille Martin-Durand", 1) // the same voters and credentials
	if _, err := en.ImportRoll(ctx, strings.NewReader(other)); !errors.Is(err, store.ErrRollLocked) {
		t.Errorf("another roll after the opening: %v, want ErrRollLocked", err)
	}
}

// TestEncryptedCastsBudgetPerVoter: checking an encrypted ballot costs tens of
// milliseconds of CPU whether it is good or not, so a voter may send
// encryptedCastBurst of them at once and is then told to wait, before any check;
// another voter's budget is untouched.
func TestEncryptedCastsBudgetPerVoter(t *testing.T) {
	ctx := context.Background()
	en, _ := externalEngineOpening(t, pubcredsOf(t, []string{"V-1", "V-2", "V-3"}, []int64{1, 2, 1}), time.Now().Add(-time.Minute))
	if _, err := en.ImportRoll(ctx, strings.NewReader(enginetest.Roll)); err != nil {
		t.Fatal(err)
	}
	if err := en.Open(ctx); err != nil {
		t.Fatal(err)
	}
	junk := []byte(`{"election_uuid":"x"}`)
	for i := range encryptedCastBurst {
		var be *belenios.BallotError
		if _, err := en.CastEncrypted(ctx, "V-1", junk); !errors.As(err, &be) {
			t.Fatalf("ballot %d of the burst: %v, want it checked and refused as a ballot", i+1, err)
		}
	}
	var limited *RateLimitedError
	if _, err := en.CastEncrypted(ctx, "V-1", junk); !errors.As(err, &limited) || !limited.Ballots || limited.RetryAfter <= 0 {
		t.Fatalf("a ballot past the burst: %v, want a RateLimitedError for ballots with a wait", err)
	}
	var be *belenios.BallotError
	if _, err := en.CastEncrypted(ctx, "V-2", junk); !errors.As(err, &be) {
		t.Errorf("another voter's ballot: %v, want it checked", err)
	}
}
