package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/ballot"
	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/tally"
)

// Casting and counting errors.
var (
	ErrAlreadyVoted = store.ErrAlreadyVoted
	ErrNotTallied   = errors.New("the results are not counted yet")
	ErrNotClosed    = errors.New("the vote is not closed yet")
)

// NotOpenYetError: ballots are accepted from OpensAt.
type NotOpenYetError struct{ OpensAt time.Time }

func (e *NotOpenYetError) Error() string {
	return "the vote opens at " + e.OpensAt.UTC().Format(time.RFC3339)
}

// Questions of the ballot.
func (en *Engine) Questions() []scrutinv1.Question { return en.e.Spec.Questions }

// Cast validates a voter's answers and puts the ballot in the box, marking the voter
// as having voted, in one durable transaction. It returns the tracker (the receipt)
// only once the ballot is committed. The ballot carries no trace of the voter.
//
// Whether the box is open is the store's decision, made in the cast's own
// transaction against the schedule and close it records: a cast refused there
// stores nothing, and a cast it accepts is in the count. The phase read here only
// turns ballots away early once the close is recorded.
func (en *Engine) Cast(ctx context.Context, voterID string, answers ballot.Answers) (string, error) {
	return en.castPlain(ctx, voterID, answers, func(b store.Ballot) error { return en.st.Cast(ctx, voterID, b) })
}

// castPlain is a plain ballot's cast for voterID, the ballot (with the voter's
// weight) stored by put: Cast's, and a proxy holder's for their grantor
// (CastFor).
func (en *Engine) castPlain(ctx context.Context, voterID string, answers ballot.Answers, put func(store.Ballot) error) (string, error) {
	if en.Verifiable() {
		en.metrics.rejected("invalid-ballot")
		return "", ErrEncryptedOnly
	}
	if en.state(ctx, false).Closed {
		en.metrics.rejected("closed")
		return "", ErrVoteClosed
	}
	if err := ballot.Validate(en.e.Spec.Questions, answers); err != nil {
		en.metrics.rejected("invalid-ballot")
		return "", err
	}
	v, err := en.voter(ctx, voterID)
	if err != nil {
		return "", errorf("reading the voter", err)
	}
	payload := ballot.Encode(answers)
	tracker, err := ballot.NewTracker(payload)
	if err != nil {
		return "", err
	}
	err = put(store.Ballot{Payload: payload, Weight: v.Weight, Tracker: tracker})
	if shut := en.boxShut(err); shut != nil {
		return "", shut
	}
	switch {
	case errors.Is(err, store.ErrAlreadyVoted):
		en.voterCache.freeze()
		en.metrics.rejected("already-voted")
		return "", ErrAlreadyVoted
	case errors.Is(err, store.ErrNoMandate):
		en.metrics.rejected("no-mandate")
		return "", ErrNoMandate
	case err != nil:
		return "", errorf("casting the ballot", err)
	}
	en.voterCache.freeze() // a ballot is in the box: the roll is fixed
	en.metrics.cast()
	return tracker, nil
}

// boxShut is a cast the store refused because the box is shut, in the
// engine's words (ErrVoteClosed, NotOpenYetError), counted; nil for any other
// outcome.
func (en *Engine) boxShut(err error) error {
	switch {
	case errors.Is(err, store.ErrClosed):
		en.metrics.rejected("closed")
		en.forget()
		return ErrVoteClosed
	case errors.Is(err, store.ErrNotOpen):
		en.metrics.rejected("not-open")
		return &NotOpenYetError{OpensAt: en.Schedule().OpensAt}
	}
	return nil
}

// HasVoted says whether a voter's ballot is in the box.
func (en *Engine) HasVoted(ctx context.Context, voterID string) (bool, error) {
	return en.st.HasVoted(ctx, voterID)
}

// Open records the opening in the audit log, once.
func (en *Engine) Open(ctx context.Context) error {
	st := en.state(ctx, true)
	if en.phaseOf(st, en.now()) == NotYetOpen {
		return &NotOpenYetError{OpensAt: en.scheduleOf(st).OpensAt}
	}
	if en.Verifiable() {
		// the election record and the public credentials are fixed at the opening
		if _, err := en.boardSetup(ctx, true); err != nil {
			return err
		}
	}
	changed, err := en.st.SetOpened(ctx)
	if err != nil || !changed {
		return errorf("recording the opening", err)
	}
	en.forget()
	_, err = en.st.AppendAudit(ctx, store.AuditRecord{Kind: "opened", Data: jsonData(map[string]any{
		"opensAt": en.scheduleOf(st).OpensAt.UTC().Format(time.RFC3339),
	})})
	return errorf("auditing the opening", err)
}

// Close ends the vote once the store's recorded closesAt has passed (by the
// store's clock; ErrNotClosed before): it records the close in the store, which
// waits for the casts in flight and refuses any later one, then appends every
// tracker to the audit log in sorted order, then the closing, then counts and
// records the results. Nothing is read for the count before the close is
// committed, so every acknowledged ballot is counted. It is idempotent and safe
// to call from several replicas: one does the work.
func (en *Engine) Close(ctx context.Context) error {
	state, err := en.st.State(ctx)
	if err != nil {
		return errorf("reading the state", err)
	}
	if state.Results != nil {
		return nil
	}
	changed, err := en.st.SetClosed(ctx)
	if errors.Is(err, store.ErrNotDue) {
		return ErrNotClosed
	}
	if err != nil {
		return errorf("recording the close", err)
	}
	en.forget()
	// the schedule the box closed on (it cannot move any more)
	if state, err = en.st.State(ctx); err != nil {
		return errorf("reading the state", err)
	}
	if en.Verifiable() {
		// the ballots are encrypted: the board keeps them in arrival order, as
		// Belenios's does, and the tally is homomorphic
		return en.closeVerifiable(ctx, changed, state)
	}
	if changed {
		// Waits for casts in flight, then erases arrival order from storage.
		if err := en.st.SealBallots(ctx); err != nil {
			return errorf("sealing the ballot box", err)
		}
	}
	ballots, err := en.st.Ballots(ctx)
	if err != nil {
		return errorf("reading the ballots", err)
	}
	if changed {
		records := make([]store.AuditRecord, 0, len(ballots)+1)
		for _, b := range ballots {
			records = append(records, store.AuditRecord{Kind: "ballot", Data: []byte(b.Tracker)})
		}
		if used, err := en.proxiesUsedRecord(ctx); err != nil {
			return err
		} else if used != nil {
			records = append(records, *used)
		}
		records = append(records, store.AuditRecord{Kind: "closed", Data: jsonData(map[string]any{
			"closesAt": en.scheduleOf(state).ClosesAt.UTC().Format(time.RFC3339), "ballots": len(ballots),
		})})
		if _, err := en.st.AppendAudit(ctx, records...); err != nil {
			return errorf("auditing the close", err)
		}
	}
	weighted := make([]tally.WeightedBallot, 0, len(ballots))
	for i, b := range ballots {
		a, err := ballot.Decode(b.Payload)
		if err != nil {
			return fmt.Errorf("ballot %d of the box cannot be read: %w", i, err)
		}
		weighted = append(weighted, tally.WeightedBallot{Answers: a, Weight: b.Weight})
	}
	results, err := tally.Count(en.e.Spec.Questions, weighted)
	if err != nil {
		return errorf("counting", err)
	}
	return en.recordResults(ctx, results)
}

// recordResults records the results in the store once, and audits them from the
// one replica whose call recorded them.
func (en *Engine) recordResults(ctx context.Context, results []scrutinv1.QuestionResult) error {
	data, err := json.Marshal(results)
	if err != nil {
		return err
	}
	recorded, err := en.st.SetResults(ctx, data)
	if err != nil {
		return errorf("recording the results", err)
	}
	if recorded {
		_, err = en.st.AppendAudit(ctx, store.AuditRecord{Kind: "tallied", Data: data})
	}
	return errorf("auditing the results", err)
}

// Results are the counts per question, once the vote is closed and counted.
func (en *Engine) Results(ctx context.Context) ([]scrutinv1.QuestionResult, error) {
	state, err := en.st.State(ctx)
	if err != nil {
		return nil, errorf("reading the state", err)
	}
	if state.Results == nil {
		return nil, ErrNotTallied
	}
	var results []scrutinv1.QuestionResult
	return results, json.Unmarshal(state.Results, &results)
}

// Board lists every tracker, sorted, once the vote is closed: each voter finds
// theirs there.
func (en *Engine) Board(ctx context.Context) ([]string, error) {
	if !en.state(ctx, false).Closed {
		return nil, ErrNotClosed
	}
	if en.Verifiable() {
		trackers, err := en.countedTrackers(ctx)
		return trackers, errorf("reading the counted ballots", err)
	}
	ballots, err := en.st.Ballots(ctx)
	if err != nil {
		return nil, errorf("reading the ballots", err)
	}
	trackers := make([]string, len(ballots))
	for i, b := range ballots {
		trackers[i] = b.Tracker
	}
	return trackers, nil
}

func jsonData(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of strings and numbers are given
	}
	return data
}
