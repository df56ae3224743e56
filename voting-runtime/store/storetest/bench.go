package storetest

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// BenchVotersEnv overrides how many voters BenchImportRoll imports.
const BenchVotersEnv = "SCRUTIN_BENCH_VOTERS"

// BenchVoters is the roll's size for BenchImportRoll: $SCRUTIN_BENCH_VOTERS, or
// 1,000,000.
func BenchVoters(b *testing.B) int {
	n := 1_000_000
	if v := os.Getenv(BenchVotersEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("%s=%q: want a positive number", BenchVotersEnv, v)
		}
	}
	return n
}

// sealedLetterSize is about a credential letter's size once sealed: recipient,
// subject and a bilingual body, with the AEAD's nonce and tag.
const sealedLetterSize = 640

// CongressRoll streams n voters, each with a credential hash and a credential
// letter of sealedLetterSize bytes, as the Credential method imports them.
func CongressRoll(n int) store.RollEntries {
	notAfter := time.Now().Add(7 * 24 * time.Hour)
	filler := bytes.Repeat([]byte{0x5a, 0xc3, 0x17, 0x88}, sealedLetterSize/4)
	return func(yield func(store.RollEntry, error) bool) {
		for i := range n {
			id := fmt.Sprintf("M%07d", i)
			sealed := append([]byte(id), filler[len(id):]...)
			e := store.RollEntry{
				Voter: store.Voter{ID: id, Name: "Adhérent " + id, Email: "adherent." + id + "@example.org",
					Weight: 1, CredentialHash: bytes.Repeat([]byte{byte(i)}, 32)},
				Letter: &store.OutboxMessage{Kind: store.KindCredential, Channel: store.ChannelMail,
					Sealed: sealed, NotAfter: notAfter},
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// BenchImportRoll imports CongressRoll(BenchVoters) into a new, migrated store
// (open's) per iteration, and reports the seconds per import and the process's
// peak resident memory during the imports (VmHWM, reset before each where Linux
// allows it).
func BenchImportRoll(b *testing.B, open func(b *testing.B) store.Store) {
	n := BenchVoters(b)
	var peak int64
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		s := open(b)
		if err := s.Migrate(b.Context()); err != nil {
			b.Fatal(err)
		}
		resetPeakRSS()
		b.StartTimer()
		imported, err := s.ImportRoll(b.Context(), fmt.Sprintf("bench-%d", i), CongressRoll(n))
		b.StopTimer()
		if err != nil || !imported {
			b.Fatalf("ImportRoll: imported=%v, %v", imported, err)
		}
		peak = max(peak, peakRSS(b))
		if v, _, err := s.Counts(b.Context()); err != nil || v != int64(n) {
			b.Fatalf("Counts: %d voters (%v), want %d", v, err, n)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/import")
	b.ReportMetric(float64(n)/(b.Elapsed().Seconds()/float64(b.N)), "voters/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(0, "ns/op") // the import's seconds say it
}

// resetPeakRSS resets the kernel's peak RSS of this process (Linux 4.0+; best
// effort).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is this process's peak resident set size (VmHWM), in bytes.
func peakRSS(b *testing.B) int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range bytes.Lines(status) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB")))), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// benchBallotSize is about a 2-question verifiable ballot's size (7 encrypted
// slots with their proofs, and the signature).
const benchBallotSize = 14_000

// BenchCastVerifiable casts b.N verifiable ballots, from 16 goroutines, into a
// migrated, set up and open store (open's) whose 1,000 voters re-vote round and
// round, and reports the casts per second.
func BenchCastVerifiable(b *testing.B, open func(b *testing.B) store.Store) {
	const n = 1000
	s := open(b)
	ctx := b.Context()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	vs := verifiableVoters(n)
	if _, err := s.ImportRoll(ctx, "bench", Entries(vs)); err != nil {
		b.Fatal(err)
	}
	if _, err := s.InitBoard(ctx, []byte(testSetup)); err != nil {
		b.Fatal(err)
	}
	if _, err := s.SetSchedule(ctx, schedule(-time.Hour, time.Hour, 1)); err != nil {
		b.Fatal(err)
	}
	filler := bytes.Repeat([]byte("7"), benchBallotSize)
	var next atomic.Int64
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := next.Add(1)
			v := vs[k%n]
			tr := fmt.Sprintf("bench-%d", k)
			body := append([]byte(tr+":"), filler...)
			if err := s.CastVerifiable(ctx, v.ID, store.VerifiableBallot{Body: body, Credential: v.PublicCredential,
				Weight: v.Weight, Tracker: tr}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "casts/s")
}

// BenchDeclareProxies imports CongressRoll(BenchVoters) once into a new store
// (open's), then declares per iteration a list of one proxy for every tenth
// member (grantor M i, holder M i+1, none a chain), a new list each time (its
// digest changes, so each declaration replaces the last), and reports the
// seconds per declaration and the proxies declared per second.
func BenchDeclareProxies(b *testing.B, open func(b *testing.B) store.Store) {
	n := BenchVoters(b)
	s := open(b)
	if err := s.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	if _, err := s.ImportRoll(b.Context(), "bench", CongressRoll(n)); err != nil {
		b.Fatal(err)
	}
	ps := make([]store.Proxy, 0, n/10)
	for i := 0; i+1 < n; i += 10 {
		ps = append(ps, store.Proxy{Grantor: fmt.Sprintf("M%07d", i), Holder: fmt.Sprintf("M%07d", i+1), Line: len(ps) + 2})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		imported, err := s.DeclareProxies(b.Context(), fmt.Sprintf("bench-%d", i), ps, 1)
		if err != nil || !imported {
			b.Fatalf("DeclareProxies: imported=%v, %v", imported, err)
		}
	}
	b.StopTimer()
	if refused, err := s.RefusedProxies(b.Context()); err != nil || len(refused) != 0 {
		b.Fatalf("%d lines refused (%v), want none", len(refused), err)
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/declaration")
	b.ReportMetric(float64(len(ps))/(b.Elapsed().Seconds()/float64(b.N)), "proxies/s")
	b.ReportMetric(0, "ns/op")
}
