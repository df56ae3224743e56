//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientretry "k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/controlplane"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/test/load"
)

// voter is one voter's client for the fault tests: it retries through faults as a
// patient person would, and never signs in again once it holds a session.
type voter struct {
	url, id, phone, session string
	// from is the address the voter declares to the ingress (X-Forwarded-For):
	// every test voter connects from the host
	from string
	http *http.Client
}

func newVoter(url string, i int) *voter {
	return &voter{url: url, id: runtimetest.VoterID(i), phone: runtimetest.VoterPhone(i), from: fmt.Sprintf("10.200.%d.%d", i/250, 1+i%250),
		http: &http.Client{Timeout: 20 * time.Second}}
}

func (v *voter) post(ctx context.Context, path string, in any) (int, []byte, error) {
	data, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.url+path, bytes.NewReader(data))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", v.from)
	if v.session != "" {
		req.AddCookie(&http.Cookie{Name: "scrutin_session", Value: v.session})
	}
	resp, err := v.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		if c.Name == "scrutin_session" {
			v.session = c.Value
		}
	}
	return resp.StatusCode, body, nil
}

// retry calls f until it says done, through network errors, 5xx and wait pages,
// for up to two minutes.
func retry(ctx context.Context, f func() (done bool, err error)) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		done, err := f()
		if done {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still failing after 2 minutes: %v", err)
		}
		select {
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func transient(status int) bool {
	return status == 0 || status >= 500 || status == http.StatusTooManyRequests
}

// signIn asks for a code, reads it from the phone and checks it.
func (v *voter) signIn(ctx context.Context) error {
	return retry(ctx, func() (bool, error) {
		status, body, err := v.post(ctx, "/api/v1/sign-in", map[string]string{"voterId": v.id})
		if err != nil || transient(status) {
			return false, fmt.Errorf("sign-in: %d %v", status, err)
		}
		if status != http.StatusAccepted {
			return true, fmt.Errorf("sign-in: %d %s", status, body)
		}
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		code, err := phone.Code(cctx, v.phone)
		cancel()
		if err != nil {
			return true, err
		}
		return true, retry(ctx, func() (bool, error) {
			status, body, err := v.post(ctx, "/api/v1/sign-in/code", map[string]string{"voterId": v.id, "code": code})
			if err != nil || transient(status) {
				return false, fmt.Errorf("code: %d %v", status, err)
			}
			if status != http.StatusOK {
				return true, fmt.Errorf("code: %d %s", status, body)
			}
			return true, nil
		})
	})
}

// cast casts until the runtime acknowledges (the receipt) or says the ballot is
// already in (an earlier attempt went through, its answer lost in the fault). A
// "session expired" is a lost session: the voter would have to start over.
func (v *voter) cast(ctx context.Context) (receipt string, already bool, err error) {
	err = retry(ctx, func() (bool, error) {
		status, body, err := v.post(ctx, "/api/v1/ballot", map[string]any{"answers": load.DefaultAnswers})
		switch {
		case err != nil || transient(status):
			return false, fmt.Errorf("cast: %d %v", status, err)
		case status == http.StatusCreated:
			var r struct{ Tracker string }
			_ = json.Unmarshal(body, &r)
			receipt = r.Tracker
			return true, nil
		case status == http.StatusConflict:
			already = true
			return true, nil
		default:
			return true, fmt.Errorf("cast: %d %s", status, body)
		}
	})
	return receipt, already, err
}

// upgradeRuntime upgrades Scrutin's runtime the way an operator does: the image
// gets a new tag (in the node's containerd, as a registry would serve it) and the
// manager's --runtime-image names it, so the manager restarts and rolls the pods
// of every election that takes it (not yet open, or upgradePolicy Immediate). The
// manager goes back to the first tag when the test ends. It returns the new image.
func upgradeRuntime(t *testing.T) string {
	t.Helper()
	root, err := controlplane.Root()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := kube.AppsV1().Deployments(managerNamespace).Get(ctx, "scrutin-manager", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	args := d.Spec.Template.Spec.Containers[0].Args
	var old string
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--runtime-image="); ok {
			old = v
		}
	}
	if old == "" {
		t.Fatalf("the manager has no --runtime-image: %v", args)
	}
	image := old + "-upgraded"
	sock := filepath.Join(root, "_output", "local-cluster", "containerd", "containerd.sock")
	if out, err := exec.Command("ctr", "--address", sock, "-n", "k8s.io", "images", "tag", "--force", old, image).CombinedOutput(); err != nil {
		t.Fatalf("ctr images tag: %v\n%s", err, out)
	}
	setImage := func(from, to string) error {
		return clientretry.RetryOnConflict(clientretry.DefaultRetry, func() error {
			d, err := kube.AppsV1().Deployments(managerNamespace).Get(ctx, "scrutin-manager", metav1.GetOptions{})
			if err != nil {
				return err
			}
			c := &d.Spec.Template.Spec.Containers[0]
			for i, a := range c.Args {
				if a == "--runtime-image="+from {
					c.Args[i] = "--runtime-image=" + to
				}
			}
			_, err = kube.AppsV1().Deployments(managerNamespace).Update(ctx, d, metav1.UpdateOptions{})
			return err
		})
	}
	if err := setImage(old, image); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := setImage(image, old); err != nil {
			t.Errorf("the manager's --runtime-image back to %s: %v", old, err)
		}
	})
	return image
}

// TestFaultsDuringCasting: 2,000 voters holding sessions cast while a voting pod
// is deleted, PostgreSQL stops at once and comes back, and Scrutin is upgraded to
// a new runtime image tag, which rolls the election's Deployment (the election
// opts in with upgradePolicy Immediate: by default an open vote keeps its runtime).
// Every acknowledged ballot is counted, none twice, and no voter has to sign in
// again.
func TestFaultsDuringCasting(t *testing.T) {
	const voters = 2000
	ns := "e2e-faults"
	congress(t, ns, voters, 2, 4, 45*time.Second, 20*time.Minute, func(e *scrutinv1.Election) {
		e.Spec.Runtime = &scrutinv1.RuntimeSpec{UpgradePolicy: scrutinv1.UpgradeImmediate}
	})
	e := waitPhase(t, ns, "congress", scrutinv1.PhaseOpen, 3*time.Minute)
	enc := e.Status.Namespace
	waitFor(t, "two voting pods Ready", 2*time.Minute, func() (bool, error) { return readyPods(t, enc) >= 2, nil })
	url := ingressURL(t, enc)
	ctx := t.Context()

	vs := make([]*voter, voters)
	load.Parallel(16, voters, func(i int) {
		v := newVoter(url, i+1)
		if err := v.signIn(ctx); err != nil {
			t.Errorf("%s: %v", v.id, err)
		}
		vs[i] = v
	})
	if t.Failed() {
		t.FailNow()
	}

	var cast atomic.Int64
	var mu sync.Mutex
	receipts := map[string]string{}
	faults := make(chan struct{})
	go func() {
		defer close(faults)
		at := func(n int64) {
			for cast.Load() < n && ctx.Err() == nil {
				time.Sleep(20 * time.Millisecond)
			}
		}
		at(voters / 4)
		pods, err := kube.CoreV1().Pods(enc).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=voting-runtime"})
		if err == nil && len(pods.Items) > 0 {
			t.Logf("fault: deleting pod %s after %d casts", pods.Items[0].Name, cast.Load())
			_ = kube.CoreV1().Pods(enc).Delete(ctx, pods.Items[0].Name, metav1.DeleteOptions{})
		}
		at(voters / 2)
		t.Logf("fault: PostgreSQL stops at once after %d casts", cast.Load())
		if err := pg.StopImmediate(); err != nil {
			t.Error(err)
		}
		time.Sleep(2 * time.Second)
		if err := pg.StartAgain(context.Background()); err != nil {
			t.Error(err)
		}
		at(11 * voters / 20)
		t.Logf("fault: Scrutin is upgraded to a new runtime image tag after %d casts", cast.Load())
		image := upgradeRuntime(t)
		waitFor(t, "the election's pods rolled to "+image, 3*time.Minute, func() (bool, error) {
			d, err := kube.AppsV1().Deployments(enc).Get(ctx, "voting-runtime", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			s := d.Status
			done := d.Spec.Template.Spec.Containers[0].Image == image && s.ObservedGeneration >= d.Generation &&
				s.UpdatedReplicas == s.Replicas && s.ReadyReplicas == s.Replicas && s.Replicas == *d.Spec.Replicas
			return done, fmt.Errorf("image %s, %d updated, %d ready of %d", d.Spec.Template.Spec.Containers[0].Image, s.UpdatedReplicas, s.ReadyReplicas, s.Replicas)
		})
		t.Logf("the roll finished after %d casts", cast.Load())
	}()
	// Casts come at 20 a second, so the faults fall among them; the last hundred
	// voters wait for the roll to finish, so casts go on during and after it.
	pace := time.NewTicker(time.Second / 20)
	defer pace.Stop()
	var already atomic.Int64
	load.Parallel(16, voters, func(i int) {
		<-pace.C
		if i >= voters-100 {
			<-faults
		}
		r, dup, err := vs[i].cast(ctx)
		cast.Add(1)
		if err != nil {
			t.Errorf("%s: %v", vs[i].id, err)
			return
		}
		if dup {
			already.Add(1)
			return
		}
		mu.Lock()
		receipts[vs[i].id] = r
		mu.Unlock()
	})
	<-faults
	t.Logf("%d receipts, %d voters told their ballot was already in", len(receipts), already.Load())

	// every voter's ballot is in, once: the runtime's count, and the board after
	// the close (moved forward to now)
	e = election(t, ns, "congress")
	patch := client.MergeFrom(e.DeepCopy())
	e.Spec.Schedule.ClosesAt = metav1.NewTime(time.Now().Add(5 * time.Second).Truncate(time.Second))
	if err := k8s.Patch(ctx, e, patch); err != nil { // the controller writes the status meanwhile: no Update
		t.Fatal(err)
	}
	e = waitPhase(t, ns, "congress", scrutinv1.PhaseTallied, 4*time.Minute)
	if e.Status.BallotsCast != voters {
		t.Errorf("%d ballots counted for %d voters", e.Status.BallotsCast, voters)
	}
	on, n := board(t, ingressURL(t, enc))
	for id, r := range receipts {
		if on[r] != 1 {
			t.Errorf("%s's receipt is on the board %d times", id, on[r])
		}
	}
	if n != voters {
		t.Errorf("%d ballots on the board for %d voters", n, voters)
	}
}
