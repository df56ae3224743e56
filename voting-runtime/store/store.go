// Package store defines what the voting-runtime keeps and the guarantees every store
// gives: PostgreSQL (package store/postgres) for several pods, and an embedded store
// (package store/embedded, SQLite) for one. Both pass the same suite
// (store/storetest).
//
// Store is composed of roles, one interface each, so that a consumer can take
// only the one it uses: Schema, Keyring, Roll, SignIns, Sessions, BallotBox,
// Audit, Lifecycle, Outbox (the delivery workers take only this one) and Board
// (the verifiable mode). The rules both stores follow that no database decides
// are functions of this package, which each store calls inside its own
// transaction: RollChange (the roll-lock rule), CheckRollEntry, Guard.Attempt
// (a sign-in attempt), Guard.MaySend (the resend cooldown), ApplyMigrations (the
// migration loop), GenerateKeys, CheckSetup, CheckCloseRecords and IsSentinel
// (the errors returned as they are). Each store keeps only its SQL and the locks
// that make those rules hold across processes.
//
// Guarantees:
//   - Identity and ballots live apart. A Ballot holds no voter id, no session id, no
//     timestamp, and its id is random: nothing in it sorts ballots by arrival or
//     joins them with the participation record.
//   - Credentials and codes are stored only as keyed hashes ([]byte digests made by
//     the caller); the store never sees a clear value.
//   - Cast is one transaction that marks the voter as having voted and stores the
//     ballot. A second Cast for the same voter, concurrent or later, from any
//     process, fails with ErrAlreadyVoted and stores nothing. Cast returns only once
//     the transaction is durable (fsync'd): a returned receipt is never lost.
//   - The store is the one authority on whether the ballot box is open: it records
//     the schedule (SetSchedule) and the close (SetClosed), and Cast accepts a
//     ballot only while the recorded schedule says the box is open and it is not
//     closed, checked in the cast's own transaction. A Cast and the close
//     serialise: a Cast either commits before the close, and is then in every
//     Ballots read after SetClosed returns, or fails with ErrClosed and stores
//     nothing. Every returned receipt is counted.
//   - ImportRoll is all or nothing, letters included, and runs once across processes.
//   - A message in the outbox is leased to one worker at a time; its sealed content
//     never changes, and is erased once the message is sent, failed or withdrawn.
//   - A voter's wrong codes are counted in their Guard, in the same transaction that
//     checks the code (AttemptSignIn): concurrent attempts, from any process, are
//     each counted once, and none is checked while the voter is locked out. The
//     Guard outlives pending sign-ins: a new sign-in resets neither the count, the
//     lockout nor the resend cooldown.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

var (
	// ErrNotFound: no such voter, sign-in or session.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyVoted: this voter's ballot is already in the box.
	ErrAlreadyVoted = errors.New("this voter has already voted")
	// ErrLockedOut: the voter is locked out; nothing of their sign-in changes.
	ErrLockedOut = errors.New("the voter is locked out")
	// ErrRollLocked: the roll cannot change once a ballot is cast.
	ErrRollLocked = errors.New("the roll cannot change once voting has started")
	// ErrNotOpen: the box is not open yet (before the recorded opensAt, or no
	// schedule recorded).
	ErrNotOpen = errors.New("the vote is not open yet")
	// ErrClosed: the box is closed (the recorded closesAt has passed, or the close
	// is recorded); a closed box's schedule cannot move either.
	ErrClosed = errors.New("the vote is closed")
	// ErrNotDue: the close was asked for before the recorded closesAt (or with no
	// schedule recorded).
	ErrNotDue = errors.New("the closing time has not come")
)

// Schedule is the vote's window as the store records it, which every runtime
// process sharing the store follows.
type Schedule struct {
	OpensAt, ClosesAt time.Time
	// Version orders schedules (the Election's metadata.generation): a schedule
	// replaces the recorded one only if its Version is greater. Zero: none.
	Version int64
}

// IsZero reports whether no schedule is recorded.
func (s Schedule) IsZero() bool { return s.Version == 0 }

// Validate checks that a schedule can be recorded.
func (s Schedule) Validate() error {
	switch {
	case s.Version <= 0:
		return fmt.Errorf("a schedule's version must be positive, not %d", s.Version)
	case !s.ClosesAt.After(s.OpensAt):
		return errors.New("a schedule must close after it opens")
	}
	return nil
}

// Voter is one line of the roll as the runtime keeps it.
type Voter struct {
	ID     string
	Name   string
	Email  string
	Phone  string
	Weight int64
	// CredentialHash is the keyed hash of the voter's credential (Credential
	// sign-in), nil for the other methods.
	CredentialHash []byte
	// PublicCredential is the voter's Belenios public credential (g^s, in
	// decimal) in the verifiable mode, "" otherwise. It is public: it is on the
	// board; the private credential is never stored.
	PublicCredential string
}

// PendingSignIn is a sign-in waiting for its code. Several codes may be valid at
// once: a resend never invalidates the code already on its way.
type PendingSignIn struct {
	VoterID string
	// Codes are the keyed hashes of the codes sent, each with its expiry.
	Codes []PendingCode
	// LastSentAt is when the latest code was asked for (the resend cooldown).
	LastSentAt time.Time
	// ExpiresAt ends the pending sign-in (signInTimeout after the first request).
	ExpiresAt time.Time
}

// PendingCode is one code sent for a pending sign-in.
type PendingCode struct {
	Hash      []byte
	ExpiresAt time.Time
}

// Guard is what the store keeps of a voter's sign-in attempts, across pending
// sign-ins, replicas and restarts. It never holds a code.
type Guard struct {
	VoterID string
	// Failures counts the wrong codes (or credentials) since the last lockout or
	// the last successful sign-in.
	Failures int
	// Lockouts counts the lockouts since the last successful sign-in: the step of
	// the escalation.
	Lockouts int
	// LockedUntil ends the latest lockout (zero: never locked out).
	LockedUntil time.Time
	// LastFailureAt is when the latest wrong code was tried (zero: none).
	LastFailureAt time.Time
	// LastSentAt is when the latest code was accepted for delivery (zero: none):
	// the resend cooldown runs from it, whatever became of the pending sign-in.
	LastSentAt time.Time
}

// Locked reports whether the voter is locked out at now.
func (g Guard) Locked(now time.Time) bool { return now.Before(g.LockedUntil) }

// MaySend is the rule of ReserveCode: a code may be sent at now unless the voter
// is locked out or the last one was sent less than cooldown before.
func (g Guard) MaySend(now time.Time, cooldown time.Duration) bool {
	return !g.Locked(now) && (g.LastSentAt.IsZero() || !now.Before(g.LastSentAt.Add(cooldown)))
}

// LockoutPolicy says when wrong codes lock a voter out, and for how long.
type LockoutPolicy struct {
	// MaxFailures wrong codes in a row start a lockout.
	MaxFailures int
	// Lockouts are the lengths of the first, second… lockout; the last one repeats.
	Lockouts []time.Duration
	// DecayAfter without a wrong code, the failures and the escalation are
	// forgotten (0: never).
	DecayAfter time.Duration
}

// Lockout is the length of the n-th lockout (n from 1).
func (p LockoutPolicy) Lockout(n int) time.Duration {
	if len(p.Lockouts) == 0 {
		return 0
	}
	return p.Lockouts[min(max(n, 1), len(p.Lockouts))-1]
}

// Verdict is what a check said of a code (or a credential).
type Verdict int

const (
	// NothingToCheck: no code to compare with (no pending sign-in, or it has
	// expired); not counted.
	NothingToCheck Verdict = iota
	// Wrong: counted as a failure.
	Wrong
	// Right: the sign-in succeeds.
	Right
)

// Attempt is the outcome of AttemptSignIn.
type Attempt struct {
	// Verdict of the check; NothingToCheck when Locked.
	Verdict Verdict
	// Locked: the voter was locked out, the check was not made.
	Locked bool
	// Guard as the attempt left it.
	Guard Guard
}

// Record is g after an attempt judged v at now under policy: a wrong code counts
// one failure, and the MaxFailures-th starts the next lockout (the failures start
// over); a right one clears the failures, the escalation and the resend cooldown
// (the codes it ran for no longer work). A wrong code after policy.DecayAfter
// without any failure starts from nothing: the escalation decays.
func (g Guard) Record(v Verdict, now time.Time, policy LockoutPolicy) Guard {
	switch v {
	case Wrong:
		if policy.DecayAfter > 0 && !g.LastFailureAt.IsZero() && !now.Before(g.LastFailureAt.Add(policy.DecayAfter)) {
			g.Failures, g.Lockouts = 0, 0
		}
		g.Failures++
		g.LastFailureAt = now
		if g.Failures >= policy.MaxFailures {
			g.Lockouts++
			g.Failures = 0
			g.LockedUntil = now.Add(policy.Lockout(g.Lockouts))
		}
	case Right:
		g.Failures, g.Lockouts, g.LockedUntil, g.LastSentAt = 0, 0, time.Time{}, time.Time{}
	}
	return g
}

// Unlocked is g after the hotline's unlock: no lockout, no failure, and the
// escalation starts over. The resend cooldown is kept (a code may be on its way).
func (g Guard) Unlocked() Guard {
	g.Failures, g.Lockouts, g.LockedUntil = 0, 0, time.Time{}
	return g
}

// Attempt is the rule of AttemptSignIn, applied once the voter's guard g is
// held: while the voter is locked out at now, the attempt is refused (Locked) and
// neither pending nor check is called; otherwise check judges the pending
// sign-in (pending's, nil when there is none) and g records the verdict. It
// reports whether the guard changed (a verdict other than NothingToCheck: the
// store writes it) and whether the pending sign-in ends (a right code, or a wrong
// one that starts a lockout: the store deletes it, so its codes no longer work).
func (g Guard) Attempt(now time.Time, policy LockoutPolicy, pending func() (*PendingSignIn, error),
	check func(p *PendingSignIn) Verdict) (a Attempt, record, endSignIn bool, err error) {
	if g.Locked(now) {
		return Attempt{Locked: true, Guard: g}, false, false, nil
	}
	cur, err := pending()
	if err != nil {
		return Attempt{}, false, false, err
	}
	a.Verdict = check(cur)
	a.Guard = g.Record(a.Verdict, now, policy)
	if a.Verdict == NothingToCheck {
		return a, false, false, nil
	}
	return a, true, a.Verdict == Right || a.Guard.Locked(now), nil
}

// OrNone is what a store's read of a pending sign-in means to f in UpdateSignIn
// and to check in AttemptSignIn: the sign-in read, nil when there is none
// (ErrNotFound), or err.
func OrNone(p PendingSignIn, err error) (*PendingSignIn, error) {
	switch {
	case err == nil:
		return &p, nil
	case errors.Is(err, ErrNotFound):
		return nil, nil
	}
	return nil, err
}

// Session is a signed-in voter's session. Its id is itself a random secret: the store
// keeps only its keyed hash.
type Session struct {
	IDHash     []byte
	VoterID    string
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// Ballot is what goes into the box: an opaque payload (today canonical JSON answers;
// tomorrow a Belenios ciphertext), the voter's weight, and the tracker shown to the
// voter as a receipt.
type Ballot struct {
	Payload []byte
	Weight  int64
	Tracker string
}

// ParticipationRow is one voter of the scrutineers' export: who voted, never how.
type ParticipationRow struct {
	Voter Voter
	Voted bool
	// ByProxy: the voter's ballot was cast by their proxy holder.
	ByProxy bool
}

// AuditEntry is one link of the election's hash-chained audit log.
type AuditEntry struct {
	Seq      int64
	Kind     string // "roll-imported", "opened", "ballot" (at close), "closed", "tallied"
	Data     []byte // what the event says (a roll digest, a tracker, results), canonical JSON
	PrevHash string
	Hash     string
}

// AuditRecord is what a caller appends: the store chains it.
type AuditRecord struct {
	Kind string
	Data []byte
}

// State is the election's own lifecycle as the runtime records it.
type State struct {
	Opened  bool
	Closed  bool
	Results []byte // the tally as JSON, once computed
	// Schedule is the recorded schedule (zero when none).
	Schedule Schedule
}

// Store is the runtime's storage: every role below, composed. Every method is
// safe for concurrent use by many goroutines, and for PostgreSQL by many
// processes. A consumer that needs one role takes that role's interface.
type Store interface {
	Schema
	Keyring
	Roll
	SignIns
	Sessions
	BallotBox
	Audit
	Lifecycle
	Outbox
	Board
	Proxies
}

// Schema is the store's own life: its tables and its connections.
type Schema interface {
	// Migrate creates or upgrades the schema; safe when several pods start at once.
	Migrate(ctx context.Context) error
	Close() error
}

// Keyring keeps the election's keys.
type Keyring interface {
	// Keys returns the election's keys stored under name, creating them with gen the
	// first time (local runs, where no keys are given). When several processes
	// create them at once, one value wins and every caller gets it.
	Keys(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error)
}

// Roll is the electoral roll.
type Roll interface {
	// ImportRoll replaces the roll with entries, all or nothing, enqueueing each
	// entry's Letter in the same transaction, and records digest; it reports
	// whether this call imported it. Imports run one at a time across processes:
	// when digest is already imported (by this replica or another, even one that
	// finished while this call waited), it returns false without reading entries.
	// A different digest replaces the roll and withdraws the old roll's queued
	// credential letters, or fails with ErrRollLocked once any ballot is cast
	// (see RollChange). An entry with an empty or repeated voter id, or an error
	// from entries, fails the import and leaves everything as it was (see
	// CheckRollEntry).
	ImportRoll(ctx context.Context, digest string, entries RollEntries) (bool, error)
	// RollDigest is the digest of the roll imported, "" when none: a caller can
	// skip preparing a roll already imported (ImportRoll checks again anyway).
	RollDigest(ctx context.Context) (string, error)
	Voter(ctx context.Context, id string) (Voter, error)
}

// SignIns are the voters' pending sign-ins and the guard that counts their
// attempts.
type SignIns interface {
	// PutSignIn creates or replaces a voter's pending sign-in.
	PutSignIn(ctx context.Context, p PendingSignIn) error
	SignIn(ctx context.Context, voterID string) (PendingSignIn, error)
	DeleteSignIn(ctx context.Context, voterID string) error
	// UpdateSignIn replaces a voter's pending sign-in with f(current) (current nil
	// when there is none), holding the voter's guard: it never interleaves with an
	// AttemptSignIn for that voter. While the voter is locked out at now it changes
	// nothing and returns ErrLockedOut: a code sent just before a concurrent lockout
	// is never recorded.
	UpdateSignIn(ctx context.Context, voterID string, now time.Time, f func(cur *PendingSignIn) PendingSignIn) error

	// Guard returns a voter's guard (the zero Guard for a voter with none).
	Guard(ctx context.Context, voterID string) (Guard, error)
	// AttemptSignIn is one try of a code, in one transaction holding the voter's
	// guard: while the voter is locked out at now, it refuses (Locked) without
	// calling check; otherwise it calls check with the pending sign-in (nil when
	// there is none) and records its verdict (Guard.Record). A Wrong one that starts
	// a lockout, and a Right one, end the pending sign-in: its codes no longer work
	// (see Guard.Attempt). With open (not nil), a Right one also creates the
	// session open in the same transaction: the code is spent and the session
	// begins in one commit, or neither happens (an id hash already in use is an
	// error, and the attempt is then not recorded). Other sessions are not touched.
	AttemptSignIn(ctx context.Context, voterID string, now time.Time, policy LockoutPolicy,
		check func(p *PendingSignIn) Verdict, open *Session) (Attempt, error)
	// ReserveCode records at now that a code is being sent, unless the voter is
	// locked out or a code was sent less than cooldown before now; it returns the
	// guard as it was, and whether the reservation was made. Two replicas never
	// both reserve within the cooldown.
	ReserveCode(ctx context.Context, voterID string, now time.Time, cooldown time.Duration) (Guard, bool, error)
	// SendCode is a code's sending as one transaction holding the voter's guard:
	// unless the voter is locked out at now or a code was sent less than cooldown
	// before now (Guard.MaySend), it records the send at now (the resend
	// cooldown), replaces the voter's pending sign-in with update(current)
	// (current nil when there is none) and queues msg in the outbox, all in one
	// commit. It returns the guard as it was, whether the code was sent (when not,
	// nothing is written and update is not called) and the message's outbox id.
	// The code is recorded when its message can first be claimed: a reply that
	// arrives at once finds it.
	SendCode(ctx context.Context, voterID string, now time.Time, cooldown time.Duration,
		update func(cur *PendingSignIn) PendingSignIn, msg OutboxMessage) (Guard, bool, int64, error)
	// ReleaseCode undoes ReserveCode(…, reservedAt, …) when the code could not be
	// sent: the last sent time goes back to previous, unless another reservation
	// has been made since.
	ReleaseCode(ctx context.Context, voterID string, reservedAt, previous time.Time) error
	// Unlock ends a voter's lockout and forgets their failures and escalation (the
	// hotline's action); it returns the guard as it was before.
	Unlock(ctx context.Context, voterID string) (Guard, error)
}

// Sessions are the signed-in voters' sessions. A session outlives the sign-in
// that opened it: ending or replacing a pending sign-in, or a lockout, leaves it.
type Sessions interface {
	CreateSession(ctx context.Context, s Session) error
	Session(ctx context.Context, idHash []byte) (Session, error)
	// TouchSession records activity (sliding idle timeout); it never moves the
	// last activity back.
	TouchSession(ctx context.Context, idHash []byte, at time.Time) error
	DeleteSession(ctx context.Context, idHash []byte) error
	// DeleteSessionsBefore removes sessions idle since before t; it returns how many.
	DeleteSessionsBefore(ctx context.Context, t time.Time) (int, error)
	// ActiveSessions counts the sessions seen since t.
	ActiveSessions(ctx context.Context, since time.Time) (int64, error)
}

// BallotBox is the ballot box and the participation record beside it.
type BallotBox interface {
	// Cast marks voterID as having voted and stores b, in one durable transaction,
	// if the box is open by the recorded schedule and not closed (ErrNotOpen,
	// ErrClosed otherwise, storing nothing), checked in that transaction.
	// (Trackers enter the audit log at close, sorted: casting never waits on the
	// chain, and the log says nothing of arrival order.)
	Cast(ctx context.Context, voterID string, b Ballot) error
	HasVoted(ctx context.Context, voterID string) (bool, error)
	// Counts are the voters on the roll and the ballots cast.
	Counts(ctx context.Context) (voters, cast int64, err error)
	// SealBallots rewrites the ballot box in one transaction, in tracker order, once
	// the vote is closed: afterwards no ballot shares a transaction id or an
	// arrival-ordered position with its voter's participation record (see
	// docs/threat-model.md). Ballots and trackers are unchanged.
	SealBallots(ctx context.Context) error
	// Ballots returns every ballot, in an order that says nothing of arrival
	// (sorted by tracker).
	Ballots(ctx context.Context) ([]Ballot, error)
	// Participation returns the roll with who voted, sorted by voter id.
	Participation(ctx context.Context) ([]ParticipationRow, error)
}

// Audit is the election's hash-chained audit log.
type Audit interface {
	// AppendAudit adds entries at the head of the chain, in one transaction (the store
	// fills Seq, PrevHash and Hash with audit.Hash); concurrent appends are serialised.
	AppendAudit(ctx context.Context, entries ...AuditRecord) ([]AuditEntry, error)
	AuditLog(ctx context.Context) ([]AuditEntry, error)
	// AuditHead is the hash of the last entry (audit.Genesis when the log is empty).
	AuditHead(ctx context.Context) (string, error)
}

// Lifecycle is the election's schedule and its steps: opened, closed, tallied.
type Lifecycle interface {
	State(ctx context.Context) (State, error)
	// SetSchedule records s if its Version is greater than the recorded one's, and
	// reports whether it did; once the box is closed it fails with ErrClosed. An old
	// process holding a stale schedule can never move the box's schedule back.
	SetSchedule(ctx context.Context, s Schedule) (bool, error)
	// SetOpened, SetClosed and SetResults record a step once: they report whether
	// this call made it, so that among replicas exactly one audits it. A recorded
	// step is never changed (the first results stay).
	SetOpened(ctx context.Context) (bool, error)
	// SetClosed closes the box, only once the recorded closesAt has passed by the
	// store's clock (ErrNotDue before). When it returns, no Cast can commit any
	// more: Ballots read afterwards holds every ballot ever acknowledged.
	SetClosed(ctx context.Context) (bool, error)
	SetResults(ctx context.Context, results []byte) (bool, error)
}
