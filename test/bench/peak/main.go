// Command peak measures the voting-runtime at the noon peak, on this machine, in
// one run (make bench-peak; test/bench/README.md says what each figure means):
//
//   - complete voter journeys per second at the knee, with each step's p50/p99, on
//     PostgreSQL and on the embedded store;
//   - the machine's own limits under the same load generator: pgbench with a one-row
//     INSERT at the casting concurrency, and a bare net/http handler;
//   - casting alone (voters already signed in), against pgbench;
//   - the runtime at 3× the knee: wait-page share and latency, 5xx, lost ballots,
//     lost sessions, peak memory;
//   - the runtime's memory with 20,000 live sessions.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"scrutin.dev/scrutin/internal/pgtest"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/test/load"
)

type config struct {
	voters      int
	step        time.Duration
	stores      []string
	startRate   float64
	maxRate     float64
	p99         time.Duration
	overload    float64
	castClients int
	sessions    int
	out         string
	bareServer  string
	runtimeArgs []string
	measures    string
	// poolMaxConns, when set, is added to the runtime's DSN
	poolMaxConns int
	// verifiable runs the journeys on an Election in the verifiable mode
	verifiable bool
}

func main() {
	var c config
	var stores, args string
	flag.IntVar(&c.voters, "voters", 100000, "voters on each runtime's roll")
	flag.DurationVar(&c.step, "step", 10*time.Second, "length of each offered rate's run")
	flag.StringVar(&stores, "stores", "postgres,embedded", "stores to measure")
	flag.Float64Var(&c.startRate, "start-rate", 25, "first journeys/s offered when looking for the knee (doubled until it fails)")
	flag.Float64Var(&c.maxRate, "max-rate", 3200, "highest journeys/s offered (past about 4,000 the generator and a server run out of file descriptors here: 20,000 a process)")
	flag.DurationVar(&c.p99, "knee-p99", 300*time.Millisecond, "a rate is under the knee when every HTTP step's p99 stays under this, with no error and no wait page")
	flag.Float64Var(&c.overload, "overload", 3, "the overload run offers this many times the knee")
	flag.IntVar(&c.castClients, "cast-clients", 32, "concurrent voters casting in the cast run, and pgbench's clients")
	flag.IntVar(&c.sessions, "sessions", 20000, "voters signed in for the cast run (and the memory measure)")
	flag.StringVar(&c.out, "out", "_output/bench", "directory for the runtimes' logs")
	flag.StringVar(&args, "runtime-args", "", "more flags for the runtime, space separated")
	flag.IntVar(&c.poolMaxConns, "pool-max-conns", 0, "the runtime's PostgreSQL connections (pool_max_conns in its DSN); 0: the runtime's default")
	flag.StringVar(&c.measures, "measures", "journeys,casts,baselines", "what to measure: journeys (knee, profile, overload), casts (casting alone, sessions' memory), baselines")
	flag.StringVar(&c.bareServer, "bare-server", "", "(internal) serve the bare baseline on this address")
	flag.BoolVar(&c.verifiable, "verifiable", false, "the journeys on an Election in the verifiable mode (Belenios, External credentials made here): each voter's ballot encrypted and proven before each rate's run, checked by the runtime at the cast; the board checked after the close. Defaults then: -voters 8000 -start-rate 4 -measures journeys")
	flag.Parse()
	if c.verifiable {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		// a credential and a ballot cost the generator milliseconds and a tenth
		// of a second of CPU each: a roll and rates to match
		if !set["voters"] {
			c.voters = 8000
		}
		if !set["start-rate"] {
			c.startRate = 4
		}
		if !set["measures"] {
			c.measures = "journeys"
		}
		if strings.Contains(","+c.measures+",", ",casts,") {
			log.Fatal("-verifiable measures journeys (and baselines): casting alone in the verifiable mode is make load-verifiable")
		}
	}
	c.stores = strings.Split(stores, ",")
	c.runtimeArgs = strings.Fields(args)
	if c.bareServer != "" {
		serveBare(c.bareServer)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, c); err != nil {
		log.Fatal(err)
	}
}

// bench holds what every measure shares.
type bench struct {
	c      config
	bin    string
	pg     *pgtest.Server
	phones *load.Phones
	dbs    int
	// db is the database of the last PostgreSQL runtime started
	db  string
	out io.Writer
	// pprofAddr serves the last runtime started's profiles
	pprofAddr string
	// credential is voter i's private credential, in the verifiable mode
	credential func(i int) string
}

func run(ctx context.Context, c config) error {
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "bench-peak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	log.Printf("building the voting-runtime")
	bin, err := runtimetest.Build(tmp)
	if err != nil {
		return err
	}
	log.Printf("starting PostgreSQL 15 (fsync on)")
	// pg_stat_statements counts the statements each database runs: the database
	// work of a journey is reported beside its time
	pg, err := pgtest.Start(ctx, pgtest.Options{SharedPreloadLibraries: []string{"pg_stat_statements"}})
	if err != nil {
		return err
	}
	defer pg.Stop()
	if err := execAdmin(ctx, pg, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		return err
	}
	phones, err := load.StartPhones(load.PhonesToken)
	if err != nil {
		return err
	}
	defer phones.Close()
	b := &bench{c: c, bin: bin, pg: pg, phones: phones, out: os.Stdout}

	report := &report{}
	for _, st := range c.stores {
		if err := b.measureStore(ctx, st, tmp, report); err != nil {
			return fmt.Errorf("%s: %w", st, err)
		}
	}
	if b.measuring("baselines") {
		if err := b.baselines(ctx, report); err != nil {
			return err
		}
	}
	report.print(b.out, c)
	return nil
}

// runtime starts a runtime on store st ("postgres" gets a database of its own).
func (b *bench) runtime(ctx context.Context, st, dir string) (*load.Runtime, error) {
	var err error
	if b.pprofAddr, err = runtimetest.FreeAddress(); err != nil {
		return nil, err
	}
	o := load.RuntimeOptions{Bin: b.bin, Dir: dir, Voters: b.c.voters, Phones: b.phones, Verifiable: b.c.verifiable,
		Args: append([]string{"--pprof-listen", b.pprofAddr}, b.c.runtimeArgs...)}
	if st == "postgres" {
		b.dbs++
		b.db = fmt.Sprintf("election_%d", b.dbs)
		dsn, err := b.pg.CreateDatabase(ctx, b.db)
		if err != nil {
			return nil, err
		}
		o.Store = "postgres:" + dsn
		if b.c.poolMaxConns > 0 {
			o.Store += fmt.Sprintf(" pool_max_conns=%d", b.c.poolMaxConns)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	started := time.Now()
	rt, err := load.StartRuntime(o)
	if err != nil {
		return nil, err
	}
	log.Printf("%s: runtime ready with %d voters imported in %s", st, b.c.voters, time.Since(started).Round(100*time.Millisecond))
	return rt, nil
}

// dbCounters are what the server counted of the runtime's database: the
// transactions it committed (pg_stat_database's xact_commit, read-only ones
// included), the statements it ran, BEGIN and COMMIT included
// (pg_stat_statements; a batch sends several in one round trip), and the WAL's
// flushes to disk (pg_stat_wal's wal_sync, the server's: the runtime's database
// is the only one busy during a run). A flush is what a commit waits for; the
// server flushes the commits waiting together once.
//
// roundTrips is the runtime's own count of its round trips to the server
// (scrutin_store_round_trips_total: statements sent alone and batches), -1 when
// the runtime does not export it.
type dbCounters struct {
	commits, statements, walSyncs, roundTrips float64
	journeys                                  int
}

func (c dbCounters) minus(before dbCounters, journeys int) dbCounters {
	d := dbCounters{commits: c.commits - before.commits, statements: c.statements - before.statements,
		walSyncs: c.walSyncs - before.walSyncs, roundTrips: c.roundTrips - before.roundTrips, journeys: journeys}
	if c.roundTrips < 0 || before.roundTrips < 0 {
		d.roundTrips = -1
	}
	return d
}

// perJourney is each count divided by the journeys completed (round trips -1
// when not counted).
func (c dbCounters) perJourney() (commits, statements, walSyncs, roundTrips float64) {
	if c.journeys == 0 {
		return 0, 0, 0, -1
	}
	n := float64(c.journeys)
	roundTrips = -1
	if c.roundTrips >= 0 {
		roundTrips = c.roundTrips / n
	}
	return c.commits / n, c.statements / n, c.walSyncs / n, roundTrips
}

func (c dbCounters) String() string {
	commits, statements, syncs, trips := c.perJourney()
	return fmt.Sprintf("%.1f transactions, %.1f statements, %s round trips, %.2f WAL flushes (%d journeys)",
		commits, statements, orDash(trips), syncs, c.journeys)
}

// orDash is v with one decimal, "-" when negative (not counted).
func orDash(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

// runtimeRoundTrips reads scrutin_store_round_trips_total from the runtime's
// metrics, -1 when it has none.
func runtimeRoundTrips(ctx context.Context, opsURL string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, opsURL+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "scrutin_store_round_trips_total "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return -1, nil
}

// dbCounters reads the counts of the current runtime's database, and the
// runtime's own count of its round trips (from opsURL).
func (b *bench) dbCounters(ctx context.Context, opsURL string) (dbCounters, error) {
	trips, err := runtimeRoundTrips(ctx, opsURL)
	if err != nil {
		return dbCounters{}, err
	}
	conn, err := pgx.Connect(ctx, b.pg.AdminDSN())
	if err != nil {
		return dbCounters{}, err
	}
	defer conn.Close(ctx)
	c := dbCounters{roundTrips: trips}
	err = conn.QueryRow(ctx, `SELECT d.xact_commit::float8,
		(SELECT coalesce(sum(s.calls), 0)::float8 FROM pg_stat_statements s WHERE s.dbid = d.datid),
		(SELECT wal_sync::float8 FROM pg_stat_wal)
		FROM pg_stat_database d WHERE d.datname = $1`, b.db).Scan(&c.commits, &c.statements, &c.walSyncs)
	return c, err
}

// execAdmin runs sql as the server's administrator.
func execAdmin(ctx context.Context, pg *pgtest.Server, sql string) error {
	conn, err := pgx.Connect(ctx, pg.AdminDSN())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// saveLogs keeps a runtime's log for reading after the run.
func (b *bench) saveLogs(rt *load.Runtime, name string) {
	_ = os.WriteFile(filepath.Join(b.c.out, "peak-"+name+".log"), []byte(rt.Logs.String()), 0o644)
}

// stepRun is one offered rate's figures.
type stepRun struct {
	rate float64
	res  load.Result
	ok   bool
	why  string
}

// offer runs voters first… at rate for the step's length and judges the result.
func (b *bench) offer(ctx context.Context, t *load.Target, rate float64, first int) stepRun {
	if err := b.ballots(t, first, int(rate*b.c.step.Seconds())); err != nil {
		return stepRun{rate: rate, why: err.Error()}
	}
	stats := load.NewStats()
	t.Run(ctx, load.Constant(rate, b.c.step), first, 0, stats)
	res := stats.Result()
	r := stepRun{rate: rate, res: res, ok: true}
	switch {
	case res.Failed() > 0:
		r.ok, r.why = false, "failures: "+res.FailureList()
	case res.Status5xx > 0:
		r.ok, r.why = false, fmt.Sprintf("%d 5xx", res.Status5xx)
	case len(res.TurnedAway) > 0:
		r.ok, r.why = false, fmt.Sprintf("turned away: %v", res.TurnedAway)
	default:
		for _, s := range load.Steps {
			if s != load.StepCode && res.Steps[s].P99 > b.c.p99 {
				r.ok, r.why = false, fmt.Sprintf("%s p99 %s", s, load.Summary.String(res.Steps[s]))
				break
			}
		}
	}
	verdict := "under the knee"
	if !r.ok {
		verdict = "over: " + r.why
	}
	log.Printf("  %6.0f journeys/s offered: %d done in %s (%.0f/s), journey p50/p99 %s; %s",
		rate, res.Journeys, res.Elapsed.Round(100*time.Millisecond), res.Rate, res.Journey, verdict)
	return r
}

// knee doubles the offered rate until a step fails, then bisects twice between
// the last good rate and the first bad one. It returns the best good step, the
// voter number to use next, and every step run.
func (b *bench) knee(ctx context.Context, t *load.Target, first int) (best stepRun, next int, steps []stepRun) {
	try := func(rate float64) stepRun {
		r := b.offer(ctx, t, rate, first)
		first += int(rate * b.c.step.Seconds())
		steps = append(steps, r)
		time.Sleep(2 * time.Second) // let the queues drain
		return r
	}
	var bad float64
	for rate := b.c.startRate; rate <= b.c.maxRate && ctx.Err() == nil; rate *= 2 {
		r := try(rate)
		if !r.ok {
			bad = rate
			break
		}
		best = r
	}
	if bad == 0 && best.rate > 0 {
		best.why = "the bench's ceiling (-max-rate): the knee is higher"
	}
	for range 2 {
		if bad == 0 || best.rate == 0 || ctx.Err() != nil {
			break
		}
		mid := (best.rate + bad) / 2
		if r := try(mid); r.ok {
			best = r
		} else {
			bad = mid
		}
	}
	return best, first, steps
}

// storeFigures are one store's results.
type storeFigures struct {
	store string
	knee  stepRun
	// profiled is a run at the knee's rate with the runtime's CPU profiled and
	// every process's CPU time measured
	profiled    stepRun
	cpu         cpuShare
	profileTop  string
	steps       []stepRun
	overload    stepRun
	lost        int
	extra       int
	peakRSS     int64
	sessionRSS  int64
	castRate    float64
	cast        load.Summary
	castFailed  string
	castCPU     cpuShare
	castProfile string
	// db is the database work of the profiled run (PostgreSQL)
	db dbCounters
	// boardWrong, in the verifiable mode, says what the board check found
	// wrong ("" when nothing)
	boardWrong string
}

// startBallots readies t for the verifiable mode: the election record the
// runtime publishes, and no ballot made yet (see ballots).
func (b *bench) startBallots(ctx context.Context, rt *load.Runtime, t *load.Target) error {
	rec, err := load.ElectionRecord(ctx, rt.URL)
	if err != nil {
		return err
	}
	b.credential = func(i int) string { return rt.Credentials.Private[i-1] }
	t.Encrypted, err = load.PrepareBallots(rec, 1, 0, 0, b.credential, load.VoteOf)
	return err
}

// ballots makes, in the verifiable mode, the encrypted ballots of voters
// first…first+n-1 that are not made yet, on every core, before they are
// offered: their tenth of a second of CPU each is the voters' devices', not
// the runtime's.
func (b *bench) ballots(t *load.Target, first, n int) error {
	if t.Encrypted == nil {
		return nil
	}
	have := t.Encrypted.Next(1)
	if first+n <= have {
		return nil
	}
	if first+n-1 > b.c.voters {
		return fmt.Errorf("the roll (%d) is too small: use -voters %d", b.c.voters, first+n-1)
	}
	started := time.Now()
	more, err := load.PrepareBallots(t.Encrypted.Election, have, first+n-have, 0, b.credential, load.VoteOf)
	if err != nil {
		return err
	}
	log.Printf("  %d ballots encrypted for voters %d to %d in %s", first+n-have, have, first+n-1, time.Since(started).Round(100*time.Millisecond))
	return t.Encrypted.Append(more)
}

func (b *bench) measureStore(ctx context.Context, st, tmp string, rep *report) error {
	f := storeFigures{store: st}
	if b.c.verifiable {
		f.store = st + ", verifiable"
	}
	if b.measuring("journeys") {
		if err := b.journeys(ctx, st, tmp, &f); err != nil {
			return err
		}
	}
	if b.measuring("casts") {
		if err := b.castRun(ctx, st, filepath.Join(tmp, st+"-casts"), &f); err != nil {
			return err
		}
	}
	rep.stores = append(rep.stores, f)
	return nil
}

func (b *bench) measuring(what string) bool {
	return strings.Contains(","+b.c.measures+",", ","+what+",")
}

// journeys finds the knee, runs it again profiled, then 3× the knee.
func (b *bench) journeys(ctx context.Context, st, tmp string, fp *storeFigures) error {
	f := *fp
	defer func() { *fp = f }()
	log.Printf("%s: looking for the knee (steps of %s; p99 bound %s)", st, b.c.step, b.c.p99)
	rt, err := b.runtime(ctx, st, filepath.Join(tmp, st+"-journeys"))
	if err != nil {
		return err
	}
	t := &load.Target{URL: rt.URL, Phones: b.phones, Answers: load.DefaultAnswers, MaxRetries: 0}
	if b.c.verifiable {
		if err := b.startBallots(ctx, rt, t); err != nil {
			rt.Stop()
			return err
		}
	}
	var next int
	f.knee, next, f.steps = b.knee(ctx, t, 1)
	if f.knee.rate == 0 {
		rt.Stop()
		b.saveLogs(rt, st)
		return fmt.Errorf("no rate down to %.0f journeys/s stayed under the knee", b.c.startRate)
	}

	// the knee again, profiled
	log.Printf("%s: the knee again (%.0f journeys/s), profiling the runtime", st, f.knee.rate)
	var perr error
	var before dbCounters
	if st == "postgres" {
		if before, err = b.dbCounters(ctx, rt.OpsURL); err != nil {
			return err
		}
	}
	// the profiled run's ballots are made before the profile and the CPU
	// measure start: the voters' devices' work, not the runtime's
	if err := b.ballots(t, next, int(f.knee.rate*b.c.step.Seconds())); err != nil {
		rt.Stop()
		return err
	}
	f.cpu = measureCPU(rt.Cmd.Process.Pid, func() {
		f.profileTop, perr = profile(ctx, b.pprofAddr, b.c.out, st, b.c.step-time.Second, func() {
			f.profiled = b.offer(ctx, t, f.knee.rate, next)
		})
	})
	if perr != nil {
		return perr
	}
	next += int(f.knee.rate * b.c.step.Seconds())
	f.steps = append(f.steps, f.profiled)
	log.Printf("%s: CPU during that run: %s; profile in %s", st, f.cpu, f.profileTop)
	time.Sleep(2 * time.Second)
	if st == "postgres" {
		// after the pause: the codes' deliveries, part of the journeys, are
		// reported by then, and the server has published its counts
		after, err := b.dbCounters(ctx, rt.OpsURL)
		if err != nil {
			return err
		}
		f.db = after.minus(before, f.profiled.res.Journeys)
		log.Printf("%s: per journey at the knee: %s", st, f.db)
	}

	// 3× the knee, voters waiting as told (Retry-After) and trying again, up to
	// 10 times a step
	rate := b.c.overload * f.knee.rate
	if over := int(rate * b.c.step.Seconds()); next+over > b.c.voters {
		return fmt.Errorf("the roll (%d) is too small for the overload run: use -voters %d", b.c.voters, next+over)
	}
	log.Printf("%s: %.0f× the knee, %.0f journeys/s", st, b.c.overload, rate)
	t.MaxRetries = 10
	if err := b.ballots(t, next, int(rate*b.c.step.Seconds())); err != nil {
		rt.Stop()
		return err
	}
	stats := load.NewStats()
	t.Run(ctx, load.Constant(rate, b.c.step), next, 0, stats)
	f.overload = stepRun{rate: rate, res: stats.Result()}
	_, f.peakRSS, _ = load.Memory(rt.Cmd.Process.Pid)
	var receipts []string
	for _, s := range append(f.steps, f.overload) {
		receipts = append(receipts, s.res.Receipts...)
	}
	if b.c.verifiable {
		// the box is the board: closed, then every receipt's ballot looked for
		// on it, and the results compared with the receipts' plaintexts
		board, err := rt.CloseAndCheckBoard(ctx, t.Encrypted, receipts)
		rt.Stop()
		b.saveLogs(rt, st)
		if err != nil {
			return err
		}
		log.Printf("%s: board after the close: %s", st, board)
		f.lost, f.extra = len(board.Missing)+len(board.Repeated), board.Extra
		if !board.OK(len(receipts)) {
			f.boardWrong = board.String()
		}
		log.Printf("%s: %d receipts given, %d lost, %d ballots beyond them; peak RSS %d MiB", st, len(receipts), f.lost, f.extra, f.peakRSS>>20)
		return nil
	}
	lost, extra, err := rt.StopAndCheck(ctx, receipts)
	b.saveLogs(rt, st)
	if err != nil {
		return err
	}
	f.lost, f.extra = len(lost), extra
	log.Printf("%s: %d receipts given, %d lost, %d ballots beyond them; peak RSS %d MiB", st, len(receipts), f.lost, f.extra, f.peakRSS>>20)
	return nil
}

// castRun signs in c.sessions voters, measures the runtime's memory with their
// sessions live, then has them cast from c.castClients clients at once.
func (b *bench) castRun(ctx context.Context, st, dir string, f *storeFigures) error {
	rt, err := b.runtime(ctx, st, dir)
	if err != nil {
		return err
	}
	defer rt.Stop()
	defer b.saveLogs(rt, st+"-casts")
	t := &load.Target{URL: rt.URL, Phones: b.phones, Answers: load.DefaultAnswers, MaxRetries: 10}
	n := b.c.sessions
	sessions := make([]*load.Session, n+1)
	signStats := load.NewStats()
	var failed atomic.Int64
	log.Printf("%s: signing %d voters in from %d clients", st, n, b.c.castClients)
	load.Parallel(b.c.castClients, n, func(i int) {
		i++ // voters 1…n
		s, err := t.SignIn(ctx, i, signStats)
		if err != nil {
			failed.Add(1)
			return
		}
		sessions[i] = s
	})
	if failed.Load() > 0 {
		return fmt.Errorf("%d voters could not sign in: %s", failed.Load(), signStats.Result().FailureList())
	}
	time.Sleep(time.Second)
	f.sessionRSS, _, _ = load.Memory(rt.Cmd.Process.Pid)
	log.Printf("%s: %d live sessions, runtime RSS %d MiB; casting from %d clients", st, n, f.sessionRSS>>20, b.c.castClients)
	castStats := load.NewStats()
	started := time.Now()
	var elapsed time.Duration
	var perr error
	f.castCPU = measureCPU(rt.Cmd.Process.Pid, func() {
		f.castProfile, perr = profile(ctx, b.pprofAddr, b.c.out, st+"-casts", 3*time.Second, func() {
			load.Parallel(b.c.castClients, n, func(i int) {
				_, _ = sessions[i+1].Cast(ctx, castStats)
			})
			elapsed = time.Since(started)
		})
	})
	if perr != nil {
		return perr
	}
	log.Printf("%s: CPU while casting: %s; profile in %s", st, f.castCPU, f.castProfile)
	res := castStats.Result()
	f.castRate = float64(res.Journeys) / elapsed.Seconds()
	f.cast = res.Steps[load.StepCast]
	f.castFailed = res.FailureList()
	log.Printf("%s: %d casts in %s: %.0f/s, p50/p99 %s %s", st, res.Journeys, elapsed.Round(time.Millisecond), f.castRate, f.cast, f.castFailed)
	return nil
}

// baselines measures the machine: pgbench, and a bare handler under the same
// load generator.
type baselineFigures struct {
	pgbenchTPS  float64
	bareKnee    stepRun
	bareSteps   []stepRun
	pgbenchCmd  string
	pgbenchNote string
}

func (b *bench) baselines(ctx context.Context, rep *report) error {
	log.Printf("baseline: pgbench, one-row INSERT, %d clients, 10 s", b.c.castClients)
	tps, cmdline, err := b.pgbench(ctx)
	if err != nil {
		return err
	}
	rep.base.pgbenchTPS, rep.base.pgbenchCmd = tps, cmdline
	log.Printf("baseline: pgbench %.0f tps", tps)

	log.Printf("baseline: a bare net/http handler in its own process, same journeys without SMS")
	self, err := os.Executable()
	if err != nil {
		return err
	}
	addr, err := runtimetest.FreeAddress()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self, "-bare-server", addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() }()
	for i := 0; ; i++ {
		if resp, err := http.Get("http://" + addr + "/sign-in"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 100 {
			return fmt.Errorf("the bare server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t := &load.Target{URL: "http://" + addr, Answers: load.DefaultAnswers}
	rep.base.bareKnee, _, rep.base.bareSteps = b.knee(ctx, t, 1)
	return nil
}

var tpsLine = regexp.MustCompile(`tps = ([0-9.]+)`)

// pgbench runs a one-row INSERT script on a database of its own.
func (b *bench) pgbench(ctx context.Context) (float64, string, error) {
	dsn, err := b.pg.CreateDatabase(ctx, "pgbench")
	if err != nil {
		return 0, "", err
	}
	dir, err := os.MkdirTemp("", "pgbench-")
	if err != nil {
		return 0, "", err
	}
	defer os.RemoveAll(dir)
	setup := exec.CommandContext(ctx, filepath.Join(pgtest.DefaultBinDir, "psql"), "-q", "-c",
		"CREATE TABLE ballots (id bigserial PRIMARY KEY, voter text NOT NULL, ballot bytea NOT NULL, cast_at timestamptz NOT NULL DEFAULT now())", dsn)
	if out, err := setup.CombinedOutput(); err != nil {
		return 0, "", fmt.Errorf("psql: %v: %s", err, out)
	}
	script := filepath.Join(dir, "insert.sql")
	if err := os.WriteFile(script, []byte("INSERT INTO ballots (voter, ballot) VALUES (md5(random()::text), '\\x0102030405060708');\n"), 0o644); err != nil {
		return 0, "", err
	}
	args := []string{"-n", "-c", strconv.Itoa(b.c.castClients), "-j", "2", "-T", "10", "-f", script, dsn}
	out, err := exec.CommandContext(ctx, filepath.Join(pgtest.DefaultBinDir, "pgbench"), args...).CombinedOutput()
	if err != nil {
		return 0, "", fmt.Errorf("pgbench: %v: %s", err, out)
	}
	m := tpsLine.FindSubmatch(out)
	if m == nil {
		return 0, "", fmt.Errorf("pgbench printed no tps: %s", out)
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	return tps, "pgbench -n -c " + strconv.Itoa(b.c.castClients) + " -j 2 -T 10 -f insert.sql (one-row INSERT, fsync on)", nil
}

// serveBare answers each step of the journey as cheaply as net/http can: the
// machine's limit for the load generator and an HTTP server, with no work done.
func serveBare(addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sign-in", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<!doctype html><title>Sign in</title><form method=post><input name=voterId></form>")
	})
	mux.HandleFunc("POST /api/v1/sign-in", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"method":"SMSCode"}`)
	})
	mux.HandleFunc("POST /api/v1/sign-in/code", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.SetCookie(w, &http.Cookie{Name: "scrutin_session", Value: "s", Path: "/", HttpOnly: true})
		_, _ = io.WriteString(w, `{"voterId":"v"}`)
	})
	mux.HandleFunc("GET /api/v1/ballot", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"questions":[]}`)
	})
	mux.HandleFunc("POST /api/v1/ballot", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"tracker":"t"}`)
	})
	log.Fatal((&http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}).ListenAndServe())
}
