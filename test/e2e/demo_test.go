//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"scrutin.dev/scrutin/internal/browser"
	"scrutin.dev/scrutin/internal/controlplane"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// TestDemo is the README's first command as a newcomer meets it: the demo is
// started, and everything after that is done only through what it printed. A
// voter opens the printed voter page in Chromium, reads their code on the printed
// mail catcher's page, votes; the printed kubectl commands show the turnout, close
// the vote and show the result; the scrutineer signs in on the printed page with
// the token the printed command reads; kubectl get, wait and describe show the
// Election as an operator expects. Ctrl-C then stops the demo cleanly.
func TestDemo(t *testing.T) {
	root, err := controlplane.Root()
	if err != nil {
		t.Fatal(err)
	}
	demoBin := filepath.Join(t.TempDir(), "demo")
	if out, err := exec.Command("go", "build", "-o", demoBin, filepath.Join(root, "hack", "demo")).CombinedOutput(); err != nil {
		t.Fatalf("go build ./hack/demo: %v\n%s", err, out)
	}
	listen, err := runtimetest.FreeAddress()
	if err != nil {
		t.Fatal(err)
	}
	mailListen, err := runtimetest.FreeAddress()
	if err != nil {
		t.Fatal(err)
	}
	const ns = "e2e-demo"
	t.Cleanup(func() { removeNamespace(ns) })

	demo := exec.Command(demoBin, "-tenant", ns, "-listen", listen, "-mail-listen", mailListen, "-smtp-port", "2025", "-opens-in", "40s")
	demo.Dir = root
	stdout, err := demo.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var printed runtimetest.SyncBuffer
	demo.Stderr = &printed
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- demo.Wait() }()
	t.Cleanup(func() {
		if demo.ProcessState == nil { // the test failed before its Ctrl-C
			_ = demo.Process.Signal(syscall.SIGINT)
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
				_ = demo.Process.Kill()
			}
		}
		t.Logf("the demo printed:\n%s", printed.String())
	})
	ready := make(chan struct{})
	go func() {
		s := bufio.NewScanner(stdout)
		once := sync.Once{}
		for s.Scan() {
			printed.Write([]byte(s.Text() + "\n"))
			if strings.HasPrefix(s.Text(), "Ctrl-C stops") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("the demo stopped before it was ready: %v", err)
	case <-time.After(15 * time.Minute):
		t.Fatal("the demo was not ready after 15 minutes")
	}

	// What the demo printed, in the order the README promises, and nothing a
	// newcomer would take for a failure: no proxy error while the Gateway took up
	// the tenant's certificate, no stack trace.
	text := printed.String()
	for _, noise := range []string{"proxy error", "goroutine ", "panic"} {
		if strings.Contains(text, noise) {
			t.Errorf("the demo printed %q before it was up", noise)
		}
	}
	voterURL := find(t, text, `1\. Vote:\s+(\S+)`)
	voterID := find(t, text, `as voter (A-\d+)`)
	mailURL := find(t, text, `2\. Voters' codes:\s+(\S+)`)
	scrutineerURL := find(t, text, `3\. Scrutineers:\s+(\S+)`)
	tokenCmd := find(t, text, `token: (.+)`)
	env := find(t, text, `4\. Watch it:\s+(export .+)`)
	getCmd := strings.TrimSuffix(find(t, text, `(kubectl get elections .+ -w)`), " -w")
	statusCmd := find(t, text, `(kubectl scrutin status .+)`)
	closeCmd := find(t, text, `(kubectl scrutin close \S+ -n \S+)`)
	resultsCmd := find(t, text, `\(then: (kubectl scrutin results .+)\)`)
	if i, j, k := strings.Index(text, voterURL), strings.Index(text, mailURL), strings.Index(text, scrutineerURL); !(i < j && j < k) {
		t.Errorf("the voter page, the mail page and the scrutineer page are not printed in that order:\n%s", text)
	}
	shell := func(command string) string {
		t.Helper()
		out, err := exec.Command("bash", "-c", env+"\n"+command).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", command, err, out)
		}
		return string(out)
	}

	// What kubectl shows of the Election: the columns, Ready for kubectl wait, the
	// events in plain words.
	tenantFlag := find(t, text, `kubectl get elections (-n \S+)`)
	if out := shell("kubectl get elections " + tenantFlag); !regexp.MustCompile(`NAME\s+PHASE\s+OPENS\s+CLOSES\s+TURNOUT`).MatchString(out) {
		t.Errorf("kubectl get elections lacks the phase, schedule and turnout columns:\n%s", out)
	}
	shell("kubectl wait --for=condition=Ready election/board-2027 --timeout=2m " + tenantFlag)
	if out := shell("kubectl describe election board-2027 " + tenantFlag); !strings.Contains(out, "Events:") || !strings.Contains(out, "is ready; the election opens at") {
		t.Errorf("kubectl describe does not show the events in plain words:\n%s", out)
	}

	// The voter: sign in on the printed page, read the code in the mail catcher,
	// vote for Camille Martin.
	ctx := browser.Start(t)
	waitFor(t, "the sign-in form (the election opens 40 s after it is applied)", 3*time.Minute, func() (bool, error) {
		if _, err := chromedp.Run(ctx, chromedp.Navigate(strings.TrimSuffix(voterURL, "/")+"/sign-in")); err != nil {
			return false, err
		}
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#voter_id").length`))
		return n == 1, err
	})
	browser.Do(t, ctx, root, "ask for a code",
		chromedp.SendKeys(chromedp.CSS("#voter_id"), voterID),
		chromedp.Click(chromedp.CSS("#signin-submit")),
		chromedp.WaitVisible(chromedp.CSS("#code-form")))
	address := "camille.martin@example.org" // A-0001's, in the demo's roll
	code := mailedCode(t, mailURL, address)
	mailTab, cancelMail := chromedp.NewContext(ctx)
	browser.Do(t, mailTab, root, "the mail catcher's page lists the mail", chromedp.Navigate(mailURL),
		chromedp.WaitVisible(chromedp.Search(`//*[contains(text(), "`+address+`")]`)))
	cancelMail()
	browser.Do(t, ctx, root, "type the code, vote",
		chromedp.SendKeys(chromedp.CSS("#code"), code),
		chromedp.Click(chromedp.CSS("#code-submit")),
		chromedp.WaitVisible(chromedp.CSS("#ballot-form")),
		chromedp.Click(chromedp.CSS("#q_president_camille")),
		chromedp.Click(chromedp.CSS("#q_budget_approve")),
		chromedp.Click(chromedp.CSS("#ballot-submit")),
		chromedp.WaitVisible(chromedp.CSS("#review-list")),
		chromedp.Click(chromedp.CSS("#confirm-button")),
		chromedp.WaitVisible(chromedp.CSS("#vote-recorded")))

	// The hotline sees that the voter voted: kubectl scrutin voter finds a Ready
	// voting-runtime pod and forwards to its control port by itself, with nothing
	// else running (the only test of that forward: it needs a kubelet).
	voterCmd := "kubectl scrutin voter board-2027 " + voterID + " " + tenantFlag
	if out := shell(voterCmd); !strings.Contains(out, "Voter "+voterID+" is on the roll.") || !strings.Contains(out, "Voted: yes.") ||
		strings.Contains(out, code) || strings.Contains(out, address) {
		t.Errorf("%s does not show that the voter voted (or shows their code or address):\n%s", voterCmd, out)
	}

	// The turnout, through the printed commands.
	waitFor(t, "the turnout in kubectl get elections", 2*time.Minute, func() (bool, error) {
		out := shell(getCmd)
		return strings.Contains(out, "25.0%"), fmt.Errorf("%s", out)
	})
	if out := shell(statusCmd); !strings.Contains(out, "Turnout:     1 / 4 voters (25.0%)") {
		t.Errorf("%s does not show 1 ballot of 4 voters:\n%s", statusCmd, out)
	}

	// The scrutineer, with the token the printed command reads.
	token := strings.TrimSpace(shell(tokenCmd))
	browser.Do(t, ctx, root, "the scrutineer signs in", chromedp.Navigate(scrutineerURL),
		chromedp.SendKeys(chromedp.CSS("#scrutineer-token"), token),
		chromedp.Click(chromedp.CSS("#scrutineer-submit")),
		chromedp.WaitVisible(chromedp.CSS("#count-cast")))
	if cast, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#count-cast"))); err != nil || strings.TrimSpace(cast) != "1" {
		t.Errorf("the scrutineer page shows %q ballots cast (%v)", cast, err)
	}

	// Close, and read the result.
	shell(closeCmd)
	waitFor(t, "the results", 3*time.Minute, func() (bool, error) {
		out, err := exec.Command("bash", "-c", env+"\n"+resultsCmd).CombinedOutput()
		return err == nil && strings.Contains(string(out), "Winner: Camille Martin"), fmt.Errorf("%v: %s", err, out)
	})

	// Ctrl-C: the demo stops, and with it the mail catcher.
	_ = demo.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the demo ended with %v on Ctrl-C", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the demo still runs 30 s after Ctrl-C")
	}
	if c, err := net.DialTimeout("tcp", mailListen, time.Second); err == nil {
		c.Close()
		t.Errorf("the mail catcher still answers on %s after Ctrl-C", mailListen)
	}
}

// find returns the first group of re in text.
func find(t *testing.T, text, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("the demo did not print %s:\n%s", re, text)
	}
	return strings.TrimSpace(m[1])
}

// mailedCode reads, through mailpit's API, the code in the newest mail to address.
func mailedCode(t *testing.T, mailURL, address string) string {
	t.Helper()
	base := strings.TrimSuffix(mailURL, "/")
	var code string
	waitFor(t, "a mail to "+address, time.Minute, func() (bool, error) {
		var found struct {
			Messages []struct{ ID string }
		}
		if err := getJSON(base+"/api/v1/search?query="+url.QueryEscape("to:"+address), &found); err != nil || len(found.Messages) == 0 {
			return false, err
		}
		var m struct{ Text string }
		if err := getJSON(base+"/api/v1/message/"+found.Messages[0].ID, &m); err != nil {
			return false, err
		}
		code = sink.CodeIn(m.Text)
		return code != "", fmt.Errorf("no code in %q", m.Text)
	})
	return code
}

func getJSON(u string, v any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: HTTP %d: %s", u, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
