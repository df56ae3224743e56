package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

func (a *app) turnoutCommand() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "turnout NAME",
		Short: "Show ballots cast against voters on the roll; -w follows it",
		Long: `Show how many ballots were cast, out of how many voters on the roll.

With -w it prints a new line each time the count or the phase changes, and stops by
itself once the election is Tallied (or Failed); Ctrl-C stops it earlier. The
controller refreshes the count about once a minute while the election is open.`,
		Example: `  kubectl scrutin turnout board-2027
  kubectl scrutin turnout board-2027 -w`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.turnout(cmd.Context(), args[0], follow)
		},
	}
	cmd.Flags().BoolVarP(&follow, "watch", "w", false, "print each change until the election is Tallied")
	return cmd
}

type turnoutKey struct {
	cast, voters int64
	phase        scrutinv1.Phase
}

func keyOf(e *scrutinv1.Election) turnoutKey {
	return turnoutKey{e.Status.BallotsCast, e.Status.Voters, e.Status.Phase}
}

func (a *app) turnoutLine(e *scrutinv1.Election, stamp bool) {
	phase := e.Status.Phase
	if phase == "" {
		phase = scrutinv1.PhasePending
	}
	prefix := ""
	if stamp {
		prefix = a.now().Format("15:04:05") + "  "
	}
	fmt.Fprintf(a.stdout, "%s%s  %s\n", prefix, turnoutLine(e.Status.BallotsCast, e.Status.Voters), phase)
}

func (a *app) turnout(ctx context.Context, name string, follow bool) error {
	e, c, err := a.getElection(ctx, name)
	if err != nil {
		return err
	}
	a.turnoutLine(e, follow)
	if !follow {
		return nil
	}
	if done, err := a.finished(e); done {
		return err
	}
	last := keyOf(e)
	rv := e.ResourceVersion
	for {
		w, err := c.Watch(ctx, &scrutinv1.ElectionList{}, &client.ListOptions{
			Namespace:     e.Namespace,
			FieldSelector: fields.OneTermEqualSelector("metadata.name", name),
			Raw:           &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true},
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("while watching election %q: %w", name, err)
		}
		gone := false
		for ev := range w.ResultChan() {
			switch ev.Type {
			case watch.Added, watch.Modified:
				next, ok := ev.Object.(*scrutinv1.Election)
				if !ok {
					continue
				}
				e, rv = next, next.ResourceVersion
				if k := keyOf(e); k != last {
					last = k
					a.turnoutLine(e, true)
				}
				if done, err := a.finished(e); done {
					w.Stop()
					return err
				}
			case watch.Bookmark:
				if o, ok := ev.Object.(client.Object); ok {
					rv = o.GetResourceVersion()
				}
			case watch.Deleted:
				w.Stop()
				return fmt.Errorf("election %q was deleted", name)
			case watch.Error:
				if st, ok := ev.Object.(*metav1.Status); ok && st.Code == http.StatusGone {
					gone = true // the resource version expired: read it again
				}
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if gone {
			var fresh scrutinv1.Election
			if err := c.Get(ctx, client.ObjectKeyFromObject(e), &fresh); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if apierrors.IsNotFound(err) {
					return fmt.Errorf("election %q was deleted", name)
				}
				return err
			}
			e, rv = &fresh, fresh.ResourceVersion
			if k := keyOf(e); k != last {
				last = k
				a.turnoutLine(e, true)
			}
			if done, err := a.finished(e); done {
				return err
			}
		}
	}
}

// finished reports whether watching is over: Tallied, or Failed (an error).
func (a *app) finished(e *scrutinv1.Election) (bool, error) {
	switch e.Status.Phase {
	case scrutinv1.PhaseTallied:
		fmt.Fprintf(a.stdout, "Tallied: final turnout %s. Results: kubectl scrutin results %s\n",
			turnoutLine(e.Status.BallotsCast, e.Status.Voters), e.Name)
		return true, nil
	case scrutinv1.PhaseFailed:
		return true, errors.New("the election Failed: " + phaseMeaning[scrutinv1.PhaseFailed] + "; stopped watching")
	}
	return false, nil
}
