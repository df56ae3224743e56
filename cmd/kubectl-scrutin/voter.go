package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"scrutin.dev/scrutin/internal/contract"
	"scrutin.dev/scrutin/voting-runtime/hotline"
)

// The control token of an election's runtime: key control-token of the Secret
// election-keys in the election's namespace (specs.KeysSecretName and its
// key; a test checks they agree).
const (
	keysSecretName  = "election-keys"
	controlTokenKey = contract.KeyControlToken
)

// voterView is what the runtime says of a voter's sign-in
// (GET /control/v1/voters/{id}): never a code, a hash nor an address.
type voterView = hotline.VoterState

// deliveryView is one message sent (or to be sent) to a voter.
type deliveryView = hotline.Delivery

func (a *app) voterCommand() *cobra.Command {
	var output, runtimeURL string
	var unlock bool
	cmd := &cobra.Command{
		Use:   "voter NAME VOTER_ID",
		Short: "Show where a voter stands in signing in (for the hotline): locked out, code sent, voted",
		Long: `Show a voter's sign-in as the election's runtime sees it: on the roll or not, how
codes reach them, whether they voted, the code waiting to be typed (how many, until
when; never the code), wrong codes so far, whether they are locked out after too
many wrong codes and until when, when the last code was sent, and the messages
sent to them (codes and credential letters, newest first): by which channel, and
whether each waits, was sent, failed (with the reason class, never the address),
was delivered, bounced or withdrawn. kubectl scrutin resend sends again.

It reads the control token from the Secret election-keys in the election's
namespace (status.namespace), finds a Ready voting-runtime pod there, forwards a
local port on 127.0.0.1 to its control port (the container port named "ops", or
"http" where there is none), as kubectl port-forward does, asks the runtime's
control API, and closes the forward. In the election's namespace it needs get on
that Secret, list on pods, and create (and get) on pods/portforward: the role
election-hotline.

--runtime-url skips the pod and the forward and asks the runtime at that address
instead (a forward of your own, or a test runtime).`,
		Example: `  kubectl scrutin voter board-2027 A-1042 -n amis-du-parc
  kubectl scrutin voter board-2027 A-1042 -n amis-du-parc -o json`,
		Args: exactArgs("NAME", "VOTER_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			act := voterRead
			if unlock {
				act = voterUnlock
			}
			v, err := a.callVoter(cmd.Context(), args[0], args[1], runtimeURL, act, "")
			if err != nil {
				return err
			}
			if output != "" {
				return printStructured(a.stdout, output, v)
			}
			a.printUnlocked(v, unlock)
			a.printVoter(v)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml (default: text)")
	addUnlockFlag(cmd, &unlock)
	cmd.Flags().StringVar(&runtimeURL, "runtime-url", "", "ask the runtime at this address (such as http://127.0.0.1:18080 after a kubectl port-forward of your own) instead of forwarding to a pod")
	return cmd
}

// controlCall makes one request to the control API of election name's runtime:
// it reads the control token from the election's namespace, forwards a port to
// a Ready runtime pod (or uses runtimeURL), and sends what request makes of the
// runtime's base URL. It returns the answer, where names the runtime in
// messages, check what to check when it answers wrongly, and done, which the
// caller calls once it has read the answer.
func (a *app) controlCall(ctx context.Context, name, runtimeURL string, request func(base string) (method, target string, body io.Reader)) (resp *http.Response, where, check string, done func(), err error) {
	fail := func(err error) (*http.Response, string, string, func(), error) { return nil, "", "", nil, err }
	e, c, err := a.getElection(ctx, name)
	if err != nil {
		return fail(err)
	}
	ns := e.Status.Namespace
	if ns == "" {
		return fail(fmt.Errorf("election %q has no namespace yet: it is not provisioned (see kubectl scrutin status %s)", name, name))
	}
	var u *url.URL
	if runtimeURL != "" {
		if u, err = url.Parse(runtimeURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fail(usageError{fmt.Errorf("--runtime-url %q is not an http(s) URL", runtimeURL)})
		}
	}
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: keysSecretName}, &s); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return fail(fmt.Errorf("Secret %s not found in namespace %s: the controller writes it when it provisions election %q", keysSecretName, ns, name))
		case apierrors.IsForbidden(err):
			return fail(fmt.Errorf("you may not read Secret %s in namespace %s: the hotline's commands (voter, resend, delivery --voters) need the election's control token; ask the platform's operators for read access to it", keysSecretName, ns))
		}
		return fail(fmt.Errorf("while reading Secret %s in namespace %s: %w", keysSecretName, ns, err))
	}
	token := strings.TrimSpace(string(s.Data[controlTokenKey]))
	if token == "" {
		return fail(fmt.Errorf("Secret %s in namespace %s has no key %s", keysSecretName, ns, controlTokenKey))
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	var fw *forwarding
	closeAll := func() {
		if fw != nil {
			fw.Close()
		}
		cancel()
	}
	fail = func(err error) (*http.Response, string, string, func(), error) {
		closeAll()
		return nil, "", "", nil, err
	}
	// where names the runtime in messages; check says what to check when it
	// answers wrongly.
	if u != nil {
		where = "the runtime at " + u.Redacted()
		check = fmt.Sprintf("is --runtime-url the runtime of election %q, and is it up to date?", name)
	} else {
		target, err := runtimePod(ctx, c, ns, name)
		if err != nil {
			return fail(err)
		}
		if fw, err = forward(ctx, a.restConfig, ns, target); err != nil {
			return fail(err)
		}
		if u, err = url.Parse(fw.URL); err != nil {
			return fail(err)
		}
		where = fmt.Sprintf("the runtime in pod %s/%s (port %s, %d)", ns, target.pod.Name, target.portName, target.port)
		check = "is the runtime up to date?"
	}
	method, target, body := request(strings.TrimSuffix(u.String(), "/"))
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return fail(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "kubectl-scrutin/"+version())
	req.Close = fw != nil // the forward closes after this one request
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		if fw != nil {
			msg := fmt.Sprintf("cannot reach %s through the port-forward: %v", where, unwrapURLError(err))
			if p := fw.Problems(); p != "" {
				msg += " (" + p + ")"
			}
			return fail(errors.New(msg + "; is the runtime listening on that port? See kubectl scrutin status " + name))
		}
		return fail(fmt.Errorf("cannot reach %s: %v\nIs your port-forward running?", where, unwrapURLError(err)))
	}
	return resp, where, check, func() { resp.Body.Close(); closeAll() }, nil
}

// controlGet GETs path (after the control API's address) from the runtime of
// election name and decodes its JSON answer, at most limit bytes, into out; what
// says what the answer lists, in errors.
func (a *app) controlGet(ctx context.Context, name, runtimeURL, path, what string, limit int64, out any) error {
	resp, where, check, done, err := a.controlCall(ctx, name, runtimeURL, func(base string) (string, string, io.Reader) {
		return http.MethodGet, base + path, nil
	})
	if err != nil {
		return err
	}
	defer done()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return fmt.Errorf("%s does not list %s (HTTP 404): %s", where, what, check)
	case http.StatusUnauthorized, http.StatusForbidden:
		return tokenRefused(where, resp)
	default:
		return unexpectedAnswer(where, resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, limit)).Decode(out); err != nil {
		return fmt.Errorf("the runtime's answer is not a list of %s: %w", what, err)
	}
	return nil
}

// callVoter makes one control API request about a voter (read, unlock or
// resend, with requestedBy for a resend) to the runtime of election name, and
// returns the voter's state as the runtime answers it.
func (a *app) callVoter(ctx context.Context, name, voterID, runtimeURL string, act voterAction, requestedBy string) (*voterView, error) {
	resp, where, check, done, err := a.controlCall(ctx, name, runtimeURL, func(base string) (string, string, io.Reader) {
		return voterRequest(base, voterID, act, requestedBy)
	})
	if err != nil {
		return nil, err
	}
	defer done()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		var e struct{ Error string }
		if json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&e) == nil && e.Error == "unknown-voter" {
			return &voterView{VoterID: voterID}, nil
		}
		return nil, fmt.Errorf("%s has no voter view (HTTP 404): %s", where, check)
	case http.StatusUnauthorized, http.StatusForbidden:
		if runtimeURL == "" {
			return nil, tokenRefused(where, resp)
		}
		return nil, fmt.Errorf("%w: is --runtime-url the runtime of election %q?", tokenRefused(where, resp), name)
	case http.StatusConflict, http.StatusTooManyRequests, http.StatusUnprocessableEntity, http.StatusBadRequest:
		if act == voterResend {
			return nil, resendRefused(resp, voterID)
		}
		return nil, unexpectedAnswer(where, resp)
	default:
		return nil, unexpectedAnswer(where, resp)
	}
	var v voterView
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&v); err != nil {
		return nil, fmt.Errorf("the runtime's answer is not a voter view: %w", err)
	}
	return &v, nil
}

// tokenRefused: the runtime at where refused the control token (HTTP 401 or 403).
func tokenRefused(where string, resp *http.Response) error {
	return fmt.Errorf("%s refused the control token from Secret %s (HTTP %d)", where, keysSecretName, resp.StatusCode)
}

// unexpectedAnswer is an answer of the runtime at where that the caller does not
// expect: its status and the first line of its body.
func unexpectedAnswer(where string, resp *http.Response) error {
	return fmt.Errorf("%s answered HTTP %d: %s", where, resp.StatusCode, firstLine(resp.Body))
}

// printVoter says where the voter stands, in plain words, most urgent first.
func (a *app) printVoter(v *voterView) {
	w := a.stdout
	if !v.OnRoll {
		fmt.Fprintf(w, "Voter %s is not on the roll: check the id with the voter (ids are exact, case included).\n", v.VoterID)
		return
	}
	now := v.Now
	if now.IsZero() {
		now = a.now()
	}
	fmt.Fprintf(w, "Voter %s is on the roll.\n", v.VoterID)
	if v.Voted {
		fmt.Fprintln(w, "Voted: yes. Their ballot is in the box; they cannot vote again.")
	} else {
		fmt.Fprintln(w, "Voted: not yet.")
	}
	switch {
	case v.Method == "Credential" && v.ChannelAvailable:
		fmt.Fprintln(w, "Sign-in: with the credential from their letter.")
	case v.Method == "Credential":
		fmt.Fprintln(w, "Sign-in: with a credential, but none is on record for this voter: they cannot sign in.")
	case v.ChannelAvailable:
		fmt.Fprintf(w, "Sign-in: a code by %s.\n", channelWords(v.Channel))
	default:
		fmt.Fprintf(w, "Sign-in: a code by %s, but the roll has no %s for this voter: they cannot sign in.\n", channelWords(v.Channel), channelAddress(v.Channel))
	}
	if v.Locked && v.LockedUntil != nil {
		fmt.Fprintf(w, "LOCKED OUT until %s (%s) after %d wrong codes in a row (lockout %d; the next one lasts longer).\n",
			formatTime(*v.LockedUntil), relative(now, *v.LockedUntil), v.MaxFailures, v.Lockouts)
		fmt.Fprintln(w, "  Until then no code is checked and none is sent. Tell the voter when to try again, then to ask for a new code.")
		fmt.Fprintln(w, "  If they did not type wrong codes themselves, someone may be guessing: report it.")
	} else if v.Lockouts > 0 && v.LockedUntil != nil {
		fmt.Fprintf(w, "Lockouts: %d since their last successful sign-in; the last ended %s. A new lockout would last longer.\n",
			v.Lockouts, relative(now, *v.LockedUntil))
	} else if v.Lockouts > 0 {
		fmt.Fprintf(w, "Lockouts: %d since their last successful sign-in. A new lockout would last longer.\n", v.Lockouts)
	}
	if v.Failures > 0 {
		fmt.Fprintf(w, "Wrong codes: %d of %d before a lockout", v.Failures, v.MaxFailures)
		if v.LastFailureAt != nil {
			fmt.Fprintf(w, " (the last %s)", relative(now, *v.LastFailureAt))
		}
		fmt.Fprintln(w, ".")
	} else if !v.Locked {
		fmt.Fprintln(w, "Wrong codes: none since the last lockout or sign-in.")
	}
	if v.PendingSignIn != nil && v.PendingSignIn.Codes > 0 {
		fmt.Fprintf(w, "Code waiting to be typed: %d valid, the sign-in ends %s (%s).\n",
			v.PendingSignIn.Codes, formatTime(v.PendingSignIn.ExpiresAt), relative(now, v.PendingSignIn.ExpiresAt))
	} else if v.Method != "Credential" {
		fmt.Fprintln(w, "Code waiting to be typed: none; the voter asks for one on the sign-in page.")
	}
	if v.LastCodeSentAt != nil {
		fmt.Fprintf(w, "Last code sent: %s (%s)", formatTime(*v.LastCodeSentAt), relative(now, *v.LastCodeSentAt))
		if v.NextCodeAfter != nil {
			fmt.Fprintf(w, "; a new one can be asked for %s", relative(now, *v.NextCodeAfter))
		}
		fmt.Fprintln(w, ".")
	}
	a.printDeliveries(v, now)
}

func channelWords(c string) string {
	if c == "sms" {
		return "text message (SMS)"
	}
	return "e-mail"
}

func channelAddress(c string) string {
	if c == "sms" {
		return "mobile number"
	}
	return "e-mail address"
}
