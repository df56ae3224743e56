package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// deliveryReport is what `kubectl scrutin delivery` shows: the Election's
// status.delivery, status.roll.unreachable and the Delivered condition.
type deliveryReport struct {
	Election       string                      `json:"election"`
	Method         string                      `json:"method"`
	Channels       []scrutinv1.ChannelDelivery `json:"channels"`
	OldestQueuedAt *time.Time                  `json:"oldestQueuedAt,omitempty"`
	// Unreachable voters: no contact for the method (and its fallback); nil when
	// the controller has not reported the roll yet.
	Unreachable *int64 `json:"unreachable,omitempty"`
	// Delivered is the condition's status (True, False, Unknown; "" when absent)
	// and Message its message.
	Delivered string `json:"delivered,omitempty"`
	Message   string `json:"message,omitempty"`
}

func (a *app) deliveryCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "delivery NAME",
		Short: "Show how far the sending of codes and credential letters has gone",
		Long: `Show the election's messages (sign-in codes and credential letters) per channel and
state, as the runtime's store records them and the controller copies into the
Election's status: queued (waiting, being sent or to be retried), sent (accepted
by the mail server or the SMS gateway), failed (given up, with the reason class
in kubectl scrutin voter), and delivered or bounced where the gateway reports it;
how long the oldest queued message has waited; the voters the roll gives no way
to reach (a warning: kubectl scrutin roll check lists their lines); and the
Delivered condition.

It reads the Election only (the role election-viewer is enough).`,
		Example: `  kubectl scrutin delivery congress-2027 -n parti
  kubectl scrutin delivery congress-2027 -n parti -o json`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			e, _, err := a.getElection(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			r := deliveryOf(e)
			if output != "" {
				return printStructured(a.stdout, output, r)
			}
			a.printDelivery(r)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml (default: text)")
	return cmd
}

func deliveryOf(e *scrutinv1.Election) deliveryReport {
	r := deliveryReport{Election: e.Name, Method: string(e.Spec.Authentication.Method), Channels: []scrutinv1.ChannelDelivery{}}
	if d := e.Status.Delivery; d != nil {
		r.Channels = append(r.Channels, d.Channels...)
		if d.OldestQueuedAt != nil {
			t := d.OldestQueuedAt.UTC()
			r.OldestQueuedAt = &t
		}
	}
	if e.Status.Roll != nil {
		n := e.Status.Roll.Unreachable
		r.Unreachable = &n
	}
	if c := meta.FindStatusCondition(e.Status.Conditions, scrutinv1.ConditionDelivered); c != nil {
		r.Delivered, r.Message = string(c.Status), c.Message
	}
	return r
}

func (a *app) printDelivery(r deliveryReport) {
	now := a.now()
	out := a.stdout
	fmt.Fprintf(out, "Election %s (sign-in: %s)\n", r.Election, r.Method)
	if len(r.Channels) == 0 {
		fmt.Fprintln(out, "Messages: none recorded yet (the runtime has queued nothing, or the controller has not reported it).")
	} else {
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(w, "CHANNEL\tQUEUED\tSENT\tFAILED\tDELIVERED\tBOUNCED\t")
		for _, c := range r.Channels {
			fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t\n", c.Channel, c.Queued, c.Sent, c.Failed, c.Delivered, c.Bounced)
		}
		w.Flush()
	}
	if r.OldestQueuedAt != nil {
		fmt.Fprintf(out, "Oldest message waiting: queued %s (%s).\n", formatTime(*r.OldestQueuedAt), relative(now, *r.OldestQueuedAt))
	}
	switch {
	case r.Unreachable == nil:
		fmt.Fprintln(out, "Unreachable voters: not reported yet.")
	case *r.Unreachable == 0:
		fmt.Fprintln(out, "Unreachable voters: none; the roll gives every voter a contact for the sign-in method.")
	default:
		fmt.Fprintf(out, "Unreachable voters: %d, whom the roll gives no %s: they cannot sign in unless the roll is fixed (kubectl scrutin roll check lists their lines).\n",
			*r.Unreachable, methodContact(r.Method))
	}
	switch r.Delivered {
	case "":
		fmt.Fprintln(out, "Delivered: not reported yet.")
	case "True":
		fmt.Fprintln(out, "Delivered: yes, nothing waits and nothing failed.")
	default:
		fmt.Fprintf(out, "Delivered: %s", r.Delivered)
		if r.Message != "" {
			fmt.Fprintf(out, ": %s", r.Message)
		}
		fmt.Fprintln(out)
	}
	if failed := sumFailed(r.Channels); failed > 0 {
		fmt.Fprintf(out, "%d message(s) failed or bounced: kubectl scrutin voter NAME VOTER_ID shows why for a voter, kubectl scrutin resend sends again.\n", failed)
	}
}

func methodContact(method string) string {
	switch method {
	case string(scrutinv1.SMSCode):
		return "mobile number"
	}
	return "e-mail address"
}

func sumFailed(cs []scrutinv1.ChannelDelivery) int64 {
	var n int64
	for _, c := range cs {
		n += c.Failed + c.Bounced
	}
	return n
}
