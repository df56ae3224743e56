package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// resultsView is what `results` shows, and prints with -o json|yaml.
type resultsView struct {
	Name        string         `json:"name"`
	Namespace   string         `json:"namespace"`
	Title       string         `json:"title"`
	Voters      int64          `json:"voters"`
	BallotsCast int64          `json:"ballotsCast"`
	Turnout     string         `json:"turnout,omitempty"`
	Weighted    *bool          `json:"weighted,omitempty"`
	AuditHead   string         `json:"auditHead,omitempty"`
	Questions   []questionView `json:"questions"`
}

type questionView struct {
	ID      string                 `json:"id"`
	Prompt  string                 `json:"prompt"`
	Kind    scrutinv1.QuestionKind `json:"kind"`
	Options []optionView           `json:"options"`
	Blank   int64                  `json:"blank"`
	Winners []string               `json:"winners,omitempty"`
	Ranking []string               `json:"ranking,omitempty"`
	// RankingGroups is the ranking with its ties, best group first.
	RankingGroups [][]string `json:"rankingGroups,omitempty"`
}

type optionView struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Votes int64  `json:"votes"`
}

func (a *app) resultsCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "results NAME",
		Short: "Show an election's results, once tallied",
		Long: `Show the results of a Tallied election: per question, each option with its
votes, the blank answers, and the winners (or, for a Ranked question counted with
the Schulze method, the full ranking). When the roll has a weight column, votes are
weights. Before the tally, it says so and exits 1.`,
		Example: `  kubectl scrutin results board-2027
  kubectl scrutin results board-2027 -o json`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			e, c, err := a.getElection(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if e.Status.Phase != scrutinv1.PhaseTallied || len(e.Status.Results) == 0 {
				return a.notTallied(e)
			}
			v := resultsOf(e)
			v.Weighted = weighted(cmd.Context(), c, e)
			if output != "" {
				return printStructured(a.stdout, output, v)
			}
			a.printResults(v)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml (default: text)")
	return cmd
}

func (a *app) notTallied(e *scrutinv1.Election) error {
	phase := e.Status.Phase
	if phase == "" {
		phase = scrutinv1.PhasePending
	}
	closes := e.Spec.Schedule.ClosesAt.Time
	var when string
	switch phase {
	case scrutinv1.PhaseClosed:
		when = "it closed and is being counted; results appear in a few seconds"
	case scrutinv1.PhaseFailed:
		when = "it Failed: " + phaseMeaning[phase] + "; there will be no results"
	case scrutinv1.PhaseTallied:
		when = "it is Tallied but its status holds no results yet"
	default:
		when = fmt.Sprintf("it is %s and closes at %s (%s); results appear once it is Tallied (follow with: kubectl scrutin turnout %s -w)",
			phase, formatTime(closes), relative(a.now(), closes), e.Name)
	}
	return fmt.Errorf("election %q is not tallied yet: %s", e.Name, when)
}

func resultsOf(e *scrutinv1.Election) resultsView {
	v := resultsView{
		Name: e.Name, Namespace: e.Namespace, Title: e.Spec.Title,
		Voters: e.Status.Voters, BallotsCast: e.Status.BallotsCast, Turnout: percent(e.Status.BallotsCast, e.Status.Voters),
		AuditHead: e.Status.AuditHead,
	}
	results := map[string]scrutinv1.QuestionResult{}
	for _, r := range e.Status.Results {
		results[r.QuestionID] = r
	}
	for _, q := range e.Spec.Questions {
		r, ok := results[q.ID]
		if !ok {
			continue
		}
		kind := q.Kind
		if kind == "" {
			kind = scrutinv1.SingleChoice
		}
		qv := questionView{ID: q.ID, Prompt: q.Prompt, Kind: kind, Blank: r.Blank, Winners: r.Winners, Ranking: r.Ranking, RankingGroups: r.RankingGroups}
		votes := map[string]int64{}
		for _, o := range r.Options {
			votes[o.ID] = o.Votes
		}
		for _, o := range q.Options {
			qv.Options = append(qv.Options, optionView{ID: o.ID, Label: o.Label, Votes: votes[o.ID]})
		}
		v.Questions = append(v.Questions, qv)
	}
	return v
}

// weighted says whether the roll has a weight column, from the header of the
// tenant's roll Secret (for a roll in parts, its first part: every part has the
// same header); nil when it cannot be read.
func weighted(ctx context.Context, c client.Client, e *scrutinv1.Election) *bool {
	name := firstRollSecret(ctx, c, e)
	if name == "" {
		return nil
	}
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: e.Namespace, Name: name}, &s); err != nil {
		return nil
	}
	data, ok := s.Data[e.Spec.VoterRoll.Key]
	if !ok {
		return nil
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.Trim(line, ", ") == "" {
			continue
		}
		header, err := csv.NewReader(strings.NewReader(line)).Read()
		if err != nil {
			return nil
		}
		w := false
		for _, h := range header {
			w = w || strings.EqualFold(strings.TrimSpace(h), "weight")
		}
		return &w
	}
	return nil
}

func (a *app) printResults(v resultsView) {
	fmt.Fprintf(a.stdout, "Results of %s: %s\n", v.Name, v.Title)
	fmt.Fprintf(a.stdout, "Turnout: %s\n", turnoutLine(v.BallotsCast, v.Voters))
	votes := "votes"
	switch {
	case v.Weighted == nil:
		fmt.Fprintln(a.stdout, "Votes are weighted by the roll's weight column when it has one.")
	case *v.Weighted:
		votes = "weight"
		fmt.Fprintln(a.stdout, "The roll is weighted: each vote counts the voter's weight.")
	}
	for i, q := range v.Questions {
		label := map[string]string{}
		for _, o := range q.Options {
			label[o.ID] = o.Label
		}
		fmt.Fprintf(a.stdout, "\n%d. %s  [%s, %s]\n", i+1, q.Prompt, q.ID, q.Kind)
		var answered int64
		for _, o := range q.Options {
			answered += o.Votes
		}
		head := votes
		if q.Kind == scrutinv1.Ranked {
			head = "first preferences"
			if votes == "weight" {
				head += " (weight)"
			}
		}
		rows := [][2]string{}
		for _, o := range q.Options {
			rows = append(rows, [2]string{o.Label + " (" + o.ID + ")", fmt.Sprint(o.Votes)})
		}
		rows = append(rows, [2]string{"Blank", fmt.Sprint(q.Blank)})
		wl, wn := 0, len(head)
		for _, r := range rows {
			wl, wn = max(wl, utf8.RuneCountInString(r[0])), max(wn, len(r[1]))
		}
		fmt.Fprintf(a.stdout, "   %s  %*s\n", strings.Repeat(" ", wl), wn, head)
		for j, r := range rows {
			share := ""
			if j < len(q.Options) && q.Kind == scrutinv1.SingleChoice && answered > 0 {
				share = fmt.Sprintf("  %5.1f%%", 100*float64(q.Options[j].Votes)/float64(answered))
			}
			pad := strings.Repeat(" ", wl-utf8.RuneCountInString(r[0]))
			fmt.Fprintf(a.stdout, "   %s%s  %*s%s\n", r[0], pad, wn, r[1], share)
		}
		names := func(ids []string) []string {
			var out []string
			for _, id := range ids {
				if l, ok := label[id]; ok {
					out = append(out, l)
				} else {
					out = append(out, id)
				}
			}
			return out
		}
		switch {
		case len(q.Winners) == 0:
			fmt.Fprintln(a.stdout, "   No winner: no option received a vote.")
		case len(q.Winners) == 1 && q.Kind == scrutinv1.Ranked:
			fmt.Fprintf(a.stdout, "   Winner (Schulze method): %s\n", names(q.Winners)[0])
		case len(q.Winners) == 1:
			fmt.Fprintf(a.stdout, "   Winner: %s\n", names(q.Winners)[0])
		default:
			fmt.Fprintf(a.stdout, "   Tie between: %s\n", strings.Join(names(q.Winners), ", "))
		}
		if q.Kind == scrutinv1.Ranked && len(q.Ranking) > 0 {
			fmt.Fprintln(a.stdout, "   Ranking (Schulze method, best first):")
			groups := q.RankingGroups
			if len(groups) == 0 { // results of a runtime that did not group ties
				for _, id := range q.Ranking {
					groups = append(groups, []string{id})
				}
			}
			place := 1
			for _, g := range groups {
				tied := ""
				if len(g) > 1 {
					tied = " (tied)"
				}
				for _, name := range names(g) {
					fmt.Fprintf(a.stdout, "     %d. %s%s\n", place, name, tied)
				}
				place += len(g)
			}
		}
	}
	if v.AuditHead != "" {
		fmt.Fprintf(a.stdout, "\nAudit head: %s (check the log with: kubectl scrutin audit verify %s --log FILE)\n", v.AuditHead, v.Name)
	}
}

// firstRollSecret names the Secret holding the roll, or its first part; "" when
// there is none.
func firstRollSecret(ctx context.Context, c client.Client, e *scrutinv1.Election) string {
	vr := e.Spec.VoterRoll
	switch {
	case vr.SecretRef != nil:
		return vr.SecretRef.Name
	case len(vr.Parts) > 0:
		return vr.Parts[0].Name
	case vr.Selector != nil:
		sel, err := metav1.LabelSelectorAsSelector(vr.Selector)
		if err != nil {
			return ""
		}
		var list metav1.PartialObjectMetadataList
		list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
		if err := c.List(ctx, &list, client.InNamespace(e.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return ""
		}
		for _, m := range list.Items {
			if m.Annotations[scrutinv1.RollPartAnnotation] == "1" {
				return m.Name
			}
		}
	}
	return ""
}
