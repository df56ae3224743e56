package tally

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"sync"
	"testing"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// The comparison with an independent implementation of Schulze: Debian's
// belenios-tool (package belenios-tool, installed by .ci/run), whose
// `method schulze` reads ballots as JSON, one array of ranks per ballot (the
// rank of each choice, 1 best, 0 unranked: below every ranked choice), and
// prints the ranking it computes as groups of tied choices, best first
// ("winners"), with links compared by winning votes, then opposing votes.

// beleniosSets is the number of random ballot sets compared with
// belenios-tool; SCRUTIN_BELENIOS_SETS raises it (each set is one run of the
// tool, a few tens of milliseconds).
func beleniosSets(t *testing.T) int {
	sets := 500
	if s := os.Getenv("SCRUTIN_BELENIOS_SETS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("SCRUTIN_BELENIOS_SETS=%q: want a positive number", s)
		}
		sets = n
	}
	return sets
}

// beleniosTool returns the path of the installed belenios-tool, or skips the
// test when it is absent.
func beleniosTool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("belenios-tool")
	if err != nil {
		t.Skip("belenios-tool is not installed (Debian package belenios-tool, which .ci/run installs): " +
			"the comparison of the Schulze count with an independent implementation is skipped")
	}
	return path
}

// beleniosSchulze runs `belenios-tool method schulze` on ballots of a Ranked
// question q, a ballot of weight w being given w times (the tool has no
// weights), and returns its ranking as groups of option ids, best first.
func beleniosSchulze(tool string, q *scrutinv1.Question, ballots []WeightedBallot) ([][]string, error) {
	n := len(q.Options)
	index := optionIndex(q)
	ranks := [][]int{}
	for _, b := range ballots {
		r := make([]int, n) // all 0: a blank ballot, with --blank-allowed=true
		for place, id := range b.Answers[q.ID] {
			r[index[id]] = place + 1
		}
		for range b.Weight {
			ranks = append(ranks, r)
		}
	}
	in, err := json.Marshal(ranks)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(tool, "method", "schulze", "--nchoices="+strconv.Itoa(n), "--blank-allowed=true")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("belenios-tool method schulze on %s: %v: %s", in, err, stderr.Bytes())
	}
	var res struct {
		Winners [][]int `json:"winners"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("belenios-tool printed %q: %v", out, err)
	}
	groups := make([][]string, len(res.Winners))
	for i, g := range res.Winners {
		for _, x := range g {
			if x < 0 || x >= n {
				return nil, fmt.Errorf("belenios-tool printed choice %d of %d: %s", x, n, out)
			}
			groups[i] = append(groups[i], q.Options[x].ID)
		}
	}
	return groups, nil
}

// beleniosCase is one random ballot set: few options and few ballots, so
// that ties of winning votes, which the opposing votes break, and ties the
// count leaves are frequent.
type beleniosCase struct {
	q       scrutinv1.Question
	ballots []WeightedBallot
}

func randomBeleniosCase(r *rand.Rand) beleniosCase {
	n := 2 + r.IntN(4)
	names := []string{"ana", "bea", "cyr", "dom", "eva"}
	q := ranked("q", names[:n]...) // ranking 1 to n options, or blank
	ballots := make([]WeightedBallot, 1+r.IntN(9))
	for i := range ballots {
		ballots[i] = randomBallot(r, []scrutinv1.Question{q}, 3)
	}
	return beleniosCase{q: q, ballots: ballots}
}

// TestSchulzeMatchesBelenios: on thousands of random ballot sets, the winners
// and the whole ranking agree with belenios-tool's Schulze count. Counting by
// winning votes alone, equal winning votes made a tie that Schulze's ≻D
// breaks by the opposing votes: the winners agreed, but not the ranking
// (ana, dom, bea, eva, cyr where Schulze gives ana, bea, dom, eva, cyr).
func TestSchulzeMatchesBelenios(t *testing.T) {
	tool := beleniosTool(t)
	sets := beleniosSets(t)
	r := rand.New(rand.NewPCG(14, 2011))
	cases := make([]beleniosCase, sets)
	for i := range cases {
		cases[i] = randomBeleniosCase(r)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures int
	)
	next := make(chan int)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c := cases[i]
				if msg := compareWithBelenios(tool, c); msg != "" {
					mu.Lock()
					if failures < 5 {
						t.Errorf("set %d: %s", i, msg)
					}
					failures++
					mu.Unlock()
				}
			}
		}()
	}
	for i := range cases {
		next <- i
	}
	close(next)
	wg.Wait()
	if failures > 0 {
		t.Errorf("%d of %d ballot sets counted otherwise than belenios-tool", failures, sets)
	}
	t.Logf("%d random ballot sets compared with %s", sets, tool)
}

// compareWithBelenios counts c and asks belenios-tool; it returns what
// differs, or "".
func compareWithBelenios(tool string, c beleniosCase) string {
	got, err := Count([]scrutinv1.Question{c.q}, c.ballots)
	if err != nil {
		return fmt.Sprintf("Count: %v", err)
	}
	want, err := beleniosSchulze(tool, &c.q, c.ballots)
	if err != nil {
		return err.Error()
	}
	res := got[0]
	var flat []string
	for _, g := range want {
		flat = append(flat, g...)
	}
	var wantWinners []string
	for _, b := range c.ballots {
		if len(b.Answers[c.q.ID]) > 0 {
			wantWinners = want[0] // with no ranked ballot, no winner
			break
		}
	}
	if !reflect.DeepEqual(res.Winners, wantWinners) || !reflect.DeepEqual(res.Ranking, flat) ||
		!reflect.DeepEqual(res.RankingGroups, want) {
		return fmt.Sprintf("ballots %s: winners %v, ranking %v, groups %v; belenios-tool: winners %v, ranking %v",
			describe(c.ballots), res.Winners, res.Ranking, res.RankingGroups, wantWinners, want)
	}
	return ""
}

// describe writes ballots as "2×[ana bea] 1×[]".
func describe(ballots []WeightedBallot) string {
	var b bytes.Buffer
	for i, x := range ballots {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d×%v", x.Weight, x.Answers["q"])
	}
	return b.String()
}
