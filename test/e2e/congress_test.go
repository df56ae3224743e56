//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/controlplane"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/test/load"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// congressVoters is the size of TestCongress's roll: the 140,000 members of the
// congress that collapsed at noon (SCRUTIN_E2E_CONGRESS_VOTERS changes it).
func congressVoters() int {
	if n, err := strconv.Atoi(os.Getenv("SCRUTIN_E2E_CONGRESS_VOTERS")); err == nil && n > 0 {
		return n
	}
	return 140_000
}

// TestCongress is the party congress on the local cluster, behind its own make
// target (make e2e-congress: SCRUTIN_E2E_CONGRESS=1): a 140,000-voter roll, far
// beyond one Secret, is given to `kubectl scrutin create` as one CSV, which cuts it
// into parts; the Election reaches Scheduled with status.voters = 140000; every
// credential letter reaches the SMTP sink although the voting pods are deleted
// during the send (none lost; any sent twice carries the same credential); the
// delivery counts reach the status and the Delivered condition; and 2,000 voters
// then vote with the credential of their letter.
func TestCongress(t *testing.T) {
	if os.Getenv("SCRUTIN_E2E_CONGRESS") == "" {
		t.Skip("the 140,000-voter congress runs with make e2e-congress (SCRUTIN_E2E_CONGRESS=1)")
	}
	n := congressVoters()
	const voting = 2000
	ns := tenant(t, "e2e-congress")
	_, dir, plugin, kubeconfig := buildPlugin(t)
	rollFile := filepath.Join(dir, "congress.csv")
	if err := os.WriteFile(rollFile, []byte(runtimetest.RollCSV(n)), 0o600); err != nil {
		t.Fatal(err)
	}

	mail := sink.StartSMTPOn(t, hostIP+":0")
	secret(t, ns, "smtp", map[string]string{"host": hostIP, "port": strconv.Itoa(mail.Port()), "from": "congress@example.org", "tls": "none"})
	secret(t, ns, "postgres-admin", map[string]string{"dsn": pg.AdminURLAt(hostIP)})
	opens := time.Now().Add(6 * time.Minute).UTC().Truncate(time.Second)
	create := exec.Command(plugin, "create", "congress", "-n", ns,
		"--title", "Congrès 2027", "--organization", "Parti Exemple",
		"--opens", opens.Format(time.RFC3339), "--closes", opens.Add(2*time.Hour).Format(time.RFC3339),
		"--roll", rollFile, "--method", "Credential", "--smtp-secret", "smtp",
		"--store", "PostgreSQL", "--postgres-admin-secret", "postgres-admin", "--replicas", "2:4",
		"--question", "chair:Who should chair?:alice=Alice,bob=Bob", "--allow-blank")
	create.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	start := time.Now()
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("kubectl scrutin create: %v\n%s", err, out)
	} else {
		t.Logf("kubectl scrutin create (%s):\n%s", time.Since(start).Round(time.Second), out)
	}

	e := waitPhase(t, ns, "congress", scrutinv1.PhaseScheduled, 15*time.Minute)
	t.Logf("Scheduled %s after the create", time.Since(start).Round(time.Second))
	if e.Status.Voters != int64(n) {
		t.Fatalf("status.voters = %d, want %d", e.Status.Voters, n)
	}
	if e.Status.Roll == nil || e.Status.Roll.Parts < 2 {
		t.Errorf("status.roll = %+v: a %d-voter roll should span several parts", e.Status.Roll, n)
	}
	electionNS := e.Status.Namespace

	// Delete the voting pods while the letters are being sent.
	waitFor(t, "the first letters", 10*time.Minute, func() (bool, error) {
		return len(mail.Messages()) >= n/10, fmt.Errorf("%d letters", len(mail.Messages()))
	})
	pods, err := kube.CoreV1().Pods(electionNS).List(t.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=voting-runtime"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if err := kube.CoreV1().Pods(electionNS).Delete(t.Context(), p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("deleted %d voting pods at %d letters received", len(pods.Items), len(mail.Messages()))

	credentials := map[string]string{} // recipient -> credential of their first letter
	var twice, differing int
	waitFor(t, "a letter for every voter", 30*time.Minute, func() (bool, error) {
		credentials, twice, differing = letters(mail.Messages())
		return len(credentials) >= n, fmt.Errorf("letters for %d voters of %d", len(credentials), n)
	})
	t.Logf("letters: %d voters reached, %d sent twice (%d with another credential), in %s",
		len(credentials), twice, differing, time.Since(start).Round(time.Second))
	if differing != 0 {
		t.Errorf("%d letters sent again carried another credential", differing)
	}

	waitFor(t, "the delivery counts in the status", 5*time.Minute, func() (bool, error) {
		e = election(t, ns, "congress")
		c := meta.FindStatusCondition(e.Status.Conditions, scrutinv1.ConditionDelivered)
		if e.Status.Delivery == nil || c == nil {
			return false, fmt.Errorf("status.delivery %+v, Delivered %+v", e.Status.Delivery, c)
		}
		var sent int64
		for _, ch := range e.Status.Delivery.Channels {
			if ch.Channel == "mail" {
				sent = ch.Sent + ch.Delivered
			}
		}
		return sent >= int64(n) && c.Status == metav1.ConditionTrue, fmt.Errorf("mail sent %d, Delivered %s %s", sent, c.Status, c.Message)
	})

	// 2,000 voters vote with the credential of their letter.
	waitPhase(t, ns, "congress", scrutinv1.PhaseOpen, 10*time.Minute)
	url := ingressURL(t, electionNS)
	var cast atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, voting)
	next := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				i := j * (n / voting)
				v := newVoter(url, i)
				v.from = fmt.Sprintf("10.201.%d.%d", j/250, 1+j%250)
				if err := credentialVote(t.Context(), v, credentials[runtimetest.VoterEmail(i)]); err != nil {
					errs <- fmt.Errorf("voter %d: %w", i, err)
					continue
				}
				cast.Add(1)
			}
		}()
	}
	for j := 1; j <= voting; j++ {
		next <- j
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitFor(t, "the ballots in the status", 3*time.Minute, func() (bool, error) {
		e = election(t, ns, "congress")
		return e.Status.BallotsCast == cast.Load(), fmt.Errorf("status.ballotsCast %d, cast %d", e.Status.BallotsCast, cast.Load())
	})
	if cast.Load() != voting {
		t.Errorf("%d voters voted, want %d", cast.Load(), voting)
	}
}

// buildPlugin builds kubectl-scrutin into a temporary directory, for a test to run
// it as an operator does: the repository's root, that directory, the binary and the
// local cluster's kubeconfig.
func buildPlugin(t *testing.T) (root, dir, plugin, kubeconfig string) {
	t.Helper()
	root, err := controlplane.Root()
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	plugin = filepath.Join(dir, "kubectl-scrutin")
	if out, err := exec.Command("go", "build", "-o", plugin, filepath.Join(root, "cmd", "kubectl-scrutin")).CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kubectl-scrutin: %v\n%s", err, out)
	}
	return root, dir, plugin, envOr("SCRUTIN_E2E_KUBECONFIG", filepath.Join(root, "_output/local-cluster/kubeconfig"))
}

// letters maps each recipient to the credential of their first letter, and counts
// the letters sent again, and those among them with another credential.
func letters(msgs []sink.Mail) (first map[string]string, twice, differing int) {
	first = make(map[string]string, len(msgs))
	for _, m := range msgs {
		to := strings.ToLower(strings.Join(m.To, ","))
		c := sink.CredentialIn(m.Body)
		if prev, ok := first[to]; ok {
			twice++
			if prev != c {
				differing++
			}
			continue
		}
		first[to] = c
	}
	return first, twice, differing
}

// credentialVote signs in with the credential of the voter's letter and casts.
func credentialVote(ctx context.Context, v *voter, credential string) error {
	if credential == "" {
		return fmt.Errorf("no credential in the letter")
	}
	err := retry(ctx, func() (bool, error) {
		status, body, err := v.post(ctx, "/api/v1/sign-in/code", map[string]string{"voterId": v.id, "code": credential})
		if err != nil || transient(status) {
			return false, fmt.Errorf("sign-in: %d %v", status, err)
		}
		if status != http.StatusOK {
			return true, fmt.Errorf("sign-in: %d %s", status, body)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	return retry(ctx, func() (bool, error) {
		status, body, err := v.post(ctx, "/api/v1/ballot", map[string]any{"answers": map[string][]string{"chair": {"alice"}}})
		switch {
		case err != nil || transient(status):
			return false, fmt.Errorf("cast: %d %v", status, err)
		case status == http.StatusCreated:
			return true, nil
		default:
			return true, fmt.Errorf("cast: %d %s", status, body)
		}
	})
}

// TestCongressSample is what a platform operator does with the party-congress
// sample: the 140,000-voter roll made by hack/congress-roll, cut into Secrets by
// `kubectl scrutin roll split`, the gateway, mail and database Secrets, then
// config/samples/party-congress.yaml applied as it is: the Election reaches
// Scheduled with every voter on the roll and none unreachable (the members without
// a phone get their codes by email).
func TestCongressSample(t *testing.T) {
	if os.Getenv("SCRUTIN_E2E_CONGRESS") == "" {
		t.Skip("the 140,000-voter congress sample runs with make e2e-congress (SCRUTIN_E2E_CONGRESS=1)")
	}
	ns := tenant(t, "e2e-congress-sample")
	root, dir, plugin, kubeconfig := buildPlugin(t)
	rollFile := filepath.Join(dir, "congress.csv")
	gen := exec.Command("bash", "-c", "go run ./hack/congress-roll > "+rollFile)
	gen.Dir = root
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("go run ./hack/congress-roll: %v\n%s", err, out)
	}
	split := exec.Command(plugin, "roll", "split", rollFile, "--name", "congress-roll", "-n", ns)
	split.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	if out, err := split.CombinedOutput(); err != nil {
		t.Fatalf("kubectl scrutin roll split: %v\n%s", err, out)
	}
	mail := sink.StartSMTPOn(t, hostIP+":0")
	secret(t, ns, "congress-smtp", map[string]string{"host": hostIP, "port": strconv.Itoa(mail.Port()), "from": "congres@example.org", "tls": "none"})
	secret(t, ns, "congress-sms-gateway", map[string]string{"url": phone.URL(), "token": load.PhonesToken, "sender": "Congres"})
	secret(t, ns, "congress-postgres-admin", map[string]string{"dsn": pg.AdminURLAt(hostIP)})

	data, err := os.ReadFile(filepath.Join(root, "config", "samples", "party-congress.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var e scrutinv1.Election
	if err := yaml.UnmarshalStrict(data, &e); err != nil {
		t.Fatal(err)
	}
	e.Namespace = ns
	if err := k8s.Create(t.Context(), &e); err != nil {
		t.Fatalf("the sample is refused: %v", err)
	}
	got := waitPhase(t, ns, e.Name, scrutinv1.PhaseScheduled, 15*time.Minute)
	if got.Status.Voters != 140_000 {
		t.Errorf("status.voters = %d, want 140000", got.Status.Voters)
	}
	if got.Status.Roll == nil || got.Status.Roll.Parts != 12 || got.Status.Roll.Unreachable != 0 {
		t.Errorf("status.roll = %+v, want 12 parts and no voter unreachable", got.Status.Roll)
	}
}
