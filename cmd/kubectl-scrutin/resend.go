package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// resendVerb is the RBAC verb on an Election that allows resending its voters'
// codes and re-issuing their credential letters: the role election-editor has
// it, election-viewer does not (config/rbac/tenant_roles.yaml).
const resendVerb = "resend"

func (a *app) resendCommand() *cobra.Command {
	var output, runtimeURL string
	cmd := &cobra.Command{
		Use:   "resend NAME VOTER_ID",
		Short: "Resend a voter's sign-in code, or re-issue their credential letter (for the hotline)",
		Long: `Resend what a voter needs to sign in, when it did not arrive:

- with a code method (EmailCode, SMSCode), a fresh code to a voter whose sign-in
  is waiting for one (they entered their voter id on the sign-in page), as their
  own "send again" does: never while they are locked out, and not within the
  resend cooldown of the last code. A voter who asked for no code gets none: ask
  them to enter their voter id on the sign-in page first.
- with the Credential method, a new credential letter by e-mail: the old
  credential stops working at once, the old letter is withdrawn if it is still
  queued, and the voter's open sessions end. A voter who has voted gets no new
  credential.

The runtime records it in the election's audit log (kind code-resent or
credential-reissued) with the voter id and who asked: your Kubernetes user name,
as the API server knows it (a SelfSubjectReview), or the kubeconfig's user where
the cluster does not say. Never a code nor a credential.

It needs the verb "resend" on the Election, in its namespace (the role
election-editor has it; election-viewer does not), and reaches the runtime as
kubectl scrutin voter does (the role election-hotline in the election's
namespace, or --runtime-url).`,
		Example: `  kubectl scrutin resend board-2027 A-1042 -n amis-du-parc`,
		Args:    exactArgs("NAME", "VOTER_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx := cmd.Context()
			e, _, err := a.getElection(ctx, args[0])
			if err != nil {
				return err
			}
			if err := a.mayResend(ctx, e); err != nil {
				return err
			}
			by, err := a.requestedBy(ctx)
			if err != nil {
				return err
			}
			v, err := a.callVoter(ctx, args[0], args[1], runtimeURL, voterResend, by)
			if err != nil {
				return err
			}
			if output != "" {
				return printStructured(a.stdout, output, v)
			}
			if !v.OnRoll {
				a.printVoter(v)
				return &exitError{code: 1, err: fmt.Errorf("nothing was sent: voter %s is not on the roll", v.VoterID)}
			}
			if v.Method == string(scrutinv1.Credential) {
				fmt.Fprintf(a.stdout, "Re-issued the credential letter of voter %s (recorded in the audit log as asked by %s): a new letter is queued for their e-mail address; the old credential no longer works.\n", v.VoterID, by)
			} else {
				fmt.Fprintf(a.stdout, "Sent a new code to voter %s by %s (recorded in the audit log as asked by %s); the codes already sent still work.\n", v.VoterID, channelWords(v.Channel), by)
			}
			a.printVoter(v)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml (default: text)")
	cmd.Flags().StringVar(&runtimeURL, "runtime-url", "", "ask the runtime at this address (such as http://127.0.0.1:18080 after a kubectl port-forward of your own) instead of forwarding to a pod")
	return cmd
}

// mayResend asks the API server whether the caller may resend for e (the verb
// resend on the Election), and refuses plainly when not.
func (a *app) mayResend(ctx context.Context, e *scrutinv1.Election) error {
	c, _, err := a.connect()
	if err != nil {
		return err
	}
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: e.Namespace, Verb: resendVerb, Group: scrutinv1.GroupVersion.Group, Resource: "elections", Name: e.Name,
		},
	}}
	if err := c.Create(ctx, review); err != nil {
		return fmt.Errorf("while asking the API server whether you may resend for election %q: %w", e.Name, err)
	}
	if !review.Status.Allowed {
		return fmt.Errorf("you may not resend for election %q in namespace %s: it needs the verb %q on the Election (the role election-editor has it; election-viewer does not)",
			e.Name, e.Namespace, resendVerb)
	}
	return nil
}

// requestedBy is who asks, for the audit log: the user name the API server
// authenticates (a SelfSubjectReview), else the kubeconfig's user.
func (a *app) requestedBy(ctx context.Context) (string, error) {
	c, _, err := a.connect()
	if err != nil {
		return "", err
	}
	review := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err == nil && review.Status.UserInfo.Username != "" {
		return review.Status.UserInfo.Username, nil
	}
	raw, err := a.clientConfig.RawConfig()
	if err != nil {
		return "", fmt.Errorf("while reading the kubeconfig: %w", err)
	}
	name := raw.CurrentContext
	if a.overrides.CurrentContext != "" {
		name = a.overrides.CurrentContext
	}
	user := a.overrides.Context.AuthInfo
	if ctx, ok := raw.Contexts[name]; ok && user == "" {
		user = ctx.AuthInfo
	}
	if user == "" {
		return "", errors.New("cannot tell who you are (the API server gives no user name and the kubeconfig names no user): the audit log records who asked for a resend")
	}
	return user, nil
}

// resendRefused is the runtime's refusal of a resend, in words for the hotline.
func resendRefused(resp *http.Response, voterID string) error {
	var e struct {
		Error             string `json:"error"`
		Message           string `json:"message"`
		RetryAfterSeconds int    `json:"retryAfterSeconds"`
		LockedUntil       string `json:"lockedUntil"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&e); err != nil {
		return fmt.Errorf("the runtime refused the resend (HTTP %d)", resp.StatusCode)
	}
	switch e.Error {
	case "no-pending-sign-in":
		return fmt.Errorf("nothing was sent: voter %s has not asked for a code (or their sign-in expired). Ask them to enter their voter id on the sign-in page; if the code does not arrive, resend then", voterID)
	case "already-voted":
		return fmt.Errorf("nothing was re-issued: voter %s has already voted; their credential is spent and a new one would not let them vote again", voterID)
	case "resend-too-soon":
		return fmt.Errorf("nothing was sent: a code went to voter %s moments ago; resend in %d seconds if it has not arrived by then (the one on its way still works)", voterID, e.RetryAfterSeconds)
	case "locked-out":
		until := e.LockedUntil
		if t, err := time.Parse(time.RFC3339, e.LockedUntil); err == nil {
			until = formatTime(t)
		}
		return fmt.Errorf("nothing was sent: voter %s is locked out until %s after too many wrong codes. If they did not type them, end the lockout with kubectl scrutin voter --unlock, then resend", voterID, until)
	case "no-channel":
		return fmt.Errorf("nothing was sent: the roll gives no way to reach voter %s by the election's sign-in method", voterID)
	case "closed":
		return errors.New("nothing was sent: the vote is closed")
	}
	return fmt.Errorf("the runtime refused the resend (HTTP %d, %s): %s", resp.StatusCode, e.Error, e.Message)
}
