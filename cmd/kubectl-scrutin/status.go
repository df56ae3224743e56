package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// runtimeName is the voting-runtime's Deployment in the election's namespace
// (specs.RuntimeName; a test checks they agree).
const runtimeName = "voting-runtime"

// statusView is what `status` shows, and prints with -o json|yaml.
type statusView struct {
	Name         string          `json:"name"`
	Namespace    string          `json:"namespace"`
	Title        string          `json:"title"`
	Organization string          `json:"organization"`
	Phase        scrutinv1.Phase `json:"phase"`
	PhaseMeaning string          `json:"phaseMeaning,omitempty"`
	OpensAt      time.Time       `json:"opensAt"`
	ClosesAt     time.Time       `json:"closesAt"`
	Voters       int64           `json:"voters"`
	BallotsCast  int64           `json:"ballotsCast"`
	Turnout      string          `json:"turnout,omitempty"`
	Replicas     replicasView    `json:"replicas"`
	Conditions   []conditionView `json:"conditions,omitempty"`
	URL          string          `json:"url,omitempty"`
	RuntimeNS    string          `json:"electionNamespace,omitempty"`
	AuditHead    string          `json:"auditHead,omitempty"`
	Runtime      *runtimeView    `json:"runtime,omitempty"`
	// Proxies counts the proxy votes (spec.proxies), nil without them.
	Proxies *scrutinv1.ProxyStatus `json:"proxies,omitempty"`
}

// runtimeView is the voting-runtime the election runs, and the one a manager
// upgrade brought that it does not run (yet, or ever).
type runtimeView struct {
	Image        string `json:"image"`
	PendingImage string `json:"pendingImage,omitempty"`
	// Pending: the manager renders another pod template, not applied.
	Pending bool `json:"pending"`
	// Why it is not applied: UpgradeHeldWhileOpen or KeptAfterClose.
	Why string `json:"why,omitempty"`
}

type replicasView struct {
	Min     int32  `json:"min"`
	Max     int32  `json:"max"`
	Current *int32 `json:"current,omitempty"`
	Ready   *int32 `json:"ready,omitempty"`
	// Note says where current and ready come from, or why they are unknown.
	Note string `json:"note,omitempty"`
}

// conditionView is one condition in plain words: its state (ok, waiting, problem),
// what it says and what to do.
type conditionView struct {
	Type    string   `json:"type"`
	Status  string   `json:"status"`
	Reason  string   `json:"reason"`
	State   string   `json:"state"`
	Says    string   `json:"says"`
	ToDo    string   `json:"toDo,omitempty"`
	Details []string `json:"details,omitempty"`
}

var phaseMeaning = map[scrutinv1.Phase]string{
	scrutinv1.PhasePending:      "accepted; the controller has not provisioned it yet",
	scrutinv1.PhaseProvisioning: "the controller is creating its namespace and voting pods",
	scrutinv1.PhaseScheduled:    "ready; waiting for the opening time",
	scrutinv1.PhaseOpen:         "voters can cast their ballots",
	scrutinv1.PhaseClosed:       "no more ballots; counting",
	scrutinv1.PhaseTallied:      "counted: see kubectl scrutin results",
	scrutinv1.PhaseFailed:       "the closing time passed before the election could open",
}

func (a *app) statusCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Show an election's phase, schedule, turnout, pods and what needs doing",
		Example: `  kubectl scrutin status board-2027 -n amis-du-parc
  kubectl scrutin status board-2027 -o yaml`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			e, c, err := a.getElection(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			v := a.statusOf(cmd.Context(), c, e)
			if output != "" {
				return printStructured(a.stdout, output, v)
			}
			a.printStatus(v)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml (default: text)")
	return cmd
}

func checkOutput(o string) error {
	switch o {
	case "", "json", "yaml":
		return nil
	}
	return usageError{fmt.Errorf("--output: %q is not a format: use json or yaml", o)}
}

func printStructured(w io.Writer, format string, v any) error {
	var (
		out []byte
		err error
	)
	if format == "json" {
		out, err = json.MarshalIndent(v, "", "  ")
		out = append(out, '\n')
	} else {
		out, err = yaml.Marshal(v)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

func (a *app) statusOf(ctx context.Context, c client.Client, e *scrutinv1.Election) statusView {
	s := &e.Spec
	v := statusView{
		Name: e.Name, Namespace: e.Namespace, Title: s.Title, Organization: s.Organization,
		Phase: e.Status.Phase, PhaseMeaning: phaseMeaning[e.Status.Phase],
		OpensAt: s.Schedule.OpensAt.UTC(), ClosesAt: s.Schedule.ClosesAt.UTC(),
		Voters: e.Status.Voters, BallotsCast: e.Status.BallotsCast, Turnout: percent(e.Status.BallotsCast, e.Status.Voters),
		URL: e.Status.URL, RuntimeNS: e.Status.Namespace, AuditHead: e.Status.AuditHead,
		Replicas: replicasView{Min: s.Scaling.MinReplicas, Max: s.Scaling.MaxReplicas},
	}
	if v.Phase == "" {
		v.Phase = scrutinv1.PhasePending
		v.PhaseMeaning = phaseMeaning[scrutinv1.PhasePending]
	}
	if s.Proxies != nil {
		v.Proxies = &scrutinv1.ProxyStatus{}
		if e.Status.Proxies != nil {
			v.Proxies = e.Status.Proxies.DeepCopy()
		}
	}
	v.Replicas = replicasOf(ctx, c, e)
	if rt := e.Status.Runtime; rt != nil {
		v.Runtime = &runtimeView{Image: rt.Image, PendingImage: rt.PendingImage, Pending: rt.PendingTemplateHash != ""}
		if c := meta.FindStatusCondition(e.Status.Conditions, scrutinv1.ConditionRuntimeUpToDate); v.Runtime.Pending && c != nil {
			v.Runtime.Why = c.Reason
		}
	}
	for _, cond := range e.Status.Conditions {
		v.Conditions = append(v.Conditions, explainCondition(e, cond))
	}
	return v
}

// replicasOf reads the voting pods' Deployment in the election's namespace; a
// tenant usually may not, and then the status says how many were ready when
// the controller last found them available (Ready's reason RuntimeAvailable).
func replicasOf(ctx context.Context, c client.Client, e *scrutinv1.Election) replicasView {
	r := replicasView{Min: e.Spec.Scaling.MinReplicas, Max: e.Spec.Scaling.MaxReplicas}
	if e.Status.Namespace == "" {
		r.Note = "no voting pods yet"
		return r
	}
	var d appsv1.Deployment
	err := c.Get(ctx, client.ObjectKey{Namespace: e.Status.Namespace, Name: runtimeName}, &d)
	if err == nil {
		r.Current, r.Ready = &d.Status.Replicas, &d.Status.ReadyReplicas
		return r
	}
	if cond := meta.FindStatusCondition(e.Status.Conditions, scrutinv1.ConditionReady); cond != nil && cond.Reason == scrutinv1.ReasonRuntimeAvailable {
		r.Ready, r.Current = ptr32(e.Status.ReadyReplicas), ptr32(e.Status.Replicas)
		r.Note = "as of " + cond.LastTransitionTime.UTC().Format(time.RFC3339) + " (from the Ready condition; the Deployment is not readable: " + shortReason(err) + ")"
		return r
	}
	r.Note = "unknown: the Deployment " + e.Status.Namespace + "/" + runtimeName + " is not readable (" + shortReason(err) + ")"
	return r
}

func ptr32(n int32) *int32 { return &n }

func shortReason(err error) string {
	s := err.Error()
	if i := strings.Index(s, ": "); i > 0 && strings.Contains(s, "forbidden") {
		return "forbidden"
	}
	if strings.Contains(s, "not found") {
		return "not found"
	}
	return s
}

func (a *app) printStatus(v statusView) {
	now := a.now()
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Election:\t%s (namespace %s)\n", v.Name, v.Namespace)
	fmt.Fprintf(w, "Title:\t%s, %s\n", v.Title, v.Organization)
	fmt.Fprintf(w, "Phase:\t%s: %s\n", v.Phase, v.PhaseMeaning)
	fmt.Fprintf(w, "Opens:\t%s, %s\n", formatTime(v.OpensAt), relative(now, v.OpensAt))
	fmt.Fprintf(w, "Closes:\t%s, %s\n", formatTime(v.ClosesAt), relative(now, v.ClosesAt))
	fmt.Fprintf(w, "Turnout:\t%s\n", turnoutLine(v.BallotsCast, v.Voters))
	if p := v.Proxies; p != nil {
		fmt.Fprintf(w, "Proxies:\t%d given, %d used, %d lines of the organiser's list refused (kubectl scrutin proxies %s lists them)\n", p.Given, p.Used, p.Refused, v.Name)
	}
	fmt.Fprintf(w, "Replicas:\t%s\n", replicasLine(v.Replicas))
	if v.URL != "" {
		fmt.Fprintf(w, "Voter URL:\t%s\n", v.URL)
	} else {
		fmt.Fprintf(w, "Voter URL:\t(not yet: the controller publishes it once provisioned)\n")
	}
	if v.AuditHead != "" {
		fmt.Fprintf(w, "Audit head:\t%s\n", v.AuditHead)
	}
	if v.Runtime != nil {
		fmt.Fprintf(w, "Runtime:\t%s\n", runtimeLine(v.Runtime))
	}
	w.Flush()
	if len(v.Conditions) == 0 {
		fmt.Fprintln(a.stdout, "Conditions: none yet (the controller has not reported on this election)")
		return
	}
	fmt.Fprintln(a.stdout, "Conditions:")
	w = tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	for _, c := range v.Conditions {
		line := c.Says
		if c.ToDo != "" {
			line += ". " + strings.ToUpper(c.ToDo[:1]) + c.ToDo[1:]
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\n", c.Type, c.State, line)
	}
	w.Flush()
	shown := map[string]bool{} // Ready repeats RollValid's lines: once is enough
	for _, c := range v.Conditions {
		key := strings.Join(c.Details, "\n")
		if len(c.Details) == 0 || shown[key] {
			continue
		}
		shown[key] = true
		fmt.Fprintf(a.stdout, "%s details:\n", c.Type)
		for _, d := range c.Details {
			fmt.Fprintf(a.stdout, "  %s\n", d)
		}
	}
}

// runtimeLine says which runtime image the voting pods run and what a manager
// upgrade left pending.
func runtimeLine(r *runtimeView) string {
	if !r.Pending {
		return r.Image + " (up to date)"
	}
	pending := "upgrade pending to " + r.PendingImage
	if r.PendingImage == r.Image {
		pending = "upgrade pending (same image, new pod template)"
	}
	switch r.Why {
	case scrutinv1.ReasonUpgradeHeldWhileOpen:
		return r.Image + "; " + pending + ", held while the vote is open"
	case scrutinv1.ReasonKeptAfterClose:
		return r.Image + "; kept after the close (the manager's " + r.PendingImage + " is not applied)"
	}
	return r.Image + "; " + pending
}

func turnoutLine(cast, voters int64) string {
	if voters <= 0 {
		return fmt.Sprintf("%d ballots cast (no voter count yet)", cast)
	}
	return fmt.Sprintf("%d / %d voters (%s)", cast, voters, percent(cast, voters))
}

func replicasLine(r replicasView) string {
	bounds := fmt.Sprintf("%d to %d", r.Min, r.Max)
	if r.Min == r.Max {
		bounds = strconv.Itoa(int(r.Min))
	}
	if r.Current == nil {
		return "scaling " + bounds + "; current: " + r.Note
	}
	s := fmt.Sprintf("%d running, %d ready (scaling %s)", *r.Current, *r.Ready, bounds)
	if r.Note != "" {
		s += ", " + r.Note
	}
	return s
}

// explainCondition puts a condition in plain words: what is wrong and what to do.
func explainCondition(e *scrutinv1.Election, c metav1.Condition) conditionView {
	v := conditionView{Type: c.Type, Status: string(c.Status), Reason: c.Reason, State: "ok"}
	msg, details, _ := strings.Cut(c.Message, "\n")
	v.Says = strings.TrimSuffix(msg, ":")
	if details != "" {
		v.Details = strings.Split(details, "\n")
	}
	ns, name := e.Namespace, e.Name
	// the roll's Secret; for a roll in parts, the part the message names
	roll := "(the part named above)"
	if ref := e.Spec.VoterRoll.SecretRef; ref != nil {
		roll = ref.Name
	}
	switch {
	case c.Status == metav1.ConditionTrue:
		if c.Type == scrutinv1.ConditionOpen {
			v.State = "open"
		}
		return v
	case c.Status == metav1.ConditionUnknown:
		v.State = "waiting"
		return v
	}
	// False.
	v.State = "PROBLEM"
	switch c.Reason {
	case scrutinv1.ReasonNotYetOpen:
		v.State, v.Says = "waiting", "not open yet"
		if at := e.Spec.Schedule.OpensAt; !at.IsZero() {
			v.Says += ": opens at " + at.UTC().Format(time.RFC3339)
		}
	case scrutinv1.ReasonClosed:
		v.State = "closed"
	case scrutinv1.ReasonCounting:
		v.State, v.ToDo = "waiting", "the runtime is counting; results appear in a few seconds"
	case scrutinv1.ReasonRuntimeStarting:
		v.State, v.ToDo = "waiting", "nothing to do unless it lasts; then check the pods in namespace "+e.Status.Namespace
	case scrutinv1.ReasonNamespaceTerminating:
		v.State, v.ToDo = "waiting", "nothing to do: the controller re-creates it by itself"
	case scrutinv1.ReasonRollInvalid:
		if c.Type == scrutinv1.ConditionOpen {
			v.ToDo = "fix the roll (see RollValid)"
		} else {
			v.ToDo = fmt.Sprintf("fix the lines below in the roll file, check it with `kubectl scrutin roll check FILE`, then replace Secret %s in namespace %s (key %s)", roll, ns, e.Spec.VoterRoll.Key)
		}
	case scrutinv1.ReasonRollPartMissing, scrutinv1.ReasonRollPartExtra, scrutinv1.ReasonRollPartDuplicate, scrutinv1.ReasonRollDigestMismatch:
		v.ToDo = "cut the roll again with `kubectl scrutin roll split FILE`, which writes every part with its annotation, partCount and digest, and replace the parts named above"
	case scrutinv1.ReasonSomeFailed:
		v.ToDo = fmt.Sprintf("see who was not reached with `kubectl scrutin delivery %s -n %s`, fix the address or the channel, then `kubectl scrutin resend VOTER_ID`", name, ns)
	case scrutinv1.ReasonSending:
		v.State, v.ToDo = "waiting", "messages are being sent; nothing to do unless the oldest stays queued"
	case scrutinv1.ReasonRollSecretMissing:
		v.ToDo = fmt.Sprintf("create it from the roll file: kubectl create secret generic %s -n %s --from-file=%s=FILE", roll, ns, e.Spec.VoterRoll.Key)
	case scrutinv1.ReasonRollKeyMissing:
		v.ToDo = fmt.Sprintf("put the roll under key %s in Secret %s, or set spec.voterRoll.key", e.Spec.VoterRoll.Key, roll)
	case scrutinv1.ReasonDatabaseSecretInvalid:
		v.ToDo = "the admin Secret needs key dsn, a postgres:// URL allowed to create databases and roles"
	case scrutinv1.ReasonDatabaseUnreachable:
		v.ToDo = "check the PostgreSQL server and the admin Secret's dsn; the controller retries by itself"
	case scrutinv1.ReasonRuntimeUnreachable:
		v.ToDo = "the controller cannot reach the voting pods: check them in namespace " + e.Status.Namespace + "; it retries by itself"
	case scrutinv1.ReasonScrutineerSecretConflict:
		v.ToDo = fmt.Sprintf("Secret %s-scrutineer in namespace %s is not Scrutin's: rename or delete it", name, ns)
	case scrutinv1.ReasonNamespaceConflict:
		v.ToDo = "a namespace with that name exists and is not this election's: ask your platform operators"
	case scrutinv1.ReasonEgressUnresolved:
		v.ToDo = "check the host name in the delivery Secret, and that the cluster's DNS resolves it"
	case scrutinv1.ReasonProvisioningFailed:
		v.ToDo = "the controller retries by itself; if it lasts, give this message to your platform operators"
	case scrutinv1.ReasonUpgradeHeldWhileOpen:
		v.State, v.ToDo = "held", fmt.Sprintf("nothing to do: the voting pods keep their runtime while the vote is open; to take the new one now: kubectl patch election %s -n %s --type merge -p '{\"spec\":{\"runtime\":{\"upgradePolicy\":\"Immediate\"}}}'", name, ns)
	case scrutinv1.ReasonKeptAfterClose:
		v.State = "kept"
	case scrutinv1.ReasonDeletionBlocked:
		// The message says what to do.
	case scrutinv1.ReasonProxiesRefused, scrutinv1.ReasonProxiesInvalid, scrutinv1.ReasonProxiesKeyMissing:
		v.ToDo = fmt.Sprintf("fix the lines named in the Secret of spec.proxies.secretRef before the deadline; `kubectl scrutin proxies %s -n %s` lists the refused ones", name, ns)
	case scrutinv1.ReasonProxiesSecretMissing:
		v.ToDo = "create this Secret in namespace " + ns + " (see spec.proxies.secretRef), or fix the name in the Election"
	case scrutinv1.ReasonDeliverySMTPSecretMissing, scrutinv1.ReasonDeliverySMSSecretMissing,
		scrutinv1.ReasonDatabaseSecretMissing, scrutinv1.ReasonPublicCredentialsSecretMissing:
		v.ToDo = "create this Secret in namespace " + ns + " (see spec.delivery), or fix the name in the Election"
	default:
		v.ToDo = "see kubectl describe election " + name + " -n " + ns
	}
	return v
}
