package main

import (
	"strings"
	"testing"

	"scrutin.dev/scrutin/test/load"
)

// TestReportSaysWhatWasNotMeasured: a run of the journeys alone never calls the
// casting or memory targets met (the report once printed "casts - of pgbench
// (target 0.5: met)"), and a run of the casts alone says nothing of the knee.
func TestReportSaysWhatWasNotMeasured(t *testing.T) {
	c := config{sessions: 20000, castClients: 32, overload: 3}
	journeys := storeFigures{store: "postgres", knee: stepRun{rate: 400, res: load.Result{Journeys: 4000, Rate: 400}}}
	casts := storeFigures{store: "embedded", castRate: 2000, sessionRSS: 60 << 20}
	var out strings.Builder
	(&report{stores: []storeFigures{journeys, casts}}).print(&out, c)
	targets := out.String()[strings.Index(out.String(), "## Against the targets"):]
	lines := strings.Split(strings.TrimSpace(targets), "\n")
	pg, emb := lines[len(lines)-2], lines[len(lines)-1]
	for _, want := range []string{"400 journeys/s at the knee (target 1,000: NOT met", "casts against pgbench not measured", "memory with live sessions not measured"} {
		if !strings.Contains(pg, want) {
			t.Errorf("journeys alone: %q lacks %q", pg, want)
		}
	}
	if strings.Contains(pg, "0.5: met") || strings.Contains(pg, "150 MiB: met") {
		t.Errorf("journeys alone calls a target met that it did not measure: %q", pg)
	}
	for _, want := range []string{"journeys at the knee not measured", "at 3× not measured", "casts against pgbench not measured", "60 MiB with 20000 sessions (target 150 MiB: met)"} {
		if !strings.Contains(emb, want) {
			t.Errorf("casts alone, no pgbench: %q lacks %q", emb, want)
		}
	}
}
