package controllers

import "scrutin.dev/scrutin/internal/specs"

const (
	// FieldOwner is the controller's field manager for server-side apply.
	FieldOwner = "scrutin-controller"
	// Finalizer removes an election's namespace and database before its Election goes.
	Finalizer = "elections.scrutin.dev/cleanup"
)

// Inputs is one reconcile of an Election: what the builders of its objects read
// (specs.Inputs), and what the reconcile learns on the way.
type Inputs struct {
	specs.Inputs
	// problems keep the election from being Ready; provisioned says every object was
	// applied.
	problems    []problem
	provisioned bool
	// moves are the phase's moves in this reconcile, for their Events
	// (writeStatus announces them once written).
	moves []phaseNote
	// keepRollCopies: the roll could not be read this time; whatever copy stands
	// is kept, not pruned.
	keepRollCopies bool
	// keepCredentialsCopy: the public credentials could not be read this time
	// (or the election is open): the copy standing is kept, not pruned.
	keepCredentialsCopy bool
	// keepProxiesCopy: the organiser's proxies could not be read this time (or
	// their deadline has passed): the copy standing is kept, not pruned.
	keepProxiesCopy bool
	// observed is what the steps saw, for the conditions setObserved computes.
	observed observedState
}
