package load

import (
	"context"
	"os"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/pgtest"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/belenios"
)

var runtimeBin string

func TestMain(m *testing.M) { os.Exit(runtimetest.Main(m, &runtimeBin)) }

// TestCurve: the day's arrivals are ordered, within the day, and busiest around
// 12:30, where the rate reported as the peak is reached.
func TestCurve(t *testing.T) {
	const n = 100000
	day := 12 * time.Minute // an hour of the day is a minute of the run
	arr, peak := Curve(n, day, Day)
	if len(arr) != n {
		t.Fatalf("%d arrivals", len(arr))
	}
	perMinute := make([]int, 12)
	for i, at := range arr {
		if at < 0 || at >= day || (i > 0 && at < arr[i-1]) {
			t.Fatalf("arrival %d at %v", i, at)
		}
		perMinute[int(at/time.Minute)]++
	}
	busiest := 0
	for h, c := range perMinute {
		if c > perMinute[busiest] {
			busiest = h
		}
	}
	if busiest != 4 { // 12:00-13:00
		t.Fatalf("busiest hour starts at %d:00: %v", 8+busiest, perMinute)
	}
	if perMinute[4] < 3*perMinute[0] || perMinute[10] < perMinute[8] {
		t.Fatalf("no noon peak or no evening return: %v", perMinute)
	}
	// the busiest minute's mean rate is below the curve's peak, and not far below
	if mean := float64(perMinute[4]) / 60; peak < mean || peak > 2*mean {
		t.Fatalf("peak %.0f/s, busiest hour's mean %.0f/s", peak, mean)
	}
}

// TestDayOnBothStores: a small election day (500 voters over 8 s) on each store:
// every voter gets a receipt, and the ballot box holds each receipt's ballot, once.
func TestDayOnBothStores(t *testing.T) {
	for _, store := range []string{"embedded", "postgres"} {
		t.Run(store, func(t *testing.T) {
			phones, err := StartPhones(PhonesToken)
			if err != nil {
				t.Fatal(err)
			}
			defer phones.Close()
			o := RuntimeOptions{Bin: runtimeBin, Dir: t.TempDir(), Voters: 500, Phones: phones}
			if store == "postgres" {
				o.Store = "postgres:" + pgtest.ForTest(t).AdminDSN()
			}
			rt, err := StartRuntime(o)
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Stop()
			target := &Target{URL: rt.URL, Phones: phones, Answers: DefaultAnswers, MaxRetries: 5}
			arrivals, _ := Curve(500, 8*time.Second, Day)
			stats := NewStats()
			target.Run(t.Context(), arrivals, 1, 0, stats)
			res := stats.Result()
			if res.Journeys != 500 || res.Failed() != 0 || res.Status5xx != 0 {
				t.Fatalf("%d journeys, failures: %s, %d 5xx", res.Journeys, res.FailureList(), res.Status5xx)
			}
			for _, step := range Steps {
				if res.Steps[step].N != 500 {
					t.Errorf("%s measured %d times", step, res.Steps[step].N)
				}
			}
			if got := phones.Received(); got != 500 {
				t.Errorf("%d codes sent", got)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			lost, extra, err := rt.StopAndCheck(ctx, res.Receipts)
			if err != nil || len(lost) != 0 || extra != 0 {
				t.Fatalf("lost %d, extra %d: %v", len(lost), extra, err)
			}
		})
	}
}

// TestVerifiableDayOnBothStores: a small verifiable election day (60 voters
// over 4 s, ballots encrypted beforehand with credentials made offline) on each
// store: every voter gets a receipt equal to its ballot's tracker; after the
// close the board holds each receipt's ballot exactly once and nothing else,
// the tally and the result, the results count each voter's plaintext once, and
// Scrutin's verifier passes the whole board. Before the day, one more voter posts a ballot signed with another voter's
// credential: the journey fails naming the runtime's reason, and that ballot
// is neither on the board nor counted. After it, the check is shown to fail on
// a receipt list with one receipt swapped for a made-up one.
func TestVerifiableDayOnBothStores(t *testing.T) {
	const voters = 60
	wrong := voters + 1 // the voter whose ballot carries voter 1's credential
	for _, store := range []string{"embedded", "postgres"} {
		t.Run(store, func(t *testing.T) {
			phones, err := StartPhones(PhonesToken)
			if err != nil {
				t.Fatal(err)
			}
			defer phones.Close()
			o := RuntimeOptions{Bin: runtimeBin, Dir: t.TempDir(), Voters: wrong, Phones: phones, Verifiable: true}
			if store == "postgres" {
				o.Store = "postgres:" + pgtest.ForTest(t).AdminDSN()
			}
			rt, err := StartRuntime(o)
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Stop()
			rec, err := ElectionRecord(t.Context(), rt.URL)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Election.UUID != rt.Credentials.UUID {
				t.Fatalf("the election's uuid is %s, the credentials' %s", rec.Election.UUID, rt.Credentials.UUID)
			}
			ballots, err := PrepareBallots(rec, 1, voters, 0, func(i int) string { return rt.Credentials.Private[i-1] }, VoteOf)
			if err != nil {
				t.Fatal(err)
			}
			// voter 61 signs in and posts a ballot made with voter 1's credential
			stolen, err := PrepareBallots(rec, wrong, 1, 1, func(int) string { return rt.Credentials.Private[0] }, VoteOf)
			if err != nil {
				t.Fatal(err)
			}
			refused := NewStats()
			(&Target{URL: rt.URL, Phones: phones, MaxRetries: 5, Encrypted: stolen}).Run(t.Context(), Arrivals{0}, wrong, 0, refused)
			if r := refused.Result(); r.Journeys != 0 || r.Failures["cast: HTTP 422 unknown-credential"] != 1 {
				t.Fatalf("a ballot with another voter's credential: %d receipts, failures %s", r.Journeys, r.FailureList())
			}

			target := &Target{URL: rt.URL, Phones: phones, MaxRetries: 5, Encrypted: ballots}
			arrivals, _ := Curve(voters, 4*time.Second, Day)
			stats := NewStats()
			target.Run(t.Context(), arrivals, 1, 0, stats)
			res := stats.Result()
			if res.Journeys != voters || res.Failed() != 0 || res.Status5xx != 0 {
				t.Fatalf("%d journeys, failures: %s, %d 5xx", res.Journeys, res.FailureList(), res.Status5xx)
			}
			if res.Steps[StepCast].N != voters {
				t.Errorf("cast measured %d times", res.Steps[StepCast].N)
			}
			for _, r := range res.Receipts {
				if ballots.Voter(r) == 0 {
					t.Fatalf("receipt %s is no ballot's tracker", r)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			check, err := rt.CloseAndCheckBoard(ctx, ballots, res.Receipts)
			if err != nil {
				t.Fatal(err)
			}
			if !check.OK(voters) || check.Ballots != voters {
				t.Fatalf("%s", check)
			}
			// and the board verifies as a whole, as an auditor checks it
			report, err := rt.VerifyBoard(ctx)
			if err != nil {
				t.Fatalf("the board does not verify: %v", err)
			}
			if report.Ballots != voters || report.Counted != voters || report.Result == nil {
				t.Fatalf("the verifier found %d ballots, %d counted, result %v", report.Ballots, report.Counted, report.Result != nil)
			}
			// the check can fail: one receipt replaced by a made-up tracker
			swapped := append([]string{belenios.Tracker([]byte("not a ballot"))}, res.Receipts[1:]...)
			bad, err := rt.CheckBoard(ctx, ballots, swapped)
			if err != nil {
				t.Fatal(err)
			}
			if bad.OK(voters) || len(bad.Missing) != 1 || bad.Extra != 1 || len(bad.Wrong) == 0 {
				t.Fatalf("a swapped receipt went unseen: %s", bad)
			}
		})
	}
}
