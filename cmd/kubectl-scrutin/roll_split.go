package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/roll"
)

// rollKey is the key of a roll (or of each of its parts) in its Secret.
const rollKey = "roll.csv"

// maxParts is the most parts an Election's roll may have (spec.voterRoll.partCount).
const maxParts = 2000

type splitOptions struct {
	name         string
	maxPartBytes int
	dryRun       bool
	outputDir    string
	method       string
	fallback     bool
}

func (a *app) rollSplitCommand() *cobra.Command {
	var o splitOptions
	cmd := &cobra.Command{
		Use:   "split FILE --name PREFIX",
		Short: "Cut a voter roll larger than one Secret into parts, and create them",
		Long: `Cut a voter roll (CSV) into parts small enough for Kubernetes Secrets (1 MiB at
most) and create them in the namespace: PREFIX-0001, PREFIX-0002, ... Each part
starts with the roll's header and holds whole lines, byte for byte (a quoted field
spanning lines is never cut). Each Secret is immutable, holds its part under the key
roll.csv, carries the label scrutin.dev/roll=PREFIX and the annotation
scrutin.dev/roll-part=N (its place, from 1).

The roll is checked first, as roll check does: when any line is bad, nothing is
created. A Secret that already exists with the same part is left as it is; one
with other content, or another Secret carrying the roll's label, is refused by
name, and nothing is created.

At the end, the command prints the Election's spec.voterRoll stanza: a selector on
the label, the number of parts and the digest of the parts (SHA-256 of their bytes
in order), so that a missing, extra or changed part is refused.

--dry-run checks everything, the API server included, and creates nothing;
--output-dir writes the parts as files PREFIX-0001.csv, ... instead, for GitOps
(make the Secrets from them with the same label and annotations).`,
		Example: `  kubectl scrutin roll split congress.csv --name congress-roll -n parti-exemple
  kubectl scrutin roll split congress.csv --name congress-roll --output-dir parts/`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.rollSplit(cmd.Context(), args[0], &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "name of the roll: its parts are PREFIX-0001, ... and carry the label scrutin.dev/roll=PREFIX (required)")
	f.IntVar(&o.maxPartBytes, "max-part-bytes", roll.DefaultMaxPartBytes, "most bytes in a part (a Secret holds at most 1 MiB)")
	f.BoolVar(&o.dryRun, "dry-run", false, "check everything (the API server included) and print the stanza; create nothing")
	f.StringVar(&o.outputDir, "output-dir", "", "write the parts as files in this directory instead of creating Secrets")
	f.StringVar(&o.method, "method", string(scrutinv1.EmailCode), "sign-in method the roll is for (for the count of unreachable voters): EmailCode, SMSCode or Credential")
	f.BoolVar(&o.fallback, "fallback", false, "the Election's delivery falls back on the other channel (spec.delivery.fallback)")
	return cmd
}

func (a *app) rollSplit(ctx context.Context, path string, o *splitOptions) error {
	if o.name == "" {
		return usageError{errors.New("--name is required: the parts are named PREFIX-0001, PREFIX-0002, ...")}
	}
	if msgs := validation.IsValidLabelValue(o.name); len(msgs) > 0 || len(validation.IsDNS1123Subdomain(o.name+"-0001")) > 0 {
		return usageError{fmt.Errorf("--name %q: use at most 63 lower-case letters, digits and dashes, starting and ending with a letter or digit", o.name)}
	}
	if o.maxPartBytes < 1024 || o.maxPartBytes > maxSecretData-4096 {
		return usageError{fmt.Errorf("--max-part-bytes: %d: give from 1024 to %d bytes", o.maxPartBytes, maxSecretData-4096)}
	}
	if o.dryRun && o.outputDir != "" {
		return usageError{errors.New("--dry-run and --output-dir: give one or the other")}
	}
	m, err := parseMethod(o.method)
	if err != nil {
		return err
	}
	raw, s, err := a.readRoll(path, m, o.fallback)
	if err != nil {
		return err
	}
	parts, err := splitRoll(raw, o.maxPartBytes)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fmt.Fprintf(a.stderr, "%s: %s, ok%s; %d parts of at most %d bytes\n", path, voters(s.Voters), unreachableNote(s, m), len(parts), o.maxPartBytes)

	if o.outputDir != "" {
		if err := os.MkdirAll(o.outputDir, 0o700); err != nil {
			return err
		}
		for i, p := range parts {
			file := filepath.Join(o.outputDir, partName(o.name, i+1)+".csv")
			if err := os.WriteFile(file, p, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "# wrote %s\n", file)
		}
		return a.printStanza(o.name, parts)
	}

	c, ns, err := a.connect()
	if err != nil {
		return err
	}
	secrets := partSecrets(o.name, ns, parts)
	todo, err := checkPartSecrets(ctx, c, ns, o.name, secrets)
	if err != nil {
		return err
	}
	for _, sec := range todo {
		if err := c.Create(ctx, sec.DeepCopy(), client.DryRunAll); err != nil {
			return secretError(err, sec.Name, ns)
		}
	}
	if o.dryRun {
		fmt.Fprintf(a.stderr, "Dry run: %d of the %d Secrets would be created in namespace %s; nothing was created.\n", len(todo), len(secrets), ns)
		return a.printStanza(o.name, parts)
	}
	created, err := createPartSecrets(ctx, c, todo)
	for _, sec := range created {
		fmt.Fprintf(a.stdout, "# secret/%s created\n", sec.Name)
	}
	if err != nil {
		return err
	}
	if n := len(secrets) - len(todo); n > 0 {
		fmt.Fprintf(a.stdout, "# %d Secrets already held their part: unchanged\n", n)
	}
	return a.printStanza(o.name, parts)
}

// readRoll reads a roll file (bounded) and checks it whole.
func (a *app) readRoll(path string, m scrutinv1.AuthMethod, fallback bool) ([]byte, *roll.Summary, error) {
	var (
		raw []byte
		err error
	)
	if path == "-" {
		raw, err = io.ReadAll(io.LimitReader(a.stdin, maxRollFile+1))
	} else {
		var f *os.File
		if f, err = os.Open(path); err == nil {
			raw, err = io.ReadAll(io.LimitReader(f, maxRollFile+1))
			f.Close()
		}
	}
	if err != nil {
		return nil, nil, err
	}
	if len(raw) > maxRollFile {
		return nil, nil, fmt.Errorf("%s: larger than %d MiB: that is not a voter roll Scrutin can import", path, maxRollFile>>20)
	}
	s, err := a.checkRoll(path, []rollPart{{r: bytes.NewReader(raw)}}, m, fallback)
	return raw, s, err
}

// splitRoll cuts a roll into parts of at most max bytes.
func splitRoll(raw []byte, max int) ([][]byte, error) {
	var parts [][]byte
	err := roll.Split(bytes.NewReader(raw), max, func(_ int, p []byte) error {
		parts = append(parts, bytes.Clone(p))
		return nil
	})
	if err == nil && len(parts) > maxParts {
		err = fmt.Errorf("%d parts: an Election takes at most %d", len(parts), maxParts)
	}
	return parts, err
}

func partName(prefix string, n int) string {
	return fmt.Sprintf("%s-%04d", prefix, n)
}

// partSecrets are the Secrets holding a roll's parts.
func partSecrets(prefix, ns string, parts [][]byte) []*corev1.Secret {
	immutable := true
	secrets := make([]*corev1.Secret, len(parts))
	for i, p := range parts {
		secrets[i] = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name: partName(prefix, i+1), Namespace: ns,
				Labels:      map[string]string{scrutinv1.RollLabel: prefix, "app.kubernetes.io/managed-by": managedBy},
				Annotations: map[string]string{scrutinv1.RollPartAnnotation: strconv.Itoa(i + 1)},
			},
			Type:      corev1.SecretTypeOpaque,
			Immutable: &immutable,
			Data:      map[string][]byte{rollKey: p},
		}
	}
	return secrets
}

// checkPartSecrets returns the parts' Secrets still to create. A Secret of
// the same name with the same part is already done; one with anything else,
// or another Secret with the roll's label (the selector would find it), is
// refused by name.
func checkPartSecrets(ctx context.Context, c client.Client, ns, prefix string, secrets []*corev1.Secret) ([]*corev1.Secret, error) {
	ours := map[string]bool{}
	var todo []*corev1.Secret
	for _, want := range secrets {
		ours[want.Name] = true
		var got corev1.Secret
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: want.Name}, &got)
		switch {
		case apierrors.IsNotFound(err):
			todo = append(todo, want)
			continue
		case err != nil:
			return nil, fmt.Errorf("while reading Secret %s in namespace %s: %w", want.Name, ns, err)
		}
		if len(got.Data) != 1 || !bytes.Equal(got.Data[rollKey], want.Data[rollKey]) ||
			got.Labels[scrutinv1.RollLabel] != prefix || got.Annotations[scrutinv1.RollPartAnnotation] != want.Annotations[scrutinv1.RollPartAnnotation] {
			return nil, fmt.Errorf("Secret %s already exists in namespace %s with other content: delete it, or choose another --name; nothing was created", want.Name, ns)
		}
	}
	var list corev1.SecretList
	if err := c.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{scrutinv1.RollLabel: prefix}); err != nil {
		return nil, fmt.Errorf("while listing the Secrets of roll %s in namespace %s: %w", prefix, ns, err)
	}
	var extra []string
	for _, s := range list.Items {
		if !ours[s.Name] {
			extra = append(extra, s.Name)
		}
	}
	if len(extra) > 0 {
		return nil, fmt.Errorf("Secret %s carries the label %s=%s but is not one of the roll's %d parts: the Election's selector would find it; delete it, or choose another --name; nothing was created",
			strings.Join(extra, ", "), scrutinv1.RollLabel, prefix, len(secrets))
	}
	return todo, nil
}

// createPartSecrets creates the Secrets; on a failure, it deletes those it
// created (a roll holds personal data) and returns the error.
func createPartSecrets(ctx context.Context, c client.Client, secrets []*corev1.Secret) ([]*corev1.Secret, error) {
	var created []*corev1.Secret
	for _, sec := range secrets {
		if err := c.Create(ctx, sec); err != nil {
			for _, done := range created {
				_ = c.Delete(context.WithoutCancel(ctx), done)
			}
			return nil, secretError(err, sec.Name, sec.Namespace)
		}
		created = append(created, sec)
	}
	return created, nil
}

// selectorRoll is the Election's spec.voterRoll for a roll in parts.
func selectorRoll(prefix string, parts [][]byte) scrutinv1.VoterRoll {
	return scrutinv1.VoterRoll{
		Selector:  &metav1.LabelSelector{MatchLabels: map[string]string{scrutinv1.RollLabel: prefix}},
		PartCount: int32(len(parts)),
		Digest:    roll.PartsDigest(parts...),
	}
}

// printStanza prints the Election's spec.voterRoll for the parts.
func (a *app) printStanza(prefix string, parts [][]byte) error {
	out, err := yaml.Marshal(struct {
		VoterRoll scrutinv1.VoterRoll `json:"voterRoll"`
	}{selectorRoll(prefix, parts)})
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "# the Election's spec:")
	_, err = a.stdout.Write(out)
	return err
}
