package main

import (
	"fmt"
	"time"
)

// printDeliveries lists the voter's messages, newest first, in words: what was
// sent, by which channel, and what became of it; never a code nor an address.
func (a *app) printDeliveries(v *voterView, now time.Time) {
	w := a.stdout
	if len(v.Deliveries) == 0 {
		if v.Method == "Credential" {
			fmt.Fprintln(w, "Messages: none recorded (no credential letter was queued for this voter).")
		} else {
			fmt.Fprintln(w, "Messages: none sent yet.")
		}
		return
	}
	fmt.Fprintln(w, "Messages, newest first:")
	for _, d := range v.Deliveries {
		what := "code"
		if d.Kind == "credential" {
			what = "credential letter"
		}
		line := fmt.Sprintf("  %s by %s, queued %s: %s", what, channelWords(d.Channel), relative(now, d.CreatedAt), deliveryWords(d.State))
		if d.State != "queued" && !d.UpdatedAt.IsZero() {
			line += " " + relative(now, d.UpdatedAt)
		}
		switch {
		case d.Attempts > 1:
			line += fmt.Sprintf(", after %d attempts", d.Attempts)
		case d.State == "queued" && d.Attempts == 1:
			line += ", 1 attempt so far"
		}
		if d.Reason != "" {
			line += " (" + d.Reason + ")"
		}
		fmt.Fprintln(w, line+".")
	}
	if d := v.Deliveries[0]; d.State == "failed" || d.State == "bounced" {
		fmt.Fprintln(w, "  The latest message did not reach the voter: check the contact the roll gives for them, then kubectl scrutin resend.")
	}
}

// deliveryWords says a message's state for the hotline.
func deliveryWords(state string) string {
	switch state {
	case "queued":
		return "waiting to be sent (or to be retried)"
	case "sent":
		return "sent (accepted by the mail server or the SMS gateway)"
	case "failed":
		return "FAILED, given up"
	case "delivered":
		return "delivered"
	case "bounced":
		return "BOUNCED"
	case "withdrawn":
		return "withdrawn, never sent (superseded)"
	}
	return state
}
