package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"scrutin.dev/scrutin/internal/browser"
	"scrutin.dev/scrutin/voting-runtime/belenios"
	"scrutin.dev/scrutin/voting-runtime/pages"
)

// The voter-side Belenios client (voting-runtime/pages/static/belenios.js) run
// in Chromium on a page under the voter pages' Content-Security-Policy, its
// ballots checked by the Go package and by Debian's belenios-tool.

// jsElection is an election made with the Go package for belenios.js to vote in.
type jsElection struct {
	name    string
	raw     []byte
	record  *belenios.ElectionRecord
	key     *big.Int // the trustee's private key, to read the ballots back
	trustee []byte
	creds   []string
	pubs    []*big.Int
}

func newJSElection(t *testing.T, name string, voters int, qs ...belenios.Question) *jsElection {
	t.Helper()
	g := belenios.Belenios2048()
	uuid, err := belenios.NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	x, pub, err := belenios.NewTrusteeKey(g)
	if err != nil {
		t.Fatal(err)
	}
	trustees, err := belenios.Trustees{{Single: &pub}}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := belenios.NewElectionRecord(uuid, "Élection "+name, "Scrutin à l'essai", qs, pub.PublicKey.Big())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := belenios.ParseElection(raw)
	if err != nil {
		t.Fatal(err)
	}
	e := &jsElection{name: name, raw: raw, record: rec, key: x, trustee: trustees}
	for range voters {
		c, err := belenios.NewCredential()
		if err != nil {
			t.Fatal(err)
		}
		e.creds = append(e.creds, c)
		e.pubs = append(e.pubs, belenios.PublicCredentialOf(g, c, uuid))
	}
	return e
}

// archive is the election's board with these ballots, as Belenios's archive.
func (e *jsElection) archive(t *testing.T, ballots [][]byte) []byte {
	t.Helper()
	pcs := make([]belenios.PublicCredential, len(e.pubs))
	for i, p := range e.pubs {
		pcs[i] = belenios.PublicCredential{Credential: p, Weight: 1}
	}
	creds, err := belenios.MarshalPublicCredentials(pcs)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := belenios.NewArchiveWriter(&buf, time.Now().Unix())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Setup(e.raw, e.trustee, creds); err != nil {
		t.Fatal(err)
	}
	for _, b := range ballots {
		if err := w.Ballot(b); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// plaintextOf decrypts a ballot with the trustee's key: per question, per slot,
// 0 or 1 (anything else fails the test).
func (e *jsElection) plaintextOf(t *testing.T, b *belenios.Ballot) belenios.Plaintext {
	t.Helper()
	g := e.record.Group
	var out belenios.Plaintext
	for qi, a := range b.Answers {
		var m []int
		for si, c := range a.Choices {
			s := new(big.Int).Exp(c.Alpha.Big(), e.key, g.P)
			s.ModInverse(s, g.P).Mul(s, c.Beta.Big()).Mod(s, g.P)
			switch {
			case s.Cmp(big.NewInt(1)) == 0:
				m = append(m, 0)
			case s.Cmp(g.G) == 0:
				m = append(m, 1)
			default:
				t.Fatalf("question %d, slot %d: the ciphertext holds neither 0 nor 1", qi+1, si)
			}
		}
		out = append(out, m)
	}
	return out
}

// beleniosToolVerify runs `belenios-tool election verify` on the archive, alone
// in a fresh directory; it gives the tool's output and whether it passed.
func beleniosToolVerify(t *testing.T, archive []byte) (string, bool) {
	t.Helper()
	path, err := exec.LookPath("belenios-tool")
	if err != nil {
		t.Fatal("belenios-tool is not installed (apt-get install -y belenios-tool)")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "board.bel"), archive, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "election", "verify", "--dir", dir)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BELENIOS_USE_URANDOM=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("belenios-tool election verify: %v", err)
	}
	return string(out), err == nil && strings.Contains(string(out), "I: all checks passed")
}

// beleniosPage serves a page that loads belenios.js under the voter pages'
// Content-Security-Policy, and the elections' records as GET /election/{name}.
func beleniosPage(t *testing.T, elections ...*jsElection) string {
	t.Helper()
	js, err := os.ReadFile(filepath.Join(root, "voting-runtime", "pages", "static", "belenios.js"))
	if err != nil {
		t.Fatal(err)
	}
	const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>belenios.js</title>` +
		`<script src="/static/belenios.js"></script></head><body><main><h1>belenios.js</h1></main></body></html>`
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", pages.ContentSecurityPolicy)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	})
	mux.HandleFunc("GET /static/belenios.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(js)
	})
	for _, e := range elections {
		mux.HandleFunc("GET /election/"+e.name, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(e.raw)
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// openBeleniosPage opens the page and checks belenios.js defined window.Belenios
// and nothing broke the page's policy so far; every later violation is counted
// in window.cspViolations.
func openBeleniosPage(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	browser.Do(t, ctx, root, "the belenios.js page", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("h1")))
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		window.cspViolations = [];
		document.addEventListener("securitypolicyviolation", e => window.cspViolations.push(e.violatedDirective));
		return typeof window.Belenios === "object" && typeof window.Belenios.makeBallot === "function";
	})()`))
	if err != nil || !ok {
		t.Fatalf("belenios.js did not define window.Belenios under the pages' policy (%v)", err)
	}
}

// evalJS runs an async JavaScript function body with its arguments (JSON values,
// bound to a0, a1, …) in the page and decodes its result into T.
func evalJS[T any](t *testing.T, ctx context.Context, body string, args ...any) T {
	t.Helper()
	var params []string
	for i, a := range args {
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		params = append(params, fmt.Sprintf("a%d = %s", i, b))
	}
	expr := "(async (" + strings.Join(params, ", ") + ") => {" + body + "})()"
	step, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	v, err := chromedp.Run(step, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("in the page: %v", err)
	}
	return v
}

// jsBallot is what the page gives back of makeBallot.
type jsBallot struct {
	Ballot    string   `json:"ballot"`
	Tracker   string   `json:"tracker"`
	Secret    string   `json:"secret"`
	PubCred   string   `json:"pubcred"`
	Progress  [][2]int `json:"progress"`
	ElectHash string   `json:"electionHash"`
}

const makeBallotJS = `
	const B = window.Belenios;
	const text = await (await fetch("/election/" + a0)).text();
	const e = B.parseElection(text);
	const secret = await B.deriveSecret(a1, e.uuid);
	const progress = [];
	const r = await B.makeBallot(e, a1, a2, (done, total) => progress.push([done, total]));
	return {ballot: r.ballot, tracker: r.tracker, secret: secret.toString(),
		pubcred: B.publicCredential(secret, e), progress, electionHash: await B.electionHash(e)};`

// TestBeleniosJSBallotsVerify: ballots belenios.js makes in Chromium, blank and
// not, for questions of every shape, pass the Go package's VerifyBallot and
// belenios-tool's verify, hold the choices asked for, and come with the
// tracker, secret and public credential the Go package computes. Choices out
// of bounds are refused before any encryption; a malformed, a mistyped and a
// non-Base58 credential are told apart as Go's CheckCredential tells them.
func TestBeleniosJSBallotsVerify(t *testing.T) {
	t.Parallel()
	two := newJSElection(t, "two", 4,
		belenios.Question{Answers: []string{"Alice", "Bob", "Carol"}, Blank: true, Min: 1, Max: 1, Question: "Chair?"},
		belenios.Question{Answers: []string{"X", "Y", "Z"}, Min: 1, Max: 2, Question: "Motions?"})
	three := newJSElection(t, "three", 4,
		belenios.Question{Answers: []string{"A", "B", "C", "D"}, Blank: true, Min: 2, Max: 3, Question: "Board (2 to 3)?"},
		belenios.Question{Answers: []string{"P", "Q", "R"}, Min: 3, Max: 3, Question: "Rank all three?"},
		belenios.Question{Answers: []string{"Yes", "No"}, Min: 1, Max: 1, Question: "Adopt the budget?"})
	zero := newJSElection(t, "zero", 3,
		belenios.Question{Answers: []string{"A", "B", "C"}, Blank: true, Min: 0, Max: 2, Question: "Up to two, or blank?"},
		belenios.Question{Answers: []string{"U", "V"}, Min: 0, Max: 2, Question: "Any?"})
	casts := map[*jsElection][]belenios.Plaintext{
		two: {
			{{0, 1, 0, 0}, {1, 0, 0}},
			{{1, 0, 0, 0}, {0, 1, 1}}, // blank
			{{0, 0, 0, 1}, {0, 0, 1}},
			{{0, 0, 1, 0}, {1, 0, 1}},
		},
		three: {
			{{0, 1, 1, 0, 0}, {1, 1, 1}, {1, 0}},
			{{1, 0, 0, 0, 0}, {1, 1, 1}, {0, 1}}, // blank
			{{0, 0, 1, 1, 1}, {1, 1, 1}, {0, 1}},
			{{0, 1, 0, 1, 1}, {1, 1, 1}, {1, 0}},
		},
		zero: {
			{{0, 0, 0, 0}, {0, 0}},
			{{1, 0, 0, 0}, {1, 1}}, // blank
			{{0, 1, 0, 1}, {0, 1}},
		},
	}
	url := beleniosPage(t, two, three, zero)
	ctx := browser.Start(t)
	openBeleniosPage(t, ctx, url)
	g := belenios.Belenios2048()

	for _, e := range []*jsElection{two, three, zero} {
		var ballots [][]byte
		for i, want := range casts[e] {
			got := evalJS[jsBallot](t, ctx, makeBallotJS, e.name, e.creds[i], want)
			uuid := e.record.Election.UUID
			if s := belenios.CredentialSecret(g, e.creds[i], uuid).Text(10); got.Secret != s {
				t.Errorf("%s, voter %d: deriveSecret gave %s, Go's CredentialSecret %s", e.name, i, got.Secret, s)
			}
			if got.PubCred != e.pubs[i].Text(10) {
				t.Errorf("%s, voter %d: publicCredential differs from Go's PublicCredentialOf", e.name, i)
			}
			if got.ElectHash != e.record.Fingerprint {
				t.Errorf("%s: electionHash %s, Go's fingerprint %s", e.name, got.ElectHash, e.record.Fingerprint)
			}
			raw := []byte(got.Ballot)
			b, err := e.record.VerifyBallot(raw)
			if err != nil {
				t.Fatalf("%s, ballot %d: VerifyBallot: %v\n%s", e.name, i, err, raw)
			}
			if b.Credential.Big().Cmp(e.pubs[i]) != 0 {
				t.Errorf("%s, ballot %d: signed with another credential", e.name, i)
			}
			if got.Tracker != belenios.Tracker(raw) {
				t.Errorf("%s, ballot %d: tracker %s, Go's Tracker %s", e.name, i, got.Tracker, belenios.Tracker(raw))
			}
			if pt := e.plaintextOf(t, b); !slices.EqualFunc(pt, want, slices.Equal) {
				t.Errorf("%s, ballot %d: encrypted %v, asked %v", e.name, i, pt, want)
			}
			slots := 0
			for _, m := range want {
				slots += len(m)
			}
			if n := len(got.Progress); n != slots || got.Progress[n-1] != [2]int{slots, slots} {
				t.Errorf("%s, ballot %d: progress %v, want one call per slot up to %d", e.name, i, got.Progress, slots)
			}
			ballots = append(ballots, raw)
		}
		if out, ok := beleniosToolVerify(t, e.archive(t, ballots)); !ok {
			t.Errorf("%s: belenios-tool election verify refused the board of belenios.js's ballots:\n%s", e.name, out)
		}
	}

	t.Run("choices out of bounds", func(t *testing.T) {
		type problem struct {
			Question int    `json:"question"`
			Reason   string `json:"reason"`
		}
		cases := map[string]struct {
			choices any
			want    []problem
		}{
			"within bounds":                {[][]int{{0, 1, 1, 0, 0}, {1, 1, 1}, {0, 1}}, []problem{}},
			"four of 2–3":                  {[][]int{{0, 1, 1, 1, 1}, {1, 1, 1}, {0, 1}}, []problem{{0, "too-many"}}},
			"one of 2–3":                   {[][]int{{0, 1, 0, 0, 0}, {1, 1, 1}, {0, 1}}, []problem{{0, "too-few"}}},
			"none of 2–3, not blank":       {[][]int{{0, 0, 0, 0, 0}, {1, 1, 1}, {0, 1}}, []problem{{0, "too-few"}}},
			"blank and a choice":           {[][]int{{1, 1, 0, 0, 0}, {1, 1, 1}, {0, 1}}, []problem{{0, "blank-exclusive"}}},
			"two of exactly 3, yes and no": {[][]int{{1, 0, 0, 0, 0}, {1, 0, 1}, {1, 1}}, []problem{{1, "too-few"}, {2, "too-many"}}},
			"neither yes nor no":           {[][]int{{1, 0, 0, 0, 0}, {1, 1, 1}, {0, 0}}, []problem{{2, "too-few"}}},
			"a slot of 2":                  {[][]int{{0, 2, 0, 0, 0}, {1, 1, 1}, {0, 1}}, []problem{{0, "not-binary"}}},
			"a slot of true":               {[][]any{{0, true, 1, 0, 0}, {1, 1, 1}, {0, 1}}, []problem{{0, "not-binary"}}},
			"the blank slot missing":       {[][]int{{1, 1, 0, 0}, {1, 1, 1}, {0, 1}}, []problem{{0, "slots"}}},
			"a question missing":           {[][]int{{1, 0, 0, 0, 0}, {1, 1, 1}}, []problem{{-1, "questions"}}},
		}
		for name, c := range cases {
			got := evalJS[struct {
				Problems []problem `json:"problems"`
				Reason   string    `json:"reason"`
				Progress int       `json:"progress"`
			}](t, ctx, `
				const B = window.Belenios;
				const e = B.parseElection(await (await fetch("/election/three")).text());
				const problems = B.checkChoices(e, a1);
				let progress = 0, reason = "";
				try {
					await B.makeBallot(e, a0, a1, () => progress++);
				} catch (err) {
					reason = err.reason || String(err);
				}
				return {problems, reason, progress};`, three.creds[0], c.choices)
			if !slices.Equal(got.Problems, c.want) {
				t.Errorf("%s: checkChoices gave %v, want %v", name, got.Problems, c.want)
			}
			switch {
			case len(c.want) == 0 && got.Reason != "":
				t.Errorf("%s: makeBallot refused the choices: %s", name, got.Reason)
			case len(c.want) > 0 && (got.Reason != "choices" || got.Progress != 0):
				t.Errorf("%s: makeBallot gave reason %q after %d answers, want %q before any", name, got.Reason, got.Progress, "choices")
			}
		}
	})

	t.Run("credentials", func(t *testing.T) {
		good := two.creds[0]
		// The next Base58 digit at i changes the value by 1 or by -57 (from z
		// to 1) times a power of 58: never a multiple of 53, so the checksum
		// cannot hold.
		next := func(i int) string {
			d := strings.IndexByte(base58, good[i])
			return good[:i] + string(base58[(d+1)%58]) + good[i+1:]
		}
		at := func(i int, c string) string { return good[:i] + c + good[i+1:] }
		cases := map[string]struct{ cred, want string }{
			"as printed":               {good, ""},
			"the first digit mistyped": {next(0), "checksum"},
			"a middle digit mistyped":  {next(9), "checksum"},
			"the checksum mistyped":    {next(18), "checksum"},
			"a 0 (not Base58)":         {at(0, "0"), "malformed"},
			"an O (not Base58)":        {at(5, "O"), "malformed"},
			"an I (not Base58)":        {at(10, "I"), "malformed"},
			"an l as the checksum":     {at(18, "l"), "malformed"},
			"an accented letter":       {at(1, "é"), "malformed"},
			"a dash for a digit":       {at(2, "-"), "malformed"},
			"a digit short":            {good[:18], "malformed"},
			"a digit too many":         {good + "1", "malformed"},
			"without dashes":           {strings.ReplaceAll(good, "-", ""), "malformed"},
			"spaces for dashes":        {strings.ReplaceAll(good, "-", " "), "malformed"},
			"empty":                    {"", "malformed"},
		}
		for name, c := range cases {
			if g := goReason(c.cred); g != c.want {
				t.Fatalf("%s: Go's CheckCredential says %q, the case expects %q", name, g, c.want)
			}
			got := evalJS[struct {
				OK     bool   `json:"ok"`
				Reason string `json:"reason"`
			}](t, ctx, `return window.Belenios.checkCredential(a0);`, c.cred)
			if got.OK != (c.want == "") || got.Reason != c.want {
				t.Errorf("%s: checkCredential gave %+v, want reason %q", name, got, c.want)
			}
		}
	})

	t.Run("election records", func(t *testing.T) {
		raw := string(two.raw)
		y := two.record.Election.PublicKey.Big().Text(10)
		notElement := new(big.Int).Add(two.record.Election.PublicKey.Big(), big.NewInt(1)).Text(10)
		cases := map[string]string{
			"as published":              raw,
			"with a trailing newline":   raw + "\n",
			"version 2":                 strings.Replace(raw, `"version":1`, `"version":2`, 1),
			"another group":             strings.Replace(raw, `"BELENIOS-2048"`, `"RFC-3526-2048"`, 1),
			"a key outside the group":   strings.Replace(raw, y, notElement, 1),
			"a key as a number":         strings.Replace(raw, `"`+y+`"`, "12", 1),
			"an unknown field":          strings.Replace(raw, `"version":1`, `"version":1,"extra":1`, 1),
			"a short uuid":              strings.Replace(raw, two.record.Election.UUID, two.record.Election.UUID[:13], 1),
			"max above the answers":     strings.Replace(raw, `"min":1,"max":2`, `"min":1,"max":4`, 1),
			"min above max":             strings.Replace(raw, `"min":1,"max":2`, `"min":2,"max":1`, 1),
			"a question without answer": strings.Replace(raw, `["X","Y","Z"]`, `[]`, 1),
			"no question":               raw[:strings.Index(raw, `"questions"`)] + `"questions":[],` + raw[strings.Index(raw, `"uuid"`):],
		}
		for name, text := range cases {
			goRec, goErr := belenios.ParseElection([]byte(text))
			got := evalJS[struct {
				Error string `json:"error"`
				Hash  string `json:"hash"`
			}](t, ctx, `
				try {
					const e = window.Belenios.parseElection(a0);
					return {error: "", hash: await window.Belenios.electionHash(e)};
				} catch (err) {
					return {error: String(err), hash: ""};
				}`, text)
			switch {
			case goErr != nil && got.Error == "":
				t.Errorf("%s: parseElection took a record Go refuses (%v)", name, goErr)
			case goErr == nil && got.Error != "":
				t.Errorf("%s: parseElection refused a record Go takes: %s", name, got.Error)
			case goErr == nil && got.Hash != goRec.Fingerprint:
				t.Errorf("%s: electionHash %s, Go's fingerprint %s", name, got.Hash, goRec.Fingerprint)
			}
			if want := name == "as published" || name == "with a trailing newline"; want != (goErr == nil) {
				t.Errorf("%s: Go's ParseElection says %v", name, goErr)
			}
		}
	})

	if v := evalJS[[]string](t, ctx, `return window.cspViolations;`); len(v) > 0 {
		t.Errorf("belenios.js broke the pages' Content-Security-Policy: %v", v)
	}

	// The time a voter waits: a 2-question ballot (6 answers and a blank slot),
	// on a fresh page each time the rate changes (the first ballot builds the
	// table of g), each ballot from the record's text (the table of y is built
	// again). Logged, not asserted: the machine is shared.
	for _, rate := range []float64{1, 4} {
		if _, err := chromedp.Call(ctx, emulation.SetCPUThrottlingRate, emulation.SetCPUThrottlingRateParams{Rate: rate}); err != nil {
			t.Fatal(err)
		}
		openBeleniosPage(t, ctx, url)
		runs := evalJS[[]struct {
			Total   float64 `json:"total"`
			LongGap float64 `json:"longGap"`
		}](t, ctx, `
			const B = window.Belenios, runs = [];
			const text = await (await fetch("/election/two")).text();
			for (let i = 0; i < 5; i++) {
				const start = performance.now();
				let last = start, longGap = 0;
				await B.makeBallot(B.parseElection(text), a0, a1, () => {
					const now = performance.now();
					longGap = Math.max(longGap, now - last);
					last = now;
				});
				runs.push({total: performance.now() - start, longGap});
			}
			return runs;`, two.creds[0], casts[two][0])
		totals := make([]float64, len(runs))
		gaps := make([]float64, len(runs))
		for i, r := range runs {
			totals[i], gaps[i] = r.Total, r.LongGap
		}
		first := totals[0]
		slices.Sort(totals)
		slices.Sort(gaps)
		t.Logf("CPU throttled x%g: a 2-question ballot in %.0f ms (median of 5; first, with the table of g, %.0f ms; runs %.0f), longest stretch without yielding %.0f ms (median)",
			rate, totals[2], first, totals, gaps[2])
	}
	if _, err := chromedp.Call(ctx, emulation.SetCPUThrottlingRate, emulation.SetCPUThrottlingRateParams{Rate: 1}); err != nil {
		t.Fatal(err)
	}
}

// base58 is Belenios's alphabet.
const base58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// goReason is what Go's CheckCredential says of cred, in checkCredential's
// words: "" when it holds.
func goReason(cred string) string {
	err := belenios.CheckCredential(cred)
	switch {
	case err == nil:
		return ""
	case strings.Contains(err.Error(), "checksum"):
		return "checksum"
	default:
		return "malformed"
	}
}
