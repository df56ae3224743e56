package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// Group commit of casts (store.Group): the casts that arrive while a group is
// being committed are stored by the next group's one statement, one transaction
// and one flush to disk for them all, where each took its own. The statement is
// Cast's, over the group's rows: it holds the state row FOR SHARE (the close
// waits for it), stores nothing while the box is shut, and stores a voter's
// participation row and ballot together or neither. A voter is never twice in
// one group (store.Group's Key). A cast the group's statement did not store
// (already voted, not on the roll, the box shut), and every cast of a group whose
// statement failed (a tracker already in the box), is then made alone by castOne,
// which gives its exact outcome: grouping changes when the flush happens, not
// what is checked or answered.

// maxCastGroup bounds a group's statement.
const maxCastGroup = 256

// groupTimeout bounds a group's statement (casts, delivery outcomes): a server
// that does not answer fails the group, whose requests are then made alone.
const groupTimeout = 30 * time.Second

type castRequest struct {
	// ctx is the caller's: a cast whose caller gave up before its group ran is
	// not made (once in a group, it is committed or not with the group)
	ctx     context.Context
	voterID string
	ballot  store.Ballot
}

const castGroupSQL = `WITH box AS (
		SELECT 1 FROM state WHERE NOT closed AND opens_at <= now() AND now() < closes_at FOR SHARE),
	input AS (
		SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[], $4::text[]) AS t(voter_id, payload, weight, tracker)),
	voted AS (
		INSERT INTO participation (voter_id)
		SELECT i.voter_id FROM input i, box WHERE EXISTS (SELECT 1 FROM roll r WHERE r.voter_id = i.voter_id)
		ON CONFLICT DO NOTHING RETURNING voter_id),
	stored AS (
		INSERT INTO ballots (payload, weight, tracker)
		SELECT i.payload, i.weight, i.tracker FROM input i JOIN voted v USING (voter_id) RETURNING 1)
	SELECT voter_id FROM voted`

// commitCasts is a group's statement.
func (s *Store) commitCasts(take func() []*castRequest) []error {
	group := take()
	errs := make([]error, len(group))
	// a group is never cut short by one voter leaving, only by the server not
	// answering
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	var ids, trackers []string
	var payloads [][]byte
	var weights []int64
	var in []int // the group's index of each row
	for i, r := range group {
		if errs[i] = r.ctx.Err(); errs[i] != nil {
			continue
		}
		ids, trackers = append(ids, r.voterID), append(trackers, r.ballot.Tracker)
		payloads, weights = append(payloads, nonNil(r.ballot.Payload)), append(weights, r.ballot.Weight)
		in = append(in, i)
	}
	stored := map[string]bool{}
	if len(in) > 0 {
		s.castStatements.Add(1)
		rows, _ := s.pool.Query(ctx, castGroupSQL, ids, payloads, weights, trackers)
		var id string
		_, err := pgx.ForEachRow(rows, []any{&id}, func() error { stored[id] = true; return nil })
		if err != nil {
			clear(stored) // the statement failed whole: each cast is made alone
		}
	}
	for _, i := range in {
		if r := group[i]; !stored[r.voterID] {
			errs[i] = s.castOne(r.ctx, r.voterID, r.ballot)
		}
	}
	return errs
}
