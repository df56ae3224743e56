package runtime

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/pgtest"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// outboxStore is one of the stores the outbox tests run on: the runtime's --store
// argument, and a dump of the store's bytes as they are on disk or in a backup.
type outboxStore struct {
	name string
	spec string
	dump func(t *testing.T) []byte
	// outbox is the outbox table alone, as dumped (PostgreSQL) or read (the
	// embedded store: each row's columns, the sealed bytes raw).
	outbox func(t *testing.T) []byte
}

// outboxStores are a real PostgreSQL 15 (dumped with pg_dump) and the embedded
// store (its database file and write-ahead log, byte for byte), each made inside
// the subtest that uses it.
var outboxStores = []struct {
	name string
	make func(t *testing.T) outboxStore
}{
	{"postgres", func(t *testing.T) outboxStore {
		pg := pgtest.ForTest(t)
		dump := func(t *testing.T, args ...string) []byte {
			t.Helper()
			out, err := exec.Command(filepath.Join(pgBin(), "pg_dump"), append([]string{"--dbname", pg.AdminURLAt("127.0.0.1")}, args...)...).Output()
			if err != nil {
				t.Fatalf("pg_dump: %v", err)
			}
			return out
		}
		return outboxStore{name: "postgres", spec: "postgres:" + pg.AdminDSN(),
			dump:   func(t *testing.T) []byte { return dump(t) },
			outbox: func(t *testing.T) []byte { return dump(t, "--table=outbox", "--data-only") }}
	}},
	{"embedded", func(t *testing.T) outboxStore {
		path := filepath.Join(t.TempDir(), "data", "election.db")
		return outboxStore{name: "embedded", spec: "embedded:" + path, dump: func(t *testing.T) []byte {
			t.Helper()
			var all []byte
			for _, p := range []string{path, path + "-wal", path + "-journal"} {
				b, err := os.ReadFile(p)
				if err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				all = append(all, b...)
			}
			if len(all) == 0 {
				t.Fatalf("no database file at %s", path)
			}
			return all
		}, outbox: func(t *testing.T) []byte {
			t.Helper()
			db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			rows, err := db.Query("SELECT voter_id, kind, channel, state, reason, sealed FROM outbox")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []byte
			n := 0
			for rows.Next() {
				var voter, kind, channel, state, reason string
				var sealed []byte
				if err := rows.Scan(&voter, &kind, &channel, &state, &reason, &sealed); err != nil {
					t.Fatal(err)
				}
				out = append(out, strings.Join([]string{voter, kind, channel, state, reason}, "|")...)
				out = append(append(out, sealed...), '\n')
				n++
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatal("the outbox table is empty: the scan proves nothing")
			}
			return out
		}}
	}},
}

// forEachStore runs f on each outbox store, as a subtest named after it.
func forEachStore(t *testing.T, f func(t *testing.T, st outboxStore)) {
	for _, s := range outboxStores {
		t.Run(s.name, func(t *testing.T) { f(t, s.make(t)) })
	}
}

// outboxArgs are a runtime's arguments for an election open now, its roll of n
// voters, on st, mail to smtp.
func outboxArgs(t *testing.T, dir, method string, st outboxStore, smtp *sink.SMTPSink, roll string, extra ...string) []string {
	now := time.Now()
	return append([]string{
		"--election", runtimetest.ElectionFile(t, dir, method, now.Add(-time.Minute), now.Add(2*time.Hour), ""),
		"--roll", roll, "--store", st.spec, "--smtp", smtp.Addr(),
		"--control-token-file", filepath.Join(dir, "control-token"),
		// a worker killed mid-send leaves its rows leased for 2 × 2 s + 15 s
		"--delivery-attempt-timeout=2s",
	}, extra...)
}

// inClear reports whether dump holds secret as text or hex-encoded (PostgreSQL
// dumps bytea as hex), in any case.
func inClear(dump []byte, secret string) bool {
	lower := bytes.ToLower(dump)
	for _, form := range []string{secret, strings.ToLower(secret), hex.EncodeToString([]byte(secret))} {
		if bytes.Contains(dump, []byte(form)) || bytes.Contains(lower, []byte(strings.ToLower(form))) {
			return true
		}
	}
	return false
}

// lettersByVoter groups the sink's mails by recipient, each with the credential
// it carries.
func lettersByVoter(smtp *sink.SMTPSink) map[string][]string {
	by := map[string][]string{}
	for _, m := range smtp.Messages() {
		for _, to := range m.To {
			by[strings.ToLower(to)] = append(by[strings.ToLower(to)], sink.CredentialIn(m.Body))
		}
	}
	return by
}

// waitUntil polls cond every 100 ms until it holds, failing after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// getStatus is the HTTP status of GET url.
func getStatus(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestCredentialLettersSurviveKill9: a runtime sending 20,000 credential letters is
// killed with SIGKILL part way, then started again: every voter's letter reaches
// the mail server, none is lost, and a letter sent twice (its send done, its
// outcome not yet recorded) carries the same credential both times.
func TestCredentialLettersSurviveKill9(t *testing.T) {
	const n = 20000
	forEachStore(t, func(t *testing.T, st outboxStore) {
		smtp := sink.StartSMTP(t)
		dir := t.TempDir()
		rt := runtimetest.Start(t, runtimeBin, nil, outboxArgs(t, dir, "Credential", st, smtp, runtimetest.RollFile(t, dir, n))...)
		waitUntil(t, 3*time.Minute, "2,000 letters sent before the kill", func() bool { return len(smtp.Messages()) >= 2000 })
		rt.Kill9()
		before := len(smtp.Messages())
		rt.Restart()
		deadline := time.Now().Add(5 * time.Minute)
		for reached := len(lettersByVoter(smtp)); reached < n; reached = len(lettersByVoter(smtp)) {
			if time.Now().After(deadline) {
				t.Fatalf("after 5 minutes, %d of %d voters reached", reached, n)
			}
			time.Sleep(500 * time.Millisecond)
		}
		by := lettersByVoter(smtp)
		duplicates := 0
		for i := 1; i <= n; i++ {
			letters := by[runtimetest.VoterEmail(i)]
			if len(letters) == 0 {
				t.Fatalf("voter %d got no letter", i)
			}
			if letters[0] == "" {
				t.Fatalf("voter %d's letter holds no credential", i)
			}
			for _, c := range letters[1:] {
				duplicates++
				if c != letters[0] {
					t.Errorf("voter %d got two letters with different credentials", i)
				}
			}
		}
		if len(by) != n {
			t.Errorf("%d recipients, want %d", len(by), n)
		}
		t.Logf("%s: %d letters sent before the kill, %d after it, %d sent twice", st.name, before, len(smtp.Messages())-before, duplicates)
		// the letters' credentials are the ones the store checks
		v := newVoter(rt.URL, nil)
		var out map[string]any
		if status, err := v.call(http.MethodPost, "/api/v1/sign-in/code", map[string]string{"voterId": runtimetest.VoterID(n), "code": by[runtimetest.VoterEmail(n)][0]}, &out); err != nil || status != http.StatusOK {
			t.Errorf("signing in with the last voter's letter: %d %v %v", status, out, err)
		}
	})
}

// TestCodeRequestedBeforeKill9Arrives: a voter asks for a code; the mail server
// is refusing for now; the runtime is killed before its retry. Started again, it
// sends the code (no new request), and the code signs the voter in.
func TestCodeRequestedBeforeKill9Arrives(t *testing.T) {
	forEachStore(t, func(t *testing.T, st outboxStore) {
		rt, smtp, v := codeRefused(t, st, 2)
		rt.Kill9()
		if len(smtp.Messages()) != 0 {
			t.Fatal("the code was sent before the kill: the test proves nothing")
		}
		smtp.SetFailFirst(0)
		rt.Restart()
		m, err := smtp.WaitFor(runtimetest.VoterEmail(2), time.Minute)
		if err != nil {
			t.Fatalf("the code asked for before the kill never came: %v", err)
		}
		v = v.moveTo(rt.URL)
		if status, err := v.call(http.MethodPost, "/api/v1/sign-in/code", map[string]string{"voterId": runtimetest.VoterID(2), "code": sink.CodeIn(m.Body)}, nil); err != nil || status != http.StatusOK {
			t.Fatalf("the code sent after the restart does not sign in: %d %v", status, err)
		}
	})
}

// codeRefused starts an EmailCode runtime on st with a roll of 3 voters, the
// mail server refusing for now, and has voter i ask for a code: it returns the
// runtime, the mail server and the voter.
func codeRefused(t *testing.T, st outboxStore, i int) (*runtimetest.Instance, *sink.SMTPSink, *voter) {
	t.Helper()
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	rt := runtimetest.Start(t, runtimeBin, nil, outboxArgs(t, dir, "EmailCode", st, smtp, runtimetest.RollFile(t, dir, 3))...)
	waitReady(t, rt, time.Minute)
	smtp.SetFailFirst(1 << 30)
	v := newVoter(rt.URL, nil)
	if status, err := v.call(http.MethodPost, "/api/v1/sign-in", map[string]string{"voterId": runtimetest.VoterID(i)}, nil); err != nil || status != http.StatusAccepted {
		t.Fatalf("sign-in: %d %v", status, err)
	}
	return rt, smtp, v
}

// waitReady waits until the runtime's /readyz answers 200.
func waitReady(t *testing.T, rt *runtimetest.Instance, timeout time.Duration) {
	t.Helper()
	waitUntil(t, timeout, "/readyz 200", func() bool {
		resp, err := http.Get(rt.OpsURL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// TestOutboxDumpHoldsNoSecret: a dump of the store taken while credential letters
// and a code wait (the mail server refusing for now), and another once all are
// sent, holds none of the credentials nor the code, in any form; and the address
// a message goes to is in no outbox row (only in the roll's own table).
func TestOutboxDumpHoldsNoSecret(t *testing.T) {
	const n = 50
	forEachStore(t, func(t *testing.T, st outboxStore) {
		smtp := sink.StartSMTP(t)
		smtp.SetFailFirst(1 << 30)
		dir := t.TempDir()
		// voters 1..n get letters (the roll has emails); the code goes to voter 1
		rt := runtimetest.Start(t, runtimeBin, nil, outboxArgs(t, dir, "Credential", st, smtp, runtimetest.RollFile(t, dir, n))...)
		waitReady(t, rt, time.Minute)
		queued, queuedOutbox := st.dump(t), st.outbox(t)
		if !inClear(queued, runtimetest.VoterEmail(n)) {
			t.Fatalf("%s: the dump lacks the roll's addresses: it reads nothing of the store", st.name)
		}
		for i := 1; i <= n; i++ {
			for _, addr := range []string{runtimetest.VoterEmail(i), runtimetest.VoterPhone(i)} {
				if inClear(queuedOutbox, addr) {
					t.Fatalf("%s: the outbox holds voter %d's address in clear", st.name, i)
				}
			}
		}
		smtp.SetFailFirst(0)
		waitUntil(t, 2*time.Minute, "every letter sent", func() bool { return len(lettersByVoter(smtp)) >= n })
		time.Sleep(time.Second) // the last outcomes recorded
		sent := st.dump(t)
		for i := 1; i <= n; i++ {
			c := lettersByVoter(smtp)[runtimetest.VoterEmail(i)][0]
			if c == "" {
				t.Fatalf("voter %d's letter holds no credential", i)
			}
			for _, form := range []string{c, strings.ReplaceAll(c, "-", "")} {
				if inClear(queued, form) {
					t.Fatalf("%s: the dump taken while queued holds voter %d's credential", st.name, i)
				}
				if inClear(sent, form) {
					t.Fatalf("%s: the dump taken after sending holds voter %d's credential", st.name, i)
				}
			}
		}
		for _, body := range []string{"Votre code de vote personnel", "personal voting credential"} {
			if inClear(queued, body) || inClear(sent, body) {
				t.Fatalf("%s: a dump holds a letter's text in clear", st.name)
			}
		}
	})
}

// TestCodeInDumpWhileQueued: a code waiting in the outbox (the mail server
// refusing for now) is not in a dump of the store, nor is its message's text,
// nor, in the outbox, the voter's address; once sent, the code is not there
// either.
func TestCodeInDumpWhileQueued(t *testing.T) {
	forEachStore(t, func(t *testing.T, st outboxStore) {
		_, smtp, _ := codeRefused(t, st, 1)
		time.Sleep(500 * time.Millisecond) // a first attempt refused
		queued := st.dump(t)
		if ob := st.outbox(t); inClear(ob, runtimetest.VoterEmail(1)) {
			t.Fatalf("%s: the outbox holds the voter's address in clear", st.name)
		}
		smtp.SetFailFirst(0)
		m, err := smtp.WaitFor(runtimetest.VoterEmail(1), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		code := sink.CodeIn(m.Body)
		if code == "" {
			t.Fatal("no code in the mail")
		}
		if inClear(queued, code) || inClear(queued, "your sign-in code is") || inClear(queued, "votre code de connexion") {
			t.Fatalf("%s: the dump taken while the code was queued holds it in clear", st.name)
		}
		time.Sleep(time.Second)
		if sent := st.dump(t); inClear(sent, code) {
			t.Fatalf("%s: the dump taken after sending holds the code", st.name)
		}
	})
}

// TestServesDuringLongImport: the runtime answers /healthz on both ports at once
// while a large roll is imported; /readyz answers 503 and the voters' pages the
// wait page (503) until the roll is in, then 200.
func TestServesDuringLongImport(t *testing.T) {
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	st := outboxStore{spec: "embedded:" + filepath.Join(dir, "data", "election.db")}
	rt := runtimetest.StartImporting(t, runtimeBin, nil, outboxArgs(t, dir, "EmailCode", st, smtp, runtimetest.RollFile(t, dir, 200000))...)
	// StartImporting returned once /healthz answered on both ports
	ready, _ := getStatus(t, rt.OpsURL+"/readyz")
	page, body := getStatus(t, rt.URL+"/sign-in")
	api, _ := getStatus(t, rt.URL+"/api/v1/board")
	if ready != http.StatusServiceUnavailable || page != http.StatusServiceUnavailable || api != http.StatusServiceUnavailable {
		t.Fatalf("during the import: /readyz %d, /sign-in %d, /api/v1/board %d; want 503 each", ready, page, api)
	}
	if !strings.Contains(body, `id="retry-link"`) {
		t.Errorf("the voters' page during the import is not the wait page:\n%s", body)
	}
	if h, _ := getStatus(t, rt.URL+"/healthz"); h != http.StatusOK {
		t.Errorf("/healthz during the import: %d", h)
	}
	waitReady(t, rt, 3*time.Minute)
	if page, _ := getStatus(t, rt.URL+"/sign-in"); page != http.StatusOK {
		t.Errorf("/sign-in after the import: %d, want 200", page)
	}
}

// TestRollInParts: a directory of parts is imported in lexical order as one roll,
// and voters of every part can sign in.
func TestRollInParts(t *testing.T) {
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	parts := filepath.Join(dir, "roll")
	if err := os.MkdirAll(parts, 0o700); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(runtimetest.RollCSV(9)), "\n")
	for p := range 3 {
		part := lines[0] + "\n" + strings.Join(lines[1+3*p:4+3*p], "\n") + "\n"
		if err := os.WriteFile(filepath.Join(parts, fmt.Sprintf("part-%04d.csv", p+1)), []byte(part), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st := outboxStore{spec: "embedded:" + filepath.Join(dir, "data", "election.db")}
	rt := runtimetest.Start(t, runtimeBin, nil, outboxArgs(t, dir, "EmailCode", st, smtp, parts)...)
	waitReady(t, rt, time.Minute)
	for _, i := range []int{1, 5, 9} {
		signIn(t, newVoter(rt.URL, nil), smtp, i)
	}
	if !strings.Contains(rt.Logs.String(), `"parts":3`) || !strings.Contains(rt.Logs.String(), `"voters":9`) {
		t.Errorf("the import's log does not say 9 voters in 3 parts:\n%s", rt.Logs.String())
	}
}

// TestFallbackCodeByMailWhenNoPhone: under SMSCode with spec.delivery.fallback, a
// voter with no phone gets the code by mail, and the page says it went by email
// instead; a voter whose number the gateway refuses for good gets it by mail too.
func TestFallbackCodeByMailWhenNoPhone(t *testing.T) {
	smtp := sink.StartSMTP(t)
	sms := sink.StartSMS(t, "gateway-token")
	dir := t.TempDir()
	now := time.Now()
	election := strings.Replace(runtimetest.ElectionYAML("SMSCode", now.Add(-time.Minute), now.Add(2*time.Hour), ""),
		"delivery: {smtp:", "delivery: {fallback: true, smtp:", 1)
	electionPath := filepath.Join(dir, "election.yaml")
	roll := "voter_id,name,email,phone\n" +
		"V-0001,Voter 1," + runtimetest.VoterEmail(1) + ",\n" +
		"V-0002,Voter 2," + runtimetest.VoterEmail(2) + "," + runtimetest.VoterPhone(2) + "\n" +
		"V-0003,Voter 3," + runtimetest.VoterEmail(3) + ",\n"
	rollPath := filepath.Join(dir, "roll.csv")
	if err := os.WriteFile(electionPath, []byte(election), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rollPath, []byte(roll), 0o600); err != nil {
		t.Fatal(err)
	}
	rt := runtimetest.Start(t, runtimeBin, []string{"SCRUTIN_SMS_TOKEN=gateway-token"}, "--election", electionPath, "--roll", rollPath,
		"--store", "embedded:"+filepath.Join(dir, "data", "election.db"), "--smtp", smtp.Addr(), "--sms-gateway", sms.URL())
	waitReady(t, rt, time.Minute)

	// the page says where the code went, in both languages (one voter each: a
	// second code for the same voter waits for the resend cooldown)
	for _, c := range []struct {
		voter      int
		lang, want string
	}{{1, "fr", "par courriel à la place"}, {3, "en", "by e-mail instead"}} {
		page, err := postForm(rt.URL+"/sign-in", c.lang, url.Values{"voter_id": {runtimetest.VoterID(c.voter)}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(page, c.want) {
			t.Errorf("%s: the code page does not say the code went by email instead:\n%s", c.lang, page)
		}
		if _, err := smtp.WaitFor(runtimetest.VoterEmail(c.voter), 30*time.Second); err != nil {
			t.Fatalf("%s: no code by mail for the voter without a phone: %v", c.lang, err)
		}
	}
	if len(sms.Messages()) != 0 {
		t.Errorf("an SMS was sent to a voter with no phone")
	}

	// a number the gateway refuses for good: the same code comes by mail
	sms.SetFailures(1<<20, http.StatusBadRequest, 0)
	v := newVoter(rt.URL, nil)
	var start map[string]any
	if status, err := v.call(http.MethodPost, "/api/v1/sign-in", map[string]string{"voterId": "V-0002"}, &start); err != nil || status != http.StatusAccepted || start["channel"] != "sms" {
		t.Fatalf("sign-in of the voter with a phone: %d %v %v", status, start, err)
	}
	m, err := smtp.WaitFor(runtimetest.VoterEmail(2), 30*time.Second)
	if err != nil {
		t.Fatalf("the code the gateway refused never came by mail: %v", err)
	}
	if status, err := v.call(http.MethodPost, "/api/v1/sign-in/code", map[string]string{"voterId": "V-0002", "code": sink.CodeIn(m.Body)}, nil); err != nil || status != http.StatusOK {
		t.Fatalf("the code that came by mail does not sign in: %d %v", status, err)
	}
}

// postForm posts a form as a browser in lang would, and returns the page.
func postForm(u, lang string, form url.Values) (string, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", lang)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestKill9DuringImportSendsEachLetterOnce: the runtime is killed while it
// imports a Credential roll (its letters are queued in the import's own
// transaction); started again, it imports the roll anew and every voter gets
// exactly one letter, whose credential signs them in.
func TestKill9DuringImportSendsEachLetterOnce(t *testing.T) {
	const n = 5000
	forEachStore(t, func(t *testing.T, st outboxStore) {
		smtp := sink.StartSMTP(t)
		dir := t.TempDir()
		rt := runtimetest.StartImporting(t, runtimeBin, nil, outboxArgs(t, dir, "Credential", st, smtp, runtimetest.RollFile(t, dir, n))...)
		if status, body := getStatus(t, rt.OpsURL+"/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(body, "being imported") {
			t.Fatalf("the import ended before the kill (/readyz %d %q): the test proves nothing; use a larger roll", status, body)
		}
		rt.Kill9()
		if sent := len(smtp.Messages()); sent != 0 {
			t.Fatalf("%d letters sent before the import was committed", sent)
		}
		rt.Restart()
		waitReady(t, rt, 5*time.Minute)
		deadline := time.Now().Add(5 * time.Minute)
		for reached := len(lettersByVoter(smtp)); reached < n; reached = len(lettersByVoter(smtp)) {
			if time.Now().After(deadline) {
				t.Fatalf("after 5 minutes, %d of %d voters reached", reached, n)
			}
			time.Sleep(500 * time.Millisecond)
		}
		time.Sleep(2 * time.Second) // a letter sent twice would be there by now
		by := lettersByVoter(smtp)
		for i := 1; i <= n; i++ {
			if got := len(by[runtimetest.VoterEmail(i)]); got != 1 {
				t.Fatalf("voter %d got %d letters, want 1", i, got)
			}
		}
		v := newVoter(rt.URL, nil)
		if status, err := v.call(http.MethodPost, "/api/v1/sign-in/code", map[string]string{"voterId": runtimetest.VoterID(1), "code": by[runtimetest.VoterEmail(1)][0]}, nil); err != nil || status != http.StatusOK {
			t.Errorf("signing in with the letter sent after the re-import: %d %v", status, err)
		}
		if !strings.Contains(rt.Logs.String(), `"importedNow":true`) {
			t.Errorf("the restarted runtime did not import the roll itself")
		}
	})
}
