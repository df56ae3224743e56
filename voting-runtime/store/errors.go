package store

import "errors"

// sentinels are the errors a store returns as they are, never wrapped in its
// own words: callers match them with errors.Is.
var sentinels = []error{
	ErrNotFound, ErrAlreadyVoted, ErrLockedOut, ErrRollLocked, ErrNotOpen, ErrClosed, ErrNotDue,
	ErrNoBoard, ErrBoardFinished, ErrNotClosedYet, ErrBallotOnBoard, ErrNotVotersCredential,
	ErrProxyChain, ErrProxyCap, ErrProxyGiven, ErrNoMandate,
}

// IsSentinel reports whether err is (or wraps) one of this package's errors, which
// a store returns unchanged.
func IsSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
