package main

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"
)

// addUnlockFlag adds --unlock to the voter command.
func addUnlockFlag(cmd *cobra.Command, unlock *bool) {
	cmd.Flags().BoolVar(unlock, "unlock", false,
		"end the voter's lockout and forget their wrong codes (when someone else's guesses locked them out), then show the voter; the runtime logs it")
}

// voterRequest is the control API request for a voter: read their sign-in state,
// or unlock them (which answers the same state, afterwards).
func voterRequest(base, voterID string, unlock bool) (method, target string) {
	target = base + "/control/v1/voters/" + url.PathEscape(voterID)
	if unlock {
		return http.MethodPost, target + "/unlock"
	}
	return http.MethodGet, target
}

// printUnlocked says that the unlock was made, before the voter's state.
func (a *app) printUnlocked(v *voterView, unlock bool) {
	if unlock && v.OnRoll {
		fmt.Fprintf(a.stdout, "Unlocked voter %s: no lockout, wrong codes forgotten. They can ask for a new code now (or once the resend cooldown ends).\n", v.VoterID)
	}
}
