package runtime

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/pgtest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/embedded"
	"scrutin.dev/scrutin/voting-runtime/store/postgres"

	"scrutin.dev/scrutin/internal/runtimetest"
)

var urlParse = url.Parse

// signIn takes voter i through the code sign-in, reading the code from the mail sink;
// it returns the code.
func signIn(t *testing.T, v *voter, smtp *sink.SMTPSink, i int) string {
	t.Helper()
	if status, err := v.call(http.MethodPost, "/api/v1/sign-in", map[string]string{"voterId": runtimetest.VoterID(i)}, nil); err != nil || status != http.StatusAccepted {
		t.Fatalf("sign-in of %s: %d %v", runtimetest.VoterID(i), status, err)
	}
	m, err := smtp.WaitFor(runtimetest.VoterEmail(i), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	code := sink.CodeIn(m.Body)
	var answer map[string]any
	if status, err := v.call(http.MethodPost, "/api/v1/sign-in/code", map[string]string{"voterId": runtimetest.VoterID(i), "code": code}, &answer); err != nil || status != http.StatusOK {
		t.Fatalf("code of %s: %d %v %v", runtimetest.VoterID(i), status, answer, err)
	}
	return code
}

// TestOneBallotAcrossTwoProcesses: 1,000 concurrent casts for the same voter, split
// over two runtime processes sharing one PostgreSQL database: exactly one ballot,
// every other request told the voter has already voted.
func TestOneBallotAcrossTwoProcesses(t *testing.T) {
	pg := pgtest.ForTest(t)
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	args := []string{
		"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), ""),
		"--roll", runtimetest.RollFile(t, dir, 3), "--store", "postgres:" + pg.AdminDSN(), "--smtp", smtp.Addr(),
		"--control-token-file", filepath.Join(dir, "control-token"),
		// the 1,000 casts of one session all reach the store: no bound per
		// session or address on the way (one voter, one ballot is the store's)
		"--max-in-flight-per-session=0", stormFromOneAddressInFlight,
	}
	a, b := runtimetest.Start(t, runtimeBin, nil, args...), runtimetest.Start(t, runtimeBin, nil, args...)
	va := newVoter(a.URL, nil)
	signIn(t, va, smtp, 1)
	vb := va.moveTo(b.URL)

	var created, conflict, other atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 100)
	for i := range 1000 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			v := va
			if i%2 == 1 {
				v = vb
			}
			switch status, _ := v.call(http.MethodPost, "/api/v1/ballot", sampleAnswers, nil); status {
			case http.StatusCreated:
				created.Add(1)
			case http.StatusConflict:
				conflict.Add(1)
			default:
				other.Add(1)
			}
		}()
	}
	wg.Wait()
	if created.Load() != 1 || conflict.Load() != 999 || other.Load() != 0 {
		t.Fatalf("201: %d, 409: %d, other: %d; want 1, 999, 0", created.Load(), conflict.Load(), other.Load())
	}
	var st struct{ BallotsCast int64 }
	token := runtimetest.ReadFile(t, filepath.Join(dir, "control-token"))
	if code := control(t, b.OpsURL, token, http.MethodGet, "/control/v1/status", nil, &st); code != http.StatusOK || st.BallotsCast != 1 {
		t.Fatalf("status %d, ballots cast %d", code, st.BallotsCast)
	}
}

// stormFromOneAddress, stormFromOneAddressAllRoutes and stormFromOneAddressInFlight
// lift the per-address limits (sign-in steps, every voter route, requests in
// flight): the storm's voters, each at an address of their
// own in life, all come from 127.0.0.1 here.
const (
	stormFromOneAddress          = "--sign-in-rate-per-address=0"
	stormFromOneAddressAllRoutes = "--rate-per-address=0"
	stormFromOneAddressInFlight  = "--max-in-flight-per-address=0"
)

// storm signs n voters in, then has them all cast at once (retrying through errors
// until each gets a receipt or is told it already voted), calling disrupt once a
// third of the receipts are in. It returns each voter's receipt ("" when the
// ballot landed without its receipt reaching the voter).
func storm(t *testing.T, rt *runtimetest.Instance, smtp *sink.SMTPSink, n int, disrupt func()) map[string]string {
	t.Helper()
	voters := make([]*voter, n+1)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := 1; i <= n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			voters[i] = newVoter(rt.URL, nil)
			signIn(t, voters[i], smtp, i)
		}()
	}
	wg.Wait()

	var mu sync.Mutex
	receipts := map[string]string{}
	var acked atomic.Int64
	var once sync.Once
	deadline := time.Now().Add(2 * time.Minute)
	for i := 1; i <= n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			for time.Now().Before(deadline) {
				mu.Lock()
				base := rt.URL // it changes when the process is restarted
				mu.Unlock()
				var ans castAnswer
				status, err := voters[i].moveTo(base).call(http.MethodPost, "/api/v1/ballot", sampleAnswers, &ans)
				if err == nil && status == http.StatusCreated {
					mu.Lock()
					receipts[runtimetest.VoterID(i)] = ans.Tracker
					mu.Unlock()
					if acked.Add(1) == int64(n/3) {
						go once.Do(func() { mu.Lock(); defer mu.Unlock(); disrupt() })
					}
					return
				}
				if err == nil && status == http.StatusConflict && ans.Error == "already-voted" {
					mu.Lock()
					receipts[runtimetest.VoterID(i)] = ""
					mu.Unlock()
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Errorf("%s got neither a receipt nor 'already voted' in time", runtimetest.VoterID(i))
		}()
	}
	wg.Wait()
	return receipts
}

// checkBox: every acknowledged ballot is in the box, every voter exactly once.
func checkBox(t *testing.T, st store.BallotBox, receipts map[string]string, n int) {
	t.Helper()
	ctx := context.Background()
	ballots, err := st.Ballots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inBox := map[string]bool{}
	for _, b := range ballots {
		inBox[b.Tracker] = true
	}
	var acked, silent int
	for id, tr := range receipts {
		if tr == "" {
			silent++
			continue
		}
		acked++
		if !inBox[tr] {
			t.Errorf("%s was given receipt %s, and its ballot is not in the box", id, tr)
		}
	}
	rows, err := st.Participation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var voted int
	for _, r := range rows {
		if r.Voted {
			voted++
		}
	}
	if len(ballots) != n || voted != n || len(receipts) != n {
		t.Errorf("%d ballots, %d voters marked, %d voters done; want %d of each", len(ballots), voted, len(receipts), n)
	}
	t.Logf("%d receipts acknowledged, %d ballots landed while their receipt was lost, %d in the box", acked, silent, len(ballots))
}

// TestKillDuringCasting: kill -9 the runtime (embedded store) while 1,000 voters cast;
// restart it: every voter who got a receipt has their ballot counted, no voter two.
func TestKillDuringCasting(t *testing.T) {
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	dbPath := filepath.Join(dir, "data", "election.db")
	rt := runtimetest.Start(t, runtimeBin, nil, "--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), ""),
		"--roll", runtimetest.RollFile(t, dir, 1000), "--store", "embedded:"+dbPath, "--smtp", smtp.Addr(),
		stormFromOneAddress, stormFromOneAddressAllRoutes, stormFromOneAddressInFlight)
	receipts := storm(t, rt, smtp, 1000, func() {
		rt.Kill9()
		rt.Restart()
	})
	rt.Stop()
	st, err := embedded.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	checkBox(t, st, receipts, 1000)
}

// TestPostgreSQLRestartDuringCasting: the database stops at once (as in a crash) and
// comes back while 1,000 voters cast: every acknowledged ballot is counted.
func TestPostgreSQLRestartDuringCasting(t *testing.T) {
	pg := pgtest.ForTest(t)
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	rt := runtimetest.Start(t, runtimeBin, nil, "--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), ""),
		"--roll", runtimetest.RollFile(t, dir, 1000), "--store", "postgres:"+pg.AdminDSN(), "--smtp", smtp.Addr(),
		stormFromOneAddress, stormFromOneAddressAllRoutes, stormFromOneAddressInFlight)
	receipts := storm(t, rt, smtp, 1000, func() {
		if err := pg.StopImmediate(); err != nil {
			t.Error(err)
		}
		time.Sleep(time.Second)
		if err := pg.StartAgain(context.Background()); err != nil {
			t.Error(err)
		}
	})
	st, err := postgres.Open(context.Background(), pg.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	checkBox(t, st, receipts, 1000)
}

// TestLateSMS: the SMS gateway delivers the code 90 s after it was asked for; the
// voter still signs in with it.
func TestLateSMS(t *testing.T) {
	t.Parallel() // it waits 90 s on the gateway's real clock: the other waiting tests wait alongside
	sms := sink.StartSMS(t, "gateway-token")
	sms.SetDeliveryDelay(90 * time.Second)
	dir := t.TempDir()
	now := time.Now()
	rt := runtimetest.Start(t, runtimeBin, []string{"SCRUTIN_SMS_TOKEN=gateway-token"},
		"--election", runtimetest.ElectionFile(t, dir, "SMSCode", now.Add(-time.Minute), now.Add(time.Hour), ""),
		"--roll", runtimetest.RollFile(t, dir, 2), "--store", "embedded:"+filepath.Join(dir, "e.db"), "--sms-gateway", sms.URL())
	v := newVoter(rt.URL, nil)
	asked := time.Now()
	if status, _ := v.call(http.MethodPost, "/api/v1/sign-in", map[string]string{"voterId": runtimetest.VoterID(1)}, nil); status != http.StatusAccepted {
		t.Fatalf("sign-in: %d", status)
	}
	m, err := sms.WaitFor(runtimetest.VoterPhone(1), 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(asked); waited < 89*time.Second {
		t.Fatalf("the code arrived after %s; the sink should have held it 90 s", waited)
	}
	status, err := v.call(http.MethodPost, "/api/v1/sign-in/code", map[string]string{"voterId": runtimetest.VoterID(1), "code": sink.CodeIn(m.Text)}, nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("the code, %s after it was asked for: %d %v", time.Since(asked).Round(time.Second), status, err)
	}
	if status, _ := v.call(http.MethodPost, "/api/v1/ballot", sampleAnswers, nil); status != http.StatusCreated {
		t.Fatalf("cast after a late code: %d", status)
	}
}

// encodings of a secret the leak scan looks for.
func encodings(secret string) []string {
	b := []byte(secret)
	return []string{
		secret, strings.ToLower(secret), hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
	}
}

// TestLeakScan runs whole elections (mail codes on PostgreSQL, credentials on the
// embedded store), then searches every log line, metric, HTTP response, export,
// audit entry and a full dump of the database for every code and credential used,
// in clear, hex or base64: there must be none.
func TestLeakScan(t *testing.T) {
	for _, method := range []string{"EmailCode", "Credential"} {
		t.Run(method, func(t *testing.T) { leakScan(t, method) })
	}
}

func leakScan(t *testing.T, method string) {
	ctx := context.Background()
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	const n = 5
	var storeSpec string
	var pg *pgtest.Server
	if method == "EmailCode" {
		pg = pgtest.ForTest(t)
		storeSpec = "postgres:" + pg.AdminDSN()
	} else {
		storeSpec = "embedded:" + filepath.Join(dir, "data", "election.db")
	}
	closes := now.Add(20 * time.Second)
	rt := runtimetest.Start(t, runtimeBin, nil, "--election", runtimetest.ElectionFile(t, dir, method, now.Add(-time.Minute), closes, "  scrutineers: {exportFields: [VoterID, Name, Email, Phone, Weight, Voted]}\n"),
		"--roll", runtimetest.RollFile(t, dir, n), "--store", storeSpec, "--smtp", smtp.Addr(),
		"--scrutineer-token-file", filepath.Join(dir, "scrutineer-token"), "--control-token-file", filepath.Join(dir, "control-token"))

	rec := &recorder{}
	var secrets []string
	for i := 1; i <= n; i++ {
		v := newVoter(rt.URL, rec)
		if method == "Credential" {
			letter, err := smtp.WaitFor(runtimetest.VoterEmail(i), 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			credential := sink.CredentialIn(letter.Body)
			if credential == "" {
				t.Fatalf("no credential in the letter to %s", runtimetest.VoterEmail(i))
			}
			secrets = append(secrets, credential, strings.ReplaceAll(credential, "-", ""))
			if status, _ := v.call(http.MethodPost, "/api/v1/sign-in/code", map[string]string{"voterId": runtimetest.VoterID(i), "code": credential}, nil); status != http.StatusOK {
				t.Fatalf("credential sign-in: %d", status)
			}
		} else {
			secrets = append(secrets, signIn(t, v, smtp, i))
		}
		for _, c := range v.http.Jar.Cookies(mustURL(rt.URL)) {
			secrets = append(secrets, c.Value) // session ids: never in logs, metrics or the database
		}
		if i < n { // one voter abstains
			if status, _ := v.call(http.MethodPost, "/api/v1/ballot", sampleAnswers, nil); status != http.StatusCreated {
				t.Fatalf("cast: %d", status)
			}
		}
	}
	time.Sleep(time.Until(closes) + 2*time.Second) // the runtime closes and counts by itself
	public := newVoter(rt.URL, rec)
	if status, _ := public.call(http.MethodGet, "/api/v1/board", nil, nil); status != http.StatusOK {
		t.Errorf("board: %d", status)
	}
	if status, _ := public.call(http.MethodGet, "/api/v1/results", nil, nil); status != http.StatusOK {
		t.Errorf("results: %d", status)
	}
	var corpus strings.Builder
	corpus.WriteString(rec.String())
	for _, p := range []struct{ path, tokenFile string }{
		{"/api/v1/scrutineer/participation.csv", "scrutineer-token"},
		{"/control/v1/status", "control-token"}, {"/control/v1/results", "control-token"}, {"/metrics", ""},
	} {
		base := rt.URL
		if p.path != "/api/v1/scrutineer/participation.csv" {
			base = rt.OpsURL // the controller's API and the metrics are on the operations port
		}
		req, _ := http.NewRequest(http.MethodGet, base+p.path, nil)
		if p.tokenFile != "" {
			req.Header.Set("Authorization", "Bearer "+runtimetest.ReadFile(t, filepath.Join(dir, p.tokenFile)))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(data)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", p.path, resp.StatusCode)
		}
		if p.path == "/api/v1/scrutineer/participation.csv" && strings.Count(body, "\n") != n+1 {
			t.Errorf("export has %d lines, want %d:\n%s", strings.Count(body, "\n"), n+1, body)
		}
		corpus.WriteString(body)
	}
	rt.Stop()
	corpus.WriteString(rt.Logs.String())

	// The database, whole.
	var st store.Store
	var err error
	if pg != nil {
		dump, err := exec.Command(filepath.Join(pgBin(), "pg_dump"), "--no-owner", "-d", pg.AdminDSN()).CombinedOutput()
		if err != nil {
			t.Fatalf("pg_dump: %v\n%s", err, dump)
		}
		corpus.Write(dump)
		st, err = postgres.Open(ctx, pg.AdminDSN())
		if err != nil {
			t.Fatal(err)
		}
	} else {
		files, _ := filepath.Glob(filepath.Join(dir, "data", "election.db*"))
		for _, f := range files {
			data, _ := os.ReadFile(f)
			corpus.Write(data)
		}
		st, err = embedded.Open(ctx, filepath.Join(dir, "data", "election.db"))
		if err != nil {
			t.Fatal(err)
		}
	}
	defer st.Close()
	log, err := st.AuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) < n+2 {
		t.Errorf("the audit log has %d entries", len(log))
	}
	for _, e := range log {
		corpus.WriteString(e.Kind)
		corpus.Write(e.Data)
	}
	all := corpus.String()
	if len(all) < 10000 {
		t.Fatalf("only %d bytes scanned: the scan would prove nothing", len(all))
	}
	for _, s := range secrets {
		if len(s) < 6 {
			t.Fatalf("secret %q too short to scan for", s)
		}
		for _, enc := range encodings(s) {
			if sink.Contains(all, enc) {
				t.Errorf("a secret (%d characters) appears in clear or encoded (%q) in what was scanned", len(s), enc[:4]+"…")
			}
		}
	}
	t.Logf("scanned %d bytes for %d secrets in %d encodings each", len(all), len(secrets), len(encodings("x")))
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func pgBin() string {
	if d := os.Getenv("PG_BIN"); d != "" {
		return d
	}
	return pgtest.DefaultBinDir
}
