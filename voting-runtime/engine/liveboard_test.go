package engine

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"scrutin.dev/scrutin/voting-runtime/belenios"
	"scrutin.dev/scrutin/voting-runtime/enginetest"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// TestBoardTrackersLiveInArrivalOrder: from the opening, BoardTrackers is the
// tracker of every ballot cast, in arrival order, a voter's second ballot
// after the first (both stay; the last counts), each as CastEncrypted
// returned it; a refused ballot is not there. Before the opening there is no
// board; a voter's public credential is the one of the letter.
func TestBoardTrackersLiveInArrivalOrder(t *testing.T) {
	ctx := context.Background()
	g := belenios.Belenios2048()
	uuid, err := belenios.NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"V-1", "V-2", "V-3"}
	creds := map[string]string{}
	var pcs []belenios.PublicCredential
	for i, id := range ids {
		c, err := belenios.NewCredential()
		if err != nil {
			t.Fatal(err)
		}
		creds[id] = c
		pcs = append(pcs, belenios.PublicCredential{Credential: belenios.PublicCredentialOf(g, c, uuid), Weight: []int64{1, 2, 1}[i], VoterID: id})
	}
	var buf bytes.Buffer
	if err := belenios.WritePubcreds(&buf, pcs); err != nil {
		t.Fatal(err)
	}
	en, _ := externalEngineUUID(t, buf.Bytes(), time.Now().Add(time.Hour), uuid)
	if _, err := en.ImportRoll(ctx, strings.NewReader(enginetest.Roll)); err != nil {
		t.Fatal(err)
	}
	if _, err := en.BoardTrackers(ctx); !errors.Is(err, ErrBoardNotReady) {
		t.Errorf("BoardTrackers before the opening: %v, want ErrBoardNotReady", err)
	}
	for i, id := range ids {
		pc, err := en.PublicCredential(ctx, id)
		if err != nil || pc != pcs[i].Credential.String() {
			t.Errorf("PublicCredential(%s) = %s, %v; want the letter's %s", id, pc, err, pcs[i].Credential)
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	if _, err := en.RecordSchedule(ctx, store.Schedule{OpensAt: now.Add(-time.Minute), ClosesAt: now.Add(time.Hour), Version: 2}); err != nil {
		t.Fatal(err)
	}
	if err := en.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if trs, err := en.BoardTrackers(ctx); err != nil || len(trs) != 0 {
		t.Fatalf("BoardTrackers at the opening = %v, %v; want an empty board", trs, err)
	}
	raw, err := en.ElectionJSON(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := belenios.ParseElection(raw)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range []struct {
		id     string
		choice belenios.Plaintext
	}{{"V-2", belenios.Plaintext{{0, 1, 0}}}, {"V-1", belenios.Plaintext{{1, 0, 0}}}, {"V-2", belenios.Plaintext{{0, 0, 1}}}} {
		b, err := belenios.NewBallot(rec, creds[c.id], c.choice)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := en.CastEncrypted(ctx, c.id, b)
		if err != nil {
			t.Fatalf("casting %s's ballot: %v", c.id, err)
		}
		want = append(want, tr)
		got, err := en.BoardTrackers(ctx)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("BoardTrackers after %d casts = %v, %v; want %v", len(want), got, err, want)
		}
	}
	// V-3's credential on V-1's ballot: refused, not on the board
	b, err := belenios.NewBallot(rec, creds["V-3"], belenios.Plaintext{{1, 0, 0}})
	if err != nil {
		t.Fatal(err)
	}
	var be *belenios.BallotError
	if _, err := en.CastEncrypted(ctx, "V-1", b); !errors.As(err, &be) {
		t.Fatalf("V-3's ballot cast by V-1: %v, want it refused", err)
	}
	if got, err := en.BoardTrackers(ctx); err != nil || !slices.Equal(got, want) {
		t.Errorf("BoardTrackers after a refused ballot = %v, %v; want %v", got, err, want)
	}
}
