package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"scrutin.dev/scrutin/test/load"
)

type report struct {
	stores []storeFigures
	base   baselineFigures
}

func mib(b int64) string { return fmt.Sprintf("%d MiB", b>>20) }

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func yes(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// lostSessions counts voters told their session had expired after signing in.
func lostSessions(r load.Result) int {
	n := 0
	for k, v := range r.Failures {
		if strings.HasSuffix(k, "HTTP 401") && (strings.HasPrefix(k, load.StepBallot) || strings.HasPrefix(k, load.StepCast)) {
			n += v
		}
	}
	return n
}

func (r *report) print(w io.Writer, c config) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("")
	p("## Journeys at the knee (highest rate with every HTTP step's p99 under %s, no error, no wait page; steps of %s)", c.p99, c.step)
	p("")
	head := "| store | journeys/s |"
	sep := "| --- | --- |"
	for _, s := range load.Steps {
		head += " " + s + " p50 / p99 |"
		sep += " --- |"
	}
	p("%s", head+" whole journey p50 / p99 |")
	p("%s", sep+" --- |")
	for _, f := range r.stores {
		row := fmt.Sprintf("| %s | **%.0f** |", f.store, f.knee.res.Rate)
		for _, s := range load.Steps {
			row += " " + f.knee.res.Steps[s].String() + " |"
		}
		p("%s %s |", row, f.knee.res.Journey)
	}
	b := r.base.bareKnee
	atLeast := ""
	if b.why != "" {
		atLeast = "≥ "
	}
	row := fmt.Sprintf("| bare net/http handler (baseline) | **%s%.0f** |", atLeast, b.res.Rate)
	for _, s := range load.Steps {
		row += " " + b.res.Steps[s].String() + " |"
	}
	p("%s %s |", row, b.res.Journey)
	p("")
	p("Rates offered (journeys/s offered → completed/s, verdict):")
	for _, f := range r.stores {
		p("- %s: %s", f.store, stepList(f.steps))
	}
	p("- bare handler: %s", stepList(r.base.bareSteps))
	if b.why != "" {
		p("")
		p("The bare handler kept up at every rate offered, up to %s.", b.why)
	}
	p("")
	p("## Casting alone (%d voters signed in, %d clients casting at once)", c.sessions, c.castClients)
	p("")
	p("| store | casts/s | cast p50 / p99 | pgbench one-row INSERT tps | ratio to pgbench | failures |")
	p("| --- | --- | --- | --- | --- | --- |")
	for _, f := range r.stores {
		p("| %s | **%.0f** | %s | %.0f | **%s** | %s |", f.store, f.castRate, f.cast, r.base.pgbenchTPS, ratio(f.castRate, r.base.pgbenchTPS), orNone(f.castFailed))
	}
	p("")
	p("pgbench: `%s`", r.base.pgbenchCmd)
	p("")
	p("## At %.0f× the knee (voters wait as told and try again, up to 10 times a step)", c.overload)
	p("")
	p("| store | offered/s | journeys done | gave up | requests | wait-page share | wait page p50 / p99 | 5xx | ballots lost | ballots beyond receipts | sessions lost | casts OK at first try | runtime peak RSS |")
	p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, f := range r.stores {
		o := f.overload.res
		p("| %s | %.0f | %d | %d | %d | %.1f %% | %s | %d | %d | %d | %d | %.2f %% | %s |", f.store, f.overload.rate, o.Journeys, o.Failed(),
			o.Requests, 100*o.WaitShare(), o.Wait, o.Status5xx, f.lost, f.extra, lostSessions(o), 100*o.CastFirstTry, mib(f.peakRSS))
	}
	for _, f := range r.stores {
		if l := f.overload.res.FailureList(); l != "" {
			p("")
			p("%s, journeys that did not end with a receipt: %s", f.store, l)
		}
		if f.boardWrong != "" {
			p("")
			p("%s, the board after the close is NOT what the receipts say: %s", f.store, f.boardWrong)
		}
	}
	p("")
	p("## Memory")
	p("")
	p("| store | runtime RSS with %d live sessions |", c.sessions)
	p("| --- | --- |")
	for _, f := range r.stores {
		p("| %s | %s |", f.store, mib(f.sessionRSS))
	}
	p("")
	p("## Where the time goes at the knee (a second run at the knee's rate, the runtime profiled)")
	p("")
	p("| store | journeys/s | CPU (cores; the machine has 2) | database per journey: transactions (read-only ones too), statements (BEGIN and COMMIT too), the runtime's round trips, WAL flushes |")
	p("| --- | --- | --- | --- |")
	for _, f := range r.stores {
		db := "-"
		if f.db.journeys > 0 {
			commits, statements, syncs, trips := f.db.perJourney()
			db = fmt.Sprintf("%.1f, %.1f, %s, %.2f", commits, statements, orDash(trips), syncs)
		}
		p("| %s | %.0f | %s | %s |", f.store, f.profiled.res.Rate, f.cpu, db)
	}
	for _, f := range r.stores {
		data, err := os.ReadFile(f.profileTop)
		if err != nil {
			continue
		}
		lines := strings.Split(string(data), "\n")
		p("")
		p("%s, the runtime's CPU profile by cumulative time (whole profile: `go tool pprof %s`):", f.store, strings.TrimSuffix(f.profileTop, ".top.txt")+".pprof")
		p("")
		p("```")
		for _, l := range lines[:min(len(lines), 30)] {
			p("%s", l)
		}
		p("```")
	}
	p("")
	p("## Against the targets")
	p("")
	atMost := ""
	if b.why != "" {
		atMost = "≤ "
	}
	for _, f := range r.stores {
		// a target is met or not only when its figure was measured in this run
		journeys, casts := f.knee.res.Journeys > 0, f.castRate > 0
		o := f.overload.res
		var parts []string
		if journeys {
			parts = append(parts, fmt.Sprintf("%.0f journeys/s at the knee (target 1,000: %s; %s of the bare handler's %.0f)",
				f.knee.res.Rate, yes(f.knee.res.Rate >= 1000), atMost+ratio(f.knee.res.Rate, b.res.Rate), b.res.Rate))
		} else {
			parts = append(parts, "journeys at the knee not measured (target 1,000)")
		}
		switch {
		case casts && r.base.pgbenchTPS > 0:
			parts = append(parts, fmt.Sprintf("casts %s of pgbench (target 0.5: %s)", ratio(f.castRate, r.base.pgbenchTPS), yes(f.castRate >= r.base.pgbenchTPS/2)))
		default:
			parts = append(parts, "casts against pgbench not measured (target 0.5)")
		}
		if journeys {
			parts = append(parts, fmt.Sprintf("at %.0f×: %d 5xx, %d ballots lost, %d sessions lost, wait page p99 %s (target 50 ms: %s), casts OK at first try %.2f %% (target 99.9 %%: %s)",
				c.overload, o.Status5xx, f.lost, lostSessions(o), ms(o.Wait), yes(o.Wait.N == 0 || o.Wait.P99.Milliseconds() < 50),
				100*o.CastFirstTry, yes(o.CastFirstTry >= 0.999)))
		} else {
			parts = append(parts, fmt.Sprintf("at %.0f× not measured (targets: wait page p99 50 ms, casts OK at first try 99.9 %%)", c.overload))
		}
		if casts {
			parts = append(parts, fmt.Sprintf("%s with %d sessions (target 150 MiB: %s)", mib(f.sessionRSS), c.sessions, yes(f.sessionRSS < 150<<20)))
		} else {
			parts = append(parts, "memory with live sessions not measured (target 150 MiB)")
		}
		p("- %s: %s", f.store, strings.Join(parts, "; "))
	}
}

func ms(s load.Summary) string {
	if s.N == 0 {
		return "- (none)"
	}
	return fmt.Sprintf("%d ms", s.P99.Milliseconds())
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func stepList(steps []stepRun) string {
	var parts []string
	for _, s := range steps {
		v := "ok"
		if !s.ok {
			v = s.why
		}
		parts = append(parts, fmt.Sprintf("%.0f → %.0f (%s)", s.rate, s.res.Rate, v))
	}
	return strings.Join(parts, "; ")
}
