package runtime

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/pgtest"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
	"scrutin.dev/scrutin/voting-runtime/records"
)

// fetchRecords reads GET /control/v1/records: its status and body.
func fetchRecords(t *testing.T, base, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/control/v1/records", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// TestRecordsArchiveFromTheControlAPI: once tallied, the runtime's records
// archive holds the results, the board's trackers, the audit log with its head
// and the participation list with the Election's export columns only; it
// verifies offline, comes out byte for byte the same twice, and holds no code
// nor the control token. Before the close it is refused. On both stores.
func TestRecordsArchiveFromTheControlAPI(t *testing.T) {
	for _, storeKind := range []string{"embedded", "postgres"} {
		t.Run(storeKind, func(t *testing.T) {
			smtp := sink.StartSMTP(t)
			dir := t.TempDir()
			now := time.Now()
			closes := now.Add(6 * time.Second).Truncate(time.Second)
			st := "embedded:" + filepath.Join(dir, "election.db")
			if storeKind == "postgres" {
				st = "postgres:" + pgtest.ForTest(t).AdminDSN()
			}
			tokenFile := filepath.Join(dir, "control-token")
			rt := runtimetest.Start(t, runtimeBin, nil,
				"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), closes,
					"  scrutineers: {exportFields: [VoterID, Voted]}\n"),
				"--roll", runtimetest.RollFile(t, dir, 3), "--store", st, "--smtp", smtp.Addr(),
				"--control-token-file", tokenFile)
			token := runtimetest.ReadFile(t, tokenFile)

			var codes []string
			vs := map[int]*voter{}
			for i := 1; i <= 2; i++ {
				vs[i] = newVoter(rt.URL, nil)
				codes = append(codes, signIn(t, vs[i], smtp, i))
			}
			receipts, _ := castAll(t, vs, []int{1, 2})
			if len(receipts) != 2 {
				t.Fatalf("%d receipts, want 2", len(receipts))
			}
			if code, body := fetchRecords(t, rt.OpsURL, token); code != http.StatusConflict {
				t.Fatalf("records before the close: %d %s, want 409", code, body)
			}
			if code, _ := fetchRecords(t, rt.OpsURL, "wrong"); code != http.StatusUnauthorized {
				t.Fatalf("records with a wrong token: %d, want 401", code)
			}
			time.Sleep(time.Until(closes))
			waitResults(t, rt.OpsURL, token, 30*time.Second)
			var res struct{ AuditHead string }
			control(t, rt.OpsURL, token, http.MethodGet, "/control/v1/results", nil, &res)

			code, raw := fetchRecords(t, rt.OpsURL, token)
			if code != http.StatusOK {
				t.Fatalf("records: %d %s", code, raw)
			}
			if _, again := fetchRecords(t, rt.OpsURL, token); !bytes.Equal(raw, again) {
				t.Fatal("two reads of the same tallied election's records differ")
			}
			a, err := records.Read(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			rep, err := a.Verify()
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for n := range a.Members {
				names = append(names, n)
			}
			sort.Strings(names)
			want := []string{"audit-head.txt", "audit.jsonl", "board.json", "manifest.json", "participation.csv", "results.json"}
			if !slices.Equal(names, want) {
				t.Fatalf("members %v, want %v", names, want)
			}
			if rep.Trackers != 2 || a.Manifest.Election.Name != "board" || a.Manifest.Election.Verifiable {
				t.Fatalf("report %+v, manifest %+v", rep, a.Manifest)
			}
			for _, r := range receipts {
				if !strings.Contains(string(a.Members[records.BoardName]), r) {
					t.Errorf("tracker %s is not on the archived board", r)
				}
			}
			if rep.AuditHead != res.AuditHead {
				t.Errorf("archived audit head %s, the runtime's %s", rep.AuditHead, res.AuditHead)
			}
			if !strings.Contains(string(a.Members[records.ResultsName]), `"alice"`) {
				t.Errorf("results.json: %s", a.Members[records.ResultsName])
			}
			part := string(a.Members[records.ParticipationName])
			wantPart := "voter_id,voted\nV-0001,true\nV-0002,true\nV-0003,false\n"
			if part != wantPart {
				t.Errorf("participation.csv:\n%s\nwant:\n%s", part, wantPart)
			}
			for name, data := range a.Members {
				for _, secret := range append(codes, token, runtimetest.VoterEmail(1)) {
					if strings.Contains(string(data), secret) {
						t.Errorf("member %s holds %q", name, secret)
					}
				}
			}
		})
	}
}

// TestRecordsArchiveOfAVerifiableElection: in verifiable mode the archive also
// holds the Belenios board, the same bytes as board.bel, which verifies; no
// voter's credential is in it.
func TestRecordsArchiveOfAVerifiableElection(t *testing.T) {
	r := startVerifiable(t, "embedded", 2, "")
	rec := electionRecord(t, newVoter(r.rt.URL, r.rec))
	r.voters[0].cast(t, rec, voteAliceCarla.plain)
	r.voters[1].cast(t, rec, voteBobDan.plain)
	r.closeNow(t)
	deadline := time.Now().Add(time.Minute)
	for {
		if status, _ := r.results(t); status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no results within a minute of the close")
		}
		time.Sleep(200 * time.Millisecond)
	}
	code, raw := fetchRecords(t, r.rt.OpsURL, r.token)
	if code != http.StatusOK {
		t.Fatalf("records: %d %s", code, raw)
	}
	a, err := records.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := a.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if !a.Manifest.Election.Verifiable || rep.Belenios == nil || rep.Belenios.Ballots != 2 || rep.Trackers != 2 {
		t.Fatalf("manifest %+v, report %+v", a.Manifest.Election, rep)
	}
	board, err := os.ReadFile(downloadBoard(t, r.rt.URL))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(board, a.Members[records.BeleniosName]) {
		t.Error("the archive's board.bel is not the board the runtime serves")
	}
	for name, data := range a.Members {
		for _, v := range r.voters {
			if strings.Contains(string(data), v.credential) {
				t.Errorf("member %s holds voter %s's credential", name, v.id)
			}
		}
	}
}
