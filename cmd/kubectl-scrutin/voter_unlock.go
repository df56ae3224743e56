package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"

	"scrutin.dev/scrutin/internal/contract"
)

// addUnlockFlag adds --unlock to the voter command.
func addUnlockFlag(cmd *cobra.Command, unlock *bool) {
	cmd.Flags().BoolVar(unlock, "unlock", false,
		"end the voter's lockout and forget their wrong codes (when someone else's guesses locked them out), then show the voter; the runtime logs it")
}

// voterAction is what a control API request does about a voter.
type voterAction int

const (
	voterRead   voterAction = iota // read their state
	voterUnlock                    // end their lockout
	voterResend                    // resend their code, or re-issue their credential letter
)

// voterRequest is the control API request for a voter: read their state,
// unlock them, or resend (which answer the same state, afterwards); a resend
// carries who asked for it.
func voterRequest(base, voterID string, act voterAction, requestedBy string) (method, target string, body io.Reader) {
	target = base + contract.ControlVoters + url.PathEscape(voterID)
	switch act {
	case voterUnlock:
		return http.MethodPost, target + contract.ControlUnlock, nil
	case voterResend:
		b, _ := json.Marshal(map[string]string{"requestedBy": requestedBy})
		return http.MethodPost, target + contract.ControlResend, bytes.NewReader(b)
	}
	return http.MethodGet, target, nil
}

// printUnlocked says that the unlock was made, before the voter's state.
func (a *app) printUnlocked(v *voterView, unlock bool) {
	if unlock && v.OnRoll {
		fmt.Fprintf(a.stdout, "Unlocked voter %s: no lockout, wrong codes forgotten. They can ask for a new code now (or once the resend cooldown ends).\n", v.VoterID)
	}
}
