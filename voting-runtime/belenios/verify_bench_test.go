package belenios

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is this process's CPU time (user and system): on a shared machine,
// CPU per operation says what a core does, whatever else runs.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBoardVerifyBallot is the check of one cast ballot of the 2-question
// ballot (7 encrypted slots: 3 answers and a blank slot, then 3 answers choose
// 1 or 2), as the runtime does it at each cast and Verify for each ballot of a
// board. Run with -cpu 1 it gives ballots per second per core (make
// bench-verifiable); with -cpu 2 the parallel variant shows how it scales.
// ballots/cpu-s is the rate per core measured in CPU time, which other work
// on a shared machine does not distort.
func BenchmarkBoardVerifyBallot(b *testing.B) {
	s := newScrutinElection(b)
	raw, err := NewBallot(s.Record, s.Voters[0], Plaintext{{0, 0, 1, 0}, {1, 0, 1}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Record.VerifyBallot(raw); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ballots/s")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/ballot")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "ballots/cpu-s")
}
