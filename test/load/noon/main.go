// Command noon plays an election day against the voting-runtime: a roll of
// -voters simulated voters (default 100,000) arriving along load.Day (a morning
// rise, the noon peak, an evening return) compressed into -day, each walking the
// whole journey with its code sent by SMS to a local gateway sink; on the
// embedded store, on PostgreSQL, or both (make load).
//
// It prints, each 10 s, the arrivals offered and the journeys done; at the end,
// each step's latency, the wait pages and errors, and whether the ballot box holds
// exactly one ballot per receipt given.
//
// With -verifiable the Election is in the verifiable mode (Belenios, External
// credentials made here): every voter's ballot is encrypted and proven before
// the day (about 0.1 s of CPU each, on every core), each journey posts its
// ballot and checks its tracker, and at the end the vote is closed and the
// board and the results are checked against the receipts. With -cast-clients
// N as well, there is no day: every voter signs in first, then N clients cast
// as fast as the runtime takes the ballots, and it prints verifiable casts per
// second (make load-verifiable).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"scrutin.dev/scrutin/internal/pgtest"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/test/load"
)

func main() {
	voters := flag.Int("voters", 100000, "voters on the roll, each voting once")
	day := flag.Duration("day", 10*time.Minute, "the election day (08:00-20:00) is played in this time")
	stores := flag.String("stores", "embedded,postgres", "stores to play the day on, one after the other")
	retries := flag.Int("retries", 10, "times a voter tries a step again after a wait page")
	flag.BoolVar(&verifiable, "verifiable", false, "the Election in the verifiable mode: encrypted ballots made before the day (each about 0.1 s of CPU and 15 kB of memory: set -voters), the board checked after the close")
	flag.BoolVar(&verifyBoard, "verify-board", true, "with -verifiable: check the whole board with Scrutin's verifier after the close (every ballot's proofs again)")
	flag.IntVar(&castClients, "cast-clients", 0, "with -verifiable: no day; sign every voter in, then cast from this many concurrent clients and measure casts per second")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	failed := false
	for _, st := range strings.Split(*stores, ",") {
		ok, err := play(ctx, st, *voters, *day, *retries)
		if err != nil {
			log.Fatalf("%s: %v", st, err)
		}
		failed = failed || !ok
	}
	if failed {
		os.Exit(1)
	}
}

var (
	verifiable, verifyBoard bool
	castClients             int
)

// verify checks the closed board with Scrutin's verifier, when asked to.
func verify(ctx context.Context, rt *load.Runtime) bool {
	if !verifyBoard {
		return true
	}
	started := time.Now()
	rep, err := rt.VerifyBoard(ctx)
	if err != nil {
		fmt.Printf("Scrutin's verifier: %v\n", err)
		return false
	}
	fmt.Printf("Scrutin's verifier: %d ballots, %d counted, result checked %v, in %s\n", rep.Ballots, rep.Counted, rep.Result != nil, time.Since(started).Round(time.Millisecond))
	return rep.Result != nil
}

func play(ctx context.Context, st string, voters int, day time.Duration, retries int) (bool, error) {
	tmp, err := os.MkdirTemp("", "noon-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)
	bin, err := runtimetest.Build(tmp)
	if err != nil {
		return false, err
	}
	phones, err := load.StartPhones(load.PhonesToken)
	if err != nil {
		return false, err
	}
	defer phones.Close()
	o := load.RuntimeOptions{Bin: bin, Dir: tmp, Voters: voters, Phones: phones, Verifiable: verifiable}
	switch st {
	case "embedded":
	case "postgres":
		pg, err := pgtest.Start(ctx)
		if err != nil {
			return false, err
		}
		defer pg.Stop()
		o.Store = "postgres:" + pg.AdminDSN()
	default:
		return false, fmt.Errorf("unknown store %q (embedded or postgres)", st)
	}
	rt, err := load.StartRuntime(o)
	if err != nil {
		return false, err
	}
	defer rt.Stop()
	t := &load.Target{URL: rt.URL, Phones: phones, Answers: load.DefaultAnswers, MaxRetries: retries}
	if verifiable {
		if t.Encrypted, err = prepare(ctx, st, rt, voters); err != nil {
			return false, err
		}
		if castClients > 0 {
			return casts(ctx, st, rt, t, voters)
		}
	}
	arrivals, peak := load.Curve(voters, day, load.Day)
	log.Printf("%s: %d voters over a day played in %s; the noon peak offers %.0f journeys/s", st, voters, day, peak)

	stats := load.NewStats()
	done := make(chan struct{})
	go progress(st, stats, arrivals, rt, done)
	t.Run(ctx, arrivals, 1, 0, stats)
	close(done)
	_, peakRSS, _ := load.Memory(rt.Cmd.Process.Pid)
	res := stats.Result()

	check, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var (
		lost  []string
		extra int
		board *load.BoardCheck
	)
	if verifiable {
		if board, err = rt.CloseAndCheckBoard(check, t.Encrypted, res.Receipts); err != nil {
			return false, err
		}
		lost, extra = append(board.Missing, board.Repeated...), board.Extra
	} else if lost, extra, err = rt.StopAndCheck(check, res.Receipts); err != nil {
		return false, err
	}
	fmt.Printf("\n## %s: %d voters, day played in %s (noon peak %.0f journeys/s)\n\n", st, voters, day, peak)
	fmt.Printf("| step | p50 / p99 | max |\n| --- | --- | --- |\n")
	for _, s := range load.Steps {
		fmt.Printf("| %s | %s | %s |\n", s, res.Steps[s], res.Steps[s].Max.Round(time.Millisecond))
	}
	fmt.Printf("| whole journey | %s | %s |\n\n", res.Journey, res.Journey.Max.Round(time.Millisecond))
	fmt.Printf("receipts %d of %d voters; wait pages %.2f %% of %d requests (p99 %s); 5xx %d; runtime peak RSS %d MiB\n",
		res.Journeys, voters, 100*res.WaitShare(), res.Requests, res.Wait, res.Status5xx, peakRSS>>20)
	verified := true
	if board != nil {
		fmt.Printf("board after the close: %s\n", board)
		verified = verify(check, rt)
	} else {
		fmt.Printf("ballot box: %d receipts missing (lost), %d ballots beyond the receipts\n", len(lost), extra)
	}
	if l := res.FailureList(); l != "" {
		fmt.Printf("journeys without a receipt: %s\n", l)
	}
	_ = os.WriteFile(filepath.Join(os.TempDir(), "noon-"+st+".log"), []byte(rt.Logs.String()), 0o644)
	return res.Journeys == voters && len(lost) == 0 && extra == 0 && res.Status5xx == 0 && (board == nil || board.OK(res.Journeys)) && verified, nil
}

// prepare encrypts every voter's ballot, on every core, for the election record
// the runtime publishes.
func prepare(ctx context.Context, st string, rt *load.Runtime, voters int) (*load.EncryptedBallots, error) {
	rec, err := load.ElectionRecord(ctx, rt.URL)
	if err != nil {
		return nil, err
	}
	log.Printf("%s: encrypting %d ballots on %d cores", st, voters, runtime.NumCPU())
	started := time.Now()
	b, err := load.PrepareBallots(rec, 1, voters, 0, func(i int) string { return rt.Credentials.Private[i-1] }, load.VoteOf)
	if err != nil {
		return nil, err
	}
	took := time.Since(started)
	log.Printf("%s: %d ballots encrypted in %s (%.1f/s)", st, voters, took.Round(time.Millisecond), float64(voters)/took.Seconds())
	return b, nil
}

// casts signs every voter in, then casts their ballots from castClients
// clients as fast as the runtime takes them, and checks the board.
func casts(ctx context.Context, st string, rt *load.Runtime, t *load.Target, voters int) (bool, error) {
	sessions := make([]*load.Session, voters+1)
	signStats := load.NewStats()
	load.Parallel(castClients, voters, func(i int) {
		if s, err := t.SignIn(ctx, i+1, signStats); err == nil {
			sessions[i+1] = s
		}
	})
	if r := signStats.Result(); r.Failed() > 0 {
		return false, fmt.Errorf("%d voters could not sign in: %s", r.Failed(), r.FailureList())
	}
	log.Printf("%s: %d voters signed in; casting from %d clients", st, voters, castClients)
	stats := load.NewStats()
	started := time.Now()
	load.Parallel(castClients, voters, func(i int) { _, _ = sessions[i+1].Cast(ctx, stats) })
	elapsed := time.Since(started)
	res := stats.Result()
	check, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	board, err := rt.CloseAndCheckBoard(check, t.Encrypted, res.Receipts)
	if err != nil {
		return false, err
	}
	fmt.Printf("\n## %s: %d verifiable casts from %d clients\n\n", st, voters, castClients)
	fmt.Printf("%d receipts in %s: %.1f casts/s; cast p50 / p99 %s, max %s; 5xx %d\n", res.Journeys,
		elapsed.Round(time.Millisecond), float64(res.Journeys)/elapsed.Seconds(), res.Steps[load.StepCast], res.Steps[load.StepCast].Max.Round(time.Millisecond), res.Status5xx)
	fmt.Printf("board after the close: %s\n", board)
	verified := verify(check, rt)
	if l := res.FailureList(); l != "" {
		fmt.Printf("casts without a receipt: %s\n", l)
	}
	return res.Journeys == voters && res.Status5xx == 0 && board.OK(res.Journeys) && verified, nil
}

// progress prints every 10 s what was offered and done.
func progress(st string, stats *load.Stats, arrivals load.Arrivals, rt *load.Runtime, done <-chan struct{}) {
	start := time.Now()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	var lastDone int
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		el := time.Since(start)
		offered := 0
		for offered < len(arrivals) && arrivals[offered] <= el {
			offered++
		}
		r := stats.Result()
		rss, _, _ := load.Memory(rt.Cmd.Process.Pid)
		log.Printf("%s %5.0fs: %6d arrived, %6d receipts (%4.0f/s in the last 10 s), wait pages %d, failures %d, RSS %d MiB",
			st, el.Seconds(), offered, r.Journeys, float64(r.Journeys-lastDone)/10, r.Statuses[503], r.Failed(), rss>>20)
		lastDone = r.Journeys
	}
}
