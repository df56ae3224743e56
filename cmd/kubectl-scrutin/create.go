package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"
	"golang.org/x/text/unicode/norm"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/roll"
)

// maxSecretData is what a Kubernetes Secret holds at most.
const maxSecretData = 1 << 20

// managedBy labels what kubectl scrutin creates.
const managedBy = "kubectl-scrutin"

type createOptions struct {
	title, organization   string
	opens, closes         string
	rollFile, rollSecret  string
	method                string
	questions             []string
	questionKind          string
	allowBlank            bool
	smtpSecret, smsSecret string
	fallback              bool
	store, postgresSecret string
	replicas              string
	dryRun                bool
	languages             []string
	exportFields          []string
}

func (a *app) createCommand() *cobra.Command {
	var o createOptions
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Check a voter roll, then create its Secret(s) and an Election",
		Long: `Create an Election and the Secret holding its voter roll.

A roll larger than one Secret holds (over 900,000 bytes, about 12,000 voters) is
cut into parts, as roll split does: Secrets NAME-roll-0001, NAME-roll-0002, ...
(or --roll-secret's value and -0001, ...), and the Election selects them by label,
with their number and digest.

The roll is checked first, line by line, exactly as the controller will: when any
line is bad, every bad line is reported (number, column, reason: never what it
holds) and nothing is created. The API server then checks the Election; a refusal
names the field (and the flag that sets it), and nothing is left behind.

--question takes 'id:Prompt:option,option,...' and may be repeated, one per
question, in ballot order. An option is 'id=Label', or just a label from which the
id is derived ("Camille Martin" gives camille-martin). The prompt may hold colons;
labels may not hold commas or colons. For anything richer, print the Election with
--dry-run, edit it and kubectl apply it.

--dry-run checks everything, the API server included, and prints the Election as
it would be stored, without creating anything.`,
		Example: `  kubectl scrutin create board-2027 -n amis-du-parc \
      --title "Élection du bureau 2027" --organization "Association des Amis du Parc" \
      --opens 2027-03-14T08:00:00Z --closes 2027-03-14T18:00:00Z \
      --roll members.csv --method EmailCode --smtp-secret association-smtp \
      --question "president:Qui doit présider l'association ?:camille=Camille Martin,louis=Louis Bernard" \
      --allow-blank`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.create(cmd.Context(), args[0], &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.title, "title", "", "title of the vote, shown to voters (required)")
	f.StringVar(&o.organization, "organization", "", "organisation holding the vote (required)")
	f.StringVar(&o.opens, "opens", "", "when the first ballot is accepted, RFC 3339, e.g. 2027-03-14T08:00:00+01:00 (required)")
	f.StringVar(&o.closes, "closes", "", "when the last ballot is accepted, RFC 3339 (required)")
	f.StringVar(&o.rollFile, "roll", "", "voter roll CSV file: voter_id,name,email,phone[,weight] (required)")
	f.StringVar(&o.rollSecret, "roll-secret", "", "name of the Secret to create for the roll (default NAME-roll), or the prefix of its parts")
	f.StringVar(&o.method, "method", string(scrutinv1.EmailCode), "sign-in method: EmailCode, SMSCode or Credential")
	f.StringArrayVar(&o.questions, "question", nil, "a question, 'id:Prompt:opt1,opt2' or 'id:Prompt:id1=Label 1,id2=Label 2' (repeat for more; at least one)")
	f.StringVar(&o.questionKind, "question-kind", string(scrutinv1.SingleChoice), "kind of every question: SingleChoice, MultipleChoice or Ranked")
	f.BoolVar(&o.allowBlank, "allow-blank", false, "let voters answer every question blank")
	f.StringVar(&o.smtpSecret, "smtp-secret", "", "Secret with the mail server settings (needed for EmailCode and Credential)")
	f.StringVar(&o.smsSecret, "sms-secret", "", "Secret with the SMS gateway settings (needed for SMSCode)")
	f.BoolVar(&o.fallback, "fallback", false, "send a voter's code by the other channel when the method's own cannot reach them (needs --smtp-secret and --sms-secret)")
	f.StringVar(&o.store, "store", string(scrutinv1.StoreEmbedded), "store: Embedded or PostgreSQL")
	f.StringVar(&o.postgresSecret, "postgres-admin-secret", "", "Secret (key dsn) with an admin connection to the PostgreSQL server (with --store PostgreSQL)")
	f.StringVar(&o.replicas, "replicas", "", "voting pods, MIN:MAX (e.g. 2:20; above 1 needs --store PostgreSQL)")
	f.StringSliceVar(&o.languages, "languages", nil, "languages of the voter pages: fr, en (default fr,en)")
	f.StringSliceVar(&o.exportFields, "export-fields", nil, "columns of the scrutineers' participation export (default VoterID,Name,Voted)")
	f.BoolVar(&o.dryRun, "dry-run", false, "check everything (the API server included) and print the Election; create nothing")
	return cmd
}

func (a *app) create(ctx context.Context, name string, o *createOptions) error {
	// The roll first: nothing else matters while it has bad lines.
	if o.rollFile == "" {
		return usageError{errors.New("--roll is required: the voter roll CSV file")}
	}
	method, err := parseMethod(o.method)
	if err != nil {
		return err
	}
	raw, summary, err := a.readRoll(o.rollFile, method, o.fallback)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) && ee.printed {
			fmt.Fprintln(a.stderr, "Nothing was created: fix these lines (kubectl scrutin roll check shows them again) and run the command again.")
			return err
		}
		return fmt.Errorf("--roll: %w", err)
	}
	if o.rollSecret == "" {
		o.rollSecret = name + "-roll"
	}
	// A roll larger than one Secret goes in parts.
	var parts [][]byte
	if len(raw) > roll.DefaultMaxPartBytes {
		if parts, err = splitRoll(raw, roll.DefaultMaxPartBytes); err != nil {
			return fmt.Errorf("--roll: %w: nothing was created", err)
		}
	}

	e, err := buildElection(name, o, method)
	if err != nil {
		return err
	}
	c, ns, err := a.connect()
	if err != nil {
		return err
	}
	e.Namespace = ns
	labels := map[string]string{"app.kubernetes.io/managed-by": managedBy, "elections.scrutin.dev/election": name}
	var secrets, todo []*corev1.Secret
	if parts == nil {
		secrets = []*corev1.Secret{{
			ObjectMeta: metav1.ObjectMeta{Name: o.rollSecret, Namespace: ns, Labels: labels},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{rollKey: raw},
		}}
		todo = secrets
	} else {
		e.Spec.VoterRoll = selectorRoll(o.rollSecret, parts)
		e.Spec.VoterRoll.Key = rollKey
		secrets = partSecrets(o.rollSecret, ns, parts)
		for _, sec := range secrets {
			sec.Labels["elections.scrutin.dev/election"] = name
		}
		if todo, err = checkPartSecrets(ctx, c, ns, o.rollSecret, secrets); err != nil {
			return err
		}
	}
	what := fmt.Sprintf("election %q", name)

	// The API server checks the Election before anything is created.
	check := e.DeepCopy()
	if err := c.Create(ctx, check, client.DryRunAll); err != nil {
		return createError(err, what, ns, name)
	}
	for _, sec := range todo {
		if err := c.Create(ctx, sec.DeepCopy(), client.DryRunAll); err != nil {
			return secretError(err, sec.Name, ns)
		}
	}
	a.warnMissingSecrets(ctx, c, ns, o)
	if o.dryRun {
		// What kubectl apply takes back: no server-assigned identity.
		check.TypeMeta = e.TypeMeta
		check.ObjectMeta = metav1.ObjectMeta{Name: check.Name, Namespace: check.Namespace, Labels: check.Labels, Annotations: check.Annotations}
		check.Status = scrutinv1.ElectionStatus{}
		out, err := yaml.Marshal(check)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stderr, "Dry run: the roll has %s and the API server accepts the Election; nothing was created.\n", voters(summary.Voters))
		if parts == nil {
			fmt.Fprintf(a.stderr, "It would create Secret %s (key roll.csv) and this Election:\n", o.rollSecret)
		} else {
			fmt.Fprintf(a.stderr, "It would create %d Secrets %s to %s (key roll.csv, the roll in parts) and this Election:\n",
				len(todo), partName(o.rollSecret, 1), partName(o.rollSecret, len(parts)))
		}
		_, err = a.stdout.Write(out)
		return err
	}

	created, err := createPartSecrets(ctx, c, todo)
	if err != nil {
		return err
	}
	if err := c.Create(ctx, e); err != nil {
		// Leave nothing behind: the roll holds personal data.
		for _, sec := range created {
			if derr := c.Delete(context.WithoutCancel(ctx), sec); derr != nil && !apierrors.IsNotFound(derr) {
				fmt.Fprintf(a.stderr, "warning: could not delete Secret %s again: %v\n", sec.Name, derr)
			}
		}
		return createError(err, what, ns, name)
	}
	// The roll goes when the Election goes.
	for _, sec := range created {
		patch := client.MergeFrom(sec.DeepCopy())
		sec.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: scrutinv1.GroupVersion.String(), Kind: "Election", Name: e.Name, UID: e.UID,
		}}
		if err := c.Patch(ctx, sec, patch); err != nil {
			fmt.Fprintf(a.stderr, "warning: Secret %s is not owned by the Election (%v): delete it yourself with the Election\n", sec.Name, err)
		}
	}
	if parts == nil {
		fmt.Fprintf(a.stdout, "secret/%s created (%s)\n", o.rollSecret, voters(summary.Voters))
	} else {
		fmt.Fprintf(a.stdout, "secrets %s to %s created (%s in %d parts)\n", partName(o.rollSecret, 1), partName(o.rollSecret, len(parts)), voters(summary.Voters), len(parts))
	}
	fmt.Fprintf(a.stdout, "election.elections.scrutin.dev/%s created: opens %s, closes %s\n", e.Name,
		formatTime(e.Spec.Schedule.OpensAt.Time), formatTime(e.Spec.Schedule.ClosesAt.Time))
	fmt.Fprintf(a.stdout, "Follow it with: kubectl scrutin status %s -n %s\n", e.Name, ns)
	return nil
}

func createError(err error, what, ns, name string) error {
	switch {
	case apierrors.IsAlreadyExists(err):
		return fmt.Errorf("election %q already exists in namespace %s: nothing was created", name, ns)
	case apierrors.IsNotFound(err) && isNoKind(err):
		return fmt.Errorf("the cluster has no Election API (elections.scrutin.dev): is Scrutin installed? (%w)", err)
	}
	if r := explainRefusal(err, what, createFlag); r != err {
		return fmt.Errorf("%w\nNothing was created", r)
	}
	return fmt.Errorf("while creating %s in namespace %s: %w", what, ns, err)
}

func secretError(err error, name, ns string) error {
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("Secret %s already exists in namespace %s: choose another name with --roll-secret, or delete it; nothing was created", name, ns)
	}
	if r := explainRefusal(err, "Secret "+name, createFlag); r != err {
		return fmt.Errorf("%w\nNothing was created", r)
	}
	return fmt.Errorf("while creating Secret %s in namespace %s: %w", name, ns, err)
}

// warnMissingSecrets says which referenced Secrets do not exist yet: the Election
// is accepted without them, but will not be Ready.
func (a *app) warnMissingSecrets(ctx context.Context, c client.Client, ns string, o *createOptions) {
	for _, s := range []struct{ flag, name string }{
		{"--smtp-secret", o.smtpSecret}, {"--sms-secret", o.smsSecret}, {"--postgres-admin-secret", o.postgresSecret},
	} {
		if s.name == "" {
			continue
		}
		var sec metav1.PartialObjectMetadata
		sec.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: s.name}, &sec); apierrors.IsNotFound(err) {
			fmt.Fprintf(a.stderr, "warning: %s: Secret %s does not exist in namespace %s yet: the election will not be Ready until it does\n", s.flag, s.name, ns)
		}
	}
}

// buildElection makes the Election from the flags, checking what can be checked
// here; the API server checks the rest.
func buildElection(name string, o *createOptions, method scrutinv1.AuthMethod) (*scrutinv1.Election, error) {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if o.title == "" {
		bad("--title is required")
	}
	if o.organization == "" {
		bad("--organization is required")
	}
	opens, err := parseTime("--opens", o.opens)
	if err != nil {
		bad("%v", err)
	}
	closes, err := parseTime("--closes", o.closes)
	if err != nil {
		bad("%v", err)
	}
	if len(o.questions) == 0 {
		bad("--question is required: at least one question, 'id:Prompt:option,option'")
	}
	kind := scrutinv1.QuestionKind(o.questionKind)
	switch kind {
	case scrutinv1.SingleChoice, scrutinv1.MultipleChoice, scrutinv1.Ranked:
	default:
		bad("--question-kind: %q is not a kind: use SingleChoice, MultipleChoice or Ranked", o.questionKind)
	}
	var questions []scrutinv1.Question
	for i, spec := range o.questions {
		q, err := parseQuestion(spec)
		if err != nil {
			bad("--question #%d: %v", i+1, err)
			continue
		}
		q.Kind = kind
		q.AllowBlank = o.allowBlank
		questions = append(questions, q)
	}
	e := &scrutinv1.Election{
		TypeMeta:   metav1.TypeMeta{APIVersion: scrutinv1.GroupVersion.String(), Kind: "Election"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/managed-by": managedBy}},
		Spec: scrutinv1.ElectionSpec{
			Title:          o.title,
			Organization:   o.organization,
			Schedule:       scrutinv1.Schedule{OpensAt: metav1.NewTime(opens), ClosesAt: metav1.NewTime(closes)},
			Questions:      questions,
			VoterRoll:      scrutinv1.VoterRoll{SecretRef: &scrutinv1.SecretReference{Name: o.rollSecret}, Key: "roll.csv"},
			Authentication: scrutinv1.Authentication{Method: method},
		},
	}
	for _, l := range o.languages {
		e.Spec.Languages = append(e.Spec.Languages, scrutinv1.Language(l))
	}
	for _, f := range o.exportFields {
		e.Spec.Scrutineers.ExportFields = append(e.Spec.Scrutineers.ExportFields, scrutinv1.ParticipationField(f))
	}
	if o.smtpSecret != "" {
		e.Spec.Delivery.SMTP = &scrutinv1.DeliveryChannel{SecretRef: scrutinv1.SecretReference{Name: o.smtpSecret}}
	}
	if o.smsSecret != "" {
		e.Spec.Delivery.SMS = &scrutinv1.DeliveryChannel{SecretRef: scrutinv1.SecretReference{Name: o.smsSecret}}
	}
	e.Spec.Delivery.Fallback = o.fallback
	switch st := scrutinv1.StoreType(o.store); st {
	case scrutinv1.StoreEmbedded, scrutinv1.StorePostgreSQL:
		e.Spec.Store.Type = st
	default:
		bad("--store: %q is not a store: use Embedded or PostgreSQL", o.store)
	}
	if o.postgresSecret != "" {
		e.Spec.Store.PostgreSQL = &scrutinv1.PostgreSQLStore{AdminSecretRef: scrutinv1.SecretReference{Name: o.postgresSecret}}
	}
	if o.replicas != "" {
		lo, hi, err := parseReplicas(o.replicas)
		if err != nil {
			bad("--replicas: %v", err)
		}
		e.Spec.Scaling.MinReplicas, e.Spec.Scaling.MaxReplicas = lo, hi
	}
	if len(errs) > 0 {
		return nil, usageError{errors.New(strings.Join(errs, "\n  "))}
	}
	return e, nil
}

func parseTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("%s is required: an RFC 3339 time such as 2027-03-14T08:00:00+01:00", flag)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not an RFC 3339 time such as 2027-03-14T08:00:00+01:00", flag, s)
	}
	if t.Nanosecond() != 0 {
		return time.Time{}, fmt.Errorf("%s: give whole seconds: the API keeps no fraction of a second", flag)
	}
	return t, nil
}

var idPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// parseQuestion reads 'id:Prompt:opt1,opt2': the id before the first colon, the
// options after the last one, the prompt in between.
func parseQuestion(spec string) (scrutinv1.Question, error) {
	first, last := strings.Index(spec, ":"), strings.LastIndex(spec, ":")
	if first < 0 || first == last {
		return scrutinv1.Question{}, errors.New("write it 'id:Prompt:option,option'")
	}
	q := scrutinv1.Question{
		ID:     strings.TrimSpace(spec[:first]),
		Prompt: strings.TrimSpace(spec[first+1 : last]),
	}
	if !idPattern.MatchString(q.ID) {
		return q, fmt.Errorf("id %q: use lower-case letters, digits and dashes", q.ID)
	}
	if q.Prompt == "" {
		return q, errors.New("the prompt is empty")
	}
	seen := map[string]int{}
	for i, opt := range strings.Split(spec[last+1:], ",") {
		opt = strings.TrimSpace(opt)
		if opt == "" {
			return q, fmt.Errorf("option %d is empty", i+1)
		}
		id, label, explicit := strings.Cut(opt, "=")
		id, label = strings.TrimSpace(id), strings.TrimSpace(label)
		if !explicit {
			label = opt
			id = slug(opt)
		}
		if !idPattern.MatchString(id) {
			return q, fmt.Errorf("option %d: %q is not an id: use lower-case letters, digits and dashes, or write id=Label", i+1, id)
		}
		if label == "" {
			return q, fmt.Errorf("option %d: the label is empty", i+1)
		}
		if j, dup := seen[id]; dup {
			return q, fmt.Errorf("options %d and %d have the same id %q: write id=Label to tell them apart", j, i+1, id)
		}
		seen[id] = i + 1
		q.Options = append(q.Options, scrutinv1.Option{ID: id, Label: label})
	}
	if len(q.Options) < 2 {
		return q, errors.New("give at least two options, separated by commas")
	}
	return q, nil
}

// slug derives an option id from a label: "Élodie Dubois" gives "elodie-dubois".
func slug(label string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFD.String(strings.ToLower(label)) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		default:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	s := strings.TrimSuffix(b.String(), "-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	return s
}

func parseReplicas(s string) (int32, int32, error) {
	lo, hi, ok := strings.Cut(s, ":")
	if !ok {
		lo, hi = s, s
	}
	least, err1 := strconv.ParseInt(strings.TrimSpace(lo), 10, 32)
	most, err2 := strconv.ParseInt(strings.TrimSpace(hi), 10, 32)
	if err1 != nil || err2 != nil || least < 1 || most < 1 {
		return 0, 0, fmt.Errorf("%q: write MIN:MAX, two whole numbers from 1, e.g. 2:20", s)
	}
	return int32(least), int32(most), nil
}
