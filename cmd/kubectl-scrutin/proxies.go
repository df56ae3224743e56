package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/contract"
)

// proxiesReport is what `kubectl scrutin proxies` shows: the Election's
// status.proxies and, from its runtime, each holder's mandates and the lines of
// the organiser's list that were refused.
type proxiesReport struct {
	Election     string                  `json:"election"`
	MaxPerHolder int32                   `json:"maxPerHolder"`
	GivenBy      scrutinv1.ProxyGivers   `json:"givenBy"`
	Deadline     string                  `json:"deadline"`
	Status       *scrutinv1.ProxyStatus  `json:"status,omitempty"`
	Holders      []contract.ProxyHolder  `json:"holders"`
	Refused      []contract.ProxyRefusal `json:"refused"`
}

func (a *app) proxiesCommand() *cobra.Command {
	var output, runtimeURL string
	cmd := &cobra.Command{
		Use:   "proxies NAME",
		Short: "List the proxy votes: mandates per holder, and the organiser's lines refused",
		Long: `List the election's proxy votes (spec.proxies): for each holder, the mandates they
hold and how many they used (cast the grantor's ballot); then the lines of the
organiser's list (spec.proxies.secretRef, proxies.csv) that were refused, by line
number and reason: a voter id not on the roll, a chain (a holder giving, a
grantor holding, a member giving to themselves), a second proxy of one grantor,
or a holder over the cap. Never a voter id of a refused line: open the list at
that line.

It asks the election's runtime as kubectl scrutin voter does (the role
election-hotline in the election's namespace, or --runtime-url).`,
		Example: `  kubectl scrutin proxies ag-2027 -n association
  kubectl scrutin proxies ag-2027 -n association -o json`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			e, _, err := a.getElection(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			p := e.Spec.Proxies
			if p == nil {
				return fmt.Errorf("election %q has no proxy votes (spec.proxies is not set)", args[0])
			}
			r := proxiesReport{Election: e.Name, MaxPerHolder: p.MaxPerHolder, GivenBy: p.GivenBy,
				Deadline: e.Spec.ProxyDeadline().UTC().Format("2006-01-02 15:04 MST"), Status: e.Status.Proxies}
			list, err := a.proxyList(cmd.Context(), args[0], runtimeURL)
			if err != nil {
				return err
			}
			r.Holders, r.Refused = list.Holders, list.Refused
			if output != "" {
				return printStructured(a.stdout, output, r)
			}
			a.printProxies(r)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml (default: text)")
	cmd.Flags().StringVar(&runtimeURL, "runtime-url", "", "ask the runtime at this address instead of forwarding to a pod")
	return cmd
}

// proxyList asks the election's runtime for its proxies.
func (a *app) proxyList(ctx context.Context, name, runtimeURL string) (contract.ProxyList, error) {
	var out contract.ProxyList
	err := a.controlGet(ctx, name, runtimeURL, contract.ControlProxies, "proxies", 32<<20, &out)
	return out, err
}

func (a *app) printProxies(r proxiesReport) {
	out := a.stdout
	who := "the organiser's list only"
	if r.GivenBy == scrutinv1.ProxiesByVoters {
		who = "the organiser's list and the voters themselves"
	}
	fmt.Fprintf(out, "Proxies of %s: given by %s, until %s; at most %d per holder.\n", r.Election, who, r.Deadline, r.MaxPerHolder)
	held, used := 0, 0
	for _, h := range r.Holders {
		held += h.Held
		used += h.Used
	}
	fmt.Fprintf(out, "%d proxies held by %d members, %d used; %d lines of the organiser's list refused.\n", held, len(r.Holders), used, len(r.Refused))
	if len(r.Holders) > 0 {
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "  HOLDER\tHELD\tUSED\t")
		for _, h := range r.Holders {
			fmt.Fprintf(w, "  %s\t%d\t%d\t\n", h.Holder, h.Held, h.Used)
		}
		w.Flush()
	}
	if len(r.Refused) > 0 {
		fmt.Fprintln(out, "Refused lines of proxies.csv (fix them in spec.proxies.secretRef's Secret before the deadline):")
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "  LINE\tREASON\t")
		for _, x := range r.Refused {
			why := contract.ProxyRefusalWords[x.Reason]
			if why == "" {
				why = x.Reason
			}
			fmt.Fprintf(w, "  %d\t%s\t\n", x.Line, why)
		}
		w.Flush()
	}
}
