package belenios

import "testing"

// BenchmarkBoardVerifyBallot is the check of one cast ballot of the 2-question
// ballot (7 encrypted slots: 3 answers and a blank slot, then 3 answers choose
// 1 or 2), as the runtime does it at each cast and Verify for each ballot of a
// board. Run with -cpu 1 it gives ballots per second per core (make
// bench-verifiable); with -cpu 2 the parallel variant shows how it scales.
func BenchmarkBoardVerifyBallot(b *testing.B) {
	s := newScrutinElection(b)
	raw, err := NewBallot(s.Record, s.Voters[0], Plaintext{{0, 0, 1, 0}, {1, 0, 1}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Record.VerifyBallot(raw); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ballots/s")
}

// BenchmarkBoardTallyAdd is the close's cost per counted ballot: adding its
// ciphertexts to the tally.
func BenchmarkBoardTallyAdd(b *testing.B) {
	s := newScrutinElection(b)
	raw, err := NewBallot(s.Record, s.Voters[0], Plaintext{{0, 0, 1, 0}, {1, 0, 1}})
	if err != nil {
		b.Fatal(err)
	}
	ballot, err := ParseBallot(raw)
	if err != nil {
		b.Fatal(err)
	}
	tally := NewTally(s.Record)
	b.ResetTimer()
	for range b.N {
		tally.Add(ballot, 1)
	}
}
