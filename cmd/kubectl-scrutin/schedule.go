package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// Events recorded on an Election when its schedule moves.
const (
	eventReason     = "ScheduleMoved"
	eventAction     = "MoveSchedule"
	eventController = "scrutin.dev/kubectl-scrutin"
	// anonymous stands for the user when the API server does not say who they are.
	anonymous = "kubectl-scrutin"
)

// move is one change of the schedule: which end, and to when.
type move struct {
	opens    bool // opensAt, else closesAt
	to       time.Time
	nothing  string // when set, nothing moves and this says why
	verb     string // "opens", "closes"
	previous time.Time
}

// planner decides the move from the election as read now, or refuses it.
type planner func(e *scrutinv1.Election, now time.Time) (move, error)

func (a *app) openCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "open NAME",
		Short: "Open an election now (moves spec.schedule.opensAt to now)",
		Long: `Open an election now: its opening time (spec.schedule.opensAt) moves to the
current time, and the controller opens it at once if it is provisioned. Refused once
the election is Open (the opening time is frozen then) or when its closing time has
passed. An Event on the Election records the move and who made it.`,
		Example: `  kubectl scrutin open board-2027`,
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.moveSchedule(cmd.Context(), args[0], planOpen)
		},
	}
}

func (a *app) closeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "close NAME",
		Short: "Close an open election now (moves spec.schedule.closesAt to now)",
		Long: `Close an open election now: its closing time (spec.schedule.closesAt) moves to
the current time; the controller and the voting runtime stop accepting ballots and
count them. An Event on the Election records the move and who made it.`,
		Example: `  kubectl scrutin close board-2027`,
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.moveSchedule(cmd.Context(), args[0], planClose)
		},
	}
}

func (a *app) extendCommand() *cobra.Command {
	var closes string
	var by time.Duration
	cmd := &cobra.Command{
		Use:   "extend NAME (--closes TIME | --by DURATION)",
		Short: "Move an election's closing time",
		Long: `Move an election's closing time (spec.schedule.closesAt): to a given time with
--closes (RFC 3339), or later by a duration with --by (e.g. 30m, 2h). Refused once
the election is Closed. An Event on the Election records the move and who made it.`,
		Example: `  kubectl scrutin extend board-2027 --by 1h
  kubectl scrutin extend board-2027 --closes 2027-03-14T20:00:00+01:00`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			hasCloses, hasBy := cmd.Flags().Changed("closes"), cmd.Flags().Changed("by")
			if hasCloses == hasBy {
				return usageError{errors.New("give either --closes TIME or --by DURATION")}
			}
			var at time.Time
			if hasCloses {
				var err error
				if at, err = parseTime("--closes", closes); err != nil {
					return usageError{err}
				}
			} else if by <= 0 {
				return usageError{fmt.Errorf("--by: %s is not a positive duration: to close earlier, use --closes TIME or kubectl scrutin close", by)}
			}
			return a.moveSchedule(cmd.Context(), args[0], planExtend(at, by))
		},
	}
	cmd.Flags().StringVar(&closes, "closes", "", "new closing time, RFC 3339, e.g. 2027-03-14T20:00:00+01:00")
	cmd.Flags().DurationVar(&by, "by", 0, "move the closing time later by this long, e.g. 30m or 2h")
	return cmd
}

func phaseOf(e *scrutinv1.Election) scrutinv1.Phase {
	if e.Status.Phase == "" {
		return scrutinv1.PhasePending
	}
	return e.Status.Phase
}

func planOpen(e *scrutinv1.Election, now time.Time) (move, error) {
	opens, closes := e.Spec.Schedule.OpensAt.Time, e.Spec.Schedule.ClosesAt.Time
	m := move{opens: true, verb: "opens", previous: opens}
	switch p := phaseOf(e); p {
	case scrutinv1.PhaseOpen:
		return m, fmt.Errorf("election %q is already Open (it opened at %s): its opening time is frozen once it is open", e.Name, formatTime(opens))
	case scrutinv1.PhaseClosed, scrutinv1.PhaseTallied:
		return m, fmt.Errorf("election %q is already %s: it cannot open again", e.Name, p)
	case scrutinv1.PhaseFailed:
		return m, fmt.Errorf("election %q Failed: %s; create a new election", e.Name, phaseMeaning[p])
	}
	if !now.Before(closes) {
		return m, fmt.Errorf("election %q closes at %s, which has passed: move its closing time first (kubectl scrutin extend %s --closes TIME)", e.Name, formatTime(closes), e.Name)
	}
	if !now.Before(opens) {
		m.nothing = fmt.Sprintf("election %q opens at %s, which has passed: the controller opens it by itself (see kubectl scrutin status %s)", e.Name, formatTime(opens), e.Name)
		return m, nil
	}
	m.to = now.Truncate(time.Second)
	return m, nil
}

func planClose(e *scrutinv1.Election, now time.Time) (move, error) {
	opens, closes := e.Spec.Schedule.OpensAt.Time, e.Spec.Schedule.ClosesAt.Time
	m := move{verb: "closes", previous: closes}
	switch p := phaseOf(e); p {
	case scrutinv1.PhaseClosed, scrutinv1.PhaseTallied:
		return m, fmt.Errorf("election %q is already %s (it closed at %s)", e.Name, p, formatTime(closes))
	case scrutinv1.PhaseFailed:
		return m, fmt.Errorf("election %q Failed: %s", e.Name, phaseMeaning[p])
	case scrutinv1.PhaseOpen:
	default:
		if now.Before(opens) {
			return m, fmt.Errorf("election %q has not opened (it opens at %s): there is nothing to close; to call it off, delete it (kubectl delete election %s)", e.Name, formatTime(opens), e.Name)
		}
	}
	if !now.Before(closes) {
		m.nothing = fmt.Sprintf("election %q closes at %s, which has passed: the controller closes it by itself", e.Name, formatTime(closes))
		return m, nil
	}
	m.to = now.Truncate(time.Second)
	if !m.to.After(opens) {
		m.to = opens.Add(time.Second)
	}
	return m, nil
}

func planExtend(at time.Time, by time.Duration) planner {
	return func(e *scrutinv1.Election, now time.Time) (move, error) {
		closes := e.Spec.Schedule.ClosesAt.Time
		m := move{verb: "closes", previous: closes, to: at}
		switch p := phaseOf(e); p {
		case scrutinv1.PhaseClosed, scrutinv1.PhaseTallied:
			return m, fmt.Errorf("election %q is already %s (it closed at %s): its closing time cannot move any more", e.Name, p, formatTime(closes))
		case scrutinv1.PhaseFailed:
			return m, fmt.Errorf("election %q Failed: %s; create a new election", e.Name, phaseMeaning[p])
		}
		if at.IsZero() {
			m.to = closes.Add(by)
		}
		if !m.to.After(now) {
			return m, fmt.Errorf("--closes: %s has passed: to close the election now, use kubectl scrutin close %s", formatTime(m.to), e.Name)
		}
		if m.to.Equal(closes) {
			m.nothing = fmt.Sprintf("election %q already closes at %s", e.Name, formatTime(closes))
		}
		return m, nil
	}
}

// moveSchedule reads the election, plans the move and patches the schedule with an
// optimistic lock (a concurrent change makes it read and plan again), then records
// an Event saying what moved, from when, and who moved it.
func (a *app) moveSchedule(ctx context.Context, name string, plan planner) error {
	var (
		m move
		e *scrutinv1.Election
		c client.WithWatch
	)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var err error
		if e, c, err = a.getElection(ctx, name); err != nil {
			return err
		}
		if m, err = plan(e, a.now()); err != nil || m.nothing != "" {
			return err
		}
		base := e.DeepCopy()
		if m.opens {
			e.Spec.Schedule.OpensAt = metav1.NewTime(m.to)
		} else {
			e.Spec.Schedule.ClosesAt = metav1.NewTime(m.to)
		}
		return c.Patch(ctx, e, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	})
	if err != nil {
		if r := explainRefusal(err, "the new schedule of election "+name, scheduleFlag); r != err {
			return r
		}
		return err
	}
	if m.nothing != "" {
		fmt.Fprintln(a.stdout, "Nothing to do: "+m.nothing+".")
		return nil
	}
	fmt.Fprintf(a.stdout, "election.elections.scrutin.dev/%s now %s at %s; before: %s\n", name, m.verb, formatTime(m.to), formatTime(m.previous))
	who := a.whoAmI(ctx, c)
	note := fmt.Sprintf("Schedule moved by kubectl scrutin: %s at %s (was %s), by %s",
		m.verb, m.to.UTC().Format(time.RFC3339), m.previous.UTC().Format(time.RFC3339), who)
	if err := recordEvent(ctx, c, e, note, who, a.now()); err != nil {
		fmt.Fprintf(a.stderr, "warning: the schedule moved, but the Event recording it could not be written: %v\n", err)
		return nil
	}
	fmt.Fprintf(a.stdout, "Event %s recorded on the election: %s\n", eventReason, note)
	return nil
}

// whoAmI asks the API server who the user is; "kubectl-scrutin" when it cannot say.
func (a *app) whoAmI(ctx context.Context, c client.Client) string {
	r := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, r); err != nil || r.Status.UserInfo.Username == "" {
		return anonymous
	}
	return r.Status.UserInfo.Username
}

func recordEvent(ctx context.Context, c client.Client, e *scrutinv1.Election, note, who string, now time.Time) error {
	instance := who
	if len(instance) > 128 {
		instance = instance[:128]
	}
	ev := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.Namespace, GenerateName: e.Name + ".schedule-"},
		EventTime:  metav1.NewMicroTime(now),
		Regarding: corev1.ObjectReference{
			APIVersion: scrutinv1.GroupVersion.String(), Kind: "Election",
			Namespace: e.Namespace, Name: e.Name, UID: e.UID, ResourceVersion: e.ResourceVersion,
		},
		ReportingController: eventController,
		ReportingInstance:   instance,
		Action:              eventAction,
		Reason:              eventReason,
		Note:                note,
		Type:                corev1.EventTypeNormal,
	}
	err := c.Create(ctx, ev)
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("you may not create Events in namespace %s", e.Namespace)
	}
	return err
}
