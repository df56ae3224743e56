package contract

import (
	"time"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// The control API every voting-runtime serves on its operations port (--ops-listen),
// with the election's control token (Authorization: Bearer): the controller
// and the plugin call it, the runtime's server routes it.
const (
	// ControlPrefix is the control API's root.
	ControlPrefix = "/control/v1/"
	// ControlStatus: GET -> RuntimeStatus.
	ControlStatus = ControlPrefix + "status"
	// ControlOpen: POST -> 204 (the runtime also opens by itself at opensAt).
	ControlOpen = ControlPrefix + "open"
	// ControlClose: POST -> 204 (the runtime also closes by itself at closesAt).
	ControlClose = ControlPrefix + "close"
	// ControlSchedule: POST RuntimeSchedule -> 200; 409 once closed.
	ControlSchedule = ControlPrefix + "schedule"
	// ControlResults: GET -> RuntimeResults; 409 until the tally is done.
	ControlResults = ControlPrefix + "results"
	// ControlRecords: GET -> the records archive (tar.gz); 409 until tallied.
	ControlRecords = ControlPrefix + "records"
	// ControlVoters + ID: GET a voter's sign-in state; + ID + ControlUnlock or
	// ControlResend: POST.
	ControlVoters = ControlPrefix + "voters/"
	// ControlUnlock ends a voter's lockout (after ControlVoters + ID).
	ControlUnlock = "/unlock"
	// ControlResend sends a voter's credential letter again (after
	// ControlVoters + ID).
	ControlResend = "/resend"
	// ControlUnreached: GET the voters no message reached.
	ControlUnreached = ControlPrefix + "deliveries/unreached"
	// ControlProxies: GET the proxies' counts per holder and the organiser's
	// lines refused (kubectl scrutin proxies).
	ControlProxies = ControlPrefix + "proxies"
)

// RuntimeStatus is what the runtime says of the vote in progress
// (ControlStatus's body, and the status in ControlSchedule's answer).
type RuntimeStatus struct {
	// Open: the vote is open now.
	Open bool `json:"open"`
	// Opened: the runtime's store has recorded the opening (by the runtime on its
	// own schedule, or at the controller's nudge).
	Opened bool `json:"opened"`
	// Closed: the runtime's store has recorded the close.
	Closed bool `json:"closed"`
	// Tallied: the runtime's store holds the results.
	Tallied     bool   `json:"tallied"`
	Voters      int64  `json:"voters"`
	BallotsCast int64  `json:"ballotsCast"`
	AuditHead   string `json:"auditHead"`
	// OpensAt and ClosesAt are the store's schedule (RFC 3339), when it has one.
	OpensAt  string `json:"opensAt,omitempty"`
	ClosesAt string `json:"closesAt,omitempty"`
	// ScheduleVersion is the version (an Election generation) of the schedule the
	// runtime's store records.
	ScheduleVersion int64 `json:"scheduleVersion"`
	// Delivery counts the election's codes and credential letters per channel
	// and state, as its store's outbox records them (ControlStatus only); nil
	// from a runtime that does not report it.
	Delivery *scrutinv1.DeliveryStatus `json:"delivery,omitempty"`
	// Proxies counts the election's proxies (spec.proxies; ControlStatus only);
	// nil without proxies.
	Proxies *scrutinv1.ProxyStatus `json:"proxies,omitempty"`
}

// RuntimeSchedule is a schedule pushed to a runtime (ControlSchedule's body):
// the runtime records it in its store if Version, the Election's
// metadata.generation, is newer than the store's.
type RuntimeSchedule struct {
	OpensAt  time.Time `json:"opensAt"`
	ClosesAt time.Time `json:"closesAt"`
	Version  int64     `json:"version"`
}

// RuntimeResults is the tally, after close (ControlResults's body).
type RuntimeResults struct {
	Voters      int64                      `json:"voters"`
	BallotsCast int64                      `json:"ballotsCast"`
	AuditHead   string                     `json:"auditHead"`
	Results     []scrutinv1.QuestionResult `json:"results"`
}

// ProxyList is ControlProxies' answer: each holder's mandates (by holder id,
// byte order), and the lines of the organiser's list that were refused, by
// line and reason (never a voter id of them).
type ProxyList struct {
	Holders []ProxyHolder  `json:"holders"`
	Refused []ProxyRefusal `json:"refused"`
}

// ProxyHolder is one holder's mandates: held now, and used (the holder cast
// the grantor's ballot).
type ProxyHolder struct {
	Holder string `json:"holder"`
	Held   int    `json:"held"`
	Used   int    `json:"used"`
}

// ProxyRefusal is a line of the organiser's list that was refused: Reason is
// unknown-voter, chain, already-given or over-cap (ProxyRefusalWords).
type ProxyRefusal struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// ProxyRefusalWords say why a line of the organiser's list was refused, by
// its reason: the controller's ProxiesValid and kubectl scrutin proxies.
var ProxyRefusalWords = map[string]string{
	"unknown-voter": "a voter id not on the roll",
	"chain":         "a chain: the grantor holds a proxy, the holder gives one, or a member gives to themselves",
	"already-given": "the grantor already gives a proxy on an earlier line",
	"over-cap":      "the holder already holds spec.proxies.maxPerHolder proxies",
}
