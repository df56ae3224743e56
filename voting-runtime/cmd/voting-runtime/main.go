// Command voting-runtime serves one election: voters sign in and cast one ballot,
// scrutineers export participation, the controller opens, closes and reads results.
//
// The same binary runs in an election's namespace (settings from the files the
// controller mounts) and locally:
//
//	go run ./voting-runtime/cmd/voting-runtime --election FILE.yaml --roll roll.csv \
//	    --store embedded:PATH --listen 127.0.0.1:8080 --ops-listen 127.0.0.1:9090 \
//	    --smtp 127.0.0.1:1025
//
// Voters reach --listen (pages, API, /healthz); the controller, the probes and
// Prometheus reach --ops-listen (/control/v1, /readyz, /metrics, /healthz), which
// the voters' port never serves.
//
// FILE.yaml is an Election manifest exactly as a tenant writes it. Keys are
// generated and kept in the store on first start when no --keys-dir is given.
//
// The ballot box follows the schedule recorded in the store, shared by every
// process on it. The file's schedule is recorded when its metadata.generation
// (1 when absent) is greater than the store's; the file is read again every
// --election-reread, so raising the generation with a new schedule moves a running
// vote (the controller writes the Election's generation there, and also pushes
// the schedule through POST /control/v1/schedule). A closed box's schedule never
// moves.
//
// It also checks an election's audit log:
//
//	voting-runtime verify-audit --store SPEC [--head sha256:...] [--export FILE]
//
// which exits non-zero unless the chain is unbroken and ends at the given head
// (the Election's status.auditHead). --export also writes the log it read as JSON
// Lines (audit.WriteLog; "-" for standard output), for `kubectl scrutin audit
// verify NAME --log FILE` to check elsewhere.
//
// And it copies a tallied election's records archive to a file, once:
//
//	SCRUTIN_RECORDS_TOKEN=... voting-runtime archive-copy --url OPS-URL \
//	    --file PATH --sha256 sha256:HEX --size N
//
// (archive_copy.go; the controller's archive Job for spec.archive.pvc).
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"sigs.k8s.io/yaml"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/contract"
	"scrutin.dev/scrutin/voting-runtime/audit"
	"scrutin.dev/scrutin/voting-runtime/auth"
	"scrutin.dev/scrutin/voting-runtime/belenios"
	"scrutin.dev/scrutin/voting-runtime/delivery"
	"scrutin.dev/scrutin/voting-runtime/engine"
	"scrutin.dev/scrutin/voting-runtime/pages"
	"scrutin.dev/scrutin/voting-runtime/server"
	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/embedded"
	"scrutin.dev/scrutin/voting-runtime/store/postgres"
)

// readHeaderTimeout and bodyReadTimeout bound how long a request takes to arrive:
// its headers, then its body (a sign-in form or a ballot, a few kilobytes: a
// second or two on a phone on a slow network). signInBodyReadTimeout bounds the
// body of a sign-in step: a form of at most 4 KiB (and a sealed draft, about 1 KiB
// more), which fits in the first flight of TCP segments; even at GPRS speeds (2-3
// KB/s up) it arrives in about 2 s, and 5 s leaves room for a lost segment's
// retransmission (1 s) on a bad mobile link, while a client trickling it gives its
// place back twice as soon as with the ballot's 10 s.
const (
	readHeaderTimeout     = 10 * time.Second
	bodyReadTimeout       = 10 * time.Second
	signInBodyReadTimeout = 5 * time.Second
)

// defaultInFlightPerAddress is the bound of one client address's requests in
// flight for an in-flight bound of bound: a sixteenth of it, at least 4 (none when
// the bound is off). One address trickling its requests holds no more; a works
// council of 50 behind one NAT is far from it, their requests lasting milliseconds
// (at the per-address rate of 100 a second, 16 in flight means requests of 160 ms,
// slower than a pod at its knee).
func defaultInFlightPerAddress(bound int) int {
	if bound <= 0 {
		return 0
	}
	return max(4, bound/16)
}

type flags struct {
	election, roll, storeSpec, listen  string
	proxies                            string
	opsListen                          string
	keysDir, deliveryDir               string
	credentialsDir                     string
	smtp, smtpFrom, smsGateway         string
	scrutineerTokenFile, controlTokenF string
	maxInFlight                        int
	clientIPHeader                     string
	trustedProxies                     string
	publicURL                          string
	signInRatePerAddress               float64
	signInBurstPerAddress              int
	ratePerAddress                     float64
	burstPerAddress                    int
	bodyReadTimeout                    time.Duration
	signInBodyReadTimeout              time.Duration
	maxInFlightPerAddress              int
	maxInFlightPerSession              int
	pprofListen                        string
	deliveryBuffer                     int
	deliveryAttemptTimeout             time.Duration
	electionReread                     time.Duration
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "verify-audit" {
		os.Exit(verifyAudit(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == contract.ArchiveCopyCommand {
		os.Exit(archiveCopy(os.Args[2:]))
	}
	var f flags
	defineFlags(flag.CommandLine, &f)
	flag.Parse()

	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, f, log); err != nil {
		log.Error("voting-runtime stopped", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, f flags, log *slog.Logger) error {
	e, err := loadElection(f.election)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, f.storeSpec)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("while migrating the store: %w", err)
	}
	keys, err := loadKeys(ctx, f, st)
	if err != nil {
		return err
	}
	hasher, err := auth.NewHasher(keys.hash)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if rt, ok := st.(interface{ RoundTrips() int64 }); ok {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "scrutin_store_round_trips_total",
			Help: "Round trips to the database server: statements sent alone, BEGIN and COMMIT included, and batches.",
		}, func() float64 { return float64(rt.RoundTrips()) }))
	}
	outbox, err := newOutbox(f, st, keys.hash, reg, log)
	if err != nil {
		return err
	}
	vf, err := loadVerifiable(ctx, f, e, st)
	if err != nil {
		return err
	}
	en, err := engine.New(engine.Config{Election: e, Store: st, Hasher: hasher, Outbox: outbox, Log: log, Registerer: reg, Verifiable: vf, PublicURL: f.publicURL})
	if err != nil {
		return err
	}
	// The ballot box follows the schedule the store records, shared by every
	// replica: offer it this file's (recorded only if newer than the store's, and
	// never once the box is closed).
	if _, err := en.RecordSchedule(ctx, engine.ScheduleOf(e)); err != nil && !errors.Is(err, engine.ErrVoteClosed) {
		return err
	}
	// The roll is imported in the background, the ports already served: /healthz
	// answers (the liveness probe never kills an import), /readyz and the voters'
	// routes answer 503 until it is in.
	var rollImported atomic.Bool
	importDone := make(chan error, 1)
	if f.roll == "" {
		rollImported.Store(true)
	} else {
		go func() {
			err := importRoll(ctx, en, f.roll, log)
			if err == nil && f.proxies != "" {
				// the organiser's proxies are checked against the roll
				err = declareProxies(ctx, en, f.proxies, log)
			}
			if err == nil {
				rollImported.Store(true)
			}
			importDone <- err
		}()
	}
	// The bound comes from the Election (defaults filled in), so that each
	// election's pods follow only their own Election; the flag overrides it locally.
	maxInFlight := int(e.Spec.Scaling.MaxInFlightRequestsPerPod)
	if f.maxInFlight >= 0 {
		maxInFlight = f.maxInFlight
	}
	perAddress := f.maxInFlightPerAddress
	if perAddress < 0 {
		perAddress = defaultInFlightPerAddress(maxInFlight)
	}
	// The voters' pages at "/", the API beside them, in one server.
	pg, err := pages.New(pages.Config{Engine: en, SessionKey: keys.session, ScrutineerToken: keys.scrutineer, Log: log})
	if err != nil {
		return err
	}
	trusted, err := parsePrefixes(f.trustedProxies)
	if err != nil {
		return fmt.Errorf("--client-ip-trusted-proxies: %w", err)
	}
	srv := server.New(server.Config{
		Engine: en, ControlToken: keys.control, ScrutineerToken: keys.scrutineer,
		Gatherer: reg, Registerer: reg, Log: log, Pages: pg,
		MaxInFlight: maxInFlight, WaitPage: pg.WaitPage,
		SignInRatePerAddress: f.signInRatePerAddress, SignInBurstPerAddress: f.signInBurstPerAddress, ClientIPHeader: f.clientIPHeader,
		TrustedProxies: trusted,
		RatePerAddress: f.ratePerAddress, BurstPerAddress: f.burstPerAddress, BodyReadTimeout: f.bodyReadTimeout,
		SignInBodyReadTimeout: f.signInBodyReadTimeout, MaxInFlightPerAddress: perAddress, MaxInFlightPerSession: f.maxInFlightPerSession,
		Forbidden:    pg.Forbidden,
		RollImported: rollImported.Load,
		Ready: func(ctx context.Context) error {
			if !rollImported.Load() {
				return errors.New("the roll is being imported")
			}
			d, err := st.RollDigest(ctx)
			if err == nil && d == "" {
				err = errors.New("no roll imported")
			}
			return err
		},
	})

	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return err
	}
	// The headers within 10 s, a body within --body-read-timeout of its
	// admission (server.Config.BodyReadTimeout), the whole request within
	// ReadTimeout: room for a phone on a slow network, not for a client that
	// trickles its request to hold a place.
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readHeaderTimeout + f.bodyReadTimeout,
		WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute}
	opsLn, err := net.Listen("tcp", f.opsListen)
	if err != nil {
		ln.Close()
		return fmt.Errorf("--ops-listen: %w", err)
	}
	// the control API's close tallies, which may take minutes on a large roll
	ops := &http.Server{Handler: srv.Ops(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 6 * time.Minute, IdleTimeout: 2 * time.Minute}
	if f.pprofListen != "" {
		if err := servePprof(f.pprofListen); err != nil {
			return err
		}
	}
	go en.Run(ctx)
	if outbox != nil {
		outbox.Start(ctx)
	}
	if f.electionReread > 0 {
		go rereadElection(ctx, f.election, f.electionReread, en, log)
	}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	go func() { errc <- ops.Serve(opsLn) }()
	sc := en.Schedule()
	log.Info("Serving the election", "election", e.Namespace+"/"+e.Name, "address", ln.Addr().String(), "opsAddress", opsLn.Addr().String(),
		"opensAt", sc.OpensAt, "closesAt", sc.ClosesAt, "scheduleVersion", sc.Version, "maxInFlight", maxInFlight)

	for stop := false; !stop; {
		select {
		case err := <-errc:
			return err
		case err := <-importDone:
			if err != nil {
				// the process stops (and its pod restarts): a roll that cannot be
				// imported is not served half-imported
				log.Error("The roll could not be imported: stopping", "path", f.roll, "error", err)
				shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = errors.Join(hs.Shutdown(shutdown), ops.Shutdown(shutdown))
				return err
			}
		case <-ctx.Done():
			stop = true
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	log.Info("Shutting down: finishing requests in flight")
	err = errors.Join(hs.Shutdown(shutdown), ops.Shutdown(shutdown))
	if outbox != nil {
		// what is still queued stays in the store, for the next process
		err = errors.Join(err, outbox.Close(shutdown))
	}
	return err
}

// rereadElection reads the election file every interval and offers its schedule
// to the store whenever its version (metadata.generation) changes: the kubelet
// rewrites a mounted ConfigMap in place, so `kubectl scrutin extend` reaches a
// running pod without a restart even if the controller cannot reach it. Other
// settings in the file are read at start only (a change to them restarts the
// pods).
func rereadElection(ctx context.Context, path string, every time.Duration, en *engine.Engine, log *slog.Logger) {
	last := en.FileSchedule().Version
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e, err := loadElection(path)
		if err != nil {
			log.Warn("Could not read the election file again", "error", err)
			continue
		}
		sc := engine.ScheduleOf(e)
		if sc.Version == last {
			continue
		}
		if _, err := en.RecordSchedule(ctx, sc); err != nil && !errors.Is(err, engine.ErrVoteClosed) {
			log.Error("Could not record the election file's schedule", "error", err)
			continue
		}
		last = sc.Version
	}
}

// verifyAudit checks the audit chain of a store against a published head.
func verifyAudit(args []string) int {
	fs := flag.NewFlagSet("verify-audit", flag.ContinueOnError)
	spec := fs.String("store", "", "embedded:PATH, postgres:DSN or postgres-file:PATH")
	head := fs.String("head", "", "the published head (status.auditHead); when empty, only the chain is checked")
	export := fs.String("export", "", "also write the log as read, verified or not, to this file as JSON Lines (\"-\": standard output, the verdict then goes to standard error)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	summary := os.Stdout
	if *export == "-" {
		summary = os.Stderr
	}
	ctx := context.Background()
	st, err := openStore(ctx, *spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify-audit:", err)
		return 2
	}
	defer st.Close()
	entries, err := st.AuditLog(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify-audit:", err)
		return 2
	}
	if *export != "" {
		if err := exportAudit(*export, entries); err != nil {
			fmt.Fprintln(os.Stderr, "verify-audit: --export:", err)
			return 2
		}
	}
	if err := audit.Verify(entries, *head); err != nil {
		fmt.Fprintln(os.Stderr, "verify-audit: the audit log does not verify:", err)
		return 1
	}
	last := audit.Genesis
	if len(entries) > 0 {
		last = entries[len(entries)-1].Hash
	}
	fmt.Fprintf(summary, "The audit log verifies: %d entries, head %s\n", len(entries), last)
	return 0
}

// exportAudit writes the audit log as JSON Lines to path, or to standard output
// for "-".
func exportAudit(path string, entries []store.AuditEntry) error {
	if path == "-" {
		return audit.WriteLog(os.Stdout, entries)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := audit.WriteLog(f, entries); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// loadElection reads an Election manifest and fills in the API server's defaults.
func loadElection(path string) (*scrutinv1.Election, error) {
	if path == "" {
		return nil, errors.New("--election is required")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var e scrutinv1.Election
	if err := yaml.UnmarshalStrict(data, &e); err != nil {
		return nil, fmt.Errorf("while reading the election %s: %w", path, err)
	}
	if e.Kind != "Election" {
		return nil, fmt.Errorf("%s is a %q, not an Election", path, e.Kind)
	}
	e.Default()
	if !e.Spec.Schedule.ClosesAt.After(e.Spec.Schedule.OpensAt.Time) {
		return nil, fmt.Errorf("%s: spec.schedule.closesAt must be after opensAt", path)
	}
	return &e, nil
}

func openStore(ctx context.Context, spec string) (store.Store, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case contract.StoreEmbedded:
		if err := os.MkdirAll(filepath.Dir(arg), 0o700); err != nil {
			return nil, err
		}
		return embedded.Open(ctx, arg)
	case contract.StorePostgres:
		return postgres.Open(ctx, arg)
	case contract.StorePostgresFile:
		dsn, err := os.ReadFile(arg)
		if err != nil {
			return nil, err
		}
		return postgres.Open(ctx, strings.TrimSpace(string(dsn)))
	default:
		return nil, errors.New("--store must be embedded:PATH, postgres:DSN or postgres-file:PATH")
	}
}

type keys struct {
	hash, session       []byte
	control, scrutineer string
}

// loadKeys reads the keys the controller mounted, or keeps generated ones in the
// store for local runs.
func loadKeys(ctx context.Context, f flags, st store.Store) (keys, error) {
	var k keys
	read := func(name string, n int) ([]byte, error) {
		if f.keysDir != "" {
			b, err := os.ReadFile(filepath.Join(f.keysDir, name))
			if err == nil || !errors.Is(err, os.ErrNotExist) {
				return b, err
			}
		}
		return st.Keys(ctx, name, func() ([]byte, error) {
			b := make([]byte, n)
			_, err := rand.Read(b)
			if name != contract.KeyHashKey {
				b = []byte(base64.RawURLEncoding.EncodeToString(b))
			}
			return b, err
		})
	}
	var err error
	if k.hash, err = read(contract.KeyHashKey, 32); err != nil {
		return k, fmt.Errorf("while reading the hash key: %w", err)
	}
	if k.session, err = read(contract.KeySessionKey, 32); err != nil {
		return k, fmt.Errorf("while reading the session key: %w", err)
	}
	control, err := read(contract.KeyControlToken, 32)
	if err != nil {
		return k, fmt.Errorf("while reading the control token: %w", err)
	}
	scrutineer, err := read(contract.KeyScrutineerToken, 32)
	if err != nil {
		return k, fmt.Errorf("while reading the scrutineers' token: %w", err)
	}
	k.control, k.scrutineer = string(control), string(scrutineer)
	for path, value := range map[string]string{f.controlTokenF: k.control, f.scrutineerTokenFile: k.scrutineer} {
		if path == "" {
			continue
		}
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if err := os.WriteFile(path, []byte(value), 0o600); err != nil {
				return k, err
			}
		}
	}
	return k, nil
}

// loadVerifiable reads what the verifiable mode runs on: the platform
// trustee's private key (the keys dir's belenios-trustee-key, or generated once
// and kept in the store for local runs) when the platform is a trustee, and the
// tenant's uuid and public credentials (--credentials-dir) with an External
// credential authority.
func loadVerifiable(ctx context.Context, f flags, e *scrutinv1.Election, st store.Store) (engine.Verifiable, error) {
	var v engine.Verifiable
	if !engine.IsVerifiable(e) {
		return v, nil
	}
	if engine.PlatformTrustee(e) {
		var raw []byte
		var err error
		if f.keysDir != "" {
			raw, err = os.ReadFile(filepath.Join(f.keysDir, contract.KeyTrusteeKey))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return v, fmt.Errorf("while reading the trustee key: %w", err)
			}
		}
		if raw == nil {
			raw, err = st.Keys(ctx, contract.KeyTrusteeKey, func() ([]byte, error) {
				x, err := belenios.Belenios2048().RandomScalar()
				if err != nil {
					return nil, err
				}
				return []byte(x.String()), nil
			})
			if err != nil {
				return v, fmt.Errorf("while reading the trustee key: %w", err)
			}
		}
		// the decimal x, perhaps as a JSON string (a Belenios .privkey)
		x, ok := new(big.Int).SetString(strings.Trim(strings.TrimSpace(string(raw)), `"`), 10)
		if !ok || !belenios.Belenios2048().IsScalar(x) {
			return v, errors.New("the trustee key (belenios-trustee-key) is not a scalar of the group")
		}
		v.TrusteeKey = x
	}
	if e.Spec.Verifiability.CredentialAuthority == scrutinv1.CredentialAuthorityExternal {
		if f.credentialsDir == "" {
			return v, errors.New("an External credential authority needs --credentials-dir (uuid, public-credentials)")
		}
		uuid, err := os.ReadFile(filepath.Join(f.credentialsDir, scrutinv1.PublicCredentialsUUIDKey))
		if err == nil {
			v.Pubcreds, err = os.ReadFile(filepath.Join(f.credentialsDir, scrutinv1.PublicCredentialsKey))
		}
		if errors.Is(err, os.ErrNotExist) {
			return v, fmt.Errorf("the tenant's public credentials are not there (yet): --credentials-dir %s needs the files uuid and public-credentials: %w", f.credentialsDir, err)
		}
		if err != nil {
			return v, fmt.Errorf("--credentials-dir: %w", err)
		}
		v.UUID = strings.TrimSpace(string(uuid))
	}
	return v, nil
}

// newOutbox makes the outbox that sends the codes and letters through the mail
// and SMS channels the election has, sealed with a key derived from hashKey; nil
// when it has neither.
func newOutbox(f flags, st store.Store, hashKey []byte, reg prometheus.Registerer, log *slog.Logger) (*delivery.Outbox, error) {
	var smtpCfg *delivery.SMTPConfig
	var smsCfg *delivery.SMSConfig
	var err error
	if f.deliveryDir != "" {
		if smtpCfg, smsCfg, err = delivery.LoadDir(f.deliveryDir); err != nil {
			return nil, err
		}
	}
	if f.smtp != "" {
		host, port, err := net.SplitHostPort(f.smtp)
		if err != nil {
			return nil, fmt.Errorf("--smtp: %w", err)
		}
		p, _ := strconv.Atoi(port)
		smtpCfg = &delivery.SMTPConfig{Host: host, Port: p, From: f.smtpFrom, TLS: "none", Timeout: 30 * time.Second}
	}
	if f.smsGateway != "" {
		smsCfg = &delivery.SMSConfig{URL: f.smsGateway, Token: os.Getenv("SCRUTIN_SMS_TOKEN"), Timeout: 30 * time.Second}
	}
	senders := map[string]delivery.Sender{}
	if smtpCfg != nil {
		senders[store.ChannelMail] = delivery.NewSMTP(*smtpCfg)
	}
	if smsCfg != nil {
		senders[store.ChannelSMS] = delivery.NewSMS(*smsCfg)
	}
	if len(senders) == 0 {
		return nil, nil
	}
	ob, ok := st.(store.Outbox)
	if !ok {
		return nil, errors.New("the store keeps no outbox")
	}
	sealer, err := delivery.NewSealer(hashKey)
	if err != nil {
		return nil, err
	}
	return delivery.NewOutbox(delivery.OutboxOptions{
		Store: ob, Sealer: sealer, Senders: senders,
		Workers: map[string]int{store.ChannelMail: 8, store.ChannelSMS: 16},
		Backlog: f.deliveryBuffer, AttemptTimeout: f.deliveryAttemptTimeout, Registerer: reg, Logger: log,
	})
}

func importRoll(ctx context.Context, en *engine.Engine, path string, log *slog.Logger) error {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		log.Warn("No roll file: the runtime is not ready until one is imported", "path", path)
		return nil
	}
	if err != nil {
		return err
	}
	fh.Close()
	log.Info("Importing the roll", "path", path)
	r, err := en.ImportRollPath(ctx, path)
	if err != nil {
		return fmt.Errorf("while importing the roll %s: %w", path, err)
	}
	log.Info("Roll ready", "voters", r.Voters, "parts", r.Parts, "digest", r.Digest, "importedNow", r.Imported)
	if r.WarningCount > 0 {
		log.Warn("Roll lines start like a spreadsheet formula", "count", r.WarningCount, "lines", r.Warnings)
	}
	if r.Unreachable > 0 {
		log.Warn("Voters no channel of the election reaches: they get no code nor letter", "count", r.Unreachable, "lines", r.UnreachableLines)
	}
	return nil
}

// declareProxies records the organiser's list of proxies (spec.proxies), once
// the roll is in. A file that is not a list stops the process, as a roll that
// is not one does; a line refused (an unknown id, a chain, over the cap) is
// left out and reported by its line.
func declareProxies(ctx context.Context, en *engine.Engine, path string, log *slog.Logger) error {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		log.Info("No list of proxies from the organiser", "path", path)
		return nil
	}
	if err != nil {
		return err
	}
	defer fh.Close()
	rep, err := en.DeclareProxies(ctx, fh)
	if err != nil {
		return fmt.Errorf("while reading the proxies %s: %w", path, err)
	}
	log.Info("Proxies ready", "kept", rep.Kept, "refused", len(rep.Refused), "declaredNow", rep.Imported, "late", rep.Late)
	for _, r := range rep.Refused {
		log.Warn("A proxy of the organiser's list was refused", "line", r.Line, "reason", r.Reason)
	}
	return nil
}

// servePprof serves net/http/pprof on its own listener, never on the voters' one,
// and only on a loopback address: profiles show the process's memory.
func servePprof(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--pprof-listen %q: must be a loopback address such as 127.0.0.1:6060", addr)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	go func() { _ = (&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}).Serve(ln) }()
	return nil
}

// defineFlags defines the runtime's flags on fs; the names the controller
// passes are internal/contract's.
func defineFlags(fs *flag.FlagSet, f *flags) {
	fs.StringVar(&f.election, contract.FlagElection, "", "the Election manifest (YAML), exactly as its tenant wrote it")
	fs.StringVar(&f.proxies, contract.FlagProxies, "", "the organiser's proxies (CSV: grantor,holder; spec.proxies.secretRef's proxies.csv), declared once the roll is in; absent: none")
	fs.StringVar(&f.roll, contract.FlagRoll, "", "the voter roll (CSV: voter_id,name,email,phone[,weight]), or a directory of its parts (*.csv, in lexical order: part-0001.csv, part-0002.csv ...); imported in the background at start when present, the ports served meanwhile (/readyz and the voters' routes 503 until it is in)")
	fs.StringVar(&f.storeSpec, contract.FlagStore, "", "embedded:PATH, postgres:DSN or postgres-file:PATH (a file holding the DSN)")
	fs.StringVar(&f.listen, contract.FlagListen, ":8080", "address to serve the voters on (pages, API, /healthz)")
	fs.StringVar(&f.opsListen, contract.FlagOpsListen, ":9090", "address to serve the controller, probes and Prometheus on (/control/v1, /readyz, /metrics, /healthz); never the voters' address")
	fs.StringVar(&f.keysDir, contract.FlagKeysDir, "", "directory with session-key, hash-key and control-token (in a cluster); keys are generated and kept in the store when empty")
	fs.StringVar(&f.credentialsDir, contract.FlagCredentialsDir, "", "directory with the verifiable mode's uuid and public-credentials files (spec.verifiability.credentialAuthority: External)")
	fs.StringVar(&f.deliveryDir, contract.FlagDeliveryDir, "", "directory with the smtp.* and sms.* settings files (in a cluster)")
	fs.StringVar(&f.smtp, "smtp", "", "HOST:PORT of a mail server without authentication (local runs)")
	fs.StringVar(&f.smtpFrom, "smtp-from", "Scrutin <vote@localhost>", "sender of mail (with --smtp)")
	fs.StringVar(&f.smsGateway, "sms-gateway", "", "URL of the SMS gateway (local runs; its token in $SCRUTIN_SMS_TOKEN)")
	fs.StringVar(&f.scrutineerTokenFile, "scrutineer-token-file", "", "file holding the scrutineers' token; written with a new token when it does not exist")
	fs.StringVar(&f.controlTokenF, "control-token-file", "", "file holding the controller's token (local runs); written when it does not exist")
	fs.IntVar(&f.maxInFlight, "max-in-flight", -1, "requests served at once; past it, by priority (casts last), voters get the wait page at once; -1: the Election's spec.scaling.maxInFlightRequestsPerPod; 0: no bound (an override for local runs)")
	fs.StringVar(&f.publicURL, contract.FlagPublicURL, "", "the voters' address of the election (https://host/), written in their letters; empty: the letters name none")
	fs.StringVar(&f.clientIPHeader, contract.FlagClientIPHeader, "", "header whose last address (the one the proxy appended) is the client's, such as X-Forwarded-For, for the per-address sign-in limit; only behind a proxy that sets it (empty: the connection's address)")
	fs.StringVar(&f.trustedProxies, contract.FlagClientIPTrustedProxies, "", "comma-separated addresses or CIDRs of proxies in front of the ingress (load balancers) whose entries in --client-ip-header are skipped: the client is the header's last address that is not one of them (empty: its last address)")
	fs.Float64Var(&f.signInRatePerAddress, "sign-in-rate-per-address", 20, "sign-in and code requests a second one client address may sustain (0: no limit)")
	fs.IntVar(&f.signInBurstPerAddress, "sign-in-burst-per-address", 300, "sign-in and code requests one client address may send at once (0: no limit)")
	fs.IntVar(&f.deliveryBuffer, "delivery-buffer", 10000, "codes each channel (mail, SMS) may have queued in the outbox and not yet sent, across replicas; past it, a voter asking for a code is told to try again in a moment")
	fs.DurationVar(&f.deliveryAttemptTimeout, "delivery-attempt-timeout", 30*time.Second, "how long one send to the mail server or SMS gateway may take; a message whose worker died is claimed again twice this plus 15 s after its claim")
	fs.Float64Var(&f.ratePerAddress, "rate-per-address", 100, "requests a second one client address may sustain on the voters' routes, pages and API (0: no limit); generous, for many voters behind one NAT")
	fs.IntVar(&f.burstPerAddress, "burst-per-address", 3000, "requests one client address may send at once on the voters' routes (0: no limit)")
	fs.DurationVar(&f.bodyReadTimeout, "body-read-timeout", bodyReadTimeout, "how long a voter request's body may take to arrive once admitted (a ballot is a few kilobytes)")
	fs.DurationVar(&f.signInBodyReadTimeout, "sign-in-body-read-timeout", signInBodyReadTimeout, "how long the body of a sign-in step (sign-in, code, resend; 4 KiB at most) may take to arrive once admitted")
	fs.IntVar(&f.maxInFlightPerAddress, "max-in-flight-per-address", -1, "requests of one client address served at once; past it, 429 (the wait page for a person); -1: a sixteenth of the in-flight bound, at least 4 (16 at the default bound of 256); 0: no bound")
	fs.IntVar(&f.maxInFlightPerSession, "max-in-flight-per-session", 2, "requests carrying one session cookie served at once; past it, 429 (the wait page for a person); 0: no bound")
	fs.DurationVar(&f.electionReread, "election-reread", 10*time.Second, "how often the election file is read again for a new schedule (the kubelet updates a mounted ConfigMap in place); 0: never")
	fs.StringVar(&f.pprofListen, "pprof-listen", "", "a loopback address (127.0.0.1:PORT) to serve Go's profiles on, for benchmarks; empty: none")
}

// parsePrefixes reads comma-separated addresses (as /32 or /128) and CIDRs.
func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if a, err := netip.ParseAddr(f); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
