package load

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/embedded"
	"scrutin.dev/scrutin/voting-runtime/store/postgres"
)

// Runtime is a voting-runtime process under load, with its own Election (SMS
// codes, open for the next hours) and roll.
type Runtime struct {
	*runtimetest.Process
	Logs         *runtimetest.SyncBuffer
	controlToken string
	store        string
	// Credentials are the verifiable mode's credentials, made offline (nil
	// otherwise).
	Credentials *Credentials
}

// RuntimeOptions say what to start.
type RuntimeOptions struct {
	Bin, Dir string
	// Voters on the roll (VoterID(1) … VoterID(Voters)).
	Voters int
	// Store is the --store argument; "" for the embedded store in Dir.
	Store string
	// Phones receives the codes.
	Phones *Phones
	// Spec is added under the Election's spec (YAML, two-space indented).
	Spec string
	// Args are more flags.
	Args []string
	// Verifiable starts the Election in the verifiable mode (Belenios,
	// VerifiableElectionYAML) with External credentials made here, offline, and
	// passed as --credentials-dir; the platform trustee's key stays in the store.
	Verifiable bool
}

// PhonesToken is the gateway token the runtimes are given.
const PhonesToken = "load-gateway-token"

// StartRuntime writes the Election and the roll into o.Dir and starts the runtime.
func StartRuntime(o RuntimeOptions) (*Runtime, error) {
	now := time.Now()
	election := filepath.Join(o.Dir, "election.yaml")
	roll := filepath.Join(o.Dir, "roll.csv")
	manifest := runtimetest.ElectionYAML("SMSCode", now.Add(-time.Minute), now.Add(6*time.Hour), o.Spec)
	var creds *Credentials
	if o.Verifiable {
		manifest = runtimetest.VerifiableElectionYAML("{method: SMSCode}", "{smtp: {secretRef: {name: smtp}}, sms: {secretRef: {name: sms}}}",
			now.Add(-time.Minute), now.Add(6*time.Hour), "    credentialAuthority: External\n    publicCredentials: {name: credentials}\n"+o.Spec)
		var err error
		if creds, err = NewCredentials(o.Voters, runtimetest.VoterID); err != nil {
			return nil, err
		}
		dir := filepath.Join(o.Dir, "credentials")
		if err := creds.WriteDir(dir); err != nil {
			return nil, err
		}
		o.Args = append([]string{"--credentials-dir", dir}, o.Args...)
	}
	if err := os.WriteFile(election, []byte(manifest), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(roll, []byte(runtimetest.RollCSV(o.Voters)), 0o600); err != nil {
		return nil, err
	}
	store := o.Store
	if store == "" {
		store = "embedded:" + filepath.Join(o.Dir, "election.db")
	}
	tokenFile := filepath.Join(o.Dir, "control-token")
	args := append([]string{"--election", election, "--roll", roll, "--store", store,
		"--sms-gateway", o.Phones.URL(), "--control-token-file", tokenFile}, o.Args...)
	logs := &runtimetest.SyncBuffer{}
	p, err := runtimetest.StartProcess(o.Bin, []string{"SCRUTIN_SMS_TOKEN=" + PhonesToken}, logs, args...)
	if err != nil {
		return nil, err
	}
	rt := &Runtime{Process: p, Logs: logs, store: store, Credentials: creds}
	// the roll is imported before the runtime is ready
	deadline := time.Now().Add(5 * time.Minute)
	for {
		resp, err := http.Get(p.OpsURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("the runtime was not ready after 5 minutes:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		p.Stop()
		return nil, err
	}
	rt.controlToken = strings.TrimSpace(string(token))
	return rt, nil
}

// Control calls the controller's API of the runtime, on its operations port.
func (r *Runtime) Control(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, r.OpsURL+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.controlToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// BallotsCast is the runtime's count of ballots in the box.
func (r *Runtime) BallotsCast(ctx context.Context) (int64, error) {
	var st struct{ BallotsCast int64 }
	err := r.Control(ctx, http.MethodGet, "/control/v1/status", &st)
	return st.BallotsCast, err
}

// StopAndCheck stops the runtime and reads its ballot box from the store: it
// returns the receipts given whose ballot is not in the box (lost) and the ballots
// in the box beyond those receipts (extra).
// In the verifiable mode the box is the board: use CloseAndCheckBoard.
func (r *Runtime) StopAndCheck(ctx context.Context, receipts []string) (lost []string, extra int, err error) {
	if r.Credentials != nil {
		return nil, 0, errors.New("the verifiable mode's ballots are on the board: check them with CloseAndCheckBoard")
	}
	r.Stop()
	var st store.Store
	if path, ok := strings.CutPrefix(r.store, "embedded:"); ok {
		st, err = embedded.Open(ctx, path)
	} else {
		st, err = postgres.Open(ctx, strings.TrimPrefix(r.store, "postgres:"))
	}
	if err != nil {
		return nil, 0, err
	}
	defer st.Close()
	ballots, err := st.Ballots(ctx)
	if err != nil {
		return nil, 0, err
	}
	in := make(map[string]bool, len(ballots))
	for _, b := range ballots {
		in[b.Tracker] = true
	}
	for _, t := range receipts {
		if !in[t] {
			lost = append(lost, t)
		}
	}
	return lost, len(ballots) - (len(receipts) - len(lost)), nil
}

// Memory is a process's resident memory now and at its peak (VmRSS, VmHWM), in
// bytes.
func Memory(pid int) (rss, peak int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak, sc.Err()
}
