package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// app is one invocation: its streams, connection flags and clock.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	now            func() time.Time

	kubeconfig string
	overrides  clientcmd.ConfigOverrides

	// set once connected
	clientConfig clientcmd.ClientConfig
	restConfig   *rest.Config
	k8s          client.WithWatch
}

// exitError carries an exit code other than 1, or an error already printed.
type exitError struct {
	code    int
	err     error
	printed bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// controller-runtime's client logs nothing we show; this keeps it from warning
	// that no logger was set.
	ctrllog.SetLogger(logr.Discard())
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.printed {
			return code
		}
	}
	fmt.Fprintln(stderr, "error:", err)
	if isUsageError(err) {
		fmt.Fprintf(stderr, "See '%s --help'.\n", cmd.CommandPath())
	}
	return code
}

type usageError struct{ error }

func isUsageError(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "kubectl-scrutin",
		Short: "Create, follow and audit Scrutin elections",
		Long: `kubectl scrutin works with Scrutin's Elections (elections.scrutin.dev).

It uses kubectl's configuration: --kubeconfig, $KUBECONFIG, --context and
-n/--namespace choose the cluster and the tenant's namespace, as for kubectl.`,
		Version:           version(),
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		Annotations:       map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl scrutin"},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// No -v shorthand: kubectl's -v is verbosity.
	root.Flags().Bool("version", false, "print the version of kubectl scrutin")
	root.SetVersionTemplate("kubectl scrutin {{.Version}}\n")
	flags := root.PersistentFlags()
	flags.StringVar(&a.kubeconfig, "kubeconfig", "", "path to the kubeconfig file to use")
	clientcmd.BindOverrideFlags(&a.overrides, flags, clientcmd.RecommendedConfigOverrideFlags(""))

	root.AddCommand(
		a.createCommand(),
		a.rollCommand(),
		a.statusCommand(),
		a.turnoutCommand(),
		a.resultsCommand(),
		a.exportCommand(),
		a.openCommand(),
		a.closeCommand(),
		a.extendCommand(),
		a.auditCommand(),
		a.voterCommand(),
		a.resendCommand(),
		a.deliveryCommand(),
		a.proxiesCommand(),
		a.credentialsCommand(),
		a.trusteeCommand(),
		a.boardCommand(),
		a.verifyCommand(),
		a.voteCommand(),
		a.archiveCommand(),
	)
	return root
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// exactArgs is cobra.ExactArgs with a message that names what is missing.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			if len(args) < len(names) {
				return usageError{fmt.Errorf("%s is required", names[len(args)])}
			}
			return usageError{fmt.Errorf("too many arguments: expected %d (%v), got %d", len(names), names, len(args))}
		}
		return nil
	}
}

// connect builds the client from kubectl's flags and configuration. It returns the
// namespace to work in.
func (a *app) connect() (client.WithWatch, string, error) {
	if a.k8s == nil {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = a.kubeconfig
		a.clientConfig = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &a.overrides)
		cfg, err := a.clientConfig.ClientConfig()
		if err != nil {
			return nil, "", fmt.Errorf("while reading the kubeconfig: %w", err)
		}
		cfg.UserAgent = "kubectl-scrutin/" + version()
		c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme()})
		if err != nil {
			return nil, "", fmt.Errorf("while connecting to %s: %w", cfg.Host, err)
		}
		a.restConfig, a.k8s = cfg, c
	}
	ns, _, err := a.clientConfig.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("while choosing the namespace: %w", err)
	}
	return a.k8s, ns, nil
}

// scheme knows the core types and Scrutin's API.
func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := scrutinv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// getElection reads one Election, with errors that say where it looked.
func (a *app) getElection(ctx context.Context, name string) (*scrutinv1.Election, client.WithWatch, error) {
	c, ns, err := a.connect()
	if err != nil {
		return nil, nil, err
	}
	var e scrutinv1.Election
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &e); err != nil {
		return nil, nil, electionError(err, ns, name)
	}
	return &e, c, nil
}

func electionError(err error, ns, name string) error {
	switch {
	case apierrors.IsNotFound(err) && isNoKind(err):
		return fmt.Errorf("the cluster has no Election API (elections.scrutin.dev): is Scrutin installed? (%w)", err)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("election %q not found in namespace %s (choose the namespace with -n)", name, ns)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("you may not read election %q in namespace %s: %w", name, ns, err)
	}
	return fmt.Errorf("while reading election %q in namespace %s: %w", name, ns, err)
}

// isNoKind reports whether a NotFound is about the resource type, not the object.
func isNoKind(err error) bool {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		d := st.Status().Details
		return d == nil || d.Name == ""
	}
	return true
}

// formatTime shows a time in the local zone and in UTC.
func formatTime(t time.Time) string {
	local := t.In(time.Local)
	utc := t.UTC()
	if zone, offset := local.Zone(); offset == 0 && (zone == "UTC" || zone == "") {
		return utc.Format("2006-01-02 15:04:05 UTC")
	}
	return local.Format("2006-01-02 15:04:05 MST") + " (" + utc.Format("2006-01-02 15:04:05 UTC") + ")"
}

// relative says how far t is from now, in words: "in 3h12m", "2d ago".
func relative(now, t time.Time) string {
	d := t.Sub(now)
	suffix := ""
	prefix := "in "
	if d < 0 {
		d, prefix, suffix = -d, "", " ago"
	}
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		s = fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	return prefix + s + suffix
}

// percent formats cast/voters, "" when there are no voters.
func percent(cast, voters int64) string {
	if voters <= 0 {
		return ""
	}
	return fmt.Sprintf("%.1f%%", 100*float64(cast)/float64(voters))
}
