package main

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/contract"
	"scrutin.dev/scrutin/voting-runtime/hotline"
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
	// UnreachableLines are the first of them (status.roll.unreachableLines),
	// each by its Secret and line.
	UnreachableLines []scrutinv1.RollLine `json:"unreachableLines,omitempty"`
	// Delivered is the condition's status (True, False, Unknown; "" when absent)
	// and Message its message.
	Delivered string `json:"delivered,omitempty"`
	Message   string `json:"message,omitempty"`
	// Unreached (with --voters) are the voters whose latest code or letter
	// failed or bounced, newest first, as the runtime's store records them.
	Unreached []unreachedVoter `json:"unreached,omitempty"`
}

// unreachedVoter is one voter GET /control/v1/deliveries/unreached lists.
type unreachedVoter = hotline.UnreachedVoter

func (a *app) deliveryCommand() *cobra.Command {
	var output, runtimeURL string
	var voters bool
	var limit int
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

It reads the Election only (the role election-viewer is enough).

--voters also lists the voters not reached: those whose latest code or credential
letter failed or bounced with nothing sent or waiting since, newest first (at most
--limit), with the reason class; never an address. It asks the election's runtime
as kubectl scrutin voter does (the role election-hotline in the election's
namespace, or --runtime-url).`,
		Example: `  kubectl scrutin delivery congress-2027 -n parti
  kubectl scrutin delivery congress-2027 -n parti -o json
  kubectl scrutin delivery congress-2027 -n parti --voters`,
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
			if voters {
				if limit <= 0 {
					return usageError{fmt.Errorf("--limit must be positive, not %d", limit)}
				}
				if r.Unreached, err = a.unreached(cmd.Context(), args[0], runtimeURL, limit); err != nil {
					return err
				}
			}
			if output != "" {
				return printStructured(a.stdout, output, r)
			}
			a.printDelivery(r)
			if voters {
				a.printUnreached(r.Unreached, limit)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml (default: text)")
	cmd.Flags().BoolVar(&voters, "voters", false, "also list the voters not reached (their latest code or letter failed or bounced), from the runtime")
	cmd.Flags().IntVar(&limit, "limit", 50, "with --voters, list at most this many voters (the runtime lists 1,000 at most)")
	cmd.Flags().StringVar(&runtimeURL, "runtime-url", "", "with --voters, ask the runtime at this address instead of forwarding to a pod")
	return cmd
}

// unreached asks the election's runtime for the voters not reached.
func (a *app) unreached(ctx context.Context, name, runtimeURL string, limit int) ([]unreachedVoter, error) {
	var out struct {
		Voters []unreachedVoter `json:"voters"`
	}
	err := a.controlGet(ctx, name, runtimeURL, contract.ControlUnreached+"?limit="+strconv.Itoa(limit), "the voters not reached", 8<<20, &out)
	return out.Voters, err
}

// printUnreached lists the voters not reached, newest first.
func (a *app) printUnreached(vs []unreachedVoter, limit int) {
	out := a.stdout
	if len(vs) == 0 {
		fmt.Fprintln(out, "Voters not reached: none (no code or letter failed or bounced without another sent since).")
		return
	}
	fmt.Fprintf(out, "Voters not reached, newest first (their latest message failed or bounced; kubectl scrutin voter shows one, kubectl scrutin resend sends again):\n")
	now := a.now()
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  VOTER\tMESSAGE\tCHANNEL\tSTATE\tREASON\tWHEN\t")
	for _, v := range vs {
		what := "code"
		if v.Kind == "credential" {
			what = "letter"
		}
		reason := v.Reason
		if reason == "" {
			reason = "-"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\t\n", v.VoterID, what, v.Channel, v.State, reason, relative(now, v.UpdatedAt))
	}
	w.Flush()
	if len(vs) >= limit {
		fmt.Fprintf(out, "(the first %d; --limit shows more)\n", limit)
	}
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
		r.UnreachableLines = e.Status.Roll.UnreachableLines
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
		for _, l := range r.UnreachableLines {
			fmt.Fprintf(out, "  Secret %s, line %d\n", l.Part, l.Line)
		}
		if more := *r.Unreachable - int64(len(r.UnreachableLines)); more > 0 && len(r.UnreachableLines) > 0 {
			fmt.Fprintf(out, "  and %d more (kubectl scrutin roll check lists them all)\n", more)
		}
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
