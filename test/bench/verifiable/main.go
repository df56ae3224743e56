// Command verifiable measures the verifiable mode (make bench-verifiable):
// Scrutin's verifier against belenios-tool's on one 10,000-ballot board, and
// the close (tally, partial decryption, result) for 140,000 ballots.
//
// The board is made once, in parallel, with the belenios package alone (a
// platform trustee, one credential per ballot, the 2-question ballot of the
// compatibility notes: 3 answers and a blank slot, then 3 answers choose 1 or 2,
// 7 encrypted slots), and kept in the cache directory with the trustee's key.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"scrutin.dev/scrutin/voting-runtime/belenios"
)

func main() {
	ballots := flag.Int("ballots", 10_000, "ballots on the board both verifiers check")
	closeN := flag.Int("close", 140_000, "ballots tallied for the close")
	cache := flag.String("cache", "_output/bench/verifiable", "directory keeping the generated board between runs")
	tool := flag.Bool("tool", true, "run belenios-tool election verify on the board (about 37 ms of CPU per ballot)")
	out := flag.String("out", "_output/bench/verifiable.txt", "file the figures are appended to")
	verifyToo := flag.Bool("verify", true, "time Verify on the board, on every core")
	oneCore := flag.Bool("one-core", true, "time Verify on the board on one core too")
	flag.Parse()
	log.SetFlags(0)

	if err := os.MkdirAll(*cache, 0o755); err != nil {
		log.Fatal(err)
	}
	board := filepath.Join(*cache, fmt.Sprintf("board-%d", *ballots), "board.bel")
	keyFile := filepath.Join(*cache, fmt.Sprintf("board-%d.key", *ballots))
	if _, err := os.Stat(board); err != nil {
		log.Printf("making a %d-ballot board in %s (once) ...", *ballots, board)
		start := time.Now()
		if err := makeBoard(board, keyFile, *ballots); err != nil {
			log.Fatal(err)
		}
		log.Printf("made in %s", time.Since(start).Round(time.Second))
	}
	x := readKey(keyFile)

	var rows [][2]string
	add := func(k, v string) {
		rows = append(rows, [2]string{k, v})
		log.Printf("%s: %s", k, v)
	}
	st, _ := os.Stat(board)
	add("board", fmt.Sprintf("%d ballots, %.1f MB, %d cores (GOMAXPROCS)", *ballots, float64(st.Size())/1e6, runtime.GOMAXPROCS(0)))

	// Scrutin's verifier, on every core and on one.
	ourWall, ourCPU, oneWall := time.Duration(0), time.Duration(0), time.Duration(0)
	if *verifyToo {
		ourWall, ourCPU = measure(func() { verify(board, *ballots) })
		add("Verify (Scrutin), all cores: wall / CPU", fmt.Sprintf("%s / %s (%.0f ballots/s, %.2f ms CPU per ballot)",
			ourWall.Round(time.Millisecond), ourCPU.Round(time.Millisecond),
			float64(*ballots)/ourWall.Seconds(), ms(ourCPU)/float64(*ballots)))
		add("peak RSS so far (the board's generation included when it was made in this run)", fmt.Sprintf("%d MiB", maxRSS()>>20))
	}
	if *oneCore {
		prev := runtime.GOMAXPROCS(1)
		var oneCPU time.Duration
		oneWall, oneCPU = measure(func() { verify(board, *ballots) })
		runtime.GOMAXPROCS(prev)
		add("Verify (Scrutin), one core: wall / CPU", fmt.Sprintf("%s / %s (%.0f ballots/s per core)",
			oneWall.Round(time.Millisecond), oneCPU.Round(time.Millisecond), float64(*ballots)/oneWall.Seconds()))
	}

	if *tool {
		toolWall, toolCPU, toolRSS, msg := beleniosVerify(filepath.Dir(board))
		add("belenios-tool election verify: wall / CPU", fmt.Sprintf("%s / %s (%.2f ms CPU per ballot, peak RSS %d MiB; %s)",
			toolWall.Round(time.Millisecond), toolCPU.Round(time.Millisecond), ms(toolCPU)/float64(*ballots), toolRSS>>20, msg))
		if *verifyToo {
			add("ratio belenios-tool / Verify (all cores)", fmt.Sprintf("wall %.1f×, CPU %.1f×",
				toolWall.Seconds()/ourWall.Seconds(), toolCPU.Seconds()/ourCPU.Seconds()))
		}
		if *oneCore {
			add("ratio belenios-tool / Verify on one core, wall", fmt.Sprintf("%.1f×", toolWall.Seconds()/oneWall.Seconds()))
		}
	}

	closeRows := closeBench(board, x, *closeN)
	rows = append(rows, closeRows...)

	var buf bytes.Buffer
	fmt.Fprintf(&buf, "\nbench-verifiable %s\n", time.Now().UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	tw.Flush()
	os.Stdout.Write(buf.Bytes())
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err == nil {
		if f, err := os.OpenFile(*out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			f.Write(buf.Bytes())
			f.Close()
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// measure is f's wall time and this process's CPU time (user + system).
func measure(f func()) (wall, cpu time.Duration) {
	c0 := cpuTime()
	t0 := time.Now()
	f()
	return time.Since(t0), cpuTime() - c0
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// maxRSS is this process's peak resident set size, in bytes.
func maxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	return ru.Maxrss << 10
}

func verify(board string, n int) {
	f, err := os.Open(board)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	rep, err := belenios.Verify(f)
	if err != nil {
		log.Fatalf("Verify: %v", err)
	}
	if rep.Ballots != n || rep.Result == nil {
		log.Fatalf("Verify checked %d ballots, result %v", rep.Ballots, rep.Result)
	}
}

// beleniosVerify runs belenios-tool on the directory holding the board alone.
func beleniosVerify(dir string) (wall, cpu time.Duration, rss int64, msg string) {
	cmd := exec.Command("belenios-tool", "election", "verify", "--dir", dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Run()
	wall = time.Since(t0)
	if err != nil {
		log.Fatalf("belenios-tool election verify: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss << 10
	}
	return wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), rss, strings.TrimSpace(lines[len(lines)-1])
}

// The 2-question ballot of the compatibility notes.
var questions = []belenios.Question{
	{Answers: []string{"Alice", "Bob", "Carol"}, Blank: true, Min: 1, Max: 1, Question: "Who should chair the assembly?"},
	{Answers: []string{"X", "Y", "Z"}, Min: 1, Max: 2, Question: "Which motions do you support?"},
}

func randomPlaintext() belenios.Plaintext {
	q1 := []int{0, 0, 0, 0}
	q1[mrand.IntN(4)] = 1 // blank or one of the three
	q2 := []int{0, 0, 0}
	q2[mrand.IntN(3)] = 1
	if mrand.IntN(2) == 0 {
		q2[mrand.IntN(3)] = 1
	}
	return belenios.Plaintext{q1, q2}
}

// parallel runs f(0..n-1) on every core.
func parallel(n int, f func(i int) error) error {
	var (
		wg   sync.WaitGroup
		next = make(chan int)
		mu   sync.Mutex
		errs []error
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// makeBoard makes a whole board of n ballots (one per credential) with its
// tally, the platform trustee's partial decryption and the result.
func makeBoard(board, keyFile string, n int) error {
	g := belenios.Belenios2048()
	x, pub, err := belenios.NewTrusteeKey(g)
	if err != nil {
		return err
	}
	trustees, err := belenios.Trustees{{Single: &pub}}.Marshal()
	if err != nil {
		return err
	}
	uuid, err := belenios.NewUUID()
	if err != nil {
		return err
	}
	electionRaw, err := belenios.NewElectionRecord(uuid, "Benchmark", "bench-verifiable", questions, pub.PublicKey.Big())
	if err != nil {
		return err
	}
	e, err := belenios.ParseElection(electionRaw)
	if err != nil {
		return err
	}
	creds := make([]string, n)
	pcs := make([]belenios.PublicCredential, n)
	if err := parallel(n, func(i int) error {
		c, err := belenios.NewCredential()
		if err != nil {
			return err
		}
		creds[i] = c
		pcs[i] = belenios.PublicCredential{Credential: belenios.PublicCredentialOf(g, c, uuid), Weight: 1}
		return nil
	}); err != nil {
		return err
	}
	credsRaw, err := belenios.MarshalPublicCredentials(pcs)
	if err != nil {
		return err
	}
	raws := make([][]byte, n)
	var made atomic.Int64
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(30 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				log.Printf("  %d/%d ballots", made.Load(), n)
			}
		}
	}()
	err = parallel(n, func(i int) error {
		b, err := belenios.NewBallot(e, creds[i], randomPlaintext())
		raws[i] = b
		made.Add(1)
		return err
	})
	close(stop)
	if err != nil {
		return err
	}

	tally := belenios.NewTally(e)
	for _, raw := range raws {
		b, err := belenios.ParseBallot(raw)
		if err != nil {
			return err
		}
		tally.Add(b, 1)
	}
	et := tally.Encrypted()
	pd, err := belenios.PartialDecrypt(e, x, et)
	if err != nil {
		return err
	}
	ts := belenios.Trustees{{Single: &pub}}
	factors, err := ts.Combine(g, map[int]*belenios.PartialDecryption{1: pd})
	if err != nil {
		return err
	}
	res, err := belenios.DecodeResult(e, et, factors, tally.TotalWeight())
	if err != nil {
		return err
	}

	if err := os.MkdirAll(filepath.Dir(board), 0o755); err != nil {
		return err
	}
	tmp := board + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := belenios.NewArchiveWriter(f, time.Now().Unix())
	if err != nil {
		return err
	}
	steps := []func() error{func() error { return w.Setup(electionRaw, trustees, credsRaw) }}
	for _, raw := range raws {
		steps = append(steps, func() error { return w.Ballot(raw) })
	}
	etRaw, err := belenios.Marshal(et)
	if err != nil {
		return err
	}
	pdRaw, err := belenios.Marshal(pd)
	if err != nil {
		return err
	}
	resRaw, err := belenios.Marshal(res)
	if err != nil {
		return err
	}
	steps = append(steps, w.EndBallots,
		func() error {
			return w.EncryptedTally(etRaw, belenios.SizedEncryptedTally{NumTallied: tally.Count(), TotalWeight: tally.TotalWeight()})
		},
		func() error { return w.PartialDecryption(1, pdRaw) },
		func() error { return w.Result(resRaw) })
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, []byte(x.Text(10)), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, board)
}

func readKey(path string) *big.Int {
	raw, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	x, ok := new(big.Int).SetString(strings.TrimSpace(string(raw)), 10)
	if !ok {
		log.Fatalf("%s: not a key", path)
	}
	return x
}

// closeBench measures the close for n ballots: the board's ballots are parsed
// and added to the tally over and over (each addition costs what a distinct
// ballot's does: the same multiplications), then the trustee's partial
// decryption, its check and the result's decoding.
func closeBench(board string, x *big.Int, n int) [][2]string {
	f, err := os.Open(board)
	if err != nil {
		log.Fatal(err)
	}
	a, err := belenios.ReadArchive(f)
	f.Close()
	if err != nil {
		log.Fatal(err)
	}
	e, err := belenios.ParseElection(a.Election)
	if err != nil {
		log.Fatal(err)
	}
	ts, err := belenios.ParseTrustees(a.Trustees)
	if err != nil {
		log.Fatal(err)
	}
	var rows [][2]string
	add := func(k, v string) {
		rows = append(rows, [2]string{k, v})
		log.Printf("%s: %s", k, v)
	}
	tally := belenios.NewTally(e)
	parseWall, parseCPU := measure(func() {
		if err := parallel(n, func(i int) error {
			_, err := belenios.ParseBallot(a.Ballots[i%len(a.Ballots)])
			return err
		}); err != nil {
			log.Fatal(err)
		}
	})
	parsed := make([]*belenios.Ballot, n)
	weights := make([]int64, n)
	for i, raw := range a.Ballots {
		if parsed[i], err = belenios.ParseBallot(raw); err != nil {
			log.Fatal(err)
		}
	}
	for i := range n {
		parsed[i], weights[i] = parsed[i%len(a.Ballots)], 1
	}
	addWall, addCPU := measure(func() { tally.AddAll(parsed, weights) })
	et := tally.Encrypted()
	var pd *belenios.PartialDecryption
	pdWall, pdCPU := measure(func() {
		if pd, err = belenios.PartialDecrypt(e, x, et); err != nil {
			log.Fatal(err)
		}
	})
	X, err := ts.VerificationKey(1)
	if err != nil {
		log.Fatal(err)
	}
	checkWall, _ := measure(func() {
		if err := belenios.VerifyPartialDecryption(e, X, et, pd); err != nil {
			log.Fatal(err)
		}
	})
	var res *belenios.Result
	decWall, decCPU := measure(func() {
		factors, err := ts.Combine(e.Group, map[int]*belenios.PartialDecryption{1: pd})
		if err != nil {
			log.Fatal(err)
		}
		if res, err = belenios.DecodeResult(e, et, factors, tally.TotalWeight()); err != nil {
			log.Fatal(err)
		}
	})
	// The decoded result must be n/len times the board's own (the same ballots).
	var boardRes belenios.Result
	if err := belenios.UnmarshalStrict(a.Result, &boardRes); err != nil {
		log.Fatal(err)
	}
	reps := int64(n / len(a.Ballots))
	if n%len(a.Ballots) == 0 {
		for q := range res.Result {
			for s := range res.Result[q] {
				if res.Result[q][s] != reps*boardRes.Result[q][s] {
					log.Fatalf("the result of the close %v is not %d times the board's %v", res.Result, reps, boardRes.Result)
				}
			}
		}
	}
	add(fmt.Sprintf("close of %d ballots: parse them (from the store's bytes, on every core)", n), fmt.Sprintf("%s wall / %s CPU", parseWall.Round(time.Millisecond), parseCPU.Round(time.Millisecond)))
	add(fmt.Sprintf("close of %d ballots: tally (AddAll, weight 1, on every core)", n), fmt.Sprintf("%s wall / %s CPU", addWall.Round(time.Millisecond), addCPU.Round(time.Millisecond)))
	add("close: one partial decryption (7 slots)", fmt.Sprintf("%s wall / %s CPU", pdWall.Round(time.Millisecond), pdCPU.Round(time.Millisecond)))
	add("close: its check (VerifyPartialDecryption)", checkWall.Round(time.Millisecond).String())
	add(fmt.Sprintf("close: combine + DecodeResult (total weight %d)", tally.TotalWeight()), fmt.Sprintf("%s wall / %s CPU", decWall.Round(time.Millisecond), decCPU.Round(time.Millisecond)))
	add("close: total", (parseWall + addWall + pdWall + checkWall + decWall).Round(time.Millisecond).String())
	return rows
}
