package store

import (
	"context"
	"iter"
	"time"
)

// The outbox: every code and every credential letter is a row in the election's
// store before it is sent. Workers on any replica claim rows (PostgreSQL: FOR UPDATE
// SKIP LOCKED; embedded: in one BEGIN IMMEDIATE transaction), send them, and record
// the outcome; a row whose worker died (kill -9, OOM, rollout) is claimed again once
// its lease has passed, and is sent with the same sealed content: a duplicate never
// carries a different secret. The store never sees a message in clear: Sealed is
// encrypted by the caller with a key from the election's keys Secret, and is erased
// (set to nil) once the message is sent, given up or withdrawn.

// Channel of a message.
const (
	ChannelMail = "mail"
	ChannelSMS  = "sms"
)

// Kind of a message.
const (
	KindCode       = "code"       // a sign-in code
	KindCredential = "credential" // a credential letter
	KindNotice     = "notice"     // a notice: a proxy given or withdrawn
)

// DeliveryState of a message.
type DeliveryState string

const (
	// Queued: waiting to be sent, being sent, or waiting to be retried.
	DeliveryQueued DeliveryState = "queued"
	// Sent: the mail server or the SMS gateway accepted it.
	DeliverySent DeliveryState = "sent"
	// Failed: given up (refused for good, or worthless once past NotAfter);
	// Reason says why, as a class, never an address.
	DeliveryFailed DeliveryState = "failed"
	// Delivered and Bounced: what the gateway reported afterwards, where it does.
	DeliveryDelivered DeliveryState = "delivered"
	DeliveryBounced   DeliveryState = "bounced"
	// Withdrawn: never sent, and never to be (a code the voter was told to ask
	// again for, a credential letter superseded by a re-issued one).
	DeliveryWithdrawn DeliveryState = "withdrawn"
)

// OutboxMessage is one message of the outbox.
type OutboxMessage struct {
	// ID is given by the store at enqueue time.
	ID      int64
	VoterID string
	Kind    string // KindCode, KindCredential or KindNotice
	Channel string // ChannelMail or ChannelSMS
	// Sealed is the message (recipient, subject, body) encrypted by the caller;
	// nil once erased (sent, failed, withdrawn) and in every listing but Claim's.
	Sealed []byte
	// NotAfter: the message is worthless after it (a code past its validity, a
	// letter after the close); a queued message is then failed with reason
	// "expired" instead of being sent.
	NotAfter  time.Time
	CreatedAt time.Time
	// Attempts made so far (Claim counts one).
	Attempts int
	State    DeliveryState
	// Reason of the last failure or retry, a short class such as
	// "smtp-5xx-mailbox" or "expired"; never an address nor a secret.
	Reason string
	// NextAt is when a queued message may next be claimed.
	NextAt time.Time
	// UpdatedAt is when the state last changed (sent, failed...).
	UpdatedAt time.Time
}

// OutboxOutcome is what a worker records after one attempt.
type OutboxOutcome struct {
	// State: DeliverySent, DeliveryFailed (for good), or DeliveryQueued (retry at
	// RetryAt).
	State   DeliveryState
	Reason  string
	RetryAt time.Time
}

// DeliveryCount counts messages of one channel, kind and state.
type DeliveryCount struct {
	Channel string
	Kind    string
	State   DeliveryState
	N       int64
	// OldestCreatedAt is the CreatedAt of the oldest message counted (queued
	// ones: how far behind delivery is).
	OldestCreatedAt time.Time
}

// RollEntry is one voter to import, with their credential letter (Credential
// method) enqueued in the import's own transaction: a kill during the import
// leaves neither voters without letters nor letters without voters.
type RollEntry struct {
	Voter  Voter
	Letter *OutboxMessage // nil: no letter
}

// RollEntries streams a roll to ImportRoll in file order; an error stops the
// import, which then leaves nothing.
type RollEntries = iter.Seq2[RollEntry, error]

// Outbox is the durable outbox every store keeps.
type Outbox interface {
	// Enqueue stores messages (ID, State, Attempts, CreatedAt and NextAt are
	// set by the store: queued, now) and returns their IDs in order.
	Enqueue(ctx context.Context, msgs ...OutboxMessage) ([]int64, error)
	// Claim takes up to limit messages of the channel that are queued and due
	// (NextAt passed), or whose previous claim's lease has run out, oldest
	// first; it counts an attempt and leases each for lease. Messages past
	// NotAfter are failed ("expired") instead of being returned. Two claims,
	// from any process, never return the same message while its lease runs.
	Claim(ctx context.Context, channel string, limit int, lease time.Duration) ([]OutboxMessage, error)
	// Finish records an attempt's outcome; attempt is the message's Attempts as
	// Claim returned it: a worker whose lease was lost (the message was claimed
	// again since) records nothing and gets false. Sent and failed erase Sealed.
	Finish(ctx context.Context, id int64, attempt int, o OutboxOutcome) (bool, error)
	// Withdraw marks queued messages of a voter and kind withdrawn, erasing
	// them (a re-issued credential supersedes the old letter; a code the voter
	// was told to ask again for). It returns how many.
	Withdraw(ctx context.Context, voterID, kind string) (int, error)
	// Report records what a gateway said afterwards of a sent message
	// (DeliveryDelivered or DeliveryBounced).
	Report(ctx context.Context, id int64, state DeliveryState, reason string) error
	// Deliveries lists a voter's messages, newest first, without Sealed.
	Deliveries(ctx context.Context, voterID string, limit int) ([]OutboxMessage, error)
	// DeliveryCounts counts every message by channel, kind and state.
	DeliveryCounts(ctx context.Context) ([]DeliveryCount, error)
	// ReissueCredential is the hotline's re-issue of a credential letter, in one
	// transaction: voterID's credential hash becomes hash (the old credential
	// stops working), their queued credential letters are withdrawn (erased),
	// their sessions end, and letter is enqueued as Enqueue does. A voter who
	// has voted: ErrAlreadyVoted, nothing changed; not on the roll: ErrNotFound.
	// It returns how many letters were withdrawn and the new letter's ID.
	ReissueCredential(ctx context.Context, voterID string, hash []byte, letter OutboxMessage) (withdrawn int, id int64, err error)
	// Unreached lists the messages that failed or bounced and were not followed
	// by another of the same voter and kind (queued, sent or delivered): the
	// voters not reached, for the hotline. Newest first, at most limit, without
	// Sealed.
	Unreached(ctx context.Context, limit int) ([]OutboxMessage, error)
}
