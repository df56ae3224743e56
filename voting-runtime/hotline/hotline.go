// Package hotline holds what the runtime's control API says of a voter to the
// hotline (GET /control/v1/voters/{id}, /control/v1/deliveries/unreached): the
// wire types the runtime writes and kubectl scrutin reads.
package hotline

import "time"

// VoterState is what the hotline may see of a voter's sign-in and of the
// messages sent to them: never a code, a credential, a hash, nor an address.
type VoterState struct {
	VoterID          string `json:"voterId"`
	OnRoll           bool   `json:"onRoll"`
	Method           string `json:"method,omitempty"`
	Channel          string `json:"channel,omitempty"`
	ChannelAvailable bool   `json:"channelAvailable"`
	Voted            bool   `json:"voted"`
	// PendingSignIn is nil when no code is waiting to be typed.
	PendingSignIn *PendingState `json:"pendingSignIn"`
	// Failures are the wrong codes since the last lockout or sign-in, out of
	// MaxFailures.
	Failures    int `json:"failures"`
	MaxFailures int `json:"maxFailures"`
	// Lockouts since the last successful sign-in; Locked until LockedUntil.
	Lockouts       int        `json:"lockouts"`
	Locked         bool       `json:"locked"`
	LockedUntil    *time.Time `json:"lockedUntil,omitempty"`
	LastFailureAt  *time.Time `json:"lastFailureAt,omitempty"`
	LastCodeSentAt *time.Time `json:"lastCodeSentAt,omitempty"`
	// NextCodeAfter is when another code can be asked for, if later than now.
	NextCodeAfter *time.Time `json:"nextCodeAfter,omitempty"`
	// Deliveries are the voter's latest messages (codes and credential
	// letters), newest first, as the election's store records them: what every
	// replica sees.
	Deliveries []Delivery `json:"deliveries"`
	Now        time.Time  `json:"now"`
}

// PendingState is a pending sign-in, without its codes.
type PendingState struct {
	Codes     int       `json:"codes"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Delivery is one message sent (or to be sent) to a voter, in words without
// the code, the credential or the address.
type Delivery struct {
	// Kind: "code" or "credential" (a credential letter).
	Kind string `json:"kind"`
	// Channel: "mail" or "sms".
	Channel string `json:"channel"`
	// State: queued, sent, failed, delivered, bounced or withdrawn.
	State string `json:"state"`
	// Reason is the class of the last failure or retry ("smtp-5xx-mailbox",
	// "expired"...), never an address.
	Reason    string    `json:"reason,omitempty"`
	Attempts  int       `json:"attempts"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// UnreachedVoter is a voter the latest message of a kind did not reach.
type UnreachedVoter struct {
	VoterID string `json:"voterId"`
	Delivery
}
