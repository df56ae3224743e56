package postgres

import (
	"context"
	"errors"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// The board of the verifiable mode: the store part of issue 16 replaces this
// file with the real implementation; until then every call fails.

var errBoardPending = errors.New("the verifiable mode's board is not implemented in this store yet")

func (s *Store) InitBoard(context.Context, []byte) ([]byte, error) { return nil, errBoardPending }
func (s *Store) BoardSetup(context.Context) ([]byte, error)        { return nil, errBoardPending }
func (s *Store) CastVerifiable(context.Context, string, store.VerifiableBallot) error {
	return errBoardPending
}
func (s *Store) CountedBallots(context.Context, func(store.VerifiableBallot) error) error {
	return errBoardPending
}
func (s *Store) AppendBoard(context.Context, string, ...store.BoardRecord) (bool, error) {
	return false, errBoardPending
}
func (s *Store) BoardRecords(context.Context, int64, func(store.BoardRecord) error) error {
	return errBoardPending
}
func (s *Store) VoterCredentials(context.Context, func(string, int64) error) error {
	return errBoardPending
}
